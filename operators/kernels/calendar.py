"""Calendar look-ups inside kernels: the shift containing an instant and the next planned-production instant.

Shifts of one site are rows lo..hi-1 of sorted, non-overlapping (start, end) arrays; productive segments are the
shifts minus their breaks (a calendar-less site has one segment covering all time).
"""

from __future__ import annotations

from numba import njit

from andon.operators.kernels.layout import (
    AI_MAX_TS,
    FAR,
    NONE,
    PI_LATENESS_MS,
    SI_ACC_TS,
    SI_CUR_SINCE,
    SI_LAST_TS,
)


@njit(cache=True, inline="always")
def find_shift(t, starts, ends, lo, hi):
    """Row of the shift with start <= t < end among rows [lo, hi), or -1."""
    a, b = lo, hi
    while a < b:  # first row with start > t
        mid = (a + b) >> 1
        if starts[mid] <= t:
            a = mid + 1
        else:
            b = mid
    j = a - 1
    if j >= lo and t < ends[j]:
        return j
    return -1


@njit(cache=True, inline="always")
def first_segment_ending_after(t, seg_end, lo, hi):
    """First row among [lo, hi) whose segment ends after t (hi when none)."""
    a, b = lo, hi
    while a < b:
        mid = (a + b) >> 1
        if seg_end[mid] <= t:
            a = mid + 1
        else:
            b = mid
    return a


@njit(cache=True, inline="always")
def next_productive(t, seg_start, seg_end, lo, hi):
    """The first planned-production instant at or after t (FAR when none is known)."""
    j = first_segment_ending_after(t, seg_end, lo, hi)
    if j >= hi:
        return FAR
    return max(t, seg_start[j])


@njit(cache=True)
def state_bounds(rows, lo, hi, extra_ms, s_i, a_i, p_i, prof):
    """[lo, hi] widened to every instant the kernels may look up a shift for on the machines `rows`.

    That is each machine's accounted-up-to and current-state-since times and last reading, and its greatest
    event time back by the largest allowed lateness of `rows` plus `extra_ms` (open windows).
    """
    lat = NONE
    mx_lo = FAR
    mx_hi = NONE
    for k in range(rows.shape[0]):
        m = rows[k]
        last = s_i[m, SI_LAST_TS]
        if last != NONE:
            lo = min(lo, s_i[m, SI_ACC_TS], s_i[m, SI_CUR_SINCE])
            hi = max(hi, last)
        mx = a_i[m, AI_MAX_TS]
        if mx != NONE:
            mx_lo = min(mx_lo, mx)
            mx_hi = max(mx_hi, mx)
        lat = max(lat, p_i[prof[m], PI_LATENESS_MS])
    if mx_hi != NONE:
        lo = min(lo, mx_lo - (lat + extra_ms))
        hi = max(hi, mx_hi)
    return lo, hi

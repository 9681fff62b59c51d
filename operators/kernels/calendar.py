"""Calendar look-ups inside kernels: the shift containing an instant and the next planned-production instant.

Shifts of one site are rows lo..hi-1 of sorted, non-overlapping (start, end) arrays; productive segments are the
shifts minus their breaks (a calendar-less site has one segment covering all time).
"""

from __future__ import annotations

from numba import njit

from andon.operators.kernels.layout import FAR


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

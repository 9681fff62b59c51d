"""Counter plausibility per machine: which readings' cumulative counters are believable, before anything counts.

A counter (parts, rejects) is a whole number from 0 to counter_max that grows by at most what the machine can make
in the time since the last accepted reading: ``floor(dt * counter_jump_factor / ideal_cycle_time) +
counter_jump_slack`` (a wrap past counter_max counts as growth). A reading outside the range is refused at once.
A reading whose counter drops, or grows faster than that, is held: the next in-order reading with that counter
decides. If it goes on from the old value, the held reading was a glitch and is refused; if it goes on from the
held value, the drop (a reset) or jump is confirmed and the held reading passes, before it, in its place; if it
goes on from neither, the held reading is refused and the next one is judged in turn. Readings of the machine that
arrive while one is held are held behind it (their order is kept). At end of input a reading still held is refused.

Readings are walked grouped by machine, in arrival order (the caller sorts with a stable argsort); readings that
are not in order (ts at or before the machine's greatest accepted ts) pass: the aggregation ignores their counters.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from andon.errors import KernelInputError
from andon.operators.kernels.layout import (
    G_ACCEPT,
    G_DROP,
    G_HOLD,
    G_JUMP,
    G_RANGE,
    G_REBASE_PART,
    G_REBASE_REJ,
    G_REFUSE,
    G_UNCONFIRMED,
    GF_PART,
    GF_REJ,
    GI_HAS_PART,
    GI_HAS_REJ,
    GI_MAX_TS,
    GI_TS_PART,
    GI_TS_REJ,
    NONE,
    PF_COUNTER_MAX,
    PF_JUMP_FACTOR,
    PF_JUMP_SLACK,
    PI_PART_SIG,
    PI_REJ_SIG,
)

_OK = 0


@njit(cache=True, inline="always")
def out_of_range(v, cmax):
    """A present counter value that is negative, not a whole number or above counter_max."""
    return v == v and (v < 0.0 or v > cmax or v != np.floor(v))


@njit(cache=True, inline="always")
def growth(v, r, cmax, roll_fraction):
    """Parts from reference r to value v (a wrap past counter_max included), or -1 when v dropped."""
    if v >= r:
        return v - r
    margin = roll_fraction * cmax
    if r >= cmax - margin and v <= margin:
        return cmax - r + v + 1.0
    return -1.0


@njit(cache=True, inline="always")
def max_growth(dt_ms, ideal_ms, factor, slack):
    """The most parts a machine can make in dt_ms at `factor` times its ideal rate, plus `slack`."""
    return np.floor(max(dt_ms, 0) * factor / ideal_ms) + slack


@njit(cache=True, inline="always")
def judge(v, has, r, t, t_r, cmax, roll_fraction, ideal_ms, factor, slack):
    """_OK when v (absent: NaN) goes on plausibly from reference r at t_r (or there is none), else G_DROP/G_JUMP."""
    if v != v or not has:
        return _OK
    g = growth(v, r, cmax, roll_fraction)
    if g < 0:
        return G_DROP
    if g > max_growth(t - t_r, ideal_ms, factor, slack):
        return G_JUMP
    return _OK


@njit(cache=True)
def _guard(local, ts, values, p_i, p_f, prof, ideal_ms, g_i, g_f, roll_fraction, max_held, eof, verdict, why,
           ref_v, ref_ts, rebase):
    n = ts.shape[0]
    a = 0
    while a < n:
        m = local[a]
        b = a
        while b < n and local[b] == m:
            b += 1
        pm = prof[m]
        cols = (p_i[pm, PI_PART_SIG], p_i[pm, PI_REJ_SIG])
        cmax = p_f[pm, PF_COUNTER_MAX]
        factor = p_f[pm, PF_JUMP_FACTOR]
        slack = p_f[pm, PF_JUMP_SLACK]
        ideal = ideal_ms[m]
        k = a
        p = -1  # the held reading
        while True:
            if k >= b:
                if p < 0 or not eof:
                    break
                verdict[p] = G_REFUSE  # end of input: nothing will confirm it
                why[p] = why[p] - why[p] % 8 + G_UNCONFIRMED
                k = p + 1
                p = -1
                continue
            t = ts[k]
            vp = values[k, cols[0]] if cols[0] >= 0 else np.nan
            vr = values[k, cols[1]] if cols[1] >= 0 else np.nan
            rp, rr = g_f[m, GF_PART], g_f[m, GF_REJ]
            hp, hr = g_i[m, GI_HAS_PART] != 0, g_i[m, GI_HAS_REJ] != 0
            tp, tr = g_i[m, GI_TS_PART], g_i[m, GI_TS_REJ]
            rebase[k] = 0
            if out_of_range(vp, cmax) or out_of_range(vr, cmax):
                c = 0 if out_of_range(vp, cmax) else 1
                verdict[k] = G_REFUSE
                why[k] = c * 8 + G_RANGE
                ref_v[k] = rp if c == 0 else rr
                ref_ts[k] = tp if c == 0 else tr
                k += 1
                continue
            if p < 0:
                mx = g_i[m, GI_MAX_TS]
                if mx != NONE and t <= mx:
                    verdict[k] = G_ACCEPT  # not in order: its counters are not read
                    k += 1
                    continue
                jp = judge(vp, hp, rp, t, tp, cmax, roll_fraction, ideal, factor, slack)
                jr = judge(vr, hr, rr, t, tr, cmax, roll_fraction, ideal, factor, slack)
                if jp == _OK and jr == _OK:
                    verdict[k] = G_ACCEPT
                    _take(m, t, vp, vr, g_i, g_f)
                else:
                    verdict[k] = G_HOLD
                    c = 0 if jp != _OK else 1
                    why[k] = c * 8 + (jp if c == 0 else jr)
                    ref_v[k] = rp if c == 0 else rr
                    ref_ts[k] = tp if c == 0 else tr
                    p = k
                k += 1
                continue
            # a reading after the held one p
            if k - p > max_held:
                verdict[p] = G_REFUSE
                why[p] = why[p] - why[p] % 8 + G_UNCONFIRMED
                k = p + 1
                p = -1
                continue
            t_p = ts[p]
            pp = values[p, cols[0]] if cols[0] >= 0 else np.nan
            pr = values[p, cols[1]] if cols[1] >= 0 else np.nan
            sp = judge(pp, hp, rp, t_p, tp, cmax, roll_fraction, ideal, factor, slack)
            sr = judge(pr, hr, rr, t_p, tr, cmax, roll_fraction, ideal, factor, slack)
            # evidence: this reading is after the held one and has a value of a counter the held one is suspect in
            ep = sp != _OK and vp == vp
            er = sr != _OK and vr == vr
            if t <= t_p or not (ep or er):
                verdict[k] = G_HOLD
                k += 1
                continue
            old = True  # goes on from the reference: the held reading was a glitch
            new = True  # goes on from the held reading: its drop or jump is confirmed
            if ep:
                old = old and judge(vp, True, rp, t, tp, cmax, roll_fraction, ideal, factor, slack) == _OK
                new = new and judge(vp, True, pp, t, t_p, cmax, roll_fraction, ideal, factor, slack) == _OK
            if er:
                old = old and judge(vr, True, rr, t, tr, cmax, roll_fraction, ideal, factor, slack) == _OK
                new = new and judge(vr, True, pr, t, t_p, cmax, roll_fraction, ideal, factor, slack) == _OK
            if new and not old:
                verdict[p] = G_ACCEPT
                flags = 0
                if sp == G_JUMP or (sp == G_DROP and pp > max_growth(t_p - tp, ideal, factor, slack)):
                    flags |= G_REBASE_PART
                if sr == G_JUMP or (sr == G_DROP and pr > max_growth(t_p - tr, ideal, factor, slack)):
                    flags |= G_REBASE_REJ
                rebase[p] = flags
                _take(m, t_p, pp, pr, g_i, g_f)
            else:
                verdict[p] = G_REFUSE  # why[p] says drop or jump
            k = p + 1
            p = -1
        a = b


@njit(cache=True, inline="always")
def _take(m, t, vp, vr, g_i, g_f):
    """Reading at t with counter values vp, vr (NaN: absent) accepted in order: the new references."""
    g_i[m, GI_MAX_TS] = t
    if vp == vp:
        g_f[m, GF_PART] = vp
        g_i[m, GI_HAS_PART] = 1
        g_i[m, GI_TS_PART] = t
    if vr == vr:
        g_f[m, GF_REJ] = vr
        g_i[m, GI_HAS_REJ] = 1
        g_i[m, GI_TS_REJ] = t


def guard_counters(local, ts, values, params, state, *, roll_fraction: float, max_held: int, eof: bool):
    """Verdict per reading (G_ACCEPT, G_HOLD, G_REFUSE), why (counter * 8 + kind), the reference value and its ts
    at the decision, and rebase bits; readings grouped by local machine in arrival order. Updates `state`."""
    n = ts.shape[0]
    for name, arr, dtype, ndim in (("local", local, np.int64, 1), ("ts", ts, np.int64, 1),
                                   ("values", values, np.float64, 2)):
        if not isinstance(arr, np.ndarray) or arr.dtype != dtype or arr.ndim != ndim or not arr.flags.c_contiguous:
            raise KernelInputError(f"{name} must be a C-contiguous {ndim}-d {np.dtype(dtype).name} array")
    if local.shape[0] != n or values.shape[0] != n:
        raise KernelInputError("local, ts and values must have one row per reading")
    verdict = np.zeros(n, np.int8)
    why = np.zeros(n, np.int8)
    ref_v = np.full(n, np.nan)
    ref_ts = np.full(n, NONE, np.int64)
    rebase = np.zeros(n, np.int8)
    _guard(local, ts, values, params["p_i"], params["p_f"], params["prof"], params["ideal_ms"], state["g_i"],
           state["g_f"], float(roll_fraction), int(max_held), bool(eof), verdict, why, ref_v, ref_ts, rebase)
    return verdict, why, ref_v, ref_ts, rebase

"""Event-time tumbling windows per machine and signal, late routing, and counter increments.

One walk per machine over its readings in arrival order (the caller sorts by machine with a stable argsort).
Each machine's watermark is its greatest event time minus its allowed lateness; a reading whose window already
closed (window_end <= watermark) is late and is only flagged. Windows sit in a ring of K slots per machine;
w_i/w_f are slot-major ([K, machines, signals, ...]) so that a batch, whose readings mostly share a slot, touches
only that slot's bytes of each machine.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from andon.errors import KernelInputError
from andon.operators.kernels.calendar import find_shift
from andon.operators.kernels.layout import (
    AF_CUSUM,
    AF_PART,
    AF_REJ,
    AF_RELEASE,
    AI_CNT_SHIFT,
    AI_CUM_REJ,
    AI_CUM_TOTAL,
    AI_CUSUM_N,
    AI_HAS_PART,
    AI_HAS_REJ,
    AI_HOLD,
    AI_HOLD_AT,
    AI_LATE,
    AI_MAX_TS,
    G_REBASE_PART,
    G_REBASE_REJ,
    N_WO,
    NONE,
    PF_COUNTER_MAX,
    PF_REJ_H,
    PF_REJ_LIMIT,
    PF_REJ_NOMINAL,
    PI_LATENESS_MS,
    PI_PART_SIG,
    PI_REJ_MIN,
    PI_REJ_SIG,
    PI_SITE,
    PI_WINDOW_MS,
    WO_CUM_REJ,
    WO_CUM_TOTAL,
    WO_DETECTED,
    WO_END,
    WO_HOLD,
    WO_HOLD_AT,
    WO_M,
    WO_PARTS,
    WO_REJ,
    WO_SHIFT,
    WO_START,
)
from andon.operators.kernels.scratch import scratch


@njit(cache=True, inline="always")
def counter_step(prev, has_prev, v, cmax, roll_fraction, rebase):
    """(increment, new reference) for cumulative counter value v after reference prev.

    The counter guard (kernels/counters.py) let only plausible values through: a drop that is no wrap is a
    confirmed reset (the new value counts from 0); `rebase` marks a confirmed jump (or a reset to more than the
    machine could make since), which restarts the counter from v without counting."""
    if not has_prev or rebase:
        return 0, v
    if v >= prev:
        return np.int64(np.floor(v + 0.5)) - np.int64(np.floor(prev + 0.5)), v
    margin = roll_fraction * cmax
    if prev >= cmax - margin and v <= margin:
        return np.int64(np.floor(cmax - prev + 0.5)) + np.int64(np.floor(v + 0.5)) + 1, v
    return np.int64(np.floor(v + 0.5)), v


@njit(cache=True)
def _close_window(m, pm, slot, det, p_i, p_f, sh_start, sh_end, site_lo, site_hi, a_i, a_f, w_start, w_i, w_f,
                  w_c, wo_i, wo_n, wo_f, nw):
    W = p_i[pm, PI_WINDOW_MS]
    start = w_start[m, slot]
    parts = w_c[m, slot, 0]
    rej = w_c[m, slot, 1]
    site = p_i[pm, PI_SITE]
    j = find_shift(start, sh_start, sh_end, site_lo[site], site_hi[site])
    key = sh_start[j] if j >= 0 else NONE
    if key != a_i[m, AI_CNT_SHIFT]:
        a_i[m, AI_CNT_SHIFT] = key
        a_i[m, AI_CUM_TOTAL] = 0
        a_i[m, AI_CUM_REJ] = 0
    a_i[m, AI_CUM_TOTAL] += parts
    a_i[m, AI_CUM_REJ] += rej
    hold = 0
    hold_at = 0
    limit = p_f[pm, PF_REJ_LIMIT]
    if limit == limit and parts > 0:  # Bernoulli CUSUM on the parts of the window (docs/odoo-sync.md)
        p0 = p_f[pm, PF_REJ_NOMINAL]
        h = p_f[pm, PF_REJ_H]
        good = parts - rej
        llr = rej * np.log(limit / p0) + good * np.log((1.0 - limit) / (1.0 - p0))
        if a_i[m, AI_HOLD] == 0:
            s = a_f[m, AF_CUSUM] + llr
            if s <= 0.0:
                s = 0.0
                a_i[m, AI_CUSUM_N] = 0
            else:
                a_i[m, AI_CUSUM_N] += parts
            a_f[m, AF_CUSUM] = s
            if s >= h and a_i[m, AI_CUSUM_N] >= p_i[pm, PI_REJ_MIN]:
                hold = 1
                a_i[m, AI_HOLD] = 1
                a_i[m, AI_HOLD_AT] = start + W
                a_f[m, AF_RELEASE] = 0.0
        else:
            r = a_f[m, AF_RELEASE] - llr
            a_f[m, AF_RELEASE] = r if r > 0.0 else 0.0
            if a_f[m, AF_RELEASE] >= 2.0 * h:  # hysteresis: releasing takes twice the evidence
                hold = 2
                hold_at = a_i[m, AI_HOLD_AT]
                a_i[m, AI_HOLD] = 0
                a_f[m, AF_CUSUM] = 0.0
                a_i[m, AI_CUSUM_N] = 0
    row = wo_i[nw]
    row[WO_M] = m
    row[WO_START] = start
    row[WO_END] = start + W
    row[WO_PARTS] = parts
    row[WO_REJ] = rej
    row[WO_SHIFT] = key
    row[WO_CUM_TOTAL] = a_i[m, AI_CUM_TOTAL]
    row[WO_CUM_REJ] = a_i[m, AI_CUM_REJ]
    row[WO_HOLD] = hold
    row[WO_HOLD_AT] = hold_at
    row[WO_DETECTED] = det
    wo_n[nw, :] = w_i[slot, m, :, 0]
    wo_f[nw, :, :] = w_f[slot, m, :, :]
    w_start[m, slot] = NONE
    return nw + 1


@njit(cache=True)
def _close_until(m, pm, wm, det, p_i, p_f, sh_start, sh_end, site_lo, site_hi, a_i, a_f, w_start, w_i, w_f, w_c,
                 wo_i, wo_n, wo_f, nw):
    """Close, oldest first, every open window of machine m that ends at or before wm."""
    W = p_i[pm, PI_WINDOW_MS]
    K = w_start.shape[1]
    while True:
        best = -1
        for s in range(K):
            st = w_start[m, s]
            if st != NONE and st + W <= wm and (best < 0 or st < w_start[m, best]):
                best = s
        if best < 0:
            return nw
        nw = _close_window(m, pm, best, det, p_i, p_f, sh_start, sh_end, site_lo, site_hi, a_i, a_f, w_start, w_i,
                           w_f, w_c, wo_i, wo_n, wo_f, nw)


@njit(cache=True)
def _aggregate(order, local, ts, values, rebase, p_i, p_f, prof, sh_start, sh_end, site_lo, site_hi, roll_fraction,
               a_i, a_f, w_start, w_i, w_f, w_c, late, d_parts, d_rej, wo_i, wo_n, wo_f):
    n = order.shape[0]
    S = values.shape[1]
    K = w_start.shape[1]
    nw = 0
    for k in range(n):
        i = order[k]
        m = local[i]
        pm = prof[m]
        t = ts[i]
        W = p_i[pm, PI_WINDOW_MS]
        lat = p_i[pm, PI_LATENESS_MS]
        widx = t // W
        ws = widx * W
        mx = a_i[m, AI_MAX_TS]
        d_parts[i] = 0
        d_rej[i] = 0
        if mx != NONE and ws + W <= mx - lat:
            late[i] = True
            a_i[m, AI_LATE] += 1
            continue
        late[i] = False
        in_order = mx == NONE or t > mx
        if in_order:
            a_i[m, AI_MAX_TS] = t
            due = False
            for s in range(K):
                st = w_start[m, s]
                if st != NONE and st + W <= t - lat:
                    due = True
            if due:
                nw = _close_until(m, pm, t - lat, t, p_i, p_f, sh_start, sh_end, site_lo, site_hi, a_i, a_f, w_start,
                                  w_i, w_f, w_c, wo_i, wo_n, wo_f, nw)
        slot = widx % K
        if w_start[m, slot] != ws:
            w_start[m, slot] = ws
            w_c[m, slot, 0] = 0
            w_c[m, slot, 1] = 0
            for j in range(S):
                w_i[slot, m, j, 0] = 0
                w_i[slot, m, j, 1] = NONE
        if in_order:
            cmax = p_f[pm, PF_COUNTER_MAX]
            ps = p_i[pm, PI_PART_SIG]
            if ps >= 0:
                v = values[i, ps]
                if v == v:
                    inc, ref = counter_step(a_f[m, AF_PART], a_i[m, AI_HAS_PART] != 0, v, cmax, roll_fraction,
                                            (rebase[i] & G_REBASE_PART) != 0)
                    a_f[m, AF_PART] = ref
                    a_i[m, AI_HAS_PART] = 1
                    d_parts[i] = inc
                    w_c[m, slot, 0] += inc
            rs = p_i[pm, PI_REJ_SIG]
            if rs >= 0:
                v = values[i, rs]
                if v == v:
                    inc, ref = counter_step(a_f[m, AF_REJ], a_i[m, AI_HAS_REJ] != 0, v, cmax, roll_fraction,
                                            (rebase[i] & G_REBASE_REJ) != 0)
                    a_f[m, AF_REJ] = ref
                    a_i[m, AI_HAS_REJ] = 1
                    d_rej[i] = inc
                    w_c[m, slot, 1] += inc
        for j in range(S):
            v = values[i, j]
            if v != v:
                continue
            c = w_i[slot, m, j, 0]
            if c == 0:
                w_f[slot, m, j, 0] = v
                w_f[slot, m, j, 1] = v
                w_f[slot, m, j, 2] = v
            else:
                if v < w_f[slot, m, j, 0]:
                    w_f[slot, m, j, 0] = v
                if v > w_f[slot, m, j, 1]:
                    w_f[slot, m, j, 1] = v
                w_f[slot, m, j, 2] += v
            w_i[slot, m, j, 0] = c + 1
            if t >= w_i[slot, m, j, 1]:  # ties go to the later arrival
                w_i[slot, m, j, 1] = t
                w_f[slot, m, j, 3] = v
    return nw


@njit(cache=True)
def _aggregate_flush(machines, p_i, p_f, prof, sh_start, sh_end, site_lo, site_hi, a_i, a_f, w_start, w_i, w_f,
                     w_c, wo_i, wo_n, wo_f):
    nw = 0
    for k in range(machines.shape[0]):
        m = machines[k]
        pm = prof[m]
        mx = a_i[m, AI_MAX_TS]
        if mx == NONE:
            continue
        nw = _close_until(m, pm, mx + p_i[pm, PI_WINDOW_MS] + 1, mx, p_i, p_f, sh_start, sh_end, site_lo, site_hi, a_i,
                          a_f, w_start, w_i, w_f, w_c, wo_i, wo_n, wo_f, nw)
    return nw


def window_slots(window_ms: int, lateness_ms: int) -> int:
    """Ring slots per machine: every window that can still be open at once (ceil(lateness/window) + 1)."""
    return -(-lateness_ms // window_ms) + 1


def _outputs(cap: int, n_sig: int):
    return (scratch("agg.wo_i", cap, (N_WO,), np.int64), scratch("agg.wo_n", cap, (n_sig,), np.int64),
            scratch("agg.wo_f", cap, (n_sig, 4), np.float64))


def _check(name: str, arr: np.ndarray, dtype, ndim: int) -> None:
    if not isinstance(arr, np.ndarray) or arr.dtype != dtype or arr.ndim != ndim or not arr.flags.c_contiguous:
        raise KernelInputError(f"{name} must be a C-contiguous {ndim}-d {np.dtype(dtype).name} array",
                               hint=f"pass np.ascontiguousarray({name}, dtype=np.{np.dtype(dtype).name})")


def aggregate(order, local, ts, values, params, calendar, state, *, n_machines: int, roll_fraction: float,
              rebase: np.ndarray | None = None):
    """Run the window/counter walk; returns (late flags, part increments, reject increments, closed windows).

    `rebase` (int8 per reading, G_REBASE_* bits, from the counter guard) marks counters restarting uncounted.

    `params`, `calendar` and `state` are the dicts built by andon.operators (see layout.py for columns); the
    closed windows are (rows[N_WO], counts[n_sig], stats[n_sig, 4] = min, max, sum, last), oldest first per
    machine.
    """
    n = ts.shape[0]
    for name, arr, dtype, ndim in (("order", order, np.int64, 1), ("local", local, np.int64, 1),
                                   ("ts", ts, np.int64, 1), ("values", values, np.float64, 2)):
        _check(name, arr, dtype, ndim)
    if order.shape[0] != n or local.shape[0] != n or values.shape[0] != n:
        raise KernelInputError("order, local, ts and values must have one row per reading")
    if rebase is None:
        rebase = np.zeros(n, np.int8)
    _check("rebase", rebase, np.int8, 1)
    late = np.empty(n, np.bool_)
    d_parts = np.empty(n, np.int64)
    d_rej = np.empty(n, np.int64)
    K = state["w_start"].shape[1]
    wo_i, wo_n, wo_f = _outputs(n + K * n_machines + 1, values.shape[1])
    nw = _aggregate(order, local, ts, values, rebase, params["p_i"], params["p_f"], params["prof"],
                    calendar["sh_start"], calendar["sh_end"], calendar["site_sh_lo"], calendar["site_sh_hi"],
                    float(roll_fraction), state["a_i"], state["a_f"], state["w_start"], state["w_i"], state["w_f"],
                    state["w_c"], late, d_parts, d_rej, wo_i, wo_n, wo_f)
    return late, d_parts, d_rej, (wo_i[:nw].copy(), wo_n[:nw].copy(), wo_f[:nw].copy())


def aggregate_flush(machines, params, calendar, state):
    """Close every open window of `machines` (local indices, int64): end of input."""
    _check("machines", machines, np.int64, 1)
    K = state["w_start"].shape[1]
    wo_i, wo_n, wo_f = _outputs(K * machines.shape[0] + 1, state["w_i"].shape[2])
    nw = _aggregate_flush(machines, params["p_i"], params["p_f"], params["prof"], calendar["sh_start"], calendar["sh_end"],
                          calendar["site_sh_lo"], calendar["site_sh_hi"], state["a_i"], state["a_f"],
                          state["w_start"], state["w_i"], state["w_f"], state["w_c"], wo_i, wo_n, wo_f)
    return wo_i[:nw].copy(), wo_n[:nw].copy(), wo_f[:nw].copy()

"""Rule detection per machine on in-order readings: SPC, maintenance alarms, cycle counts, signal limits.

Every rule raises once per episode: an alarm episode lasts while the alarm signal keeps the same listed code; an
SPC episode while readings stay beyond limits (beyond_limits) or on one side of centre (run_of_n, raised when the
run reaches n); a signal-limit episode while the signal stays above its limit (raised after for_s).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from andon.operators.kernels.layout import (
    K_ALARM,
    K_CYCLES,
    K_LIMIT,
    K_SPC,
    LIM_FIRED,
    LIM_SINCE,
    N_EV,
    NONE,
    PI_ALARM_HI,
    PI_ALARM_LO,
    PI_ALARM_SIG,
    PI_MAINT_EVERY,
    PI_N_LIM,
    PI_N_SPC,
    RI_ALARM,
    RI_CYCLES,
    RI_LAST_TS,
    SPC_BEYOND,
    SPC_OPEN,
    SPC_RUN,
    SPC_SIDE,
    SPC_SINCE,
)
from andon.operators.kernels.scratch import scratch


@njit(cache=True, inline="always")
def _emit(ev, evx, ne, kind, m, occ, det, a, b, x):
    ev[ne, 0] = kind
    ev[ne, 1] = m
    ev[ne, 2] = occ
    ev[ne, 3] = det
    ev[ne, 4] = a
    ev[ne, 5] = b
    evx[ne] = x
    return ne + 1


@njit(cache=True)
def _rules(order, local, ts, values, d_parts, p_i, prof, alarm_codes, spc_i, spc_f, lim_i, lim_f, r_i, r_spc, r_lim,
           ev, evx):
    ne = 0
    for k in range(order.shape[0]):
        i = order[k]
        m = local[i]
        pm = prof[m]
        t = ts[i]
        last = r_i[m, RI_LAST_TS]
        if last != NONE and t <= last:
            continue
        r_i[m, RI_LAST_TS] = t
        a = p_i[pm, PI_ALARM_SIG]
        if a >= 0 and p_i[pm, PI_ALARM_HI] > p_i[pm, PI_ALARM_LO]:
            v = values[i, a]
            if v == v:
                listed = False
                for q in range(p_i[pm, PI_ALARM_LO], p_i[pm, PI_ALARM_HI]):
                    if alarm_codes[q] == v:
                        listed = True
                code = np.int64(v)
                if listed and v != 0:
                    if r_i[m, RI_ALARM] != code:
                        ne = _emit(ev, evx, ne, K_ALARM, m, t, t, code, 0, v)
                    r_i[m, RI_ALARM] = code
                else:
                    r_i[m, RI_ALARM] = NONE
        inc = d_parts[i]
        if inc > 0:
            before = r_i[m, RI_CYCLES]
            after = before + inc
            r_i[m, RI_CYCLES] = after
            every = p_i[pm, PI_MAINT_EVERY]
            if every > 0 and after // every > before // every:
                ne = _emit(ev, evx, ne, K_CYCLES, m, t, t, (after // every) * every, after, 0.0)
        for q in range(p_i[pm, PI_N_SPC]):
            v = values[i, spc_i[pm, q, 0]]
            if v != v:
                continue
            if spc_i[pm, q, 1] == SPC_BEYOND:
                low = v < spc_f[pm, q, 0]
                if low or v > spc_f[pm, q, 1]:
                    if r_spc[m, q, SPC_OPEN] == 0:
                        ne = _emit(ev, evx, ne, K_SPC, m, t, t, q, 0 if low else 1, v)
                    r_spc[m, q, SPC_OPEN] = 1
                else:
                    r_spc[m, q, SPC_OPEN] = 0
            else:
                c = spc_f[pm, q, 2]
                side = 1 if v > c else (-1 if v < c else 0)
                if side != 0 and side == r_spc[m, q, SPC_SIDE]:
                    r_spc[m, q, SPC_RUN] += 1
                else:
                    r_spc[m, q, SPC_RUN] = 1 if side != 0 else 0
                    r_spc[m, q, SPC_SINCE] = t
                    r_spc[m, q, SPC_OPEN] = 0
                r_spc[m, q, SPC_SIDE] = side
                if r_spc[m, q, SPC_RUN] >= spc_i[pm, q, 2] and r_spc[m, q, SPC_OPEN] == 0:
                    ne = _emit(ev, evx, ne, K_SPC, m, r_spc[m, q, SPC_SINCE], t, q, 2, v)
                    r_spc[m, q, SPC_OPEN] = 1
        for q in range(p_i[pm, PI_N_LIM]):
            v = values[i, lim_i[pm, q, 0]]
            if v != v:
                continue
            if v > lim_f[pm, q, 0]:
                if r_lim[m, q, LIM_SINCE] == NONE:
                    r_lim[m, q, LIM_SINCE] = t
                if r_lim[m, q, LIM_FIRED] == 0 and t - r_lim[m, q, LIM_SINCE] >= lim_i[pm, q, 1]:
                    ne = _emit(ev, evx, ne, K_LIMIT, m, r_lim[m, q, LIM_SINCE], t, q, 0, v)
                    r_lim[m, q, LIM_FIRED] = 1
            else:
                r_lim[m, q, LIM_SINCE] = NONE
                r_lim[m, q, LIM_FIRED] = 0
    return ne


def detect_rules(order, local, ts, values, d_parts, params, state):
    """Run the rule walk; returns (event records int64 [k, N_EV], values float64 [k])."""
    n = ts.shape[0]
    cap = n * (2 + params["spc_i"].shape[1] + params["lim_i"].shape[1]) + 1
    ev = scratch("rules.ev", cap, (N_EV,), np.int64)
    evx = scratch("rules.evx", cap, (), np.float64)
    ne = _rules(order, local, ts, values, d_parts, params["p_i"], params["prof"], params["alarm_codes"], params["spc_i"],
                params["spc_f"], params["lim_i"], params["lim_f"], state["r_i"], state["r_spc"], state["r_lim"],
                ev, evx)
    return ev[:ne].copy(), evx[:ne].copy()

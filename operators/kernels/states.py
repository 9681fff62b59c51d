"""Machine state per machine: raw state, minimum dwell, offline gaps, downtime, operations and shift accounting.

Only in-order readings (ts greater than every earlier ts of that machine) drive the state: duplicates and
out-of-order readings change nothing. A candidate state is accepted once it has persisted min_dwell of event time;
its transition time is the ts of its first reading. The timeline is accounted into per-shift slots (clipped to
planned production segments, i.e. shifts minus breaks) as far as it is final ("settled"), and a slot closes once
the machine's watermark and the settled time both pass the shift end.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from andon.operators.kernels.calendar import find_shift, first_segment_ending_after, next_productive
from andon.operators.kernels.layout import (
    BREAKDOWN,
    FAR,
    K_DT_END,
    K_DT_START,
    K_OP_FINISH,
    K_OP_PROGRESS,
    K_OP_REASON,
    K_OP_START,
    K_STATE,
    MODE_CODE,
    N_EV,
    N_SD,
    N_SO,
    NONE,
    OFFLINE,
    PF_HYST,
    PF_RUN_ABOVE,
    PI_ALARM_SIG,
    PI_CODE_HI,
    PI_CODE_LO,
    PI_CODE_SIG,
    PI_DWELL_MS,
    PI_LATENESS_MS,
    PI_MICRO_MS,
    PI_OFFLINE_MS,
    PI_RR_SIG,
    PI_RUN_SIG,
    PI_SITE,
    PI_STATE_MODE,
    PI_UNMAPPED,
    PI_WINDOW_MS,
    PI_WO_SIG,
    PLANNED_STOP,
    REASON_SLOTS,
    RUNNING,
    SETUP,
    SH_DT,
    SH_END,
    SH_MICRO,
    SH_PSTOP,
    SH_REJ,
    SH_START,
    SH_TOTAL,
    SI_ACC_TS,
    SI_AFTER_SETUP,
    SI_CAND,
    SI_CAND_SINCE,
    SI_CUR,
    SI_CUR_SINCE,
    SI_DECLARED,
    SI_EFF,
    SI_LAST_TS,
    SI_OP_DIRTY,
    SI_OP_FIRST,
    SI_OP_QTY,
    SI_OP_REJ,
    SI_OP_SINCE,
    SI_OP_WIN,
    SI_OP_WO,
    SI_RAN,
    SI_RAW,
    SI_RR_CNT,
    SI_RR_CODE,
    SI_RR_CUR,
    SO_DETECTED,
    SO_M,
    SO_SLOT,
    STOPPED,
    UNKNOWN,
)
from andon.operators.kernels.scratch import scratch


@njit(cache=True, inline="always")
def is_stop(state):
    return state >= STOPPED and state != PLANNED_STOP


@njit(cache=True)
def raw_inferred(alarm, run, run_above, hysteresis, prev):
    """Inferred state of one reading from scalars (NaN = signal absent); prev = the previous raw state."""
    if (alarm == alarm and alarm != 0) or (alarm != alarm and prev == BREAKDOWN):
        return np.int64(BREAKDOWN)
    keep = prev if (prev == RUNNING or prev == STOPPED) else np.int64(STOPPED)
    if run != run:
        return keep
    if run > run_above:
        return np.int64(RUNNING)
    if run < run_above - hysteresis:
        return np.int64(STOPPED)
    return keep


@njit(cache=True)
def raw_state(i, pm, values, p_i, p_f, code_keys, code_vals, prev):
    """The state reading i of machine m shows, before debouncing. Written out (not called) in the hot loop:
    a call with array arguments costs reference counting per reading."""
    if p_i[pm, PI_STATE_MODE] == MODE_CODE:
        r = prev
        cs = p_i[pm, PI_CODE_SIG]
        if cs >= 0:
            v = values[i, cs]
            if v == v:
                r = p_i[pm, PI_UNMAPPED]
                for k in range(p_i[pm, PI_CODE_LO], p_i[pm, PI_CODE_HI]):
                    if code_keys[k] == v:
                        r = code_vals[k]
                        break
        return r
    a = p_i[pm, PI_ALARM_SIG]
    rs = p_i[pm, PI_RUN_SIG]
    return raw_inferred(values[i, a] if a >= 0 else np.nan, values[i, rs] if rs >= 0 else np.nan,
                        p_f[pm, PF_RUN_ABOVE], p_f[pm, PF_HYST], prev)


@njit(cache=True, inline="always")
def _emit(ev, ne, kind, m, occ, det, a, b):
    ev[ne, 0] = kind
    ev[ne, 1] = m
    ev[ne, 2] = occ
    ev[ne, 3] = det
    ev[ne, 4] = a
    ev[ne, 5] = b
    ev[ne, 6] = 0
    ev[ne, 7] = 0
    ev[ne, 8] = NONE
    return ne + 1


@njit(cache=True)
def _emit_op(ev, ne, kind, m, occ, det, s_i):
    """An operation record (finish or progress) with the operation's counts, since and first part."""
    ne = _emit(ev, ne, kind, m, occ, det, s_i[m, SI_OP_QTY], s_i[m, SI_OP_REJ])
    ev[ne - 1, 6] = s_i[m, SI_OP_SINCE]
    ev[ne - 1, 7] = s_i[m, SI_OP_FIRST]
    ev[ne - 1, 8] = s_i[m, SI_OP_WO]
    s_i[m, SI_OP_DIRTY] = 0
    for j in range(REASON_SLOTS):  # its rejects per reason (slots fill in order: the first free one ends them)
        if s_i[m, SI_RR_CODE + j] == NONE:
            break
        ne = _emit(ev, ne, K_OP_REASON, m, occ, det, s_i[m, SI_RR_CNT + j], 0)
        ev[ne - 1, 6] = s_i[m, SI_RR_CODE + j]
    return ne


@njit(cache=True, inline="always")
def _count_reason(m, n, s_i):
    """`n` rejects of machine m's current operation under the reason last shown (none shown, or every slot taken
    by other reasons: they stay unattributed)."""
    code = s_i[m, SI_RR_CUR]
    if code == NONE:
        return
    for j in range(REASON_SLOTS):
        c = s_i[m, SI_RR_CODE + j]
        if c == code:
            s_i[m, SI_RR_CNT + j] += n
            return
        if c == NONE:
            s_i[m, SI_RR_CODE + j] = code
            s_i[m, SI_RR_CNT + j] = n
            return


@njit(cache=True, inline="always")
def _new_operation(m, at, s_i):
    """The next operation counts from `at`."""
    s_i[m, SI_OP_QTY] = 0
    s_i[m, SI_OP_REJ] = 0
    s_i[m, SI_OP_SINCE] = at
    s_i[m, SI_OP_FIRST] = NONE
    for j in range(REASON_SLOTS):
        s_i[m, SI_RR_CODE + j] = NONE
        s_i[m, SI_RR_CNT + j] = 0


@njit(cache=True)
def _emit_slot(m, s, det, sh_key, sh_cnt, sh_dur, so, nso):
    so[nso, SO_M] = m
    so[nso, SO_DETECTED] = det
    so[nso, SO_SLOT + SH_START] = sh_key[m, s, 0]
    so[nso, SO_SLOT + SH_END] = sh_key[m, s, 1]
    for c in range(N_SD):
        so[nso, SO_SLOT + SH_DT + c] = sh_dur[m, s, c]
    so[nso, SO_SLOT + SH_TOTAL] = sh_cnt[m, s, 0]
    so[nso, SO_SLOT + SH_REJ] = sh_cnt[m, s, 1]
    sh_key[m, s, 0] = NONE
    return nso + 1


@njit(cache=True)
def _slot(m, start, end, det, sh_key, sh_cnt, sh_dur, so, nso):
    """Slot of the shift starting at `start` for machine m, opened (evicting the oldest if full) when missing."""
    free = -1
    oldest = -1
    for s in range(sh_key.shape[1]):
        key = sh_key[m, s, 0]
        if key == start:
            return s, nso
        if key == NONE:
            if free < 0:
                free = s
        elif oldest < 0 or key < sh_key[m, oldest, 0]:
            oldest = s
    if free < 0:
        nso = _emit_slot(m, oldest, det, sh_key, sh_cnt, sh_dur, so, nso)
        free = oldest
    sh_key[m, free, 0] = start
    sh_key[m, free, 1] = end
    sh_cnt[m, free, :] = 0
    sh_dur[m, free, :] = 0
    return free, nso


@njit(cache=True)
def _close_slots(m, limit, det, sh_key, sh_cnt, sh_dur, so, nso):
    """Emit, oldest first, the slots of machine m whose shift ends at or before `limit`."""
    while True:
        best = -1
        for s in range(sh_key.shape[1]):
            key = sh_key[m, s, 0]
            if key != NONE and sh_key[m, s, 1] <= limit and (best < 0 or key < sh_key[m, best, 0]):
                best = s
        if best < 0:
            return nso
        nso = _emit_slot(m, best, det, sh_key, sh_cnt, sh_dur, so, nso)


@njit(cache=True)
def _account(m, a, b, state, declared, det, seg_start, seg_end, seg_key, seg_kend, lo, hi, sh_key, sh_cnt, sh_dur, so, nso):
    """Add [a, b) spent in `state` to the shift slots, clipped to planned production segments."""
    if b <= a or state == RUNNING or state == UNKNOWN:
        return nso
    if state == STOPPED:
        col = SH_DT + STOPPED if declared else SH_MICRO
    elif state == PLANNED_STOP:
        col = SH_PSTOP
    else:
        col = SH_DT + state
    j = first_segment_ending_after(a, seg_end, lo, hi)
    while j < hi and seg_start[j] < b:
        overlap = min(b, seg_end[j]) - max(a, seg_start[j])
        if overlap > 0 and seg_key[j] != NONE:
            s, nso = _slot(m, seg_key[j], seg_kend[j], det, sh_key, sh_cnt, sh_dur, so, nso)
            sh_dur[m, s, col - SH_DT] += overlap
        j += 1
    return nso


@njit(cache=True)
def _declare(m, pm, t_known, det, p_i, s_i, seg_start, seg_end, lo, hi, ev, ne):
    """Declare the current stop downtime once it reached planned time (and outlasted the threshold if STOPPED)."""
    cur = s_i[m, SI_CUR]
    if not is_stop(cur) or s_i[m, SI_DECLARED] != 0:
        return ne
    eff = next_productive(s_i[m, SI_CUR_SINCE], seg_start, seg_end, lo, hi)
    need = p_i[pm, PI_MICRO_MS] if cur == STOPPED else 0
    if eff < FAR and eff <= t_known and t_known - eff >= need:
        s_i[m, SI_DECLARED] = 1
        s_i[m, SI_EFF] = eff
        ne = _emit(ev, ne, K_DT_START, m, eff, det, cur, 0)
    return ne


@njit(cache=True)
def _end_current(m, pm, at, det, p_i, s_i, seg_start, seg_end, seg_key, seg_kend, lo, hi, sh_key, sh_cnt, sh_dur, so, nso, ev, ne):
    """The current state ends at `at`: settle its class, account it, close its downtime."""
    s_i[m, SI_CAND] = s_i[m, SI_CUR]
    cur = s_i[m, SI_CUR]
    if is_stop(cur) and s_i[m, SI_DECLARED] == 0 and at > s_i[m, SI_CUR_SINCE]:
        ne = _declare(m, pm, at, det, p_i, s_i, seg_start, seg_end, lo, hi, ev, ne)
    nso = _account(m, s_i[m, SI_ACC_TS], at, cur, s_i[m, SI_DECLARED] != 0, det, seg_start, seg_end, seg_key,
                   seg_kend, lo, hi, sh_key, sh_cnt, sh_dur, so, nso)
    s_i[m, SI_ACC_TS] = at
    if s_i[m, SI_DECLARED] != 0:
        ne = _emit(ev, ne, K_DT_END, m, at, det, cur, s_i[m, SI_EFF])
    s_i[m, SI_DECLARED] = 0
    return ne, nso


@njit(cache=True)
def _enter(m, new, at, det, s_i, ev, ne, changeovers):
    """Machine m is in state `new` from `at`: state change and operation (changeover) events (`changeovers`
    False: a work-order signal splits operations instead of setups)."""
    old = s_i[m, SI_CUR]
    if old != new:
        ne = _emit(ev, ne, K_STATE, m, at, det, old, new)
    s_i[m, SI_CUR] = new
    s_i[m, SI_CUR_SINCE] = at
    s_i[m, SI_CAND] = new
    s_i[m, SI_CAND_SINCE] = at
    s_i[m, SI_DECLARED] = 0
    if not changeovers:
        if new == RUNNING:
            s_i[m, SI_RAN] = 1
    elif new == SETUP and old != SETUP:
        if s_i[m, SI_RAN] != 0:  # the operation ends where the setup begins; the next one counts from here
            ne = _emit_op(ev, ne, K_OP_FINISH, m, at, det, s_i)
            _new_operation(m, at, s_i)
        s_i[m, SI_RAN] = 0
        s_i[m, SI_AFTER_SETUP] = 1
    elif new == RUNNING:
        if s_i[m, SI_AFTER_SETUP] != 0:  # counts since the finish stay: parts made while the start was pending
            ne = _emit(ev, ne, K_OP_START, m, at, det, 0, 0)
            s_i[m, SI_AFTER_SETUP] = 0
        s_i[m, SI_RAN] = 1
    return ne


@njit(cache=True)
def _states(order, local, ts, values, d_parts, d_rej, p_i, p_f, prof, code_keys, code_vals, sh_start, sh_end,
            site_sh_lo, site_sh_hi, seg_start, seg_end, seg_key, seg_kend, site_seg_lo, site_seg_hi,
            s_i, sh_key, sh_cnt, sh_dur, ev, so):
    ne = 0
    nso = 0
    c_m = -1  # cache: the shift of machine c_m's last reading, and its slot
    c_start = NONE
    c_end = NONE
    c_slot = -1
    c_slot_m = -1
    for k in range(order.shape[0]):
        i = order[k]
        m = local[i]
        pm = prof[m]
        t = ts[i]
        last = s_i[m, SI_LAST_TS]
        if last != NONE and t <= last:
            continue  # duplicate or out of order: no state, no counts
        site = p_i[pm, PI_SITE]
        lo = site_seg_lo[site]
        hi = site_seg_hi[site]
        r = s_i[m, SI_RAW]  # raw_state(), written out
        if p_i[pm, PI_STATE_MODE] == MODE_CODE:
            cs = p_i[pm, PI_CODE_SIG]
            if cs >= 0:
                v = values[i, cs]
                if v == v:
                    r = p_i[pm, PI_UNMAPPED]
                    for kk in range(p_i[pm, PI_CODE_LO], p_i[pm, PI_CODE_HI]):
                        if code_keys[kk] == v:
                            r = code_vals[kk]
                            break
        else:
            a = p_i[pm, PI_ALARM_SIG]
            rs = p_i[pm, PI_RUN_SIG]
            r = raw_inferred(values[i, a] if a >= 0 else np.nan, values[i, rs] if rs >= 0 else np.nan,
                             p_f[pm, PF_RUN_ABOVE], p_f[pm, PF_HYST], r)
        s_i[m, SI_RAW] = r
        w = t // p_i[pm, PI_WINDOW_MS]
        changeovers = p_i[pm, PI_WO_SIG] < 0
        if last == NONE:
            _new_operation(m, t, s_i)
            s_i[m, SI_OP_DIRTY] = 0
            s_i[m, SI_OP_WIN] = w
            s_i[m, SI_OP_WO] = NONE
            s_i[m, SI_RR_CUR] = NONE
        elif w != s_i[m, SI_OP_WIN]:  # the operation's counts as of the end of the last reading's window
            if s_i[m, SI_OP_DIRTY] != 0:
                ne = _emit_op(ev, ne, K_OP_PROGRESS, m, (s_i[m, SI_OP_WIN] + 1) * p_i[pm, PI_WINDOW_MS], t, s_i)
            s_i[m, SI_OP_WIN] = w
        if last == NONE:
            s_i[m, SI_CUR] = UNKNOWN
            s_i[m, SI_CUR_SINCE] = t
            s_i[m, SI_CAND] = UNKNOWN
            s_i[m, SI_CAND_SINCE] = t
            s_i[m, SI_ACC_TS] = t
            s_i[m, SI_DECLARED] = 0
        elif t - last > p_i[pm, PI_OFFLINE_MS]:
            ne, nso = _end_current(m, pm, last, t, p_i, s_i, seg_start, seg_end, seg_key, seg_kend, lo, hi, sh_key, sh_cnt, sh_dur, so,
                                   nso, ev, ne)
            ne = _enter(m, np.int64(OFFLINE), last, t, s_i, ev, ne, changeovers)
            ne = _declare(m, pm, t, t, p_i, s_i, seg_start, seg_end, lo, hi, ev, ne)
            ne, nso = _end_current(m, pm, t, t, p_i, s_i, seg_start, seg_end, seg_key, seg_kend, lo, hi, sh_key, sh_cnt, sh_dur, so,
                                   nso, ev, ne)
            ne = _enter(m, r, t, t, s_i, ev, ne, changeovers)
        s_i[m, SI_LAST_TS] = t
        cur = s_i[m, SI_CUR]
        if r == cur:
            s_i[m, SI_CAND] = cur
        else:
            if s_i[m, SI_CAND] != r:
                s_i[m, SI_CAND] = r
                s_i[m, SI_CAND_SINCE] = t
            if t - s_i[m, SI_CAND_SINCE] >= p_i[pm, PI_DWELL_MS]:
                at = s_i[m, SI_CAND_SINCE]
                ne, nso = _end_current(m, pm, at, t, p_i, s_i, seg_start, seg_end, seg_key, seg_kend, lo, hi, sh_key, sh_cnt, sh_dur, so,
                                       nso, ev, ne)
                ne = _enter(m, r, at, t, s_i, ev, ne, changeovers)
        pending = s_i[m, SI_CAND] != s_i[m, SI_CUR]
        t_known = s_i[m, SI_CAND_SINCE] if pending else t
        cur = s_i[m, SI_CUR]
        if is_stop(cur) and s_i[m, SI_DECLARED] == 0 and (
                cur != STOPPED or t_known - s_i[m, SI_CUR_SINCE] >= p_i[pm, PI_MICRO_MS]):
            ne = _declare(m, pm, t_known, t, p_i, s_i, seg_start, seg_end, lo, hi, ev, ne)
        if not (t >= c_start and t < c_end and m == c_m):  # shift of this reading (cached per machine run)
            c_m = m
            j = find_shift(t, sh_start, sh_end, site_sh_lo[site], site_sh_hi[site])
            if j >= 0:
                c_start, c_end = sh_start[j], sh_end[j]
            else:
                c_start, c_end = NONE, NONE
        if c_start != NONE:
            if c_slot < 0 or c_slot_m != m or sh_key[m, c_slot, 0] != c_start:
                c_slot = -1
                for q in range(sh_key.shape[1]):  # _slot()'s look-up, written out: no call per machine
                    if sh_key[m, q, 0] == c_start:
                        c_slot = q
                        break
                if c_slot < 0:
                    c_slot, nso = _slot(m, c_start, c_end, t, sh_key, sh_cnt, sh_dur, so, nso)
                c_slot_m = m
            sh_cnt[m, c_slot, 0] += d_parts[i]
            sh_cnt[m, c_slot, 1] += d_rej[i]
        rs = p_i[pm, PI_RR_SIG]
        if rs >= 0:  # the reason this reading shows names its own rejects and later ones (until another shows)
            rv = values[i, rs]
            if rv == rv:
                s_i[m, SI_RR_CUR] = np.int64(rv)
        if d_parts[i] != 0 or d_rej[i] != 0:
            s_i[m, SI_OP_QTY] += d_parts[i]
            s_i[m, SI_OP_REJ] += d_rej[i]
            if rs >= 0 and d_rej[i] != 0:
                _count_reason(m, d_rej[i], s_i)
            s_i[m, SI_OP_DIRTY] = 1
            if d_parts[i] > 0 and s_i[m, SI_OP_FIRST] == NONE:
                s_i[m, SI_OP_FIRST] = t
        if not changeovers:  # the reading that first shows another order ends the running one (its own
            wv = values[i, p_i[pm, PI_WO_SIG]]  # increment still belongs to it: parts made up to this reading)
            if wv == wv:
                code = np.int64(wv)
                if s_i[m, SI_OP_WO] == NONE:
                    s_i[m, SI_OP_WO] = code
                elif code != s_i[m, SI_OP_WO]:
                    ne = _emit_op(ev, ne, K_OP_FINISH, m, t, t, s_i)
                    _new_operation(m, t, s_i)
                    s_i[m, SI_OP_WO] = code
        settled = t_known
        cur = s_i[m, SI_CUR]
        if cur == STOPPED and s_i[m, SI_DECLARED] == 0:
            settled = min(settled, s_i[m, SI_CUR_SINCE])
        if (cur == RUNNING or cur == UNKNOWN) and settled > s_i[m, SI_ACC_TS]:
            s_i[m, SI_ACC_TS] = settled  # nothing to account; other states are accounted when a slot closes
        limit = min(settled, t - p_i[pm, PI_LATENESS_MS])
        due = False
        for q in range(sh_key.shape[1]):
            if sh_key[m, q, 0] != NONE and sh_key[m, q, 1] <= limit:
                due = True
        if due:
            if settled > s_i[m, SI_ACC_TS]:
                nso = _account(m, s_i[m, SI_ACC_TS], settled, cur, s_i[m, SI_DECLARED] != 0, t, seg_start,
                               seg_end, seg_key, seg_kend, lo, hi, sh_key, sh_cnt, sh_dur, so, nso)
                s_i[m, SI_ACC_TS] = settled
            nso = _close_slots(m, limit, t, sh_key, sh_cnt, sh_dur, so, nso)
    return ne, nso


@njit(cache=True)
def _states_flush(machines, p_i, prof, site_seg_lo, site_seg_hi, seg_start, seg_end, seg_key, seg_kend, s_i, sh_key, sh_cnt, sh_dur, ev, so):
    ne = 0
    nso = 0
    for k in range(machines.shape[0]):
        m = machines[k]
        pm = prof[m]
        last = s_i[m, SI_LAST_TS]
        if last == NONE:
            continue
        site = p_i[pm, PI_SITE]
        lo = site_seg_lo[site]
        hi = site_seg_hi[site]
        s_i[m, SI_CAND] = s_i[m, SI_CUR]
        ne = _declare(m, pm, last, last, p_i, s_i, seg_start, seg_end, lo, hi, ev, ne)
        if s_i[m, SI_OP_DIRTY] != 0:  # end of input: the running operation's counts so far
            ne = _emit_op(ev, ne, K_OP_PROGRESS, m, (s_i[m, SI_OP_WIN] + 1) * p_i[pm, PI_WINDOW_MS], last, s_i)
        nso = _account(m, s_i[m, SI_ACC_TS], last, s_i[m, SI_CUR], s_i[m, SI_DECLARED] != 0, last, seg_start,
                       seg_end, seg_key, seg_kend, lo, hi, sh_key, sh_cnt, sh_dur, so, nso)
        s_i[m, SI_ACC_TS] = last
        nso = _close_slots(m, FAR, last, sh_key, sh_cnt, sh_dur, so, nso)
    return ne, nso


def _buffers(n_events: int, n_rows: int):
    return scratch("states.ev", n_events, (N_EV,), np.int64), scratch("states.so", n_rows, (N_SO,), np.int64)


def _reason_rows(params, per: int) -> int:
    """Room for K_OP_REASON records: `per` operation records at most, each followed by up to REASON_SLOTS, when
    any profile counts reasons."""
    return per * REASON_SLOTS if (params["p_i"][:, PI_RR_SIG] >= 0).any() else 0


def detect_states(order, local, ts, values, d_parts, d_rej, params, calendar, state, *, n_machines: int):
    """Run the state walk; returns (event records, closed shift rows) as int64 arrays (layout.py columns)."""
    n = ts.shape[0]
    n_cal = calendar["seg_start"].shape[0] + 1
    ev, so = _buffers(10 * n + 2 + _reason_rows(params, 2 * n), n + n_machines * (state["sh_key"].shape[1] + n_cal) + 1)
    ne, nso = _states(order, local, ts, values, d_parts, d_rej, params["p_i"], params["p_f"], params["prof"], params["code_keys"],
                      params["code_vals"], calendar["sh_start"], calendar["sh_end"], calendar["site_sh_lo"],
                      calendar["site_sh_hi"], calendar["seg_start"], calendar["seg_end"], calendar["seg_key"],
                      calendar["seg_kend"], calendar["site_seg_lo"], calendar["site_seg_hi"], state["s_i"],
                      state["sh_key"], state["sh_cnt"], state["sh_dur"], ev, so)
    return ev[:ne].copy(), so[:nso].copy()


def flush_states(machines, params, calendar, state):
    """End of input: settle every machine's timeline up to its last reading and close all its shift slots."""
    n_cal = calendar["seg_start"].shape[0] + 1
    ev, so = _buffers(3 * machines.shape[0] + 2 + _reason_rows(params, machines.shape[0]), machines.shape[0] * (state["sh_key"].shape[1] + n_cal) + 1)
    ne, nso = _states_flush(machines, params["p_i"], params["prof"], calendar["site_seg_lo"], calendar["site_seg_hi"],
                            calendar["seg_start"], calendar["seg_end"], calendar["seg_key"], calendar["seg_kend"],
                            state["s_i"], state["sh_key"], state["sh_cnt"], state["sh_dur"], ev, so)
    return ev[:ne].copy(), so[:nso].copy()

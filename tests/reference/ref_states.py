"""Slow, obviously correct twin of kernels/states.py: debounced state, offline gaps, downtime, shift OEE rows.

The twin keeps each machine's accepted timeline as a plain list of intervals and computes shift rows at the end
by clipping every interval to each shift minus its breaks (the kernel instead accounts incrementally into shift
slots). Counter increments come from the aggregate twin.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from andon.config import SiteConfig
from andon.readings import Registry
from andon.shifts import Shift, ShiftSchedule
from andon.states import DOWNTIME_REASON, MachineState

S = MachineState
STOPS = {S.STOPPED, S.BREAKDOWN, S.SETUP, S.MATERIAL, S.OFFLINE}
NAME = {s: s.name.lower() for s in S}


def raw_state(cls, sig: dict, prev: S) -> S:
    rules = cls.states
    if rules.source == "code":
        v = sig.get(rules.code_signal, math.nan)
        if math.isnan(v):
            return prev
        return rules.code_table().get(int(v), S[rules.unmapped.upper()]) if v == int(v) else S[rules.unmapped.upper()]
    alarm = sig.get(rules.alarm_signal, math.nan)
    if (not math.isnan(alarm) and alarm != 0) or (math.isnan(alarm) and prev == S.BREAKDOWN):
        return S.BREAKDOWN
    keep = prev if prev in (S.RUNNING, S.STOPPED) else S.STOPPED
    rpm = sig.get(rules.run_signal, math.nan)
    if math.isnan(rpm):
        return keep
    if rpm > rules.run_above:
        return S.RUNNING
    if rpm < rules.run_above - rules.hysteresis:
        return S.STOPPED
    return keep


def productive_pieces(shift: Shift) -> list[tuple[int, int]]:
    """The shift with its breaks cut out, computed millisecond-boundary by boundary."""
    cuts = sorted({shift.start_ms, shift.end_ms, *(x for b in shift.breaks_ms for x in b
                                                     if shift.start_ms < x < shift.end_ms)})
    return [(a, b) for a, b in zip(cuts, cuts[1:], strict=False) if not shift.in_break(a)]


class Calendar:
    def __init__(self, site: SiteConfig) -> None:
        self.schedule = ShiftSchedule.from_site(site)
        self.has_shifts = bool(site.calendar.shifts)

    def next_productive(self, t: int, limit: int) -> int | None:
        """First planned-production instant >= t, if there is one at or before `limit`."""
        if not self.has_shifts:
            return t
        for shift in self.schedule.shifts_between(t, limit + 1):
            for a, b in productive_pieces(shift):
                if b > t and max(a, t) <= limit:
                    return max(a, t)
        return None


@dataclass
class _Machine:
    last: int | None = None
    cur: S = S.UNKNOWN
    since: int = 0
    cand: S = S.UNKNOWN
    cand_since: int = 0
    raw: S = S.UNKNOWN
    declared: bool = False
    eff: int = 0
    after_setup: bool = False
    ran: bool = False
    op_qty: int = 0
    op_rej: int = 0
    op_since: int = 0
    op_first: int | None = None
    op_win: int = 0
    op_dirty: bool = False
    intervals: list = field(default_factory=list)  # (state, start, end, declared)
    reading_shifts: dict = field(default_factory=dict)  # shift_id -> [parts, rejects]


def reference_states(site: SiteConfig, registry: Registry, rows, increments: dict) -> dict:
    p = site.processing
    dwell, thr = round(p.min_dwell_s * 1000), round(p.microstop_threshold_s * 1000)
    offline = round(p.offline_after_s * 1000)
    window = round(p.window_s * 1000)
    cal = Calendar(site)
    machines: dict[int, _Machine] = {}
    events: list[tuple] = []

    def emit(kind, m, occ, det, data=()):
        events.append((kind, registry.keys[m][1], occ, det, data))

    def declare(m, st, t_known, det):
        if st.cur not in STOPS or st.declared:
            return
        eff = cal.next_productive(st.since, t_known)
        need = thr if st.cur == S.STOPPED else 0
        if eff is not None and t_known - eff >= need:
            st.declared, st.eff = True, eff
            emit("machine.downtime_started", m, eff, det, (NAME[st.cur],))

    def end_current(m, st, at, det):
        st.cand = st.cur
        if st.cur in STOPS and not st.declared and at > st.since:
            declare(m, st, at, det)
        st.intervals.append((st.cur, st.since, at, st.declared))
        if st.declared:
            emit("machine.downtime_ended", m, at, det, (NAME[st.cur], st.eff))
        st.declared = False

    def enter(m, st, new, at, det):
        if st.cur != new:
            emit("machine.state_changed", m, at, det, (NAME[st.cur], NAME[new]))
        old, st.cur, st.since, st.cand, st.cand_since, st.declared = st.cur, new, at, new, at, False
        if new == S.SETUP and old != S.SETUP:
            if st.ran:
                emit("operation.finished", m, at, det, (st.op_qty, st.op_rej, st.op_since, st.op_first))
                st.op_qty, st.op_rej, st.op_since, st.op_first, st.op_dirty = 0, 0, at, None, False
            st.ran, st.after_setup = False, True
        elif new == S.RUNNING:
            if st.after_setup:
                emit("operation.started", m, at, det)
                st.after_setup = False
            st.ran = True

    for idx, (m, t, sig) in enumerate(rows):
        st = machines.setdefault(m, _Machine())
        if st.last is not None and t <= st.last:
            continue
        r = raw_state(site.class_of(registry.keys[m][1]), sig, st.raw)
        st.raw = r
        if st.last is None:
            st.op_since, st.op_win = t, t // window
        elif t // window != st.op_win:
            if st.op_dirty:
                emit("operation.progress", m, (st.op_win + 1) * window, t,
                     (st.op_qty, st.op_rej, st.op_since, st.op_first))
                st.op_dirty = False
            st.op_win = t // window
        if st.last is None:
            st.cur, st.since, st.cand, st.cand_since = S.UNKNOWN, t, S.UNKNOWN, t
        elif t - st.last > offline:
            end_current(m, st, st.last, t)
            enter(m, st, S.OFFLINE, st.last, t)
            declare(m, st, t, t)
            end_current(m, st, t, t)
            enter(m, st, r, t, t)
        st.last = t
        if r == st.cur:
            st.cand = st.cur
        else:
            if st.cand != r:
                st.cand, st.cand_since = r, t
            if t - st.cand_since >= dwell:
                at = st.cand_since
                end_current(m, st, at, t)
                enter(m, st, r, at, t)
        declare(m, st, st.cand_since if st.cand != st.cur else t, t)
        parts, rejects = increments.get(idx, (0, 0))
        shift = cal.schedule.shift_at(t)
        if shift is not None:
            acc = st.reading_shifts.setdefault(shift.shift_id, [0, 0, shift])
            acc[0] += parts
            acc[1] += rejects
        if parts or rejects:
            st.op_qty, st.op_rej, st.op_dirty = st.op_qty + parts, st.op_rej + rejects, True
            if parts > 0 and st.op_first is None:
                st.op_first = t
    for m, st in machines.items():
        if st.last is None:
            continue
        st.cand = st.cur
        declare(m, st, st.last, st.last)
        if st.op_dirty:
            emit("operation.progress", m, (st.op_win + 1) * window, st.last,
                 (st.op_qty, st.op_rej, st.op_since, st.op_first))
        st.intervals.append((st.cur, st.since, st.last, st.declared))
    latest: dict[int, int] = {}
    for m, t, _ in rows:
        latest[m] = max(latest.get(m, t), t)
    lateness = round(p.allowed_lateness_s * 1000)
    rows_out = []
    for m, st in machines.items():
        for row in _shift_rows(site, registry.keys[m][1], st, cal):
            # final once the shift's end is at or before the machine's last event time minus the allowed lateness
            row["final"] = row["shift_end_ms"] <= latest[m] - lateness
            row["covers_until_ms"] = min(row["shift_end_ms"], latest[m])
            rows_out.append(row)
    return {"events": events, "shifts": rows_out,
            "intervals": {registry.keys[m][1]: st.intervals for m, st in machines.items()}}


def _shift_rows(site: SiteConfig, machine_id: str, st: _Machine, cal: Calendar) -> list[dict]:
    machine = site.machine(machine_id)
    per_shift: dict[str, dict] = {}
    for sid, (parts, rejects, shift) in st.reading_shifts.items():
        per_shift[sid] = {"shift": shift, "parts": parts, "rejects": rejects, "ms": {}}
    if not st.intervals:
        return []
    lo, hi = min(i[1] for i in st.intervals), max(i[2] for i in st.intervals)
    for shift in cal.schedule.shifts_between(lo, hi + 1) if cal.has_shifts else []:
        for state, a, b, declared in st.intervals:
            if state in (S.RUNNING, S.UNKNOWN):
                continue
            inside = sum(max(0, min(b, y) - max(a, x)) for x, y in productive_pieces(shift))
            if inside <= 0:
                continue
            if state == S.PLANNED_STOP:
                key = "planned"
            elif state == S.STOPPED and not declared:
                key = "micro"
            else:
                key = DOWNTIME_REASON[state]
            acc = per_shift.setdefault(shift.shift_id, {"shift": shift, "parts": 0, "rejects": 0, "ms": {}})
            acc["ms"][key] = acc["ms"].get(key, 0) + inside
    out = []
    for acc in per_shift.values():
        shift, ms = acc["shift"], acc["ms"]
        by_reason = {k: v / 1000.0 for k, v in ms.items() if k not in ("planned", "micro")}
        planned = shift.planned_s - ms.get("planned", 0) / 1000.0
        downtime = sum(v for k, v in ms.items() if k not in ("planned", "micro")) / 1000.0
        micro = ms.get("micro", 0) / 1000.0
        run = planned - downtime - (micro if site.processing.microstop_policy == "availability" else 0.0)
        total, rejects = acc["parts"], acc["rejects"]
        a = run / planned if planned > 0 else 0.0
        perf = machine.ideal_cycle_time_s * total / run if run > 0 else 0.0
        q = (total - rejects) / total if total else 1.0
        out.append({"site": site.site.id, "machine": machine_id, "work_center": machine.work_center,
                    "shift_id": shift.shift_id, "shift_start_ms": shift.start_ms, "shift_end_ms": shift.end_ms,
                    "planned_time_s": planned, "run_time_s": run, "downtime_s": downtime, "microstop_s": micro,
                    "total_count": total, "good_count": total - rejects, "reject_count": rejects,
                    "ideal_cycle_time_s": machine.ideal_cycle_time_s, "availability": a, "performance": perf,
                    "quality": q, "oee": a * perf * q, "downtime_by_reason": by_reason})
    return out

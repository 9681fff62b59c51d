"""Ground truth: state intervals per machine and per-shift OEE, computed the way the kernels must compute them."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from andon.shifts import Shift
from andon.simulator.plan import BREAKDOWN, MATERIAL, PLANNED, SETUP, STOPPED, MachinePlan
from andon.states import DOWNTIME_REASON, STATE_NAMES, MachineState

TRUTH_VERSION = 2  # 2: per-operation truth (`operations` per machine)
REASON_STATES = (BREAKDOWN, SETUP, MATERIAL)  # downtime from their first reading: the reason is known


def _overlap(a0: int, a1: int, b0: int, b1: int) -> int:
    return max(0, min(a1, b1) - max(a0, b0))


def intervals(plan: MachinePlan, start_ms: int, end_ms: int, microstop_threshold_s: float) -> list[dict]:
    """Maximal runs of one andon state; the first starts at start_ms and the last ends at end_ms."""
    grid, state = plan.grid, plan.state
    cuts = [0, *(np.flatnonzero(np.diff(state)) + 1).tolist(), grid.n]
    out = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        st = int(state[a])
        t0 = start_ms if a == 0 else grid.ts(a)
        t1 = end_ms if b == grid.n else grid.ts(b)
        downtime = st in REASON_STATES or (st == STOPPED and (t1 - t0) >= microstop_threshold_s * 1000)
        out.append({
            "start_ms": t0,
            "end_ms": t1,
            "state": STATE_NAMES[st],
            "reason": DOWNTIME_REASON.get(MachineState(st)),
            "alarm_code": int(plan.alarm[a]),
            "downtime": downtime,
        })
    return out


def operation_bounds(ivals: list[dict]) -> list[dict]:
    """The machine's operations (work-order runs), as andon must find them: an operation ends where a setup
    begins after the machine ran, and the next one counts from there; it starts (in Odoo's sense) at its first
    running instant after that setup. The first operation counts from the first reading and has no start of its
    own (the order was running when the trace began); the last has no finish."""
    ops = [{"since_ms": ivals[0]["start_ms"] if ivals else 0, "start_ms": None, "finish_ms": None}]
    ran = False
    for iv in ivals:
        if iv["state"] == "setup" and ran:
            ops[-1]["finish_ms"] = iv["start_ms"]
            ops.append({"since_ms": iv["start_ms"], "start_ms": None, "finish_ms": None})
            ran = False
        elif iv["state"] == "running":
            if not ran and len(ops) > 1 and ops[-1]["start_ms"] is None:
                ops[-1]["start_ms"] = iv["start_ms"]
            ran = True
    return ops


def signal_operation_bounds(plan: MachinePlan, ivals: list[dict]) -> list[dict]:
    """The operations of a machine whose readings carry the order (workorder_signal): one per order shown, each
    ending at the first reading that shows the next (a setup's start), the next counting from there. Odoo
    starts each at its first counted part (no state shows the setup), so none has a start of its own."""
    names = plan.workorder_names()
    cuts = [plan.grid.ts(k) for k in plan.changeovers]
    since = [ivals[0]["start_ms"] if ivals else 0, *cuts]
    return [{"since_ms": since[j], "start_ms": None, "finish_ms": cuts[j] if j < len(cuts) else None,
             "work_order": names[j]} for j in range(len(names))]


def operations_of(plan: MachinePlan, ivals: list[dict]) -> list[dict]:
    """The machine's operations as andon must find them: by order signal where the class has one, else by setup."""
    if plan.cls.workorder_signal is not None:
        return signal_operation_bounds(plan, ivals)
    return operation_bounds(ivals)


@dataclass(slots=True)
class MachineTally:
    """Counter increments per shift and per operation and readings seen, filled chunk by chunk."""

    parts: list[int]
    rejects: list[int]
    operations: list[dict] = field(default_factory=list)  # operation_bounds + parts, rejects, first_part_ms
    readings: int = 0
    first_values: tuple[int, int] | None = None
    last_values: tuple[int, int] | None = None
    total_parts: int = 0
    total_rejects: int = 0


@dataclass(slots=True)
class FaultTally:
    counts: dict[str, int] = field(default_factory=dict)
    malformed_by_kind: dict[str, int] = field(default_factory=dict)
    late_readings: list[tuple[str, int]] = field(default_factory=list)
    batched_readings: int = 0


def shift_window(shift: Shift, start_ms: int, end_ms: int) -> tuple[int, int]:
    return max(shift.start_ms, start_ms), min(shift.end_ms, end_ms)


def break_ms(shift: Shift, w0: int, w1: int) -> int:
    return sum(_overlap(s, e, w0, w1) for s, e in shift.breaks_ms)


def shift_summary(shift: Shift, start_ms: int, end_ms: int, ivals: list[dict], parts: int, rejects: int,
                  ideal_cycle_time_s: float, threshold_s: float, policy: str) -> dict:
    """One machine's OEE over one shift clipped to the simulated window."""
    w0, w1 = shift_window(shift, start_ms, end_ms)
    planned_ms = (w1 - w0) - break_ms(shift, w0, w1)
    downtime_ms = microstop_ms = 0
    by_reason: dict[str, int] = {}
    for iv in ivals:
        st = int(MachineState[iv["state"].upper()])
        if st == PLANNED or iv["reason"] is None:
            continue
        a, b = max(iv["start_ms"], w0), min(iv["end_ms"], w1)
        if b <= a:
            continue
        inside = (b - a) - sum(_overlap(s, e, a, b) for s, e in shift.breaks_ms)
        if iv["downtime"]:
            downtime_ms += inside
            by_reason[iv["reason"]] = by_reason.get(iv["reason"], 0) + inside
        elif st == STOPPED:
            microstop_ms += inside
    run_ms = planned_ms - downtime_ms - (microstop_ms if policy == "availability" else 0)
    planned_s, run_s = planned_ms / 1000.0, run_ms / 1000.0
    good = parts - rejects
    availability = run_s / planned_s if planned_s > 0 else 0.0
    performance = ideal_cycle_time_s * parts / run_s if run_s > 0 else 0.0
    quality = good / parts if parts else 1.0
    return {
        "shift_id": shift.shift_id,
        "shift_start_ms": shift.start_ms,
        "shift_end_ms": shift.end_ms,
        "window_start_ms": w0,
        "window_end_ms": w1,
        "complete": w0 == shift.start_ms and w1 == shift.end_ms,
        "planned_s": planned_s,
        "downtime_s": downtime_ms / 1000.0,
        "microstop_s": microstop_ms / 1000.0,
        "run_s": run_s,
        "total_count": parts,
        "reject_count": rejects,
        "good_count": good,
        "ideal_cycle_time_s": ideal_cycle_time_s,
        "availability": availability,
        "performance": performance,
        "quality": quality,
        "oee": availability * performance * quality,
        "downtime_by_reason": {reason: ms / 1000.0 for reason, ms in sorted(by_reason.items())},
    }


def machine_truth(plan: MachinePlan, tally: MachineTally, shifts: list[Shift], *, start_ms: int, end_ms: int,
                  threshold_s: float, policy: str) -> dict:
    grid = plan.grid
    ivals = intervals(plan, start_ms, end_ms, threshold_s)
    ideal = plan.machine.ideal_cycle_time_s
    counter_events = [{"kind": "reset", "reading_ts": grid.ts(r), "seq": r} for r in plan.resets]
    if plan.rollover:
        counter_events.append({"kind": "rollover", "counter": plan.cls.part_counter,
                               "counter_max": plan.cls.counter_max, "start_value": plan.part_base})
    return {
        "machine": plan.machine.id,
        "class": plan.class_name,
        "work_center": plan.machine.work_center,
        "state_source": plan.cls.states.source,
        "phase_ms": grid.t0_ms - start_ms,
        "first_ts": grid.t0_ms,
        "last_ts": grid.ts(grid.n - 1),
        "readings": grid.n,
        "ideal_cycle_time_s": ideal,
        "total_count": tally.total_parts,
        "reject_count": tally.total_rejects,
        "first_counters": list(tally.first_values or (0, 0)),
        "last_counters": list(tally.last_values or (0, 0)),
        "counter_events": counter_events,
        "speed_episodes": [{"start_ms": grid.ts(a), "end_ms": grid.ts(b), "speed": pct / 100.0}
                           for a, b, pct in plan.speed_episodes],
        "quality_episodes": [{"start_ms": grid.ts(a), "end_ms": grid.ts(min(b, grid.n - 1)), "reject_p": p}
                             for a, b, p in plan.quality_episodes],
        "intervals": ivals,
        "operations": [{**op, "good": op["parts"] - op["rejects"]} for op in tally.operations],
        "shifts": [shift_summary(s, start_ms, end_ms, ivals, tally.parts[i], tally.rejects[i], ideal,
                                 threshold_s, policy) for i, s in enumerate(shifts)],
    }


def calendar_truth(shifts: list[Shift], start_ms: int, end_ms: int) -> list[dict]:
    out = []
    for s in shifts:
        w0, w1 = shift_window(s, start_ms, end_ms)
        out.append({"shift_id": s.shift_id, "shift_start_ms": s.start_ms, "shift_end_ms": s.end_ms,
                    "window_start_ms": w0, "window_end_ms": w1, "complete": w0 == s.start_ms and w1 == s.end_ms,
                    "breaks": [[b0, b1] for b0, b1 in s.breaks_ms],
                    "planned_s": ((w1 - w0) - break_ms(s, w0, w1)) / 1000.0})
    return out


def expected_downtimes(per_machine: dict[str, dict]) -> list[dict]:
    out = []
    for machine, mt in per_machine.items():
        for iv in mt["intervals"]:
            if iv["downtime"]:
                out.append({"machine": machine, "reason": iv["reason"], "state": iv["state"],
                            "alarm_code": iv["alarm_code"], "start_ms": iv["start_ms"], "end_ms": iv["end_ms"]})
    out.sort(key=lambda d: (d["start_ms"], d["machine"]))
    return out

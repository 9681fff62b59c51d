"""OEE as docs/architecture.md defines it (Nakajima/Vorne), and the shift_oee row built from a closed shift slot.

Example (Vorne's worked example)::

    oee(planned_s=420 * 60, downtime_s=47 * 60, total=19271, rejects=423, ideal_cycle_s=1.0)
    # OeeFigures(availability=0.888, performance=0.861, quality=0.978, oee=0.748, run_time_s=22380.0)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from andon.operators.kernels import layout as L
from andon.shifts import Shift
from andon.states import DOWNTIME_REASON, MachineState


@dataclass(frozen=True, slots=True)
class OeeFigures:
    availability: float
    performance: float
    quality: float
    oee: float
    run_time_s: float


def oee(planned_s: float, downtime_s: float, total: int, rejects: int, ideal_cycle_s: float) -> OeeFigures:
    """Availability = run / planned, performance = ideal cycle x total / run, quality = good / total.

    Run time = planned - downtime. A ratio whose denominator is zero is 0, except quality without parts, which is
    1 (nothing was made badly). Performance is not capped at 1: above 1 means the ideal cycle time is too slow.
    """
    run_s = planned_s - downtime_s
    availability = run_s / planned_s if planned_s > 0 else 0.0
    performance = ideal_cycle_s * total / run_s if run_s > 0 else 0.0
    quality = (total - rejects) / total if total > 0 else 1.0
    return OeeFigures(availability, performance, quality, availability * performance * quality, run_s)


def shift_row(slot: np.ndarray, shift: Shift, *, site: str, machine: str, work_center: str,
              ideal_cycle_time_s: float, microstop_policy: str) -> dict:
    """A shift_oee row from a closed slot (layout.SH_* columns, durations in ms).

    planned time = shift - breaks - planned-stop states outside breaks; downtime = unplanned stops in planned
    time; micro-stops count as run time under policy "performance" (Nakajima) and as downtime under
    "availability" (ISO 22400); `downtime_s` always excludes them (they are reported in `microstop_s`).
    """
    by_reason = {}
    downtime_ms = 0
    for state, reason in DOWNTIME_REASON.items():
        ms = int(slot[L.SH_DT + int(state)])
        if ms:
            by_reason[reason] = ms / 1000.0
            downtime_ms += ms
    micro_ms = int(slot[L.SH_MICRO])
    planned_s = float(shift.planned_s - int(slot[L.SH_PSTOP]) / 1000.0)
    loss_s = (downtime_ms + (micro_ms if microstop_policy == "availability" else 0)) / 1000.0
    total, rejects = int(slot[L.SH_TOTAL]), int(slot[L.SH_REJ])
    fig = oee(planned_s, loss_s, total, rejects, ideal_cycle_time_s)
    return {
        "site": site, "machine": machine, "work_center": work_center, "shift_id": shift.shift_id,
        "shift_start_ms": shift.start_ms, "shift_end_ms": shift.end_ms, "planned_time_s": planned_s,
        "run_time_s": fig.run_time_s, "downtime_s": downtime_ms / 1000.0, "microstop_s": micro_ms / 1000.0,
        "total_count": total, "good_count": total - rejects, "reject_count": rejects,
        "ideal_cycle_time_s": ideal_cycle_time_s, "availability": fig.availability,
        "performance": fig.performance, "quality": fig.quality, "oee": fig.oee, "downtime_by_reason": by_reason,
    }


STATE_NAME = {int(s): s.name.lower() for s in MachineState}

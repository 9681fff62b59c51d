"""Machine state categories shared by the site config, the kernels, the simulator and the events.

Codes are small integers so kernels can work on int8 arrays. The mapping from a gateway's own codes (for example
UMH's 10000 = producing at full speed) to these categories lives in the site config.
"""

from __future__ import annotations

import enum


class MachineState(enum.IntEnum):
    UNKNOWN = 0
    RUNNING = 1  # producing (at any speed: speed loss is a performance loss, not a stop)
    STOPPED = 2  # unspecified stop: a micro-stop while short, downtime once it outlasts the threshold
    BREAKDOWN = 3  # equipment failure (availability loss)
    SETUP = 4  # setup and adjustments, changeover (availability loss)
    MATERIAL = 5  # waiting for material (availability loss)
    PLANNED_STOP = 6  # break, planned maintenance, no order: excluded from planned production time
    OFFLINE = 7  # no reading for longer than the offline timeout


#: Downtime reason per stop state, named as Odoo's seeded `mrp.workcenter.productivity.loss` records.
DOWNTIME_REASON: dict[MachineState, str] = {
    MachineState.STOPPED: "Unspecified Stop",
    MachineState.BREAKDOWN: "Equipment Failure",
    MachineState.SETUP: "Setup and Adjustments",
    MachineState.MATERIAL: "Material Availability",
    MachineState.OFFLINE: "Machine Offline",
}

#: States that count as downtime (unplanned stops) when they last at least the micro-stop threshold;
#: BREAKDOWN, SETUP and MATERIAL are downtime from their first reading since their reason is known.
STOP_STATES = frozenset(DOWNTIME_REASON)

STATE_NAMES = {s.value: s.name.lower() for s in MachineState}


def parse_state(name: str) -> MachineState:
    """Return the category called `name` (case-insensitive), e.g. ``parse_state("running")``."""
    try:
        return MachineState[name.strip().upper()]
    except KeyError:
        known = ", ".join(s.name.lower() for s in MachineState)
        raise ValueError(f"unknown machine state {name!r}; use one of: {known}") from None

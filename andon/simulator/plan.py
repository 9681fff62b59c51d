"""Per-machine plan: the reading grid and the state schedule (breaks, stops, reduced speed, counter events).

A plan is drawn once per machine from the seed and never depends on how the readings are later chunked,
encoded or faulted, so the ground truth and the trace always agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from andon.config import Machine, MachineClass
from andon.errors import SimulationError
from andon.shifts import Shift
from andon.states import MachineState

RUNNING = int(MachineState.RUNNING)
STOPPED = int(MachineState.STOPPED)
BREAKDOWN = int(MachineState.BREAKDOWN)
SETUP = int(MachineState.SETUP)
MATERIAL = int(MachineState.MATERIAL)
PLANNED = int(MachineState.PLANNED_STOP)


@dataclass(frozen=True, slots=True)
class StopKind:
    name: str
    state: int
    weight: float
    min_s: float
    max_s: float


#: Unplanned stops drawn between breaks and shift changes. Micro-stops stay under the 120 s threshold,
#: every other kind lasts well over it, so no stop is ambiguous.
STOP_KINDS: tuple[StopKind, ...] = (
    StopKind("micro", STOPPED, 0.50, 10.0, 90.0),
    StopKind("stopped", STOPPED, 0.12, 180.0, 900.0),
    StopKind("breakdown", BREAKDOWN, 0.10, 300.0, 2400.0),
    StopKind("setup", SETUP, 0.15, 600.0, 1800.0),
    StopKind("material", MATERIAL, 0.13, 180.0, 1200.0),
)
MEAN_RUN_S = 1500.0  # mean running time between two stops (exponential)
MIN_RUN_S = 60.0  # running time kept before and after every stop, break, shift change and the window edges
MIN_STATE_S = 10.0  # no state lasts less than this
REDUCED_SPEED_P = 0.3  # chance that a running stretch between stops has a reduced-speed episode
RESET_P = 0.03  # chance that a long stop (breakdown or unspecified) ends in a power cycle (counter reset)
#: reasons a simulated reject_reason_signal shows (andon simulate --reject-reasons)
DEFAULT_REJECT_REASONS = ("dimension", "surface", "material")
QUALITY_EPISODE_P = 0.15  # chance that a machine has a period of high reject rate
GENERIC_ALARMS = (4, 8, 12, 42, 57)


@dataclass(frozen=True, slots=True)
class SignalProfile:
    """Nominal analog values of a machine class: spindle speed and power, running and idle, with noise."""

    rpm: float
    rpm_noise: float
    idle_rpm_noise: float
    power_run: float
    power_idle: float


_CLASS_DEFAULTS = {"press": (1200.0, 7.5, 1.2), "cnc": (6000.0, 11.0, 1.5), "molding": (180.0, 18.0, 4.0)}


def signal_profile(name: str, cls: MachineClass) -> SignalProfile:
    """Analog signal levels for class `name`; for inferred state they keep clear of the hysteresis band."""
    rpm, power_run, power_idle = _CLASS_DEFAULTS.get(name, (1000.0, 5.0, 1.0))
    rules = cls.states
    if rules.source == "inferred":
        upper = rules.run_above + rules.hysteresis
        lower = rules.run_above - rules.hysteresis
        rpm = max(rpm, 2.0 * upper / 0.7)  # reduced speed (>= 70 %) minus noise stays far above the band
        rpm_noise = min(0.004 * rpm, max(rules.hysteresis, 1.0) / 8.0)
        idle = min(2.0, max(lower, 0.0) / 10.0)
        return SignalProfile(rpm, rpm_noise, idle, power_run, power_idle)
    return SignalProfile(rpm, 0.004 * rpm, 2.0, power_run, power_idle)


@dataclass(frozen=True, slots=True)
class Grid:
    """Reading instants of one machine: t0_ms + k * period_ms for k in [0, n)."""

    t0_ms: int
    period_ms: int
    n: int

    def ts(self, k: int) -> int:
        return self.t0_ms + k * self.period_ms

    def first_at_or_after(self, t_ms: int) -> int:
        """Index of the first reading at or after t_ms, clipped to [0, n]."""
        k = -((self.t0_ms - t_ms) // self.period_ms)  # ceil((t_ms - t0) / period)
        return min(max(k, 0), self.n)

    def readings(self, seconds: float) -> int:
        return max(1, math.ceil(seconds * 1000.0 / self.period_ms))


@dataclass(slots=True)
class Stop:
    start: int  # first reading index in the stop
    end: int  # first reading index after it
    state: int
    kind: str
    alarm: int = 0


@dataclass(slots=True)
class MachinePlan:
    """Everything drawn for one machine before any reading is produced."""

    index: int
    machine: Machine
    class_name: str
    cls: MachineClass
    profile: SignalProfile
    grid: Grid
    state: np.ndarray  # int8 per reading
    speed_pct: np.ndarray  # int16 per reading: 100 or 70..95 while running, 0 otherwise
    alarm: np.ndarray  # int32 per reading
    reject_p: np.ndarray  # float32 per reading: probability that a part first shown there is a reject
    stops: list[Stop]
    speed_episodes: list[tuple[int, int, int]]  # (start index, end index, percent)
    quality_episodes: list[tuple[int, int, float]]  # (start index, end index, reject probability)
    resets: list[int] = field(default_factory=list)  # reading indices whose counters read 0 after a power cycle
    part_base: int = 0
    reject_base: int = 0
    initial_progress: int = 0
    rollover: bool = False
    #: with a workorder_signal: the order names shown, one per operation (the first from the first reading)
    workorders: list[str] = field(default_factory=list)
    #: with a reject_reason_signal: the reasons its rejects show, the first the most frequent
    reject_reasons: list[str] = field(default_factory=lambda: list(DEFAULT_REJECT_REASONS))

    def reason_weights(self) -> np.ndarray:
        """How often each reject reason occurs: 1/(j + 1), normalized (the first about half with three)."""
        w = 1.0 / np.arange(1, len(self.reject_reasons) + 1)
        return w / w.sum()

    @property
    def changeovers(self) -> list[int]:
        """Reading indices that first show the next order (the start of each setup), with a workorder_signal."""
        if self.cls.workorder_signal is None:
            return []
        return [stop.start for stop in self.stops if stop.kind == "setup"]

    def workorder_names(self) -> list[str]:
        """The order of every operation: the given names, then `<machine>/run-<n>` (unknown to any ERP)."""
        n = len(self.changeovers) + 1
        return [self.workorders[j] if j < len(self.workorders) else f"{self.machine.id}/run-{j + 1}"
                for j in range(n)]

    @property
    def counter_modulus(self) -> int:
        return self.cls.counter_max + 1

    @property
    def cycle_unit(self) -> int:
        """Progress units per part: percent speed x milliseconds of ideal cycle time."""
        return 100 * max(1, round(self.machine.ideal_cycle_time_s * 1000))

    def total_progress(self) -> int:
        """Progress gained over the whole run (reading k gains period x speed of reading k - 1)."""
        return int(self.grid.period_ms * int(self.speed_pct[:-1].sum(dtype=np.int64)))


def representable_states(cls: MachineClass) -> set[int]:
    """The andon states a machine of this class can show in its readings."""
    rules = cls.states
    if rules.source == "code":
        return {int(s) for s in rules.code_table().values()}
    states = {RUNNING, STOPPED}
    if rules.alarm_signal in cls.signals:
        states.add(BREAKDOWN)
    return states


def _segments(bounds: list[int], state: np.ndarray) -> list[tuple[int, int]]:
    out = []
    for a, b in zip(bounds, bounds[1:], strict=False):
        if b > a and state[a] != PLANNED:
            out.append((a, b))
    return out


def build_plan(index: int, machine: Machine, class_name: str, cls: MachineClass, *, start_ms: int,
               end_ms: int, period_ms: int, shifts: list[Shift], rng: np.random.Generator,
               noise_only: bool, stagger: bool = False) -> MachinePlan:
    """Draw the state schedule of one machine over [start_ms, end_ms).

    Readings start at start_ms, or with `stagger` a few milliseconds later per machine ((index x 37) mod period).
    """
    phase = (index * 37) % period_ms if stagger else 0
    t0 = start_ms + phase
    n = max(0, -((t0 - end_ms) // period_ms))
    if n < 2:
        raise SimulationError(
            f"the run is too short for machine {machine.id}: {end_ms - start_ms} ms at a {period_ms} ms period",
            hint="give --hours a longer duration or a shorter --period-ms",
        )
    grid = Grid(t0, period_ms, n)
    state = np.full(n, RUNNING, dtype=np.int8)
    speed = np.full(n, 100, dtype=np.int16)
    alarm = np.zeros(n, dtype=np.int32)
    bounds = {0, n}
    for shift in shifts:
        bounds.update((grid.first_at_or_after(shift.start_ms), grid.first_at_or_after(shift.end_ms)))
        for bs, be in shift.breaks_ms:
            a, b = grid.first_at_or_after(bs), grid.first_at_or_after(be)
            if b > a:
                state[a:b] = PLANNED
                bounds.update((a, b))
    base_p = float(rng.uniform(0.005, 0.04))
    reject_p = np.full(n, base_p, dtype=np.float64)
    plan = MachinePlan(index, machine, class_name, cls, SignalProfile(0, 0, 0, 0, 0), grid, state, speed, alarm,
                       reject_p, [], [], [])
    plan.profile = signal_profile(class_name, cls)
    plan.part_base = int(rng.integers(10_000, 5_000_000))
    plan.reject_base = int(plan.part_base * rng.uniform(0.005, 0.03))
    plan.initial_progress = int(rng.integers(0, plan.cycle_unit))
    if noise_only:
        speed[state != RUNNING] = 0
        return plan

    allowed = representable_states(cls)
    if RUNNING not in allowed:
        raise SimulationError(f"machine class {class_name!r} has no state code for 'running'",
                              hint="map a code to running under [machine_classes.<class>.states] codes")
    weights = np.array([k.weight for k in STOP_KINDS])
    weights /= weights.sum()
    margin = grid.readings(MIN_RUN_S)
    min_state = grid.readings(MIN_STATE_S)
    maint = list(cls.rules.maintenance_alarm_codes)
    generic = [a for a in GENERIC_ALARMS if a not in maint]
    for a, b in _segments(sorted(bounds), state):
        cursor = a + margin
        while True:
            gap = max(margin, round(rng.exponential(MEAN_RUN_S) * 1000.0 / period_ms))
            kind = STOP_KINDS[int(rng.choice(len(STOP_KINDS), p=weights))]
            duration = max(min_state, round(rng.uniform(kind.min_s, kind.max_s) * 1000.0 / period_ms))
            reduced = rng.random() < REDUCED_SPEED_P
            s, e = cursor + gap, cursor + gap + duration
            if e + margin > b:
                break
            if reduced:
                length = min(gap - 2, max(min_state, round(rng.uniform(120.0, 1200.0) * 1000.0 / period_ms)))
                if length > 0:
                    first = cursor + int(rng.integers(1, gap - length + 1))
                    pct = int(rng.integers(70, 96))
                    speed[first:first + length] = pct
                    plan.speed_episodes.append((first, first + length, pct))
            st = kind.state if kind.state in allowed else STOPPED
            if st not in allowed:
                cursor = e
                continue
            code = 0
            if st == BREAKDOWN:
                pool = maint if (maint and rng.random() < 0.5) else generic
                code = int(pool[int(rng.integers(len(pool)))])
            # a setup the readings cannot show (no state code) is still a changeover a workorder_signal shows
            changeover = kind.state == SETUP and cls.workorder_signal is not None
            name = kind.name if st == kind.state or changeover else "stopped"
            plan.stops.append(Stop(s, e, st, name, code))
            state[s:e] = st
            alarm[s:e] = code
            cursor = e
    speed[state != RUNNING] = 0
    for stop in plan.stops:
        if stop.state in (BREAKDOWN, STOPPED) and stop.end - stop.start >= grid.readings(60.0):
            if rng.random() < RESET_P:
                plan.resets.append(stop.start + (stop.end - stop.start) // 2)
    if rng.random() < QUALITY_EPISODE_P:
        length = min(n // 2, grid.readings(float(rng.uniform(1200.0, 3600.0))))
        first = int(rng.integers(0, n - length + 1))
        p = float(rng.uniform(0.12, 0.2))
        reject_p[first:first + length] = p
        plan.quality_episodes.append((first, first + length, p))
    return plan


def force_reset(plan: MachinePlan) -> bool:
    """Give `plan` a counter reset in its first long stop; False when it has none."""
    for stop in plan.stops:
        if stop.state in (BREAKDOWN, STOPPED) and stop.end - stop.start >= plan.grid.readings(60.0):
            plan.resets.append(stop.start + (stop.end - stop.start) // 2)
            plan.resets.sort()
            return True
    return False


def make_rollover(plan: MachinePlan) -> None:
    """Start the part counter close enough to counter_max that it wraps around half way through the run."""
    parts = (plan.initial_progress + plan.total_progress()) // plan.cycle_unit
    plan.part_base = plan.counter_modulus - max(1, parts // 2)
    plan.rollover = True
    plan.resets.clear()

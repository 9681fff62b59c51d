"""The plant simulation: N machines of a site, their readings in time order, and the ground truth.

Example::

    sim = Simulation(load_site(example_site_path()), machines=20, hours=8.0, seed=7)
    for key, value, emit_ms in sim.messages():   # exactly the Kafka messages / JSONL lines
        ...
    truth = sim.truth()                          # ground truth as a JSON-ready dict
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path

import numpy as np

from andon.config import SiteConfig
from andon.errors import SimulationError
from andon.shifts import ShiftSchedule
from andon.simulator.faults import FAULT_KINDS, apply_faults, max_batch, plan_faults
from andon.simulator.machine import MachineStream
from andon.simulator.plan import MachinePlan, build_plan, force_reset, make_rollover
from andon.simulator.truth import (
    TRUTH_VERSION,
    FaultTally,
    MachineTally,
    calendar_truth,
    expected_downtimes,
    intervals,
    machine_truth,
    operations_of,
    shift_window,
)

#: Default start: Monday 2026-03-02 06:00 Europe/Berlin, the start of the early shift. Never the wall clock.
DEFAULT_START = "2026-03-02T06:00:00+01:00"
DEFAULT_START_MS = int(datetime.fromisoformat(DEFAULT_START).timestamp() * 1000)
CHUNK_MS = 3_600_000  # readings are produced an hour of simulated time at a time

Message = tuple[bytes, bytes, int]


class Simulation:
    """A deterministic simulation of the first `machines` machines of `site` over `hours` from `start_ms`."""

    def __init__(self, site: SiteConfig, machines: int | None = None, hours: float = 8.0, seed: int = 0,
                 start_ms: int = DEFAULT_START_MS, period_ms: int = 1000, faults: frozenset[str] = frozenset(),
                 noise_only: bool = False, rollover: bool = False, stagger: bool = False,
                 workorders: dict[str, list[str]] | None = None,
                 reject_reasons: Sequence[str] | None = None) -> None:
        available = len(site.machines)
        machines = available if machines is None else machines
        if machines < 1:
            raise SimulationError(f"--machines must be at least 1, got {machines}", hint="pass --machines N >= 1")
        if machines > available:
            raise SimulationError(
                f"site {site.site.id!r} has {available} machines, {machines} were asked for",
                hint=f"pass --machines {available} or fewer, or add [[machines]] to the site config",
            )
        if not (hours > 0 and np.isfinite(hours)):
            raise SimulationError(f"--hours must be a positive number, got {hours}", hint="e.g. --hours 8")
        if not 1 <= period_ms <= 10_000:
            raise SimulationError(f"--period-ms must be between 1 and 10000, got {period_ms}",
                                  hint="states last at least 10 s, so readings must come at least every 10 s")
        if seed < 0:
            raise SimulationError(f"--seed must be a non-negative integer, got {seed}", hint="e.g. --seed 7")
        unknown = sorted(set(faults) - set(FAULT_KINDS))
        if unknown:
            raise SimulationError(f"unknown fault kind(s): {', '.join(unknown)}",
                                  hint=f"use {', '.join(FAULT_KINDS)}")
        self.site = site
        self.seed = int(seed)
        self.hours = float(hours)
        self.start_ms = int(start_ms)
        self.end_ms = self.start_ms + round(hours * 3_600_000)
        self.period_ms = int(period_ms)
        self.faults = frozenset(faults)
        self.noise_only = noise_only
        self.stagger = stagger
        self.threshold_s = site.processing.microstop_threshold_s
        self.policy = site.processing.microstop_policy
        self.batch_limit = max_batch(self.period_ms, site.processing.allowed_lateness_s)
        self.shifts = ShiftSchedule.from_site(site).shifts_between(self.start_ms, self.end_ms)
        self.plans: list[MachinePlan] = []
        for i, machine in enumerate(site.machines[:machines]):
            rng = np.random.default_rng([self.seed, 1, i])
            self.plans.append(build_plan(i, machine, machine.machine_class, site.machine_classes[machine.machine_class],
                                         start_ms=self.start_ms, end_ms=self.end_ms, period_ms=self.period_ms,
                                         shifts=self.shifts, rng=rng, noise_only=noise_only, stagger=stagger))
        for plan in self.plans:  # the order names a workorder_signal shows, per machine (e.g. read from the ERP)
            plan.workorders = list((workorders or {}).get(plan.machine.id, []))
            if reject_reasons is not None:  # the reasons a reject_reason_signal shows
                plan.reject_reasons = list(reject_reasons)
        master = np.random.default_rng([self.seed, 0])
        if rollover:
            for plan in self.plans:
                make_rollover(plan)
        elif not noise_only:
            make_rollover(self.plans[int(master.integers(len(self.plans)))])
            if not any(p.resets for p in self.plans):
                any(force_reset(p) for p in self.plans if not p.rollover)
        self.chunk_readings = max(1, CHUNK_MS // self.period_ms)
        self._truth: dict | None = None

    @property
    def machine_ids(self) -> list[str]:
        return [p.machine.id for p in self.plans]

    @property
    def n_chunks(self) -> int:
        longest = max(p.grid.n for p in self.plans)
        return -(-longest // self.chunk_readings)

    def messages(self) -> Iterator[Message]:
        """Every message `(key, value, emit_ms)` in emission order; streams an hour of readings at a time."""
        for item in self._run(encode=True):
            yield item[4], item[5], item[0]

    def truth(self) -> dict:
        """The ground truth (computed without encoding when messages() has not been run to the end)."""
        if self._truth is None:
            for _ in self._run(encode=False):
                pass
        assert self._truth is not None
        return self._truth

    def write_jsonl(self, path: str | Path, *, speed: float = 0.0, progress: bool = False) -> dict:
        """Write the trace to `path` (one message per line) and the truth beside it; returns the truth."""
        from andon.simulator.output import JsonlSink, Progress, run, truth_path_for, write_truth

        truth = run(self, [JsonlSink(path, flush_each=speed > 0)], speed=speed,
                    progress=Progress(self) if progress else None)
        write_truth(truth, truth_path_for(path))
        return truth

    def _run(self, encode: bool) -> Iterator[tuple]:
        streams = [MachineStream(p, self.site.site.id, self.seed) for p in self.plans]
        windows = [shift_window(s, self.start_ms, self.end_ms) for s in self.shifts]
        tallies = [MachineTally([0] * len(windows), [0] * len(windows),
                                [{**op, "parts": 0, "rejects": 0, "first_part_ms": None, **reason_tally(p)} for op in operations_of(
                                    p, intervals(p, self.start_ms, self.end_ms, self.threshold_s))])
                   for p in self.plans]
        faults = FaultTally(counts=dict.fromkeys(FAULT_KINDS, 0),
                            malformed_by_kind={})
        lines_out = 0
        pending: list[tuple] = []
        size = self.chunk_readings
        for c in range(self.n_chunks):
            k0 = c * size
            for stream, tally in zip(streams, tallies, strict=True):
                plan = stream.plan
                if k0 >= plan.grid.n:
                    continue
                k1 = min(k0 + size, plan.grid.n)
                chunk = stream.chunk(c, k0, k1)
                _tally(tally, chunk.ts, chunk.parts, chunk.rejects, windows, chunk.reasons, plan.reject_reasons)
                ops = plan_faults(np.random.default_rng([self.seed, 4, plan.index, c]), self.faults, k1 - k0,
                                  self.period_ms, self.batch_limit)
                _tally_faults(faults, ops, plan.machine.id, chunk.ts)
                if encode:
                    lines = stream.encode(chunk)
                    ts = chunk.ts.tolist()
                    if ops:
                        pending.extend(apply_faults(ops, lines, ts, plan.index, k0, stream.key, plan.machine.id))
                    else:
                        index, key = plan.index, stream.key
                        pending.extend(zip(ts, [index] * len(ts), range(k0, k1), [0] * len(ts), [key] * len(ts),
                                           lines, strict=True))
            if encode:
                pending.sort()
                horizon = (self.start_ms + (k0 + size) * self.period_ms,)
                cut = bisect.bisect_left(pending, horizon)
                lines_out += cut
                yield from pending[:cut]
                del pending[:cut]
        lines_out += len(pending)
        yield from pending
        for stream, tally in zip(streams, tallies, strict=True):
            tally.first_values, tally.last_values = stream.first_values, stream.last_values
        self._truth = self._build_truth(tallies, faults, lines_out if encode else None)

    def _build_truth(self, tallies: list[MachineTally], faults: FaultTally, lines: int | None) -> dict:
        per_machine = {
            plan.machine.id: machine_truth(plan, tally, self.shifts, start_ms=self.start_ms, end_ms=self.end_ms,
                                           threshold_s=self.threshold_s, policy=self.policy)
            for plan, tally in zip(self.plans, tallies, strict=True)
        }
        readings = sum(p.grid.n for p in self.plans)
        counts = faults.counts
        if lines is None:  # the same number the encoding pass counts
            lines = (readings + counts["duplicates"] + counts["malformed"]
                     - faults.batched_readings + counts["batched"])
        return {
            "version": TRUTH_VERSION,
            "site": self.site.site.id,
            "timezone": self.site.site.timezone,
            "seed": self.seed,
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "hours": self.hours,
            "period_ms": self.period_ms,
            "noise_only": self.noise_only,
            "stagger": self.stagger,
            "microstop_threshold_s": self.threshold_s,
            "microstop_policy": self.policy,
            "allowed_lateness_s": self.site.processing.allowed_lateness_s,
            "machines": self.machine_ids,
            "readings": readings,
            "lines": lines,
            "faults_enabled": sorted(self.faults),
            "faults": dict(counts),
            "malformed_by_kind": dict(sorted(faults.malformed_by_kind.items())),
            "batched_readings": faults.batched_readings,
            "late_readings": [[m, ts] for m, ts in faults.late_readings],
            "calendar": calendar_truth(self.shifts, self.start_ms, self.end_ms),
            "expected_downtimes": expected_downtimes(per_machine),
            "per_machine": per_machine,
        }


def reason_tally(plan) -> dict:
    """An operation's truth starts with no rejects per reason, where the class shows reasons."""
    return {"rejects_by_reason": {}} if plan.cls.reject_reason_signal is not None else {}


def _tally(tally: MachineTally, ts: np.ndarray, parts: np.ndarray, rejects: np.ndarray,
           windows: list[tuple[int, int]], reasons: np.ndarray | None = None,
           reason_names: Sequence[str] = ()) -> None:
    tally.readings += len(ts)
    tally.total_parts += int(parts.sum())
    tally.total_rejects += int(rejects.sum())
    part_cum = np.concatenate(([0], np.cumsum(parts)))
    reject_cum = np.concatenate(([0], np.cumsum(rejects)))
    for i, (w0, w1) in enumerate(windows):
        a, b = np.searchsorted(ts, [w0, w1], side="left")
        tally.parts[i] += int(part_cum[b] - part_cum[a])
        tally.rejects[i] += int(reject_cum[b] - reject_cum[a])
    for op in tally.operations:  # a reading shows the parts made up to it: (since, finish] is the operation's
        a, b = np.searchsorted(ts, [op["since_ms"], op["finish_ms"] if op["finish_ms"] is not None else 2**62],
                               side="right")
        if b <= a:
            continue
        op["parts"] += int(part_cum[b] - part_cum[a])
        op["rejects"] += int(reject_cum[b] - reject_cum[a])
        if reasons is not None and "rejects_by_reason" in op:  # a reading's rejects are of the reason it shows
            got = np.bincount(reasons[a:b][rejects[a:b] > 0], weights=rejects[a:b][rejects[a:b] > 0],
                              minlength=len(reason_names))
            for j in np.flatnonzero(got).tolist():
                name = reason_names[j]
                op["rejects_by_reason"][name] = op["rejects_by_reason"].get(name, 0) + int(got[j])
        if op["first_part_ms"] is None:
            made = np.flatnonzero(parts[a:b])
            if made.size:
                op["first_part_ms"] = int(ts[a + made[0]])


def _tally_faults(faults: FaultTally, ops: list, machine: str, ts: np.ndarray) -> None:
    for op in ops:
        faults.counts[op.kind] += 1
        if op.kind == "malformed":
            faults.malformed_by_kind[op.variant] = faults.malformed_by_kind.get(op.variant, 0) + 1
        elif op.kind == "batched":
            faults.batched_readings += op.arg
        elif op.kind == "late":
            faults.late_readings.append((machine, int(ts[op.j])))


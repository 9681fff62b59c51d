"""Readings of one machine, a chunk at a time: counters from cycle progress, noisy analog signals, JSON lines."""

from __future__ import annotations

from dataclasses import dataclass

import msgspec
import numpy as np

from andon.simulator.plan import BREAKDOWN, PLANNED, RUNNING, STOPPED, MachinePlan


class WireReading(msgspec.Struct):
    """A reading in the contract's field order (site, machine, ts, seq, signals)."""

    site: str
    machine: str
    ts: int
    seq: int
    signals: dict[str, int | float | str]


_encoder = msgspec.json.Encoder()


def encode_wire(reading: WireReading) -> bytes:
    return _encoder.encode(reading)


@dataclass(slots=True)
class Chunk:
    """Readings [k0, k1) of one machine as columns, plus the counter increments the truth is built from."""

    k0: int
    k1: int
    ts: np.ndarray  # int64
    parts: np.ndarray  # int64: parts first shown by each reading (0 for the machine's first reading)
    rejects: np.ndarray  # int64: of those, rejects
    signals: dict[str, np.ndarray]
    #: with a reject_reason_signal: per reading, the index in plan.reject_reasons of the reason it shows (the
    #: reason of its own rejects; -1 before any reject), else None
    reasons: np.ndarray | None = None


def _code_table(plan: MachinePlan) -> tuple[dict[int, int], int]:
    """State -> gateway code (smallest code per state), and the code for running at reduced speed."""
    by_state: dict[int, list[int]] = {}
    for code, st in sorted(plan.cls.states.code_table().items()):
        by_state.setdefault(int(st), []).append(code)
    codes = {st: c[0] for st, c in by_state.items()}
    running = by_state.get(RUNNING, [0])
    reduced = running[1] if len(running) > 1 else running[0]
    if PLANNED not in codes and STOPPED in codes:
        codes[PLANNED] = codes[STOPPED]  # kernels reclassify a stop inside a calendar break as planned
    return codes, reduced


class MachineStream:
    """Produces one machine's readings chunk by chunk; chunks must be asked for in order."""

    def __init__(self, plan: MachinePlan, site_id: str, seed: int) -> None:
        self.plan = plan
        self.site_id = site_id
        self.seed = seed
        self.key = plan.machine.id.encode()
        self.progress = plan.initial_progress
        self.parts_cum = plan.initial_progress // plan.cycle_unit
        self.rejects_cum = 0
        self.part_offset = plan.part_base
        self.reject_offset = plan.reject_base
        self.first_values: tuple[int, int] | None = None
        self.last_values: tuple[int, int] | None = None
        self.reason = -1  # the reject reason shown last (sticky, as a PLC's reason register)
        rules = plan.cls.states
        self.code_signal = rules.code_signal if rules.source == "code" else None
        self.codes, self.reduced_code = _code_table(plan) if rules.source == "code" else ({}, 0)
        self.rpm_signal = rules.run_signal if rules.source == "inferred" else "spindle_rpm"
        self.alarm_signal = rules.alarm_signal

    def chunk(self, chunk_index: int, k0: int, k1: int) -> Chunk:
        plan, grid = self.plan, self.plan.grid
        k = np.arange(k0, k1, dtype=np.int64)
        ts = grid.t0_ms + k * grid.period_ms
        state = plan.state[k0:k1]
        # Cycle progress: reading k gains period x speed of reading k-1 (the state holds between readings).
        prev_speed = plan.speed_pct[max(k0 - 1, 0):k1 - 1].astype(np.int64)
        gain = np.zeros(k1 - k0, dtype=np.int64)
        if k0 == 0:
            gain[1:] = prev_speed * grid.period_ms
        else:
            gain[:] = prev_speed * grid.period_ms
        progress = self.progress + np.cumsum(gain)
        parts_cum = progress // plan.cycle_unit
        parts = np.diff(parts_cum, prepend=self.parts_cum)
        rng = np.random.default_rng([self.seed, 3, plan.index, chunk_index])
        n_parts = int(parts.sum())
        owner = np.repeat(np.arange(k1 - k0), parts)
        flags = rng.random(n_parts) < plan.reject_p[k0:k1][owner]
        rejects = np.bincount(owner[flags], minlength=k1 - k0).astype(np.int64)
        rejects_cum = self.rejects_cum + np.cumsum(rejects)

        part_offset = np.full(k1 - k0, self.part_offset, dtype=np.int64)
        reject_offset = np.full(k1 - k0, self.reject_offset, dtype=np.int64)
        for r in plan.resets:
            if k0 <= r < k1:
                part_offset[r - k0:] = -int(parts_cum[r - k0])
                reject_offset[r - k0:] = -int(rejects_cum[r - k0])
                self.part_offset, self.reject_offset = part_offset[-1], reject_offset[-1]
        modulus = plan.counter_modulus
        part_value = (part_offset + parts_cum) % modulus
        reject_value = (reject_offset + rejects_cum) % modulus

        self.progress = int(progress[-1])
        self.parts_cum = int(parts_cum[-1])
        self.rejects_cum = int(rejects_cum[-1])
        if self.first_values is None:
            self.first_values = (int(part_value[0]), int(reject_value[0]))
        self.last_values = (int(part_value[-1]), int(reject_value[-1]))
        signals = self._signals(chunk_index, k0, k1, state, part_value, reject_value)
        reasons = None
        if plan.cls.reject_reason_signal is not None and plan.reject_reasons:
            # a reading with rejects shows their reason (drawn by weight, after every other draw of this rng so
            # the rest of the trace is the same with or without the signal); the others keep the last one shown
            drawn = rng.choice(len(plan.reject_reasons), size=k1 - k0, p=plan.reason_weights())
            at = np.where(rejects > 0, np.arange(k1 - k0), -1)
            np.maximum.accumulate(at, out=at)
            reasons = np.where(at >= 0, drawn[np.maximum(at, 0)], self.reason).astype(np.int64)
            self.reason = int(reasons[-1])
            names = np.array([*plan.reject_reasons, ""], dtype=object)  # "" (-1): no reason shown yet
            signals[plan.cls.reject_reason_signal] = names[reasons]
        return Chunk(k0, k1, ts, parts, rejects, signals, reasons)

    def _signals(self, chunk_index: int, k0: int, k1: int, state: np.ndarray, part_value: np.ndarray,
                 reject_value: np.ndarray) -> dict[str, np.ndarray]:
        plan, prof = self.plan, self.plan.profile
        rng = np.random.default_rng([self.seed, 2, plan.index, chunk_index])
        size = k1 - k0
        running = state == RUNNING
        factor = plan.speed_pct[k0:k1] / 100.0
        rpm_noise = np.clip(rng.standard_normal(size), -3.0, 3.0)
        rpm = np.where(running, prof.rpm * factor + prof.rpm_noise * rpm_noise,
                       np.abs(prof.idle_rpm_noise * rpm_noise))
        power = np.where(running, prof.power_idle + (prof.power_run - prof.power_idle) * factor,
                         np.where(state == BREAKDOWN, 0.5 * prof.power_idle, prof.power_idle))
        power = np.maximum(power + np.where(running, 0.15, 0.05) * rng.standard_normal(size), 0.0)
        extra = rng.standard_normal(size)
        out: dict[str, np.ndarray] = {}
        for name in plan.cls.signals:
            if name == self.code_signal:
                codes = np.zeros(size, dtype=np.int64)
                for st, code in self.codes.items():
                    codes[state == st] = code
                codes[running & (plan.speed_pct[k0:k1] < 100)] = self.reduced_code
                out[name] = codes
            elif name == self.rpm_signal:
                out[name] = np.round(rpm, 1)
            elif name == "power_kw":
                out[name] = np.round(power, 2)
            elif name == plan.cls.part_counter:
                out[name] = part_value
            elif name == plan.cls.reject_counter:
                out[name] = reject_value
            elif name == self.alarm_signal:
                out[name] = plan.alarm[k0:k1].astype(np.int64)
            elif name == "bore_mm":
                out[name] = np.round(25.0 + 0.012 * extra, 4)
            elif name == "melt_temp_c":
                out[name] = np.round(230.0 + 1.0 * extra, 1)
            else:
                out[name] = np.round(100.0 + extra, 2)
        if plan.cls.workorder_signal is not None:  # the order each reading shows: the next from its setup's start
            op = np.searchsorted(np.array(plan.changeovers, np.int64), np.arange(k0, k1), side="right")
            out[plan.cls.workorder_signal] = np.array(plan.workorder_names(), dtype=object)[op]
        return out

    def encode(self, chunk: Chunk) -> list[bytes]:
        """The chunk's readings as JSON lines (no newline)."""
        names = list(chunk.signals)
        columns = [chunk.signals[name].tolist() for name in names]
        site, machine = self.site_id, self.plan.machine.id
        enc = _encoder.encode
        return [
            enc(WireReading(site, machine, ts, seq, dict(zip(names, row, strict=True))))
            for ts, seq, row in zip(chunk.ts.tolist(), range(chunk.k0, chunk.k1), zip(*columns, strict=True),
                                    strict=True)
        ]

"""Fixtures for the simulator tests: traces made through the CLI, and a slow, obviously correct oracle.

The oracle reads the trace the way a correct pipeline must (decode, de-duplicate, order by seq, map state codes
or infer state with hysteresis, treat stops inside calendar breaks as planned, difference cumulative counters
across resets and rollovers) and recomputes the truth from scratch, one elementary time segment at a time.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from andon.readings import ReadingBatch, Registry
from andon.simulator.cli import main
from andon.states import DOWNTIME_REASON, STATE_NAMES, MachineState
from andon.wire.decoder import BatchDecoder

REASON_STATES = {MachineState.BREAKDOWN, MachineState.SETUP, MachineState.MATERIAL}


@dataclass
class Trace:
    path: Path
    truth_path: Path
    lines: list[bytes]
    truth: dict


def make_trace(tmp: Path, *args: str, name: str = "trace.jsonl") -> Trace:
    """Run `andon simulate ARGS --out tmp/name` through the CLI entry point and read both files back."""
    tmp.mkdir(parents=True, exist_ok=True)
    cwd = os.getcwd()
    os.chdir(tmp)
    try:
        assert main([*args, "--out", name]) == 0
    finally:
        os.chdir(cwd)
    path = tmp / name
    truth_path = path.with_suffix(".truth.json")
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b""
    return Trace(path, truth_path, lines[:-1], json.loads(truth_path.read_text()))


@pytest.fixture(scope="session")
def as_written(tmp_path_factory) -> Trace:
    """Exactly `andon simulate --machines 20 --hours 8 --seed 7 --out trace.jsonl`."""
    return make_trace(tmp_path_factory.mktemp("as-written"), "--machines", "20", "--hours", "8", "--seed", "7")


@pytest.fixture(scope="session")
def as_written_batch(site, as_written) -> ReadingBatch:
    return decode(site, as_written)


@pytest.fixture(scope="session")
def faulty(tmp_path_factory) -> Trace:
    """Every gateway fault on, staggered readings, across a shift change (12:00 to 15:00)."""
    return make_trace(tmp_path_factory.mktemp("faulty"), "--machines", "12", "--hours", "3", "--seed", "3",
                      "--start", "2026-03-03T12:00:00+01:00", "--faults", "all", "--stagger")


def decode(site, trace: Trace) -> ReadingBatch:
    return BatchDecoder.for_site(site).decode(trace.lines, now_ms=trace.truth["end_ms"])


@dataclass
class Rows:
    """One machine's valid readings, duplicates removed, ordered by seq."""

    seq: np.ndarray
    ts: np.ndarray
    signals: dict[str, np.ndarray]


def by_machine(site, batch: ReadingBatch) -> dict[str, Rows]:
    registry = Registry([site])
    order = np.lexsort((batch.seq, batch.machine))
    machine, seq, ts = batch.machine[order], batch.seq[order], batch.ts[order]
    values = batch.values[order]
    same = (machine[1:] == machine[:-1]) & (seq[1:] == seq[:-1])
    assert (ts[1:][same] == ts[:-1][same]).all(), "a duplicate must repeat its reading"
    assert np.array_equal(values[1:][same], values[:-1][same], equal_nan=True), "a duplicate must repeat its reading"
    keep = np.concatenate(([True], ~same))
    machine, seq, ts, values = machine[keep], seq[keep], ts[keep], values[keep]
    out = {}
    for m in np.unique(machine).tolist():
        sel = machine == m
        cols = {name: values[sel, j] for j, name in enumerate(batch.signals) if not np.isnan(values[sel, j]).all()}
        out[registry.keys[m][1]] = Rows(seq[sel], ts[sel], cols)
    return out


def in_break(truth: dict, ts: int) -> bool:
    return any(b0 <= ts < b1 for shift in truth["calendar"] for b0, b1 in shift["breaks"])


def observed_states(site, machine: str, rows: Rows, truth: dict) -> list[MachineState]:
    """The state of each reading as a correct kernel sees it."""
    rules = site.class_of(machine).states
    table = rules.code_table()
    out = []
    running = None
    for i, ts in enumerate(rows.ts.tolist()):
        if rules.source == "code":
            state = table.get(int(rows.signals[rules.code_signal][i]), MachineState.UNKNOWN)
        else:
            rpm = rows.signals[rules.run_signal][i]
            if running is None:
                running = rpm > rules.run_above
            elif rpm > rules.run_above + rules.hysteresis:
                running = True
            elif rpm < rules.run_above - rules.hysteresis:
                running = False
            if rows.signals[rules.alarm_signal][i] != 0:
                state = MachineState.BREAKDOWN
            else:
                state = MachineState.RUNNING if running else MachineState.STOPPED
        if state == MachineState.STOPPED and in_break(truth, ts):
            state = MachineState.PLANNED_STOP
        out.append(state)
    return out


def observed_intervals(states, rows: Rows, truth: dict) -> list[tuple[int, int, str]]:
    out = []
    for i, state in enumerate(states):
        if i == 0 or state != states[i - 1]:
            start = truth["start_ms"] if i == 0 else int(rows.ts[i])
            if out:
                out[-1][1] = start
            out.append([start, truth["end_ms"], STATE_NAMES[int(state)]])
    return [tuple(iv) for iv in out]


def counter_increments(rows: Rows, counter: str, counter_max: int) -> tuple[np.ndarray, np.ndarray]:
    """(ts, increment) of each reading after the first: a drop from near the maximum is a rollover, else a reset."""
    values = rows.signals[counter].astype(np.int64)
    old, new = values[:-1], values[1:]
    rolled = old > counter_max - 10_000_000
    inc = np.where(new >= old, new - old, np.where(rolled, new + counter_max + 1 - old, new))
    return rows.ts[1:], inc


def shift_oracle(truth: dict, machine: str, intervals: list[dict], shift: dict, policy: str,
                 parts: int, rejects: int) -> dict:
    """One shift's figures by sweeping every elementary segment between any two boundaries."""
    threshold_ms = truth["microstop_threshold_s"] * 1000
    calendar = next(s for s in truth["calendar"] if s["shift_id"] == shift["shift_id"])
    w0, w1 = calendar["window_start_ms"], calendar["window_end_ms"]
    breaks = calendar["breaks"]
    points = {w0, w1}
    for iv in intervals:
        points.update((iv["start_ms"], iv["end_ms"]))
    for b0, b1 in breaks:
        points.update((b0, b1))
    points = sorted(p for p in points if w0 <= p <= w1)
    planned = downtime = micro = 0
    by_reason: dict[str, int] = {}
    for a, b in zip(points, points[1:], strict=False):
        if any(b0 <= a < b1 for b0, b1 in breaks):
            continue
        planned += b - a
        iv = next(iv for iv in intervals if iv["start_ms"] <= a < iv["end_ms"])
        state = MachineState[iv["state"].upper()]
        length = iv["end_ms"] - iv["start_ms"]
        if state in REASON_STATES or (state == MachineState.STOPPED and length >= threshold_ms):
            downtime += b - a
            reason = DOWNTIME_REASON[state]
            by_reason[reason] = by_reason.get(reason, 0) + (b - a)
        elif state == MachineState.STOPPED:
            micro += b - a
    run = planned - downtime - (micro if policy == "availability" else 0)
    return {"planned_s": planned / 1000, "downtime_s": downtime / 1000, "microstop_s": micro / 1000,
            "run_s": run / 1000, "total_count": parts, "reject_count": rejects, "good_count": parts - rejects,
            "downtime_by_reason": {r: ms / 1000 for r, ms in sorted(by_reason.items())}}


def check_against_oracle(site, trace: Trace, batch: ReadingBatch | None = None) -> None:
    """Every machine's intervals and every shift figure in the truth equal what the oracle finds in the trace."""
    truth = trace.truth
    rows_by_machine = by_machine(site, batch if batch is not None else decode(site, trace))
    policy = truth["microstop_policy"]
    for machine in truth["machines"]:
        mt = truth["per_machine"][machine]
        rows = rows_by_machine[machine]
        assert rows.seq.tolist() == list(range(mt["readings"]))
        states = observed_states(site, machine, rows, truth)
        expected = [(iv["start_ms"], iv["end_ms"], iv["state"]) for iv in mt["intervals"]]
        assert observed_intervals(states, rows, truth) == expected, machine
        cls = site.class_of(machine)
        parts = counter_increments(rows, cls.part_counter, cls.counter_max)
        rejects = counter_increments(rows, cls.reject_counter, cls.counter_max)
        for summary in mt["shifts"]:
            w0, w1 = summary["window_start_ms"], summary["window_end_ms"]
            n_parts = int(parts[1][(parts[0] >= w0) & (parts[0] < w1)].sum())
            n_rejects = int(rejects[1][(rejects[0] >= w0) & (rejects[0] < w1)].sum())
            oracle = shift_oracle(truth, machine, mt["intervals"], summary, policy, n_parts, n_rejects)
            for key, value in oracle.items():
                assert summary[key] == pytest.approx(value), (machine, summary["shift_id"], key)
            planned, run = summary["planned_s"], summary["run_s"]
            assert summary["availability"] == pytest.approx(run / planned)
            performance = summary["ideal_cycle_time_s"] * n_parts / run if run else 0.0
            assert summary["performance"] == pytest.approx(performance)
            quality = (n_parts - n_rejects) / n_parts if n_parts else 1.0
            assert summary["quality"] == pytest.approx(quality)
            assert summary["oee"] == pytest.approx(summary["availability"] * performance * quality)
        assert mt["total_count"] == int(parts[1].sum())
        assert mt["reject_count"] == int(rejects[1].sum())


@pytest.fixture(scope="session")
def oracle():
    """The helpers above, for test modules (which cannot import this conftest under importlib mode)."""
    return SimpleNamespace(make_trace=make_trace, decode=decode, by_machine=by_machine, in_break=in_break,
                           observed_states=observed_states, observed_intervals=observed_intervals,
                           counter_increments=counter_increments, shift_oracle=shift_oracle,
                           check=check_against_oracle)

"""A bad counter value bends no number: glitches are dead-lettered, shift totals and events stay those of the clean run.

Injects: into a simulated 50-minute trace of one machine (about 3,000 readings, with the simulator's own
counter resets), single readings whose part or reject counter is absurd (-1e308, negative, fractional, above
counter_max), low for one reading (a drop the next reading refutes), or far higher than the machine can make at
its ideal cycle time; one pair of glitches back to back. Checks: `andon replay` of the glitched trace gives the
same events (ids and payloads), shift_oee and telemetry_agg as the clean trace; each glitch is in the DLQ as
`implausible_counter` with its value in the detail; nothing else is.
"""

from __future__ import annotations

import json
import random

import pytest
from flowtools import andon, events_of, parquet_of

from andon.simulator import Simulation

pytestmark = pytest.mark.fault

# (where in the trace, counter, value: a number, or a function of the counter's current value)
GLITCHES = [
    (300, "part_count", -1e308),
    (500, "part_count", -1),
    (700, "part_count", 2.5),
    (900, "part_count", float(2**40)),  # above counter_max (2**32 - 1)
    (1100, "part_count", lambda v: v // 10),  # a single low reading: no reset, the next one goes on from v
    (1300, "part_count", 0),  # looks like a reset; the next reading refutes it
    (1500, "part_count", lambda v: v + 1_000_000),  # a million parts in a millisecond
    (1700, "reject_count", 0),
    (1900, "reject_count", -5),
    (2100, "reject_count", lambda v: v + 50_000),
    (2300, "part_count", lambda v: v - 7),  # a small drop
    (2500, "part_count", lambda v: v // 2),  # two glitches back to back
    (2500, "part_count", lambda v: v // 3),
]


def _glitched(lines: list[bytes]) -> tuple[list[bytes], list[tuple[int, str]]]:
    """The trace with each glitch inserted 1 ms after the reading at its position (a copy of that reading)."""
    out, injected = [], []
    at: dict[int, list] = {}
    for k, (pos, name, value) in enumerate(GLITCHES):
        at.setdefault(pos, []).append((k, name, value))
    for i, line in enumerate(lines):
        out.append(line)
        for n, (_, name, value) in enumerate(at.get(i, [])):
            doc = json.loads(line)
            current = doc["signals"][name]
            doc["signals"][name] = value(current) if callable(value) else value
            doc["ts"] += 1 + n
            doc.pop("seq", None)
            out.append(json.dumps(doc).encode())
            injected.append((doc["ts"], name))
    return out, injected


@pytest.fixture(scope="module")
def runs(tmp_path_factory, site):
    tmp = tmp_path_factory.mktemp("glitches")
    sim = Simulation(site, machines=1, hours=50 / 60, seed=11)
    clean_trace = tmp / "clean.jsonl"
    sim.write_jsonl(clean_trace)
    lines = clean_trace.read_bytes().splitlines()
    glitched, injected = _glitched(lines)
    glitched_trace = tmp / "glitched.jsonl"
    glitched_trace.write_bytes(b"\n".join(glitched) + b"\n")
    out = {}
    for name, path in (("clean", clean_trace), ("glitched", glitched_trace)):
        out[name] = tmp / name
        andon("replay", str(path), "--out", str(out[name]))
    return out, injected, len(lines)


def test_glitches_change_no_shift_total_and_no_event(runs, fault_summary):
    out, injected, n = runs
    clean_shifts, shifts = parquet_of(out["clean"], "shift_oee"), parquet_of(out["glitched"], "shift_oee")
    clean_events, events = events_of(out["clean"] / "events.jsonl"), events_of(out["glitched"] / "events.jsonl")
    dead = [json.loads(line) for line in (out["glitched"] / "dlq.jsonl").read_bytes().splitlines()]
    implausible = [d for d in dead if d["reason"] == "implausible_counter"]
    fault_summary(faults=f"{len(GLITCHES)} counter glitches among {n} readings", readings_in=n + len(GLITCHES),
                  events_expected=len(clean_events), events_applied=len(set(events) & set(clean_events)),
                  duplicates=0, lost=len(set(clean_events) - set(events)),
                  total_count=f"{shifts['total_count'].sum()} (clean {clean_shifts['total_count'].sum()})",
                  reject_count=f"{shifts['reject_count'].sum()} (clean {clean_shifts['reject_count'].sum()})",
                  dead_lettered=len(implausible))
    assert clean_shifts["total_count"].sum() > 1000, "the trace produces parts"
    assert shifts.equals(clean_shifts)
    assert events == clean_events  # ids and payloads
    assert parquet_of(out["glitched"], "telemetry_agg").equals(parquet_of(out["clean"], "telemetry_agg"))
    assert sorted((json.loads(d["raw"])["ts"], d["detail"].split("=")[0]) for d in implausible) == sorted(injected)


def test_each_glitch_says_what_is_wrong(runs):
    out, _, _ = runs
    dead = [json.loads(line) for line in (out["glitched"] / "dlq.jsonl").read_bytes().splitlines()]
    details = [d["detail"] for d in dead if d["reason"] == "implausible_counter"]
    assert any("part_count=-1e+308 is negative" in d for d in details)
    assert any("is above counter_max 4294967295" in d for d in details)
    assert any("is not a whole number" in d for d in details)
    assert any("a glitch, not a reset" in d for d in details)
    assert any("by more than the" in d and "ideal cycle" in d for d in details)
    assert all(d["hint"] for d in dead)


def test_a_confirmed_reset_still_counts(tmp_path, site):
    """The counter really restarts at 0 (a power cycle): the readings after it confirm the drop."""
    rng = random.Random(1)
    t0, parts, rows = 1_772_427_600_000, 5_000, []
    for k in range(600):
        if k == 300:
            parts = 0  # power cycle
        parts += rng.randrange(0, 2) if k % 3 else 0
        rows.append({"site": "plant-a", "machine": "press-01", "ts": t0 + 1000 * k,
                     "signals": {"state": 10000, "part_count": parts, "reject_count": 0}})
    trace = tmp_path / "reset.jsonl"
    trace.write_text("".join(json.dumps(r) + "\n" for r in rows))
    andon("replay", str(trace), "--out", str(tmp_path / "out"))
    total = parquet_of(tmp_path / "out", "shift_oee")["total_count"].sum()
    counts = [r["signals"]["part_count"] for r in rows]
    want = sum(b - a if b >= a else b for a, b in zip(counts, counts[1:], strict=False))  # a drop counts from 0
    assert total == want

"""Gateway clock skew through the telemetry dataflow (files in, fixed clock as `andon run telemetry --now` uses).

Injects: the gateway of one machine runs 120 s fast (within processing.max_future_s = 300 s), the gateway of another
runs 900 s fast (beyond it). Checks end to end: the first machine's readings are all accepted and its state
changes are the unskewed run's, 120 s later, none added (no flaps) and none repeated; the second machine's readings
from beyond now + max_future_s go to the DLQ as `timestamp_in_future` (exactly those), the rest are processed and
its state changes are a prefix of the unskewed ones; every reading is accounted for.
"""

from __future__ import annotations

import json

import pytest
from bytewax.testing import run_main
from flowtools import events_of

from andon.pipelines.telemetry import TelemetryFlowConfig, build_flow
from andon.simulator import Simulation

pytestmark = pytest.mark.fault

WITHIN_S, BEYOND_S = 120, 900


def skew(src, dst, offsets_ms: dict[str, int]) -> int:
    """Copy a JSONL trace, adding offsets_ms[machine] to the readings' timestamps; returns readings copied."""
    n = 0
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        for line in fin:
            doc = json.loads(line)
            for r in doc if isinstance(doc, list) else [doc]:
                r["ts"] += offsets_ms.get(r["machine"], 0)
                n += 1
            fout.write(json.dumps(doc).encode() + b"\n")
    return n


def replay(site, trace, out, bounds):
    run_main(build_flow(TelemetryFlowConfig(sites=[site], out_dir=out, source="files", inputs=[trace],
                                            shards=2, ts_bounds=bounds, parquet_write_interval_s=3600)))
    events = events_of(out / "events.jsonl")
    lines = (out / "events.jsonl").read_bytes().splitlines()
    dead = [json.loads(x) for x in (out / "dlq.jsonl").read_bytes().splitlines()] if (out / "dlq.jsonl").exists() else []
    return events, len(lines), dead


def states(events: dict, machine: str) -> list[tuple[str, str, str]]:
    return sorted((e["occurred_at"], e["data"]["from_state"], e["data"]["to_state"]) for e in events.values()
                  if e["machine"] == machine and e["type"] == "machine.state_changed")


def shifted(rows, seconds: int):
    from datetime import datetime, timedelta

    out = []
    for at, a, b in rows:
        t = datetime.fromisoformat(at.replace("Z", "+00:00")) + timedelta(seconds=seconds)
        out.append((t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z", a, b))
    return out


def test_gateway_clock_skew(site, tmp_path, fault_summary):
    trace = tmp_path / "trace.jsonl"
    truth = Simulation(site, machines=6, hours=2.0, seed=5).write_jsonl(trace)
    fast, too_fast = site.machines[0].id, site.machines[1].id
    skewed = tmp_path / "skewed.jsonl"
    readings = skew(trace, skewed, {fast: WITHIN_S * 1000, too_fast: BEYOND_S * 1000})
    max_future_ms = int(site.processing.max_future_s * 1000)
    bounds = (truth["start_ms"] - 3_600_000, truth["end_ms"] + max_future_ms)
    beyond = sum(1 for line in skewed.read_bytes().splitlines() for r in _readings(line)
                 if r["ts"] > bounds[1])

    clean_events, _, clean_dead = replay(site, trace, tmp_path / "clean", bounds)
    events, emitted, dead = replay(site, skewed, tmp_path / "skewed", bounds)

    future = [d for d in dead if d["reason"] == "timestamp_in_future"]
    late = [d for d in dead if d["reason"] == "late_reading"]
    fast_states, clean_fast = states(events, fast), shifted(states(clean_events, fast), WITHIN_S)
    slow_states, clean_slow = states(events, too_fast), shifted(states(clean_events, too_fast), BEYOND_S)
    unaffected = [m.id for m in site.machines[2:6]]
    same = all(states(events, m) == states(clean_events, m) for m in unaffected)
    limit = _iso(bounds[1])
    reachable = [row for row in clean_slow if row[0] <= limit]  # state changes before the refused tail
    fault_summary(faults=f"clock +{WITHIN_S}s on {fast}, +{BEYOND_S}s on {too_fast}", readings_in=readings,
                  events_expected=len(clean_fast) + len(reachable), events_applied=len(fast_states) + len(slow_states),
                  duplicates=emitted - len(events), lost=readings - beyond - _kept(tmp_path / "skewed"),
                  timestamp_in_future=len(future), late=len(late))

    assert emitted == len(events), "an event was emitted twice"
    assert len(future) == beyond > 0, "exactly the readings beyond now + max_future_s are refused"
    assert {json.loads(d["raw"])["machine"] for d in future} == {too_fast}
    assert len(late) == len([d for d in clean_dead if d["reason"] == "late_reading"])
    assert fast_states == clean_fast, "a skew within max_future_s changes nothing but the times"
    assert slow_states == reachable and slow_states, "the refused tail cuts the states short, nothing else"
    assert same, "the other machines are not affected"


def _iso(ms: int) -> str:
    from datetime import UTC, datetime

    t = datetime.fromtimestamp(ms / 1000, UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def _readings(line: bytes) -> list[dict]:
    doc = json.loads(line)
    return doc if isinstance(doc, list) else [doc]


def _kept(out) -> int:
    """Readings the dataflow accepted: the counts in telemetry_agg's `state` signal windows (one per reading)."""
    from flowtools import parquet_of

    df = parquet_of(out, "telemetry_agg")
    return int(df.filter(df["signal"] == "part_count")["count"].sum())

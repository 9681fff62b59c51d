"""`andon replay` of a simulated shift against the simulator's ground truth, and its outputs' shape."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
from flowtools import events_of, parquet_of

from andon.events import parse_iso_ms


def test_every_downtime_is_found_with_true_start_and_end(replayed, site):
    out, truth = replayed
    events = events_of(out / "events.jsonl").values()
    tolerance_ms = site.processing.min_dwell_s * 1000
    started = [e for e in events if e["type"] == "machine.downtime_started"]
    ended = [e for e in events if e["type"] == "machine.downtime_ended"]
    expected = truth["expected_downtimes"]
    assert expected, "the trace should contain downtimes"
    for want in expected:
        match = [e for e in started if e["machine"] == want["machine"]
                 and abs(parse_iso_ms(e["occurred_at"]) - want["start_ms"]) <= tolerance_ms]
        assert len(match) == 1, f"downtime {want} found {len(match)} times"
        assert match[0]["data"]["reason"] == want["reason"]
        if want["end_ms"] < truth["end_ms"]:
            ends = [e for e in ended if e["machine"] == want["machine"]
                    and abs(parse_iso_ms(e["occurred_at"]) - want["end_ms"]) <= tolerance_ms]
            assert len(ends) == 1, f"end of downtime {want} found {len(ends)} times"
    assert len(started) == len(expected), "no downtime beyond the injected ones"


def test_shift_counts_exact_and_oee_within_a_thousandth(replayed):
    out, truth = replayed
    rows = parquet_of(out, "shift_oee")
    got = {(r["machine"], r["shift_id"]): r for r in rows.iter_rows(named=True)}
    compared = 0
    for machine, data in truth["per_machine"].items():
        for shift in data["shifts"]:
            row = got[(machine, shift["shift_id"])]
            assert (row["total_count"], row["reject_count"], row["good_count"]) == (
                shift["total_count"], shift["reject_count"], shift["good_count"]), machine
            assert abs(row["planned_time_s"] - shift["planned_s"]) < 1e-6
            assert abs(row["oee"] - shift["oee"]) <= 0.001, (machine, row["oee"], shift["oee"])
            compared += 1
    assert compared == len(rows) == 20


def test_outputs_follow_the_contract(replayed):
    out, _ = replayed
    agg = parquet_of(out, "telemetry_agg")
    assert set(agg.columns) >= {"site", "date", "machine", "window_start", "window_end", "signal", "count", "min",
                                "max", "mean", "last"}
    assert agg["window_start"].dtype.time_zone == "UTC"
    assert ((agg["window_end"] - agg["window_start"]).dt.total_seconds() == 60).all()
    assert (agg["min"] <= agg["mean"]).all() and (agg["mean"] <= agg["max"]).all()
    files = sorted((out / "telemetry_agg").rglob("*.parquet"))
    assert all(f.parent.name.startswith("date=") and f.parent.parent.name == "site=plant-a" for f in files)
    assert pq.read_metadata(files[0]).row_group(0).column(0).compression == "ZSTD"
    # one file per shard and hour, not one per window
    assert len(files) <= 4 * 9
    assert (out / "DATA_DICTIONARY.md").exists()
    for line in (out / "events.jsonl").read_bytes().splitlines()[:50]:
        event = json.loads(line)
        assert event["schema_version"] == 1 and event["site"] == "plant-a" and event["work_center"]

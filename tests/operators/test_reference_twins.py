"""The kernels (through ShardProcessor) equal their slow twins in tests/reference on generated traces."""

from __future__ import annotations

import math

import pytest
from fuzzing import examples
from harness import T0, make_batch, make_plant
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ref_aggregate import reference_aggregate
from ref_counters import reference_guard
from ref_rules import reference_rules
from ref_states import reference_states
from traces import trace

from andon.events import parse_iso_ms
from andon.operators import ShardProcessor
from andon.readings import Registry

PLANT = make_plant()
REGISTRY = Registry([PLANT])


def summarize(ev) -> tuple:
    d, t = ev.data, ev.type
    occ, det = parse_iso_ms(ev.occurred_at), parse_iso_ms(ev.detected_at)
    if t == "machine.state_changed":
        key = (d["from_state"], d["to_state"])
    elif t == "machine.downtime_started":
        key = (d["state"],)
    elif t == "machine.downtime_ended":
        key = (d["state"], parse_iso_ms(d["started_at"]))
    elif t in ("operation.finished", "operation.progress"):
        key = (d["quantity"], d["rejects"], parse_iso_ms(d["since"]),
               None if d["first_part_at"] is None else parse_iso_ms(d["first_part_at"]))
    elif t == "operation.started":
        key = ()
    elif t == "production.count_reported":
        key = (d["shift_id"], parse_iso_ms(d["window_start"]), d["total_count"], d["reject_count"],
               d["window_total"], d["window_rejects"])
    elif t == "production.scrap_recorded":
        key = (d["shift_id"], parse_iso_ms(d["window_start"]), d["quantity"], d["shift_reject_count"])
    elif t == "quality.hold_raised":
        key = (d["rule"], d["signal"], parse_iso_ms(d["window_start"])) if d["rule"] == "reject_rate" else (
            d["rule"], d["signal"])
    elif t == "quality.hold_released":
        key = (parse_iso_ms(d["raised_at"]), parse_iso_ms(d["window_start"]))
    elif t == "maintenance.requested":
        key = (d["trigger"], d["alarm_code"] if d["trigger"] == "alarm" else (
            int(d["detail"].split()[0]) if d["trigger"] == "cycle_count" else d["detail"].split()[0]))
    else:
        raise AssertionError(t)
    return (t, ev.machine, occ, det, key)


def rounded(row: dict) -> dict:
    return {k: (round(v, 9) if isinstance(v, float) else v) for k, v in row.items()}


def _row_key(registry, m, t, values) -> tuple:
    return (int(m), int(t), tuple((1, 0.0) if v != v else (0, float(v)) for v in values))


def _rows_key(registry, rows) -> list[tuple]:
    names = registry.signals
    return [_row_key(registry, m, t, [sig.get(n, math.nan) for n in names]) for m, t, sig in rows]


def run_both(rows, plant=PLANT, registry=REGISTRY):
    proc = ShardProcessor([plant], registry)
    batch = make_batch(registry, rows)
    out, fin = proc.process(batch), proc.flush()
    guarded = reference_guard(plant, registry, rows)
    kept = [rows[i] for i in guarded.kept]
    agg = reference_aggregate(plant, registry, kept, [guarded.rebase.get(i, 0) for i in guarded.kept])
    sts = reference_states(plant, registry, kept, agg["increments"])
    rules = reference_rules(plant, registry, kept, agg["increments"])
    got_refused = sorted((b.machine, b.ts, b.signal) for b in out.implausible + fin.implausible)
    assert got_refused == sorted((rows[i][0], rows[i][1], name) for i, name, _ in guarded.refused)
    got_windows = sorted(tuple(r) for w in (out.windows, fin.windows) for r in zip(
        *(w[c].tolist() for c in ("machine", "window_start_ms", "window_end_ms", "signal", "count", "min", "max",
                                 "mean", "last")), strict=True))
    assert got_windows == sorted(agg["windows"])
    latest: dict[int, int] = {}
    for m, t, _ in kept:
        latest[m] = max(latest.get(m, t), t)
    lateness = round(plant.processing.allowed_lateness_s * 1000)
    got_status = sorted(tuple(r) for w in (out.windows, fin.windows) for r in zip(
        *(w[c].tolist() for c in ("machine", "window_start_ms", "signal", "final", "covers_until_ms")), strict=True))
    want_status = sorted((m, start, j, end <= latest[m] - lateness, min(end, latest[m]))
                         for m, start, end, j, *_ in agg["windows"])
    assert got_status == want_status
    got_late = [_row_key(registry, b.machine[i], b.ts[i], b.values[i]) for o in (out, fin)
                for b in [o.input if o.input is not None else batch] for i in o.late.tolist()]
    assert sorted(got_late) == sorted(_rows_key(registry, [kept[i] for i in agg["late"]]))
    got_events = sorted(summarize(e) for e in out.events + fin.events)
    want_events = sorted(agg["events"] + sts["events"] + rules)
    assert got_events == want_events
    got_shifts = sorted((rounded(r) for r in out.shifts + fin.shifts), key=lambda r: (r["machine"], r["shift_id"]))
    want_shifts = sorted((rounded(r) for r in sts["shifts"]), key=lambda r: (r["machine"], r["shift_id"]))
    assert got_shifts == want_shifts
    return got_events, got_shifts


@pytest.mark.parametrize("seed", range(6))
def test_kernels_equal_twins_on_traces(seed):
    run_both(trace(seed, T0 + seed * 97_000, machines=5, n=300))


@settings(max_examples=examples(30), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 120), offset_s=st.integers(0, 3600))
def test_kernels_equal_twins_hypothesis(seed, n, offset_s):
    run_both(trace(seed, T0 + offset_s * 1000, machines=5, n=n))


@pytest.mark.parametrize("rows", [
    [],
    [(0, T0, {"state": 1.0})],
    [(3, T0, {"rpm": math.nan, "parts": math.nan})],
    [(0, T0, {"state": 1.0, "parts": 5.0}), (0, T0, {"state": 2.0, "parts": 1.0}),
     (0, T0 - 1000, {"state": 3.0, "parts": 0.0})],
], ids=["empty", "single", "all-nan", "duplicate-and-out-of-order"])
def test_edge_cases_equal_twins(rows):
    run_both(rows)


@pytest.mark.parametrize("processing", [
    {"microstop_policy": "availability"},
    {"min_dwell_s": 0, "allowed_lateness_s": 0},
    {"allowed_lateness_s": 25, "window_s": 7},
    {"microstop_threshold_s": 0, "offline_after_s": 5},
])
def test_other_thresholds_equal_twins(processing):
    plant = make_plant(**processing)
    registry = Registry([plant])
    for seed in range(3):
        run_both(trace(seed, T0, machines=5, n=200), plant, registry)

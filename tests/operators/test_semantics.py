"""Hand-built sequences: OEE (Vorne), counters, debouncing, micro-stops vs downtime, breaks, offline, DST, warm-up."""

from __future__ import annotations

import math

import numpy as np
import pytest
from harness import T0, make_batch, make_plant

from andon.config import parse_site
from andon.events import parse_iso_ms
from andon.operators import ShardProcessor, oee, warm_up
from andon.operators.kernels import kernel_dispatchers
from andon.operators.kernels.aggregate import counter_step
from andon.readings import Registry
from andon.shifts import ShiftSchedule

PLANT = make_plant()
REG = Registry([PLANT])


def run(rows, plant=PLANT, registry=REG):
    proc = ShardProcessor([plant], registry)
    out, fin = proc.process(make_batch(registry, rows)), proc.flush()
    return out.events + fin.events, out.shifts + fin.shifts, out, fin


def of(events, type_):
    return [e for e in events if e.type == type_]


def test_vorne_worked_example():
    f = oee(planned_s=420 * 60, downtime_s=47 * 60, total=19271, rejects=423, ideal_cycle_s=1.0)
    assert (round(f.availability, 3), round(f.performance, 3), round(f.quality, 3), round(f.oee, 3)) == (
        0.888, 0.861, 0.978, 0.748)
    assert f.run_time_s == 22380.0


@pytest.mark.parametrize("prev,new,cmax,rebase,want", [
    (100.0, 103.0, 1000.0, False, (3, 103.0)),  # normal
    (100.0, 100.0, 1000.0, False, (0, 100.0)),  # duplicate value
    (995.0, 3.0, 1000.0, False, (9, 3.0)),  # rollover: 996..1000, 0..3
    (500.0, 2.0, 1000.0, False, (2, 2.0)),  # reset (the guard confirmed it): counts from 0
    (500.0, 480.0, 1000.0, False, (480, 480.0)),  # a confirmed reset, however small the drop
    (500.0, 90_000.0, 100_000.0, True, (0, 90_000.0)),  # a confirmed jump: restarts uncounted
])
def test_counter_step(prev, new, cmax, rebase, want):
    assert counter_step.py_func(prev, True, new, cmax, 0.1, rebase) == want
    assert counter_step(prev, True, new, cmax, 0.1, rebase) == want


def test_late_reading_with_lower_count_is_not_a_reset():
    rows = [(0, T0 + k * 1000, {"state": 1.0, "parts": 100.0 + k}) for k in range(10)]
    rows.insert(6, (0, T0 + 4000, {"state": 1.0, "parts": 104.0}))  # a second late, lower than the last count
    events, shifts, out, _ = run(rows)
    assert sum(r["total_count"] for r in shifts) == 9


def test_noise_shorter_than_dwell_does_not_flap():
    states = [1] * 10 + [2] + [1] * 5 + [2, 2] + [1] * 10  # 1 s and 2 s blips, dwell 2 s needs 3 readings
    rows = [(0, T0 + k * 1000, {"state": float(s)}) for k, s in enumerate(states)]
    events, *_ = run(rows)
    assert [(e.data["from_state"], e.data["to_state"]) for e in of(events, "machine.state_changed")] == [
        ("unknown", "running")]


def test_stop_transition_time_microstop_and_downtime():
    # 10 s stop (micro-stop), then a 40 s stop (downtime once it passes 20 s)
    seq = [1] * 10 + [2] * 10 + [1] * 10 + [2] * 40 + [1] * 10
    rows = [(0, T0 + k * 1000, {"state": float(s)}) for k, s in enumerate(seq)]
    events, shifts, *_ = run(rows)
    changes = [(e.data["to_state"], parse_iso_ms(e.occurred_at) - T0) for e in of(events, "machine.state_changed")]
    assert changes == [("running", 0), ("stopped", 10_000), ("running", 20_000), ("stopped", 30_000),
                       ("running", 70_000)]
    (start,), (end,) = of(events, "machine.downtime_started"), of(events, "machine.downtime_ended")
    assert parse_iso_ms(start.occurred_at) - T0 == 30_000 and parse_iso_ms(start.detected_at) - T0 == 50_000
    assert parse_iso_ms(end.occurred_at) - T0 == 70_000 and end.data["duration_s"] == 40.0
    (row,) = shifts
    assert row["microstop_s"] == 10.0 and row["downtime_s"] == 40.0
    assert row["downtime_by_reason"] == {"Unspecified Stop": 40.0}


def test_breakdown_is_downtime_from_start_and_break_stop_is_planned():
    # the 09:00 shift has a break 09:07-09:08: a 5 s breakdown at 09:00:05, a stop exactly during the break
    def state(k: int) -> float:
        return 3.0 if 5 <= k < 10 else (2.0 if 420 <= k < 480 else 1.0)

    seq = [(T0 + k * 1000, state(k)) for k in range(500)]
    events, shifts, *_ = run([(0, t, {"state": s}) for t, s in seq])
    starts = of(events, "machine.downtime_started")
    assert [(e.data["reason"], parse_iso_ms(e.occurred_at) - T0) for e in starts] == [("Equipment Failure", 5000)]
    (row,) = shifts
    assert row["downtime_by_reason"] == {"Equipment Failure": 5.0} and row["microstop_s"] == 0.0


def test_offline_gap_is_downtime_between_last_and_next_reading():
    rows = [(0, T0 + k * 1000, {"state": 1.0}) for k in range(5)]
    rows += [(0, T0 + 4000 + 45_000 + k * 1000, {"state": 1.0}) for k in range(5)]
    events, shifts, *_ = run(rows)
    (start,), (end,) = of(events, "machine.downtime_started"), of(events, "machine.downtime_ended")
    assert start.data["reason"] == "Machine Offline" and parse_iso_ms(start.occurred_at) == T0 + 4000
    assert parse_iso_ms(end.occurred_at) == T0 + 49_000 and parse_iso_ms(end.detected_at) == T0 + 49_000
    assert shifts[0]["downtime_by_reason"] == {"Machine Offline": 45.0}


def test_operation_events_around_changeover():
    seq = [1] * 10 + [4] * 10 + [1] * 10
    rows = [(0, T0 + k * 1000, {"state": float(s), "parts": float(min(k, 10) + max(0, k - 20))})
            for k, s in enumerate(seq)]
    events, *_ = run(rows)
    (fin,), (start,) = of(events, "operation.finished"), of(events, "operation.started")
    assert parse_iso_ms(fin.occurred_at) == T0 + 10_000 and fin.data["quantity"] == 10
    assert parse_iso_ms(start.occurred_at) == T0 + 20_000


def test_rules_fire_once_per_episode():
    rows = [(0, T0 + k * 1000, {"state": 1.0, "alarm": 7.0 if 3 <= k < 8 else 0.0, "q": 2.0 if k in (4, 5) else 0.0,
                                "rpm": 95.0 if 10 <= k < 20 else 0.0}) for k in range(30)]
    events, *_ = run(rows)
    maint = of(events, "maintenance.requested")
    assert sorted(e.data["trigger"] for e in maint) == ["alarm", "signal_limit"]
    holds = of(events, "quality.hold_raised")
    assert [e.data["rule"] for e in holds] == ["spc_beyond_limits"]
    limit = next(e for e in maint if e.data["trigger"] == "signal_limit")
    assert parse_iso_ms(limit.occurred_at) == T0 + 10_000 and parse_iso_ms(limit.detected_at) == T0 + 13_000


def test_count_reported_carries_shift_totals_and_window_delta():
    rows = [(0, T0 + k * 1000, {"state": 1.0, "parts": float(k), "rejects": float(k // 10)}) for k in range(25)]
    events, shifts, *_ = run(rows)
    counts = sorted(of(events, "production.count_reported"), key=lambda e: e.occurred_at)
    assert [(e.data["window_total"], e.data["total_count"]) for e in counts] == [(9, 9), (10, 19), (5, 24)]
    assert shifts[0]["total_count"] == 24 and shifts[0]["reject_count"] == 2


def test_late_readings_are_routed_and_counted():
    rows = [(0, T0 + k * 1000, {"rpm": 1.0}) for k in range(30)] + [(0, T0 + 1000, {"rpm": 9.0})]
    proc = ShardProcessor([PLANT], REG)
    out = proc.process(make_batch(REG, rows))
    assert out.late.tolist() == [30]
    assert proc.late_counts()[("test", "c0")] == 1


def _dst_site() -> tuple:
    raw = {"site": {"id": "dst", "timezone": "Europe/Berlin"},
           "processing": {"window_s": 60, "allowed_lateness_s": 10},
           "calendar": {"shifts": [{"name": "night", "start": "22:00:00", "end": "06:00:00"}]},
           "machine_classes": {"m": {"signals": ["state", "part_count", "reject_count"],
                                     "states": {"codes": {"1": "running"}}}},
           "machines": [{"id": "m1", "class": "m", "work_center": "W", "ideal_cycle_time_s": 1.0}]}
    site = parse_site(raw)
    return site, Registry([site])


def test_dst_night_shift_is_one_hour_shorter():
    site, reg = _dst_site()
    (night,) = [s for s in ShiftSchedule.from_site(site).shifts_between(1774731600000, 1774731600001)]
    assert night.shift_id == "2026-03-28-night" and night.length_s == 7 * 3600
    rows = [(0, night.start_ms + k * 60_000, {"state": 1.0, "part_count": float(k)})
            for k in range(7 * 60 + 5)]
    _, shifts, *_ = run(rows, site, reg)
    row = next(r for r in shifts if r["shift_id"] == "2026-03-28-night")
    assert row["planned_time_s"] == 7 * 3600 and row["total_count"] == 7 * 60 - 1
    assert row["shift_end_ms"] - row["shift_start_ms"] == 7 * 3600 * 1000


def test_shift_row_emitted_when_watermark_passes_shift_end():
    site, reg = _dst_site()
    night = ShiftSchedule.from_site(site).shifts_between(1774731600000, 1774731600001)[0]
    proc = ShardProcessor([site], reg)
    rows = [(0, night.end_ms - 5000, {"state": 1.0}), (0, night.end_ms + 9_000, {"state": 1.0})]
    assert proc.process(make_batch(reg, rows)).shifts == []
    assert [r["shift_id"] for r in proc.process(make_batch(reg, [(0, night.end_ms + 10_000, {})])).shifts] == [
        night.shift_id]


def test_no_compilation_after_warm_up():
    warm_up()
    before = {name: len(d.signatures) for name, d in kernel_dispatchers().items()}
    from traces import trace

    for seed in range(2):
        proc = ShardProcessor([PLANT], REG)
        rows = trace(seed, T0, machines=5, n=200)
        batch = make_batch(REG, rows)
        batch.values.setflags(write=False)
        proc.process(batch)
        proc.flush()
    after = {name: len(d.signatures) for name, d in kernel_dispatchers().items()}
    assert after == before


def test_shard_state_memory_is_bounded():
    proc = ShardProcessor([PLANT], REG)
    proc.process(make_batch(REG, [(0, T0, {"state": 1.0})]))
    size = proc.snapshot().nbytes
    for hour in range(1, 6):
        rows = [(0, T0 + hour * 3_600_000 + k * 1000, {"state": 1.0, "rpm": math.sin(k)}) for k in range(600)]
        proc.process(make_batch(REG, rows))
    assert proc.snapshot().nbytes == size
    assert all(a.shape[0] == 1 for a in proc.snapshot().arrays.values())
    assert np.array_equal(proc.snapshot().machines, [0])


def test_operation_counts_span_a_shift_change_and_a_counter_reset():
    """One run of 900 s over the 09:10 shift change with a counter reset at 400 s, a setup, a second run: the
    finished operation holds exactly its parts and rejects; progress records are its running totals."""
    def parts(k):  # a power cycle at 400 s; nothing made during the setup (900 to 960 s)
        return k if k < 400 else (k - 400 if k < 900 else 499 + max(0, k - 960))

    def rejects(k):
        return min(k, 899) // 10 + max(0, k - 960) // 10

    seq = [1] * 900 + [4] * 60 + [1] * 40
    rows = [(0, T0 + k * 1000, {"state": float(s), "parts": float(parts(k)), "rejects": float(rejects(k))})
            for k, s in enumerate(seq)]
    events, shifts, *_ = run(rows)
    (fin,), (start,) = of(events, "operation.finished"), of(events, "operation.started")
    assert (fin.data["quantity"], fin.data["rejects"]) == (399 + 499, 899 // 10)
    assert parse_iso_ms(fin.data["since"]) == T0 and parse_iso_ms(fin.data["first_part_at"]) == T0 + 1000
    assert parse_iso_ms(fin.occurred_at) == T0 + 900_000 and parse_iso_ms(start.occurred_at) == T0 + 960_000
    assert len({s["shift_id"] for s in shifts}) == 2, "the run crossed a shift change"
    progress = of(events, "operation.progress")
    first = [p for p in progress if parse_iso_ms(p.data["since"]) == T0]
    second = [p for p in progress if parse_iso_ms(p.data["since"]) == T0 + 900_000]
    assert first and second and len(first) + len(second) == len(progress)
    assert [p.data["quantity"] for p in first] == sorted(p.data["quantity"] for p in first)
    assert first[-1].data["quantity"] == fin.data["quantity"] and first[-1].data["rejects"] == fin.data["rejects"]
    assert all(parse_iso_ms(p.occurred_at) % 10_000 == 0 for p in progress), "at window ends"
    assert (second[-1].data["quantity"], second[-1].data["rejects"]) == (39, 3)
    assert parse_iso_ms(second[0].data["first_part_at"]) == T0 + 961_000

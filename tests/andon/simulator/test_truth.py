"""Ground truth: consistent with itself, with the shift calendar (breaks, DST), and with the counters in the data."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from andon.config import Thresholds
from andon.shifts import ShiftSchedule
from andon.simulator import Simulation
from andon.simulator.plan import Grid


def test_intervals_tile_the_run_per_machine(as_written):
    truth = as_written.truth
    for machine, mt in truth["per_machine"].items():
        ivals = mt["intervals"]
        assert ivals[0]["start_ms"] == truth["start_ms"] and ivals[-1]["end_ms"] == truth["end_ms"]
        assert all(a["end_ms"] == b["start_ms"] and a["state"] != b["state"] for a, b in zip(ivals, ivals[1:],
                                                                                               strict=False))
        assert sum(iv["end_ms"] - iv["start_ms"] for iv in ivals) == truth["end_ms"] - truth["start_ms"], machine
        assert min(iv["end_ms"] - iv["start_ms"] for iv in ivals) >= 10_000


def test_stops_have_the_documented_shapes(as_written):
    truth = as_written.truth
    reasons: dict[str, set[str]] = {}
    for machine, mt in truth["per_machine"].items():
        for iv in mt["intervals"]:
            length = (iv["end_ms"] - iv["start_ms"]) / 1000
            if iv["state"] == "stopped":  # on a cnc, setups and material waits look like unspecified stops
                longest = 1800.5 if machine.startswith("cnc") else 900.5
                assert length < 90.5 or 180 <= length <= longest
                assert iv["downtime"] == (length >= 120)
            if iv["state"] == "breakdown":
                assert iv["alarm_code"] != 0 and 300 <= length <= 2400.5
            else:
                assert iv["alarm_code"] == 0
            if iv["downtime"]:
                reasons.setdefault(machine.split("-")[0], set()).add(iv["reason"])
    assert reasons["press"] == {"Unspecified Stop", "Equipment Failure", "Setup and Adjustments",
                                "Material Availability"}
    assert reasons["cnc"] <= {"Unspecified Stop", "Equipment Failure"}  # a cnc cannot signal setup or material
    expected = [(d["machine"], d["start_ms"], d["end_ms"], d["reason"]) for d in truth["expected_downtimes"]]
    from_intervals = sorted(((m, iv["start_ms"], iv["end_ms"], iv["reason"])
                             for m, mt in truth["per_machine"].items() for iv in mt["intervals"] if iv["downtime"]),
                            key=lambda d: (d[1], d[0]))
    assert expected == from_intervals
    codes = {iv["alarm_code"] for mt in truth["per_machine"].values() for iv in mt["intervals"]}
    assert codes & {17, 23}, "some breakdowns raise maintenance alarm codes"
    assert any(mt["speed_episodes"] for mt in truth["per_machine"].values())


@pytest.mark.parametrize("stagger", [False, True])
def test_breaks_are_planned_stops_from_the_first_reading_in_them(oracle, site, tmp_path, stagger):
    trace = oracle.make_trace(tmp_path, "--machines", "24", "--hours", "1", "--seed", "2",
                              "--start", "2026-03-02T17:45:00+01:00", *(["--stagger"] if stagger else []))
    truth = trace.truth
    ((b0, b1),) = [b for s in truth["calendar"] for b in s["breaks"] if b[0] < truth["end_ms"] and
                   b[1] > truth["start_ms"]]
    for machine, mt in truth["per_machine"].items():
        grid = Grid(mt["first_ts"], truth["period_ms"], mt["readings"])
        planned = [iv for iv in mt["intervals"] if iv["state"] == "planned_stop"]
        assert [(iv["start_ms"], iv["end_ms"]) for iv in planned] == [
            (grid.ts(grid.first_at_or_after(b0)), grid.ts(grid.first_at_or_after(b1)))], machine
        assert planned[0]["reason"] is None and not planned[0]["downtime"]
        if not stagger:  # readings on whole seconds: the break in the data is exactly the calendar break
            assert (planned[0]["start_ms"], planned[0]["end_ms"]) == (b0, b1)
    oracle.check(site, trace)


def test_shift_truth_across_a_shift_change_with_partial_shifts(oracle, site, faulty):
    truth = faulty.truth
    assert [(s["shift_id"], s["complete"]) for s in truth["calendar"]] == [("2026-03-03-early", False),
                                                                           ("2026-03-03-late", False)]
    assert [s["planned_s"] for s in truth["calendar"]] == [7200.0, 3600.0]
    for mt in truth["per_machine"].values():
        assert [s["planned_s"] for s in mt["shifts"]] == [7200.0, 3600.0]
        assert all(s["shift_end_ms"] - s["shift_start_ms"] == 8 * 3_600_000 for s in mt["shifts"])


def test_dst_night_shift_is_one_hour_shorter(oracle, site, tmp_path):
    trace = oracle.make_trace(tmp_path, "--machines", "3", "--hours", "8", "--seed", "5",
                              "--start", "2026-03-28T22:00:00+01:00")
    truth = trace.truth
    night = next(s for s in truth["calendar"] if s["shift_id"] == "2026-03-28-night")
    assert night["complete"] and night["planned_s"] == 27_000.0 - 3600.0
    assert (night["shift_end_ms"] - night["shift_start_ms"]) == 7 * 3_600_000
    for mt in truth["per_machine"].values():
        summary = next(s for s in mt["shifts"] if s["shift_id"] == "2026-03-28-night")
        assert summary["planned_s"] == 23_400.0
        assert summary["run_s"] == summary["planned_s"] - summary["downtime_s"]
    normal = Simulation(site, machines=1, hours=8.0, seed=5,
                        start_ms=int(datetime.fromisoformat("2026-03-21T22:00:00+01:00").timestamp() * 1000))
    assert normal.truth()["calendar"][0]["planned_s"] == 27_000.0
    oracle.check(site, trace)


def test_availability_policy_charges_microstops_to_availability(site):
    iso = site.model_copy(update={"processing": Thresholds(microstop_policy="availability")})
    a = Simulation(site, machines=4, hours=2.0, seed=8).truth()
    b = Simulation(iso, machines=4, hours=2.0, seed=8).truth()
    micro = 0.0
    for machine in a["machines"]:
        for sa, sb in zip(a["per_machine"][machine]["shifts"], b["per_machine"][machine]["shifts"], strict=True):
            assert sa["run_s"] == sa["planned_s"] - sa["downtime_s"]
            assert sb["run_s"] == sb["planned_s"] - sb["downtime_s"] - sb["microstop_s"]
            micro += sb["microstop_s"]
    assert micro > 0


def test_counter_reset_and_rollover_in_truth_and_data(site, as_written, as_written_batch, oracle):
    truth = as_written.truth
    rows = oracle.by_machine(site, as_written_batch)
    events = {m: mt["counter_events"] for m, mt in truth["per_machine"].items() if mt["counter_events"]}
    resets = [(m, e) for m, evs in events.items() for e in evs if e["kind"] == "reset"]
    rollovers = [(m, e) for m, evs in events.items() for e in evs if e["kind"] == "rollover"]
    assert resets and len(rollovers) == 1
    for machine, event in resets:
        r = rows[machine]
        i = int(np.searchsorted(r.ts, event["reading_ts"]))
        assert r.seq[i] == event["seq"]
        assert r.signals["part_count"][i] == 0 and r.signals["reject_count"][i] == 0
        assert r.signals["part_count"][i - 1] > 0
    machine, event = rollovers[0]
    counts = rows[machine].signals["part_count"]
    assert counts[0] == event["start_value"]
    drops = np.flatnonzero(np.diff(counts) < 0)
    assert len(drops) == 1 and counts[drops[0]] > event["counter_max"] - 100_000 and counts[drops[0] + 1] < 100_000
    mt = truth["per_machine"][machine]
    assert mt["first_counters"][0] == event["start_value"] and mt["last_counters"][0] < mt["first_counters"][0]


def test_rollover_flag_wraps_every_machine(site):
    truth = Simulation(site, machines=3, hours=1.0, seed=1, rollover=True).truth()
    for mt in truth["per_machine"].values():
        assert [e["kind"] for e in mt["counter_events"]] == ["rollover"]
        assert mt["last_counters"][0] < mt["first_counters"][0]


def test_seq_and_grid_match_the_shift_schedule(site, as_written):
    truth = as_written.truth
    shifts = ShiftSchedule.from_site(site).shifts_between(truth["start_ms"], truth["end_ms"])
    assert [s.shift_id for s in shifts] == [s["shift_id"] for s in truth["calendar"]]
    assert [s.planned_s for s in shifts] == pytest.approx([s["planned_s"] for s in truth["calendar"]])

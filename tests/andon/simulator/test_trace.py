"""The trace itself: readings follow the contract, signals behave, and gateway faults are what the truth says."""

from __future__ import annotations

import msgspec
import numpy as np

from andon.readings import Reason


def test_every_line_of_a_fault_free_trace_is_a_valid_reading(as_written, as_written_batch):
    assert as_written_batch.invalid == []
    assert len(as_written_batch) == as_written.truth["readings"]
    first = msgspec.json.decode(as_written.lines[0])
    assert list(first) == ["site", "machine", "ts", "seq", "signals"]
    assert list(first["signals"]) == ["state", "spindle_rpm", "power_kw", "part_count", "reject_count", "alarm"]


def test_readings_are_periodic_per_machine_with_seq_from_zero(site, as_written, as_written_batch, oracle):
    truth = as_written.truth
    for machine, rows in oracle.by_machine(site, as_written_batch).items():
        mt = truth["per_machine"][machine]
        assert rows.seq.tolist() == list(range(mt["readings"]))
        assert (np.diff(rows.ts) == truth["period_ms"]).all()
        assert rows.ts[0] == truth["start_ms"] + mt["phase_ms"] == mt["first_ts"]
        assert rows.ts[-1] < truth["end_ms"] <= rows.ts[-1] + truth["period_ms"]


def test_trace_is_in_time_order_without_faults(as_written_batch):
    assert (np.diff(as_written_batch.ts) >= 0).all()


def test_signals_per_class(site, as_written, as_written_batch, oracle):
    rows = oracle.by_machine(site, as_written_batch)
    cnc = site.machine_classes["cnc"].states
    for machine, r in rows.items():
        cls = site.class_of(machine)
        assert set(r.signals) == set(cls.signals), machine
        for counter in (cls.part_counter, cls.reject_counter):
            values = r.signals[counter]
            assert (values == np.round(values)).all() and (values >= 0).all() and (values <= cls.counter_max).all()
        if cls.states.source == "inferred":
            rpm = r.signals[cnc.run_signal]
            band = (rpm >= cnc.run_above - 2 * cnc.hysteresis) & (rpm <= cnc.run_above + 2 * cnc.hysteresis)
            assert not band.any(), f"{machine}: spindle speed inside the hysteresis band"
            bore = r.signals["bore_mm"]
            assert ((bore >= 24.95) & (bore <= 25.05)).mean() > 0.99
        alarm = r.signals["alarm"]
        assert set(np.unique(alarm).tolist()) <= {0, 4, 8, 12, 17, 23, 31, 42, 57}
    assert rows["press-01"].signals["power_kw"].max() < 14.0  # no false maintenance from power noise


def test_truth_matches_what_a_correct_pipeline_finds(site, as_written, as_written_batch, oracle):
    oracle.check(site, as_written, as_written_batch)


def test_malformed_lines_are_the_only_invalid_ones(site, oracle, tmp_path):
    trace = oracle.make_trace(tmp_path, "--machines", "6", "--hours", "2", "--seed", "4", "--faults", "malformed")
    batch = oracle.decode(site, trace)
    malformed = trace.truth["faults"]["malformed"]
    assert malformed > 0
    assert len(batch.invalid) == malformed
    assert len(batch) == trace.truth["readings"] == len(trace.lines) - malformed
    assert sum(trace.truth["malformed_by_kind"].values()) == malformed
    reasons = {inv.reason for inv in batch.invalid}
    assert reasons <= {Reason.MALFORMED, Reason.SCHEMA, Reason.NON_FINITE, Reason.UNKNOWN_MACHINE, Reason.TS_PAST,
                       Reason.TS_FUTURE, Reason.BAD_TIMESTAMP, Reason.INVALID_UTF8}


def test_all_faults_keep_every_reading_and_match_their_counts(site, faulty, oracle):
    truth, batch = faulty.truth, oracle.decode(site, faulty)
    faults = truth["faults"]
    assert all(faults[k] > 0 for k in ("duplicates", "out_of_order", "late", "batched", "malformed")), faults
    assert len(batch.invalid) == faults["malformed"]
    assert len(batch) == truth["readings"] + faults["duplicates"]
    assert len(faulty.lines) == truth["lines"] == (truth["readings"] + faults["duplicates"] + faults["malformed"]
                                                   - truth["batched_readings"] + faults["batched"])
    arrays = [line for line in faulty.lines if line.startswith(b"[")]
    assert len(arrays) == faults["batched"]
    sizes = [len(msgspec.json.decode(line)) for line in arrays]
    assert sum(sizes) == truth["batched_readings"] and min(sizes) >= 2 and max(sizes) <= 20
    # a batch is sent with its last reading and its first is still within the allowed lateness
    assert (max(sizes) - 1) * truth["period_ms"] < truth["allowed_lateness_s"] * 1000
    oracle.check(site, faulty, batch)


def test_late_and_out_of_order_readings_arrive_as_the_truth_says(site, faulty, oracle):
    truth = faulty.truth
    batch = oracle.decode(site, faulty)
    late = {(m, ts) for m, ts in truth["late_readings"]}
    assert len(late) == truth["faults"]["late"]
    high_water = np.maximum.accumulate(batch.ts)  # newest event time seen when each reading arrives
    from andon.readings import Registry

    keys = Registry([site]).keys
    lateness_ms = truth["allowed_lateness_s"] * 1000
    behind = high_water - batch.ts
    seen_late = {(keys[int(m)][1], int(t)) for m, t, b in zip(batch.machine, batch.ts, behind, strict=True)
                 if b > lateness_ms}
    assert seen_late == late  # only the listed readings arrive past the allowed lateness
    assert all(b >= 30_000 - truth["period_ms"] for b, m, t in zip(behind, batch.machine, batch.ts, strict=True)
               if (keys[int(m)][1], int(t)) in late)
    swapped = 0
    for m in np.unique(batch.machine):
        seq = batch.seq[batch.machine == m]
        swapped += int((np.diff(seq) < 0).sum())
    assert swapped >= truth["faults"]["out_of_order"]


def test_noise_only_has_no_stops_but_noisy_signals(site, oracle, tmp_path):
    trace = oracle.make_trace(tmp_path, "--machines", "24", "--hours", "1", "--seed", "9", "--noise-only",
                              "--start", "2026-03-02T09:45:00+01:00")
    truth = trace.truth
    assert truth["expected_downtimes"] == []
    rows = oracle.by_machine(site, oracle.decode(site, trace))
    for machine, mt in truth["per_machine"].items():
        assert {iv["state"] for iv in mt["intervals"]} == {"running", "planned_stop"}
        (shift,) = mt["shifts"]
        assert shift["downtime_s"] == 0 and shift["microstop_s"] == 0 and shift["downtime_by_reason"] == {}
        assert shift["run_s"] == shift["planned_s"] == 1800.0  # 09:45-10:45 less the 10:00-10:30 break
        assert mt["counter_events"] == []
        assert rows[machine].signals["power_kw"].std() > 0
    oracle.check(site, trace)

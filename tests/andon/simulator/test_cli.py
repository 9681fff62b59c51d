"""`andon simulate` through its entry point: the documented command, determinism, and errors that say what to do."""

from __future__ import annotations

import pytest

from andon.config import example_site_path, load_site
from andon.simulator import Simulation
from andon.simulator.cli import main


def test_documented_command_works_as_written(as_written):
    truth = as_written.truth
    assert as_written.path.name == "trace.jsonl" and as_written.truth_path.name == "trace.truth.json"
    assert len(as_written.lines) == truth["lines"] == truth["readings"] == 20 * 8 * 3600
    assert truth["machines"] == [f"press-{i:02d}" for i in range(1, 9)] + [f"cnc-{i:02d}" for i in range(1, 9)] + [
        "mold-01", "mold-02", "mold-03", "mold-04"]
    assert truth["seed"] == 7 and truth["end_ms"] - truth["start_ms"] == 8 * 3_600_000
    assert [s["shift_id"] for s in truth["calendar"]] == ["2026-03-02-early"]
    assert truth["calendar"][0]["complete"] and truth["calendar"][0]["planned_s"] == 27_000.0
    assert truth["faults"] == dict.fromkeys(("duplicates", "out_of_order", "late", "batched", "malformed"), 0)


def test_same_seed_gives_byte_identical_trace_and_truth(oracle, tmp_path):
    args = ("--machines", "6", "--hours", "2", "--seed", "11", "--faults", "all")
    a = oracle.make_trace(tmp_path / "a", *args)
    b = oracle.make_trace(tmp_path / "b", *args)
    assert a.path.read_bytes() == b.path.read_bytes()
    assert a.truth_path.read_bytes() == b.truth_path.read_bytes()


def test_api_messages_are_the_file_lines_and_truth_needs_no_encoding(oracle, site, tmp_path):
    trace = oracle.make_trace(tmp_path, "--machines", "4", "--hours", "1", "--seed", "5", "--faults", "all")
    sim = Simulation(site, machines=4, hours=1.0, seed=5, faults=frozenset({"duplicates", "out_of_order", "late",
                                                                            "batched", "malformed"}))
    assert sim.truth() == trace.truth  # computed without encoding a line
    messages = list(sim.messages())
    assert [value for _, value, _ in messages] == trace.lines
    emitted = [emit for _, _, emit in messages]
    assert emitted == sorted(emitted)
    machines = set(trace.truth["machines"])
    assert all(key.decode() in machines or key.startswith(b"ghost-") for key, _, _ in messages)


def test_different_seed_gives_a_different_trace(oracle, tmp_path):
    a = oracle.make_trace(tmp_path / "a", "--machines", "3", "--hours", "1", "--seed", "1")
    b = oracle.make_trace(tmp_path / "b", "--machines", "3", "--hours", "1", "--seed", "2")
    assert a.path.read_bytes() != b.path.read_bytes()
    assert a.truth["per_machine"]["press-01"]["intervals"] != b.truth["per_machine"]["press-01"]["intervals"]


def test_write_jsonl_api(site, tmp_path):
    truth = Simulation(site, machines=2, hours=0.5, seed=1).write_jsonl(tmp_path / "t.jsonl")
    assert (tmp_path / "t.truth.json").exists()
    assert len((tmp_path / "t.jsonl").read_bytes().splitlines()) == truth["lines"] == 2 * 1800


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--machines", "30", "--out", "x.jsonl"], "has 24 machines, 30 were asked for"),
        (["--machines", "0", "--out", "x.jsonl"], "at least 1"),
        (["--hours", "-1", "--out", "x.jsonl"], "--hours must be a positive number"),
        (["--faults", "duplicates,gremlins", "--out", "x.jsonl"], "unknown fault kind(s): gremlins"),
        (["--start", "yesterday", "--out", "x.jsonl"], "is not an ISO 8601 date-time"),
        (["--period-ms", "60000", "--out", "x.jsonl"], "--period-ms must be between"),
        (["--hours", "1"], "nowhere to write"),
        (["--config", "missing.toml", "--out", "x.jsonl"], "does not exist"),
        (["--frobnicate"], "No such option '--frobnicate'"),
    ],
)
def test_errors_say_what_is_wrong_and_what_to_do(args, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and "what to do:" in err
    assert not (tmp_path / "x.jsonl").exists()


def test_progress_line_on_stderr(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["--machines", "2", "--hours", "0.25", "--out", "p.jsonl", "--progress"]) == 0
    err = capsys.readouterr().err
    assert "00:15:00 of 00:15:00 simulated (100 %)" in err and "truth in p.truth.json" in err


def test_real_time_pacing_follows_speed(tmp_path, monkeypatch):
    import time

    monkeypatch.chdir(tmp_path)
    t0 = time.monotonic()
    assert main(["--machines", "1", "--hours", str(20 / 3600), "--speed", "40", "--out", "s.jsonl"]) == 0
    assert 0.4 <= time.monotonic() - t0 < 5.0  # 20 simulated seconds at 40x take about half a second


def test_default_config_is_the_example_site():
    assert len(load_site(example_site_path()).machines) == 24

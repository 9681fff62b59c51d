"""1 worker, 2 workers and 2 processes give identical events and Parquet (names and content)."""

from __future__ import annotations

import os
import subprocess
import sys

from flowtools import ROOT, andon, events_of, file_names, parquet_of

from andon.connectors.broker import free_port


def replay(trace, out, *extra):
    andon("replay", str(trace), "--out", str(out), "--batch-size", "2000", *extra)


def assert_same_outputs(a, b):
    assert events_of(a / "events.jsonl") == events_of(b / "events.jsonl")
    assert sorted((a / "dlq.jsonl").read_bytes().splitlines()) == sorted((b / "dlq.jsonl").read_bytes().splitlines())
    assert file_names(a) == file_names(b)
    for dataset in ("telemetry_agg", "shift_oee"):
        assert parquet_of(a, dataset).equals(parquet_of(b, dataset)), dataset


def test_one_worker_two_workers_two_processes_agree(small_trace, tmp_path):
    trace, truth = small_trace
    one, two, procs = tmp_path / "one", tmp_path / "two", tmp_path / "procs"
    replay(trace, one)
    replay(trace, two, "--workers", "2")
    addresses = f"127.0.0.1:{free_port()};127.0.0.1:{free_port()}"
    cmd = [sys.executable, "-m", "andon.cli", "replay", str(trace), "--out", str(procs), "--batch-size", "2000",
           "--addresses", addresses]
    running = [subprocess.Popen([*cmd, "--process-id", str(i)], cwd=ROOT, env=dict(os.environ),
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for i in range(2)]
    for proc in running:
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, out
    events = events_of(one / "events.jsonl")
    assert len(events) > 100
    assert parquet_of(one, "shift_oee").height > 0
    assert_same_outputs(one, two)
    assert_same_outputs(one, procs)
    # the trace's late readings are routed, not lost
    late = [line for line in (one / "dlq.jsonl").read_bytes().splitlines() if b'"late_reading"' in line]
    assert len(late) >= 1

"""Health probes that mean something: a cluster process whose peer never comes is not ready and, after the
liveness timeout, not alive; one whose peer gets stuck mid-run (SIGSTOP) while input waits is not alive after the
timeout either; a running process is both, idle or not."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import pytest
from flowtools import ROOT, produce_trace, run_args, site_config
from httptools import get

from andon.connectors.broker import free_port

pytestmark = pytest.mark.broker


def wait_for(predicate, timeout_s: float):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    return predicate()


def start(args, env):
    return subprocess.Popen([sys.executable, "-m", "andon.cli", *args], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def stop(proc) -> str:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    return proc.communicate(timeout=30)[1]


def readings_in(port: int) -> float:
    for line in get(port, "/metrics")[1].splitlines():
        if line.startswith("andon_readings_in_total "):
            return float(line.split()[1])
    return 0.0


def halves(trace, tmp_path):
    """The trace's first and second half, as two files."""
    lines = trace.read_bytes().splitlines(keepends=True)
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    first.write_bytes(b"".join(lines[:len(lines) // 2]))
    second.write_bytes(b"".join(lines[len(lines) // 2:]))
    return (first, len(lines) // 2), (second, len(lines) - len(lines) // 2)


def test_liveness_fails_for_a_process_whose_peer_never_comes(broker, small_trace, tmp_path):
    _, truth = small_trace
    config, _ = site_config(tmp_path, broker, f"peer{uuid.uuid4().hex[:6]}")
    port = free_port()
    peers = f"127.0.0.1:{free_port()};127.0.0.1:{free_port()}"  # process 1 is never started
    args = [a for a in run_args(config, tmp_path / "out", truth) if a not in ("--eof-idle", "4")]
    env = {**os.environ, "ANDON_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap}
    proc = start([*args, "--addresses", peers, "--process-id", "0", "--metrics-port", str(port),
                  "--liveness-timeout", "4"], env)
    try:
        assert wait_for(lambda: get(port, "/healthz")[0] == 200, 30), "no health endpoint"
        assert wait_for(lambda: "dataflow" in get(port, "/readyz")[1], 20)  # past "starting": the checks run
        code, body = get(port, "/readyz")
        assert code == 503 and "dataflow: not ready (the dataflow has not started" in body, body
        assert wait_for(lambda: get(port, "/healthz")[0] == 503, 20), "liveness never failed"
        code, body = get(port, "/healthz")
        assert "not alive: the dataflow has not started after" in body and "peers of the cluster" in body
        assert get(port, "/readyz")[0] == 503
    finally:
        stop(proc)


def test_liveness_fails_for_a_process_whose_peer_gets_stuck_mid_run(broker, small_trace, tmp_path):
    trace, truth = small_trace
    config, topics = site_config(tmp_path, broker, f"stuck{uuid.uuid4().hex[:6]}")
    peers = f"127.0.0.1:{free_port()};127.0.0.1:{free_port()}"
    ports = [free_port(), free_port()]
    args = [a for a in run_args(config, tmp_path / "out", truth) if a not in ("--eof-idle", "4")]
    env = {**os.environ, "ANDON_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap}
    procs = [start([*args, "--addresses", peers, "--process-id", str(i), "--metrics-port", str(port),
                    "--liveness-timeout", "4"], env) for i, port in enumerate(ports)]
    (first, n_first), (second, _) = halves(trace, tmp_path)
    try:
        assert wait_for(lambda: all(get(port, "/readyz")[0] == 200 for port in ports), 60), "the cluster never ran"
        produce_trace(broker, topics[0], first)
        # both processes warm (kernels compiled, first batches done), the first half read
        assert wait_for(lambda: sum(readings_in(port) for port in ports) == n_first, 90), "the first half not read"
        time.sleep(5)  # past the liveness timeout with nothing waiting: idle is not stuck
        assert [get(port, "/healthz") for port in ports] == [(200, "ok\n")] * 2
        os.kill(procs[1].pid, signal.SIGSTOP)  # the peer hangs (a stalled node, a frozen VM), its socket stays open
        produce_trace(broker, topics[0], second)  # input waits
        assert wait_for(lambda: get(ports[0], "/healthz")[0] == 503, 30), "liveness never failed"
        code, body = get(ports[0], "/healthz")
        assert "not alive:" in body and "the dataflow is stuck" in body, body
        time.sleep(5)  # not one slow batch: it stays stuck while the peer does
        assert get(ports[0], "/healthz")[0] == 503
    finally:
        for proc in procs:
            stop(proc)


def test_a_running_process_is_ready_and_alive(broker, small_trace, tmp_path):
    trace, truth = small_trace
    config, topics = site_config(tmp_path, broker, f"live{uuid.uuid4().hex[:6]}")
    produced = produce_trace(broker, topics[0], trace)
    port = free_port()
    args = [a for a in run_args(config, tmp_path / "out", truth) if a not in ("--eof-idle", "4")]
    env = {**os.environ, "ANDON_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap}
    proc = start([*args, "--metrics-port", str(port), "--liveness-timeout", "4"], env)
    try:
        assert wait_for(lambda: get(port, "/readyz")[0] == 200, 60), get(port, "/readyz")
        # drained (a first batch compiles the kernels: seconds without a poll, longer than this 4 s timeout)
        assert wait_for(lambda: readings_in(port) == produced, 90), readings_in(port)
        time.sleep(5)  # past the liveness timeout: the topic is drained, nothing waits, still alive
        assert get(port, "/healthz") == (200, "ok\n")
        assert get(port, "/readyz")[0] == 200
    finally:
        stop(proc)

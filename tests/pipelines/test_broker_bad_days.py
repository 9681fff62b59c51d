"""The broker's bad days, tried from outside on `andon run telemetry`: absent at start, gone mid-run, back empty.

Durations are kept short for the suite: a 3 s `--broker-wait`, a 20 s outage (ANDON_TEST_OUTAGE_S overrides; the
behaviour does not depend on the length: the flow waits as long as the broker is away).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import pytest
from confluent_kafka import Producer
from flowtools import ROOT, andon, events_from_topic, events_of, parquet_of, run_args, site_config

from andon.config import example_site_path
from andon.connectors.broker import EmbeddedBroker, create_topics, free_port

pytestmark = [pytest.mark.broker, pytest.mark.fault]

OUTAGE_S = float(os.environ.get("ANDON_TEST_OUTAGE_S", "20"))


def _produce(bootstrap: str, topic: str, lines: list[bytes]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 20})
    for line in lines:
        doc = json.loads(line)
        machine = (doc[0] if isinstance(doc, list) else doc)["machine"]
        while True:
            try:
                producer.produce(topic, line, machine.encode())
                break
            except BufferError:
                producer.poll(0.1)
    assert producer.flush(30) == 0


def _readings(lines: list[bytes]) -> int:
    return sum(len(doc) if isinstance(doc, list) else 1 for doc in map(json.loads, lines))


def _get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


def _metric(port: int, name: str) -> float | None:
    _, text = _get(port, "/metrics")
    values = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name + " ")
              or line.startswith(name + "{")]
    return sum(values) if values else None


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as fh:
            return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:")) / 1024
    except (OSError, StopIteration):
        return 0.0


def _start(cmd_args: list[str], env: dict, log_path):
    log = open(log_path, "w")
    return subprocess.Popen([sys.executable, "-m", "andon.cli", *cmd_args], cwd=ROOT, env={**os.environ, **env},
                            stdout=subprocess.DEVNULL, stderr=log, start_new_session=True), log


@pytest.mark.parametrize("command", ["telemetry", "odoo-sync"])
def test_broker_absent_at_start_waits_then_one_clear_error(command, tmp_path):
    port = free_port()  # nothing listens there
    env = {"ANDON_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{port}", "ANDON_ODOO_PASSWORD": "x"}
    extra = ["--out", str(tmp_path)] if command == "telemetry" else ["--audit", str(tmp_path / "a.jsonl")]
    started = time.monotonic()
    done = andon("run", command, "--config", str(example_site_path()), *extra, "--broker-wait", "3", env=env,
                 check=False, timeout=60)
    waited = time.monotonic() - started
    assert done.returncode == 3, done.stderr  # 3: Kafka or Odoo unreachable (andon.exits)
    assert waited >= 3
    assert done.stderr.count("error:") == 1 and "Traceback" not in done.stderr
    assert f"no Kafka broker answered at 127.0.0.1:{port} within 3 s" in done.stderr
    assert "what to do: start the broker" in done.stderr
    # the wait is announced once (then every 10 s), not once per retry nor twice in other words
    assert done.stderr.count(f"waiting for the Kafka broker at 127.0.0.1:{port} (up to 3 s") == 1, done.stderr
    assert "unreachable for" not in done.stderr and "still no Kafka broker" not in done.stderr, done.stderr


def test_broker_arriving_within_the_wait_is_used_and_not_ready_meanwhile(small_trace, tmp_path):
    trace, truth = small_trace
    lines = trace.read_bytes().splitlines()
    kafka_port, metrics = free_port(), free_port()
    tag = f"late{uuid.uuid4().hex[:6]}"
    config = tmp_path / "site.toml"
    text = example_site_path().read_text()
    for name in ("andon.telemetry.dlq.v1", "andon.telemetry.v1", "andon.events.dlq.v1", "andon.events.v1"):
        text = text.replace(f'"{name}"', f'"{tag}.{name}"')
    config.write_text(text)
    env = {"ANDON_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{kafka_port}"}
    proc, log = _start([*run_args(config, tmp_path / "out", truth), "--broker-wait", "60",
                        "--metrics-port", str(metrics)], env, tmp_path / "flow.log")
    try:
        deadline = time.monotonic() + 20
        while _get(metrics, "/readyz")[0] != 503 and time.monotonic() < deadline:
            time.sleep(0.2)
        status, body = _get(metrics, "/readyz")
        assert status == 503, f"not ready while waiting for the broker: {status} {body}"
        with EmbeddedBroker(port=kafka_port) as broker:
            topics = [f"{tag}.andon.{t}" for t in ("telemetry.v1", "telemetry.dlq.v1", "events.v1", "events.dlq.v1")]
            create_topics(broker.bootstrap, topics, partitions=4)
            _produce(broker.bootstrap, topics[0], lines)
            assert proc.wait(timeout=120) == 0, (tmp_path / "flow.log").read_text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
    tail = (tmp_path / "flow.log").read_text()
    assert f"telemetry dataflow finished: {_readings(lines):,} readings" in tail


def test_telemetry_rides_out_a_broker_outage_without_restarting(kafka_only, small_trace, tmp_path, fault_summary):
    """The broker stops for OUTAGE_S seconds in the middle of a live run and comes back with its data; the flow is
    not ready meanwhile, then resumes by itself. Events and Parquet equal a clean replay; no event twice."""
    trace, truth = small_trace
    lines = trace.read_bytes().splitlines()
    half = len(lines) // 2
    metrics = free_port()
    with EmbeddedBroker(data_dir=tmp_path / "kafka") as broker:
        config, topics = site_config(tmp_path, broker, f"out{uuid.uuid4().hex[:6]}")
        _produce(broker.bootstrap, topics[0], lines[:half])
        env = {"ANDON_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap}
        proc, log = _start([*run_args(config, tmp_path / "live", truth), "--metrics-port", str(metrics)], env,
                           tmp_path / "flow.log")
        try:
            deadline = time.monotonic() + 60
            while (_metric(metrics, "andon_readings_in_total") or 0) < _readings(lines[:half]) // 2:
                assert time.monotonic() < deadline and proc.poll() is None, (tmp_path / "flow.log").read_text()
                time.sleep(0.2)
            broker.stop()
            outage_end = time.monotonic() + OUTAGE_S
            not_ready = broker_down = False
            rss_at_stop, rss_peak = _rss_mb(proc.pid), 0.0
            while time.monotonic() < outage_end:
                rss_peak = max(rss_peak, _rss_mb(proc.pid))
                status, body = _get(metrics, "/readyz")
                not_ready |= status == 503 and "kafka: not ready" in body
                broker_down |= _metric(metrics, "andon_kafka_broker_up") == 0
                assert proc.poll() is None, "the flow ended during the outage:\n" + (tmp_path / "flow.log").read_text()
                time.sleep(0.5)
            broker.start()
            _produce(broker.bootstrap, topics[0], lines[half:])
            deadline = time.monotonic() + 30
            while _get(metrics, "/readyz")[0] != 200 and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.2)
            ready_again = _get(metrics, "/readyz")[0] == 200 or proc.poll() == 0
            rc = proc.wait(timeout=180)
        finally:
            if proc.poll() is None:
                proc.kill()
            log.close()
        flow_log = (tmp_path / "flow.log").read_text()
        assert rc == 0, flow_log[-3000:]
        events = events_from_topic(broker, topics[2])
    replayed = tmp_path / "replay"
    andon("replay", str(trace), "--config", str(config), "--out", str(replayed))
    expected = events_of(replayed / "events.jsonl")
    got = {e["event_id"]: e for e in events}
    fault_summary(faults=f"broker stopped {OUTAGE_S:g} s mid-run (data kept)", readings_in=_readings(lines),
                  events_expected=len(expected), events_applied=len(set(got) & set(expected)),
                  duplicates=len(events) - len(got), lost=len(set(expected) - set(got)), flow_exit=rc,
                  rss_mb=f"{rss_at_stop:.0f}->{rss_peak:.0f} during the outage")
    assert not_ready and broker_down, "readiness and andon_kafka_broker_up reported the outage"
    assert rss_peak - rss_at_stop < 150, f"memory grew from {rss_at_stop:.0f} to {rss_peak:.0f} MB while waiting"
    assert ready_again
    assert got == expected
    assert len(events) == len(got), "no event produced twice"
    for dataset in ("telemetry_agg", "shift_oee"):
        assert parquet_of(tmp_path / "live", dataset).equals(parquet_of(replayed, dataset)), dataset


def test_broker_back_empty_with_an_old_recovery_dir_reads_everything_again(small_trace, tmp_path):
    """A snapshot's offsets point past the end of a broker that came back empty (topics created again): the reset
    is detected, logged and counted, and reading resumes at the earliest kept offset instead of skipping."""
    trace, truth = small_trace
    lines = trace.read_bytes().splitlines()
    recovery = tmp_path / "recovery"
    with EmbeddedBroker(data_dir=tmp_path / "kafka") if _kafka() else EmbeddedBroker() as broker:
        config, topics = site_config(tmp_path, broker, f"empty{uuid.uuid4().hex[:6]}")
        env = {"ANDON_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap}
        _produce(broker.bootstrap, topics[0], lines)
        andon(*run_args(config, tmp_path / "first", truth, "--recovery-dir", str(recovery)), env=env)
        broker.restart(wipe=True)
        create_topics(broker.bootstrap, topics, partitions=4)
        again = lines[: len(lines) // 3]  # fewer messages than the saved offsets: those point past the new end
        _produce(broker.bootstrap, topics[0], again)
        second = andon(*run_args(config, tmp_path / "second", truth, "--recovery-dir", str(recovery)), env=env)
    assert "is not on the broker" in second.stderr or "re-created" in second.stderr, second.stderr[-3000:]
    assert f"telemetry dataflow finished: {_readings(again):,} readings" in second.stderr, second.stderr[-2000:]


def _kafka() -> bool:
    return os.environ.get("ANDON_BROKER") == "kafka"

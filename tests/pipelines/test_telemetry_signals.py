"""SIGTERM and SIGINT stop `andon run telemetry` cleanly: exit 0 within seconds, no panic report, outputs written
and a final snapshot taken, so the restart loses and duplicates nothing (compared with an uninterrupted run)."""

from __future__ import annotations

import os
import signal
import time
import uuid

import pytest
from flowtools import (
    andon,
    events_from_topic,
    file_names,
    parquet_of,
    produce_trace,
    run_args,
    running_andon,
    site_config,
    stop_by_signal,
)
from httptools import get

from andon.connectors.broker import free_port

pytestmark = pytest.mark.broker


def readings_in(port: int) -> float:
    try:
        status, body = get(port, "/metrics")
    except OSError:
        return 0.0
    for line in body.splitlines():
        if line.startswith("andon_readings_in_total "):
            return float(line.split()[1])
    return 0.0


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_mid_run_stops_cleanly_and_the_restart_loses_and_duplicates_nothing(signum, small_trace, broker,
                                                                                  tmp_path):
    trace, truth = small_trace
    env = {**os.environ, "ANDON_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap}
    clean_cfg, clean_topics = site_config(tmp_path, broker, f"clean{uuid.uuid4().hex[:6]}")
    stop_cfg, stop_topics = site_config(tmp_path, broker, f"stop{uuid.uuid4().hex[:6]}")
    produce_trace(broker, clean_topics[0], trace)
    produce_trace(broker, stop_topics[0], trace)
    clean, stopped, recovery = tmp_path / "clean", tmp_path / "stopped", tmp_path / "recovery"
    andon(*run_args(clean_cfg, clean, truth), env=env)

    port = free_port()
    live = [a for a in run_args(stop_cfg, stopped, truth, "--recovery-dir", str(recovery)) if a != "--eof-idle"]
    live.remove("4")  # no --eof-idle: a production run that only a signal ends
    with running_andon(*live, "--metrics-port", str(port), env=env) as proc:
        deadline = time.monotonic() + 60
        while readings_in(port) == 0 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert readings_in(port) > 0, "the dataflow never started reading"
        print(f"signal after {readings_in(port):.0f} readings")
        _, err = stop_by_signal(proc, signum)
    assert "final snapshot taken" in err

    andon(*run_args(stop_cfg, stopped, truth, "--recovery-dir", str(recovery)), env=env)  # the restart
    for dataset in ("telemetry_agg", "shift_oee"):
        assert parquet_of(stopped, dataset).equals(parquet_of(clean, dataset)), dataset
    assert file_names(stopped) == file_names(clean)
    clean_events = {e["event_id"]: e for e in events_from_topic(broker, clean_topics[2])}
    stop_events = events_from_topic(broker, stop_topics[2])
    assert {e["event_id"]: e for e in stop_events} == clean_events, "an event was lost or changed"
    assert len(stop_events) == len(clean_events), "an event was emitted twice across the stop"

"""An error that ends a run is one message with what to do, a documented exit status and no traceback: an
unreachable broker, a wrong Odoo password, a metrics port already in use. A signal is no error: the work-order
poller, like the dataflows (test_telemetry_signals.py), stops cleanly with exit 0."""

from __future__ import annotations

import json
import os
import signal
import socket
import time
import uuid

import pytest
from flowtools import andon, events_from_topic, running_andon, site_config, stop_by_signal
from httptools import get

from andon.config import example_site_path
from andon.connectors.broker import free_port
from andon.connectors.standin import run_standin


def one_message(proc, label: str, status: int, *needles: str) -> None:
    err = proc.stderr
    assert proc.returncode == status, err
    assert err.count(f"andon {label}: error:") == 1, err
    for bad in ("Traceback", "panicked", "stack backtrace", "%3|"):
        assert bad not in err, err
    for needle in needles:
        assert needle in err, err
    assert "what to do:" in err


def test_unreachable_broker_exits_3(tmp_path):
    port = free_port()  # nothing listens there
    proc = andon("run", "telemetry", "--config", str(example_site_path()), "--out", str(tmp_path),
                 "--broker-wait", "2", env={"ANDON_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{port}"}, check=False,
                 timeout=60)
    one_message(proc, "run telemetry", 3, f"127.0.0.1:{port}", "ANDON_KAFKA_BOOTSTRAP_SERVERS")
    lines = proc.stderr.strip().splitlines()
    # the error and what to do, after the waiting notes of --broker-wait
    assert lines[-2].startswith("andon run telemetry: error:") and lines[-1].startswith("  what to do:")
    assert all(" WARNING andon.kafka: " in line for line in lines[:-2]), lines


OUTPUT_OPTION = {"telemetry": "--out", "odoo-sync": "--audit", "workorders": "--state"}


@pytest.mark.parametrize("command", ["telemetry", "odoo-sync", "workorders"])
def test_busy_metrics_port_exits_4(command, tmp_path):
    with socket.socket() as busy:
        busy.bind(("0.0.0.0", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = andon("run", command, "--config", str(example_site_path()), OUTPUT_OPTION[command],
                     str(tmp_path / "x"), "--metrics-port", str(port), env={"ANDON_ODOO_PASSWORD": "x"}, check=False,
                     timeout=60)
    one_message(proc, f"run {command}", 4, f"cannot serve metrics and health on 0.0.0.0:{port}",
                "--metrics-port")


@pytest.mark.parametrize("command", ["telemetry", "odoo-sync", "workorders"])
def test_metrics_host_is_the_address_the_status_server_binds(command, tmp_path):
    """--metrics-host 127.0.0.1 binds loopback only: the port taken there is refused naming that address."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = andon("run", command, "--config", str(example_site_path()), OUTPUT_OPTION[command],
                     str(tmp_path / "x"), "--metrics-port", str(port), env={"ANDON_ODOO_PASSWORD": "x",
                                                                            "ANDON_METRICS_HOST": "127.0.0.1"},
                     check=False, timeout=60)
    one_message(proc, f"run {command}", 4, f"cannot serve metrics and health on 127.0.0.1:{port}")


@pytest.mark.broker
@pytest.mark.odoo
def test_wrong_odoo_password_exits_3_before_reading_anything(broker, tmp_path):
    config, _ = site_config(tmp_path, broker, f"pw{uuid.uuid4().hex[:6]}")
    with run_standin(tmp_path / "odoo") as odoo:
        proc = andon("run", "odoo-sync", "--config", str(config), "--eof-idle", "3", "--audit",
                     str(tmp_path / "audit.jsonl"), env={"ANDON_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
                                                         "ANDON_ODOO_URL": odoo.url, "ANDON_ODOO_PASSWORD": "Wr0ng-Secret-42"},
                     check=False, timeout=120)
    one_message(proc, "run odoo-sync", 3, "Odoo login", "refused", "ANDON_ODOO_PASSWORD")
    assert "Wr0ng-Secret-42" not in proc.stderr  # the secret is never printed


def test_an_error_inside_the_dataflow_is_one_message_without_a_panic_report(small_trace, tmp_path):
    trace, _ = small_trace
    out = tmp_path / "out"
    out.mkdir()
    (out / "telemetry_agg").write_text("a file where the dataset folder should be")
    proc = andon("replay", str(trace), "--out", str(out), check=False)
    one_message(proc, "replay", 4, "writing Parquet file", "failed: Not a directory", "check free space")


@pytest.mark.broker
@pytest.mark.odoo
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_workorders_stops_cleanly_on_a_signal_and_the_restart_publishes_nothing_twice(signum, broker, tmp_path):
    from andon.connectors.standin.testing import INTEGRATION_PASSWORD

    config, topics = site_config(tmp_path, broker, f"wo{uuid.uuid4().hex[:6]}")
    state, port = tmp_path / "wo.json", free_port()
    run = ["run", "workorders", "--config", str(config), "--state", str(state)]
    with run_standin(tmp_path / "odoo") as odoo:
        env = {**os.environ, "ANDON_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap, "ANDON_ODOO_URL": odoo.url,
               "ANDON_ODOO_PASSWORD": INTEGRATION_PASSWORD}
        with running_andon(*run, "--interval", "60", "--metrics-port", str(port), env=env) as proc:
            deadline = time.monotonic() + 60
            while not state.exists() and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.1)  # the first poll published and saved its cursor; the next is 60 s away
            assert state.exists(), "the first poll never finished"
            assert get(port, "/readyz")[0] == 200
            _, err = stop_by_signal(proc, signum)
        published = json.loads(err.strip().splitlines()[-1])["published"]
        assert published > 0
        again = andon(*run, "--once", env=env)  # the restart
    assert json.loads(again.stderr.strip().splitlines()[-1])["published"] == 0, again.stderr
    events = events_from_topic(broker, topics[4])
    assert len(events) == len({e["event_id"] for e in events}) == published, "a work order published twice or lost"

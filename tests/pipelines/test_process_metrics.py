"""Each process exports its own metrics: labelled series exist from the start, a build-info gauge, the telemetry
process an event-time freshness gauge per site; no process serves another one's metrics. Every scrape the
monitoring component configures (telemetry's andon and bytewax dataflow-API ports, odoo-sync, workorders) passes
`promtool check metrics` (`make promtool-deb`; the test skips, after its other checks, without promtool)."""

from __future__ import annotations

import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid

import pytest
from flowtools import ROOT, produce_trace, run_args, site_config
from httptools import get

from andon.connectors.broker import free_port
from andon.connectors.standin import run_standin

pytestmark = pytest.mark.broker


def promtool() -> str | None:
    local = ROOT / "tools" / "bin" / "promtool"
    return str(local) if local.exists() else shutil.which("promtool")


def scrape(port: int, until: str, proc=None) -> str:
    """/metrics on `port` once it shows `until` (a regex, multiline)."""
    deadline = time.monotonic() + 60
    body = ""
    while time.monotonic() < deadline and (proc is None or proc.poll() is None):
        try:
            code, body = get(port, "/metrics")
        except OSError:  # not listening yet
            code = 0
        if code == 200 and re.search(until, body, re.M):
            return body
        time.sleep(0.2)
    raise AssertionError(f"never saw {until!r} in /metrics on port {port}:\n{body[-3000:]}")


def scrape_while_running(args, env, port: int, until: str, *more: tuple[int, str]) -> list[str] | str:
    """The process's /metrics once it shows `until`; with `more` ((port, regex), ...) those scrapes too, as a list."""
    proc = subprocess.Popen([sys.executable, "-m", "andon.cli", *args, "--metrics-port", str(port)], cwd=ROOT,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        bodies = [scrape(port, until, proc), *(scrape(p, regex, proc) for p, regex in more)]
        return bodies if more else bodies[0]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)


def sample(body: str, name: str, **labels) -> float | None:
    for line in body.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            got = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0])) if "{" in line else {}
            if all(got.get(k) == v for k, v in labels.items()):
                return float(line.rsplit(" ", 1)[1])
    return None


def check_with_promtool(*bodies: str) -> None:
    """`promtool check metrics` on each scrape: exit 0 and no lint problem printed."""
    tool = promtool()
    if tool is None:
        pytest.skip("the other checks passed; promtool is not installed for `promtool check metrics` "
                    "(`make promtool-deb`)")
    for body in bodies:
        proc = subprocess.run([tool, "check", "metrics"], input=body, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0 and not (proc.stdout + proc.stderr).strip(), proc.stdout + proc.stderr


def test_telemetry_exports_its_own_metrics(broker, small_trace, tmp_path):
    trace, truth = small_trace
    config, topics = site_config(tmp_path, broker, f"m{uuid.uuid4().hex[:6]}")
    produce_trace(broker, topics[0], trace)
    args = [a for a in run_args(config, tmp_path / "out", truth) if a not in ("--eof-idle", "4")]
    api = free_port()  # bytewax's dataflow API, as k8s/base/telemetry.yaml enables it (its port dataflow-api)
    env = {**os.environ, "ANDON_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap, "BYTEWAX_DATAFLOW_API_ENABLED": "true",
           "BYTEWAX_DATAFLOW_API_PORT": str(api)}
    body, engine = scrape_while_running(args, env, free_port(), r"^andon_window_rows_total [1-9]",
                                        (api, r"^bytewax_item_out_count_total\{"))
    from andon import __version__

    assert sample(body, "andon_build_info", version=__version__, command="telemetry") == 1.0
    lag = sample(body, "andon_event_time_lag_seconds", site="plant-a")
    assert lag is not None and math.isfinite(lag)  # the trace is from 2026-03-02 and the clock is now: positive
    for reason in ("timestamp_too_old", "unknown_machine", "malformed_json"):  # no such reading yet: still a series
        assert sample(body, "andon_readings_invalid_total", reason=reason) is not None, reason
    assert sample(body, "andon_events_out_total", type="quality.hold_raised") is not None
    assert sample(body, "andon_dead_letters_total", topic=topics[1], reason="unknown_site") is not None
    assert "andon_odoo_" not in body, "telemetry serves odoo-sync's metrics"
    assert "andon_odoo_" not in engine
    check_with_promtool(body, engine)


@pytest.mark.odoo
def test_odoo_sync_exports_its_own_metrics(broker, tmp_path):
    from andon.connectors.standin.testing import INTEGRATION_PASSWORD

    config, topics = site_config(tmp_path, broker, f"o{uuid.uuid4().hex[:6]}")
    with run_standin(tmp_path / "odoo") as odoo:
        env = {**os.environ, "ANDON_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap, "ANDON_ODOO_URL": odoo.url,
               "ANDON_ODOO_PASSWORD": INTEGRATION_PASSWORD}
        body = scrape_while_running(["run", "odoo-sync", "--config", str(config), "--audit",
                                     str(tmp_path / "audit.jsonl")], env, free_port(), r"^andon_odoo_events_total\{")
    assert sample(body, "andon_build_info", command="odoo-sync") == 1.0
    assert sample(body, "andon_odoo_events_total", type="production.scrap_recorded", outcome="applied") == 0.0
    assert sample(body, "andon_odoo_errors_total", kind="auth") == 0.0
    for name in ("andon_readings_in_total", "andon_window_rows_total", "andon_event_time_lag_seconds"):
        assert name not in body, f"odoo-sync serves telemetry's {name}"
    check_with_promtool(body)


@pytest.mark.odoo
def test_workorders_exports_its_own_metrics(broker, tmp_path):
    from andon.connectors.standin.testing import INTEGRATION_PASSWORD

    config, _ = site_config(tmp_path, broker, f"w{uuid.uuid4().hex[:6]}")
    with run_standin(tmp_path / "odoo") as odoo:
        env = {**os.environ, "ANDON_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap, "ANDON_ODOO_URL": odoo.url,
               "ANDON_ODOO_PASSWORD": INTEGRATION_PASSWORD}
        # the first poll timed: Odoo answered, the orders were published
        body = scrape_while_running(["run", "workorders", "--config", str(config), "--state",
                                     str(tmp_path / "wo.json"), "--interval", "60"], env, free_port(),
                                    r'^andon_odoo_call_duration_seconds_count\{.*model="mrp.workcenter"')
    assert sample(body, "andon_build_info", command="workorders") == 1.0
    for kind in ("auth", "access", "unavailable", "timeout"):  # no failure yet: still a series each
        assert sample(body, "andon_odoo_errors_total", kind=kind) == 0.0, kind
    assert sample(body, "andon_odoo_circuit_state") == 0.0
    for name in ("andon_readings_in_total", "andon_window_rows_total", "andon_event_time_lag_seconds",
                 "andon_odoo_unapplied_events", "andon_odoo_events_total", "andon_odoo_holds_total",
                 "andon_odoo_held_seconds_total"):
        assert name not in body, f"workorders serves another process's {name}"
    check_with_promtool(body)

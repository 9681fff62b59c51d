"""OdooClient against the stand-in over each transport: calls, typed errors, retries, circuit breaker."""

from __future__ import annotations

import logging
import socket
import threading
import time

import pytest

from andon.config import OdooSettings
from andon.connectors.odoo import (
    CircuitBreaker,
    OdooAccessError,
    OdooAuthError,
    OdooCircuitOpenError,
    OdooConfigError,
    OdooRequestError,
    OdooTransientError,
    OdooUserError,
    OdooValidationError,
    RetryPolicy,
)
from andon.connectors.odoo.client import make_transport
from andon.connectors.standin import run_standin
from andon.connectors.standin.testing import INTEGRATION_KEY, INTEGRATION_PASSWORD

pytestmark = pytest.mark.odoo

TRANSPORTS = ["xmlrpc", "jsonrpc", "json2"]


def _calls(standin, key: str) -> int:
    return standin.stats()["by_method"].get(key, 0)


@pytest.mark.parametrize("transport, code", [("xmlrpc", "WC-PRESS-05"), ("jsonrpc", "WC-PRESS-06"),
                                             ("json2", "WC-PRESS-07")])
def test_roundtrip(standin, make_client, transport, code):
    client = make_client(standin.url, transport)
    assert client.version()["server_version"] == "19.0"
    assert client.uid == 3  # andon-integration
    order = client.search_read("mrp.workorder", [("workcenter_id.code", "=", code)],
                               ["name", "state", "workcenter_id"])[0]
    assert order["state"] == "ready"
    model, loss = client.ref("andon.loss_unspecified_stop")
    assert model == "mrp.workcenter.productivity.loss"
    log_id = client.create("mrp.workcenter.productivity", {
        "workcenter_id": order["workcenter_id"][0], "loss_id": loss, "description": "event evt-1",
        "date_start": "2025-05-01 06:00:00", "date_end": "2025-05-01 06:10:00"})
    assert client.read("mrp.workcenter.productivity", [log_id], ["duration"])[0]["duration"] == 10.0
    # 19's button_start returns None: null over JSON, and over XML-RPC Odoo's "cannot marshal None" fault after
    # the commit, which the client takes for the None it is
    assert client.call_button("mrp.workorder", [order["id"]], "button_start") is None
    assert client.search_count("mrp.workorder", [("workcenter_id.code", "=", code), ("state", "=", "progress")]) == 1
    ids = client.create_many("stock.lot", [{"name": f"L-{transport}-1", "product_id": 1},
                                           {"name": f"L-{transport}-2", "product_id": 1}])
    assert len(ids) == 2 and client.search("stock.lot", [("id", "in", ids)], order="id desc") == ids[::-1]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_wrong_credentials(standin, make_client, transport):
    client = make_client(standin.url, transport, password="wrong", api_key="wrong-key")
    with pytest.raises(OdooAuthError):
        client.search("mrp.workcenter")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_access_error_is_not_retried(standin, make_client, transport):
    client = make_client(standin.url, transport)
    client.uid  # noqa: B018 - log in first
    standin.reset_stats()
    with pytest.raises(OdooAccessError) as info:
        client.write("mrp.workcenter", [1], {"name": "renamed"})
    assert isinstance(info.value, PermissionError)
    assert _calls(standin, "mrp.workcenter.write") == 1
    assert client.counters["retries"] == 0


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_validation_and_user_errors_are_not_retried(standin, make_client, transport):
    client = make_client(standin.url, transport)
    client.uid  # noqa: B018
    standin.reset_stats()
    with pytest.raises(OdooValidationError, match="mandatory field"):
        client.create("maintenance.request", {"description": "no subject"})
    with pytest.raises(OdooRequestError, match="Invalid field"):
        client.create("maintenance.request", {"name": "x", "no_such_field": 1})
    assert _calls(standin, "maintenance.request.create") == 2
    with pytest.raises(OdooUserError):
        client.call_button("mrp.workorder", [999_999], "button_finish")
    assert client.counters["retries"] == 0


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("kind", ["503", "429", "serialization"])
def test_transient_faults_are_retried_until_they_clear(standin, make_client, transport, kind):
    client = make_client(standin.url, transport)
    client.uid  # noqa: B018
    standin.set_faults(error_kind=kind, fail_next=2, retry_after_s=1)
    standin.reset_stats()
    rows = client.search_read("mrp.workcenter", [("code", "=", "WC-CNC-02")], ["code"])
    assert rows[0]["code"] == "WC-CNC-02"
    assert _calls(standin, "mrp.workcenter.search_read") == 3
    assert client.counters["retries"] == 2
    if kind == "429":
        assert client._sleep == [1.0, 1.0] or all(s >= 1.0 for s in client._sleep)  # Retry-After honoured


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_writes_are_retried_after_faults_that_prove_nothing_ran(standin, make_client, transport):
    client = make_client(standin.url, transport)
    client.uid  # noqa: B018
    standin.set_faults(error_kind="serialization", fail_next=1)
    before = client.search_count("maintenance.request", [("name", "=", f"retry-{transport}")])
    standin.set_faults(error_kind="serialization", fail_next=1)
    client.create("maintenance.request", {"name": f"retry-{transport}"})
    assert client.search_count("maintenance.request", [("name", "=", f"retry-{transport}")]) == before + 1


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_timeouts_retry_reads_but_not_writes(standin, make_client, transport):
    client = make_client(standin.url, transport, timeout_s=0.25, retry=RetryPolicy(attempts=2, base_s=0.0))
    client.uid  # noqa: B018
    standin.set_faults(latency_ms=400)
    standin.reset_stats()
    with pytest.raises(OdooTransientError) as info:
        client.search("mrp.workcenter")
    assert info.value.reason == "timeout"
    assert client.counters["retries"] == 1
    with pytest.raises(OdooTransientError):
        client.create("maintenance.request", {"name": f"timeout-{transport}"})
    assert client.counters["retries"] == 1  # the create was not retried: it may have run
    time.sleep(0.3)
    stats = standin.stats()["by_method"]
    assert stats["mrp.workcenter.search"] == 2 and stats["maintenance.request.create"] == 1


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_connection_refused_is_retried_until_odoo_is_up(tmp_path, make_client, transport):
    port = _free_port()
    client = make_client(f"http://127.0.0.1:{port}", transport, sleep=time.sleep,
                         retry=RetryPolicy(attempts=30, base_s=0.05, cap_s=0.1),
                         breaker=CircuitBreaker(failure_threshold=100))
    started = threading.Event()
    result = {}

    def call():
        started.set()
        result["rows"] = client.search_read("mrp.workcenter", [("code", "=", "WC-MOLD-08")], ["code"])

    worker = threading.Thread(target=call)
    worker.start()
    started.wait()
    time.sleep(0.2)
    with run_standin(tmp_path, port=port, odoo_version="19", integration_api_key=INTEGRATION_KEY,
                     mode="thread"):
        worker.join(timeout=10)
    assert result["rows"][0]["code"] == "WC-MOLD-08"
    assert client.counters["error:OdooTransientError"] >= 1


def test_circuit_breaker_opens_and_closes(standin, make_client):
    breaker = CircuitBreaker(failure_threshold=3, reset_timeout_s=0.3)
    client = make_client(standin.url, "json2", breaker=breaker, retry=RetryPolicy(attempts=1))
    client.uid  # noqa: B018
    standin.set_faults(outage=True)
    for _ in range(3):
        with pytest.raises(OdooTransientError):
            client.search("mrp.workcenter")
    assert breaker.state == "open"
    standin.reset_stats()
    with pytest.raises(OdooCircuitOpenError) as info:
        client.search("mrp.workcenter")
    assert 0 < info.value.retry_after <= 0.3
    assert standin.stats()["calls"] == 0  # failed fast, nothing sent
    time.sleep(0.35)
    assert breaker.state == "half_open"
    with pytest.raises(OdooTransientError):  # the trial call fails: open again
        client.search("mrp.workcenter")
    assert breaker.state == "open"
    standin.set_faults(outage=False)
    time.sleep(0.35)
    assert client.search("mrp.workcenter", limit=1)
    assert breaker.state == "closed"
    assert breaker.transitions == [("closed", "open"), ("open", "half_open"), ("half_open", "open"),
                                   ("open", "half_open"), ("half_open", "closed")]


@pytest.mark.parametrize("transport, password, api_key", [("json2", "pw", None), ("xmlrpc", None, None),
                                                       ("jsonrpc", None, None)])
def test_settings_that_cannot_work(transport, password, api_key):
    settings = OdooSettings(url="http://127.0.0.1:1", transport=transport, password=password, api_key=api_key)
    with pytest.raises(OdooConfigError):
        make_transport(settings)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_secrets_never_logged(standin, make_client, caplog, transport):
    caplog.set_level(logging.DEBUG)
    client = make_client(standin.url, transport)
    standin.set_faults(error_kind="503", fail_next=1)
    client.search("mrp.workcenter", limit=1)
    with pytest.raises(OdooAccessError) as info:
        client.unlink("mrp.workcenter", [1])
    text = caplog.text + str(info.value) + repr(client)
    assert INTEGRATION_PASSWORD not in text and INTEGRATION_KEY not in text
    assert "retry 1/3" in caplog.text

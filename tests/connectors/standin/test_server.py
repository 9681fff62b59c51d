"""Wire-level details of the stand-in: raw JSON-RPC error shape, concurrency, CLI errors, random faults."""

from __future__ import annotations

import json
import threading
import urllib.request
import xmlrpc.client

import pytest

from andon.connectors.standin.cli import main
from andon.connectors.standin.testing import RawClient

pytestmark = pytest.mark.odoo


def _post(url: str, payload: dict) -> dict:
    request = urllib.request.Request(url, data=json.dumps(payload).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_jsonrpc_error_shape(standin17):
    answer = _post(f"{standin17.url}/jsonrpc", {"jsonrpc": "2.0", "method": "call", "id": 7, "params": {
        "service": "object", "method": "execute_kw",
        "args": ["andon", 2, "admin", "mrp.workorder", "read", [[999_999]], {}]}})
    assert answer["id"] == 7
    error = answer["error"]
    assert error["code"] == 200 and error["message"] == "Odoo Server Error"
    assert error["data"]["name"] == "odoo.exceptions.MissingError"
    assert set(error["data"]) >= {"name", "message", "arguments", "context", "debug"}
    login = _post(f"{standin17.url}/jsonrpc", {"jsonrpc": "2.0", "method": "call", "id": 1, "params": {
        "service": "common", "method": "login", "args": ["andon", "admin", "nope"]}})
    assert login["result"] is False


def test_private_methods_and_unknown_models(standin17):
    client = RawClient("xmlrpc", standin17.url)
    with pytest.raises(xmlrpc.client.Fault) as info:
        client.call("mrp.workorder", "_compute_state", [[1]])
    assert info.value.faultCode == 4
    with pytest.raises(xmlrpc.client.Fault) as info:
        client.call("quality.alert", "search", [[]])
    assert info.value.faultCode == 2 and "quality.alert doesn't exist" in info.value.faultString


def test_concurrent_clients_get_distinct_ids(standin17):
    ids: list[int] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        client = RawClient("xmlrpc", standin17.url)
        for i in range(15):
            rid = client.create("maintenance.request", {"name": f"concurrent {n}-{i}"})
            with lock:
                ids.append(rid)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(ids) == len(set(ids)) == 90
    client = RawClient("xmlrpc", standin17.url)
    assert client.call("maintenance.request", "search_count", [[["name", "like", "concurrent "]]]) == 90


def test_random_error_rate_is_seeded(standin17):
    client = RawClient("xmlrpc", standin17.url)

    def outcomes() -> list[bool]:
        standin17.set_faults(error_rate=0.5, error_kind="500", seed=42)
        result = []
        for _ in range(20):
            try:
                client.call("uom.uom", "search", [[]])
                result.append(True)
            except xmlrpc.client.Fault as exc:
                assert exc.faultCode == 1
                result.append(False)
        return result

    first, second = outcomes(), outcomes()
    standin17.clear_faults()
    assert first == second and 0 < first.count(False) < 20


def test_cli_reports_bad_config(tmp_path, capsys):
    assert main(["--port", "0", "--data", str(tmp_path), "--config", str(tmp_path / "missing.toml")]) == 2
    assert "does not exist" in capsys.readouterr().err

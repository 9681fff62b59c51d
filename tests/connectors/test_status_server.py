"""Status endpoints: metrics, liveness, and readiness that turns on when the dataflow runs."""

from __future__ import annotations

from httptools import get

from andon.connectors.status_server import StatusServer


def test_endpoints():
    server = StatusServer(0, host="127.0.0.1").start()
    try:
        assert get(server.port, "/healthz") == (200, "ok\n")
        assert get(server.port, "/readyz") == (503, "starting\n")
        server.ready.set()
        assert get(server.port, "/readyz") == (200, "ready\n")
        code, body = get(server.port, "/metrics")
        assert code == 200 and "python_info" in body
        assert get(server.port, "/nope")[0] == 404
    finally:
        server.stop()


def test_recovery_partition_per_process(tmp_path):
    from andon.pipelines.runner import init_recovery

    init_recovery(tmp_path / "solo", None, 1)
    assert sorted(p.name for p in (tmp_path / "solo").glob("part-*")) == ["part-0.sqlite3"]
    for proc in range(2):
        (tmp_path / f"pod{proc}").mkdir()
        init_recovery(tmp_path / f"pod{proc}", proc, 2)
        assert [p.name for p in (tmp_path / f"pod{proc}").glob("part-*")] == [f"part-{proc}.sqlite3"]


def test_readiness_checks_and_status_json():
    import json

    state = {"open": False}
    server = StatusServer(0, host="127.0.0.1", snapshot=lambda: {"roles": ["odoo_sync"], "machines": []}).start()
    server.add_check("odoo", lambda: (not state["open"], "circuit open" if state["open"] else "circuit closed"))
    try:
        assert get(server.port, "/readyz") == (503, "starting\n")
        server.ready.set()
        assert get(server.port, "/readyz") == (200, "ready\nodoo: ok (circuit closed)\n")
        state["open"] = True
        assert get(server.port, "/readyz") == (503, "odoo: not ready (circuit open)\n")
        code, body = get(server.port, "/status.json")
        doc = json.loads(body)
        assert code == 200 and doc["ready"] is False and doc["roles"] == ["odoo_sync"]
        code, page = get(server.port, "/")
        assert code == 200 and page.startswith("<!DOCTYPE html>") and "not ready" in page
    finally:
        server.stop()

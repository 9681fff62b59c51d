"""The Grafana dashboard: valid dashboard JSON, and every panel's PromQL names only metrics andon exports (the names
are scraped from a live status server of this process, with the dataflows' metric modules loaded)."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path

import pytest

from andon.connectors.status_server import StatusServer

DASHBOARD = Path(__file__).resolve().parents[2] / "k8s" / "grafana" / "andon-dashboard.json"
PROMQL_WORDS = {"sum", "by", "rate", "increase", "max", "min", "histogram_quantile", "le", "avg", "without"}


@pytest.fixture(scope="module")
def exported() -> set[str]:
    """Sample names andon's /metrics can serve: families from the TYPE lines, with their suffixes."""
    import andon.connectors.odoo.metrics
    import andon.pipelines.odoo_sync.observe
    import andon.pipelines.telemetry.metrics  # noqa: F401

    server = StatusServer(0, host="127.0.0.1").start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=5) as resp:
            text = resp.read().decode()
    finally:
        server.stop()
    names = set()
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M):
        base = name.removesuffix("_total")
        names |= {name, base}
        if kind == "counter":
            names.add(base + "_total")
        elif kind == "histogram":
            names |= {base + s for s in ("_bucket", "_sum", "_count")}
    return {n for n in names if n.startswith("andon_")}


def panels(doc: dict) -> list[dict]:
    out = []
    for p in doc["panels"]:
        out.append(p)
        out.extend(p.get("panels", []))
    return out


def test_dashboard_is_valid_grafana_json():
    doc = json.loads(DASHBOARD.read_text())
    assert doc["title"] and doc["uid"] and isinstance(doc["schemaVersion"], int)
    assert any(v["type"] == "datasource" for v in doc["templating"]["list"])
    ids = [p["id"] for p in panels(doc)]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    for p in panels(doc):
        grid = p["gridPos"]
        assert {"x", "y", "w", "h"} <= set(grid) and 0 <= grid["x"] and grid["x"] + grid["w"] <= 24
        if p["type"] != "row":
            assert p["title"] and p["targets"], p["title"]
            assert all(t["expr"] and t["refId"] for t in p["targets"])


def test_every_panel_queries_metrics_andon_exports(exported):
    doc = json.loads(DASHBOARD.read_text())
    used = set()
    for p in panels(doc):
        for t in p.get("targets", []):
            expr = re.sub(r'"[^"]*"', "", t["expr"])  # label values are not metric names
            names = set(re.findall(r"\bandon_[a-z0-9_]+", expr))
            assert names, f"panel {p['title']!r} queries no andon metric: {t['expr']}"
            unknown = names - exported
            assert not unknown, f"panel {p['title']!r} uses metrics andon does not export: {sorted(unknown)}"
            used |= names
    families = {n.removesuffix("_total").removesuffix("_bucket").removesuffix("_sum").removesuffix("_count")
                for n in used}
    for wanted in ("andon_odoo_events", "andon_odoo_call_duration_seconds", "andon_odoo_errors", "andon_dead_letters",
                   "andon_consumer_lag_messages", "andon_odoo_oldest_unapplied_age_seconds", "andon_readings_late"):
        assert wanted in families, f"no panel shows {wanted}"

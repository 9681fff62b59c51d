"""The Grafana dashboard: valid dashboard JSON, and every panel's PromQL names only metrics andon exports (the names
are scraped from a live status server of this process, with the dataflows' metric modules loaded)."""

from __future__ import annotations

import json
import re
from pathlib import Path

DASHBOARD = Path(__file__).resolve().parents[2] / "k8s" / "components" / "monitoring" / "andon-dashboard.json"
PROMQL_WORDS = {"sum", "by", "rate", "increase", "max", "min", "histogram_quantile", "le", "avg", "without"}


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


def test_every_query_follows_the_namespace_variable_and_sites_can_be_chosen(exported):
    doc = json.loads(DASHBOARD.read_text())
    variables = {v["name"]: v for v in doc["templating"]["list"]}
    assert {"datasource", "namespace", "site"} <= set(variables)
    assert "andon_build_info" in variables["namespace"]["definition"] and "andon_build_info" in exported
    assert "andon_event_time_lag_seconds" in variables["site"]["definition"]
    for p in panels(doc):
        for t in p.get("targets", []):
            for selector in re.findall(r"\bandon_[a-z0-9_]+(\{[^}]*\})?", t["expr"]):
                assert 'namespace=~"$namespace"' in selector, f"{p['title']!r}: {t['expr']}"
    assert any('site=~"$site"' in t["expr"] for p in panels(doc) for t in p.get("targets", []))
    dlq = next(p for p in panels(doc) if p.get("title", "").startswith("Dead letters in the time range"))
    assert "increase(andon_dead_letters_total" in dlq["targets"][0]["expr"]  # not a since-restart counter

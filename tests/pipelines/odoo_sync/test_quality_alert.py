"""Quality holds reach Odoo as a quality-loss time log everywhere, and also as quality.alert where it exists."""

from __future__ import annotations

import pytest
from odoo_variants import admin_client

from andon.connectors.odoo import OdooClient
from andon.connectors.odoo.sync import Inbound, OdooSync
from andon.events import QualityHoldRaised, decode_event, encode_event, make_event

pytestmark = pytest.mark.odoo

T0 = 1_772_431_200_000


def holds(n: int) -> list[Inbound]:
    out = []
    for k in range(n):
        machine = f"press-0{1 + k % 3}"
        event = make_event("quality.hold_raised", site="plant-a", machine=machine, occurred_at_ms=T0 + k * 60_000,
                           detected_at_ms=T0 + k * 60_000, work_center=f"WC-PRESS-0{1 + k % 3}",
                           data=QualityHoldRaised(rule="reject_rate", value=0.12, limit=0.08,
                                                  window_start="2026-03-02T06:00:00.000Z",
                                                  window_end="2026-03-02T06:01:00.000Z",
                                                  description="reject rate 12% over 8%"))
        raw = encode_event(event)
        out.append(Inbound(decode_event(raw), raw))
    return out


def sync_for(variant, odoo, site) -> OdooSync:
    return OdooSync(OdooClient(variant.settings(odoo, rate_limit_per_s=10_000), rate_limit=False), site)


def test_quality_holds_once_each_and_alerts_where_the_model_exists(tmp_path, site, variant):
    enterprise = variant.enterprise
    with variant.standin(tmp_path / "odoo", mode="thread") as odoo:
        admin = admin_client(odoo)
        events = holds(5)
        first = sync_for(variant, odoo, site).apply(events)
        second = sync_for(variant, odoo, site).apply(events)  # a replay: nothing new
        logs = admin.search_read("mrp.workcenter.productivity", [("description", "like", "quality_hold")],
                                 ["description", "loss_id"])
        assert len(logs) == 5
        assert all(log["loss_id"][1] == "Process Defect" for log in logs)
        assert not first.dead and not second.dead
        models = {r.model for r in first.audit}
        if enterprise:
            alerts = admin.search_read("quality.alert", [], ["title", "description", "workcenter_id"])
            assert len(alerts) == 5
            centers = {c["id"]: c["code"] for c in admin.search_read("mrp.workcenter", [], ["code"])}
            assert sorted(centers[a["workcenter_id"][0]] for a in alerts) == [
                "WC-PRESS-01", "WC-PRESS-01", "WC-PRESS-02", "WC-PRESS-02", "WC-PRESS-03"]
            assert "quality.alert" in models
            assert {r.outcome for r in second.audit if r.model == "quality.alert"} == {"exists"}
        else:
            assert "quality.alert" not in models
            assert not admin.search_count("ir.model", [("model", "=", "quality.alert")])
        finals = {r.event_id: r.outcome for r in second.audit}
        assert len(finals) == 5 and set(finals.values()) == {"exists"}

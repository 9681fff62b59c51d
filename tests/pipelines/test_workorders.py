"""`andon run workorders`: released work orders to Kafka, incrementally and without duplicates across runs."""

from __future__ import annotations

import json
import uuid

import pytest
from flowtools import andon, events_from_topic, site_config
from odoo_variants import PARAMS, admin_client

pytestmark = [pytest.mark.broker, pytest.mark.odoo]


# the work order states differ by version (16-18 `waiting` orders are released too)
@pytest.mark.parametrize("variant", PARAMS)
def test_released_work_orders_published_incrementally_without_duplicates(broker, tmp_path, site, variant):
    config, topics = site_config(tmp_path, broker, f"wo{uuid.uuid4().hex[:6]}")
    state = tmp_path / "cursor.json"
    with variant.standin(tmp_path / "odoo", mode="thread") as odoo:
        env = variant.env(odoo, broker)
        run = ["run", "workorders", "--config", str(config), "--state", str(state), "--once"]
        andon(*run, env=env)
        first = events_from_topic(broker, topics[4])
        assert len(first) == len(site.machines), "one released (ready or waiting) work order per machine"
        assert {e["type"] for e in first} == {"workorder.released"}
        assert {e["machine"] for e in first} == {m.id for m in site.machines}
        andon(*run, env=env)
        assert len(events_from_topic(broker, topics[4])) == len(first), "a second run publishes nothing again"

        admin = admin_client(odoo)
        center = admin.search("mrp.workcenter", [("code", "=", "WC-PRESS-03")])[0]
        product = admin.search("product.product", [("default_code", "=", "PB-100")])[0]
        mo = admin.create("mrp.production", {"product_id": product, "product_qty": 250.0, "state": "confirmed"})
        wo = admin.create("mrp.workorder", {"name": "released later", "workcenter_id": center, "production_id": mo,
                                            "state": "ready"})
        done = admin.search("mrp.workorder", [("workcenter_id.code", "=", "WC-CNC-01")])
        admin.write("mrp.workorder", done, {"state": "done"})  # no longer released: not published
        andon(*run, env=env)
        andon(*run, env=env)
        events = events_from_topic(broker, topics[4])
        assert len(events) == len(first) + 1
        assert len({e["event_id"] for e in events}) == len(events)
        new = next(e for e in events if e["data"]["odoo_id"] == wo)
        assert (new["machine"], new["data"]["odoo_id"], new["data"]["qty_production"]) == ("press-03", wo, 250.0)
        assert json.loads(state.read_text())["ids_at"] == [wo]
        admin.close()

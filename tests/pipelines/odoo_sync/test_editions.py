"""odoo_sync end to end on each Odoo the docs promise: 17 Community and Enterprise, 18 Community, 19 Community
and Enterprise (stand-in over HTTP, real broker, `andon run odoo-sync` in a subprocess), on a short trace.
Checks against what the events say: every keyed event left exactly one record, in per-machine order, nothing
dead-lettered but what Odoo's data refuses; and what differs per edition and version is written as that Odoo
takes it."""

from __future__ import annotations

import json
import uuid
from collections import Counter

import pytest
from flowtools import site_config
from odoo_variants import admin_client
from odoosync_tools import (
    PER_EVENT,
    assert_all_applied,
    assert_per_machine_order,
    dead_letters,
    markers,
    produce,
    run_sync,
)

pytestmark = [pytest.mark.broker, pytest.mark.odoo]


def test_odoo_sync_applies_everything_on_each_version_and_edition(tmp_path, broker, short_event_lines, variant):
    with variant.standin(tmp_path / "odoo") as odoo:
        config, topics = site_config(tmp_path, broker, f"ed{uuid.uuid4().hex[:6]}", PER_EVENT)
        env = variant.env(odoo, broker)
        # in two runs, cut just after a stop began on a running order: it is opened while the order runs, as live
        cut = 1 + _stop_during_a_run(short_event_lines)
        produce(broker, topics[2], short_event_lines[:cut])
        run_sync(config, tmp_path, env)
        produce(broker, topics[2], short_event_lines[cut:])
        run_sync(config, tmp_path, env)
        admin = admin_client(odoo)
        assert_all_applied(admin, short_event_lines)
        assert_per_machine_order(admin, short_event_lines)
        reasons = Counter(d["andon.dlq.reason"] for d in dead_letters(broker, topics[3]))
        assert set(reasons) <= {"no_active_work_order"}, reasons

        enterprise = variant.enterprise
        (request,) = admin.search_read("maintenance.request", [("description", "like", "[andon:")],
                                       ["equipment_id", *(["workorder_id"] if enterprise else [])])
        assert request["equipment_id"], "the equipment was found (Equipment Manager sees all)"
        if enterprise:
            assert request["workorder_id"], "Enterprise links the request to the work order"
        scraps = admin.search_read("stock.scrap", [("origin", "like", "[andon:")],
                                   ["scrap_location_id", "lot_id", "state"])
        assert scraps and {s["state"] for s in scraps} == {"done"}
        scrap_location = admin.search("stock.location", [("complete_name", "=", "Virtual Locations/Scrap")])
        assert {s["scrap_location_id"][0] for s in scraps} == set(scrap_location)
        assert all(s["lot_id"] for s in scraps), "tracked product: the event's or the order's lot"
        press04 = admin.search_read("mrp.workorder", [("workcenter_id.code", "=", "WC-PRESS-04")],
                                    ["qty_producing", "state"])
        assert press04[0]["qty_producing"] > 0, "counts reach the order (waiting on 17/18)"
        # no order carries two open time logs of one user: Odoo's constraint held throughout
        opened = Counter((m2o_id(r["workorder_id"]), m2o_id(r["user_id"])) for r in admin.search_read(
            "mrp.workcenter.productivity", [("date_end", "=", False), ("workorder_id", "!=", False)],
            ["workorder_id", "user_id"]))
        assert all(n == 1 for n in opened.values()), opened
        stops = markers(admin, "mrp.workcenter.productivity", "description")
        assert stops
        calls = odoo.stats()["by_method"]
        assert calls.get("mrp.workorder.end_all", 0) >= 1, "a stop met a running order: Odoo's block flow ran"
        assert calls.get("mrp.workorder.button_start", 0) >= 5, "four starts, and the restart after the stop"
        admin.close()


def _stop_during_a_run(lines: list[bytes]) -> int:
    """Index of the first downtime_started of a machine whose operation was started and not finished."""
    running: set[str] = set()
    for n, line in enumerate(lines):
        e = json.loads(line)
        if e["type"] == "operation.started":
            running.add(e["machine"])
        elif e["type"] == "operation.finished":
            running.discard(e["machine"])
        elif e["type"] == "machine.downtime_started" and e["machine"] in running:
            return n
    raise AssertionError("the trace has no stop during a running operation")


def m2o_id(value):
    return value[0] if isinstance(value, list) else value

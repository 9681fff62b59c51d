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
from flowtools import andon, site_config
from odoosync_tools import (
    PER_EVENT,
    assert_all_applied,
    assert_per_machine_order,
    dead_letters,
    extra_events,
    markers,
    produce,
    run_sync,
)

from andon.config import OdooSettings
from andon.connectors.odoo import OdooClient
from andon.connectors.standin import run_standin
from andon.connectors.standin.testing import INTEGRATION_KEY, INTEGRATION_PASSWORD
from andon.events import OperationStarted, encode_event, make_event, parse_iso_ms
from andon.simulator import Simulation

pytestmark = [pytest.mark.broker, pytest.mark.odoo]

ODOOS = [  # (version, edition, transport): each transport meets the version where it matters
    pytest.param("17", "community", "jsonrpc", id="17-community"),
    pytest.param("17", "enterprise", "xmlrpc", id="17-enterprise"),
    pytest.param("18", "community", "xmlrpc", id="18-community"),
    pytest.param("19", "community", "json2", id="19-community"),
    pytest.param("19", "enterprise", "xmlrpc", id="19-enterprise"),
]


@pytest.fixture(scope="module")
def short_events(tmp_path_factory, site) -> list[bytes]:
    """Business events of 4 machines over 45 minutes (press-04's order is `waiting` on 16-18), plus a
    maintenance request and a scrap with a lot."""
    root = tmp_path_factory.mktemp("short_events")
    trace = root / "trace.jsonl"
    Simulation(site, machines=4, hours=0.75, seed=23).write_jsonl(trace)
    andon("replay", str(trace), "--out", str(root / "out"))
    lines = (root / "out" / "events.jsonl").read_bytes().splitlines()
    first = min(parse_iso_ms(json.loads(line)["occurred_at"]) for line in lines)
    last = max(parse_iso_ms(json.loads(line)["occurred_at"]) for line in lines)
    # each machine's order is started by andon first, so its stops meet Odoo's one-open-log rule
    starts = [encode_event(make_event("operation.started", site="plant-a", machine=m, work_center=wc,
                                      occurred_at_ms=first - 60_000, detected_at_ms=first - 59_000,
                                      data=OperationStarted()))
              for m, wc in (("press-01", "WC-PRESS-01"), ("press-02", "WC-PRESS-02"), ("press-03", "WC-PRESS-03"),
                            ("press-04", "WC-PRESS-04"))]
    return starts + lines + extra_events(last)


@pytest.mark.parametrize("version, edition, transport", ODOOS)
def test_odoo_sync_applies_everything_on_each_version_and_edition(tmp_path, broker, short_events, version,
                                                                  edition, transport):
    with run_standin(tmp_path / "odoo", odoo_version=version, edition=edition,
                     integration_api_key=INTEGRATION_KEY) as odoo:
        config, topics = site_config(tmp_path, broker, f"ed{uuid.uuid4().hex[:6]}", PER_EVENT)
        env = {"ANDON_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap, "ANDON_ODOO_URL": odoo.url,
               "ANDON_ODOO_TRANSPORT": transport, "ANDON_ODOO_PASSWORD": INTEGRATION_PASSWORD,
               "ANDON_ODOO_API_KEY": INTEGRATION_KEY}
        # in two runs, cut just after a stop began on a running order: it is opened while the order runs, as live
        cut = 1 + _stop_during_a_run(short_events)
        produce(broker, topics[2], short_events[:cut])
        run_sync(config, tmp_path, env)
        produce(broker, topics[2], short_events[cut:])
        run_sync(config, tmp_path, env)
        admin = OdooClient(OdooSettings(url=odoo.url, username="admin", password="admin", transport="xmlrpc",
                                        rate_limit_per_s=10_000), rate_limit=False)
        assert_all_applied(admin, short_events)
        assert_per_machine_order(admin, short_events)
        reasons = Counter(d["andon.dlq.reason"] for d in dead_letters(broker, topics[3]))
        assert set(reasons) <= {"no_active_work_order"}, reasons

        enterprise = edition == "enterprise"
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

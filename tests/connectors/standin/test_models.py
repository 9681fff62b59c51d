"""Seed data, ORM semantics, version differences, fault injection API and persistence of the stand-in."""

from __future__ import annotations

import xmlrpc.client

import pytest

from andon.config import example_site_path, load_site
from andon.connectors.standin import run_standin
from andon.connectors.standin.testing import RawClient

pytestmark = pytest.mark.odoo


@pytest.fixture(scope="module")
def admin17(standin17):
    return RawClient("xmlrpc", standin17.url)


def test_seed_maps_every_machine(admin17):
    site = load_site(example_site_path())
    assert len(site.machines) == 24
    losses = {row["name"]: row["loss_type"] for row in admin17.search_read(
        "mrp.workcenter.productivity.loss", [], ["name", "loss_type"])}
    assert losses == {
        "Material Availability": "availability", "Equipment Failure": "availability",
        "Setup and Adjustments": "availability", "Reduced Speed": "performance", "Process Defect": "quality",
        "Reduced Yield": "quality", "Fully Productive Time": "productive", "Unspecified Stop": "availability",
        "Machine Offline": "availability"}
    for machine in site.machines:
        centers = admin17.search_read("mrp.workcenter", [["code", "=", machine.work_center]], ["id"])
        assert len(centers) == 1, machine.id
        orders = admin17.search_read("mrp.workorder", [["workcenter_id", "=", centers[0]["id"]],
                                                       ["state", "in", ["ready", "waiting"]]], ["production_id"])
        assert orders, f"{machine.id} has no active work order"
        equipment = admin17.search_read("maintenance.equipment", [["name", "=", machine.equipment]],
                                        ["maintenance_team_id"])
        assert equipment and equipment[0]["maintenance_team_id"]
    assert admin17.search_read("stock.location", [["scrap_location", "=", True]], ["usage"])
    assert len(admin17.search_read("stock.lot", [], ["name"])) >= 2


@pytest.mark.parametrize("domain, count", [
    ([["code", "like", "WC-PRESS"]], 8),
    ([["code", "ilike", "wc-cnc"]], 8),
    ([["code", "=like", "WC-MOLD-0_"]], 8),
    ([["code", "in", ["WC-PRESS-01", "WC-CNC-01"]]], 2),
    ([["code", "not in", ["WC-PRESS-01"]]], 23),
    (["|", ["code", "=", "WC-PRESS-01"], ["code", "=", "WC-PRESS-02"]], 2),
    (["!", ["code", "like", "PRESS"]], 16),
    ([["code", "like", "PRESS"], ["id", ">", 4]], 4),
    (["&", ["id", ">=", 2], ["id", "<=", 3]], 2),
    ([["code", "!=", False]], 24),
    ([["id", "<", 0]], 0),
])
def test_domains(admin17, domain, count):
    assert admin17.call("mrp.workcenter", "search_count", [domain]) == count


def test_search_order_limit_offset_and_classic_write(admin17):
    ids = admin17.call("mrp.workcenter", "search", [[]], {"order": "code desc", "limit": 3, "offset": 1})
    codes = [r["code"] for r in admin17.call("mrp.workcenter", "read", [ids, ["code"]])]
    assert codes == ["WC-PRESS-07", "WC-PRESS-06", "WC-PRESS-05"]
    row = admin17.call("mrp.workorder", "read", [[1], ["workcenter_id"]], {"load": "_classic_write"})[0]
    assert row["workcenter_id"] == 1


def test_working_state_follows_open_logs(admin17):
    center = admin17.search_read("mrp.workcenter", [["code", "=", "WC-CNC-08"]], ["id"])[0]["id"]
    state = lambda: admin17.search_read("mrp.workcenter", [["id", "=", center]], ["working_state"])[0][  # noqa: E731
        "working_state"]
    assert state() == "normal"
    log = admin17.create("mrp.workcenter.productivity", {"workcenter_id": center, "loss_id": 3,
                                                         "date_start": "2025-03-01 10:00:00"})
    assert state() == "blocked"
    admin17.call("mrp.workcenter.productivity", "write", [[log], {"date_end": "2025-03-01 10:45:30"}])
    assert admin17.call("mrp.workcenter.productivity", "read", [[log], ["duration"]])[0]["duration"] == 45.5
    assert state() == "normal"
    productive = admin17.search_read("mrp.workcenter.productivity.loss", [["loss_type", "=", "productive"]],
                                     ["id"])[0]["id"]
    admin17.create("mrp.workcenter.productivity", {"workcenter_id": center, "loss_id": productive})
    assert state() == "done"


def test_datetime_format_is_odoos(admin17):
    with pytest.raises(xmlrpc.client.Fault) as info:
        admin17.create("mrp.workcenter.productivity", {"workcenter_id": 1, "loss_id": 1,
                                                       "date_start": "2025-03-01T10:00:00Z"})
    assert info.value.faultCode == 1
    assert "does not match format" in info.value.faultString


def test_finish_and_mark_done(admin17):
    wo = admin17.search_read("mrp.workorder", [["workcenter_id.code", "=", "WC-CNC-07"]],
                             ["production_id", "qty_remaining"])[0]
    assert wo["qty_remaining"] == 1000.0
    admin17.call("mrp.workorder", "write", [[wo["id"]], {"qty_producing": 400.0}])
    production = wo["production_id"][0]
    assert admin17.call("mrp.production", "read", [[production], ["qty_producing"]])[0]["qty_producing"] == 400.0
    action = admin17.button("mrp.production", [production], "button_mark_done")
    assert action["res_model"] == "mrp.production.backorder"  # partial quantity: Odoo opens a wizard
    admin17.button("mrp.workorder", [wo["id"]], "button_finish")
    row = admin17.call("mrp.workorder", "read", [[wo["id"]], ["state", "qty_produced", "date_finished"]])[0]
    assert row["state"] == "done" and row["qty_produced"] == 400.0 and row["date_finished"]
    assert admin17.call("mrp.production", "button_mark_done", [[production]], {"context": {"skip_backorder": True}})
    assert admin17.call("mrp.production", "read", [[production], ["state"]])[0]["state"] == "done"


def test_scrap_validate_and_insufficient_quantity(admin17):
    product = admin17.search_read("product.product", [["default_code", "=", "MC-300"]], ["id"])[0]["id"]
    lot = admin17.search_read("stock.lot", [["product_id", "=", product]], ["id"])[0]["id"]
    scrap = admin17.create("stock.scrap", {"product_id": product, "scrap_qty": 3, "origin": "evt-1", "lot_id": lot})
    row = admin17.call("stock.scrap", "read", [[scrap], ["product_uom_id", "location_id", "scrap_location_id",
                                                         "state"]])[0]
    assert row["product_uom_id"] and row["location_id"] and row["scrap_location_id"] and row["state"] == "draft"
    assert admin17.button("stock.scrap", [scrap], "action_validate") is True
    assert admin17.call("stock.scrap", "read", [[scrap], ["state"]])[0]["state"] == "done"
    big = admin17.create("stock.scrap", {"product_id": product, "scrap_qty": 1e9})
    action = admin17.button("stock.scrap", [big], "action_validate")
    assert action["res_model"] == "stock.warn.insufficient.qty.scrap"


@pytest.mark.parametrize("version, states, lot_field", [
    ("17", {"pending", "waiting", "ready", "progress", "done", "cancel"}, "lot_producing_id"),
    ("19", {"blocked", "ready", "progress", "done", "cancel"}, "lot_producing_ids"),
])
def test_version_differences(standin17, standin19, version, states, lot_field):
    client = RawClient("xmlrpc", (standin17 if version == "17" else standin19).url)
    fields = client.call("mrp.workorder", "fields_get", [], {"attributes": ["selection"]})
    assert {key for key, _ in fields["state"]["selection"]} == states
    assert lot_field in client.call("mrp.production", "fields_get", [])


def test_fault_api_and_stats(standin17):
    standin17.reset_stats()
    client = RawClient("xmlrpc", standin17.url)
    standin17.set_faults(error_kind="serialization", fail_next=1)
    with pytest.raises(xmlrpc.client.Fault) as info:
        client.call("mrp.workcenter", "search", [[]])
    assert info.value.faultCode == 1
    assert "psycopg2.errors.SerializationFailure: could not serialize access due to concurrent update" in \
        info.value.faultString
    client.call("mrp.workcenter", "search", [[]])
    stats = standin17.stats()
    assert stats["by_method"]["mrp.workcenter.search"] == 2
    assert stats["by_outcome"]["fault:serialization"] == 1
    with pytest.raises(Exception, match="error_kind"):
        standin17.set_faults(error_kind="bogus")
    assert standin17.clear_faults()["fail_next"] == 0


def test_data_survives_restart(tmp_path):
    with run_standin(tmp_path, odoo_version="18") as handle:
        client = RawClient("jsonrpc", handle.url)
        first = client.create("maintenance.request", {"name": "Before restart", "equipment_id": 2})
        pid_port = handle.port
        handle.restart()
        assert handle.port == pid_port
        client = RawClient("jsonrpc", handle.url)
        rows = client.search_read("maintenance.request", [["id", "=", first]], ["name", "equipment_id"])
        assert rows[0]["name"] == "Before restart"
        second = client.create("maintenance.request", {"name": "After restart", "equipment_id": 2})
        assert second == first + 1
        assert client.call("mrp.workcenter", "search_count", [[]]) == 24  # not seeded twice

"""The handlers adapt to what the database has and follow Odoo's own flows (fake Odoo, pure code): Community
without mrp_maintenance links, lots for tracked products, quantities of 0, the block/unblock flow."""

from __future__ import annotations

import pytest
from fake_odoo import PROD, at, event, iso, outcomes, with_posting

from andon.connectors.odoo.sync import OdooSync
from andon.events import (
    DowntimeEnded,
    DowntimeStarted,
    MaintenanceRequested,
    OperationProgress,
    ScrapRecorded,
)


def scrap(minute, lot=None):
    return event("production.scrap_recorded", minute, ScrapRecorded(
        shift_id="s", window_start=iso(minute - 1), window_end=iso(minute), quantity=2, shift_reject_count=2,
        lot=lot))


def community(fake):
    """The fake as a Community database: no mrp_maintenance fields."""
    fake.extra_fields.pop("maintenance.request")
    for row in fake.tables["maintenance.equipment"].values():
        row.pop("workcenter_id")
    return fake


def test_community_requests_carry_no_work_order_links(fake, site):
    sync = OdooSync(community(fake), site, concurrency=1)
    result = sync.apply([event("maintenance.requested", 1, MaintenanceRequested(
        trigger="alarm", detail="alarm 17", alarm_code=17, equipment="EQ-PRESS-01"))])
    (request,) = fake.rows("maintenance.request")
    assert "workorder_id" not in request and "production_id" not in request
    assert request["equipment_id"] == fake.rows("maintenance.equipment")[0]["id"]
    assert outcomes(result) == [("maintenance.requested", "applied")]


def test_enterprise_requests_are_linked(fake, sync):
    sync.apply([event("maintenance.requested", 1, MaintenanceRequested(
        trigger="alarm", detail="alarm 17", alarm_code=17, equipment="EQ-PRESS-01"))])
    wo = fake.rows("mrp.workorder")[0]
    assert fake.rows("maintenance.request")[0]["workorder_id"] == wo["id"]


def tracked(fake, producing: bool):
    product = fake.rows("product.product")[0]["id"]
    fake.tables["product.product"][product]["tracking"] = "lot"
    lot = fake.rows("stock.lot", [("product_id", "=", product)])[0]["id"]
    mo = fake.rows("mrp.production")[0]["id"]
    fake.tables["mrp.production"][mo]["lot_producing_id"] = lot if producing else False
    return lot


@pytest.mark.parametrize("major", [17, 19])
def test_a_tracked_scrap_takes_the_orders_producing_lot(fake, site, major):
    fake.major = major
    lot = tracked(fake, producing=True)
    OdooSync(fake, with_posting(site, scrap="per_event"), concurrency=1).apply([scrap(1)])
    assert [(r["lot_id"], r["state"]) for r in fake.rows("stock.scrap")] == [(lot, "done")]


@pytest.mark.parametrize("major, dead", [(17, ["lot_required"]), (19, [])])
def test_a_tracked_scrap_without_any_lot(fake, site, major, dead):
    """17 refuses it in Odoo (stock.move.line `_action_done`): andon dead-letters it with what to set; 19 takes
    it lot-less."""
    fake.major = major
    tracked(fake, producing=False)
    result = OdooSync(fake, with_posting(site, scrap="per_event"), concurrency=1).apply([scrap(1)])
    assert [r.reason for _, r in result.dead] == dead
    assert len(fake.rows("stock.scrap")) == (0 if dead else 1)
    if dead:
        assert "lot to produce" in result.dead[0][1].hint


def test_a_count_of_zero_is_not_written(fake, sync):
    """Odoo's inverse `_set_qty_producing` ignores 0: andon does not write it, nor believe it was written."""
    wo = fake.rows("mrp.workorder")[0]["id"]
    fake.tables["mrp.workorder"][wo]["state"] = "progress"
    sync.md.load()
    result = sync.apply([event("operation.progress", 1, OperationProgress(quantity=2, rejects=2, since=iso(0)))])
    assert ("mrp.workorder", "write") not in fake.writes()
    assert [r.detail for r in result.audit if r.type == "operation.progress" and r.model == "mrp.workorder"] == [
        "Odoo ignores a quantity of 0"]


def test_a_stop_during_a_running_order_follows_odoos_block_flow(fake, sync):
    wo = fake.rows("mrp.workorder")[0]["id"]
    fake.tables["mrp.workorder"][wo]["state"] = "progress"
    sync.md.load()
    fake.calls.clear()
    sync.apply([event("machine.downtime_started", 10, DowntimeStarted(reason="Unspecified Stop", state="stopped"))])
    writes = [c for c in fake.calls if c[1] not in ("search", "search_read", "read", "search_count", "fields_get")]
    assert writes[:2] == [("mrp.workorder", "end_all"), (PROD, "create")], "timers closed before the stop opens"
    fake.calls.clear()
    sync.apply([event("machine.downtime_ended", 14, DowntimeEnded(
        reason="Unspecified Stop", state="stopped", started_at=iso(10), ended_at=iso(14), duration_s=240))])
    writes = [c for c in fake.calls if c[1] not in ("search", "search_read", "read", "search_count", "fields_get")]
    assert writes == [(PROD, "write"), ("mrp.workorder", "button_start"), (PROD, "write")], (
        "the order's timer restarts, its new log starting at the stop's end")
    productive = [r for r in fake.rows(PROD, [("workorder_id", "=", wo)]) if " downtime" not in r["description"]]
    assert sorted((r["date_start"], r["date_end"]) for r in productive)[-1] == (at(14), False)


def test_waiting_orders_are_active(fake, sync):
    wo = fake.rows("mrp.workorder")[0]["id"]
    fake.tables["mrp.workorder"][wo]["state"] = "waiting"
    center = fake.rows("mrp.workcenter")[0]["id"]
    assert sync.md.active_work_order(center).id == wo

"""ScrapHandler against the fake Odoo: a validated stock.scrap per event, lots checked, Odoo's wizard handled."""

from __future__ import annotations

import pytest
from fake_odoo import event, iso, outcomes, with_posting

from andon.connectors.odoo.sync import OdooSync
from andon.events import OperationFinished, OperationProgress, ScrapRecorded


@pytest.fixture
def sync(fake, site):
    """These tests are about scrap per event ([odoo.posting] scrap = per_event)."""
    slept: list[float] = []
    s = OdooSync(fake, with_posting(site, scrap="per_event"), sleep=slept.append, concurrency=1)
    s.slept = slept
    return s


def scrap(minute, quantity=3, lot=None, machine="press-01"):
    return event("production.scrap_recorded", minute, ScrapRecorded(
        shift_id="s", window_start=iso(minute - 1), window_end=iso(minute), quantity=quantity,
        shift_reject_count=quantity, lot=lot), machine=machine)


def test_each_event_is_one_validated_scrap_of_the_orders_product(fake, sync):
    result = sync.apply([scrap(1, 3), scrap(2, 1)])
    wo = fake.rows("mrp.workorder")[0]
    rows = fake.rows("stock.scrap")
    assert [(r["scrap_qty"], r["state"], r["product_id"], r["workorder_id"], r["production_id"]) for r in rows] == [
        (3.0, "done", wo["product_id"], wo["id"], wo["production_id"])] + [
        (1.0, "done", wo["product_id"], wo["id"], wo["production_id"])]
    assert {r["scrap_location_id"] for r in rows} == {fake.rows("stock.location", [("usage", "=", "inventory")])[0]["id"]}
    assert outcomes(result) == [("production.scrap_recorded", "applied")] * 2


@pytest.mark.parametrize(("lot", "reason"), [("LOT-NOPE", "unknown_lot"), ("LOT-OTHER", "lot_product_mismatch")])
def test_a_bad_lot_is_refused(fake, sync, lot, reason):
    result = sync.apply([scrap(1, lot=lot)])
    assert [r.reason for _, r in result.dead] == [reason]
    assert fake.rows("stock.scrap") == []


def test_a_known_lot_is_set(fake, sync):
    sync.apply([scrap(1, lot="LOT-PB-100-0001")])
    lot = fake.rows("stock.lot", [("name", "=", "LOT-PB-100-0001")])[0]["id"]
    assert [r["lot_id"] for r in fake.rows("stock.scrap")] == [lot]


def test_a_work_center_without_any_order_has_no_product_to_scrap(fake, sync):
    result = sync.apply([scrap(1, machine="press-02")])
    assert [r.reason for _, r in result.dead] == ["no_product"]


@pytest.mark.parametrize(("policy", "state", "dead"), [("confirm", "done", []), ("refuse", "draft",
                                                                                  ["insufficient_quantity"])])
def test_the_insufficient_quantity_wizard_follows_the_policy(fake, site, policy, state, dead):
    fake.wizard_on_validate = True
    result = OdooSync(fake, with_posting(site, scrap="per_event"), scrap_insufficient=policy,
                      concurrency=1).apply([scrap(1)])
    assert [r["state"] for r in fake.rows("stock.scrap")] == [state]
    assert [r.reason for _, r in result.dead] == dead


def test_a_replay_validates_a_draft_and_leaves_a_done_scrap_alone(fake, sync):
    fake.transient[("stock.scrap", "action_validate")] = 1  # created, then Odoo went away before validation
    sync.apply([scrap(1)])
    assert [r["state"] for r in fake.rows("stock.scrap")] == ["done"], "the held segment was retried"
    assert len(sync.slept) == 1
    created = fake.writes()[("stock.scrap", "create")]
    result = sync.apply([scrap(1)])
    assert fake.writes()[("stock.scrap", "create")] == created == 1
    assert outcomes(result) == [("production.scrap_recorded", "exists")]


def test_a_zero_quantity_refused_by_odoo_does_not_block_the_others(fake, sync):
    fake.refuse[("stock.scrap", "create")] = lambda rows: (
        "You can only enter positive quantities." if any(r["scrap_qty"] <= 0 for r in rows) else None)
    result = sync.apply([scrap(1, 2), scrap(2, 0), scrap(3, 1)])
    assert [r.detail for _, r in result.dead] == ["You can only enter positive quantities."]
    assert [r["scrap_qty"] for r in fake.rows("stock.scrap")] == [2.0, 1.0]


def progress(minute, parts, rejects):
    return event("operation.progress", minute, OperationProgress(quantity=parts, rejects=rejects, since=iso(0)))


def test_per_work_order_one_scrap_per_interval_and_at_finish_totals_exact(fake, site):
    sync = OdooSync(fake, with_posting(site, scrap_interval_s=3600), concurrency=1)
    sync.apply([scrap(1, 2), progress(1, 50, 2)])  # the window event is analytics; the first posting is at once
    sync.apply([progress(m, 50 * m, 2 + m) for m in range(2, 59)])  # inside 06:00-07:00: coalesced
    assert [r["scrap_qty"] for r in fake.rows("stock.scrap")] == [2.0]
    sync.apply([progress(61, 3050, 70)])  # 07:01 crosses the hour
    sync.apply([event("operation.finished", 70, OperationFinished(quantity=3500, rejects=75, since=iso(0)))])
    rows = fake.rows("stock.scrap")
    assert [r["scrap_qty"] for r in rows] == [2.0, 68.0, 5.0] and {r["state"] for r in rows} == {"done"}
    again = sync.apply([progress(61, 3050, 70)])  # a replay of an older count scraps nothing
    assert len(fake.rows("stock.scrap")) == 3 and again.dead == []


def test_a_replayed_finish_scraps_nothing_on_the_next_order(fake, site):
    sync = OdooSync(fake, with_posting(site, scrap_interval_s=3600), concurrency=1)
    center = fake.rows("mrp.workcenter", [("code", "=", "WC-PRESS-01")])[0]["id"]
    fake.add("mrp.workorder", workcenter_id=center, state="ready", qty_producing=0.0, production_id=False,
             product_id=fake.rows("product.product")[0]["id"], name="next")
    finish = event("operation.finished", 70, OperationFinished(quantity=3500, rejects=75, since=iso(0)))
    sync.apply([progress(1, 50, 2), finish, progress(80, 40, 3)])
    before = [(r["workorder_id"], r["scrap_qty"]) for r in fake.rows("stock.scrap")]
    fresh = OdooSync(fake, with_posting(site, scrap_interval_s=3600), concurrency=1)  # a replay, no memory
    fresh.apply([progress(1, 50, 2), finish, progress(80, 40, 3)])
    assert [(r["workorder_id"], r["scrap_qty"]) for r in fake.rows("stock.scrap")] == before


# -- per work order and reject reason (reject_reason_signal) -------------------------------------------------
def reasoned(minute, parts, rejects, by_reason, finished=False):
    if finished:
        return event("operation.finished", minute, OperationFinished(
            quantity=parts, rejects=rejects, since=iso(0), rejects_by_reason=by_reason))
    return event("operation.progress", minute, OperationProgress(
        quantity=parts, rejects=rejects, since=iso(0), rejects_by_reason=by_reason))


def with_reason_tags(fake, *names):
    """An 18+ database: stock.scrap.reason.tag exists, with tags of these names."""
    fake.major = 18
    fake.add("ir.model", model="stock.scrap.reason.tag")
    fake.extra_fields.setdefault("stock.scrap", set()).add("scrap_reason_tag_ids")
    return {name: fake.add("stock.scrap.reason.tag", name=name) for name in names}


def per_reason(fake):
    out: dict[str | None, float] = {}
    for r in fake.rows("stock.scrap"):
        reason = r["origin"].split(" reject reason: ", 1)[1] if " reject reason: " in r["origin"] else None
        out[reason] = out.get(reason, 0.0) + r["scrap_qty"]
    return out


def test_one_scrap_per_order_and_reason_at_each_posting_and_finish_absolute(fake, site):
    tags = with_reason_tags(fake, "Dimension", "Surface")
    sync = OdooSync(fake, with_posting(site, scrap_interval_s=3600), concurrency=1)
    sync.apply([reasoned(1, 50, 3, {"dimension": 2})])  # the first posting: 2 dimension, 1 without a reason
    assert per_reason(fake) == {"dimension": 2.0, None: 1.0}
    sync.apply([reasoned(m, 50 * m, 3 + m, {"dimension": 2 + m}) for m in range(2, 59)])  # coalesced
    assert len(fake.rows("stock.scrap")) == 2
    sync.apply([reasoned(61, 3050, 70, {"dimension": 50, "surface": 15, "material": 2})])  # crosses 07:00
    finish = reasoned(70, 3500, 75, {"dimension": 52, "surface": 18, "material": 2}, finished=True)
    result = sync.apply([finish])
    assert per_reason(fake) == {"dimension": 52.0, "surface": 18.0, "material": 2.0, None: 3.0}
    assert sum(r["scrap_qty"] for r in fake.rows("stock.scrap")) == 75.0
    assert {r["state"] for r in fake.rows("stock.scrap")} == {"done"} and result.dead == []
    tagged = {r["origin"].split(" reject reason: ")[1]: r.get("scrap_reason_tag_ids") for r in fake.rows(
        "stock.scrap") if " reject reason: " in r["origin"]}
    assert tagged["dimension"] == [(6, 0, [tags["Dimension"]])] and tagged["surface"] == [(6, 0, [tags["Surface"]])]
    assert tagged["material"] is None  # no tag of that name: posted untagged, the reason in origin
    notes = [a.detail for a in result.audit if a.model == "stock.scrap" and "material" in a.detail]
    assert notes == [] or all("origin only" in n for n in notes)
    count = len(fake.rows("stock.scrap"))
    fresh = OdooSync(fake, with_posting(site, scrap_interval_s=3600), concurrency=1)  # a replay, no memory
    fresh.apply([reasoned(61, 3050, 70, {"dimension": 50, "surface": 15, "material": 2}), finish])
    assert len(fake.rows("stock.scrap")) == count


def test_on_17_the_reason_is_in_origin_and_no_tag_field_is_written(fake, site):
    sync = OdooSync(fake, with_posting(site, scrap_interval_s=3600), concurrency=1)
    result = sync.apply([reasoned(70, 100, 4, {"dimension": 3, "surface": 1}, finished=True)])
    assert per_reason(fake) == {"dimension": 3.0, "surface": 1.0}
    assert all("scrap_reason_tag_ids" not in r for r in fake.rows("stock.scrap"))
    assert any("no scrap reason tags" in a.detail for a in result.audit if a.model == "stock.scrap")


def test_old_unreasoned_scrap_counts_against_the_total(fake, site):
    """An order scrapped before the signal existed (one scrap without a reason): the per-reason postings after it
    never pass the order's rejects."""
    sync = OdooSync(fake, with_posting(site, scrap_interval_s=3600), concurrency=1)
    sync.apply([reasoned(1, 50, 5, None)])
    sync.apply([reasoned(70, 100, 8, {"dimension": 6, "surface": 2}, finished=True)])
    assert sum(r["scrap_qty"] for r in fake.rows("stock.scrap")) == 8.0

"""QuantityHandler against the fake Odoo: absolute qty_producing on the active order, latest per batch only."""

from __future__ import annotations

from fake_odoo import event, iso, outcomes

from andon.events import CountReported, OperationFinished


def count(minute, good, machine="press-01"):
    return event("production.count_reported", minute, CountReported(
        shift_id="s", window_start=iso(minute - 1), window_end=iso(minute), total_count=good, good_count=good,
        reject_count=0, window_total=1, window_rejects=0), machine=machine)


def qty(fake):
    return fake.rows("mrp.workorder")[0]["qty_producing"]


def test_only_the_latest_count_of_a_batch_is_written_once(fake, sync):
    result = sync.apply([count(1, 10), count(2, 25), count(3, 40)])
    assert qty(fake) == 40.0
    assert fake.writes()[("mrp.workorder", "write")] == 1
    assert [o for _, o in outcomes(result)] == ["skipped", "skipped", "applied"]


def test_a_value_odoo_already_holds_is_not_written_again(fake, sync):
    sync.apply([count(1, 10)])
    result = sync.apply([count(1, 10)])
    assert fake.writes()[("mrp.workorder", "write")] == 1
    assert outcomes(result) == [("production.count_reported", "skipped")]


def test_counts_without_an_order_are_skipped_not_refused(fake, sync):
    result = sync.apply([count(1, 10, machine="press-02")])
    assert result.dead == [] and outcomes(result) == [("production.count_reported", "skipped")]


def test_counts_up_to_a_finish_belong_to_the_finished_order(fake, sync):
    sync.apply([count(1, 10), event("operation.finished", 5, OperationFinished(quantity=10))])
    result = sync.apply([count(4, 99)])
    assert [r.detail for r in result.audit] == [f"belongs to a work order finished at {iso(5)}"]
    assert qty(fake) == 10.0

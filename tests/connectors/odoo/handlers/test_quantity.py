"""QuantityHandler against the fake Odoo: the operation's good parts on its order, at the posting cadence."""

from __future__ import annotations

import pytest
from fake_odoo import PROD, at, event, iso, outcomes, with_posting

from andon.connectors.odoo.sync import OdooSync
from andon.events import CountReported, OperationFinished, OperationProgress, OperationStarted


def progress(minute, parts, rejects=0, since=0.0, first=0.5, machine="press-01"):
    return event("operation.progress", minute, OperationProgress(
        quantity=parts, rejects=rejects, since=iso(since), first_part_at=iso(first)), machine=machine)


def count(minute, good):
    return event("production.count_reported", minute, CountReported(
        shift_id="s", window_start=iso(minute - 1), window_end=iso(minute), total_count=good, good_count=good,
        reject_count=0, window_total=1, window_rejects=0))


def qty(fake):
    return fake.rows("mrp.workorder")[0]["qty_producing"]


@pytest.fixture
def every(fake, site):
    return OdooSync(fake, with_posting(site, quantity_interval_s=0), concurrency=1)


def test_the_good_parts_of_the_run_are_written_latest_per_batch_only(fake, every):
    result = every.apply([progress(1, 10), progress(2, 25, 2), progress(3, 40, 3)])
    assert qty(fake) == 37.0
    assert fake.writes()[("mrp.workorder", "write")] == 1
    assert [o for t, o in outcomes(result) if t == "operation.progress"] == ["skipped", "skipped", "applied"]


def test_shift_totals_are_never_written_to_an_order(fake, every):
    result = every.apply([count(1, 500)])
    assert qty(fake) == 0.0 and outcomes(result) == [("production.count_reported", "skipped")]


def test_a_ready_order_is_started_at_its_first_counted_part(fake, every):
    every.apply([progress(3, 12, first=1.25)])
    [wo] = fake.rows("mrp.workorder")
    assert (wo["state"], wo["qty_producing"]) == ("progress", 12.0)
    [log] = fake.rows(PROD)
    assert log["date_start"] == at(1.25), "the time log begins at the first part, not at Odoo's clock"


def test_no_order_at_all_is_refused_with_a_reason(fake, every):
    result = every.apply([progress(1, 5, machine="press-02")])
    assert [r.reason for _, r in result.dead] == ["no_active_work_order"]


def test_progress_of_a_finished_run_is_skipped(fake, every):
    every.apply([event("operation.started", 0.5, OperationStarted()), progress(1, 10),
                 event("operation.finished", 5, OperationFinished(quantity=12, rejects=1, since=iso(0)))])
    result = every.apply([progress(4.5, 11)])  # emitted late, its run began before that finish
    assert "finished at" in result.audit[-1].detail
    assert fake.rows("mrp.workorder")[0]["qty_producing"] == 11.0, "the finish wrote its true good parts"


def test_quantities_are_coalesced_to_the_cadence_and_flushed_at_the_end(fake, site):
    sync = OdooSync(fake, with_posting(site, quantity_interval_s=900), concurrency=1)
    sync.apply([progress(1, 10)])  # first value of the order: written at once
    sync.apply([progress(m, 10 * m) for m in range(2, 15)])  # 06:02..06:14: inside the 06:00-06:15 interval
    assert qty(fake) == 10.0
    sync.apply([progress(15, 150), progress(16, 160)])  # 06:15 crosses the boundary
    assert qty(fake) == 160.0
    sync.apply([progress(17, 170)])
    assert qty(fake) == 160.0
    sync.flush()
    assert qty(fake) == 170.0
    assert fake.writes()[("mrp.workorder", "write")] == 3


def test_a_start_odoo_refuses_waits_for_the_next_progress_without_a_dead_letter(fake, every):
    fake.refuse[("mrp.workorder", "button_start")] = lambda ids: "Please unblock the work center to start the work order."
    result = every.apply([progress(3, 12)])
    assert result.dead == [] and fake.rows("mrp.workorder")[0]["state"] == "ready"
    assert "unblock" in result.audit[-1].detail
    del fake.refuse[("mrp.workorder", "button_start")]
    every.apply([progress(4, 20)])
    assert fake.rows("mrp.workorder")[0]["state"] == "progress" and qty(fake) == 20.0
    assert fake.rows(PROD)[0]["date_start"] == at(0.5), "still from the first part"

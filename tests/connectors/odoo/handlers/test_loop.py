"""The apply loop (OdooSync) against the fake Odoo: routing, segments, the ledger, holding, chunked creates.
(Here with the handler tests: they share the fake; the loop lives in connectors/odoo/sync.py.)"""

from __future__ import annotations

from fake_odoo import PROD, event, iso, outcomes

from andon.connectors.odoo.journal import Ledger
from andon.connectors.odoo.sync import OdooSync
from andon.events import CountReported, DowntimeStarted, OperationFinished, OperationStarted, StateChanged


def stop(minute, machine="press-01", **kw):
    return event("machine.downtime_started", minute, DowntimeStarted(reason="Unspecified Stop", state="stopped"),
                 machine=machine, **kw)


def count(minute, good):
    return event("production.count_reported", minute, CountReported(
        shift_id="s", window_start=iso(minute - 1), window_end=iso(minute), total_count=good, good_count=good,
        reject_count=0, window_total=1, window_rejects=0))


def test_unknown_machines_and_work_centers_are_refused_and_state_changes_skipped(fake, sync):
    gone = stop(1, machine="press-09")  # in the site config, but Odoo has no WC-PRESS-09
    odd = stop(2, machine="robot-01", work_center=None)  # neither the event nor the site config names one
    result = sync.apply([gone, odd, event("machine.state_changed", 3, StateChanged(from_state="running",
                                                                                 to_state="idle"))])
    assert [(it.event.machine, r.reason) for it, r in result.dead] == [("press-09", "unknown_work_center"),
                                                                       ("robot-01", "unknown_machine")]
    assert outcomes(result)[-1] == ("machine.state_changed", "skipped")


def test_events_before_an_operation_apply_to_the_order_before_it(fake, sync):
    """A count before the finish goes to the finished order; the stop after it is not linked to that order."""
    wo = fake.rows("mrp.workorder")[0]["id"]
    sync.apply([event("operation.started", 0, OperationStarted()), count(5, 12),
                event("operation.finished", 6, OperationFinished(quantity=12)), stop(7)])
    assert fake.tables["mrp.workorder"][wo]["qty_producing"] == 12.0
    [downtime] = fake.rows(PROD, [("description", "like", " downtime @")])
    assert downtime["workorder_id"] is False


def test_the_ledger_spares_odoo_every_call_on_replay(fake, site, tmp_path):
    batch = [stop(1), count(2, 5)]
    OdooSync(fake, site, ledger=Ledger(str(tmp_path / "l.sqlite3"))).apply(batch)
    calls = len(fake.calls)
    result = OdooSync(fake, site, ledger=Ledger(str(tmp_path / "l.sqlite3"))).apply(batch)
    assert {o for _, o in outcomes(result)} == {"ledger"}
    assert all(m not in ("create", "write") for _, m in fake.calls[calls:])


def test_a_transient_failure_holds_and_retries_without_refusing(fake, sync):
    fake.transient[(PROD, "create")] = 3
    result = sync.apply([stop(1), stop(2)])
    assert result.dead == [] and len(fake.rows(PROD)) == 2
    assert sync.slept == [0.5, 1.0, 2.0] and result.held_s == 3.5


def test_a_refused_chunk_is_retried_row_by_row_so_only_the_culprit_is_refused(fake, sync):
    fake.refuse[(PROD, "create")] = lambda rows: "bad" if any(r["date_start"].endswith("06:02:00") for r in rows) \
        else None
    result = sync.apply([stop(1), stop(2), stop(3)])
    assert [it.event.occurred_at for it, _ in result.dead] == [iso(2)]
    assert len(fake.rows(PROD)) == 2


def test_a_handler_that_raises_refuses_only_the_event_it_raised_on(fake, sync, monkeypatch):
    """A defect in a handler (here: an exception on the stop at 06:02) dead-letters that one event as
    handler_error with the exception's text; the other stops still reach Odoo and nothing raises out of apply."""
    [handler] = [h for h in sync.handlers if "machine.downtime_started" in h.types]
    real = handler.apply

    def flaky(rows, batch):
        if any(it.event.occurred_at == iso(2) for _, it, _ in rows):
            raise TypeError("unexpected None in data")
        return real(rows, batch)

    monkeypatch.setattr(handler, "apply", flaky)
    result = sync.apply([stop(1), stop(2), stop(3)])
    assert [(it.event.occurred_at, r.reason) for it, r in result.dead] == [(iso(2), "handler_error")]
    assert "TypeError: unexpected None in data" in result.dead[0][1].detail
    assert sorted(r["date_start"][-8:] for r in fake.rows(PROD)) == ["06:01:00", "06:03:00"]


def test_odoo_unavailable_inside_a_handler_still_holds_instead_of_refusing(fake, sync):
    fake.transient[(PROD, "create")] = 2
    result = sync.apply([stop(1)])
    assert result.dead == [] and len(fake.rows(PROD)) == 1 and sync.slept == [0.5, 1.0]

"""OperationHandler against the fake Odoo: button_start/button_finish on the active order, markers, restarts."""

from __future__ import annotations

from fake_odoo import PROD, at, event, outcomes

from andon.events import OperationFinished, OperationStarted


def start(minute, machine="press-01"):
    return event("operation.started", minute, OperationStarted(operation="Pressing"), machine=machine)


def finish(minute, quantity=10, lot=None):
    return event("operation.finished", minute, OperationFinished(quantity=quantity, lot=lot))


def test_start_then_finish_runs_the_buttons_and_marks_the_log(fake, sync):
    result = sync.apply([start(1), finish(30)])
    [wo] = fake.rows("mrp.workorder")
    assert wo["state"] == "done"
    [log] = fake.rows(PROD)
    assert " operation_started @" in log["description"] and " operation_finished @" in log["description"]
    assert fake.writes()[("mrp.workorder", "button_start")] == 1
    assert fake.writes()[("mrp.workorder", "button_finish")] == 1
    assert outcomes(result) == [("operation.started", "applied"), ("operation.finished", "applied")]


def test_a_finish_without_an_open_log_leaves_a_productive_marker_log(fake, sync):
    sync.apply([finish(30)])
    [log] = fake.rows(PROD)
    assert log["date_start"] == at(30) and " operation_finished @" in log["description"]
    assert fake.rows("mrp.workorder")[0]["state"] == "done"


def test_a_replayed_start_and_finish_call_no_button(fake, sync):
    sync.apply([start(1), finish(30)])
    buttons = fake.writes()
    result = sync.apply([start(1), finish(30)])
    assert fake.writes() == buttons
    assert {o for _, o in outcomes(result)} == {"exists"}


def test_a_crash_between_marker_and_button_is_completed_on_replay(fake, sync):
    fake.transient[("mrp.workorder", "button_finish")] = 1
    sync.apply([start(1), finish(30)])  # held once, then the retried segment finds its marker and finishes
    assert fake.rows("mrp.workorder")[0]["state"] == "done"
    assert fake.writes()[("mrp.workorder", "button_finish")] == 2


def test_no_order_on_the_work_center_is_refused(fake, sync):
    result = sync.apply([start(1, machine="press-02")])
    assert [r.reason for _, r in result.dead] == ["no_active_work_order"]


def test_a_finished_lot_is_written_on_the_manufacturing_order(fake, sync):
    sync.apply([start(1), finish(30, lot="LOT-PB-100-0001")])
    lot = fake.rows("stock.lot", [("name", "=", "LOT-PB-100-0001")])[0]["id"]
    assert fake.rows("mrp.production")[0]["lot_producing_id"] == lot


def test_an_order_started_before_stops_odoo_holds_gets_its_timer_split_around_them(fake, sync):
    """The first part (minute 2) comes before a stop (10 to 14.5) applied in the same batch: the order's timer runs
    2-10, then 14.5 to the finish (30), as Odoo's block flow would have left it; nothing changes on a replay."""
    from fake_odoo import iso

    from andon.events import DowntimeEnded, DowntimeStarted, OperationProgress

    stop = [event("machine.downtime_started", 10, DowntimeStarted(reason="Unspecified Stop", state="stopped")),
            event("machine.downtime_ended", 14.5, DowntimeEnded(reason="Unspecified Stop", state="stopped",
                                                               started_at=iso(10), ended_at=iso(14.5),
                                                               duration_s=270.0))]
    progress = event("operation.progress", 15, OperationProgress(quantity=40, rejects=0, since=iso(0),
                                                                 first_part_at=iso(2)))
    batch = [*stop, progress, finish(30, quantity=80)]
    result = sync.apply(batch)
    assert result.dead == []

    def timers():
        return sorted((r["date_start"], r["date_end"]) for r in fake.rows(PROD)
                      if " downtime" not in (r["description"] or ""))

    assert timers() == [(at(2), at(10)), (at(14.5), at(30))]
    sync.apply(batch)
    assert timers() == [(at(2), at(10)), (at(14.5), at(30))]

"""ProductivityHandler against the fake Odoo: downtime and quality-hold time logs, their keys and refusals."""

from __future__ import annotations

from fake_odoo import PROD, at, event, iso, outcomes

from andon.events import DowntimeEnded, DowntimeStarted, QualityHoldRaised


def started(minute, reason="Unspecified Stop"):
    return event("machine.downtime_started", minute, DowntimeStarted(reason=reason, state="stopped"))


def ended(start, end, reason="Unspecified Stop"):
    return event("machine.downtime_ended", end, DowntimeEnded(reason=reason, state="stopped", started_at=iso(start),
                                                              ended_at=iso(end), duration_s=(end - start) * 60))


def hold(minute):
    return event("quality.hold_raised", minute, QualityHoldRaised(
        rule="reject_rate", value=0.2, limit=0.05, window_start=iso(minute - 1), window_end=iso(minute),
        description="reject rate 20 % over 5 %"))


def logs(fake):
    return sorted((r["date_start"], r["date_end"], r["loss_id"], r["workorder_id"]) for r in fake.rows(PROD))


def loss(fake, name):
    return fake.rows(f"{PROD}.loss", [("name", "=", name)])[0]["id"]


def test_a_stop_started_and_ended_in_one_batch_is_one_closed_log(fake, sync):
    result = sync.apply([started(10), ended(10, 14.5)])
    wo = fake.rows("mrp.workorder")[0]["id"]
    assert logs(fake) == [(at(10), at(14.5), loss(fake, "Unspecified Stop"), wo)]
    assert fake.writes()[(PROD, "create")] == 1 and fake.writes()[(PROD, "write")] == 0
    assert outcomes(result) == [("machine.downtime_started", "applied"), ("machine.downtime_ended", "applied")]


def test_a_stop_ended_in_a_later_batch_closes_the_open_log(fake, sync):
    sync.apply([started(10)])
    assert logs(fake)[0][1] is False
    result = sync.apply([ended(10, 12)])
    assert [lg[:2] for lg in logs(fake)] == [(at(10), at(12))]
    assert outcomes(result) == [("machine.downtime_ended", "applied")]


def test_an_end_without_its_start_records_the_whole_stop(fake, sync):
    sync.apply([ended(20, 25, reason="Machine Offline")])
    [row] = fake.rows(PROD)
    assert (row["date_start"], row["date_end"]) == (at(20), at(25))
    assert " downtime_closed @" in row["description"]


def test_a_quality_hold_is_a_closed_log_over_its_window_with_the_quality_loss(fake, sync):
    sync.apply([hold(30)])
    [row] = fake.rows(PROD)
    assert (row["date_start"], row["date_end"], row["loss_id"]) == (at(29), at(30), loss(fake, "Process Defect"))
    assert " quality_hold @" in row["description"]


def test_replaying_finds_every_log_and_writes_nothing(fake, sync):
    batch = [started(10), ended(10, 12), started(40), hold(50)]
    sync.apply(batch)
    before, writes = logs(fake), fake.writes()
    result = sync.apply(batch)
    assert logs(fake) == before and fake.writes() == writes
    assert {o for _, o in outcomes(result)} == {"exists"}


def test_an_unknown_loss_reason_refuses_that_event_only(fake, sync):
    result = sync.apply([started(10, reason="Coffee Break"), started(20)])
    assert [(it.event.type, r.reason) for it, r in result.dead] == [("machine.downtime_started",
                                                                      "unknown_loss_reason")]
    assert len(fake.rows(PROD)) == 1


def test_an_end_whose_start_odoo_refused_goes_to_the_dlq_too(fake, sync):
    fake.refuse[(PROD, "create")] = lambda rows: "refused" if any(r["date_start"] == at(10) for r in rows) else None
    result = sync.apply([started(10), ended(10, 12), started(30)])
    assert sorted(r.reason for _, r in result.dead) == ["odoo_refused", "start_refused"]
    assert [lg[0] for lg in logs(fake)] == [at(30)]


def test_a_release_extends_the_hold_log_to_the_end_of_the_episode(fake, sync):
    from andon.events import QualityHoldReleased

    raised = hold(30)
    release = event("quality.hold_released", 75, QualityHoldReleased(
        rule="reject_rate", raised_at=raised.event.occurred_at, value=0.01, limit=0.05, window_start=iso(74),
        window_end=iso(75), description="back at nominal"))
    sync.apply([raised])
    sync.apply([release])
    [row] = fake.rows(PROD)
    assert (row["date_start"], row["date_end"]) == (at(29), at(75))
    again = sync.apply([release])
    assert outcomes(again) == [("quality.hold_released", "exists")]

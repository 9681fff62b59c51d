"""MaintenanceHandler against the fake Odoo: one request per event, on the right equipment and team."""

from __future__ import annotations

from fake_odoo import event, outcomes

from andon.events import MaintenanceRequested


def request(minute, equipment=None):
    return event("maintenance.requested", minute, MaintenanceRequested(
        trigger="alarm", detail="alarm code 17", alarm_code=17, equipment=equipment))


def test_a_request_lands_on_the_machines_equipment_team_and_order(fake, sync):
    result = sync.apply([request(5)])
    [row] = fake.rows("maintenance.request")
    eq = fake.rows("maintenance.equipment")[0]
    wo = fake.rows("mrp.workorder")[0]
    assert (row["equipment_id"], row["maintenance_team_id"], row["workorder_id"], row["request_date"]) == (
        eq["id"], eq["maintenance_team_id"], wo["id"], "2026-03-02")
    assert row["name"] == "press-01: alarm code 17"
    assert outcomes(result) == [("maintenance.requested", "applied")]


def test_an_unknown_equipment_is_refused_and_a_replay_finds_the_request(fake, sync):
    result = sync.apply([request(5), request(6, equipment="EQ-NOPE")])
    assert [r.reason for _, r in result.dead] == ["unknown_equipment"]
    again = sync.apply([request(5)])
    assert len(fake.rows("maintenance.request")) == 1
    assert outcomes(again) == [("maintenance.requested", "exists")]

"""QualityAlertHandler against the fake Odoo: one quality.alert per hold where the model exists, none otherwise."""

from __future__ import annotations

import pytest
from fake_odoo import PROD, event, iso, outcomes

from andon.events import QualityHoldRaised


def hold(minute):
    return event("quality.hold_raised", minute, QualityHoldRaised(
        rule="reject_rate", value=0.2, limit=0.05, window_start=iso(minute - 1), window_end=iso(minute),
        description="reject rate 20 % over 5 %"))


@pytest.mark.parametrize("installed", [True, False], ids=["quality-app", "community"])
def test_a_hold_creates_an_alert_only_where_the_quality_app_is_installed(fake, sync, installed):
    if installed:
        fake.add("ir.model", model="quality.alert")
    result = sync.apply([hold(30)])
    alerts = fake.rows("quality.alert")
    assert len(alerts) == (1 if installed else 0)
    assert len(fake.rows(PROD)) == 1, "the Community time log is written either way"
    assert outcomes(result) == [("quality.hold_raised", "applied")]
    if installed:
        wo = fake.rows("mrp.workorder")[0]
        assert (alerts[0]["workorder_id"], alerts[0]["production_id"]) == (wo["id"], wo["production_id"])


def test_a_replayed_hold_finds_its_alert(fake, sync):
    fake.add("ir.model", model="quality.alert")
    sync.apply([hold(30)])
    result = sync.apply([hold(30)])
    assert len(fake.rows("quality.alert")) == 1
    assert {o for _, o in outcomes(result)} == {"exists"}

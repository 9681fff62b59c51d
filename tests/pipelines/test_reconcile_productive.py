"""reconcile's productive_log check as a pure function: per machine and final shift, the work orders' timers in
Odoo against the planned time the readings cover minus downtime (shift_oee). Clean when they agree, flagged when a
timer is cut short or runs through a stop; stop and hold logs and sync-shifts summaries are not timers."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from andon.config import load_site
from andon.pipelines.reconcile_checks import Causes, Inputs, productive_logs

SITE = load_site(Path(__file__).resolve().parents[2] / "examples" / "plant-a.toml")
# the early shift of 2026-03-02 (06:00-14:00 CET = 05:00-13:00 UTC, break 10:00-10:30 CET); readings 06:00-07:00
START = datetime(2026, 3, 2, 5, 0, tzinfo=UTC)
MS = int(START.timestamp() * 1000)


def dt(minute: float) -> str:
    return datetime.fromtimestamp(MS / 1000 + minute * 60, UTC).strftime("%Y-%m-%d %H:%M:%S")


def inputs(timers: list[dict], downtime_s: float = 600.0) -> Inputs:
    row = {"machine": "cnc-01", "work_center": "WC-CNC-01", "shift_id": "2026-03-02-early",
           "shift_start": START, "shift_end": datetime(2026, 3, 2, 13, 0, tzinfo=UTC),
           "planned_time_s": 7.5 * 3600, "downtime_s": downtime_s, "downtime_by_reason": []}
    return Inputs(SITE, [row], {"cnc-01": [MS + k * 60_000 for k in range(60)]}, None, None, [],
                  {"WC-CNC-01": 7}, [], [], now_ms=MS + 86_400_000, timers=timers)


def timer(a: float, b: float | None, text: str = "Time Tracking: andon integration") -> dict:
    return {"workcenter_id": [7, "CNC 01"], "workorder_id": [70, "WO"], "date_start": dt(a),
            "date_end": dt(b) if b is not None else False, "description": text}


STOP = "[andon:9da05bb2-69fe-5b1b-be3e-f1c997f12133] downtime @2026-03-02T05:20:00.000Z Unspecified Stop"


def check(timers, **kw):
    inp = inputs(timers, **kw)
    return productive_logs(inp, Causes(inp))


def test_timers_split_around_a_ten_minute_stop_are_clean():
    assert check([timer(0.1, 20), timer(30, None), timer(20, 30, STOP)]) == []


def test_a_timer_running_through_the_stop_is_flagged():
    [m] = check([timer(0.1, None)])
    assert m.kind == "productive_log" and m.odoo == pytest.approx(m.shop_floor + 600, abs=10)
    assert "longer than the machine ran" in m.cause


def test_a_timer_cut_short_is_flagged():
    [m] = check([timer(0.1, 20), timer(30, 40)])
    assert m.odoo == pytest.approx(m.shop_floor - 20 * 60, abs=10) and "missing, cut short" in m.cause


def test_not_read_is_not_compared():
    inp = inputs([])
    inp.timers = None
    assert productive_logs(inp, Causes(inp)) == []

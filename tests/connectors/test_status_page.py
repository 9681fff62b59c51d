"""The status page in headless Chromium: machine rows with state and OEE so far, confirmations waiting for Odoo,
dead letters by reason; a screenshot that is not blank."""

from __future__ import annotations

import time

import pytest
from flowtools import chromium

from andon.connectors.status_server import StatusServer
from andon.events import CountReported, StateChanged, make_event
from andon.pipelines.status import Pending, StatusBoard, count_dead_letter

T0 = 1_772_431_200_000  # 2026-03-02 06:00 UTC = 07:00 Berlin, one hour into the early shift


@pytest.fixture
def board(site):
    board = StatusBoard()
    board.register_sites([site], "telemetry")
    board.register_sites([site], "odoo_sync")
    events = []
    for n, (machine, state, good) in enumerate([("press-01", "running", 1500), ("press-02", "breakdown", 300),
                                                 ("cnc-01", "setup", 120)]):
        events.append(make_event("machine.state_changed", site="plant-a", machine=machine, occurred_at_ms=T0 - 60_000 * n,
                                 detected_at_ms=T0, data=StateChanged(from_state="running" if n else "stopped",
                                                                      to_state=state)))
        events.append(make_event("production.count_reported", site="plant-a", machine=machine, occurred_at_ms=T0,
                                 detected_at_ms=T0, data=CountReported(
                                     shift_id="2026-03-02-early", window_start="2026-03-02T05:59:00.000Z",
                                     window_end="2026-03-02T06:00:00.000Z", total_count=good + 10, good_count=good,
                                     reject_count=10, window_total=30, window_rejects=0)))
    board.observe_events(events)
    now = int(time.time() * 1000)
    board.consumed([Pending(f"evt-{i:04d}", "production.scrap_recorded", "press-01", f"corr-{i}", now - i * 90_000)
                    for i in range(3)])
    for reason, n in (("unknown_work_center", 4), ("timestamp_in_future", 2)):
        for _ in range(n):
            board.dead_letter("andon.events.dlq.v1", reason)
    return board


def test_oee_so_far_is_good_count_times_ideal_cycle_over_planned_time(board, site):
    rows = {m["machine"]: m for m in board.snapshot()["machines"]}
    # early shift 06:00-14:00 Berlin = 05:00 UTC; one hour elapsed, no break yet; press ideal cycle 2 s
    assert rows["press-01"]["oee"] == pytest.approx(1500 * 2.0 / 3600, abs=1e-4)
    assert rows["press-02"]["state"] == "breakdown" and rows["cnc-01"]["state"] == "setup"


def test_status_page_in_headless_chromium(board, tmp_path):
    from PIL import Image, ImageStat

    server = StatusServer(0, host="127.0.0.1", snapshot=board.snapshot, title="andon plant-a").start()
    server.add_check("odoo", lambda: (True, "circuit closed"))
    server.ready.set()
    try:
        url = f"http://127.0.0.1:{server.port}/status"
        dom = chromium(url, tmp_path, "--dump-dom", "--virtual-time-budget=2000")
        shot = tmp_path / "status.png"
        chromium(url, tmp_path, f"--screenshot={shot}", "--window-size=1280,900", "--hide-scrollbars")
    finally:
        server.stop()
    html = dom.stdout
    assert dom.returncode == 0, dom.stderr[-2000:]
    for machine, state in (("press-01", "running"), ("press-02", "breakdown"), ("cnc-01", "setup")):
        assert f"data-machine=\"{machine}\"" in html and f">{state}<" in html
    assert "125.0%" not in html and "83.3%" in html  # press-01: 1500 parts x 2 s / 3600 s
    for reason in ("unknown_work_center", "timestamp_in_future"):
        assert f"<td class=\"reason\">{reason}</td>" in html
    assert "<b id=\"waiting\">3</b>" in html and "<b id=\"delayed\">2</b>" in html
    assert "corr-2" in html and ">ready<" in html

    image = Image.open(shot).convert("RGB")
    assert image.size == (1280, 900)
    stat = ImageStat.Stat(image)
    assert max(stat.stddev) > 20, "the screenshot is blank"
    colours = image.resize((64, 45)).getcolors(64 * 45)
    assert colours and len(colours) > 8, "the page rendered more than a flat background"


def test_dead_letter_counter_feeds_the_process_board():
    from andon.pipelines.status import BOARD, DEAD_LETTERS

    before = DEAD_LETTERS.labels("t.dlq", "oversized")._value.get()
    count_dead_letter("t.dlq", "oversized")
    assert DEAD_LETTERS.labels("t.dlq", "oversized")._value.get() == before + 1
    counts = {(d["topic"], d["reason"]): d["count"] for d in BOARD.snapshot()["dead_letters"]}
    assert counts[("t.dlq", "oversized")] >= 1

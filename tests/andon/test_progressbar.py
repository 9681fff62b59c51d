"""The one progress display: plain lines (never a carriage return) on a log, rich's bar on a terminal."""

from __future__ import annotations

import io

from andon.progressbar import ProgressLine


def test_on_a_log_it_writes_plain_lines_at_most_every_interval_and_the_final_state():
    out = io.StringIO()
    with ProgressLine("sync-shifts", unit="records", every_s=3600, stream=out) as bar:
        for done in range(1, 101):
            bar.update(done, 100)
    lines = out.getvalue().splitlines()
    assert lines == ["sync-shifts: 1/100 records (  1 %)", "sync-shifts: 100/100 records (100 %)"]
    assert "\r" not in out.getvalue()


def test_text_replaces_the_standard_wording_and_nothing_is_written_without_progress():
    out = io.StringIO()
    with ProgressLine("demo", every_s=0, stream=out) as bar:
        bar.update(5, text="odoo-sync: 5 audit lines")
    assert out.getvalue() == "demo: odoo-sync: 5 audit lines\n"  # the final state, written once
    silent = io.StringIO()
    with ProgressLine("idle", stream=silent):
        pass
    assert silent.getvalue() == ""


def test_on_a_terminal_it_draws_rich_bar():
    out = io.StringIO()
    with ProgressLine("simulate", stream=out, terminal=True) as bar:
        bar.update(50, 100, text="00:30:00 of 01:00:00 simulated")
    assert "simulate" in out.getvalue() and "00:30:00 of 01:00:00 simulated" in out.getvalue()

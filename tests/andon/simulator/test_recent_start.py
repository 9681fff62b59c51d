"""`andon simulate --bootstrap-servers` without --start starts where the live pipeline accepts every reading."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from andon.config import example_site_path, load_site
from andon.errors import SimulationError
from andon.shifts import ShiftSchedule
from andon.simulator.cli import recent_start


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


@pytest.mark.parametrize(("now", "hours"), [("2026-12-02T05:48:00", 8), ("2026-12-02T13:00:00", 8),
                                             ("2026-07-15T21:59:59", 1), ("2026-03-29T03:00:00", 24)])
def test_recent_start_is_a_shift_start_from_which_the_run_ends_by_now(now, hours):
    site = load_site(example_site_path())
    start = recent_start(site, hours, ms(now))
    assert start + hours * 3_600_000 <= ms(now)  # never a reading in the future, even produced with --speed
    assert ms(now) - start <= site.processing.max_past_s * 1000  # never one too old
    shift = ShiftSchedule.from_site(site).shift_at(start)
    assert shift is not None and shift.start_ms == start
    assert ms(now) - start < (hours + 8) * 3_600_000  # the latest such start: less than one shift earlier


def test_a_run_longer_than_the_accepted_past_is_refused():
    site = load_site(example_site_path())
    with pytest.raises(SimulationError, match="further back than processing.max_past_s"):
        recent_start(site, site.processing.max_past_s / 3600 + 1, ms("2026-12-02T05:48:00"))

"""Fixtures for the handler unit tests: the fake Odoo of `fake_odoo` (pure code, no HTTP) and an `OdooSync`
over it whose sleeps are recorded instead of slept."""

from __future__ import annotations

import pytest
from fake_odoo import plant

from andon.connectors.odoo.sync import OdooSync


@pytest.fixture
def fake():
    return plant()


@pytest.fixture
def sync(fake, site):
    slept: list[float] = []
    s = OdooSync(fake, site, sleep=slept.append, concurrency=1)
    s.slept = slept
    return s

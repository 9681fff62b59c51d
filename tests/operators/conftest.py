"""Operator test fixtures; tests/reference (oracles, traces, the test plant) is put on sys.path here."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "reference"))

from harness import make_plant

from andon.readings import Registry


@pytest.fixture(scope="session")
def plant():
    return make_plant()


@pytest.fixture(scope="session")
def registry(plant) -> Registry:
    return Registry([plant])

"""Shared fixtures: the example site and a session-scoped embedded broker (real Tansu on loopback)."""

from __future__ import annotations

import pytest

from andon.config import example_site_path, load_site


@pytest.fixture(scope="session")
def site():
    return load_site(example_site_path())


@pytest.fixture(scope="session")
def broker():
    """A real Kafka-protocol broker for the whole session; tests create their own uniquely named topics."""
    from andon.connectors.broker import EmbeddedBroker

    with EmbeddedBroker() as running:
        yield running

"""Fixtures for the Odoo client tests: a stand-in imitating Odoo 19 (so all three transports work) and a factory
for clients with short backoff timings and a recording sleep."""

from __future__ import annotations

import pytest

from andon.config import OdooSettings
from andon.connectors.odoo import CircuitBreaker, OdooClient, RetryPolicy
from andon.connectors.standin import run_standin
from andon.connectors.standin.testing import INTEGRATION_KEY, INTEGRATION_PASSWORD

TRANSPORTS = ["xmlrpc", "jsonrpc", "json2"]
FAST_RETRY = RetryPolicy(attempts=4, base_s=0.01, cap_s=0.05, max_retry_after_s=5.0)


@pytest.fixture(scope="module")
def standin(tmp_path_factory):
    with run_standin(tmp_path_factory.mktemp("odoo19"), odoo_version="19",
                     integration_api_key=INTEGRATION_KEY) as handle:
        yield handle


@pytest.fixture(autouse=True)
def _clean_faults(request):
    yield
    if "standin" in request.fixturenames:
        request.getfixturevalue("standin").clear_faults()


def settings_for(url: str, transport: str, **overrides) -> OdooSettings:
    values = {"url": url, "database": "andon", "transport": transport, "username": "andon-integration",
              "password": INTEGRATION_PASSWORD, "api_key": INTEGRATION_KEY, "timeout_s": 5.0,
              "rate_limit_per_s": 1000.0}
    values.update(overrides)
    return OdooSettings(**values)


class Sleeps(list):
    """A sleep that records the delays instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def make_client():
    clients = []

    def make(url: str, transport: str, *, retry: RetryPolicy = FAST_RETRY, breaker: CircuitBreaker | None = None,
             sleep=None, **overrides) -> OdooClient:
        client = OdooClient(settings_for(url, transport, **overrides), retry=retry, breaker=breaker,
                            rate_limit=False, sleep=sleep if sleep is not None else Sleeps())
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()

"""Fixtures for odoo_sync tests: a small real event stream (simulator -> telemetry replay, plus a few hand-built
events for the types a short trace lacks), a stand-in per test, an admin client and the plant's topics."""

from __future__ import annotations

import json
import uuid

import pytest
from flowtools import andon, site_config
from odoosync_tools import PER_EVENT, extra_events, produce

from andon.config import OdooSettings
from andon.connectors.odoo import OdooClient
from andon.connectors.standin import run_standin
from andon.connectors.standin.testing import INTEGRATION_PASSWORD
from andon.events import parse_iso_ms
from andon.simulator import Simulation


@pytest.fixture(scope="session")
def event_lines(tmp_path_factory, site) -> list[bytes]:
    """~700 business events of 6 machines over 90 minutes, in the order the telemetry dataflow wrote them."""
    root = tmp_path_factory.mktemp("odoo_events")
    trace = root / "trace.jsonl"
    Simulation(site, machines=6, hours=1.5, seed=11).write_jsonl(trace)
    andon("replay", str(trace), "--out", str(root / "out"))
    lines = (root / "out" / "events.jsonl").read_bytes().splitlines()
    last = max(parse_iso_ms(json.loads(line)["occurred_at"]) for line in lines)
    return lines + extra_events(last)


@pytest.fixture
def odoo(tmp_path):
    with run_standin(tmp_path / "odoo", odoo_version="17") as handle:
        yield handle


@pytest.fixture
def admin(odoo):
    client = OdooClient(OdooSettings(url=odoo.url, username="admin", password="admin", transport="xmlrpc",
                                     rate_limit_per_s=10_000), rate_limit=False)
    yield client
    client.close()


@pytest.fixture
def plant(tmp_path, broker, odoo, event_lines):
    """Own topics with the events produced, and the environment `andon run odoo-sync` needs."""
    config, topics = site_config(tmp_path, broker, f"os{uuid.uuid4().hex[:6]}", PER_EVENT)
    produce(broker, topics[2], event_lines)
    env = {"ANDON_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap, "ANDON_ODOO_URL": odoo.url,
           "ANDON_ODOO_PASSWORD": INTEGRATION_PASSWORD}
    return config, topics, env



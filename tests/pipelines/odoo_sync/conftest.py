"""Fixtures for odoo_sync tests: a small real event stream (simulator -> telemetry replay, plus a few hand-built
events for the types a short trace lacks), a stand-in per test in each Odoo variant andon supports
(tests/support/odoo_variants.py: 17 Community and Enterprise, 18 Community, 19 Community and Enterprise), an admin
client and the plant's topics. The full stream runs on one variant (`FULL`), a shorter one on the others."""

from __future__ import annotations

import json
import uuid

import pytest
from flowtools import andon, site_config
from odoo_variants import PARAMS, OdooVariant, admin_client
from odoosync_tools import PER_EVENT, extra_events, produce

from andon.events import OperationStarted, encode_event, make_event, parse_iso_ms
from andon.simulator import Simulation


def replayed_events(root, site, *, machines: int, hours: float, seed: int) -> list[bytes]:
    """The business events of a simulated trace, in the order the telemetry dataflow wrote them."""
    trace = root / "trace.jsonl"
    Simulation(site, machines=machines, hours=hours, seed=seed).write_jsonl(trace)
    andon("replay", str(trace), "--out", str(root / "out"))
    return (root / "out" / "events.jsonl").read_bytes().splitlines()


def last_ms(lines: list[bytes]) -> int:
    return max(parse_iso_ms(json.loads(line)["occurred_at"]) for line in lines)


@pytest.fixture(scope="session")
def full_event_lines(tmp_path_factory, site) -> list[bytes]:
    """~700 business events of 6 machines over 90 minutes."""
    lines = replayed_events(tmp_path_factory.mktemp("odoo_events"), site, machines=6, hours=1.5, seed=11)
    return lines + extra_events(last_ms(lines))


@pytest.fixture(scope="session")
def short_event_lines(tmp_path_factory, site) -> list[bytes]:
    """Business events of 4 machines over 45 minutes (press-04's order is `waiting` on 16-18), each machine's
    order started by andon first (so its stops meet Odoo's one-open-log rule while it runs), plus the hand-built
    events of the full stream."""
    lines = replayed_events(tmp_path_factory.mktemp("short_events"), site, machines=4, hours=0.75, seed=23)
    first = min(parse_iso_ms(json.loads(line)["occurred_at"]) for line in lines)
    starts = [encode_event(make_event("operation.started", site="plant-a", machine=f"press-0{n}",
                                      work_center=f"WC-PRESS-0{n}", occurred_at_ms=first - 60_000,
                                      detected_at_ms=first - 59_000, data=OperationStarted()))
              for n in range(1, 5)]
    return starts + lines + extra_events(last_ms(lines))


@pytest.fixture(params=PARAMS)
def variant(request) -> OdooVariant:
    """The Odoo version, edition and transport of this test case."""
    return request.param


@pytest.fixture
def event_lines(request, variant) -> list[bytes]:
    """The full stream on the full variant, the short one on the others."""
    return request.getfixturevalue("full_event_lines" if variant.full else "short_event_lines")


@pytest.fixture
def odoo(tmp_path, variant):
    with variant.standin(tmp_path / "odoo") as handle:
        yield handle


@pytest.fixture
def admin(odoo):
    client = admin_client(odoo)
    yield client
    client.close()


@pytest.fixture
def plant(tmp_path, broker, odoo, variant, event_lines):
    """Own topics with the events produced, and the environment `andon run odoo-sync` needs."""
    config, topics = site_config(tmp_path, broker, f"os{uuid.uuid4().hex[:6]}", PER_EVENT)
    produce(broker, topics[2], event_lines)
    return config, topics, variant.env(odoo, broker)

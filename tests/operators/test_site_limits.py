"""Several sites in one telemetry decoder: each reading is held to its own site's processing limits."""

from __future__ import annotations

import json

import pytest

from andon.messages import RawBatch
from andon.operators.telemetry import TelemetryDecoder
from andon.readings import Registry

NOW = 1_772_431_200_000


@pytest.fixture(scope="module")
def two_sites(site):
    strict = site.processing.model_copy(update={"max_future_s": 60.0, "max_past_s": 3600.0, "max_message_bytes": 300})
    other = site.model_copy(update={"site": site.site.model_copy(update={"id": "plant-b"}), "processing": strict})
    return [site, other]


def reading(site: str, ts: int, pad: int = 0) -> bytes:
    return json.dumps({"site": site, "machine": "press-01", "ts": ts,
                       "signals": {"state": 10000, "alarm": 0}, "note": "x" * pad}).encode()


@pytest.mark.parametrize(
    ("ts", "pad", "a_reason", "b_reason"),
    [
        (NOW - 1000, 0, None, None),
        (NOW + 120_000, 0, None, "timestamp_in_future"),  # 120 s ahead: within plant-a's 300 s, not plant-b's 60
        (NOW - 7_200_000, 0, None, "timestamp_too_old"),  # 2 h old: within plant-a's 30 days, not plant-b's hour
        (NOW - 1000, 400, None, "oversized"),  # over plant-b's 300 bytes
        (NOW + 400_000, 0, "timestamp_in_future", "timestamp_in_future"),
    ],
)
def test_each_reading_meets_its_own_sites_limits(two_sites, ts, pad, a_reason, b_reason):
    registry = Registry(two_sites)
    decoder = TelemetryDecoder(two_sites, registry, (NOW - 30 * 86_400_000, NOW + 300_000))
    values = [reading("plant-a", ts, pad), reading("plant-b", ts, pad)]
    out = decoder.decode(RawBatch("t", 0, [0, 1], values, [None, None], [0, 0]))
    reasons = {d.source_offset: d.reason for d in out.dead}
    assert (reasons.get(0), reasons.get(1)) == (a_reason, b_reason)
    kept_sites = [registry.keys[m][0] for m in out.batch.machine.tolist()]
    assert kept_sites == [s for s, r in (("plant-a", a_reason), ("plant-b", b_reason)) if r is None]
    assert all(d.raw == values[d.source_offset] for d in out.dead if d.reason != "oversized")

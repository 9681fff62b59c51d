"""odoo_sync's inputs and output limits: oversized and invalid events go to the DLQ before any Odoo call, the
DLQ replay path applies the same size limit, and the rate limit toward Odoo holds for all shards together."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from confluent_kafka import Producer
from flowtools import andon, site_config
from odoo_variants import PER_TRANSPORT
from odoosync_tools import run_sync

from andon.connectors.kafka import read_topic
from andon.events import MaintenanceRequested, encode_event, make_event
from andon.pipelines.odoo_sync import MAX_EVENT_BYTES

pytestmark = [pytest.mark.broker, pytest.mark.odoo]

RATE = 20.0
T0 = 1_772_420_000_000


def maintenance(n: int, detail: str = "alarm code 17") -> bytes:
    machine = f"press-{n % 4 + 1:02d}"  # four machines: both shards get work
    return encode_event(make_event(
        "maintenance.requested", site="plant-a", machine=machine, work_center=f"WC-PRESS-{n % 4 + 1:02d}",
        occurred_at_ms=T0 + n * 60_000, detected_at_ms=T0 + n * 60_000 + 500,
        data=MaintenanceRequested(trigger="alarm", detail=detail, alarm_code=17, equipment=f"EQ-PRESS-{n % 4 + 1:02d}")))


class CallRate:
    """Samples the stand-in's call counter every 50 ms while odoo-sync runs."""

    def __init__(self, odoo) -> None:
        self.odoo, self.samples, self.stop = odoo, [], threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        while not self.stop.is_set():
            self.samples.append((time.monotonic(), self.odoo.stats()["calls"]))
            time.sleep(0.05)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()


@pytest.mark.parametrize("variant", PER_TRANSPORT)  # andon's limits: one variant per transport
def test_oversized_and_invalid_events_are_refused_and_odoo_calls_keep_to_the_rate_limit(broker, variant, odoo,
                                                                                         tmp_path):
    config, topics = site_config(tmp_path, broker, f"lim{uuid.uuid4().hex[:6]}")
    config.write_text(config.read_text().replace("batch_size = 100", "batch_size = 1"))  # one call per write
    good = [maintenance(n) for n in range(60)]
    oversized = maintenance(99, detail="x" * (MAX_EVENT_BYTES + 10))
    invalid = b'{"event_id": "e-1", "type": "maintenance.requested", "site": "plant-a"}'
    producer = Producer({"bootstrap.servers": broker.bootstrap, "enable.idempotence": True})
    for value in [oversized, invalid, *good]:
        producer.produce(topics[2], value, b"press-01")
    assert producer.flush(30) == 0
    env = variant.env(odoo, broker)
    odoo.reset_stats()
    with CallRate(odoo) as rate:
        run_sync(config, tmp_path, env, "--rate-limit", str(RATE), "--shards", "2")

    dead = read_topic({"bootstrap.servers": broker.bootstrap}, topics[3], idle_s=3.0)
    reasons = sorted(dict(m.headers())["andon.dlq.reason"].decode() for m in dead)
    assert reasons == ["invalid_event", "oversized"]
    big = next(m for m in dead if dict(m.headers())["andon.dlq.reason"] == b"oversized")
    assert len(big.value()) == 4096 and f"> limit {MAX_EVENT_BYTES}".encode() in dict(big.headers())["andon.dlq.detail"]

    total = rate.samples[-1][1]
    # a login takes one token; over JSON-RPC (odoorpc) it is 3 HTTP requests (version_info, login, context_get),
    # over XML-RPC (authenticate) and JSON-2 (context_get) one
    unmetered = 2 * odoo.stats()["by_method"]["login"] if variant.transport == "jsonrpc" else 0
    assert total >= 3 * RATE, f"too few Odoo calls ({total}) to measure the rate"
    first = next(t for t, c in rate.samples if c > 0)
    last = next(t for t, c in rate.samples if c == total)
    # a token bucket of RATE/s with a burst of RATE: N calls take at least (N - RATE) / RATE seconds; without one
    # bucket for both shards (one per Odoo client, as before), this run took half that
    expected = (total - unmetered - RATE) / RATE
    assert last - first >= expected - 0.15, f"{total} calls in {last - first:.2f} s: more than {RATE}/s"

    # The DLQ replay path applies the same size limit before decoding.
    producer.produce(topics[3], b'{"padding": "' + b"y" * MAX_EVENT_BYTES + b'"}', b"press-01")
    assert producer.flush(30) == 0
    entries = read_topic({"bootstrap.servers": broker.bootstrap}, topics[3], idle_s=3.0)
    ident = f"{entries[-1].partition()}:{entries[-1].offset()}"
    replay = andon("dlq", "replay", "--id", ident, "--config", str(config), "--audit", str(tmp_path / "audit.jsonl"),
                   env=env, check=False)
    assert replay.returncode == 1 and "still invalid: oversized" in replay.stdout

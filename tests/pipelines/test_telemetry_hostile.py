"""Malformed and hostile readings land in the DLQ with reasons; the valid readings around them are unaffected."""

from __future__ import annotations

import json
import uuid

import pytest
from confluent_kafka import Producer
from flowtools import andon, events_of, parquet_of, run_args, site_config

from andon.connectors.kafka import read_topic

pytestmark = pytest.mark.broker

HOSTILE = [
    (b'{"site":"plant-a","machine":"press-01","ts":17724', "malformed_json"),
    (b'{"site":"plant-a","machine":"press-01","ts":"soon","signals":{}}', "bad_timestamp"),
    (b'{"site":"plant-a","machine":"press-01","ts":1772430000000,"signals":{"power_kw":[1]}}', "schema_violation"),
    (b'{"site":"plant-a","machine":"press-01","ts":1772430000000,"signals":{"power_kw":NaN}}', "non_finite_number"),
    (b'{"site":"plant-a","machine":"press-77","ts":1772430000000,"signals":{"power_kw":1}}', "unknown_machine"),
    (b'{"site":"plant-a","machine":"press-01","ts":1672430000000,"signals":{"power_kw":1}}', "timestamp_too_old"),
    (b'{"site":"plant-a","machine":"press-01","ts":4102444800000,"signals":{"power_kw":1}}', "timestamp_in_future"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", "invalid_utf8"),
    (b'{"site":"plant-a","machine":"press-01","ts":1772430000000,"signals":{"x":"' + b"A" * 2_000_000 + b'"}}',
     "oversized"),
]


@pytest.mark.fault
def test_hostile_messages_go_to_the_dlq_and_change_nothing_else(small_trace, broker, tmp_path, fault_summary):
    """Injects: 9 hostile messages (truncated JSON, bad types, NaN, unknown machine, far past/future timestamps,
    binary junk, a 2 MB message) between the readings of a live run. Checks: each lands in the DLQ with its reason,
    events and Parquet equal a clean replay."""
    trace, truth = small_trace
    config, topics = site_config(tmp_path, broker, f"hostile{uuid.uuid4().hex[:6]}")
    # idempotent: without it librdkafka may retry a request out of order on a loaded machine (seen on Kafka)
    producer = Producer({"bootstrap.servers": broker.bootstrap, "message.max.bytes": 5_000_000, "enable.idempotence": True})
    lines = trace.read_bytes().splitlines()
    step = len(lines) // (len(HOSTILE) + 1)
    for i, line in enumerate(lines):
        doc = json.loads(line)
        machine = (doc[0] if isinstance(doc, list) else doc)["machine"].encode()
        producer.produce(topics[0], line, machine)
        if i % step == step - 1 and i // step < len(HOSTILE):
            producer.produce(topics[0], HOSTILE[i // step][0], machine)
        producer.poll(0)
    assert producer.flush(30) == 0

    live, clean = tmp_path / "live", tmp_path / "clean"
    andon(*run_args(config, live, truth), env={"ANDON_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap})
    andon("replay", str(trace), "--config", str(config), "--out", str(clean))

    dead = read_topic({"bootstrap.servers": broker.bootstrap}, topics[1], idle_s=2)
    refused = [m for m in dead if dict(m.headers())["andon.dlq.reason"] != b"late_reading"]
    reasons = sorted(dict(m.headers())["andon.dlq.reason"].decode() for m in refused)
    assert reasons == sorted(reason for _, reason in HOSTILE)
    for msg in refused:
        headers = dict(msg.headers())
        assert headers["andon.source.topic"] == topics[0].encode()
        assert int(headers["andon.source.offset"]) >= 0 and headers["andon.dlq.hint"]
        original = [raw for raw, _ in HOSTILE if raw[:4096] == msg.value() or raw == msg.value()]
        assert original, "the DLQ keeps the original bytes (truncated only when oversized)"
    events = read_topic({"bootstrap.servers": broker.bootstrap}, topics[2], idle_s=2)
    live_ids = [json.loads(m.value())["event_id"] for m in events]
    expected = set(events_of(clean / "events.jsonl"))
    fault_summary(faults=f"{len(HOSTILE)} hostile messages", readings_in=f"{len(lines) + len(HOSTILE)} messages",
                  events_expected=len(expected), events_applied=len(set(live_ids) & expected),
                  duplicates=len(live_ids) - len(set(live_ids)), lost=len(expected - set(live_ids)),
                  dead_lettered=len(refused))
    assert set(live_ids) == expected
    for dataset in ("telemetry_agg", "shift_oee"):
        assert parquet_of(live, dataset).equals(parquet_of(clean, dataset)), dataset

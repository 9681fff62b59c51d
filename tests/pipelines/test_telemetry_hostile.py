"""Hostile messages land in the DLQ with reasons, bytes and offsets; the valid readings around them are unaffected."""

from __future__ import annotations

import json
import uuid

import pytest
from confluent_kafka import Producer
from flowtools import andon, events_of, parquet_of, run_args, site_config
from hostile_kinds import KINDS, hostile

from andon.connectors.kafka import read_topic

pytestmark = pytest.mark.broker


@pytest.mark.fault
def test_hostile_messages_go_to_the_dlq_and_change_nothing_else(small_trace, broker, tmp_path, fault_summary):
    """Injects: every kind in hostile_kinds.KINDS (over 50: malformed, truncated, not UTF-8, duplicate keys, deep
    nesting, wrong types, NaN, bad and out-of-range timestamps, unknown machines, implausible counters, damaged
    Arrow frames, a 2 MB message) between the readings of a live run, keyed like their neighbour so they share its
    partition and poll batches. Checks: the dataflow ends normally; each hostile message is in the DLQ exactly
    once with its reason, its original bytes and the offset it was written at; events (ids and payloads) and
    Parquet equal a clean replay."""
    trace, truth = small_trace
    config, topics = site_config(tmp_path, broker, f"hostile{uuid.uuid4().hex[:6]}")
    producer = Producer({"bootstrap.servers": broker.bootstrap, "message.max.bytes": 5_000_000,
                         "enable.idempotence": True})
    lines = trace.read_bytes().splitlines()
    step = len(lines) // (len(KINDS) + 1)
    sent: dict[tuple[int, int], tuple[bytes, str, str]] = {}  # (partition, offset) -> (bytes, reason, kind)

    def delivered(kind, value):
        def report(err, msg):
            assert err is None, err
            sent[(msg.partition(), msg.offset())] = (value, kind[1], kind[0])
        return report

    for i, line in enumerate(lines):
        doc = json.loads(line)
        neighbour = doc[0] if isinstance(doc, list) else doc
        machine = neighbour["machine"].encode()
        producer.produce(topics[0], line, machine)
        if i % step == step - 1 and i // step < len(KINDS):
            kind = KINDS[i // step]
            value = hostile(kind, neighbour)
            producer.produce(topics[0], value, machine, on_delivery=delivered(kind, value))
        producer.poll(0)
    assert producer.flush(30) == 0
    assert len(sent) == len(KINDS)

    live, clean = tmp_path / "live", tmp_path / "clean"
    andon(*run_args(config, live, truth), env={"ANDON_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap})
    andon("replay", str(trace), "--config", str(config), "--out", str(clean))

    dead = read_topic({"bootstrap.servers": broker.bootstrap}, topics[1], idle_s=2)
    refused = [m for m in dead if dict(m.headers())["andon.dlq.reason"] != b"late_reading"]
    got: dict[tuple[int, int], tuple[bytes, str]] = {}
    for msg in refused:
        headers = dict(msg.headers())
        assert headers["andon.source.topic"] == topics[0].encode() and headers["andon.dlq.hint"]
        where = (int(headers["andon.source.partition"]), int(headers["andon.source.offset"]))
        assert where not in got, f"dead-lettered twice: {where}"
        got[where] = (msg.value(), headers["andon.dlq.reason"].decode())
    assert sorted(got) == sorted(sent), "each hostile message, at the offset it was written at, and nothing else"
    for where, (value, reason, kind) in sent.items():
        raw, got_reason = got[where]
        assert got_reason == reason, kind
        assert raw == value or (reason == "oversized" and raw == value[:4096]), f"{kind}: the original bytes"
    events = read_topic({"bootstrap.servers": broker.bootstrap}, topics[2], idle_s=2)
    live_events = [json.loads(m.value()) for m in events]
    live_ids = [e["event_id"] for e in live_events]
    expected = events_of(clean / "events.jsonl")
    reasons = sorted({reason for _, reason, _ in sent.values()})
    fault_summary(faults=f"{len(KINDS)} kinds of hostile message", readings_in=f"{len(lines) + len(KINDS)} messages",
                  events_expected=len(expected), events_applied=len(set(live_ids) & set(expected)),
                  duplicates=len(live_ids) - len(set(live_ids)), lost=len(set(expected) - set(live_ids)),
                  dead_lettered=len(refused), reasons="|".join(reasons))
    assert {e["event_id"]: e for e in live_events} == expected  # ids and payloads
    for dataset in ("telemetry_agg", "shift_oee"):
        assert parquet_of(live, dataset).equals(parquet_of(clean, dataset)), dataset

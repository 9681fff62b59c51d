"""As an operator would: Kafka's own console consumer reads andon's events and dead letters, headers included."""

from __future__ import annotations

import json
import uuid

import pytest
from confluent_kafka import Producer
from flowtools import andon, run_args, site_config

from andon.connectors.broker_kafka import run_tool
from andon.connectors.kafka import read_topic

pytestmark = [pytest.mark.broker]

BAD = [b'{"site":"plant-a","machine":"press-01","ts":17724', b'{"site":"plant-a","machine":"press-77",'
       b'"ts":1772430000000,"signals":{"power_kw":1}}']


def _console(bootstrap: str, topic: str, count: int) -> list[str]:
    done = run_tool("kafka-console-consumer", [
        "--bootstrap-server", bootstrap, "--topic", topic, "--from-beginning", "--max-messages", str(count),
        "--timeout-ms", "20000", "--property", "print.headers=true",
        "--property", "print.key=true", "--property", "headers.separator=|~|"], timeout=90)
    lines = [ln for ln in done.stdout.splitlines() if ln.strip()]
    assert len(lines) == count, f"console consumer printed {len(lines)} of {count}:\n{done.stderr[-2000:]}"
    return lines


def test_console_consumer_reads_events_and_dead_letters_with_headers(kafka_only, small_trace, broker, tmp_path):
    trace, truth = small_trace
    config, topics = site_config(tmp_path, broker, f"tools{uuid.uuid4().hex[:6]}")
    producer = Producer({"bootstrap.servers": broker.bootstrap, "enable.idempotence": True})
    lines = trace.read_bytes().splitlines()[:4000]
    for i, line in enumerate(lines):
        doc = json.loads(line)
        producer.produce(topics[0], line, (doc[0] if isinstance(doc, list) else doc)["machine"].encode())
        if i in (1000, 2000):
            producer.produce(topics[0], BAD[i // 1000 - 1], b"press-01")
    assert producer.flush(30) == 0
    andon(*run_args(config, tmp_path / "out", truth), env={"ANDON_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap})

    config_ = {"bootstrap.servers": broker.bootstrap}
    events = read_topic(config_, topics[2], idle_s=1.5)
    dead = read_topic(config_, topics[1], idle_s=1.5)
    assert events and len(dead) >= 2
    printed = _console(broker.bootstrap, topics[2], len(events))
    # headers<TAB>key<TAB>value; the value is the event's JSON exactly as andon wrote it
    by_id = {json.loads(m.value())["event_id"]: m for m in events}
    for row in printed:
        headers, key, value = row.split("\t", 2)
        event = json.loads(value)
        assert by_id[event["event_id"]].value() == value.encode()
        assert key == by_id[event["event_id"]].key().decode()
    printed = _console(broker.bootstrap, topics[1], len(dead))
    reasons = []
    for row in printed:
        headers, _key, value = row.split("\t", 2)
        pairs = dict(h.split(":", 1) for h in headers.split("|~|"))
        assert pairs["andon.dlq.hint"] and pairs["andon.dlq.detail"]
        reasons.append(pairs["andon.dlq.reason"])
        if pairs["andon.dlq.reason"] != "late_reading":  # late readings are dead-lettered after the window step
            assert pairs["andon.source.topic"] == topics[0] and int(pairs["andon.source.offset"]) >= 0
            assert value.encode() in BAD, "the original bytes"
    assert sorted(r for r in reasons if r != "late_reading") == ["malformed_json", "unknown_machine"]

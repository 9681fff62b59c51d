"""Embedded broker: Tansu starts on a free port, topics get created, messages round-trip, it stops cleanly."""

from __future__ import annotations

import socket
import uuid

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource

from andon.connectors.broker import EmbeddedBroker, create_topics

pytestmark = pytest.mark.broker


def drain(bootstrap: str, topic: str, partitions: int, idle_s: float = 1.5) -> list:
    """Read every message of a topic: until nothing arrives for idle_s (Tansu's high watermark is a lower bound)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"t-{uuid.uuid4()}",
                         "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    out = []
    try:
        while True:
            batch = consumer.consume(1000, timeout=idle_s)
            if not batch:
                return out
            for msg in batch:
                assert msg.error() is None, msg.error()
                out.append(msg)
    finally:
        consumer.close()


def test_topics_created_with_retention_and_messages_round_trip(broker):
    topic = f"t-{uuid.uuid4().hex[:8]}"
    create_topics(broker.bootstrap, [topic], partitions=3)
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    assert len(admin.list_topics(timeout=5).topics[topic].partitions) == 3
    producer = Producer({"bootstrap.servers": broker.bootstrap, "enable.idempotence": True})
    for i in range(300):
        producer.produce(topic, key=f"m{i % 7}".encode(), value=f"v{i}".encode())
    assert producer.flush(10) == 0
    got = drain(broker.bootstrap, topic, 3)
    assert sorted(m.value().decode() for m in got) == sorted(f"v{i}" for i in range(300))
    # same key -> same partition, order kept per key
    for key in {m.key() for m in got}:
        values = [int(m.value()[1:]) for m in got if m.key() == key]
        assert values == sorted(values)
        assert len({m.partition() for m in got if m.key() == key}) == 1
    configs = admin.describe_configs([ConfigResource("topic", topic)])
    described = next(iter(configs.values())).result(timeout=10)
    assert "retention.ms" in described


def test_context_manager_stops_the_process():
    with EmbeddedBroker(topics=["a.b.v1"]) as b:
        port = b.port
        proc = b._process.proc
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            pass
    assert proc.poll() is not None
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()


def test_rejects_bad_partitions():
    with pytest.raises(ValueError, match="partitions"):
        EmbeddedBroker(partitions=0)

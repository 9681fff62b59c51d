"""Consumer lag from the batch source: reported per partition from the cached high watermark (a lower bound on
Tansu), falling to 0 once the partition is read."""

from __future__ import annotations

import time
import uuid

import pytest
from confluent_kafka import Producer

from andon.connectors.broker import create_topics
from andon.connectors.kafka import KafkaBatchSource

pytestmark = pytest.mark.broker


def test_lag_is_reported_and_reaches_zero(broker):
    topic = f"lag{uuid.uuid4().hex[:6]}"
    create_topics(broker.bootstrap, [topic], partitions=1)
    producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 0, "batch.num.messages": 1})
    for n in range(300):
        producer.produce(topic, f"m{n}".encode())
        producer.flush(10)  # one Kafka batch per message: Tansu's watermark then trails by at most one message
    reports: list[tuple[str, int, int]] = []
    source = KafkaBatchSource({"bootstrap.servers": broker.bootstrap}, topic, batch_size=50,
                              on_lag=lambda t, p, behind: reports.append((t, p, behind)))
    part = source.build_part("in", f"{topic}-0", None)
    part._lag_interval = 0.0
    read = 0
    deadline = time.monotonic() + 20
    while read < 300 and time.monotonic() < deadline:
        read += sum(len(b) for b in part.next_batch())
    for _ in range(3):
        part.next_batch()
    part.close()
    assert read == 300
    assert reports and all(t == topic and p == 0 and behind >= 0 for t, p, behind in reports)
    assert max(behind for *_, behind in reports) > 0, "lag was seen while reading"
    assert reports[-1][2] == 0, "caught up"

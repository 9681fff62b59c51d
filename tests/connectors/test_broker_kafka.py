"""Apache Kafka (KRaft) as the local broker: data kept across a restart, a broker back empty, lag against Kafka's own
offset tool, and saved offsets the broker no longer has (counted, resumed at the earliest kept offset)."""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka import Producer

from andon.connectors.broker import EmbeddedBroker, create_topics
from andon.connectors.broker_kafka import new_cluster_id, run_tool
from andon.connectors.kafka import KafkaBatchSource, read_topic, topic_id
from andon.connectors.kafka_health import OFFSET_RESETS

pytestmark = [pytest.mark.broker]


def _produce(bootstrap: str, topic: str, n: int, start: int = 0) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 5})
    for i in range(start, start + n):
        producer.produce(topic, f"m{i}".encode(), key=f"k{i % 3}".encode())
    assert producer.flush(15) == 0


def _read(part, wanted: int) -> list[bytes]:
    values: list[bytes] = []
    for _ in range(400):
        for batch in part.next_batch():
            values.extend(batch.values)
        if len(values) >= wanted:
            break
    return values


def test_cluster_ids_are_kafka_uuids():
    """50 fresh ids in one test (ids drawn at collection time would differ between pytest-xdist workers)."""
    import base64

    for text in [new_cluster_id() for _ in range(50)]:
        assert len(text) == 22 and not text.startswith("-"), text
        assert len(base64.urlsafe_b64decode(text + "==")) == 16, text


def test_restart_keeps_topics_and_messages_and_wipe_empties(kafka_only, tmp_path):
    with EmbeddedBroker(["keep.v1"], partitions=2, data_dir=tmp_path / "k") as broker:
        _produce(broker.bootstrap, "keep.v1", 500)
        before = topic_id({"bootstrap.servers": broker.bootstrap}, "keep.v1")
        broker.restart()
        kept = read_topic({"bootstrap.servers": broker.bootstrap}, "keep.v1", idle_s=1)
        assert sorted(m.value() for m in kept) == sorted(f"m{i}".encode() for i in range(500))
        assert topic_id({"bootstrap.servers": broker.bootstrap}, "keep.v1") == before
        broker.restart(wipe=True)  # back empty; the topics given at construction are created again
        assert read_topic({"bootstrap.servers": broker.bootstrap}, "keep.v1", idle_s=1) == []
        assert topic_id({"bootstrap.servers": broker.bootstrap}, "keep.v1") not in (None, before)


def test_lag_equals_end_offset_minus_position_from_kafkas_offset_tool(kafka_only, broker):
    topic = f"lagk{uuid.uuid4().hex[:6]}"
    create_topics(broker.bootstrap, [topic], partitions=1)
    _produce(broker.bootstrap, topic, 1000)
    reports: list[int] = []
    source = KafkaBatchSource({"bootstrap.servers": broker.bootstrap}, topic, batch_size=100,
                              on_lag=lambda t, p, behind: reports.append(behind))
    part = source.build_part("in", f"{topic}-0", None)
    part._lag_interval = 0.0
    read = _read(part, 300)
    position = part.snapshot()[0]
    part.close()
    tool = run_tool("kafka-get-offsets", ["--bootstrap-server", broker.bootstrap, "--topic", topic,
                                          "--time", "latest"])
    assert tool.returncode == 0, tool.stderr
    (line,) = [ln for ln in tool.stdout.splitlines() if ln.startswith(f"{topic}:")]
    end = int(line.rsplit(":", 1)[1])
    assert end == 1000 and position == len(read) < 1000
    assert reports[-1] == end - position, f"lag {reports[-1]} vs Kafka's end offset {end} - position {position}"


def test_saved_offset_past_the_end_resumes_at_earliest_and_is_counted(kafka_only, broker):
    """Kafka answers a fetch past the end with OFFSET_OUT_OF_RANGE. Tansu answers it with nothing, and its high
    watermark is only a lower bound, so there a saved offset past the end cannot be told from one at the end: on
    Tansu only a topic re-created with a new id is detected (next test)."""
    topic = f"rst{uuid.uuid4().hex[:6]}"
    create_topics(broker.bootstrap, [topic], partitions=1)
    _produce(broker.bootstrap, topic, 40)
    source = KafkaBatchSource({"bootstrap.servers": broker.bootstrap}, topic, batch_size=100)
    tid = source._topic_id()
    before = OFFSET_RESETS.labels(topic, "0", "offset out of range")._value.get()
    part = source.build_part("in", f"{topic}-0", (5000, tid))  # a snapshot from before the broker lost its data
    values = _read(part, 40)
    part.close()
    assert values == [f"m{i}".encode() for i in range(40)]
    assert OFFSET_RESETS.labels(topic, "0", "offset out of range")._value.get() == before + 1


def test_topic_recreated_since_the_snapshot_resumes_at_earliest(broker):
    from confluent_kafka.admin import AdminClient

    topic = f"rec{uuid.uuid4().hex[:6]}"
    create_topics(broker.bootstrap, [topic], partitions=1)
    _produce(broker.bootstrap, topic, 30)
    old = KafkaBatchSource({"bootstrap.servers": broker.bootstrap}, topic)._topic_id()
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.delete_topics([topic])[topic].result(15)
    for _ in range(100):  # deletion is asynchronous
        try:
            create_topics(broker.bootstrap, [topic], partitions=1)
            break
        except Exception:
            import time

            time.sleep(0.2)
    _produce(broker.bootstrap, topic, 60, start=100)  # the new topic holds more than the saved offset
    source = KafkaBatchSource({"bootstrap.servers": broker.bootstrap}, topic, batch_size=100)
    if source._topic_id() in (None, old):
        pytest.skip("this broker does not give a re-created topic a new id")
    reason = "topic re-created since the snapshot (new topic id)"
    before = OFFSET_RESETS.labels(topic, "0", reason)._value.get()
    part = source.build_part("in", f"{topic}-0", (30, old))
    values = _read(part, 60)
    part.close()
    assert values == [f"m{i}".encode() for i in range(100, 160)], "read from the new topic's first message"
    assert OFFSET_RESETS.labels(topic, "0", reason)._value.get() == before + 1

"""Kafka I/O for the dataflows: a batch source that keeps offsets in recovery snapshots, and producers.

bytewax's own KafkaSource builds one Python object per message; this source hands the dataflow one `RawBatch`
per poll (the raw values plus their topic, partition, offsets, timestamps and keys), so decoding can work on the
whole batch at once.

Example::

    source = KafkaBatchSource({"bootstrap.servers": "127.0.0.1:9092"}, "andon.telemetry.v1", batch_size=5000)
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from bytewax.outputs import DynamicSink, StatelessSinkPartition
from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from andon.errors import AndonError
from andon.messages import OutMessage, RawBatch

#: on_lag(topic, partition, messages behind the high watermark)
LagCallback = Callable[[str, int, int], None]


class KafkaIOError(AndonError, ConnectionError):
    """Kafka refused or failed an operation andon cannot continue without."""


def _admin(config: dict) -> AdminClient:
    """An admin client from consumer settings (consumer-only keys would make librdkafka warn)."""
    return AdminClient({k: v for k, v in config.items() if not k.startswith(("group.", "auto.", "enable."))})


class _KafkaPartition(StatefulSourcePartition[RawBatch, int]):
    def __init__(self, config: dict, topic: str, partition: int, start: int, batch_size: int,
                 poll_timeout_s: float, eof_idle_s: float | None, on_batch: Callable[[RawBatch], None] | None,
                 on_lag: LagCallback | None = None, lag_interval_s: float = 1.0, group_prefix: str = "andon"):
        conf = {"group.id": f"{group_prefix}-src-{uuid.uuid4()}", "enable.auto.commit": False,
                "enable.partition.eof": False, "fetch.wait.max.ms": 50, "auto.offset.reset": "earliest", **config}
        self._consumer = Consumer(conf)
        self._consumer.assign([TopicPartition(topic, partition, start)])
        self._topic, self._partition = topic, partition
        self._next = start
        self._batch_size = batch_size
        self._timeout = poll_timeout_s
        self._eof_idle = timedelta(seconds=eof_idle_s) if eof_idle_s is not None else None
        self._last_data = datetime.now(UTC)
        self._on_batch = on_batch
        self._on_lag = on_lag
        self._lag_interval = lag_interval_s
        self._lag_at = 0.0

    def _report_lag(self) -> None:
        """Tell `on_lag` (at most every `lag_interval_s`) how far this partition is behind its high watermark.

        The watermark is librdkafka's cached one (from fetch responses, no extra request). Tansu 0.6 reports the
        start of the last written batch + 1 as the high watermark, so the lag is a lower bound there; with Apache
        Kafka or Redpanda it is exact up to the last fetch."""
        now = time.monotonic()
        if now - self._lag_at < self._lag_interval:
            return
        self._lag_at = now
        try:
            _, high = self._consumer.get_watermark_offsets(TopicPartition(self._topic, self._partition), cached=True)
        except Exception:  # no watermark known yet: nothing to report
            return
        if high is None or high < 0 or self._next < 0:
            return
        self._on_lag(self._topic, self._partition, max(high - self._next, 0))

    def next_batch(self) -> list[RawBatch]:
        msgs = self._consumer.consume(self._batch_size, timeout=self._timeout)
        if not msgs:
            if self._on_lag is not None:
                self._report_lag()
            if self._eof_idle is not None and datetime.now(UTC) - self._last_data > self._eof_idle:
                raise StopIteration
            return []
        errors = list(map(Message.error, msgs))
        if errors.count(None) != len(errors):
            msgs = self._without_errors(msgs)
            if not msgs:
                return []
        # one C-level pass per column rather than five method calls and appends per message
        values = list(map(Message.value, msgs))
        if None in values:
            values = [v or b"" for v in values]
        batch = RawBatch(self._topic, self._partition, list(map(Message.offset, msgs)), values,
                         list(map(Message.key, msgs)), [ts for _, ts in map(Message.timestamp, msgs)],
                         list(map(Message.headers, msgs)))
        self._next = batch.offsets[-1] + 1
        self._last_data = datetime.now(UTC)
        if self._on_batch is not None:
            self._on_batch(batch)
        if self._on_lag is not None:
            self._report_lag()
        return [batch]

    def _without_errors(self, msgs: list) -> list:
        """Drop end-of-partition and retriable error events; raise on any other consumer error."""
        kept = []
        for msg in msgs:
            err = msg.error()
            if err is None:
                kept.append(msg)
            elif err.code() != KafkaError._PARTITION_EOF and not err.retriable():
                raise KafkaIOError(f"consuming {self._topic}[{self._partition}] failed: {err}",
                                   hint="check the broker, the topic and the credentials")
        return kept

    def snapshot(self) -> int:
        return self._next

    def close(self) -> None:
        self._consumer.close()


class KafkaBatchSource(FixedPartitionedSource[RawBatch, int]):
    """One bytewax partition per Kafka partition; the resume state is the next offset to read.

    `eof_idle_s` makes the source finite: a partition ends after that long without a message (Tansu's high
    watermark is only a lower bound, so "caught up" is judged by silence, not by offsets). `on_batch` sees every
    batch before the dataflow does; `on_lag(topic, partition, messages_behind)` gets the consumer lag about once a
    second per partition (a lower bound on Tansu, see `_KafkaPartition._report_lag`). Partitions are assigned,
    not joined through a consumer group, and offsets live in the snapshots; each consumer still names a group id,
    `<group_prefix>-src-<uuid>` (the site's kafka.group_id), so broker ACLs on a group prefix apply.
    """

    def __init__(self, config: dict, topic: str | Sequence[str], *, batch_size: int = 10_000, poll_timeout_s: float = 0.05,
                 eof_idle_s: float | None = None, on_batch: Callable[[RawBatch], None] | None = None,
                 on_lag: LagCallback | None = None, group_prefix: str = "andon") -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        topics = [topic] if isinstance(topic, str) else list(topic)
        if not topics or not all(topics):
            raise ValueError("topic must be named")
        self.config = dict(config)
        #: topic names, and regular expressions (a leading `^`, as librdkafka writes them) matched against the
        #: cluster's topics when the dataflow starts (a topic created later is read after a restart)
        self.topics = topics
        self.topic = topics[0]
        self.batch_size = batch_size
        self.poll_timeout_s = poll_timeout_s
        self.eof_idle_s = eof_idle_s
        self.on_batch = on_batch
        self.on_lag = on_lag
        self.group_prefix = group_prefix

    def list_parts(self) -> list[str]:
        admin = _admin(self.config)
        patterns = [re.compile(t) for t in self.topics if t.startswith("^")]
        meta = admin.list_topics(None if patterns else self.topic if len(self.topics) == 1 else None, timeout=15)
        parts: list[str] = []
        for name in self.topics:
            if name.startswith("^"):
                continue
            topic = meta.topics.get(name)
            if topic is None or topic.error is not None or not topic.partitions:
                raise KafkaIOError(f"topic {name!r} does not exist or has no partitions",
                                   hint="create it (andon broker does, or a KafkaTopic resource) or fix topics.* in "
                                        "config")
            parts.extend(f"{name}-{p}" for p in sorted(topic.partitions))
        for pattern in patterns:
            named = {t.rsplit("-", 1)[0] for t in parts}
            found = sorted(n for n, t in meta.topics.items()
                           if pattern.search(n) and t.error is None and t.partitions and n not in named)
            if not found:
                raise KafkaIOError(f"no topic matches {pattern.pattern!r}",
                                   hint="create the gateways' topics before starting, or fix [mapping] topic_pattern")
            parts.extend(f"{n}-{p}" for n in found for p in sorted(meta.topics[n].partitions))
        return parts

    def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> _KafkaPartition:
        topic, partition = for_part.rsplit("-", 1)
        # A fresh start reads from offset 0 with auto.offset.reset=earliest: the same messages as OFFSET_BEGINNING
        # (if retention removed offset 0, the reset lands on the first kept one), without the extra offset lookup
        # that costs librdkafka about half a second per partition. A resumed offset that retention has since
        # removed also resets to the earliest kept message, never to the end of the partition.
        start = 0 if resume_state is None else resume_state
        return _KafkaPartition(self.config, topic, int(partition), start, self.batch_size, self.poll_timeout_s,
                               self.eof_idle_s, self.on_batch, self.on_lag, group_prefix=self.group_prefix)


def producer_config(config: dict, *, idempotent: bool = True) -> dict:
    conf = {"linger.ms": 20, "compression.type": "lz4", "batch.num.messages": 10_000, **config}
    if idempotent:
        conf.update({"enable.idempotence": True, "acks": "all"})
    return conf


def _flat(items: list[OutMessage | list[OutMessage]]):
    for item in items:
        if isinstance(item, list):
            yield from item
        else:
            yield item


class _ProducerPartition(StatelessSinkPartition[OutMessage]):
    def __init__(self, config: dict, flush_timeout_s: float) -> None:
        self._producer = Producer(config)
        self._flush_timeout = flush_timeout_s
        self._errors: list[str] = []

    def _report(self, err, msg) -> None:
        if err is not None:
            self._errors.append(f"{msg.topic()}: {err}")

    def write_batch(self, items: list[OutMessage | list[OutMessage]]) -> None:
        for item in _flat(items):
            while True:
                try:
                    self._producer.produce(item.topic, item.value, item.key, headers=list(item.headers) or None,
                                           on_delivery=self._report)
                    break
                except BufferError:
                    self._producer.poll(0.1)
        # Block until delivered so that a recovery snapshot taken after this batch never outruns the topic.
        remaining = self._producer.flush(self._flush_timeout)
        if remaining or self._errors:
            detail = "; ".join(self._errors[:3]) or f"{remaining} messages undelivered"
            self._errors.clear()
            raise KafkaIOError(f"producing failed: {detail}", hint="check the broker and the topic; restart resumes")

    def close(self) -> None:
        self._producer.flush(self._flush_timeout)


class KafkaSink(DynamicSink[OutMessage]):
    """Idempotent producer per worker; each write batch is flushed before the dataflow moves on. Items are
    OutMessages or lists of them (a block, e.g. one shard batch's events), produced in order."""

    def __init__(self, config: dict, *, flush_timeout_s: float = 30.0) -> None:
        self.config = producer_config(config)
        self.flush_timeout_s = flush_timeout_s

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _ProducerPartition:
        return _ProducerPartition(self.config, self.flush_timeout_s)


def read_topic(config: dict, topic: str, *, idle_s: float = 2.0, max_messages: int | None = None) -> list:
    """Every message of `topic` from the beginning, read until nothing arrives for `idle_s` (Tansu's high
    watermark is only a lower bound, so silence is the end). Returns confluent-kafka Message objects."""
    admin = _admin(config)
    meta = admin.list_topics(topic, timeout=15).topics.get(topic)
    if meta is None or meta.error is not None:
        raise KafkaIOError(f"topic {topic!r} does not exist", hint="check the topic name and the broker")
    consumer = Consumer({"group.id": f"andon-read-{uuid.uuid4()}", "enable.auto.commit": False,
                         "auto.offset.reset": "earliest", **config})
    consumer.assign([TopicPartition(topic, p, 0) for p in sorted(meta.partitions)])  # see build_part
    out = []
    try:
        while max_messages is None or len(out) < max_messages:
            batch = consumer.consume(10_000, timeout=idle_s)
            if not batch:
                break
            out.extend(m for m in batch if m.error() is None)
    finally:
        consumer.close()
    return out

"""Kafka I/O for the dataflows: a batch source that keeps offsets in recovery snapshots, and producers.

bytewax's own KafkaSource builds one Python object per message; this source hands the dataflow one `RawBatch`
per poll (the raw values plus their topic, partition, offsets, timestamps and keys), so decoding can work on the
whole batch at once.

Example::

    source = KafkaBatchSource({"bootstrap.servers": "127.0.0.1:9092"}, "andon.telemetry.v1", batch_size=5000)
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from confluent_kafka import Consumer, KafkaError, Message, TopicPartition
from confluent_kafka.admin import AdminClient

from andon import shutdown
from andon.connectors.kafka_health import (
    BROKER,
    OUTAGE,
    KafkaIOError,
    broker_answers,
    client_error,
    offset_reset,
)
from andon.connectors.kafka_sink import KafkaSink, drop_idle_producers, producer_config
from andon.messages import RawBatch
from andon.progress import PROGRESS

log = logging.getLogger("andon.kafka")

__all__ = ["KafkaBatchSource", "KafkaIOError", "KafkaSink", "producer_config", "read_topic", "topic_id"]

#: on_lag(topic, partition, messages behind the high watermark)
LagCallback = Callable[[str, int, int], None]


def _admin(config: dict) -> AdminClient:
    """An admin client from consumer settings (consumer-only keys would make librdkafka warn)."""
    return AdminClient({k: v for k, v in config.items() if not k.startswith(("group.", "auto.", "enable."))})


def topic_id(config: dict, topic: str) -> str | None:
    """The broker's id of `topic` (a topic deleted and created again gets a new one); None where the broker does
    not say (Tansu) or cannot be asked."""
    from confluent_kafka import TopicCollection

    try:
        admin = _admin(config)  # held until the answer is in: a collected client cancels its requests
        described = admin.describe_topics(TopicCollection([topic]), request_timeout=10)[topic].result(timeout=15)
    except Exception:
        return None
    tid = str(getattr(described, "topic_id", "") or "")
    return None if not tid or tid.strip("A") in ("", "=") or set(tid) <= {"0", "-"} else tid


class _KafkaPartition(StatefulSourcePartition[RawBatch, tuple]):
    def __init__(self, config: dict, topic: str, partition: int, start: int, batch_size: int,
                 poll_timeout_s: float, eof_idle_s: float | None, on_batch: Callable[[RawBatch], None] | None,
                 on_lag: LagCallback | None = None, lag_interval_s: float = 1.0, group_prefix: str = "andon", *,
                 resumed: bool = False, tid: str | None = None):
        # auto.offset.reset=error: an offset the broker no longer has is reported to us, so that it is counted
        # and logged before reading resumes at the earliest kept offset (never silently, never at the end).
        conf = {"group.id": f"{group_prefix}-src-{uuid.uuid4()}", "enable.auto.commit": False,
                "enable.partition.eof": False, "fetch.wait.max.ms": 50, "error_cb": client_error,
                **config, "auto.offset.reset": "error"}
        self._conf = conf
        self._config = config
        self._topic, self._partition = topic, partition
        self._tid = tid
        self._resumed = resumed
        self._next = start
        self._consumer: Consumer | None = None
        self._connect()
        self._batch_size = batch_size
        self._timeout = poll_timeout_s
        self._eof_idle = timedelta(seconds=eof_idle_s) if eof_idle_s is not None else None
        self._last_data = datetime.now(UTC)
        self._on_batch = on_batch
        self._on_lag = on_lag
        self._lag_interval = lag_interval_s
        self._lag_at = 0.0
        self._probe_at = 0.0
        self._closed = False

    def _connect(self) -> None:
        self._consumer = Consumer(self._conf)
        self._epoch = BROKER.epoch
        self._assign(self._next)

    def _assign(self, offset: int) -> None:
        self._consumer.assign([TopicPartition(self._topic, self._partition, offset)])

    def _disconnect(self) -> None:
        """Close the consumer now that the broker is away, in this (the polling) thread.

        librdkafka 2.12 keeps a topic-id index in its metadata cache that goes stale when a topic comes back with
        a new id (a broker back empty, a topic deleted and created again): the client that lived through it
        crashes the process with SIGSEGV in its own thread (rd_kafka_metadata_cache_find, seen in odoo-sync and
        telemetry). So no client outlives an outage: consumers are closed here and made anew once the broker
        answers, idle producers of this worker are dropped too (see `_ProducerPartition`)."""
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            try:
                consumer.close()
            except Exception:  # already broken: nothing to hand back
                pass
        drop_idle_producers()

    def _report_lag(self) -> None:
        """Tell `on_lag` (at most every `lag_interval_s`) how far this partition is behind its high watermark.

        The watermark is librdkafka's cached one (from fetch responses, no extra request): exact up to the last
        fetch on Apache Kafka. Tansu 0.6 reports the start of the last written batch + 1 as the high watermark,
        so the lag is a lower bound there."""
        now = time.monotonic()
        if now - self._lag_at < self._lag_interval:
            return
        self._lag_at = now
        try:
            _, high = self._consumer.get_watermark_offsets(TopicPartition(self._topic, self._partition), cached=True)
        except Exception:  # no watermark known yet (or no consumer): nothing to report
            return
        if high is None or high < 0 or self._next < 0:
            return
        self._on_lag(self._topic, self._partition, max(high - self._next, 0))

    def next_batch(self) -> list[RawBatch]:
        if shutdown.requested():  # SIGTERM/SIGINT: end the input; the dataflow finishes and snapshots
            raise StopIteration
        PROGRESS.polled()
        if self._consumer is not None and self._epoch != BROKER.epoch:
            self._disconnect()  # the broker went away since this consumer was made
        if self._consumer is None:
            return self._reconnect()
        msgs = self._consumer.consume(self._batch_size, timeout=self._timeout)
        if not msgs:
            return self._idle()
        # `is not None`, never ==: KafkaError's comparison with None raises inside C (confluent-kafka 2.12)
        if any(err is not None for err in map(Message.error, msgs)):
            msgs = self._without_errors(msgs)
            if not msgs:
                return self._idle()
        # one C-level pass per column rather than five method calls and appends per message
        values = list(map(Message.value, msgs))
        if None in values:
            values = [v or b"" for v in values]
        batch = RawBatch(self._topic, self._partition, list(map(Message.offset, msgs)), values,
                         list(map(Message.key, msgs)), [ts for _, ts in map(Message.timestamp, msgs)],
                         list(map(Message.headers, msgs)))
        self._next = batch.offsets[-1] + 1
        self._resumed = True
        self._last_data = datetime.now(UTC)
        if self._on_batch is not None:
            self._on_batch(batch)
        if self._on_lag is not None:
            self._report_lag()
        return [batch]

    def _idle(self) -> list[RawBatch]:
        if BROKER.is_down or self._epoch != BROKER.epoch:
            self._last_data = datetime.now(UTC)  # silence during an outage is not the end of the input
            return []
        if self._on_lag is not None:
            self._report_lag()
        if self._eof_idle is not None and datetime.now(UTC) - self._last_data > self._eof_idle:
            if self._caught_up():
                raise StopIteration
            self._last_data = datetime.now(UTC)  # messages are still waiting (a slow fetch): not the end yet
        return []

    def _caught_up(self) -> bool:
        """Whether this partition has been read to its high watermark, asked of the broker (a loaded machine can
        leave a partition silent for seconds with messages still waiting). Tansu's watermark is a lower bound,
        so there this only rules out stopping short of it; a broker that does not answer counts as caught up."""
        try:
            low, high = self._consumer.get_watermark_offsets(TopicPartition(self._topic, self._partition), timeout=2)
        except Exception:
            return True
        if high is None or high < 0:
            return True
        return self._next >= high if self._next >= 0 else high <= low  # a logical start: caught up if empty

    def _reconnect(self) -> list[RawBatch]:
        """Between outage and return: once a second ask the broker (with a new client) for this partition; when
        it answers, check that the topic is still the one we were reading (same id) and read on with a new
        consumer. Nothing is read, skipped or counted as idle time meanwhile."""
        self._last_data = datetime.now(UTC)
        now = time.monotonic()
        if now - self._probe_at < 1.0:
            time.sleep(min(self._timeout, 0.1))
            return []
        self._probe_at = now
        if not broker_answers(self._config, self._topic, self._partition):
            BROKER.down(f"{self._topic}[{self._partition}] not served")
            return []
        BROKER.up()
        tid = topic_id(self._config, self._topic) if self._tid else None
        self._connect()
        if tid and tid != self._tid:
            self._restart_at_earliest("topic re-created (new topic id)")
            self._tid = tid
        return []

    def _restart_at_earliest(self, reason: str) -> None:
        low, _ = self._consumer.get_watermark_offsets(TopicPartition(self._topic, self._partition), timeout=10)
        saved, self._next = self._next, low
        offset_reset(self._topic, self._partition, saved, low, reason)
        self._assign(low)

    def _without_errors(self, msgs: list) -> list:
        """Drop end-of-partition and outage events (the broker is marked down meanwhile); an offset the broker no
        longer has resumes at the earliest kept one (counted); raise on any other consumer error."""
        kept = []
        for msg in msgs:
            err = msg.error()
            if err is None:
                kept.append(msg)
            elif err.code() == KafkaError._AUTO_OFFSET_RESET or err.code() == KafkaError.OFFSET_OUT_OF_RANGE:
                if self._resumed:
                    self._restart_at_earliest("offset out of range")
                else:  # a fresh start at offset 0 of a topic whose first messages retention removed
                    low, _ = self._consumer.get_watermark_offsets(TopicPartition(self._topic, self._partition),
                                                                    timeout=10)
                    self._next = low
                    self._assign(low)
                return []
            elif err.code() in OUTAGE or err.retriable():
                BROKER.down(err.str())
            elif err.code() != KafkaError._PARTITION_EOF:
                raise KafkaIOError(f"consuming {self._topic}[{self._partition}] failed: {err}",
                                   hint="check the broker, the topic and the credentials")
        return kept

    def snapshot(self) -> tuple:
        return (self._next, self._tid)

    def close(self) -> None:
        # close exactly once, from the worker thread that polls: a consumer is never used after close
        if not self._closed:
            self._closed = True
            consumer, self._consumer = self._consumer, None
            if consumer is not None:
                consumer.close()


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

    def _topic_id(self, topic: str | None = None) -> str | None:
        topic = topic or self.topics[0]
        cache = self.__dict__.setdefault("_tids", {})
        if topic not in cache:
            cache[topic] = topic_id(self.config, topic)
        return cache[topic]

    def build_part(self, step_id: str, for_part: str, resume_state) -> _KafkaPartition:
        """The resume state is (next offset, topic id) (a bare offset from older snapshots is accepted).

        A fresh start reads from offset 0 with a reset to the earliest kept message if retention removed it: the
        same messages as OFFSET_BEGINNING without the extra lookup that costs librdkafka about half a second per
        partition. A resumed offset the broker no longer has, or a topic whose id changed since the snapshot
        (deleted and created again, a broker back empty), resumes at the earliest kept message, counted in
        `andon_kafka_offset_resets_total` and logged: never at the end of the partition, never silently."""
        topic, partition = for_part.rsplit("-", 1)
        tid = self._topic_id(topic)
        saved, saved_tid = (resume_state, None) if isinstance(resume_state, int) else (resume_state or (None, None))
        start = 0 if saved is None else saved
        part = _KafkaPartition(self.config, topic, int(partition), start, self.batch_size, self.poll_timeout_s,
                               self.eof_idle_s, self.on_batch, self.on_lag, group_prefix=self.group_prefix,
                               resumed=saved is not None, tid=tid)
        if saved is not None and saved_tid and tid and saved_tid != tid:
            part._restart_at_earliest("topic re-created since the snapshot (new topic id)")
        return part


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

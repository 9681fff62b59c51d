"""Kafka output for the dataflows: one idempotent producer per worker, each write batch delivered before the
dataflow moves on, a broker outage waited out (not ready meanwhile), never a client kept across an outage.

Example::

    op.output("events_out", stream, KafkaSink({"bootstrap.servers": "127.0.0.1:9092"}))
"""

from __future__ import annotations

import logging
import threading
import time

from bytewax.outputs import DynamicSink, StatelessSinkPartition
from confluent_kafka import KafkaError, Producer

from andon.connectors.kafka_health import BROKER, KafkaIOError, broker_answers, client_error
from andon.messages import OutMessage

log = logging.getLogger("andon.kafka")


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


#: producer partitions by the worker thread that writes through them (see `_drop_idle_producers`)
_PRODUCERS: dict[int, list[_ProducerPartition]] = {}


def drop_idle_producers() -> None:
    """Drop the producers of this worker thread that hold no message, when the broker went away (a new one is
    made at the next write): no librdkafka client lives through an outage (see `_KafkaPartition._disconnect`).
    Same thread as their writes, so never concurrent with them."""
    for sink in _PRODUCERS.get(threading.get_ident(), []):
        sink._drop_if_idle()


class _ProducerPartition(StatelessSinkPartition[OutMessage]):
    """One idempotent producer, used only from the worker thread that writes (librdkafka handles are not to be
    shared); never left with messages in its queue when it goes away (see `_discard`), and never kept across a
    broker outage: it is made anew afterwards."""

    def __init__(self, config: dict, flush_timeout_s: float | None) -> None:
        # message.timeout.ms=0: librdkafka keeps retrying a message while the broker is away instead of failing
        # it after 5 minutes; with idempotence the retries can neither duplicate nor reorder it.
        self._config = {"message.timeout.ms": 0, **config, "error_cb": client_error}
        self._producer: Producer | None = None
        self._epoch = BROKER.epoch
        self._flush_timeout = flush_timeout_s
        self._errors: list[str] = []
        self._closed = False
        _PRODUCERS.setdefault(threading.get_ident(), []).append(self)

    def _ensure(self) -> Producer:
        if self._producer is not None and self._epoch != BROKER.epoch and not len(self._producer):
            self._drop()  # made before the last outage: replaced (nothing queued in it)
        if self._producer is None:
            self._producer = Producer(self._config)
            self._epoch = BROKER.epoch
        return self._producer

    def _drop_if_idle(self) -> None:
        if self._producer is not None and not len(self._producer):
            self._drop()

    def _drop(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            self._discard(producer)

    def _report(self, err, msg) -> None:
        if err is not None and err.code() not in (KafkaError._PURGE_QUEUE, KafkaError._PURGE_INFLIGHT):
            self._errors.append(f"{msg.topic()}: {err}")

    def _produce_all(self, producer: Producer, items: list[OutMessage]) -> None:
        for item in items:
            while True:
                try:
                    producer.produce(item.topic, item.value, item.key, headers=list(item.headers) or None,
                                     on_delivery=self._report)
                    break
                except BufferError:
                    producer.poll(0.1)

    def write_batch(self, items: list[OutMessage | list[OutMessage]]) -> None:
        """Produce and block until delivered, so that a recovery snapshot taken after this batch never outruns the
        topic. While the broker is away this waits (not ready; nothing is read meanwhile: the worker is here):
        the producer is dropped, and once the broker answers a new one sends the batch again (a message the
        broker had already stored shortly before the outage may then be stored twice, with the same content)."""
        messages = list(_flat(items))
        producer = self._ensure()
        self._produce_all(producer, messages)
        started = time.monotonic()
        remaining = producer.flush(1.0)
        while remaining and not self._errors:
            waited = time.monotonic() - started
            if self._flush_timeout is not None and waited >= self._flush_timeout:
                break
            if BROKER.is_down or self._epoch != BROKER.epoch:
                self._drop()
                self._wait_for_broker(started)
                producer = self._ensure()
                self._produce_all(producer, messages)
            remaining = producer.flush(1.0)
        if remaining or self._errors:
            detail = "; ".join(self._errors[:3]) or f"{remaining} messages undelivered"
            self._errors.clear()
            self._drop()
            raise KafkaIOError(f"producing failed: {detail}", hint="check the broker and the topic; restart resumes")

    def _wait_for_broker(self, started: float) -> None:
        while not broker_answers({k: v for k, v in self._config.items() if k != "error_cb"}):
            BROKER.down(f"waiting {time.monotonic() - started:.0f} s to deliver")
            if self._flush_timeout is not None and time.monotonic() - started >= self._flush_timeout:
                return
            time.sleep(1.0)
        BROKER.up()

    @staticmethod
    def _discard(producer: Producer) -> None:
        """Drop what is still queued and serve its delivery reports now, inside a Python call. A producer that is
        garbage-collected with queued messages runs their Python delivery callbacks from its destructor, outside
        any call, which librdkafka's Python binding does not survive."""
        try:
            producer.purge()
            producer.poll(0)
            producer.flush(0)
        except Exception:  # already broken: nothing more can be served
            pass

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        mine = _PRODUCERS.get(threading.get_ident(), [])
        if self in mine:
            mine.remove(self)
        if self._producer is None:
            return
        remaining = self._producer.flush(self._flush_timeout if self._flush_timeout is not None else 30.0)
        if remaining:
            log.error("closing the producer with %d undelivered messages: they are produced again on restart "
                      "(the snapshot never moved past them)", remaining)
        self._drop()


class KafkaSink(DynamicSink[OutMessage]):
    """Idempotent producer per worker; each write batch is flushed before the dataflow moves on. Items are
    OutMessages or lists of them (a block, e.g. one shard batch's events), produced in order.

    `flush_timeout_s=None` (the default) waits for the broker as long as it takes (the broker is reported down
    meanwhile); a number fails the batch after that many seconds."""

    def __init__(self, config: dict, *, flush_timeout_s: float | None = None) -> None:
        self.config = producer_config(config)
        self.flush_timeout_s = flush_timeout_s

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _ProducerPartition:
        return _ProducerPartition(self.config, self.flush_timeout_s)



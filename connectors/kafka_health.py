"""Is the broker there? One process-wide view fed by every Kafka source and sink, for readiness and metrics.

- At start, `wait_for_broker` retries for `--broker-wait` seconds (env `ANDON_BROKER_WAIT`, default 60) while
  `/readyz` says not ready, then fails with one clear error (exit status 3, see `andon.exits`).
- Mid-run, a source that sees "all brokers down" or a sink whose messages stay undelivered marks the broker down:
  `/readyz` answers 503 (`kafka: not ready (broker unreachable for N s)`), `andon_kafka_broker_up` is 0, and the
  flow waits (nothing is dropped, no offset moves) until the broker answers again, then carries on by itself.
- Saved offsets the broker no longer has (a broker back empty, a topic deleted and created again, retention) are
  counted in `andon_kafka_offset_resets_total{topic,partition,reason}` and logged; reading resumes at the earliest
  kept offset.

Example::

    wait_for_broker({"bootstrap.servers": "127.0.0.1:9092"}, timeout_s=60)
    status.add_check("kafka", BROKER.check)
"""

from __future__ import annotations

import logging
import threading
import time

from confluent_kafka import KafkaError
from prometheus_client import Counter, Gauge

from andon.errors import AndonError

log = logging.getLogger("andon.kafka")

BROKER_UP = Gauge("andon_kafka_broker_up", "1 while the Kafka broker answers this process's clients, 0 while not")
OFFSET_RESETS = Counter("andon_kafka_offset_resets_total",
                        "Saved offsets the broker no longer had (broker back empty, topic re-created, retention); "
                        "reading resumed at the earliest kept offset", ["topic", "partition", "reason"])
OUTAGES = Counter("andon_kafka_outages_total", "Times the Kafka broker became unreachable for this process")


class KafkaIOError(AndonError, ConnectionError):
    """Kafka refused or failed an operation andon cannot continue without."""


class BrokerUnavailable(AndonError, ConnectionError):
    """The broker did not answer within the configured wait."""


class BrokerHealth:
    """Thread-safe up/down state of the broker as this process's Kafka clients see it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self._reason = ""
        self._logged_at = 0.0
        #: incremented each time the broker goes away: a client created before the last outage is replaced
        self.epoch = 0
        BROKER_UP.set(1)

    def down(self, reason: str, announce_it: bool = True) -> None:
        """Marks the broker down. `announce_it=False`: the caller logs the wait itself (the start-up wait)."""
        now = time.monotonic()
        with self._lock:
            first = self._down_since is None
            if first:
                self._down_since = now
                self.epoch += 1
                OUTAGES.inc()
            self._reason = reason
            since = self._down_since
            announce = announce_it and (first or now - self._logged_at >= 10)
            if announce:
                self._logged_at = now
        BROKER_UP.set(0)
        if announce:
            log.warning("Kafka broker unreachable for %.0f s (%s): waiting, nothing is skipped", now - since, reason)

    def up(self) -> None:
        with self._lock:
            since, self._down_since = self._down_since, None
        if since is not None:
            BROKER_UP.set(1)
            log.warning("Kafka broker back after %.1f s: resuming", time.monotonic() - since)

    @property
    def is_down(self) -> bool:
        return self._down_since is not None

    def check(self) -> tuple[bool, str]:
        """A readiness check for the status server: (ok, reason)."""
        with self._lock:
            if self._down_since is None:
                return True, ""
            return False, f"broker unreachable for {time.monotonic() - self._down_since:.0f} s: {self._reason}"


BROKER = BrokerHealth()

#: consumer/producer errors that mean "the broker is not reachable right now": wait, never fail or skip
OUTAGE = {KafkaError._ALL_BROKERS_DOWN, KafkaError._TRANSPORT, KafkaError._TIMED_OUT, KafkaError._RESOLVE,
           KafkaError._MSG_TIMED_OUT, KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError.LEADER_NOT_AVAILABLE,
           KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError._UNKNOWN_PARTITION, KafkaError._UNKNOWN_TOPIC,
           KafkaError.BROKER_NOT_AVAILABLE, KafkaError.NETWORK_EXCEPTION}


def client_error(err: KafkaError) -> None:
    """error_cb of every client: an outage marks the broker down (readiness, metric); the rest is logged."""
    if err.code() in OUTAGE:
        BROKER.down(err.str())
    elif err.fatal():
        log.error("Kafka client fatal error: %s", err)


def broker_answers(config: dict, topic: str | None = None, partition: int | None = None) -> bool:
    """True when a brand-new admin client gets metadata (naming `topic` and its `partition`, if given). A new
    client each time: it carries no metadata cached from before an outage."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({k: v for k, v in config.items() if not k.startswith(("group.", "auto.", "enable."))}
                        | {"logger": _quiet})
    try:
        meta = admin.list_topics(topic, timeout=1.0)
    except Exception:
        return False
    if not meta.brokers:
        return False
    if topic is None:
        return True
    found = meta.topics.get(topic)
    return found is not None and found.error is None and (partition is None or partition in found.partitions)


def offset_reset(topic: str, partition: int, saved: int, resume_at: int, reason: str) -> None:
    OFFSET_RESETS.labels(topic, str(partition), reason).inc()
    log.error("%s[%d]: saved offset %d is not on the broker (%s): resuming at the earliest kept offset %d; "
              "messages between may have been lost upstream", topic, partition, saved, reason, resume_at)


def wait_for_broker(config: dict, timeout_s: float) -> None:
    """Return once a metadata request names a broker; retry until `timeout_s`, then raise BrokerUnavailable."""
    from confluent_kafka.admin import AdminClient

    if timeout_s < 0:
        raise AndonError("--broker-wait must not be negative")
    bootstrap = config.get("bootstrap.servers", "?")
    admin = AdminClient({k: v for k, v in config.items() if not k.startswith(("group.", "auto.", "enable."))}
                        | {"logger": _quiet})
    started = time.monotonic()
    deadline = started + timeout_s
    said = None
    last = ""
    while True:
        try:
            if admin.list_topics(timeout=min(2.0, max(deadline - time.monotonic(), 0.2))).brokers:
                BROKER.up()
                return
        except Exception as exc:
            last = str(exc)
        now = time.monotonic()
        if now >= deadline:
            raise BrokerUnavailable(f"no Kafka broker answered at {bootstrap} within {timeout_s:g} s"
                                    + (f" ({last})" if last else ""),
                                    hint="start the broker or fix --bootstrap-servers (ANDON_KAFKA_BOOTSTRAP_SERVERS) "
                                         "/ kafka.* in the site config; --broker-wait sets how long to wait")
        BROKER.down(f"no answer from {bootstrap} at start", announce_it=False)
        if said is None:  # one line when the wait begins, then one every 10 s
            said = now
            log.warning("waiting for the Kafka broker at %s (up to %g s; --broker-wait): nothing is read or "
                        "written until it answers", bootstrap, timeout_s)
        elif now - said >= 10:
            said = now
            log.warning("still no Kafka broker at %s after %.0f s (giving up in %.0f s)", bootstrap, now - started,
                        deadline - now)
        time.sleep(0.5)


class _Quiet(logging.Logger):
    """librdkafka's connection-refused lines while waiting say nothing the one warning above does not."""

    def __init__(self) -> None:
        super().__init__("andon.kafka.rdkafka", logging.CRITICAL)


_quiet = _Quiet()

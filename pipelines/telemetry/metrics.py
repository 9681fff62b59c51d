"""Prometheus metrics of the telemetry dataflow (served by `andon run telemetry --metrics-port`), and the feed of
the status page (machine states and shift counts from the events it emits)."""

from __future__ import annotations

from collections import Counter

from prometheus_client import Counter as PromCounter
from prometheus_client import Gauge

from andon.messages import DeadLetter, OutMessage
from andon.pipelines.status import BOARD, DEAD_LETTERS, count_dead_letter  # noqa: F401

READINGS_IN = PromCounter("andon_readings_in_total", "Readings received (valid and invalid)")
READINGS_INVALID = PromCounter("andon_readings_invalid_total", "Readings refused to the dead-letter topic", ["reason"])
READINGS_LATE = PromCounter("andon_readings_late_total", "Readings that arrived after their window closed")
EVENTS_OUT = PromCounter("andon_events_out_total", "Business events emitted", ["type"])
WINDOW_ROWS = PromCounter("andon_window_rows_total", "Window aggregate rows produced for Parquet")
SHIFT_ROWS = PromCounter("andon_shift_rows_total", "Shift OEE rows produced for Parquet")
#: Lower bound on Tansu 0.6 (its high watermark is the start of the last written batch + 1); exact on Apache Kafka.
CONSUMER_LAG = Gauge("andon_consumer_lag_messages", "Messages behind the partition's high watermark (lower bound)",
                     ["topic", "partition"])


def report_lag(topic: str, partition: int, behind: int) -> None:
    """`KafkaBatchSource(on_lag=...)`: set the consumer-lag gauge of one partition."""
    CONSUMER_LAG.labels(topic, str(partition)).set(behind)


def dead_letter_message(dead: DeadLetter, topic: str) -> OutMessage:
    """The DLQ message of a refused reading, counted."""
    count_dead_letter(topic, dead.reason)
    return dead.to_message(topic)


def count_decoded(decode):
    def counted(raw):
        decoded = decode(raw)
        READINGS_IN.inc(decoded.readings_in)
        for dead in decoded.dead:
            READINGS_INVALID.labels(dead.reason).inc()
        return decoded

    return counted


def count_outputs(kv):
    _, (_, out) = kv
    READINGS_LATE.inc(len(out.late))
    for kind, n in Counter(event.type for event in out.events).items():
        EVENTS_OUT.labels(kind).inc(n)
    if out.events:
        BOARD.observe_events(out.events)
    if out.windows:
        WINDOW_ROWS.inc(int(out.windows["machine"].shape[0]))
    SHIFT_ROWS.inc(len(out.shifts))
    return kv

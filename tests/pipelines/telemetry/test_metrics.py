"""Telemetry metrics: a batch that is mostly dead-lettered is a WARNING naming the reason, and a counted surge."""

from __future__ import annotations

import logging
from collections import Counter

from prometheus_client import REGISTRY

from andon.messages import DeadLetter
from andon.pipelines.telemetry.metrics import SurgeWatch


def surges(reason: str) -> float:
    return REGISTRY.get_sample_value("andon_dead_letter_surges_total", {"reason": reason}) or 0.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def dead(reason: str) -> DeadLetter:
    return DeadLetter(reason, "ts=1772427600000 is 275 days before the accepted range",
                      "check the gateway clock or buffer; raise processing.max_past_s for backfills",
                      b"{}", "andon.telemetry.v1", 0, 7, b"press-01")


def test_mostly_dead_lettered_batch_warns_once_a_minute_naming_reason_and_what_to_do(caplog):
    clock = Clock()
    watch = SurgeWatch(clock=clock)
    before = surges("timestamp_too_old")
    example = {"timestamp_too_old": dead("timestamp_too_old")}
    with caplog.at_level(logging.WARNING, logger="andon.telemetry"):
        watch.observe(100, Counter(timestamp_too_old=99, malformed_json=1), example)
        clock.now += 10
        watch.observe(100, Counter(timestamp_too_old=100), example)  # within the minute: counted, not logged
        clock.now += 60
        watch.observe(100, Counter(timestamp_too_old=80), example)
    assert surges("timestamp_too_old") - before == 3
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    first, second = (w.getMessage() for w in warnings)
    assert first.startswith("99 of 100 readings of a batch (99 %) were dead-lettered as timestamp_too_old")
    assert "what to do: check the gateway clock" in first and "275 days before" in first
    assert "1 more such batch since the last warning" in second and "80 of 100" in second
    assert warnings[0].reason == "timestamp_too_old"


def test_a_few_refusals_or_a_small_batch_are_no_surge(caplog):
    watch = SurgeWatch(clock=Clock())
    before = surges("malformed_json")
    with caplog.at_level(logging.WARNING, logger="andon.telemetry"):
        watch.observe(100, Counter(malformed_json=49), {})
        watch.observe(10, Counter(malformed_json=10), {})  # fewer readings than SURGE_MIN_READINGS
    assert surges("malformed_json") == before and not caplog.records


def test_late_reading_surge_says_what_to_do_without_an_example(caplog):
    with caplog.at_level(logging.WARNING, logger="andon.telemetry"):
        SurgeWatch(clock=Clock()).observe(40, Counter(late_reading=30), {})
    (record,) = caplog.records
    assert "as late_reading" in record.getMessage() and "processing.allowed_lateness_s" in record.getMessage()

"""Prometheus metrics of the telemetry dataflow (served by `andon run telemetry --metrics-port`), and the feed of
the status page (machine states and shift counts from the events it emits)."""

from __future__ import annotations

import logging
import time
from collections import Counter

import numpy as np
from prometheus_client import Counter as PromCounter
from prometheus_client import Gauge

from andon.messages import DeadLetter, OutMessage
from andon.pipelines.status import BOARD, DEAD_LETTERS, count_dead_letter, report_lag  # noqa: F401
from andon.progress import PROGRESS

READINGS_IN = PromCounter("andon_readings_in_total", "Readings received (valid and invalid)")
READINGS_INVALID = PromCounter("andon_readings_invalid_total", "Readings refused to the dead-letter topic", ["reason"])
READINGS_LATE = PromCounter("andon_readings_late_total", "Readings that arrived after their window closed")
EVENTS_OUT = PromCounter("andon_events_out_total", "Business events emitted", ["type"])
WINDOW_ROWS = PromCounter("andon_window_rows_total", "Window aggregate rows produced for Parquet")
SHIFT_ROWS = PromCounter("andon_shift_rows_total", "Shift OEE rows produced for Parquet")


DEAD_LETTER_SURGES = PromCounter(
    "andon_dead_letter_surges_total",
    "Batches in which one reason dead-lettered at least SURGE_SHARE of the readings (a warning is logged)", ["reason"])

#: A batch of at least SURGE_MIN_READINGS readings of which this share or more is refused for one reason is a
#: surge: data is being thrown away wholesale (a gateway clock, a wrong start, a schema change), not one bad message.
SURGE_SHARE = 0.5
SURGE_MIN_READINGS = 20
#: At most one warning per reason this often; the ones in between are counted into the next warning.
SURGE_WARN_EVERY_S = 60.0

log = logging.getLogger("andon.telemetry")
_SURGE_HINTS = {"late_reading": "the readings arrive after their window closed: raise "
                                "processing.allowed_lateness_s if such delays are normal, or fix the gateway's buffering"}


class SurgeWatch:
    """Logs a WARNING (and counts `andon_dead_letter_surges_total`) when a batch is mostly dead-lettered."""

    def __init__(self, share: float = SURGE_SHARE, min_readings: int = SURGE_MIN_READINGS,
                 every_s: float = SURGE_WARN_EVERY_S, clock=time.monotonic) -> None:
        self.share, self.min_readings, self.every_s, self.clock = share, min_readings, every_s, clock
        self._last: dict[str, float] = {}
        self._quiet: dict[str, int] = {}

    def observe(self, total: int, reasons: Counter, example: dict[str, DeadLetter | None]) -> None:
        if total < self.min_readings:
            return
        for reason, n in reasons.items():
            if n < self.share * total:
                continue
            DEAD_LETTER_SURGES.labels(reason).inc()
            now = self.clock()
            last = self._last.get(reason)
            if last is not None and now - last < self.every_s:
                self._quiet[reason] = self._quiet.get(reason, 0) + 1
                continue
            self._last[reason] = now
            more = self._quiet.pop(reason, 0)
            dead = example.get(reason)
            detail = f" (e.g. {dead.detail})" if dead is not None and dead.detail else ""
            advice = dead.hint if dead is not None and dead.hint else _SURGE_HINTS.get(reason, "")
            hint = f"; what to do: {advice}" if advice else ""
            again = f"; {more} more such batch{'es' if more != 1 else ''} since the last warning" if more else ""
            log.warning("%d of %d readings of a batch (%.0f %%) were dead-lettered as %s%s%s%s; see `andon dlq "
                        "list --topic telemetry`", n, total, 100.0 * n / total, reason, detail, hint, again,
                        extra={"reason": reason})


SURGES = SurgeWatch()


def dead_letter_message(dead: DeadLetter, topic: str) -> OutMessage:
    """The DLQ message of a refused reading, counted."""
    count_dead_letter(topic, dead.reason)
    return dead.to_message(topic)


FRESHNESS = Gauge("andon_event_time_lag_seconds",
                  "Seconds from the newest reading's event time of the site to now (how far behind the plant the "
                  "data is); NaN until the site's first reading", ["site"])


class Freshness:
    """Newest event time seen per site, exported as `andon_event_time_lag_seconds{site}` at scrape time."""

    def __init__(self, registry, clock=time.time) -> None:
        self.sites = sorted({site for site, _ in registry.keys})
        self.site_of = np.array([self.sites.index(site) for site, _ in registry.keys], dtype=np.int64)
        self.newest = np.full(len(self.sites), np.iinfo(np.int64).min, dtype=np.int64)
        self.clock = clock
        for k, site in enumerate(self.sites):
            FRESHNESS.labels(site).set_function(lambda k=k: self.lag_s(k))

    def lag_s(self, k: int) -> float:
        newest = int(self.newest[k])
        return float("nan") if newest == np.iinfo(np.int64).min else self.clock() - newest / 1000.0

    def observe(self, machine: np.ndarray, ts: np.ndarray) -> None:
        if not machine.shape[0]:
            return
        site = self.site_of[machine]
        first = int(site[0])
        if (site == first).all():  # the usual batch: one site
            self.newest[first] = max(int(self.newest[first]), int(ts.max()))
        else:
            np.maximum.at(self.newest, site, ts.astype(np.int64, copy=False))


def init_labels(registry, dlq_topic: str) -> None:
    """Create every known label value at 0, so rate() and alerts see a series before the first increment."""
    from andon.events import EVENT_TYPES
    from andon.readings import Reason

    reasons = [r.value for r in Reason] + ["late_reading"]
    for reason in reasons:
        DEAD_LETTER_SURGES.labels(reason)
        DEAD_LETTERS.labels(dlq_topic, reason)
        if reason != "late_reading":
            READINGS_INVALID.labels(reason)
    for event_type in EVENT_TYPES:
        if event_type != "workorder.released":  # published by `andon run workorders`, not by telemetry
            EVENTS_OUT.labels(event_type)


def count_decoded(decode, freshness: Freshness | None = None):
    def counted(raw):
        decoded = decode(raw)
        if freshness is not None:
            freshness.observe(decoded.batch.machine, decoded.batch.ts)
        READINGS_IN.inc(decoded.readings_in)
        if decoded.dead:
            reasons = Counter(dead.reason for dead in decoded.dead)
            for reason, n in reasons.items():
                READINGS_INVALID.labels(reason).inc(n)
            example = {}
            for dead in decoded.dead:
                example.setdefault(dead.reason, dead)
            SURGES.observe(decoded.readings_in, reasons, example)
        return decoded

    return counted


def count_outputs(kv):
    _, (batch, out) = kv
    PROGRESS.advanced()
    READINGS_LATE.inc(len(out.late))
    if batch is not None and len(out.late):
        SURGES.observe(len(batch), Counter({"late_reading": len(out.late)}), {})
    for kind, n in Counter(event.type for event in out.events).items():
        EVENTS_OUT.labels(kind).inc(n)
    if out.events:
        BOARD.observe_events(out.events)
    if out.windows:
        WINDOW_ROWS.inc(int(out.windows["machine"].shape[0]))
    SHIFT_ROWS.inc(len(out.shifts))
    return kv

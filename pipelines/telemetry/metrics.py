"""Prometheus metrics of the telemetry dataflow (served by `andon run telemetry --metrics-port`)."""

from __future__ import annotations

from collections import Counter

from prometheus_client import Counter as PromCounter
from prometheus_client import Gauge

READINGS_IN = PromCounter("andon_readings_in_total", "Readings received (valid and invalid)")
READINGS_INVALID = PromCounter("andon_readings_invalid_total", "Readings refused to the dead-letter topic", ["reason"])
READINGS_LATE = PromCounter("andon_readings_late_total", "Readings that arrived after their window closed")
EVENTS_OUT = PromCounter("andon_events_out_total", "Business events emitted", ["type"])
WINDOW_ROWS = PromCounter("andon_window_rows_total", "Window aggregate rows produced for Parquet")
SHIFT_ROWS = PromCounter("andon_shift_rows_total", "Shift OEE rows produced for Parquet")
CONSUMER_LAG = Gauge("andon_consumer_lag_messages", "Messages behind the partition's high watermark (lower bound)",
                     ["topic", "partition"])


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
    if out.windows:
        WINDOW_ROWS.inc(int(out.windows["machine"].shape[0]))
    SHIFT_ROWS.inc(len(out.shifts))
    return kv

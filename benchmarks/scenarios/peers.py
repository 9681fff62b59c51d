"""Peer baselines: the same tumbling-window aggregation written for bytewax's `fold_window` and for Quix Streams.

Both peers get what andon gets (the same JSON readings, the same window length and allowed lateness) and compute
what andon's `telemetry_agg` holds: per machine, per window, per signal count, min, max, mean and last (the value
with the greatest event time). The fold is the plain Python a competent user of either tool would write; the
engines differ, the fold does not. Each peer is given the cheaper option where one exists (bytewax: `ordered=False`
with `last` tracked by timestamp; Quix: no changelog topics, like andon without recovery here).
"""

from __future__ import annotations

import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import msgspec

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def fold(acc: dict, reading: dict) -> dict:
    """Add one reading to a window accumulator {signal: [count, min, max, sum, last_ts, last]}."""
    ts = reading["ts"]
    for name, v in reading["signals"].items():
        s = acc.get(name)
        if s is None:
            acc[name] = [1, v, v, v, ts, v]
            continue
        s[0] += 1
        if v < s[1]:
            s[1] = v
        if v > s[2]:
            s[2] = v
        s[3] += v
        if ts >= s[4]:
            s[4] = ts
            s[5] = v
    return acc


def merge(a: dict, b: dict) -> dict:
    for name, t in b.items():
        s = a.get(name)
        if s is None:
            a[name] = list(t)
            continue
        s[0] += t[0]
        s[1] = min(s[1], t[1])
        s[2] = max(s[2], t[2])
        s[3] += t[3]
        if t[4] >= s[4]:
            s[4], s[5] = t[4], t[5]
    return a


def summary(acc: dict) -> dict:
    """The telemetry_agg columns of one closed window: {signal: (count, min, max, mean, last)}."""
    return {name: (s[0], s[1], s[2], s[3] / s[0], s[5]) for name, s in acc.items()}


# ---- bytewax fold_window ---------------------------------------------------------------------------------------


def bytewax_fold_window(raw_batches: list, window_s: int, lateness_s: float) -> tuple[float, int]:
    """(seconds, windows emitted) of a bytewax dataflow: decode the JSON batches, key by machine, fold_window."""
    import bytewax.operators as op
    from bytewax.dataflow import Dataflow
    from bytewax.operators.windowing import EventClock, TumblingWindower, fold_window
    from bytewax.testing import TestingSink, TestingSource, run_main

    decoder = msgspec.json.Decoder()

    def decode(raw) -> list[dict]:
        return decoder.decode(b"[" + b",".join(raw.values) + b"]")

    def event_time(reading: dict) -> datetime:
        return EPOCH + timedelta(milliseconds=reading["ts"])

    flow = Dataflow("fold_window_baseline")
    readings = op.flat_map("decode", op.input("in", flow, TestingSource(raw_batches)), decode)
    keyed = op.key_on("machine", readings, lambda r: r["machine"])
    clock = EventClock(event_time, wait_for_system_duration=timedelta(seconds=lateness_s))
    windower = TumblingWindower(length=timedelta(seconds=window_s), align_to=EPOCH)
    out = fold_window("agg", keyed, clock, windower, dict, fold, merge, ordered=False)
    rows: list = []
    op.output("out", op.map("summary", out.down, lambda kv: (kv[0], kv[1][0], summary(kv[1][1]))), TestingSink(rows))
    start = time.perf_counter()
    run_main(flow)
    return time.perf_counter() - start, len(rows)


# ---- Quix Streams ---------------------------------------------------------------------------------------------


def quixstreams_window(bootstrap: str, topic: str, expected: int, window_s: int, lateness_s: float,
                       timeout_s: float = 120.0) -> dict:
    """Quix Streams tumbling window with the same fold over `topic` (keyed by machine) until `expected` messages.

    Timed from the first processed message to the last (the consumer-group join is not counted). Returns
    {"readings_per_s", "seconds", "windows", "startup_s"} or {"error": ...}.
    """
    try:
        from quixstreams import Application
    except ImportError as exc:
        return {"error": f"quixstreams is not installed ({exc}); pip install quixstreams"}

    seen = {"n": 0, "first": None, "last": None}
    windows = [0]
    app_box: dict = {}

    def processed(_topic, _partition, _offset) -> None:
        now = time.perf_counter()
        if seen["first"] is None:
            seen["first"] = now
        seen["n"] += 1
        if seen["n"] >= expected:
            seen["last"] = now
            app_box["app"].stop()

    def count_window(_value) -> None:
        windows[0] += 1

    with tempfile.TemporaryDirectory(prefix="andon-bench-quix-") as state_dir:
        app = Application(broker_address=bootstrap, consumer_group=f"quix-{uuid.uuid4().hex[:6]}",
                          auto_offset_reset="earliest", consumer_extra_config={"session.timeout.ms": 6000},
                          use_changelog_topics=False, state_dir=state_dir, loglevel="WARNING",
                          on_message_processed=processed, commit_interval=5.0)
        app_box["app"] = app
        src = app.topic(topic, value_deserializer="json", key_deserializer="str",
                        timestamp_extractor=lambda value, _headers, _ts, _type: value["ts"])
        sdf = app.dataframe(src)
        sdf = sdf.tumbling_window(duration_ms=window_s * 1000, grace_ms=int(lateness_s * 1000))
        sdf = sdf.reduce(fold, lambda value: fold({}, value)).final()
        sdf = sdf.update(count_window)
        timer = threading.Timer(timeout_s, app.stop)
        timer.daemon = True
        start = time.perf_counter()
        timer.start()
        try:
            app.run()
        except Exception as exc:  # the peer failing is a result to report, not a harness crash
            return {"error": f"{type(exc).__name__}: {exc}"[:500]}
        finally:
            timer.cancel()
    if seen["last"] is None:
        return {"error": f"processed {seen['n']} of {expected} messages within {timeout_s:.0f} s"}
    seconds = seen["last"] - seen["first"]
    return {"readings_per_s": expected / seconds, "seconds": seconds, "windows": windows[0],
            "startup_s": seen["first"] - start}

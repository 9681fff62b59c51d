"""Synthetic plant for the kernel and scaling scenarios: a site of N presses and their readings, made fast.

Every machine reports once per `period_ms` (arrival order by time, machines staggered within the period); the
stream is cut into batches of `batch` readings whatever the machine count, as a Kafka source would cut it.
States change rarely (about every 500 readings per machine), counters count while running.

    site = bench_site(100_000, window_s=60)
    for batch in readings(Registry([site]), 100_000, ticks=150, batch=10_000): ...
"""

from __future__ import annotations

from collections.abc import Iterator

import msgspec
import numpy as np

from andon.config import SiteConfig, parse_site
from andon.readings import ReadingBatch, Registry

T0 = 1_772_431_200_000
DIGITS = 6


def bench_site(machines: int, window_s: int = 60, lateness_s: float = 10.0) -> SiteConfig:
    return parse_site({
        "site": {"id": "bench", "timezone": "Europe/Berlin"},
        "processing": {"window_s": window_s, "allowed_lateness_s": lateness_s},
        "calendar": {"shifts": [{"name": "early", "start": "06:00:00", "end": "14:00:00",
                                 "breaks": [{"start": "10:00:00", "end": "10:30:00"}]},
                                {"name": "late", "start": "14:00:00", "end": "22:00:00"},
                                {"name": "night", "start": "22:00:00", "end": "06:00:00"}]},
        "machine_classes": {"press": {
            "states": {"codes": {"1": "running", "2": "stopped", "3": "breakdown", "4": "setup"}},
            "rules": {"maintenance_alarm_codes": [17], "maintenance_every_cycles": 50000,
                      "maintenance_signal_limits": [{"signal": "power_kw", "above": 14.0, "for_s": 60}]}}},
        "machine_groups": [{"prefix": "m-", "count": machines, "digits": DIGITS, "class": "press",
                            "work_center": "WC-{n:06d}", "ideal_cycle_time_s": 2.0}],
    }, "<bench>")


def readings(registry: Registry, machines: int, ticks: int, batch: int, period_ms: int = 1000,
             seed: int = 1, first: int | None = None) -> Iterator[ReadingBatch]:
    """`machines` x `ticks` readings in batches of `batch` (the first of `first` if given; the last may be shorter)."""
    rng = np.random.default_rng(seed)
    names = registry.signals
    col = {name: names.index(name) for name in ("state", "spindle_rpm", "power_kw", "part_count", "reject_count",
                                                "alarm")}
    ids = np.arange(machines, dtype=np.int32)
    offset = (ids.astype(np.int64) * 7) % period_ms
    state = (rng.random(machines) < 0.1).astype(np.int64)  # 0 running, 1 stopped
    parts = 1000.0 + rng.integers(0, 1000, machines)
    chunk = max(1, -(-batch // machines))
    pending: list[ReadingBatch] = []
    buffered = 0
    size = first or batch
    for t in range(0, ticks, chunk):
        k = min(chunk, ticks - t)
        st = (state + np.cumsum(rng.random((k, machines)) < 0.002, axis=0)) % 2
        made = np.cumsum((rng.random((k, machines)) < 0.5) & (st == 0), axis=0) + parts
        state, parts = st[-1], made[-1]
        n = k * machines
        values = np.full((n, len(names)), np.nan)
        values[:, col["state"]] = (st + 1).ravel()
        values[:, col["spindle_rpm"]] = np.where(st.ravel() == 0, 1200 + rng.normal(0, 5, n), 0.0)
        values[:, col["power_kw"]] = 7.5 + rng.normal(0, 0.1, n)
        values[:, col["part_count"]] = made.ravel()
        values[:, col["reject_count"]] = np.floor(made.ravel() / 50)
        values[:, col["alarm"]] = 0.0
        ts = T0 + np.repeat(np.arange(t, t + k, dtype=np.int64) * period_ms, machines) + np.tile(offset, k)
        pending.append(ReadingBatch(np.tile(ids, k), ts, np.full(n, -1, np.int64), values, names))
        buffered += n
        whole = _concat(pending)
        lo = 0
        while buffered - lo >= size:
            yield _slice(whole, lo, lo + size)
            lo, size = lo + size, batch
        rest = _slice(whole, lo, len(whole))
        pending, buffered = ([rest], len(rest)) if len(rest) else ([], 0)
    if buffered:
        yield _concat(pending)


def _concat(parts: list[ReadingBatch]) -> ReadingBatch:
    if len(parts) == 1:
        return parts[0]
    return ReadingBatch(np.concatenate([p.machine for p in parts]), np.concatenate([p.ts for p in parts]),
                        np.concatenate([p.seq for p in parts]), np.concatenate([p.values for p in parts]),
                        parts[0].signals)


def _slice(b: ReadingBatch, lo: int, hi: int) -> ReadingBatch:
    return ReadingBatch(b.machine[lo:hi], b.ts[lo:hi], b.seq[lo:hi], b.values[lo:hi], b.signals)


def to_json(batch: ReadingBatch, registry: Registry) -> list[bytes]:
    """The readings as contract JSON messages (one reading per message), for the dataflow scenarios."""
    enc = msgspec.json.Encoder()
    names = batch.signals
    out = []
    for m, ts, row in zip(batch.machine.tolist(), batch.ts.tolist(), batch.values.tolist(), strict=True):
        site, machine = registry.keys[m]
        out.append(enc.encode({"site": site, "machine": machine, "ts": ts,
                               "signals": {k: v for k, v in zip(names, row, strict=True) if v == v}}))
    return out

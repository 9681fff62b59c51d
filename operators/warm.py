"""A tiny synthetic plant run through a ShardProcessor, so every kernel is compiled for the declared dtypes."""

from __future__ import annotations

import numpy as np

from andon.config import parse_site
from andon.readings import ReadingBatch, Registry
from andon.wire.decoder import BatchDecoder

_SITE = {
    "site": {"id": "warm-up", "timezone": "Europe/Berlin"},
    "processing": {"window_s": 1, "allowed_lateness_s": 1, "min_dwell_s": 0, "microstop_threshold_s": 1,
                   "offline_after_s": 2},
    "calendar": {"shifts": [{"name": "day", "start": "06:00:00", "end": "05:59:00",
                             "breaks": [{"start": "10:00:00", "end": "10:30:00"}]}]},
    "machine_classes": {
        "coded": {"signals": ["state", "rpm", "parts", "rejects", "alarm", "q"], "part_counter": "parts",
                  "reject_counter": "rejects",
                  "states": {"source": "code", "codes": {"1": "running", "2": "stopped", "4": "setup"}},
                  "rules": {"reject_rate_limit": 0.5, "reject_rate_min_count": 1, "maintenance_alarm_codes": [7],
                            "maintenance_every_cycles": 2,
                            "spc": [{"signal": "q", "rule": "run_of_n", "lower": 0, "upper": 2, "n": 2},
                                    {"signal": "q", "lower": 0, "upper": 2}],
                            "maintenance_signal_limits": [{"signal": "rpm", "above": 5, "for_s": 0}]}},
        "inferred": {"signals": ["rpm", "parts", "rejects", "alarm"], "part_counter": "parts",
                     "reject_counter": "rejects",
                     "states": {"source": "inferred", "run_signal": "rpm", "run_above": 5, "hysteresis": 1}},
    },
    "machines": [{"id": "a", "class": "coded", "work_center": "A", "ideal_cycle_time_s": 1},
                 {"id": "b", "class": "inferred", "work_center": "B", "ideal_cycle_time_s": 1}],
}


def run_warm_up() -> None:
    from andon.operators.shard import ShardProcessor

    site = parse_site(_SITE, "<warm-up>")
    registry = Registry([site])
    t0 = 1_774_000_000_000
    rows = []
    for k in range(12):
        state = (1.0, 2.0, 4.0, 1.0)[k % 4]
        rpm = 10.0 if state == 1.0 else 0.0
        rows.append((0, t0 + k * 900, [state, rpm, 3.0 * k, 2.0 * k, 7.0 if k == 5 else 0.0, 3.0]))
        rows.append((1, t0 + k * 900 + (3000 if k == 6 else 0), [np.nan, rpm, float(k), 0.0, 0.0, np.nan]))
    rows.append((0, t0, [1.0, 1.0, 0.0, 0.0, 0.0, 1.0]))  # late
    names = registry.signals
    values = np.full((len(rows), len(names)), np.nan)
    for r, (_, _, vals) in enumerate(rows):
        for name, v in zip(site.machine_classes["coded"].signals, vals, strict=True):
            values[r, names.index(name)] = v
    batch = ReadingBatch(np.array([r[0] for r in rows], np.int32), np.array([r[1] for r in rows], np.int64),
                         np.full(len(rows), -1, np.int64), values, names)
    proc = ShardProcessor([site], registry)
    proc.process(batch)
    proc.process(ReadingBatch(batch.machine[:0], batch.ts[:0], batch.seq[:0], values[:0], names))
    proc.flush()
    _warm_decoder(registry, t0)


def _warm_decoder(registry: Registry, t0: int) -> None:
    """Compile (or load) the JSON byte scanner: one scanned message, one left to msgspec, one with a NUL byte."""
    good = b'{"site":"warm-up","machine":"a","ts":%d,"seq":1,"signals":{"state":1,"rpm":10.5}}' % t0
    decoder = BatchDecoder(registry)
    decoder.decode([good, b'{"site":"warm-up","machine":"a","ts":%d,"signals":{"alarm":true}}' % t0],
                   bounds=(t0 - 1000, t0 + 1000))
    decoder.decode([good, b"\x00"], bounds=(t0 - 1000, t0 + 1000))

"""`kernels`: kernel-only throughput (window aggregation + counters + state detection) on one core.

Batches of 10,000 readings over 1,000 machines at 1 Hz (10 readings per machine per batch, arrival order by
time), as the pipeline hands them to a shard. Measured: stable argsort by machine, the gather into that order and
the aggregate and state walks (the registry-to-local lookup and the cached calendar are set up outside the clock) (`with_rules_readings_per_s` adds the rule walk; `process_readings_per_s` is the
whole ShardProcessor.process including Event objects); not measured: decoding. Baseline `numpy_sort_reduce`: the plain numpy way
to aggregate the same batches per (machine, window, signal) with argsort + ufunc.reduceat, without watermarks,
lateness, counters or state, i.e. strictly less work.
"""

from __future__ import annotations

import time

import numpy as np

from andon.config import parse_site
from andon.operators import ShardProcessor, warm_up
from andon.operators import config as C
from andon.operators.kernels.aggregate import aggregate
from andon.operators.kernels.rules import detect_rules
from andon.operators.kernels.states import detect_states
from andon.operators.shard import sort_by_machine
from andon.readings import ReadingBatch, Registry
from benchmarks.scenarios.common import best_of, peak_rss_mb

MACHINES = 1000
BATCH = 10_000
T0 = 1_772_431_200_000


def bench_site():
    return parse_site({
        "site": {"id": "bench", "timezone": "Europe/Berlin"},
        "calendar": {"shifts": [{"name": "early", "start": "06:00:00", "end": "14:00:00",
                                 "breaks": [{"start": "10:00:00", "end": "10:30:00"}]},
                                {"name": "late", "start": "14:00:00", "end": "22:00:00"},
                                {"name": "night", "start": "22:00:00", "end": "06:00:00"}]},
        "machine_classes": {"press": {
            "states": {"codes": {"1": "running", "2": "stopped", "3": "breakdown", "4": "setup"}},
            "rules": {"maintenance_alarm_codes": [17], "maintenance_every_cycles": 50000,
                      "maintenance_signal_limits": [{"signal": "power_kw", "above": 14.0, "for_s": 60}]}}},
        "machine_groups": [{"prefix": "m-", "count": MACHINES, "digits": 4, "class": "press",
                            "work_center": "WC-{n:04d}", "ideal_cycle_time_s": 2.0}],
    }, "<bench>")


def make_batches(registry: Registry, n_batches: int, seed: int = 1) -> list[ReadingBatch]:
    rng = np.random.default_rng(seed)
    names = registry.signals
    per = BATCH // MACHINES
    steps = n_batches * per
    state = np.where(rng.random((MACHINES, steps)) < 0.995, 1.0, 2.0)
    state = np.maximum.accumulate(state * (rng.random((MACHINES, 1)) < 0.5) + 1, axis=1) % 2 + 1  # few changes
    parts = np.cumsum(rng.random((MACHINES, steps)) < 0.5, axis=1).astype(float) + 1000
    batches = []
    for b in range(n_batches):
        k = np.arange(b * per, (b + 1) * per)
        machine = np.tile(np.arange(MACHINES, dtype=np.int32), per)
        step = np.repeat(k, MACHINES)
        ts = T0 + step * 1000 + machine.astype(np.int64) * 7
        values = np.full((BATCH, len(names)), np.nan)
        values[:, names.index("state")] = state[machine, step]
        values[:, names.index("spindle_rpm")] = 1200 + rng.normal(0, 5, BATCH)
        values[:, names.index("power_kw")] = 7.5 + rng.normal(0, 0.1, BATCH)
        values[:, names.index("part_count")] = parts[machine, step]
        values[:, names.index("reject_count")] = np.floor(parts[machine, step] / 50)
        values[:, names.index("alarm")] = 0.0
        batches.append(ReadingBatch(machine, ts, np.full(BATCH, -1, np.int64), values, names))
    return batches


def _kernels_only(site, registry, batches, rules: bool = False) -> None:
    proc = ShardProcessor([site], registry)
    proc.process(batches[0])  # registers every machine (local index), as a running shard would have
    params, arrays = proc._params, proc._arrays
    cal = proc._calendar(int(batches[0].ts[0]), int(batches[-1].ts[-1]))  # calendar arrays are cached per range
    mapped = [(proc._local(b.machine), b.ts, b.values) for b in batches[1:]]  # registry -> local index lookup
    start = time.perf_counter()
    for local, ts, values in mapped:
        order = sort_by_machine(local)
        local, ts, values = local[order], ts[order], np.take(values, order, axis=0)
        walk = np.arange(len(ts), dtype=np.int64)
        late, d_parts, d_rej, _ = aggregate(walk, local, ts, values, params, cal, arrays,
                                            n_machines=MACHINES, reset_ratio=C.COUNTER_RESET_RATIO,
                                            roll_fraction=C.COUNTER_ROLLOVER_FRACTION)
        detect_states(walk, local, ts, values, d_parts, d_rej, params, cal, arrays, n_machines=MACHINES)
        if rules:
            detect_rules(walk, local, ts, values, d_parts, params, arrays)
    return time.perf_counter() - start


def _process(site, registry, batches) -> None:
    proc = ShardProcessor([site], registry)
    for batch in batches:
        proc.process(batch)


def _numpy_sort_reduce(batches, window_ms: int = 60_000) -> None:
    for batch in batches:
        key = batch.machine.astype(np.int64) * (1 << 32) + batch.ts // window_ms
        order = np.argsort(key, kind="stable")
        skey = key[order]
        vals = batch.values[order]
        starts = np.flatnonzero(np.r_[True, skey[1:] != skey[:-1]])
        present = ~np.isnan(vals)
        np.add.reduceat(present, starts, axis=0)
        np.add.reduceat(np.where(present, vals, 0.0), starts, axis=0)
        np.fmin.reduceat(vals, starts, axis=0)
        np.fmax.reduceat(vals, starts, axis=0)
        last = np.r_[starts[1:], len(skey)] - 1
        vals[last]


def kernels(quick: bool = False) -> dict:
    site = bench_site()
    registry = Registry([site])
    n_batches = 21 if quick else 201
    batches = make_batches(registry, n_batches)
    warm_up()
    _kernels_only(site, registry, batches[:3])  # touch every path once more before timing
    repeats = 2 if quick else 3
    readings = (n_batches - 1) * BATCH
    seconds = min(_kernels_only(site, registry, batches) for _ in range(repeats))
    rules_s = min(_kernels_only(site, registry, batches, rules=True) for _ in range(repeats))
    base_s = best_of(repeats, lambda: _numpy_sort_reduce(batches[1:]))
    proc_s = best_of(1, lambda: _process(site, registry, batches[1:]))
    rate, base_rate = readings / seconds, readings / base_s
    return {
        "readings_per_s": rate,
        "seconds": seconds,
        "readings": readings,
        "peak_rss_mb": peak_rss_mb(),
        "machines": MACHINES,
        "batch": BATCH,
        "with_rules_readings_per_s": readings / rules_s,  # plus SPC/maintenance rule kernel
        "process_readings_per_s": readings / proc_s,  # ShardProcessor.process incl. events and rows
        "baselines": {"numpy_sort_reduce": {"readings_per_s": base_rate, "ratio": rate / base_rate}},
    }

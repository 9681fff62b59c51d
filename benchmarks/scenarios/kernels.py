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

from andon.operators import ShardProcessor, warm_up
from andon.operators import config as C
from andon.operators.kernels.aggregate import aggregate
from andon.operators.kernels.rules import detect_rules
from andon.operators.kernels.states import detect_states
from andon.operators.shard import sort_by_machine
from andon.readings import ReadingBatch, Registry
from benchmarks.scenarios.common import best_of, peak_rss_mb, pick, progress, state_bytes
from benchmarks.scenarios.synthetic import bench_site, readings

MACHINES = 1000
BATCH = 10_000


def make_batches(registry: Registry, n_batches: int, seed: int = 1) -> list[ReadingBatch]:
    return list(readings(registry, MACHINES, n_batches * BATCH // MACHINES, BATCH, seed=seed))


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
                                            n_machines=MACHINES, roll_fraction=C.COUNTER_ROLLOVER_FRACTION)
        detect_states(walk, local, ts, values, d_parts, d_rej, params, cal, arrays, n_machines=MACHINES)
        if rules:
            detect_rules(walk, local, ts, values, d_parts, params, arrays)
    return time.perf_counter() - start


def _process(site, registry, batches) -> ShardProcessor:
    proc = ShardProcessor([site], registry)
    for batch in batches:
        proc.process(batch)
    return proc


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


def kernels(size: str = "full") -> dict:
    site = bench_site(MACHINES)
    registry = Registry([site])
    n_batches = pick(size, 6, 21, 201)
    progress(f"kernels: {n_batches} batches of {BATCH:,} readings over {MACHINES:,} machines")
    batches = make_batches(registry, n_batches)
    warm_up()
    _kernels_only(site, registry, batches[:3])  # touch every path once more before timing
    repeats = pick(size, 1, 2, 3)
    readings_n = (n_batches - 1) * BATCH
    seconds = min(_kernels_only(site, registry, batches) for _ in range(repeats))
    rules_s = min(_kernels_only(site, registry, batches, rules=True) for _ in range(repeats))
    proc_s = best_of(1, lambda: _process(site, registry, batches[1:]))
    rss = peak_rss_mb()
    state = state_bytes(_process(site, registry, batches[:2]))
    progress("kernels: baseline numpy_sort_reduce")
    base_s = best_of(repeats, lambda: _numpy_sort_reduce(batches[1:]))
    return {
        "readings_per_s": readings_n / seconds,
        "seconds": seconds,
        "readings": readings_n,
        "peak_rss_mb": rss,
        **state,
        "machines": MACHINES,
        "batch": BATCH,
        "with_rules_readings_per_s": readings_n / rules_s,  # plus SPC/maintenance rule kernel
        "process_readings_per_s": readings_n / proc_s,  # ShardProcessor.process incl. events and rows
        "baselines": {"numpy_sort_reduce": {"readings_per_s": readings_n / base_s}},
    }

"""`scaling`: how throughput and state memory move with machines, window length, batch size, workers and processes.

Two sweeps, each point on fresh state:
- `shard` points: one ShardProcessor (what one dataflow shard runs: kernels, events, window columns) fed the
  synthetic plant's readings at 1 Hz. Machines 100 -> 100,000 (batch 10,000, window 60 s), batch size 1,000 ->
  100,000 (1,000 machines, window 60 s), window 10 s -> 300 s (1,000 machines, batch 10,000). Each point runs
  long enough for windows to close (at least 2.5 windows of event time). The first tick (every machine once) is
  handed over as one batch and timed apart as `register_s` (machine registration is a one-time cost); the rest is
  the steady state. State bytes per machine = the snapshot's array bytes / machines.
- `dataflow` points: the whole telemetry dataflow (decode, shard, kernels, events, Parquet) on the JSON readings
  of 1,000 machines from a 2-partition source: 1 worker, 2 workers in one process, 2 processes of 1 worker.
  On a 2-core machine the 2-process figure competes with the OS and the other processes; it is reported as measured.
  Each process's clock starts when its dataflow asks for its first batch, once bytewax has connected the
  processes: a process that starts before its peer listens retries after a pause, which once made the 2-process
  point read 0.3 M readings/s instead of about 1.3 M.
"""

from __future__ import annotations

import multiprocessing as mp
import shutil
import tempfile
import time
from pathlib import Path

from andon.operators import ShardProcessor, warm_up
from andon.readings import Registry
from benchmarks.scenarios.common import peak_rss_mb, pick, progress, state_bytes
from benchmarks.scenarios.synthetic import T0, bench_site, readings

MACHINES = (100, 1_000, 10_000, 100_000)
BATCHES = (1_000, 10_000, 100_000)
WINDOWS = (10, 60, 300)


def shard_point(machines: int, batch: int, window_s: int, target: int) -> dict:
    """Readings per second of ShardProcessor.process at one (machines, batch, window) point, in steady state.

    The first tick (every machine once) is timed apart as `register_s`; the first window plus lateness of event
    time is a warm-up (every machine's first state, first window and first shift slot), run but not timed, so
    every point measures the same steady state whatever its machine count; then at least `target` readings and
    2.5 windows are timed."""
    site = bench_site(machines, window_s=window_s)
    registry = Registry([site])
    warm_ticks = int(window_s + site.processing.allowed_lateness_s) + 2
    ticks = warm_ticks + max(-(-target // machines), int(2.5 * window_s) + 2)
    steady_from = T0 + warm_ticks * 1000
    proc = ShardProcessor([site], registry)
    stream = readings(registry, machines, ticks, batch, first=machines)
    start = time.perf_counter()
    proc.process(next(stream))
    register_s = time.perf_counter() - start
    seconds, timed = 0.0, 0
    for b in stream:
        start = time.perf_counter()
        proc.process(b)
        if int(b.ts[0]) >= steady_from:
            seconds += time.perf_counter() - start
            timed += len(b)
    return {"sweep": "shard", "machines": machines, "batch": batch, "window_s": window_s, "workers": 1,
            "processes": 1, "readings": timed, "seconds": seconds, "readings_per_s": timed / seconds,
            "register_s": register_s, "warm_up_ticks": warm_ticks, **state_bytes(proc)}


# ---- dataflow: workers and processes -----------------------------------------------------------------------------


#: When this process's dataflow asked its source for the first batch: the clock of a `dataflow` point starts there,
#: after bytewax has connected the cluster's processes (a process that starts before its peer listens retries
#: the connection after a pause, which is start-up, not throughput).
_FIRST_BATCH: list[float | None] = [None]


def _partitioned_source(machines: int, ticks: int, batch: int, partitions: int):
    from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition

    from andon.messages import RawBatch
    from benchmarks.scenarios.synthetic import to_json

    site = bench_site(machines)
    registry = Registry([site])
    parts: list[list[RawBatch]] = [[] for _ in range(partitions)]
    for rb in readings(registry, machines, ticks, batch * partitions):
        values = to_json(rb, registry)
        for p in range(partitions):  # machine m goes to partition m % partitions, as Kafka keys would
            chunk = [v for v, m in zip(values, rb.machine.tolist(), strict=True) if m % partitions == p]
            n = len(chunk)
            parts[p].append(RawBatch("bench", p, list(range(n)), chunk, [None] * n, [0] * n, [None] * n))

    class _Part(StatefulSourcePartition):
        def __init__(self, batches):
            self._it = iter(batches)

        def next_batch(self):
            if _FIRST_BATCH[0] is None:
                _FIRST_BATCH[0] = time.perf_counter()
            return [next(self._it)]  # StopIteration at the end is bytewax's EOF

        def snapshot(self):
            return None

    class _Source(FixedPartitionedSource):
        def list_parts(self):
            return [f"p{i}" for i in range(partitions)]

        def build_part(self, step_id, for_part, resume_state):
            return _Part(parts[int(for_part[1:])])

    return site, _Source(), sum(len(rb.values) for p in parts for rb in p)


def _flow(site, source, out: Path):
    from andon.pipelines.telemetry import TelemetryFlowConfig, build_flow

    hi = T0 + 10 * 86_400_000
    return build_flow(TelemetryFlowConfig(sites=[site], out_dir=out, source="custom", custom_source=source, shards=4,
                                          ts_bounds=(T0 - 86_400_000, hi), parquet_write_interval_s=3600))


def _run_cluster(proc_id: int, addresses: list[str], workers: int, args: tuple, barrier, results) -> None:
    from bytewax.testing import cluster_main

    warm_up()
    site, source, n = _partitioned_source(*args)
    out = Path(tempfile.mkdtemp(prefix="andon-bench-scale-"))
    try:
        flow = _flow(site, source, out)
        barrier.wait()
        _FIRST_BATCH[0] = None
        start = time.perf_counter()
        cluster_main(flow, addresses, proc_id, worker_count_per_proc=workers)
        results.put((proc_id, time.perf_counter() - (_FIRST_BATCH[0] or start), n))
    finally:
        shutil.rmtree(out, ignore_errors=True)


def dataflow_point(processes: int, workers: int, machines: int, ticks: int, batch: int) -> dict:
    """Readings per second of the whole dataflow with `processes` x `workers` (2 source partitions)."""
    from andon.connectors.broker import free_port

    args = (machines, ticks, batch, 2)
    if processes == 1 and workers == 1:
        from bytewax.testing import run_main

        site, source, n = _partitioned_source(*args)
        out = Path(tempfile.mkdtemp(prefix="andon-bench-scale-"))
        try:
            flow = _flow(site, source, out)
            _FIRST_BATCH[0] = None
            start = time.perf_counter()
            run_main(flow)
            seconds = time.perf_counter() - (_FIRST_BATCH[0] or start)
        finally:
            shutil.rmtree(out, ignore_errors=True)
    else:
        ctx = mp.get_context("spawn")
        addresses = [f"127.0.0.1:{free_port()}" for _ in range(processes)]
        barrier, results = ctx.Barrier(processes), ctx.Queue()
        procs = [ctx.Process(target=_run_cluster, args=(i, addresses, workers, args, barrier, results))
                 for i in range(processes)]
        for p in procs:
            p.start()
        got = [results.get(timeout=600) for _ in procs]
        for p in procs:
            p.join(60)
        seconds, n = max(g[1] for g in got), got[0][2]
    return {"sweep": "dataflow", "machines": machines, "batch": batch, "window_s": 60, "workers": workers,
            "processes": processes, "readings": n, "seconds": seconds, "readings_per_s": n / seconds}


def scaling(size: str = "full") -> dict:
    warm_up()
    target = pick(size, 3_000, 600_000, 2_000_000)
    machines = pick(size, (100, 1_000), MACHINES, MACHINES)
    batches = pick(size, (1_000, 10_000), BATCHES, BATCHES)
    windows = pick(size, (60,), WINDOWS, WINDOWS)
    shard_point(100, 1_000, 60, 1_000)  # first-call costs (numba dispatch, calendar) outside every point
    plan = ([(m, 10_000, 60) for m in machines] + [(1_000, b, 60) for b in batches if b != 10_000]
            + [(1_000, 10_000, w) for w in windows if w != 60])
    points = []
    for m, b, w in plan:
        progress(f"scaling: shard {m:,} machines, batch {b:,}, window {w} s")
        points.append(shard_point(m, b, w, target))
        progress(f"scaling:   {points[-1]['readings_per_s']:,.0f} readings/s, "
                 f"{points[-1]['state_bytes_per_machine']:,.0f} state bytes/machine")
    rss = peak_rss_mb()
    flow_ticks = pick(size, 10, 150, 400)
    for procs, workers in ((1, 1), (1, 2), (2, 1)):
        progress(f"scaling: dataflow 1,000 machines x {flow_ticks} s, {procs} process(es) x {workers} worker(s)")
        points.append(dataflow_point(procs, workers, 1_000, flow_ticks, 10_000))
        progress(f"scaling:   {points[-1]['readings_per_s']:,.0f} readings/s")
    ref = next(p for p in points if p["sweep"] == "shard" and p["machines"] == 1_000 and p["batch"] == 10_000
               and p["window_s"] == 60)
    big = max((p for p in points if p["sweep"] == "shard" and p["batch"] == 10_000 and p["window_s"] == 60),
              key=lambda p: p["machines"])
    return {"readings_per_s": ref["readings_per_s"], "seconds": sum(p["seconds"] for p in points),
            "readings": sum(p["readings"] for p in points), "peak_rss_mb": rss,
            "state_bytes_per_machine": big["state_bytes_per_machine"],
            "largest": {"machines": big["machines"], "readings_per_s": big["readings_per_s"],
                        "vs_1000_machines": big["readings_per_s"] / ref["readings_per_s"],
                        "state_bytes_per_machine": big["state_bytes_per_machine"]},
            "points": points, "baselines": {}}

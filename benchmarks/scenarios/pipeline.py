"""`pipeline-memory`, `pipeline-arrow`, `pipeline-kafka`: the whole telemetry dataflow on one process.

Input: the simulator's readings of the example plant (20 machines, 1 Hz). The dataflow is the production one
(decode, shard, kernels, events to a file, Parquet files); only the source differs:
- memory: JSON messages handed over in batches of 10,000; baseline `decode_only` = msgspec decoding the same bytes
  into typed structs (signal names known), garbage collector paused, nothing else; baseline `bytewax_fold_window` =
  a bytewax dataflow over the same batches doing the same window aggregation with bytewax's own
  `fold_window` (see peers.py). This is the like-for-like place for it: both sides are a bytewax dataflow from the
  same bytes to the same per-machine, per-signal window aggregates (andon also detects states, counts, emits
  events and writes Parquet); the `kernels` scenario times numba kernels on arrays without a dataflow around them,
  which would flatter andon;
- arrow: the same readings as Arrow IPC record batches of 1,000 readings per message;
- kafka: the JSON messages from a local broker (key = machine): Apache Kafka 4 (KRaft, full JIT) where a JDK and
  `make kafka`'s jars are present, else Tansu; `pipeline-kafka-tansu` runs the dataflow and the bare consumer on
  Tansu beside it for comparison. Baseline `bare_consumer` = a confluent-kafka consumer with
  assign() draining the same topic and touching every value, nothing else (both run twice, alternating, best
  of 2 each: a broker serves the first read of fresh data slower); baseline `quixstreams` = Quix Streams
  doing the same tumbling-window aggregation on the same topic (timed from its first message to its last, so its
  consumer-group join is not counted); baseline `bytewax_kafka_source` = bytewax's own KafkaSource (batches of
  10,000, not tailing) only draining the topic in a dataflow that counts messages, beside
  `source_only_readings_per_s`, andon's KafkaBatchSource drained the same way: the one-object-per-message source
  against the batch source, and the whole andon dataflow against a bytewax source that does nothing else.
"""

from __future__ import annotations

import gc
import shutil
import tempfile
import time
import uuid
from pathlib import Path

import msgspec
import numpy as np
from bytewax.testing import TestingSource, run_main

from andon.config import example_site_path, load_site
from andon.messages import RawBatch
from andon.pipelines.telemetry import TelemetryFlowConfig, build_flow
from andon.simulator import Simulation
from andon.wire.arrow import batch_to_arrow, encode_arrow
from andon.wire.decoder import BatchDecoder
from benchmarks.scenarios import peers
from benchmarks.scenarios.common import peak_rss_mb, pick, progress, state_bytes

BATCH = 10_000
SHARDS = 4  # as `andon replay` by default and a 4-partition topic; 1 shard runs faster still


def _simulation(size: str):
    site = load_site(example_site_path())
    progress("pipeline: simulating the example plant (20 machines, 1 Hz)")
    return site, Simulation(site, machines=20, hours=pick(size, 0.1, 1.0, 4.0), seed=7)


def _messages(size: str) -> tuple[list[bytes], object, tuple[int, int]]:
    site, sim = _simulation(size)
    values = [value for _, value, _ in sim.messages()]
    return values, site, (sim.start_ms - 1, sim.end_ms + 1)


def _raw_batches(values: list[bytes], size: int) -> list[RawBatch]:
    out = []
    for start in range(0, len(values), size):
        chunk = values[start:start + size]
        n = len(chunk)
        out.append(RawBatch("bench", 0, list(range(start, start + n)), chunk, [None] * n, [0] * n, [None] * n))
    return out


def _run_flow(site, bounds, source) -> float:
    out = Path(tempfile.mkdtemp(prefix="andon-bench-"))
    try:
        cfg = TelemetryFlowConfig(sites=[site], out_dir=out, source="custom", custom_source=source, shards=SHARDS,
                                  ts_bounds=bounds, parquet_write_interval_s=3600)
        flow = build_flow(cfg)
        start = time.perf_counter()
        run_main(flow)
        return time.perf_counter() - start
    finally:
        shutil.rmtree(out, ignore_errors=True)


def _typed_decoder(site):
    fields = [(name, float | None, None) for name in site.signal_names()]
    signals = msgspec.defstruct("Signals", fields, forbid_unknown_fields=False)
    reading = msgspec.defstruct("TypedReading", [("site", str), ("machine", str), ("ts", int),
                                                 ("signals", signals), ("seq", int | None, None)])
    return msgspec.json.Decoder(list[reading])


def _decode_only(values: list[bytes], site) -> float:
    decoder = _typed_decoder(site)
    start = time.perf_counter()
    gc.disable()
    try:
        for i in range(0, len(values), BATCH):
            decoder.decode(b"[" + b",".join(values[i:i + BATCH]) + b"]")
    finally:
        gc.enable()
    return time.perf_counter() - start


def _warm(site, bounds, values) -> None:
    """Compile and load everything once (numba cache, imports) outside the timed run."""
    _run_flow(site, bounds, TestingSource(_raw_batches(values[:2000], 1000)))


def _state_of(site, values, bounds) -> dict:
    """State bytes per machine after the whole input (a ShardProcessor over the decoded readings, not timed)."""
    from andon.operators import ShardProcessor

    decoder = BatchDecoder.for_site(site)
    proc = ShardProcessor([site], decoder.registry)
    for i in range(0, len(values), BATCH):
        proc.process(decoder.decode(values[i:i + BATCH], bounds=bounds))
    return state_bytes(proc)


def pipeline_memory(size: str = "full") -> dict:
    values, site, bounds = _messages(size)
    _warm(site, bounds, values)
    batches = _raw_batches(values, BATCH)
    repeats = pick(size, 1, 2, 3)
    progress(f"pipeline-memory: andon dataflow on {len(values):,} readings, best of {repeats}")
    seconds = min(_run_flow(site, bounds, TestingSource(batches)) for _ in range(repeats))
    rss = peak_rss_mb()
    progress("pipeline-memory: baselines decode_only, bytewax_fold_window")
    base = min(_decode_only(values, site) for _ in range(repeats))
    window_s, lateness_s = site.processing.window_s, site.processing.allowed_lateness_s
    peers.bytewax_fold_window(batches[:1], window_s, lateness_s)  # imports and first-run costs
    fold = [peers.bytewax_fold_window(batches, window_s, lateness_s) for _ in range(repeats)]
    fold_s, fold_windows = min(fold)
    n = len(values)
    return {"readings_per_s": n / seconds, "seconds": seconds, "readings": n, "machines": 20, "batch": BATCH,
            "peak_rss_mb": rss, **_state_of(site, values, bounds),
            "baselines": {"decode_only": {"readings_per_s": n / base},
                          "bytewax_fold_window": {"readings_per_s": n / fold_s, "seconds": fold_s,
                                                  "windows": fold_windows}}}


def pipeline_arrow(size: str = "full") -> dict:
    values, site, bounds = _messages(size)
    progress(f"pipeline-arrow: {len(values):,} readings as Arrow IPC")
    decoder = BatchDecoder.for_site(site)
    batch = decoder.decode(values, bounds=bounds)
    from andon.operators.telemetry import take

    chunks = []
    for m in np.unique(batch.machine):  # a gateway batches each machine's readings in time order
        rows = np.flatnonzero(batch.machine == m)
        for s in range(0, rows.size, 1000):
            part = take(batch, rows[s:s + 1000])
            chunks.append((int(part.ts[0]), int(m), encode_arrow(batch_to_arrow(part, decoder.registry))))
    # the gateways publish concurrently: the topic holds their batches interleaved in time, not machine by machine
    payloads = [payload for _, _, payload in sorted(chunks)]
    _warm(site, bounds, values)
    repeats = pick(size, 1, 2, 3)
    progress(f"pipeline-arrow: andon dataflow on {len(payloads):,} Arrow messages, best of {repeats}")
    batches = _raw_batches(payloads, 10)
    seconds = min(_run_flow(site, bounds, TestingSource(batches)) for _ in range(repeats))
    rss = peak_rss_mb()
    progress("pipeline-arrow: the dataflow's stages timed one by one on the same batches")
    stages = _stages(site, bounds, batches, len(batch), repeats)
    return {"readings_per_s": len(batch) / seconds, "seconds": seconds, "readings": len(batch),
            "messages": len(payloads), "peak_rss_mb": rss, "baselines": {},
            "dataflow_ns_per_reading": seconds / len(batch) * 1e9, "stages_ns_per_reading": stages}


def _stages(site, bounds, batches: list[RawBatch], readings: int, repeats: int) -> dict[str, float]:
    """Where a reading's time goes: each stage of the dataflow run alone, without bytewax, on the same batches and
    shards (ns per reading, best of `repeats` per stage). `kernels` = ShardProcessor.process without building its
    outputs (numba kernels and the Python around them); `events` = building the events, window columns and shift
    rows from the kernel records; `outputs` = events as JSON lines, window and shift rows for the Parquet sink;
    `parquet` = merging and writing every file (on the writer thread in the dataflow, serial here)."""
    from andon.connectors.parquet import DATASETS, _dedup, write_atomic
    from andon.events import encode_event_lines
    from andon.operators import ShardProcessor
    from andon.operators.telemetry import Sharding, TelemetryDecoder
    from andon.pipelines.telemetry.outputs import shift_rows, window_rows
    from andon.readings import Registry

    registry = Registry([site])
    decoder, sharding = TelemetryDecoder([site], registry, bounds), Sharding(registry, SHARDS)
    best: dict[str, float] = {}
    for _ in range(repeats):
        took = dict.fromkeys(("decode", "shard", "kernels", "events", "outputs", "parquet"), 0.0)
        procs = {key: ShardProcessor([site], registry) for key in sharding.keys}
        for proc in procs.values():
            def timed(*records, build=proc._output, took=took):
                start = time.perf_counter()
                out = build(*records)
                took["events"] += time.perf_counter() - start
                return out

            proc._output = timed  # an instance attribute: this benchmark's processors only
        files: dict[tuple, list] = {}
        for raw in batches:
            t0 = time.perf_counter()
            decoded = decoder.decode(raw)
            t1 = time.perf_counter()
            parts = sharding.split(decoded)
            t2 = time.perf_counter()
            took["decode"] += t1 - t0
            took["shard"] += t2 - t1
            for key, part in parts:
                t0 = time.perf_counter()
                out = procs[key].process(part)
                t1 = time.perf_counter()
                encode_event_lines(out.events)
                for rows in window_rows(out.windows, registry) + shift_rows(out.shifts):
                    files.setdefault((key, rows.dataset, rows.site, rows.date, rows.period), []).append(rows.table)
                took["kernels"] += t1 - t0
                took["outputs"] += time.perf_counter() - t1
        out_dir = Path(tempfile.mkdtemp(prefix="andon-bench-"))
        try:
            t0 = time.perf_counter()
            for i, (ident, parts) in enumerate(files.items()):
                table, _ = _dedup(DATASETS[ident[1]], parts)
                write_atomic(table, out_dir / f"{i}.parquet")
            took["parquet"] = time.perf_counter() - t0
        finally:
            shutil.rmtree(out_dir, ignore_errors=True)
        took["kernels"] -= took["events"]  # process() includes building its outputs
        best = {k: min(v, best.get(k, v)) for k, v in took.items()}
    return {k: round(v / readings * 1e9, 1) for k, v in best.items()}


def pipeline_kafka_tansu(size: str = "full") -> dict:
    """pipeline-kafka's dataflow and bare consumer on Tansu (no peers): the figures beside the real broker's."""
    return pipeline_kafka(size, engine="tansu", peers_too=False)


def pipeline_kafka(size: str = "full", *, engine: str | None = None, peers_too: bool = True) -> dict:
    from confluent_kafka import Consumer, Producer, TopicPartition

    from andon.connectors.broker import EmbeddedBroker
    from andon.connectors.kafka import KafkaBatchSource

    site, sim = _simulation(size)
    messages = [(key, value) for key, value, _ in sim.messages()]
    values = [value for _, value in messages]
    bounds = (sim.start_ms - 1, sim.end_ms + 1)
    _warm(site, bounds, values)
    topic = f"bench-{uuid.uuid4().hex[:6]}"
    with EmbeddedBroker([topic], partitions=1, engine=engine, fast_start=False) as broker:
        progress(f"pipeline-kafka: producing {len(values):,} readings to {broker.label}")
        producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 50, "batch.num.messages": 10000})
        for key, value in messages:
            while True:
                try:
                    producer.produce(topic, value, key=key)
                    break
                except BufferError:
                    producer.poll(0.05)
        producer.flush(60)
        conf = {"bootstrap.servers": broker.bootstrap}

        def andon_run() -> float:
            source = KafkaBatchSource(conf, topic, batch_size=BATCH, eof_idle_s=1.0)
            return _run_flow(site, bounds, source) - 1.0  # the source ends after 1 s of silence: not work

        def bare_run() -> float:
            consumer = Consumer({**conf, "group.id": f"bare-{uuid.uuid4().hex[:6]}", "enable.auto.commit": False,
                                 "fetch.wait.max.ms": 50})
            consumer.assign([TopicPartition(topic, 0, 0)])
            start, seen, nbytes = time.perf_counter(), 0, 0
            while seen < len(values):
                for msg in consumer.consume(BATCH, timeout=0.05):  # the same poll as KafkaBatchSource
                    nbytes += len(msg.value())
                    seen += 1
            took = time.perf_counter() - start
            consumer.close()
            return took

        # a broker serves the first read of fresh data slower than later ones: each side runs twice, alternating,
        # and keeps its best, so neither is charged for the broker's first read
        progress(f"pipeline-kafka: andon dataflow and baseline bare_consumer from {broker.engine}, alternating, "
                 "best of 2")
        times: dict[str, list[float]] = {"andon": [], "bare": []}
        for first, second in (("andon", "bare"), ("bare", "andon")):
            for side in (first, second):
                times[side].append(andon_run() if side == "andon" else bare_run())
        seconds, bare = min(times["andon"]), min(times["bare"])
        rss = peak_rss_mb()
        n = len(values)
        if not peers_too:
            return {"readings_per_s": n / seconds, "seconds": seconds, "readings": n, "machines": 20,
                    "peak_rss_mb": rss, "broker": broker.label,
                    "baselines": {"bare_consumer": {"readings_per_s": n / bare}}}

        progress("pipeline-kafka: sources alone: KafkaBatchSource vs bytewax's KafkaSource draining the topic")
        drained = {"andon": _drain(KafkaBatchSource(conf, topic, batch_size=BATCH, eof_idle_s=1.0),
                                   lambda b: len(b.values), idle_s=1.0),
                   "bytewax": _drain(_bytewax_kafka_source(broker.bootstrap, topic), lambda _msg: 1)}

        progress("pipeline-kafka: baseline quixstreams (bounded to 180 s)")
        quix = peers.quixstreams_window(broker.bootstrap, topic, len(values), site.processing.window_s,
                                        site.processing.allowed_lateness_s, timeout_s=180.0)
        label = broker.label
    return {"readings_per_s": n / seconds, "seconds": seconds, "readings": n, "machines": 20, "peak_rss_mb": rss,
            "broker": label, "source_only_readings_per_s": drained["andon"]["readings_per_s"],
            "baselines": {"bare_consumer": {"readings_per_s": n / bare}, "quixstreams": quix,
                          "bytewax_kafka_source": drained["bytewax"]}}


def _bytewax_kafka_source(bootstrap: str, topic: str):
    from bytewax.connectors.kafka import KafkaSource

    # its fastest setting: batches of 10,000 like andon's source, ends at the partition's end instead of tailing
    return KafkaSource([bootstrap], [topic], tail=False, starting_offset=0, batch_size=BATCH)


def _drain(source, count, idle_s: float = 0.0) -> dict:
    """A bytewax dataflow that only reads `source` and counts readings (`count(item)` each): the source's own
    cost per message, nothing downstream. `idle_s` = the silence after which the source ends (not work)."""
    import bytewax.operators as op
    from bytewax.dataflow import Dataflow
    from bytewax.outputs import DynamicSink, StatelessSinkPartition

    seen = [0]

    class _Count(StatelessSinkPartition):
        def write_batch(self, items) -> None:
            seen[0] += sum(items)

    class _CountSink(DynamicSink):
        def build(self, step_id, worker_index, worker_count):
            return _Count()

    flow = Dataflow("drain")
    op.output("count", op.map("n", op.input("in", flow, source), count), _CountSink())
    start = time.perf_counter()
    run_main(flow)
    seconds = time.perf_counter() - start - idle_s
    return {"readings_per_s": seen[0] / seconds, "seconds": seconds, "readings": seen[0],
            "what": "source only: the topic drained by a bytewax dataflow that counts messages"}

"""`pipeline-memory`, `pipeline-arrow`, `pipeline-kafka`: the whole telemetry dataflow on one process.

Input: the simulator's readings of the example plant (20 machines, 1 Hz). The dataflow is the production one
(decode, shard, kernels, events to a file, Parquet files); only the source differs:
- memory: JSON messages handed over in batches of 10,000; baseline `decode_only` = msgspec decoding the same bytes
  into typed structs (signal names known), garbage collector paused, nothing else;
- arrow: the same readings as Arrow IPC record batches of 1,000 readings per message;
- kafka: the JSON messages from Tansu; baseline `bare_consumer` = a confluent-kafka consumer with assign() draining
  the same topic and touching every value, nothing else.
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
from andon.readings import BatchDecoder
from andon.readings_arrow import batch_to_arrow, encode_arrow
from andon.simulator import Simulation
from benchmarks.scenarios.common import peak_rss_mb

BATCH = 10_000


def _messages(quick: bool) -> tuple[list[bytes], object, tuple[int, int]]:
    site = load_site(example_site_path())
    sim = Simulation(site, machines=20, hours=1.0 if quick else 4.0, seed=7)
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
        cfg = TelemetryFlowConfig(sites=[site], out_dir=out, source="custom", custom_source=source, shards=4,
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


def pipeline_memory(quick: bool = False) -> dict:
    values, site, bounds = _messages(quick)
    _warm(site, bounds, values)
    seconds = _run_flow(site, bounds, TestingSource(_raw_batches(values, BATCH)))
    base = _decode_only(values, site)
    rate, base_rate = len(values) / seconds, len(values) / base
    return {"readings_per_s": round(rate), "seconds": round(seconds, 3), "readings": len(values),
            "peak_rss_mb": round(peak_rss_mb(), 1),
            "baselines": {"decode_only": {"readings_per_s": round(base_rate), "ratio": round(rate / base_rate, 3)}}}


def pipeline_arrow(quick: bool = False) -> dict:
    values, site, bounds = _messages(quick)
    decoder = BatchDecoder.for_site(site)
    batch = decoder.decode(values, bounds=bounds)
    payloads = []
    for m in np.unique(batch.machine):  # a gateway batches each machine's readings in time order
        rows = np.flatnonzero(batch.machine == m)
        for s in range(0, rows.size, 1000):
            from andon.operators.telemetry import take

            payloads.append(encode_arrow(batch_to_arrow(take(batch, rows[s:s + 1000]), decoder.registry)))
    _warm(site, bounds, values)
    seconds = _run_flow(site, bounds, TestingSource(_raw_batches(payloads, 10)))
    rate = len(batch) / seconds
    return {"readings_per_s": round(rate), "seconds": round(seconds, 3), "readings": len(batch),
            "messages": len(payloads), "peak_rss_mb": round(peak_rss_mb(), 1), "baselines": {}}


def pipeline_kafka(quick: bool = False) -> dict:
    from confluent_kafka import Consumer, Producer, TopicPartition

    from andon.connectors.broker import EmbeddedBroker
    from andon.connectors.kafka import KafkaBatchSource

    values, site, bounds = _messages(quick)
    _warm(site, bounds, values)
    topic = f"bench-{uuid.uuid4().hex[:6]}"
    with EmbeddedBroker([topic], partitions=1) as broker:
        producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 50, "batch.num.messages": 10000})
        for value in values:
            while True:
                try:
                    producer.produce(topic, value)
                    break
                except BufferError:
                    producer.poll(0.05)
        producer.flush(60)
        conf = {"bootstrap.servers": broker.bootstrap}

        consumer = Consumer({**conf, "group.id": "bare", "enable.auto.commit": False, "fetch.wait.max.ms": 50})
        consumer.assign([TopicPartition(topic, 0, 0)])
        start, seen, size = time.perf_counter(), 0, 0
        while seen < len(values):
            for msg in consumer.consume(BATCH, timeout=1.0):
                size += len(msg.value())
                seen += 1
        bare = time.perf_counter() - start
        consumer.close()

        source = KafkaBatchSource(conf, topic, batch_size=BATCH, eof_idle_s=1.0)
        seconds = _run_flow(site, bounds, source) - 1.0  # the source ends after 1 s of silence: not work
    rate, bare_rate = len(values) / seconds, len(values) / bare
    return {"readings_per_s": round(rate), "seconds": round(seconds, 3), "readings": len(values),
            "peak_rss_mb": round(peak_rss_mb(), 1),
            "baselines": {"bare_consumer": {"readings_per_s": round(bare_rate), "ratio": round(rate / bare_rate, 3)}}}

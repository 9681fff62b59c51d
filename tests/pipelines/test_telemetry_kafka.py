"""The live dataflow against Tansu: same answer as `andon replay`, and lossless across kill -9 with recovery."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import uuid

import numpy as np
import pytest
from confluent_kafka import Producer
from flowtools import (
    ROOT,
    andon,
    events_from_topic,
    events_of,
    file_names,
    parquet_of,
    produce_trace,
    run_args,
    site_config,
)

pytestmark = pytest.mark.broker


def test_live_dataflow_equals_replay(small_trace, broker, tmp_path):
    trace, truth = small_trace
    tag = f"live{uuid.uuid4().hex[:6]}"
    config, topics = site_config(tmp_path, broker, tag)
    produce_trace(broker, topics[0], trace)
    live, replayed = tmp_path / "live", tmp_path / "replay"
    env = {"ANDON_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap}
    andon(*run_args(config, live, truth), env=env)
    andon("replay", str(trace), "--config", str(config), "--out", str(replayed))
    events = events_from_topic(broker, topics[2])
    assert {e["event_id"]: e for e in events} == events_of(replayed / "events.jsonl")
    assert len(events) == len({e["event_id"] for e in events}), "an uninterrupted run emits each event once"
    assert file_names(live) == file_names(replayed)
    for dataset in ("telemetry_agg", "shift_oee"):
        assert parquet_of(live, dataset).equals(parquet_of(replayed, dataset)), dataset


@pytest.mark.fault
def test_kill_minus_nine_five_times_loses_nothing(trace, broker, tmp_path, fault_summary):
    """Injects: SIGKILL of the whole `andon run telemetry` process group 5 times at random points (2-5 s into each
    run), resuming from --recovery-dir each time. Checks: events and Parquet equal an uninterrupted run."""
    trace_path, truth = trace
    env = {**os.environ, "ANDON_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap}
    clean_cfg, clean_topics = site_config(tmp_path, broker, f"clean{uuid.uuid4().hex[:6]}")
    crash_cfg, crash_topics = site_config(tmp_path, broker, f"crash{uuid.uuid4().hex[:6]}")
    produce_trace(broker, clean_topics[0], trace_path)
    messages_in = produce_trace(broker, crash_topics[0], trace_path)
    clean, crashed, recovery = tmp_path / "clean", tmp_path / "crashed", tmp_path / "recovery"
    andon(*run_args(clean_cfg, clean, truth), env=env)

    rng = random.Random(20261126)
    kills = 0
    cmd = [sys.executable, "-m", "andon.cli", *run_args(crash_cfg, crashed, truth, "--recovery-dir", str(recovery))]
    while kills < 5:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        time.sleep(rng.uniform(2.0, 5.0))
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            kills += 1
    andon(*run_args(crash_cfg, crashed, truth, "--recovery-dir", str(recovery)), env=env)

    for dataset in ("telemetry_agg", "shift_oee"):
        assert parquet_of(crashed, dataset).equals(parquet_of(clean, dataset)), dataset
    assert file_names(crashed) == file_names(clean)
    clean_ids = {e["event_id"] for e in events_from_topic(broker, clean_topics[2])}
    crash_events = events_from_topic(broker, crash_topics[2])
    crash_ids = {e["event_id"] for e in crash_events}
    by_id: dict[str, dict] = {}
    conflicting = sum(1 for e in crash_events if by_id.setdefault(e["event_id"], e) != e)
    fault_summary(faults="SIGKILL x5", readings_in=f"{messages_in} messages", events_expected=len(clean_ids),
                  events_applied=len(crash_ids & clean_ids), duplicates=conflicting + len(crash_ids - clean_ids),
                  lost=len(clean_ids - crash_ids), redelivered=len(crash_events) - len(crash_ids))
    assert conflicting == 0, "a re-emitted event id carries different content"
    assert crash_ids == clean_ids
    assert not list(crashed.rglob("*.tmp"))


def test_arrow_ipc_batches_give_the_same_answer_as_json(small_trace, broker, site, tmp_path):
    from andon.operators.telemetry import take
    from andon.wire.arrow import batch_to_arrow, encode_arrow
    from andon.wire.decoder import BatchDecoder

    trace, truth = small_trace
    tag = f"arrow{uuid.uuid4().hex[:6]}"
    config, topics = site_config(tmp_path, broker, tag)
    decoder = BatchDecoder.for_site(site)
    batch = decoder.decode(trace.read_bytes().splitlines(), bounds=(truth["start_ms"] - 1, truth["end_ms"] + 1))
    producer = Producer({"bootstrap.servers": broker.bootstrap, "message.max.bytes": 10_000_000, "enable.idempotence": True})
    sent = 0
    for m in np.unique(batch.machine):
        rows = np.flatnonzero(batch.machine == m)  # this machine's readings in arrival order
        for start in range(0, rows.size, 1000):
            part = take(batch, rows[start:start + 1000])
            producer.produce(topics[0], encode_arrow(batch_to_arrow(part, decoder.registry)),
                             decoder.registry.keys[int(m)][1].encode())
            sent += 1
    assert producer.flush(30) == 0 and sent < len(batch) / 500
    live, replayed = tmp_path / "live", tmp_path / "replay"
    andon(*run_args(config, live, truth), env={"ANDON_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap})
    andon("replay", str(trace), "--config", str(config), "--out", str(replayed))
    assert {e["event_id"] for e in events_from_topic(broker, topics[2])} == set(events_of(replayed / "events.jsonl"))
    for dataset in ("telemetry_agg", "shift_oee"):
        assert parquet_of(live, dataset).equals(parquet_of(replayed, dataset)), dataset

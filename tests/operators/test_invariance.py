"""The union of outputs does not depend on batching, sharding, or snapshot/restore at batch boundaries."""

from __future__ import annotations

import pickle
import random

import numpy as np
from harness import T0, Collected, make_batch, make_plant
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from traces import trace

from andon.operators import ShardProcessor
from andon.readings import Registry

PLANT = make_plant()
REGISTRY = Registry([PLANT])


def run_single(plant, registry, rows) -> tuple:
    got = Collected()
    proc = ShardProcessor([plant], registry)
    got.add(proc.process(make_batch(registry, rows)), rows)
    got.add(proc.flush())
    return got.normal()


def run_split(plant, registry, rows, rng: random.Random, shards: int) -> tuple:
    got = Collected()
    shard_of = {m: rng.randrange(shards) for m in range(len(registry))}
    procs = [ShardProcessor([plant], registry) for _ in range(shards)]
    per_shard = [[r for r in rows if shard_of[r[0]] == s] for s in range(shards)]
    for s, srows in enumerate(per_shard):
        cuts = sorted(rng.sample(range(len(srows) + 1), k=min(len(srows) + 1, rng.randrange(1, 8))))
        bounds = [0, *cuts, len(srows)]
        for a, b in zip(bounds, bounds[1:], strict=False):
            chunk = srows[a:b]
            got.add(procs[s].process(make_batch(registry, chunk)), chunk)
            if rng.random() < 0.4:
                state = pickle.loads(pickle.dumps(procs[s].snapshot()))
                procs[s] = ShardProcessor([plant], registry, state=state)
        got.add(procs[s].flush())
    return got.normal()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), shards=st.integers(1, 3), split_seed=st.integers(0, 2**32 - 1),
       offset_s=st.integers(0, 1200))
def test_outputs_are_invariant(seed, shards, split_seed, offset_s):
    plant, registry = PLANT, REGISTRY
    rows = trace(seed, T0 + offset_s * 1000, machines=5, n=150)
    whole = run_single(plant, registry, rows)
    split = run_split(plant, registry, rows, random.Random(split_seed), shards)
    assert split[0] == whole[0], "events differ"
    assert split[1] == whole[1], "windows differ"
    assert split[2] == whole[2], "shift rows differ"
    assert split[3] == whole[3], "late readings differ"


def test_trace_exercises_everything(plant, registry):
    """Guard against a vacuous invariance test: the traces produce every kind of output."""
    rows = trace(3, T0, machines=5, n=400)
    events, windows, shifts, late = run_single(plant, registry, rows)
    types = {e[0] for e in events}
    assert {"machine.state_changed", "machine.downtime_started", "machine.downtime_ended",
            "production.count_reported", "production.scrap_recorded", "maintenance.requested"} <= types
    assert windows and shifts and late


def test_snapshot_is_versioned_numpy(plant, registry):
    rows = trace(5, T0, machines=5, n=50)
    proc = ShardProcessor([plant], registry)
    proc.process(make_batch(registry, rows))
    state = proc.snapshot()
    assert state.version >= 1 and len(state) == 5
    assert all(isinstance(a, np.ndarray) for a in state.arrays.values())
    assert pickle.loads(pickle.dumps(state)).arrays.keys() == state.arrays.keys()

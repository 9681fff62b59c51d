"""Sharding.split: both ways of cutting a batch by shard (few runs copied, or one stable gather) give the same
shards, rows and order."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from andon.operators.shard import sort_by_machine
from andon.operators.telemetry import Decoded, Sharding, key_runs
from andon.readings import ReadingBatch, Registry


def _batch(machines: list[int], n_signals: int) -> ReadingBatch:
    n = len(machines)
    rng = np.random.default_rng(n)
    values = rng.normal(size=(n, n_signals))
    values[rng.random((n, n_signals)) < 0.2] = np.nan
    return ReadingBatch(np.array(machines, np.int32), np.arange(n, dtype=np.int64) * 1000 + 7,
                        rng.integers(-1, 50, n), values, [f"s{j}" for j in range(n_signals)], [],
                        np.arange(n, dtype=np.int64) // 3)


@settings(max_examples=60, deadline=None)
@given(runs=st.lists(st.tuples(st.integers(0, 11), st.integers(1, 40)), min_size=1, max_size=30),
       shards=st.integers(1, 5))
def test_run_copies_equal_the_stable_gather(site, runs, shards):
    registry = Registry([site])
    machines = [m % len(registry) for m, length in runs for _ in range(length)]
    batch = _batch(machines, len(registry.signals))
    sharding = Sharding(registry, shards)
    shard = sharding.of_machine[batch.machine]
    runs = key_runs(shard)
    assert runs is not None  # at most 30 runs: the copying way
    by_runs = sharding._split_runs(batch, runs)
    by_gather = sharding._split_gather(batch, shard)
    assert [key for key, _ in by_runs] == [key for key, _ in by_gather]
    assert sum(len(part) for _, part in by_runs) == len(batch)
    for (_, a), (_, b) in zip(by_runs, by_gather, strict=True):
        for col in ("machine", "ts", "seq", "message_index"):
            np.testing.assert_array_equal(getattr(a, col), getattr(b, col))
        np.testing.assert_array_equal(a.values, b.values)  # NaN in the same places
        assert a.signals == b.signals and a.invalid == [] == b.invalid
        assert len(set(sharding.of_machine[a.machine].tolist())) == 1  # one shard per part


def test_split_takes_either_way_by_the_number_of_runs(site):
    registry = Registry([site])
    sharding = Sharding(registry, 3)
    few = _batch([m % len(registry) for m in range(4) for _ in range(50)], len(registry.signals))
    many = _batch([m % len(registry) for _ in range(50) for m in range(4)], len(registry.signals))
    for batch in (few, many):
        parts = sharding.split(Decoded(batch, [], len(batch)))
        shard = sharding.of_machine[batch.machine]
        expected = sharding._split_gather(batch, shard)
        assert [k for k, _ in parts] == [k for k, _ in expected]
        for (_, a), (_, b) in zip(parts, expected, strict=True):
            np.testing.assert_array_equal(a.ts, b.ts)
    assert sharding.split(Decoded(_batch([], len(registry.signals)), [], 0)) == []


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 9), st.integers(1, 30)), min_size=1, max_size=40))
def test_key_runs_give_the_rows_of_the_stable_sort(runs):
    keys = np.array([k for k, length in runs for _ in range(length)], dtype=np.int64)
    got = key_runs(keys)
    changes = int(np.count_nonzero(keys[1:] != keys[:-1]))
    assert key_runs(keys[:0]) == []
    if changes >= 64:
        assert got is None
        return
    rows = np.concatenate([np.arange(a, b) for _, spans in got for a, b in spans])
    np.testing.assert_array_equal(rows, sort_by_machine(keys))
    assert [k for k, _ in got] == sorted(set(keys.tolist()))

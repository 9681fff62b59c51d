"""Fixtures for dataflow tests: simulated traces and a replay of the 8-hour trace."""

from __future__ import annotations

import pytest
from flowtools import andon

from andon.simulator import Simulation


@pytest.fixture(scope="session")
def trace(tmp_path_factory, site):
    """A fault-free 20-machine, 8-hour trace with its ground truth."""
    path = tmp_path_factory.mktemp("trace") / "trace.jsonl"
    sim = Simulation(site, machines=20, hours=8.0, seed=7)
    truth = sim.write_jsonl(path)
    return path, truth


@pytest.fixture(scope="session")
def small_trace(tmp_path_factory, site):
    """A short trace with gateway faults, for parallelism and recovery tests."""
    path = tmp_path_factory.mktemp("small") / "small.jsonl"
    sim = Simulation(site, machines=8, hours=2.0, seed=3, faults=frozenset({"duplicates", "out_of_order", "late"}))
    truth = sim.write_jsonl(path)
    return path, truth


@pytest.fixture(scope="session")
def replayed(tmp_path_factory, trace):
    """`andon replay` of the 8-hour trace, once per session."""
    path, truth = trace
    out = tmp_path_factory.mktemp("replay")
    andon("replay", str(path), "--out", str(out))
    return out, truth

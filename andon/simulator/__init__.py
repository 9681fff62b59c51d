"""Deterministic plant simulator with ground truth.

Example::

    from andon.simulator import Simulation
    sim = Simulation(site, machines=20, hours=8.0, seed=7)
    sim.write_jsonl("trace.jsonl")        # also trace.truth.json

The names are imported on first use, so that `andon simulate --help` imports neither numpy nor the config.
"""

from __future__ import annotations

import importlib

_WHERE = {"FAULT_KINDS": "faults", "parse_faults": "faults", "DEFAULT_START": "simulation",
          "DEFAULT_START_MS": "simulation", "Simulation": "simulation"}

__all__ = ["DEFAULT_START", "DEFAULT_START_MS", "FAULT_KINDS", "Simulation", "parse_faults"]


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'andon.simulator' has no attribute {name!r}")
    return getattr(importlib.import_module(f"andon.simulator.{_WHERE[name]}"), name)

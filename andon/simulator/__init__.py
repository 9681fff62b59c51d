"""Deterministic plant simulator with ground truth.

Example::

    from andon.simulator import Simulation
    sim = Simulation(site, machines=20, hours=8.0, seed=7)
    sim.write_jsonl("trace.jsonl")        # also trace.truth.json
"""

from andon.simulator.faults import FAULT_KINDS, parse_faults
from andon.simulator.simulation import DEFAULT_START, DEFAULT_START_MS, Simulation

__all__ = ["DEFAULT_START", "DEFAULT_START_MS", "FAULT_KINDS", "Simulation", "parse_faults"]

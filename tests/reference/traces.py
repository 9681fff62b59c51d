"""Random-but-plausible reading traces for the operator tests: per-machine sequences, interleaved on arrival.

A trace is a list of (machine index, ts, {signal: value}) rows in arrival order. Sequences mix regular 1 s
readings with duplicates, out-of-order and late readings, offline gaps, state runs, counter resets, rollovers,
counter glitches (low, absurd or far too high values) and NaN (absent) signals.
"""

from __future__ import annotations

import math
import random

CODES = (1, 1, 1, 2, 3, 4, 5, 6)


def machine_sequence(rng: random.Random, machine: int, t0: int, n: int, *, coded: bool) -> list[tuple]:
    rows = []
    t = t0 + rng.randrange(0, 1000)
    state = 1
    parts = rng.choice((0, 10, 985)) if coded else rng.randrange(0, 50)
    rejects = 0
    alarm = 0
    q = 0.0
    for _ in range(n):
        step = rng.random()
        if step < 0.06:
            ts = t  # duplicate timestamp
        elif step < 0.12:
            ts = t - rng.choice((500, 1500, 8000, 20000))  # out of order, sometimes late
        elif step < 0.14:
            t += rng.choice((31_000, 45_000, 400_000))  # offline gap (or a long one over a shift end)
            ts = t
        else:
            t += rng.choice((1000, 1000, 1000, 700, 2500))
            ts = t
        if ts == t and rng.random() < 0.15:
            state = rng.choice(CODES)
        if rng.random() < 0.7 and state == 1:
            parts += rng.randrange(0, 3)
            if rng.random() < 0.2:
                rejects += 1
        if rng.random() < 0.01:
            parts, rejects = rng.randrange(0, 3), 0  # power cycle: counters reset
        if coded and parts > 1000:
            parts -= 1001  # rollover at counter_max = 1000
        if rng.random() < 0.05:
            alarm = rng.choice((0, 0, 7, 9, 4))
        q = rng.choice((q, q, 0.5, -0.5, 1.5, -2.0))
        sig: dict[str, float] = {"parts": float(parts), "rejects": float(rejects), "alarm": float(alarm)}
        if coded:
            sig["state"] = float(state)
            sig["q"] = q
            sig["rpm"] = 95.0 if state == 1 and rng.random() < 0.5 else 20.0
        else:
            sig["rpm"] = rng.choice((100.0, 100.0, 45.0, 5.0)) if state == 1 else rng.choice((5.0, 45.0, 100.0))
        if rng.random() < 0.05:
            sig[rng.choice(list(sig))] = math.nan
        if rng.random() < 0.03:  # a counter glitch: low, absurd, negative, fractional or far too high
            sig[rng.choice(("parts", "rejects"))] = rng.choice((0.0, 1.0, -1.0, -1e308, 2.5, 1e9, 5e5, 999.0))
        rows.append((machine, ts, sig))
    return rows


def interleave(rng: random.Random, sequences: list[list[tuple]]) -> list[tuple]:
    """Arrival order: each machine's order kept, machines interleaved at random."""
    cursors = [0] * len(sequences)
    out = []
    remaining = sum(len(s) for s in sequences)
    while remaining:
        k = rng.choice([i for i, s in enumerate(sequences) if cursors[i] < len(s)])
        out.append(sequences[k][cursors[k]])
        cursors[k] += 1
        remaining -= 1
    return out


def trace(seed: int, t0: int, machines: int = 5, n: int = 120) -> list[tuple]:
    rng = random.Random(seed)
    seqs = [machine_sequence(rng, m, t0, n, coded=m < 3) for m in range(machines)]
    return interleave(rng, seqs)

"""Slow, obviously correct twin of kernels/counters.py: which readings' counters are plausible.

Readings are (machine, ts, {signal: value}) in arrival order. Each machine's readings are walked in order with
its last accepted counter values; a drop or too-fast growth looks ahead for the reading that decides it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from andon.config import SiteConfig
from andon.operators import config as C
from andon.readings import Registry

RANGE, DROP, JUMP, UNCONFIRMED = "range", "drop", "jump", "unconfirmed"
REBASE_PART, REBASE_REJ = 1, 2


@dataclass
class Guarded:
    kept: list[int] = field(default_factory=list)  # row indices, grouped by machine, in processing order
    rebase: dict[int, int] = field(default_factory=dict)  # row index -> rebase bits
    refused: list[tuple[int, str, str]] = field(default_factory=list)  # (row index, signal, kind)


def _present(sig: dict, name: str) -> bool:
    v = sig.get(name, math.nan)
    return not math.isnan(v)


class _Rules:
    """One machine's counter rules."""

    def __init__(self, site: SiteConfig, registry: Registry, machine_id: str, roll_fraction: float) -> None:
        machine = site.machine(machine_id)
        self.cls = site.machine_classes[machine.machine_class]
        self.ideal_ms = machine.ideal_cycle_time_s * 1000
        self.counters = (self.cls.part_counter, self.cls.reject_counter)
        self.names = [n for n in self.counters if n in registry.signals]
        self.cmax = self.cls.counter_max
        self.roll_fraction = roll_fraction

    def limit(self, dt_ms) -> float:
        return math.floor(max(dt_ms, 0) * self.cls.counter_jump_factor / self.ideal_ms) + self.cls.counter_jump_slack

    def judge(self, v, base, t):
        """None when v goes on plausibly from base = (value, ts) (or either is missing), else DROP or JUMP."""
        if math.isnan(v) or base is None:
            return None
        r, t_r = base
        cmax, f = self.cmax, self.roll_fraction
        if v >= r:
            grown = v - r
        elif r >= cmax - f * cmax and v <= f * cmax:
            grown = cmax - r + v + 1
        else:
            return DROP
        return JUMP if grown > self.limit(t - t_r) else None

    def bad_range(self, sig):
        for name in self.names:
            v = sig.get(name, math.nan)
            if not math.isnan(v) and (v < 0 or v > self.cmax or v != math.floor(v)):
                return name
        return None


def reference_guard(site: SiteConfig, registry: Registry, rows, *, hold_max: int = C.COUNTER_HOLD_READINGS,
                    roll_fraction: float = C.COUNTER_ROLLOVER_FRACTION) -> Guarded:
    """Every reading accepted or refused as at end of input (nothing stays held)."""
    out = Guarded()
    by_machine: dict[int, list[int]] = {}
    for idx, (m, _, _) in enumerate(rows):
        by_machine.setdefault(m, []).append(idx)
    for m, idxs in by_machine.items():
        rules = _Rules(site, registry, registry.keys[m][1], roll_fraction)
        names, limit, judge, bad_range = rules.names, rules.limit, rules.judge, rules.bad_range
        ref: dict[str, tuple[float, int]] = {}  # counter -> (value, ts) of the last accepted reading
        max_ts = None
        for k, idx in enumerate(idxs):
            _, t, sig = rows[idx]
            name = bad_range(sig)
            if name is not None:
                out.refused.append((idx, name, RANGE))
                continue
            if max_ts is not None and t <= max_ts:
                out.kept.append(idx)  # not in order: counters unread
                continue
            suspect = {n: judge(sig.get(n, math.nan), ref.get(n), t) for n in names}
            suspect = {n: why for n, why in suspect.items() if why is not None}
            if not suspect:
                out.kept.append(idx)
                max_ts = t
                ref.update({n: (sig[n], t) for n in names if _present(sig, n)})
                continue
            # held: the first later reading (within hold_max) that is after it and has a suspect counter decides
            decision = UNCONFIRMED
            for j in range(k + 1, len(idxs)):
                if j - k > hold_max:
                    break
                _, t2, sig2 = rows[idxs[j]]
                if bad_range(sig2) is not None or t2 <= t:
                    continue
                evidence = [n for n in suspect if _present(sig2, n)]
                if not evidence:
                    continue
                old = all(judge(sig2[n], ref.get(n), t2) is None for n in evidence)
                new = all(judge(sig2[n], (sig[n], t), t2) is None for n in evidence)
                decision = "confirmed" if new and not old else "refuted"
                break
            first = next(n for n in names if n in suspect)
            if decision != "confirmed":
                out.refused.append((idx, first, UNCONFIRMED if decision == UNCONFIRMED else suspect[first]))
                continue
            bits = 0
            for n, bit in zip(rules.counters, (REBASE_PART, REBASE_REJ), strict=True):
                why = suspect.get(n)
                if why == JUMP or (why == DROP and sig[n] > limit(t - ref[n][1])):
                    bits |= bit
            out.kept.append(idx)
            out.rebase[idx] = bits
            max_ts = t
            ref.update({n: (sig[n], t) for n in names if _present(sig, n)})
    return out

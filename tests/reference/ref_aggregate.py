"""Slow, obviously correct twin of kernels/aggregate.py: windows, late routing, counters, per-window events.

Readings are (machine, ts, {signal: value}) in arrival order. Each machine keeps a plain dict of open windows;
nothing is clever. Output uses the normal forms of tests/reference/harness.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from andon.config import SiteConfig
from andon.readings import Registry
from andon.shifts import ShiftSchedule


def counter_increment(prev, v, cmax, rebase=False, roll_fraction=0.1):
    """(increment, new reference) of a value the counter guard let through (see ref_counters.py)."""
    if prev is None or rebase:
        return 0, v  # first value, or a confirmed jump: the counter restarts uncounted
    if v >= prev:
        return round(v) - round(prev), v
    if prev >= cmax - roll_fraction * cmax and v <= roll_fraction * cmax:
        return round(cmax - prev) + round(v) + 1, v  # wrapped past counter_max
    return round(v), v  # a confirmed reset: the new value counts from 0


@dataclass
class _Machine:
    max_ts: int | None = None
    windows: dict = field(default_factory=dict)  # start -> {"values": {j: [(ts, v)]}, "parts": n, "rejects": n}
    part_ref: float | None = None
    reject_ref: float | None = None
    count_shift: str | None = None
    cum_total: int = 0
    cum_rejects: int = 0
    hold: bool = False
    hold_at: int = 0
    cusum: float = 0.0
    cusum_n: int = 0
    release: float = 0.0


def reference_aggregate(site: SiteConfig, registry: Registry, rows, rebase: list[int] | None = None) -> dict:
    """`rows` as the counter guard passed them; `rebase` their rebase bits (1 parts, 2 rejects)."""
    rebase = rebase or [0] * len(rows)
    W = site.processing.window_s * 1000
    lateness = round(site.processing.allowed_lateness_s * 1000)
    schedule = ShiftSchedule.from_site(site)
    signals = registry.signals
    state: dict[int, _Machine] = {}
    out = {"late": [], "windows": [], "events": [], "increments": {}}

    def close(m: int, st: _Machine, start: int, detected: int) -> None:
        w = st.windows.pop(start)
        for j in range(len(signals)):
            vals = w["values"].get(j, [])
            if vals:
                values = [v for _, v in vals]
                last = max(range(len(vals)), key=lambda k: (vals[k][0], k))
                out["windows"].append((m, start, start + W, j, len(vals), min(values), max(values),
                                       sum(values) / len(values), vals[last][1]))
        shift = schedule.shift_at(start)
        shift_id = shift.shift_id if shift else ""
        if shift_id != st.count_shift:
            st.count_shift, st.cum_total, st.cum_rejects = shift_id, 0, 0
        parts, rejects = w["parts"], w["rejects"]
        st.cum_total += parts
        st.cum_rejects += rejects
        machine = registry.keys[m][1]
        cls = site.class_of(machine)
        if parts or rejects:
            out["events"].append(("production.count_reported", machine, start + W, detected,
                                  (shift_id, start, st.cum_total, st.cum_rejects, parts, rejects)))
        if rejects > 0:
            out["events"].append(("production.scrap_recorded", machine, start + W, detected,
                                  (shift_id, start, rejects, st.cum_rejects)))
        limit = cls.rules.reject_rate_limit
        if limit is not None and parts > 0:  # Bernoulli CUSUM: H1 rate = limit against H0 rate = nominal
            p0, h = cls.rules.nominal_reject_rate, cls.rules.reject_rate_cusum_h
            llr = rejects * math.log(limit / p0) + (parts - rejects) * math.log((1 - limit) / (1 - p0))
            if not st.hold:
                st.cusum = st.cusum + llr
                if st.cusum <= 0:
                    st.cusum, st.cusum_n = 0.0, 0
                else:
                    st.cusum_n += parts
                if st.cusum >= h and st.cusum_n >= cls.rules.reject_rate_min_count:
                    out["events"].append(("quality.hold_raised", machine, start + W, detected,
                                          ("reject_rate", None, start)))
                    st.hold, st.hold_at, st.release = True, start + W, 0.0
            else:
                st.release = max(0.0, st.release - llr)
                if st.release >= 2 * h:
                    out["events"].append(("quality.hold_released", machine, start + W, detected,
                                          (st.hold_at, start)))
                    st.hold, st.cusum, st.cusum_n = False, 0.0, 0

    for idx, (m, t, sig) in enumerate(rows):
        st = state.setdefault(m, _Machine())
        cls = site.class_of(registry.keys[m][1])
        start = (t // W) * W
        if st.max_ts is not None and start + W <= st.max_ts - lateness:
            out["late"].append(idx)
            continue
        in_order = st.max_ts is None or t > st.max_ts
        if in_order:
            st.max_ts = t
            for s in sorted(st.windows):
                if s + W <= t - lateness:
                    close(m, st, s, t)
        w = st.windows.setdefault(start, {"values": {}, "parts": 0, "rejects": 0})
        d_parts = d_rejects = 0
        if in_order:
            v = sig.get(cls.part_counter, math.nan)
            if not math.isnan(v):
                d_parts, st.part_ref = counter_increment(st.part_ref, v, cls.counter_max, bool(rebase[idx] & 1))
            v = sig.get(cls.reject_counter, math.nan)
            if not math.isnan(v):
                d_rejects, st.reject_ref = counter_increment(st.reject_ref, v, cls.counter_max,
                                                             bool(rebase[idx] & 2))
        w["parts"] += d_parts
        w["rejects"] += d_rejects
        out["increments"][idx] = (d_parts, d_rejects)
        for name, v in sig.items():
            if not math.isnan(v):
                w["values"].setdefault(signals.index(name), []).append((t, v))
    for m, st in state.items():
        for s in sorted(st.windows):
            close(m, st, s, st.max_ts)
    return out

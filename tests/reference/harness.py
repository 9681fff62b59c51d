"""Test plant with short shifts, batch builder and output normalisers shared by the operator tests."""

from __future__ import annotations

import math
from datetime import time, timedelta

import numpy as np

from andon.config import SiteConfig, parse_site
from andon.events import parse_iso_ms
from andon.readings import ReadingBatch, Registry

#: 2026-03-02 09:00 local (Europe/Berlin, UTC+1): a Monday, inside the 09:00 shift.
T0 = 1_772_438_400_000


def _ten_minute_shifts() -> list[dict]:
    out = []
    for k in range(144):
        start = timedelta(minutes=10 * k)
        end = timedelta(minutes=10 * k + 10) % timedelta(days=1)
        brk = start + timedelta(minutes=7)

        def t(d: timedelta) -> str:
            return time(d.seconds // 3600, (d.seconds // 60) % 60).isoformat()

        out.append({"name": f"s{k:03d}", "start": t(start), "end": t(end),
                    "breaks": [{"start": t(brk), "end": t(brk + timedelta(minutes=1))}]})
    return out


def plant_dict(**processing) -> dict:
    proc = {"window_s": 10, "allowed_lateness_s": 5, "min_dwell_s": 2, "microstop_threshold_s": 20,
            "offline_after_s": 30, "microstop_policy": "performance"}
    proc.update(processing)
    return {
        "site": {"id": "test", "timezone": "Europe/Berlin"},
        "processing": proc,
        "calendar": {"shifts": _ten_minute_shifts()},
        "machine_classes": {
            "coded": {
                "signals": ["state", "rpm", "parts", "rejects", "alarm", "q"],
                "part_counter": "parts", "reject_counter": "rejects", "counter_max": 1000,
                "states": {"source": "code", "codes": {"1": "running", "2": "stopped", "3": "breakdown",
                                                       "4": "setup", "5": "material", "6": "planned_stop"}},
                "rules": {"reject_rate_limit": 0.25, "reject_rate_min_count": 4, "maintenance_alarm_codes": [7, 9],
                          "maintenance_every_cycles": 25,
                          "spc": [{"signal": "q", "rule": "beyond_limits", "lower": -1.0, "upper": 1.0},
                                  {"signal": "q", "rule": "run_of_n", "lower": -1.0, "upper": 1.0, "n": 3}],
                          "maintenance_signal_limits": [{"signal": "rpm", "above": 90.0, "for_s": 3}]},
            },
            "inferred": {
                "signals": ["rpm", "parts", "rejects", "alarm"],
                "part_counter": "parts", "reject_counter": "rejects",
                "states": {"source": "inferred", "run_signal": "rpm", "run_above": 50.0, "hysteresis": 10.0},
                "rules": {"reject_rate_limit": None},
            },
        },
        "machines": [
            {"id": f"c{k}", "class": "coded", "work_center": f"WC-C{k}", "equipment": f"EQ-C{k}",
             "ideal_cycle_time_s": 1.0} for k in range(3)
        ] + [{"id": f"i{k}", "class": "inferred", "work_center": f"WC-I{k}", "ideal_cycle_time_s": 2.0}
             for k in range(2)],
    }


def make_plant(**processing) -> SiteConfig:
    return parse_site(plant_dict(**processing), "<test plant>")


def make_batch(registry: Registry, rows) -> ReadingBatch:
    """rows: (machine index, ts, {signal: value}) in arrival order."""
    names = registry.signals
    values = np.full((len(rows), len(names)), np.nan)
    for r, (_, _, signals) in enumerate(rows):
        for name, v in signals.items():
            values[r, names.index(name)] = v
    return ReadingBatch(np.array([r[0] for r in rows], np.int32).reshape(-1),
                        np.array([r[1] for r in rows], np.int64).reshape(-1),
                        np.full(len(rows), -1, np.int64), values, names)


def event_key(ev) -> tuple:
    return (ev.type, ev.machine, parse_iso_ms(ev.occurred_at), parse_iso_ms(ev.detected_at), ev.event_id,
            repr(sorted(ev.data.items())))


def window_rows(windows: dict) -> list[tuple]:
    cols = ("machine", "window_start_ms", "window_end_ms", "signal", "count", "min", "max", "mean", "last")
    return sorted(zip(*(windows[c].tolist() for c in cols), strict=True))


def shift_key(row: dict) -> tuple:
    return tuple((k, round(v, 9) if isinstance(v, float) and math.isfinite(v) else v)
                 for k, v in sorted(row.items()) if k != "downtime_by_reason") + (
        tuple(sorted(row["downtime_by_reason"].items())),)


class Collected:
    """Everything a run produced, in a comparable form."""

    def __init__(self) -> None:
        self.events: list[tuple] = []
        self.windows: list[tuple] = []
        self.shifts: list[tuple] = []
        self.late: list[tuple] = []

    def add(self, out, batch_rows=None) -> None:
        self.events += [event_key(e) for e in out.events]
        self.windows += window_rows(out.windows)
        self.shifts += [shift_key(r) for r in out.shifts]
        if out.input is not None:  # readings held by an earlier call came first: `late` indexes these
            b = out.input
            self.late += [(int(b.machine[i]), int(b.ts[i]),
                           repr(sorted((n, float(v)) for n, v in zip(b.signals, b.values[i], strict=True) if v == v)))
                          for i in out.late.tolist()]
        elif batch_rows is not None:
            self.late += [(batch_rows[i][0], batch_rows[i][1],
                           repr(sorted((n, float(v)) for n, v in batch_rows[i][2].items() if v == v)))
                          for i in out.late.tolist()]

    def normal(self) -> tuple:
        return sorted(self.events), sorted(self.windows), sorted(self.shifts), sorted(self.late)

"""Slow, obviously correct twin of kernels/rules.py: alarms, cycle counts, SPC and signal limits, per episode."""

from __future__ import annotations

import math


def reference_rules(site, registry, rows, increments: dict) -> list[tuple]:
    events = []
    last: dict[int, int] = {}
    alarm_open: dict[int, int | None] = {}
    cycles: dict[int, int] = {}
    spc: dict[tuple, dict] = {}
    above_since: dict[tuple, int | None] = {}
    fired: dict[tuple, bool] = {}
    for idx, (m, t, sig) in enumerate(rows):
        if m in last and t <= last[m]:
            continue
        last[m] = t
        machine = registry.keys[m][1]
        cls = site.class_of(machine)
        rules = cls.rules
        alarm = sig.get(cls.states.alarm_signal, math.nan)
        if rules.maintenance_alarm_codes and not math.isnan(alarm):
            if alarm != 0 and alarm in rules.maintenance_alarm_codes:
                if alarm_open.get(m) != int(alarm):
                    events.append(("maintenance.requested", machine, t, t, ("alarm", int(alarm))))
                alarm_open[m] = int(alarm)
            else:
                alarm_open[m] = None
        parts = increments.get(idx, (0, 0))[0]
        if parts > 0:
            before = cycles.get(m, 0)
            cycles[m] = after = before + parts
            every = rules.maintenance_every_cycles
            if every and after // every > before // every:
                events.append(("maintenance.requested", machine, t, t, ("cycle_count", (after // every) * every)))
        for q, rule in enumerate(rules.spc):
            v = sig.get(rule.signal, math.nan)
            if math.isnan(v):
                continue
            s = spc.setdefault((m, q), {"open": False, "side": 0, "run": 0, "since": t})
            center = (rule.lower + rule.upper) / 2 if rule.center is None else rule.center
            if rule.rule == "beyond_limits":
                if v < rule.lower or v > rule.upper:
                    if not s["open"]:
                        events.append(("quality.hold_raised", machine, t, t, ("spc_beyond_limits", rule.signal)))
                    s["open"] = True
                else:
                    s["open"] = False
            else:
                side = (v > center) - (v < center)
                if side != 0 and side == s["side"]:
                    s["run"] += 1
                else:
                    s.update(run=1 if side else 0, since=t, open=False)
                s["side"] = side
                if s["run"] >= rule.n and not s["open"]:
                    events.append(("quality.hold_raised", machine, s["since"], t, ("spc_run_of_n", rule.signal)))
                    s["open"] = True
        for q, lim in enumerate(rules.maintenance_signal_limits):
            v = sig.get(lim.signal, math.nan)
            if math.isnan(v):
                continue
            key = (m, q)
            if v > lim.above:
                if above_since.get(key) is None:
                    above_since[key] = t
                if not fired.get(key) and t - above_since[key] >= round(lim.for_s * 1000):
                    events.append(("maintenance.requested", machine, above_since[key], t, ("signal_limit", lim.signal)))
                    fired[key] = True
            else:
                above_since[key], fired[key] = None, False
    return events

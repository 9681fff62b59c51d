"""Per-machine kernel parameters built from the site config: one row per local machine of a shard.

Parameters are derived data (never snapshotted): a restored shard rebuilds them from its config, so a config
change of thresholds takes effect on restart while the state keeps its meaning.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from andon.config import Machine, MachineClass, SiteConfig
from andon.errors import ConfigError
from andon.operators.kernels import layout as L
from andon.readings import Registry
from andon.states import parse_state


@dataclass(frozen=True, slots=True)
class MachineInfo:
    """What the Python side needs to turn kernel records into events and rows for one local machine."""

    registry_index: int
    site_index: int
    site: str
    machine: str
    work_center: str
    equipment: str | None
    ideal_cycle_time_s: float
    microstop_policy: str
    reject_rate_limit: float | None
    spc: tuple[tuple[str, str, float, float, float, int], ...]  # signal, rule, lower, upper, center, n
    limits: tuple[tuple[str, float, float], ...]  # signal, above, for_s
    reject_rate_nominal: float = 0.0


def _ms(seconds: float) -> int:
    return int(round(seconds * 1000.0))


def site_timing(site: SiteConfig) -> tuple[int, int]:
    """(window_ms, lateness_ms) of a site."""
    return int(site.processing.window_s) * 1000, _ms(site.processing.allowed_lateness_s)


def rule_slots(sites: Sequence[SiteConfig]) -> tuple[int, int]:
    """Largest number of SPC rules and signal limits of any machine class (at least 1 each)."""
    n_spc = n_lim = 1
    for site in sites:
        for cls in site.machine_classes.values():
            n_spc = max(n_spc, len(cls.rules.spc))
            n_lim = max(n_lim, len(cls.rules.maintenance_signal_limits))
    return n_spc, n_lim


def machine_info(registry: Registry, index: int, site_index: dict[str, int]) -> tuple[MachineInfo, Machine,
                                                                                       MachineClass, SiteConfig]:
    site_id, machine_id = registry.keys[index]
    site = registry.sites[site_id]
    machine = site.machine(machine_id)
    cls = site.machine_classes[machine.machine_class]
    spc = tuple((r.signal, r.rule, r.lower, r.upper, (r.lower + r.upper) / 2 if r.center is None else r.center, r.n)
                for r in cls.rules.spc)
    limits = tuple((r.signal, r.above, r.for_s) for r in cls.rules.maintenance_signal_limits)
    info = MachineInfo(index, site_index[site_id], site_id, machine_id, machine.work_center, machine.equipment,
                       machine.ideal_cycle_time_s, site.processing.microstop_policy, cls.rules.reject_rate_limit,
                       spc, limits, cls.rules.nominal_reject_rate)
    return info, machine, cls, site


def build_params(registry: Registry, machines: Sequence[int], site_index: dict[str, int], n_spc: int,
                 n_lim: int) -> tuple[dict[str, np.ndarray], list[MachineInfo]]:
    """Kernel parameter arrays for `machines` (registry indices, in local order) and their MachineInfo.

    Parameters depend only on (site, machine class): the arrays hold one row per such profile and `prof` maps
    each local machine to its row, so the kernels read a few hot rows however many machines a shard has.
    """
    infos = []
    profiles: dict[tuple[str, str], int] = {}
    prof = np.zeros(max(1, len(machines)), np.int64)
    first: list[tuple[MachineInfo, Machine, MachineClass, SiteConfig]] = []
    for row, index in enumerate(machines):
        info, machine, cls, site = machine_info(registry, index, site_index)
        infos.append(info)
        key = (info.site, machine.machine_class)
        p = profiles.get(key)
        if p is None:
            p = profiles[key] = len(first)
            first.append((info, machine, cls, site))
        prof[row] = p
    count = max(1, len(first))
    sig = registry.signal_index
    p_i = np.zeros((count, L.N_PI), np.int64)
    p_f = np.zeros((count, L.N_PF), np.float64)
    spc_i = np.zeros((count, n_spc, 3), np.int64)
    spc_f = np.zeros((count, n_spc, 3), np.float64)
    lim_i = np.zeros((count, n_lim, 2), np.int64)
    lim_f = np.zeros((count, n_lim, 1), np.float64)
    code_keys: list[float] = []
    code_vals: list[int] = []
    alarm_codes: list[float] = []
    for row, (info, machine, cls, site) in enumerate(first):
        proc = site.processing
        window_ms, lateness_ms = site_timing(site)
        states, rules = cls.states, cls.rules
        p_i[row, L.PI_SITE] = info.site_index
        p_i[row, L.PI_WINDOW_MS] = window_ms
        p_i[row, L.PI_LATENESS_MS] = lateness_ms
        p_i[row, L.PI_DWELL_MS] = _ms(proc.min_dwell_s)
        p_i[row, L.PI_MICRO_MS] = _ms(proc.microstop_threshold_s)
        p_i[row, L.PI_OFFLINE_MS] = _ms(proc.offline_after_s)
        p_i[row, L.PI_STATE_MODE] = L.MODE_CODE if states.source == "code" else L.MODE_INFERRED
        p_i[row, L.PI_CODE_SIG] = sig.get(states.code_signal, -1)
        p_i[row, L.PI_CODE_LO] = len(code_keys)
        for code, state in sorted(states.code_table().items()):
            code_keys.append(float(code))
            code_vals.append(int(state))
        p_i[row, L.PI_CODE_HI] = len(code_keys)
        p_i[row, L.PI_UNMAPPED] = int(parse_state(states.unmapped))
        p_i[row, L.PI_RUN_SIG] = sig.get(states.run_signal, -1)
        p_i[row, L.PI_ALARM_SIG] = sig.get(states.alarm_signal, -1)
        p_i[row, L.PI_PART_SIG] = sig.get(cls.part_counter, -1)
        p_i[row, L.PI_REJ_SIG] = sig.get(cls.reject_counter, -1)
        p_i[row, L.PI_REJ_MIN] = rules.reject_rate_min_count
        p_i[row, L.PI_WO_SIG] = sig.get(cls.workorder_signal, -1) if cls.workorder_signal else -1
        p_i[row, L.PI_RR_SIG] = sig.get(cls.reject_reason_signal, -1) if cls.reject_reason_signal else -1
        p_i[row, L.PI_MAINT_EVERY] = rules.maintenance_every_cycles or 0
        p_i[row, L.PI_ALARM_LO] = len(alarm_codes)
        alarm_codes.extend(float(c) for c in rules.maintenance_alarm_codes)
        p_i[row, L.PI_ALARM_HI] = len(alarm_codes)
        p_f[row, L.PF_RUN_ABOVE] = states.run_above
        p_f[row, L.PF_HYST] = states.hysteresis
        p_f[row, L.PF_COUNTER_MAX] = float(cls.counter_max)
        p_f[row, L.PF_REJ_LIMIT] = math.nan if rules.reject_rate_limit is None else rules.reject_rate_limit
        p_f[row, L.PF_JUMP_FACTOR] = cls.counter_jump_factor
        p_f[row, L.PF_JUMP_SLACK] = float(cls.counter_jump_slack)
        p_f[row, L.PF_REJ_NOMINAL] = rules.nominal_reject_rate
        p_f[row, L.PF_REJ_H] = rules.reject_rate_cusum_h
        n = 0
        for name, rule, lower, upper, center, run_n in info.spc:
            if name in sig:
                spc_i[row, n] = (sig[name], L.SPC_BEYOND if rule == "beyond_limits" else L.SPC_RUN_OF_N, run_n)
                spc_f[row, n] = (lower, upper, center)
                n += 1
            else:
                raise ConfigError(f"machine class {machine.machine_class!r}: SPC rule on signal {name!r}, which no "
                                  "machine class lists under signals", hint=f"add {name!r} to the class's signals")
        p_i[row, L.PI_N_SPC] = n
        n = 0
        for name, above, for_s in info.limits:
            if name not in sig:
                raise ConfigError(f"machine class {machine.machine_class!r}: maintenance limit on signal {name!r}, "
                                  "which no machine class lists under signals",
                                  hint=f"add {name!r} to the class's signals")
            lim_i[row, n] = (sig[name], _ms(for_s))
            lim_f[row, n, 0] = above
            n += 1
        p_i[row, L.PI_N_LIM] = n
    ideal_ms = np.array([info.ideal_cycle_time_s * 1000.0 for info in infos] or [1000.0], np.float64)
    params = {
        "prof": prof, "ideal_ms": ideal_ms, "p_i": p_i, "p_f": p_f, "spc_i": spc_i, "spc_f": spc_f, "lim_i": lim_i, "lim_f": lim_f,
        "code_keys": np.array(code_keys or [math.nan], np.float64),
        "code_vals": np.array(code_vals or [0], np.int64),
        "alarm_codes": np.array(alarm_codes or [math.nan], np.float64),
    }
    return params, infos


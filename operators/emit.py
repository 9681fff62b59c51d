"""Kernel records → business events (andon.events), telemetry_agg columns and shift_oee rows.

Event ids come from make_event (trusted_event here: the payload types are fixed by the code): (type, site, machine, occurred_at, discriminator), so a replay reproduces them.
detected_at is always the event time of the reading that made the detection (at flush: the machine's last
reading), never the wall clock.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from andon.events import (
    CountReported,
    DowntimeEnded,
    DowntimeStarted,
    Event,
    MaintenanceRequested,
    OperationFinished,
    OperationProgress,
    OperationStarted,
    QualityHoldRaised,
    QualityHoldReleased,
    ScrapRecorded,
    StateChanged,
    iso_ms,
    trusted_event,
)
from andon.operators.calendar import Calendars
from andon.operators.kernels import layout as L
from andon.operators.oee import STATE_NAME, shift_row
from andon.operators.params import MachineInfo
from andon.states import DOWNTIME_REASON, MachineState

WINDOW_COLUMNS = ("machine", "window_start_ms", "window_end_ms", "signal", "count", "min", "max", "mean", "last",
                  "final", "covers_until_ms")


def empty_windows() -> dict[str, np.ndarray]:
    return {"machine": np.zeros(0, np.int32), "window_start_ms": np.zeros(0, np.int64),
            "window_end_ms": np.zeros(0, np.int64), "signal": np.zeros(0, np.int16), "count": np.zeros(0, np.int64),
            "min": np.zeros(0), "max": np.zeros(0), "mean": np.zeros(0), "last": np.zeros(0),
            "final": np.zeros(0, bool), "covers_until_ms": np.zeros(0, np.int64)}


def window_columns(closed, registry_of_local: np.ndarray) -> dict[str, np.ndarray]:
    """Long-format telemetry_agg columns: one row per closed (machine, window, signal) with count > 0."""
    rows, counts, stats = closed
    r, j = np.nonzero(counts > 0)
    if r.size == 0:
        return empty_windows()
    cnt = counts[r, j]
    return {
        "machine": registry_of_local[rows[r, L.WO_M]].astype(np.int32),
        "window_start_ms": rows[r, L.WO_START].copy(),
        "window_end_ms": rows[r, L.WO_END].copy(),
        "signal": j.astype(np.int16),
        "count": cnt,
        "min": stats[r, j, 0],
        "max": stats[r, j, 1],
        "mean": stats[r, j, 2] / cnt,
        "last": stats[r, j, 3],
    }


def concat_windows(parts: Sequence[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    parts = [p for p in parts if p["count"].size]
    if not parts:
        return empty_windows()
    if len(parts) == 1:
        return parts[0]
    return {k: np.concatenate([p[k] for p in parts]) for k in WINDOW_COLUMNS if all(k in p for p in parts)}


def _event(type_: str, info: MachineInfo, occ: int, det: int, data, discriminator: str,
           work_order: str | None = None) -> Event:
    return trusted_event(type_, info.site, info.machine, occ, det, data, discriminator, info.work_center, work_order)


def _no_label(code: int) -> str | None:
    return None


def _shift_id(calendars: Calendars, info: MachineInfo, key: int) -> str:
    return "" if key == L.NONE else calendars.shift(info.site_index, key).shift_id


def window_events(closed, infos: Sequence[MachineInfo], calendars: Calendars) -> list[Event]:
    """count_reported and scrap_recorded per closed window with counts; quality.hold_raised on reject rate."""
    rows = closed[0]
    out: list[Event] = []
    append = out.append
    keep = (rows[:, L.WO_PARTS] != 0) | (rows[:, L.WO_REJ] != 0) | (rows[:, L.WO_HOLD] != 0)
    shift_ids: dict[tuple[int, int], str] = {}
    for row in rows[keep].tolist():  # plain ints: indexing numpy rows per field costs more than the events
        info = infos[row[L.WO_M]]
        start, end, det = row[L.WO_START], row[L.WO_END], row[L.WO_DETECTED]
        key = (info.site_index, row[L.WO_SHIFT])
        shift_id = shift_ids.get(key)
        if shift_id is None:
            shift_id = shift_ids[key] = _shift_id(calendars, info, key[1])
        parts, rej = row[L.WO_PARTS], row[L.WO_REJ]
        cum_total, cum_rej = row[L.WO_CUM_TOTAL], row[L.WO_CUM_REJ]
        disc = f"{shift_id}|{start}"
        w_start, w_end = iso_ms(start), iso_ms(end)
        if parts or rej:
            append(_event("production.count_reported", info, end, det, CountReported(
                shift_id=shift_id, window_start=w_start, window_end=w_end, total_count=cum_total,
                good_count=cum_total - cum_rej, reject_count=cum_rej, window_total=parts, window_rejects=rej),
                disc))
        if rej > 0:
            append(_event("production.scrap_recorded", info, end, det, ScrapRecorded(
                shift_id=shift_id, window_start=w_start, window_end=w_end, quantity=rej,
                shift_reject_count=cum_rej), disc))
        if row[L.WO_HOLD] == 1:
            rate = rej / parts if parts else 0.0
            limit = info.reject_rate_limit or 0.0
            append(_event("quality.hold_raised", info, end, det, QualityHoldRaised(
                rule="reject_rate", signal=None, value=rate, limit=limit, window_start=w_start,
                window_end=w_end, description=f"reject rate shifted from nominal {info.reject_rate_nominal:.1%} "
                f"towards {limit:.1%} (CUSUM over the parts counted; this window {rej}/{parts})"),
                f"reject_rate|{start}"))
        elif row[L.WO_HOLD] == 2:
            rate = rej / parts if parts else 0.0
            limit = info.reject_rate_limit or 0.0
            append(_event("quality.hold_released", info, end, det, QualityHoldReleased(
                rule="reject_rate", raised_at=iso_ms(row[L.WO_HOLD_AT]), value=rate, limit=limit,
                window_start=w_start, window_end=w_end, description=f"reject rate back at nominal "
                f"{info.reject_rate_nominal:.1%} (CUSUM)"), f"reject_rate_released|{start}"))
    return out


def _reasons(rows: list, j: int, label) -> dict[str, int] | None:
    """The K_OP_REASON records from rows[j] on (those following an operation record): rejects per reason name;
    None when there are none (a class without reject_reason_signal, or no reason shown yet)."""
    out: dict[str, int] = {}
    while j < len(rows) and rows[j][0] == L.K_OP_REASON:
        name = label(rows[j][6])
        if name is not None:  # a code whose name was lost stays unattributed
            out[name] = out.get(name, 0) + rows[j][4]
        j += 1
    return out or None


def state_events(ev: np.ndarray, infos: Sequence[MachineInfo], label=_no_label) -> list[Event]:
    """Events from state-kernel records (layout.K_* kinds); `label(code)` names an operation's work order (the
    envelope's `work_order`, from the class's workorder_signal) and its reject reasons (reject_reason_signal)."""
    out: list[Event] = []
    rows = ev.tolist()
    for j, (kind, m, occ, det, a, b, c, d, wo) in enumerate(rows):
        info = infos[m]
        if kind == L.K_STATE:
            out.append(_event("machine.state_changed", info, occ, det, StateChanged(
                from_state=STATE_NAME[a], to_state=STATE_NAME[b]), f"{STATE_NAME[a]}>{STATE_NAME[b]}"))
        elif kind == L.K_DT_START:
            out.append(_event("machine.downtime_started", info, occ, det, DowntimeStarted(
                reason=DOWNTIME_REASON[MachineState(a)], state=STATE_NAME[a]), STATE_NAME[a]))
        elif kind == L.K_DT_END:
            out.append(_event("machine.downtime_ended", info, occ, det, DowntimeEnded(
                reason=DOWNTIME_REASON[MachineState(a)], state=STATE_NAME[a], started_at=iso_ms(b),
                ended_at=iso_ms(occ), duration_s=(occ - b) / 1000.0), f"{STATE_NAME[a]}|{b}"))
        elif kind == L.K_OP_START:
            out.append(_event("operation.started", info, occ, det, OperationStarted(), "changeover"))
        elif kind == L.K_OP_FINISH:
            out.append(_event("operation.finished", info, occ, det, OperationFinished(
                quantity=a, rejects=b, since=iso_ms(c), first_part_at=None if d == L.NONE else iso_ms(d),
                rejects_by_reason=_reasons(rows, j + 1, label)), "changeover", label(wo)))
        elif kind == L.K_OP_PROGRESS:
            out.append(_event("operation.progress", info, occ, det, OperationProgress(
                quantity=a, rejects=b, since=iso_ms(c), first_part_at=None if d == L.NONE else iso_ms(d),
                rejects_by_reason=_reasons(rows, j + 1, label)), "progress", label(wo)))
    return out


def rule_events(ev: np.ndarray, evx: np.ndarray, infos: Sequence[MachineInfo], window_ms_of_site) -> list[Event]:
    """Events from rule-kernel records: SPC holds and maintenance requests."""
    out: list[Event] = []
    for (kind, m, occ, det, a, b, *_), x in zip(ev.tolist(), evx.tolist(), strict=True):
        info = infos[m]
        if kind == L.K_SPC:
            signal, rule, lower, upper, center, n = info.spc[a]
            w = window_ms_of_site(info.site_index)
            start = (occ // w) * w
            if b == 2:
                limit, what = center, f"{n} consecutive readings of {signal} on one side of centre {center:g}"
            else:
                limit = lower if b == 0 else upper
                what = f"{signal} = {x:g} {'below' if b == 0 else 'above'} limit {limit:g}"
            name = "spc_run_of_n" if rule == "run_of_n" else "spc_beyond_limits"
            out.append(_event("quality.hold_raised", info, occ, det, QualityHoldRaised(
                rule=name, signal=signal, value=x, limit=limit, window_start=iso_ms(start),
                window_end=iso_ms(start + w), description=what), f"{name}|{a}|{signal}"))
        elif kind == L.K_ALARM:
            out.append(_event("maintenance.requested", info, occ, det, MaintenanceRequested(
                trigger="alarm", detail=f"alarm code {a}", alarm_code=a, equipment=info.equipment), f"alarm|{a}"))
        elif kind == L.K_CYCLES:
            out.append(_event("maintenance.requested", info, occ, det, MaintenanceRequested(
                trigger="cycle_count", detail=f"{a} cycles reached ({b} counted)", maintenance_type="preventive",
                priority="1", equipment=info.equipment), f"cycles|{a}"))
        elif kind == L.K_LIMIT:
            signal, above, for_s = info.limits[a]
            out.append(_event("maintenance.requested", info, occ, det, MaintenanceRequested(
                trigger="signal_limit", detail=f"{signal} = {x:g} above {above:g} for {for_s:g} s",
                equipment=info.equipment), f"limit|{signal}"))
    return out


def shift_rows(so: np.ndarray, infos: Sequence[MachineInfo], calendars: Calendars) -> list[dict]:
    out = []
    for row in so:
        info = infos[row[L.SO_M]]
        slot = row[L.SO_SLOT:]
        shift = calendars.shift(info.site_index, int(slot[L.SH_START]))
        out.append(shift_row(slot, shift, site=info.site, machine=info.machine, work_center=info.work_center,
                             ideal_cycle_time_s=info.ideal_cycle_time_s, microstop_policy=info.microstop_policy))
    return out

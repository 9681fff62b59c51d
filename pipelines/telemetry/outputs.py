"""Turn a shard's operator output into what the sinks take: event messages, dead letters and Parquet rows."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pyarrow as pa

from andon.connectors.parquet import OPERATIONS, SHIFT_OEE, AggColumns, Rows
from andon.events import Event, encode_event, parse_iso_ms
from andon.messages import OutMessage
from andon.readings import Registry

HOUR_MS = 3_600_000


def event_message(event: Event, topic: str) -> OutMessage:
    headers = [("andon.event_type", event.type.encode()), ("andon.event_id", event.event_id.encode())]
    if event.correlation_id:
        headers.append(("andon.correlation_id", event.correlation_id.encode()))
    return OutMessage(topic, event.machine.encode(), encode_event(event), headers)


def event_messages(events: list[Event], topic: str) -> list[OutMessage]:
    """The messages of a block of events (one shard batch's), in order."""
    return [event_message(event, topic) for event in events]


class _Names:
    """Per-registry lookup arrays for window rows: site of each machine, and machine and signal names as Arrow
    arrays to `take` from (no Python string per row)."""

    _cache: dict[int, _Names] = {}

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.site_ids = sorted({site for site, _ in registry.keys})
        self.site_of = np.array([self.site_ids.index(site) for site, _ in registry.keys], dtype=np.int32)
        self.machines = pa.array([machine for _, machine in registry.keys], pa.string())
        self.signals = pa.array(registry.signals, pa.string())

    @classmethod
    def of(cls, registry: Registry) -> _Names:
        names = cls._cache.get(id(registry))
        if names is None or names.registry is not registry:
            names = cls._cache[id(registry)] = cls(registry)
        return names


def window_rows(windows: dict[str, np.ndarray], registry: Registry) -> list[Rows]:
    """Long-format window aggregates split by site, UTC date and hour (one Parquet file each per shard), as
    numpy columns the Parquet sink turns into one Arrow table per file when it writes it."""
    if not windows or windows["machine"].shape[0] == 0:
        return []
    names = _Names.of(registry)
    machine = windows["machine"]
    start = windows["window_start_ms"].astype(np.int64, copy=False)
    hour = start // HOUR_MS
    site = names.site_of[machine]
    # one group per (site, hour): usually one or two per batch
    group = site.astype(np.int64) * (1 << 40) + hour
    first = group[0]
    groups = [first] if (group == first).all() else np.unique(group).tolist()
    out = []
    for g in groups:
        rows = None if len(groups) == 1 else np.flatnonzero(group == g)

        def pick(col: np.ndarray, rows=rows) -> np.ndarray:
            return col if rows is None else col[rows]

        s, h = divmod(int(g), 1 << 40)
        day = datetime.fromtimestamp(h * 3600, UTC)
        columns = AggColumns(
            pick(machine).astype(np.int32, copy=False), pick(start),
            pick(windows["window_end_ms"]).astype(np.int64, copy=False),
            pick(windows["signal"]).astype(np.int16, copy=False),
            pick(windows["count"]).astype(np.int64, copy=False), pick(windows["min"]), pick(windows["max"]),
            pick(windows["mean"]), pick(windows["last"]), pick(windows["final"]).astype(bool, copy=False),
            pick(windows["covers_until_ms"]).astype(np.int64, copy=False), names.machines, names.signals)
        out.append(Rows("telemetry_agg", names.site_ids[s], day.strftime("%Y-%m-%d"), day.strftime("h%H"),
                        columns))
    return out


def shift_rows(shifts: list[dict]) -> list[Rows]:
    """Shift summaries grouped by site and the shift's local date (taken from its id, e.g. 2026-03-02-early)."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for row in shifts:
        groups.setdefault((row["site"], row["shift_id"][:10]), []).append(row)
    out = []
    for (site, date), rows in sorted(groups.items()):
        columns = {name: [] for name in SHIFT_OEE.names}
        for row in rows:
            for name in SHIFT_OEE.names:
                if name == "shift_start":
                    columns[name].append(int(row["shift_start_ms"]))
                elif name == "shift_end":
                    columns[name].append(int(row["shift_end_ms"]))
                elif name == "covers_until":
                    columns[name].append(int(row["covers_until_ms"]))
                elif name == "downtime_by_reason":
                    columns[name].append([{"reason": k, "seconds": float(v)}
                                          for k, v in sorted(row["downtime_by_reason"].items())])
                else:
                    columns[name].append(row[name])
        arrays = []
        for field in SHIFT_OEE:
            values = columns[field.name]
            if pa.types.is_timestamp(field.type):
                arrays.append(pa.array(values, pa.int64()).cast(field.type))
            else:
                arrays.append(pa.array(values, field.type))
        out.append(Rows("shift_oee", site, date, "day", pa.Table.from_arrays(arrays, schema=SHIFT_OEE)))
    return out


def operation_rows(events: list[Event], registry: Registry) -> list[Rows]:
    """One row per work-order run: final from `operation.finished`, provisional from the latest
    `operation.progress` of each run in this block; grouped by site and the local date the run began on."""
    latest: dict[tuple[str, str, str], Event] = {}
    for e in events:
        if e.type == "operation.finished" or e.type == "operation.progress":
            key = (e.site, e.machine, e.data.get("since") or "")
            prev = latest.get(key)
            if prev is None or prev.type != "operation.finished":
                latest[key] = e
    groups: dict[tuple[str, str], list[Event]] = {}
    for (site, _, since), e in latest.items():
        if not since:
            continue  # an operation.finished from another producer without counts
        zone = registry.sites[site].zone
        day = datetime.fromtimestamp(parse_iso_ms(since) / 1000, UTC).astimezone(zone).strftime("%Y-%m-%d")
        groups.setdefault((site, day), []).append(e)
    out = []
    for (site, day), rows in sorted(groups.items()):
        def col(fn, rows=rows):
            return [fn(e) for e in rows]

        def ts(values):
            return pa.array(values, pa.int64()).cast(OPERATIONS.field("since").type)

        finished = col(lambda e: e.type == "operation.finished")
        first = col(lambda e: parse_iso_ms(e.data["first_part_at"]) if e.data.get("first_part_at") else None)
        table = pa.Table.from_arrays([
            pa.array(col(lambda e: e.machine)), pa.array(col(lambda e: e.work_center)),
            ts(col(lambda e: parse_iso_ms(e.data["since"]))),
            ts([parse_iso_ms(e.occurred_at) if f else None for e, f in zip(rows, finished, strict=True)]),
            ts(first), pa.array(col(lambda e: int(e.data["quantity"])), pa.int64()),
            pa.array(col(lambda e: int(e.data["rejects"])), pa.int64()),
            pa.array(col(lambda e: int(e.data["quantity"] - e.data["rejects"])), pa.int64()),
            pa.array(finished, pa.bool_()), ts(col(lambda e: parse_iso_ms(e.occurred_at))),
            pa.array(col(lambda e: None if not e.data.get("rejects_by_reason") else [
                {"reason": k, "rejects": int(v)} for k, v in sorted(e.data["rejects_by_reason"].items())]),
                OPERATIONS.field("rejects_by_reason").type)], schema=OPERATIONS)
        out.append(Rows("operations", site, day, "day", table))
    return out

"""Turn a shard's operator output into what the sinks take: event messages, dead letters and Parquet rows."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pyarrow as pa

from andon.connectors.parquet import SHIFT_OEE, TELEMETRY_AGG, Rows
from andon.events import Event, encode_event
from andon.messages import OutMessage
from andon.readings import Registry

HOUR_MS = 3_600_000


def event_message(event: Event, topic: str) -> OutMessage:
    headers = [("andon.event_type", event.type.encode()), ("andon.event_id", event.event_id.encode())]
    if event.correlation_id:
        headers.append(("andon.correlation_id", event.correlation_id.encode()))
    return OutMessage(topic, event.machine.encode(), encode_event(event), headers)


def window_rows(windows: dict[str, np.ndarray], registry: Registry) -> list[Rows]:
    """Long-format window aggregates split by site, UTC date and hour (one Parquet file each per shard)."""
    if not windows or windows["machine"].shape[0] == 0:
        return []
    machine = windows["machine"]
    start = windows["window_start_ms"].astype(np.int64)
    hour = start // HOUR_MS
    site_idx = np.array([registry.keys[m][0] for m in range(len(registry))], dtype=object)[machine]
    out = []
    for site in np.unique(site_idx):
        in_site = site_idx == site
        for h in np.unique(hour[in_site]):
            rows = np.flatnonzero(in_site & (hour == h))
            day = datetime.fromtimestamp(int(h) * 3600, UTC)
            names = [registry.keys[m][1] for m in machine[rows]]
            table = pa.table({
                "machine": pa.array(names, pa.string()),
                "window_start": pa.array(start[rows], pa.int64()).cast(TELEMETRY_AGG.field("window_start").type),
                "window_end": pa.array(windows["window_end_ms"][rows].astype(np.int64), pa.int64())
                .cast(TELEMETRY_AGG.field("window_end").type),
                "signal": pa.array([registry.signals[s] for s in windows["signal"][rows]], pa.string()),
                "count": pa.array(windows["count"][rows].astype(np.int64)),
                "min": pa.array(windows["min"][rows].astype(np.float64)),
                "max": pa.array(windows["max"][rows].astype(np.float64)),
                "mean": pa.array(windows["mean"][rows].astype(np.float64)),
                "last": pa.array(windows["last"][rows].astype(np.float64)),
            }, schema=TELEMETRY_AGG)
            out.append(Rows("telemetry_agg", str(site), day.strftime("%Y-%m-%d"), day.strftime("h%H"), table))
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

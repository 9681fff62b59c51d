"""The event catalog: every event type with its schema version, owner, producers, consumers and replay policy.

`andon catalog` prints it as Markdown; `andon catalog --schemas DIR` writes one JSON Schema file per type.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from andon.events import EVENT_TYPES, SCHEMA_VERSION, json_schema

TELEMETRY = "pipelines/telemetry"
MES = "MES / other producers"
ODOO_SYNC = "pipelines/odoo_sync"
WORKORDERS = "pipelines/workorders"
ANALYTICS = "analytics (events topic readers)"

IDEMPOTENT = "replay freely: odoo_sync applies it once per event_id"
ABSOLUTE = "replay freely: carries absolute (cumulative) values keyed by event_id"
INFO = "replay freely: informational, no Odoo write"


@dataclass(frozen=True)
class CatalogEntry:
    type: str
    description: str
    owner: str
    producers: tuple[str, ...]
    consumers: tuple[str, ...]
    replay: str
    odoo: str  # what odoo_sync does with it


CATALOG: tuple[CatalogEntry, ...] = (
    CatalogEntry("machine.state_changed", "A machine moved to another state (first reading of the new state).",
                 "shop-floor integration", (TELEMETRY,), (ANALYTICS,), INFO, "none"),
    CatalogEntry("machine.downtime_started", "An unplanned stop became downtime; occurred_at is the stop's start.",
                 "shop-floor integration", (TELEMETRY, MES), (ODOO_SYNC, ANALYTICS), IDEMPOTENT,
                 "opens mrp.workcenter.productivity with the mapped loss"),
    CatalogEntry("machine.downtime_ended", "A downtime ended; occurred_at is the first reading of the next state.",
                 "shop-floor integration", (TELEMETRY, MES), (ODOO_SYNC, ANALYTICS), IDEMPOTENT,
                 "closes the open mrp.workcenter.productivity (date_end)"),
    CatalogEntry("production.count_reported", "Parts made in a closed window, with shift-cumulative totals.",
                 "production planning", (TELEMETRY, MES), (ODOO_SYNC, ANALYTICS), ABSOLUTE,
                 "sets mrp.workorder.qty_producing of the active work order (absolute)"),
    CatalogEntry("production.scrap_recorded", "Rejected parts in a closed window.",
                 "quality", (TELEMETRY, MES), (ODOO_SYNC, ANALYTICS), IDEMPOTENT,
                 "creates and validates stock.scrap (origin = event_id)"),
    CatalogEntry("quality.hold_raised", "Reject rate over its limit or an SPC rule violated.",
                 "quality", (TELEMETRY, MES), (ODOO_SYNC, ANALYTICS), IDEMPOTENT,
                 "quality.alert where installed, else a documented Community representation"),
    CatalogEntry("maintenance.requested", "Alarm code, cycle count or signal limit asks for maintenance.",
                 "maintenance", (TELEMETRY, MES), (ODOO_SYNC,), IDEMPOTENT, "creates maintenance.request"),
    CatalogEntry("operation.started", "A machine started producing after a setup (changeover).",
                 "production planning", (TELEMETRY, MES), (ODOO_SYNC,), IDEMPOTENT,
                 "mrp.workorder.button_start"),
    CatalogEntry("operation.finished", "A machine finished an operation (entered setup after running).",
                 "production planning", (TELEMETRY, MES), (ODOO_SYNC,), IDEMPOTENT,
                 "mrp.workorder.button_finish"),
    CatalogEntry("workorder.released", "Odoo released a work order (ready to start) for MES.",
                 "production planning", (WORKORDERS,), ("MES", "machine orchestration"),
                 "replay freely: keyed by work order id and write_date", "read only (source)"),
)


def entries() -> tuple[CatalogEntry, ...]:
    missing = set(EVENT_TYPES) - {e.type for e in CATALOG}
    if missing:  # a new type without an owner is a bug, found at start-up rather than in production
        raise RuntimeError(f"event types without a catalog entry: {sorted(missing)}")
    return CATALOG


def render_markdown() -> str:
    lines = [
        f"# andon event catalog (envelope v{SCHEMA_VERSION})",
        "",
        "| type | schema version | owner | producers | consumers | replay policy | Odoo effect |",
        "|---|---|---|---|---|---|---|",
    ]
    for e in entries():
        lines.append(f"| `{e.type}` | {SCHEMA_VERSION} | {e.owner} | {', '.join(e.producers)} | "
                     f"{', '.join(e.consumers)} | {e.replay} | {e.odoo} |")
    lines += ["", "Descriptions:", ""]
    lines += [f"- `{e.type}`: {e.description}" for e in entries()]
    return "\n".join(lines) + "\n"


def write_schemas(directory: str | Path) -> list[Path]:
    """Write `<type>.v<N>.schema.json` for every event type; returns the paths written."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for e in entries():
        path = out / f"{e.type}.v{SCHEMA_VERSION}.schema.json"
        path.write_text(json.dumps(json_schema(e.type), indent=2, sort_keys=True) + "\n", encoding="utf-8")
        paths.append(path)
    return paths

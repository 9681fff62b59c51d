"""The integration catalog: every flow (topics, Odoo models and methods, owner, service level, recovery) and
every event type (schema version, owner, producers, consumers, replay policy).

`andon catalog` prints it as Markdown (`--format json` for tools); `andon catalog --schemas DIR` also writes one
JSON Schema file per type. Released schemas live in `andon/schemas/` and must stay backward compatible
(`compatibility_problems`, checked in CI by tests/andon/test_schema_compat.py).
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import click

from andon.cli_env import Command, format_option, option
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
    CatalogEntry("quality.hold_released", "The reject rate is back at nominal: the open reject-rate hold is over.",
                 "quality", (TELEMETRY,), (ODOO_SYNC, ANALYTICS), IDEMPOTENT,
                 "closes the hold's time log at the release (and its quality.alert is left to the quality team)"),
    CatalogEntry("maintenance.requested", "Alarm code, cycle count or signal limit asks for maintenance.",
                 "maintenance", (TELEMETRY, MES), (ODOO_SYNC,), IDEMPOTENT, "creates maintenance.request"),
    CatalogEntry("operation.started", "A machine started producing after a setup (changeover).",
                 "production planning", (TELEMETRY, MES), (ODOO_SYNC,), IDEMPOTENT,
                 "mrp.workorder.button_start"),
    CatalogEntry("operation.finished", "A machine finished an operation (entered setup after running).",
                 "production planning", (TELEMETRY, MES), (ODOO_SYNC,), IDEMPOTENT,
                 "mrp.workorder.button_finish"),
    CatalogEntry("operation.progress", "The running operation's parts and rejects so far (absolute), per window "
                 "with counts.", "production planning", (TELEMETRY,), (ODOO_SYNC,), IDEMPOTENT,
                 "mrp.workorder.qty_producing at the posting cadence (starts a ready order at its first part)"),
    CatalogEntry("workorder.released", "Odoo released a work order (ready to start) for MES.",
                 "production planning", (WORKORDERS,), ("MES", "machine orchestration"),
                 "replay freely: keyed by work order id and write_date", "read only (source)"),
)


@dataclass(frozen=True)
class Flow:
    """One integration flow: what it reads and writes, what it does in Odoo, who owns it, what it promises and
    how to recover it."""

    name: str
    command: str
    description: str
    reads: tuple[str, ...]
    writes: tuple[str, ...]
    odoo: tuple[str, ...]  # "model: methods"
    owner: str
    service_level: str
    recovery: str


#: Topics by their config key (names are configurable per site; the defaults are shown).
T_TELEMETRY, T_TELEMETRY_DLQ = "andon.telemetry.v1", "andon.telemetry.dlq.v1"
T_EVENTS, T_EVENTS_DLQ, T_WORKORDERS = "andon.events.v1", "andon.events.dlq.v1", "andon.workorders.v1"
AUDIT = "audit trail (hash-chained JSONL + .head)"
READ_MASTER = ("mrp.workcenter, mrp.workcenter.productivity.loss, maintenance.equipment, maintenance.team, "
               "stock.location, stock.lot, ir.model, mrp.production: search_read / search / fields_get (master data)")

FLOWS: tuple[Flow, ...] = (
    Flow("telemetry", "andon run telemetry", "Machine readings to business events, OEE and window aggregates.",
         (T_TELEMETRY,), (T_EVENTS, T_TELEMETRY_DLQ, "Parquet shift_oee/, telemetry_agg/"), (),
         "shop-floor integration",
         "readings become events within window_s + allowed_lateness_s (default 70 s) of their timestamp p99, "
         "independent of Odoo; invalid or unauthorized readings reach the telemetry DLQ with a reason",
         "restart the StatefulSet pod: it resumes from its recovery snapshot and committed offsets (no loss, "
         "duplicate events keep their ids); bad publishers: `andon dlq list --topic telemetry` by reason"),
    Flow("odoo_sync", "andon run odoo-sync", "Business events applied to Odoo, idempotently, in per-machine order.",
         (T_EVENTS,), (T_EVENTS_DLQ, AUDIT, "ledger (SQLite, optional)"),
         ("mrp.workcenter.productivity: search_read, create, write (downtime, quality hold, productive time)",
          "stock.scrap: search_read, create, action_validate, do_scrap",
          "maintenance.request: search_read, create",
          "mrp.workorder: search_read, write, button_start, button_finish",
          "mrp.production: write (qty_producing)", READ_MASTER),
         "shop-floor integration (Odoo side: ERP team)",
         "events applied within 60 s p99 while Odoo is up and under the rate limit (odoo.rate_limit_per_s per "
         "process); during an outage events wait in Kafka (nothing lost) and drain after it",
         "Odoo down: nothing to do, batches are held and retried; refusals: fix the cause in Odoo, then "
         "`andon dlq replay --all`; audit: `andon audit verify`; crash: restart, re-applies from the snapshot "
         "offsets idempotently (writes are keyed by event id)"),
    Flow("workorders", "andon run workorders", "Released Odoo work orders published for MES and machines.",
         (), (T_WORKORDERS,), ("mrp.workorder: search_read (write_date cursor)", "mrp.workcenter: search_read"),
         "production planning",
         "a released work order is on the topic within one poll interval (default 30 s) while Odoo is up",
         "restart: the write_date cursor resumes without duplicates; a lost cursor republishes (keyed, "
         "consumers de-duplicate by work order id and write_date)"),
    Flow("sync-shifts", "andon sync-shifts", "Shift OEE loss tree written to Odoo's productivity log.",
         ("Parquet shift_oee/",), (),
         ("mrp.workcenter.productivity: search_read, create, write (keyed per work center, shift and loss)",
          "mrp.workcenter, mrp.workcenter.productivity.loss: search_read"),
         "production planning",
         "run once after each shift closes (batch job); a second run writes nothing",
         "re-run it (idempotent); `--dry-run` shows what it would write"),
    Flow("reconcile", "andon reconcile", "Shop floor (Parquet, events, audit) compared with Odoo; causes named.",
         (T_EVENTS, T_EVENTS_DLQ, "Parquet shift_oee/, telemetry_agg/", AUDIT), ("report (Parquet, HTML)", T_EVENTS),
         ("mrp.workorder, stock.scrap, mrp.workcenter, mrp.workcenter.productivity: search_read (read only)",),
         "shop-floor integration",
         "daily report; mismatches listed with a cause (outage gap, hand edit, DLQ)",
         "`--fix` publishes corrective events to the events topic, applied by odoo_sync like any other"),
    Flow("dlq replay", "andon dlq replay", "Refused events applied again after the cause was fixed.",
         (T_EVENTS_DLQ,), (AUDIT,),
         ("same models and methods as odoo_sync",),
         "shop-floor integration",
         "on demand; reports per event applied / still refused",
         "entries still refused stay in the DLQ (append-only) with their new reason; replaying twice changes nothing"),
)


def entries() -> tuple[CatalogEntry, ...]:
    missing = set(EVENT_TYPES) - {e.type for e in CATALOG}
    if missing:  # a new type without an owner is a bug, found at start-up rather than in production
        raise RuntimeError(f"event types without a catalog entry: {sorted(missing)}")
    return CATALOG


def render_markdown() -> str:
    lines = ["# andon integration catalog", "", "## Flows", ""]
    for f in FLOWS:
        lines += [f"### {f.name} (`{f.command}`)", "", f.description, "",
                  f"- reads: {', '.join(f.reads) or '-'}",
                  f"- writes: {', '.join(f.writes) or '-'}",
                  "- Odoo: " + ("none (never calls Odoo)" if not f.odoo else ""),
                  *[f"  - {o}" for o in f.odoo],
                  f"- owner: {f.owner}",
                  f"- service level: {f.service_level}",
                  f"- recovery: {f.recovery}", ""]
    lines += [
        f"## Events (envelope v{SCHEMA_VERSION})",
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


def catalog_json() -> dict:
    """The whole catalog as plain data (flows, events with their JSON Schemas)."""
    return {"schema_version": SCHEMA_VERSION,
            "flows": [asdict(f) for f in FLOWS],
            "events": [{**asdict(e), "schema_version": SCHEMA_VERSION, "schema": json_schema(e.type)}
                       for e in entries()]}


@click.command(cls=Command, name="catalog")
@format_option(("markdown", "json"), "markdown for people, json for tools")
@option("--schemas", default=None, metavar="DIR", help="also write one JSON Schema file per event type into DIR")
def cli(format: str, schemas: str | None) -> int:
    """Print the integration catalog: flows (topics, Odoo models and methods, owners, recovery) and event types."""
    if format == "json":
        sys.stdout.write(json.dumps(catalog_json(), indent=2) + "\n")
    else:
        sys.stdout.write(render_markdown())
    if schemas:
        paths = write_schemas(schemas)
        print(f"\nwrote {len(paths)} schemas to {schemas}", file=sys.stderr)
    return 0


def main(argv: list[str]) -> int:
    """`andon catalog ARGS...` as a function: its exit status."""
    from andon.cli import invoke

    return invoke(cli, argv, "andon catalog")


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


# ---- backward compatibility of event schemas ----------------------------------------------------------------

RELEASED_DIR = Path(__file__).resolve().parent / "schemas"
_NARROWING_BOUNDS = {"minimum": 1, "exclusiveMinimum": 1, "minLength": 1, "minItems": 1,
                     "maximum": -1, "exclusiveMaximum": -1, "maxLength": -1, "maxItems": -1}


def released_schema(type_: str, version: int = SCHEMA_VERSION, directory: Path = RELEASED_DIR) -> dict | None:
    """The schema released for `type_` at `version` (None when the type has not been released)."""
    path = directory / f"{type_}.v{version}.schema.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def compatibility_problems(old: dict, new: dict) -> list[str]:
    """Why events valid under `new` could break a consumer built for `old` (empty: compatible).

    Rules: no property removed; no property newly required; no type narrowed (a type, or null, dropped from the
    allowed ones; number narrowed to integer); no enum value removed and no enum or const added where there was
    none; const unchanged; bounds (minimum, maxLength, ...) not tightened; pattern and format unchanged. New
    optional properties, widened types and added enum values are fine.
    """
    problems: list[str] = []
    _compare(old, new, old, new, "$", problems)
    return problems


def _resolve(schema: dict, root: dict) -> dict:
    seen = 0
    while "$ref" in schema and seen < 32:
        ref = schema["$ref"]
        if not ref.startswith("#/"):
            raise ValueError(f"only local $refs are supported, not {ref!r}")
        node = root
        for part in ref[2:].split("/"):
            node = node[part]
        schema, seen = {**node, **{k: v for k, v in schema.items() if k != "$ref"}}, seen + 1
    return schema


def _alternatives(schema: dict, root: dict) -> list[dict]:
    schema = _resolve(schema, root)
    alts = schema.get("anyOf") or schema.get("oneOf")
    if not alts:
        return [schema]
    return [a for alt in alts for a in _alternatives(alt, root)]


def _types(schema: dict) -> set[str]:
    if "const" in schema:
        return {f"const:{json.dumps(schema['const'])}"}
    if "enum" in schema:
        return {f"const:{json.dumps(v)}" for v in schema["enum"]}
    kind = schema.get("type")
    if kind is None:
        return {"any"}
    return set(kind) if isinstance(kind, list) else {kind}


def _covers(new_types: set[str], t: str) -> bool:
    if "any" in new_types or t in new_types:
        return True
    if t == "integer" and "number" in new_types:
        return True
    if t.startswith("const:"):
        value = json.loads(t[6:])
        kinds = {bool: "boolean", int: "integer", float: "number", str: "string", type(None): "null"}
        kind = kinds.get(type(value), "object")
        return _covers(new_types, kind) or (kind == "integer" and "number" in new_types)
    return False


def _compare(old: dict, new: dict, old_root: dict, new_root: dict, path: str, out: list[str]) -> None:
    old_alts, new_alts = _alternatives(old, old_root), _alternatives(new, new_root)
    new_types = set().union(*(_types(a) for a in new_alts))
    for alt in old_alts:
        for t in sorted(_types(alt)):
            if not _covers(new_types, t):
                what = f"value {t[6:]}" if t.startswith("const:") else f"type {t}"
                out.append(f"{path}: {what} no longer allowed (narrowed)")
    for kind in ("object", "array", "string", "number", "integer"):
        o = next((a for a in old_alts if kind in _types(a)), None)
        n = next((a for a in new_alts if kind in _types(a) or (kind == "integer" and "number" in _types(a))), None)
        if o is None or n is None:
            continue
        _bounds(o, n, path, out)
        if kind == "object":
            _objects(o, n, old_root, new_root, path, out)
        elif kind == "array" and "items" in o and "items" in n:
            _compare(o["items"], n["items"], old_root, new_root, f"{path}[]", out)


def _bounds(o: dict, n: dict, path: str, out: list[str]) -> None:
    for key, direction in _NARROWING_BOUNDS.items():
        if key in n and (key not in o or (n[key] - o[key]) * direction > 0):
            out.append(f"{path}: {key} tightened from {o.get(key, 'none')} to {n[key]}")
    for key in ("pattern", "format"):
        if key in n and n.get(key) != o.get(key):
            out.append(f"{path}: {key} changed from {o.get(key)!r} to {n[key]!r}")


def _objects(o: dict, n: dict, old_root: dict, new_root: dict, path: str, out: list[str]) -> None:
    old_props, new_props = o.get("properties", {}), n.get("properties", {})
    for name in old_props:
        if name not in new_props:
            out.append(f"{path}.{name}: property removed")
        else:
            _compare(old_props[name], new_props[name], old_root, new_root, f"{path}.{name}", out)
    for name in sorted(set(n.get("required", ())) - set(o.get("required", ()))):
        out.append(f"{path}.{name}: {'new ' if name not in old_props else ''}property is now required")

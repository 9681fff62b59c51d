"""What every handler shares: the records of one `apply` call (`Inbound`, `Refusal`, `Batch`), the `Writer` the
apply loop offers handlers (batched creates, grouped writes, per-event guards, parallel calls) and small helpers
several models need (the active work order link, loss and lot checks, Odoo's datetime format).

A handler takes the rows of its event types in event order, `(index in the batch, Inbound, work center id)`,
and records each event's outcome on the `Batch` (applied, exists, skipped, or refused for the DLQ).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from andon.config import PostingSettings
from andon.connectors.odoo.errors import OdooError
from andon.connectors.odoo.journal import AuditRecord
from andon.connectors.odoo.masterdata import MasterData
from andon.events import Event, decode_event

PROD = "mrp.workcenter.productivity"


@dataclass(frozen=True, slots=True)
class Inbound:
    """One event as read from the topic: the decoded envelope plus the original bytes and where they came from."""

    event: Event
    raw: bytes
    key: bytes | None = None
    topic: str = ""
    partition: int = -1
    offset: int = -1

    @classmethod
    def of(cls, raw: bytes, **where) -> Inbound:
        return cls(decode_event(raw), raw, **where)


#: (index of the event in the batch, the event, its work center's Odoo id)
Row = tuple[int, Inbound, int]


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why an event cannot be applied until someone fixes the cause (Odoo's own error when Odoo refused)."""

    reason: str
    detail: str
    hint: str
    odoo_name: str | None = None

    @classmethod
    def from_odoo(cls, exc: OdooError) -> Refusal:
        return cls("odoo_refused", exc.odoo_message, exc.hint, exc.odoo_name or type(exc).__name__)


class Refused(Exception):
    """Raised inside a guarded call: this one event is refused for good (it goes to the DLQ)."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.detail)
        self.refusal = refusal


@dataclass
class SyncResult:
    audit: list[AuditRecord] = field(default_factory=list)
    dead: list[tuple[Inbound, Refusal]] = field(default_factory=list)
    held_s: float = 0.0


@dataclass
class Batch:
    """Bookkeeping of one `apply` call: audit records as they happen, which events are finished."""

    result: SyncResult
    done: set[int] = field(default_factory=set)

    def record(self, i: int, it: Inbound, model: str | None, rid: int | None, op: str, outcome: str,
               detail: str = "", finished: bool = True) -> None:
        e = it.event
        self.result.audit.append(AuditRecord(e.event_id, e.type, e.machine, model, rid, op, outcome, detail))
        if finished:
            self.done.add(i)

    def refuse(self, i: int, it: Inbound, refusal: Refusal) -> None:
        self.result.dead.append((it, refusal))
        self.record(i, it, None, None, "refuse", "dead_letter", f"{refusal.reason}: {refusal.detail}")


class Writer(Protocol):
    """What the apply loop offers handlers (see `OdooSync`)."""

    client: object
    md: MasterData
    chunk: int
    quality_loss: str
    scrap_insufficient: str
    posting: PostingSettings

    def shift_ends(self, after_ms: int, until_ms: int) -> bool: ...

    def guard(self, batch: Batch, i: int, it: Inbound, fn: Callable[[], None]) -> None: ...

    def create(self, model: str, rows: list[tuple[int, Inbound, dict]], batch: Batch) -> dict[int, int]: ...

    def create_recorded(self, model: str, creates: list[tuple[int, Inbound, dict]], batch: Batch,
                        finished: bool = True) -> None: ...

    def grouped_write(self, model: str, fname: str, groups: dict, batch: Batch) -> None: ...

    def marked(self, model: str, rows: list[Row]) -> dict[str, int]: ...

    def parallel(self, jobs: list[tuple[int, Inbound, Callable]], batch: Batch) -> None: ...


class Handler(Protocol):
    """One Odoo model's writes for the event types it handles."""

    model: str
    types: tuple[str, ...]

    def apply(self, rows: list[Row], batch: Batch) -> None: ...


def odoo_dt(iso: str) -> str:
    """RFC 3339 UTC ('2026-03-02T05:02:00.000Z') to Odoo's 'YYYY-MM-DD HH:MM:SS'."""
    return f"{iso[:10]} {iso[11:19]}"


def crossed(last_ms: int | None, at_ms: int, interval_s: int, shift_ends: Callable[[int, int], bool]) -> bool:
    """Post now? True for the first value (nothing posted yet), with no interval, when an interval boundary
    (multiples of `interval_s` in event time, UTC) or a shift end lies in (last_ms, at_ms]."""
    if last_ms is None or interval_s <= 0:
        return True
    step = interval_s * 1000
    return at_ms // step > last_ms // step or shift_ends(last_ms, at_ms)


def order_of(md: MasterData, center: int, e: Event):
    """The order an event applies to: the one it names (`work_order`: the manufacturing order's or the work
    order's name, from the telemetry's workorder_signal or an MES), else the work center's active order; None
    when the work center has no such order open."""
    if e.work_order:
        return md.named_work_order(center, e.work_order)
    return md.active_work_order(center)


def with_work_order(md: MasterData, vals: dict, center: int, model: str | None = None) -> dict:
    """`vals` linked to the work center's active work order and its manufacturing order, when there is one and
    `model` has the link (maintenance.request's come from Enterprise mrp_maintenance; probed at start-up)."""
    wo = md.active_work_order(center)
    if wo is not None:
        if model is None or md.schema.has(model, "workorder_id"):
            vals["workorder_id"] = wo.id
        if wo.production_id and (model is None or md.schema.has(model, "production_id")):
            vals["production_id"] = wo.production_id
    return vals


def unknown_loss(name: str) -> Refusal:
    return Refusal("unknown_loss_reason", f"Odoo has no mrp.workcenter.productivity.loss named {name!r}",
                   "create the loss reason in Odoo (Manufacturing > Configuration) or fix the reason mapping")


def check_lot(name: str, lot: dict | None, product: int | None) -> int:
    """The id of lot `name` (as `MasterData.lots` found it) for `product`; refuses an unknown or foreign lot."""
    if lot is None:
        raise Refused(Refusal("unknown_lot", f"Odoo has no stock.lot named {name!r}",
                              "create the lot in Odoo or correct the event's lot, then: andon dlq replay"))
    if product is not None and lot["product_id"] != product:
        raise Refused(Refusal("lot_product_mismatch", f"lot {name!r} is for product id {lot['product_id']}, "
                              f"the work order makes product id {product}",
                              "correct the lot reference or the work order"))
    return lot["id"]


# -- time logs at event time: Odoo's buttons stamp the logs they open or close with the server's clock ----------
def close_logs_at(client, wo_id: int, end: str) -> None:
    """The order's logs a button closed after `end` (Odoo's clock) end at `end` (the event time) instead."""
    late = client.search_read(PROD, [("workorder_id", "=", wo_id), ("date_end", ">", end)], ["id", "date_start"])
    fix = [r["id"] for r in late if (r.get("date_start") or "") <= end]
    if fix:
        client.write(PROD, fix, {"date_end": end})


def end_open_logs_at(client, wo_id: int, end: str) -> None:
    """Close the order's open logs at `end` (the event time) before a button would close them at Odoo's clock.
    andon writes the interval itself: the button then finds nothing open, so Odoo's own closing (`end_previous`,
    whose `_close` splits an overrun log and copies its description) never sees andon's logs."""
    logs = client.search_read(PROD, [("workorder_id", "=", wo_id), ("date_end", "=", False)], ["id", "date_start"])
    by_end: dict[str, list[int]] = {}
    for rec in logs:
        by_end.setdefault(max(end, rec.get("date_start") or end), []).append(rec["id"])
    for value, ids in sorted(by_end.items()):
        client.write(PROD, ids, {"date_end": value})


def open_log_starts_at(client, wo_id: int, start: str, tag: str = "") -> bool:
    """The order's open log (the one a button just opened at Odoo's clock) starts at `start` (the event time),
    with `tag` appended to its description; False when the order has no open log."""
    logs = client.search_read(PROD, [("workorder_id", "=", wo_id), ("date_end", "=", False)],
                              ["id", "description"], limit=1, order="id desc")
    if not logs:
        return False
    vals: dict = {"date_start": start} if start else {}
    if tag:
        vals["description"] = f"{logs[0].get('description') or ''} {tag}".strip()
    if vals:
        client.write(PROD, [logs[0]["id"]], vals)
    return True

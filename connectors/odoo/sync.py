"""Apply business events to Odoo: batched, idempotent (every write keyed by the event id), per-machine ordered,
holding (never dropping) work while Odoo is unavailable, refusing for good only what Odoo or its data refuses.

    sync = OdooSync(client, site, audit=AuditTrail("audit.jsonl"), ledger=Ledger("ledger.sqlite3"))
    result = sync.apply([Inbound.of(raw) for raw in messages])
    result.dead          # [(Inbound, Refusal)] for the events DLQ; result.audit: what happened per event

Idempotency keys (see docs/odoo-sync.md): productivity logs, maintenance requests and operation markers carry
`[andon:<event id>] <kind> @<event time>` in `description`; scraps carry it as `origin`; quantities are absolute.
A batch is cut into segments at operation events (button calls change which work order is active); within a
segment one search per model finds earlier writes, `create` takes a list, and equal writes are grouped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from andon.config import SiteConfig
from andon.connectors.odoo.errors import (
    OdooAuthError,
    OdooCircuitOpenError,
    OdooConfigError,
    OdooError,
    OdooTransientError,
)
from andon.connectors.odoo.journal import AuditRecord, AuditTrail, Ledger
from andon.connectors.odoo.masterdata import MARKER, MasterData, m2o, marker
from andon.connectors.odoo.metrics import CIRCUIT_OPEN, EVENTS, HELD_SECONDS, HOLDS, RETRIES, instrument
from andon.events import Event, EventError, decode_event, payload
from andon.messages import OutMessage

log = logging.getLogger(__name__)

PROD = "mrp.workcenter.productivity"
OPERATIONS = ("operation.started", "operation.finished")
INSUFFICIENT_QTY_WIZARD = "stock.warn.insufficient.qty.scrap"


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


def dead_letter(item: Inbound, refusal: Refusal, topic: str) -> OutMessage:
    """The events-DLQ message: the original bytes, the reason and Odoo's error in headers."""
    headers = [("andon.dlq.reason", refusal.reason.encode()), ("andon.dlq.detail", refusal.detail.encode()[:2048]),
               ("andon.dlq.hint", refusal.hint.encode()), ("andon.source.topic", item.topic.encode()),
               ("andon.source.partition", str(item.partition).encode()),
               ("andon.source.offset", str(item.offset).encode()),
               ("andon.event_id", item.event.event_id.encode()), ("andon.event_type", item.event.type.encode())]
    if refusal.odoo_name:
        headers += [("andon.odoo.error", refusal.odoo_name.encode()),
                    ("andon.odoo.message", refusal.detail.encode()[:2048])]
    return OutMessage(topic, item.key if item.key is not None else item.event.machine.encode(), item.raw, headers)


def invalid_event(raw: bytes, exc: EventError, key: bytes | None, topic: str, partition: int, offset: int,
                  dlq_topic: str) -> OutMessage:
    headers = [("andon.dlq.reason", b"invalid_event"), ("andon.dlq.detail", str(exc).encode()[:2048]),
               ("andon.dlq.hint", b"fix the producer; the event does not match the v1 envelope or its payload"),
               ("andon.source.topic", topic.encode()), ("andon.source.partition", str(partition).encode()),
               ("andon.source.offset", str(offset).encode())]
    return OutMessage(dlq_topic, key, raw, headers)


@dataclass
class SyncResult:
    audit: list[AuditRecord] = field(default_factory=list)
    dead: list[tuple[Inbound, Refusal]] = field(default_factory=list)
    held_s: float = 0.0


def odoo_dt(iso: str) -> str:
    """RFC 3339 UTC ('2026-03-02T05:02:00.000Z') to Odoo's 'YYYY-MM-DD HH:MM:SS'."""
    return f"{iso[:10]} {iso[11:19]}"


class _Refused(Exception):
    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.detail)
        self.refusal = refusal


@dataclass
class _Batch:
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


class OdooSync:
    """The Odoo-writing end of odoo_sync. One per worker (it owns a client and a master-data cache)."""

    def __init__(self, client, site: SiteConfig, *, audit: AuditTrail | None = None, ledger: Ledger | None = None,
                 refresh_s: float = 300.0, hold_max_s: float = 30.0, scrap_insufficient: str = "confirm",
                 quality_loss: str = "Process Defect", concurrency: int = 4,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if scrap_insufficient not in ("confirm", "refuse"):
            raise ValueError("scrap_insufficient must be 'confirm' or 'refuse'")
        self.client, self.site = instrument(client) if hasattr(client, "transport") else client, site
        self.audit, self.ledger = audit or AuditTrail(None), ledger or Ledger(None)
        self.md = MasterData(client, refresh_s=refresh_s)
        self.hold_max_s, self.scrap_insufficient, self.quality_loss = hold_max_s, scrap_insufficient, quality_loss
        self._sleep = sleep
        self.chunk = max(1, site.odoo.batch_size)
        self.concurrency = max(1, concurrency)
        self._pool: list = []
        self.counters: defaultdict[str, int] = defaultdict(int)
        self._client_seen: dict[str, int] = {}

    # -- entry point -------------------------------------------------------------------------------------
    def apply(self, items: Sequence[Inbound]) -> SyncResult:
        """Apply events in order; blocks with backoff while Odoo is unavailable (never drops, never refuses a
        transient failure); returns audit records and refusals. Audit and ledger are written before returning."""
        batch = _Batch(SyncResult())
        known = self.ledger.known(it.event.event_id for it in items)
        todo: list[tuple[int, Inbound]] = []
        for i, it in enumerate(items):
            if it.event.event_id in known:
                batch.record(i, it, None, None, "none", "ledger", "in the local ledger")
            else:
                todo.append((i, it))
        for segment in _segments(todo):
            self._hold_while_unavailable(lambda seg=segment: self._segment(seg, batch), batch.result,
                                         [it for _, it in segment])
        self.audit.append(batch.result.audit)
        self.ledger.add(batch.result.audit)
        final: dict[str, tuple[str, str]] = {}
        for r in batch.result.audit:
            self.counters[r.outcome] += 1
            final[r.event_id] = (r.type, "refused" if r.outcome == "dead_letter" else r.outcome)
        for kind, outcome in final.values():
            EVENTS.labels(kind, outcome).inc()
        self._count_client_metrics()
        return batch.result

    def _count_client_metrics(self) -> None:
        """Move the clients' retry and circuit-open counts into Prometheus (as deltas since the last batch)."""
        for name, metric in (("retries", RETRIES), ("circuit_open", CIRCUIT_OPEN)):
            total = sum(getattr(c, "counters", {}).get(name, 0) for c in [self.client, *self._pool])
            delta = total - self._client_seen.get(name, 0)
            if delta > 0:
                metric.inc(delta)
            self._client_seen[name] = total

    def _hold_while_unavailable(self, fn: Callable[[], None], result: SyncResult,
                                items: Sequence[Inbound] = ()) -> None:
        delay = 0.5
        while True:
            try:
                fn()
                return
            except (OdooAuthError, OdooConfigError):
                raise
            except (OdooTransientError, OdooCircuitOpenError) as exc:
                wait = max(getattr(exc, "retry_after", None) or 0.0, delay)
                wait = min(wait, self.hold_max_s)
                self.counters["holds"] += 1
                HOLDS.inc()
                HELD_SECONDS.inc(wait)
                for it in items:
                    EVENTS.labels(it.event.type, "retried").inc()
                log.warning("odoo unavailable (%s); holding %d events, retry in %.1fs", exc.odoo_message,
                            len(items), wait, extra={"reason": getattr(exc, "reason", "circuit_open")})
                self._sleep(wait)
                result.held_s += wait
                delay = min(delay * 2, self.hold_max_s)

    # -- one segment -------------------------------------------------------------------------------------
    def _segment(self, segment: list[tuple[int, Inbound]], batch: _Batch) -> None:
        pending = [(i, it) for i, it in segment if i not in batch.done]
        by_type: defaultdict[str, list[tuple[int, Inbound, int]]] = defaultdict(list)
        for i, it in pending:
            e = it.event
            if e.type == "machine.state_changed" or e.type == "workorder.released":
                batch.record(i, it, None, None, "none", "skipped", "informational: no Odoo write")
                continue
            code = e.work_center or self._configured_center(e.machine)
            if code is None:
                batch.refuse(i, it, Refusal("unknown_machine", f"machine {e.machine!r} has no work center in the "
                                            "event or the site config", "add the machine to the site config"))
                continue
            center = self.md.work_center(code)
            if center is None:
                batch.refuse(i, it, Refusal(
                    "unknown_work_center", f"Odoo has no active mrp.workcenter with code {code!r} "
                    f"(search_read mrp.workcenter [('code', '=', {code!r})] found nothing)",
                    f"create or rename the work center in Odoo (code {code}), then: andon dlq replay"))
                continue
            by_type[e.type].append((i, it, center["id"]))
        self._quality_alerts(by_type["quality.hold_raised"], batch)
        self._productivity(by_type, batch)
        self._scraps(by_type["production.scrap_recorded"], batch)
        self._maintenance(by_type["maintenance.requested"], batch)
        self._counts(by_type["production.count_reported"], batch)
        for i, it, center in by_type["operation.started"] + by_type["operation.finished"]:
            self._guard(batch, i, it, lambda it=it, center=center, i=i: self._operation(i, it, center, batch))

    def _configured_center(self, machine: str) -> str | None:
        try:
            return self.site.machine(machine).work_center
        except KeyError:
            return None

    def _guard(self, batch: _Batch, i: int, it: Inbound, fn: Callable[[], None]) -> None:
        """Run one event's work; a permanent refusal (ours or Odoo's) dead-letters just this event."""
        try:
            fn()
        except _Refused as exc:
            batch.refuse(i, it, exc.refusal)
        except (OdooTransientError, OdooCircuitOpenError, OdooAuthError, OdooConfigError):
            raise
        except OdooError as exc:
            batch.refuse(i, it, Refusal.from_odoo(exc))

    def _create(self, model: str, rows: list[tuple[int, Inbound, dict]], batch: _Batch, op: str
                ) -> dict[int, int]:
        """create_many in chunks; when Odoo refuses a chunk, create its rows one by one so only the culprit is
        refused. Returns event index -> new record id."""
        ids: dict[int, int] = {}
        for start in range(0, len(rows), self.chunk):
            chunk = rows[start:start + self.chunk]
            try:
                new = self.client.create_many(model, [vals for _, _, vals in chunk])
            except (OdooTransientError, OdooCircuitOpenError, OdooAuthError, OdooConfigError):
                raise
            except OdooError:
                if len(chunk) == 1:
                    raise
                for row in chunk:
                    i, it, _ = row
                    self._guard(batch, i, it, lambda row=row: ids.update(self._create(model, [row], batch, op)))
                continue
            for (i, _it, _), rid in zip(chunk, new, strict=True):
                ids[i] = rid
        return ids

    def _with_work_order(self, vals: dict, center: int) -> dict:
        """`vals` linked to the work center's active work order and its manufacturing order, when there is one."""
        wo = self.md.active_work_order(center)
        if wo is not None:
            vals["workorder_id"] = wo.id
            if wo.production_id:
                vals["production_id"] = wo.production_id
        return vals

    def _create_recorded(self, model: str, creates: list, batch: _Batch, finished: bool = True) -> None:
        """create_many `creates` and audit each created record as applied."""
        ids = self._create(model, creates, batch, "create")
        for i, it, _ in creates:
            if i in ids:
                batch.record(i, it, model, ids[i], "create", "applied", finished=finished)

    def _marked(self, model: str, rows) -> dict[str, int]:
        """Event id -> id of the `model` record whose description carries that event's marker (one search)."""
        domain: list = ["|"] * (len(rows) - 1)
        domain += [("description", "like", marker(it.event.event_id)) for _, it, _ in rows]
        existing = {}
        for rec in self.client.search_read(model, domain, ["id", "description"]):
            for key, _, _ in MARKER.findall(rec.get("description") or ""):
                existing[key] = rec["id"]
        return existing

    # -- quality holds: quality.alert where the Quality app (Enterprise) is installed ------------------------
    def _quality_alerts(self, rows, batch: _Batch) -> None:
        """An alert per hold, besides the Community time log; the event finishes with the log after it."""
        if not rows or not self.md.data.has_quality_alert:
            return
        existing = self._marked("quality.alert", rows)
        creates = []
        for i, it, center in rows:
            e, p = it.event, payload(it.event)
            if e.event_id in existing:
                batch.record(i, it, "quality.alert", existing[e.event_id], "create", "exists", finished=False)
                continue
            vals = {"title": f"Quality hold on {e.machine} ({p.rule})", "workcenter_id": center, "priority": "2",
                    "description": f"<p>{p.description}; value {p.value:.4g}, limit {p.limit:.4g}, window "
                                   f"{p.window_start} to {p.window_end}</p>"
                                   f"<p>{marker(e.event_id, 'quality_alert', e.occurred_at)}</p>"}
            creates.append((i, it, self._with_work_order(vals, center)))
        self._create_recorded("quality.alert", creates, batch, finished=False)

    # -- downtime and quality holds: mrp.workcenter.productivity -----------------------------------------
    def _productivity(self, by_type, batch: _Batch) -> None:
        rows = sorted(by_type["machine.downtime_started"] + by_type["machine.downtime_ended"]
                      + by_type["quality.hold_raised"], key=lambda r: r[0])
        if not rows:
            return
        stamps, centers = [], set()
        for _, it, center in rows:
            centers.add(center)
            p = it.event.data
            stamps.append(odoo_dt(p.get("started_at") or p.get("window_start") or it.event.occurred_at))
        existing = self.client.search_read(PROD, [("workcenter_id", "in", sorted(centers)),
                                                  ("description", "like", "[andon:"),
                                                  ("date_start", ">=", min(stamps)), ("date_start", "<=", max(stamps))],
                                           ["id", "workcenter_id", "date_start", "date_end", "description"])
        by_key: dict[str, dict] = {}
        by_start: dict[tuple[int, str], dict] = {}
        for rec in existing:
            for key, kind, _ in MARKER.findall(rec.get("description") or ""):
                by_key[key] = rec
                if kind.startswith("downtime"):
                    by_start[(m2o(rec["workcenter_id"]), rec["date_start"])] = rec
        creates: list[tuple[int, Inbound, dict]] = []
        merged: dict[int, list[tuple[int, Inbound]]] = defaultdict(list)  # index of create -> ended events
        pending_start: dict[tuple[int, str], int] = {}
        writes: defaultdict[str, list[tuple[int, Inbound, int]]] = defaultdict(list)
        for i, it, center in rows:
            e = it.event
            if e.event_id in by_key:
                batch.record(i, it, PROD, by_key[e.event_id]["id"], "create", "exists")
                continue
            p = payload(e)
            if e.type == "quality.hold_raised":
                loss = self.md.loss(self.quality_loss)
                if loss is None:
                    batch.refuse(i, it, self._unknown_loss(self.quality_loss))
                    continue
                text = (f"{marker(e.event_id, 'quality_hold', e.occurred_at)} Quality hold on {e.machine} "
                        f"({p.rule}): {p.description}; value {p.value:.4g}, limit {p.limit:.4g}")
                creates.append((i, it, self._log_vals(center, loss, odoo_dt(p.window_start), text,
                                                      odoo_dt(p.window_end))))
                continue
            loss = self.md.loss(p.reason)
            if loss is None:
                batch.refuse(i, it, self._unknown_loss(p.reason))
                continue
            if e.type == "machine.downtime_started":
                start = odoo_dt(e.occurred_at)
                text = f"{marker(e.event_id, 'downtime', e.occurred_at)} {p.reason} ({p.state}) on {e.machine}"
                pending_start[(center, start)] = len(creates)
                creates.append((i, it, self._log_vals(center, loss, start, text)))
                continue
            start, end = odoo_dt(p.started_at), odoo_dt(p.ended_at)
            if (center, start) in pending_start:
                index = pending_start.pop((center, start))
                creates[index][2]["date_end"] = end
                merged[index].append((i, it))
            elif (center, start) in by_start:
                rec = by_start[(center, start)]
                if rec.get("date_end"):
                    batch.record(i, it, PROD, rec["id"], "write date_end", "exists")
                else:
                    writes[end].append((i, it, rec["id"]))
            else:  # the start never reached Odoo (before andon ran, or refused): record the whole stop now
                text = (f"{marker(e.event_id, 'downtime_closed', e.occurred_at)} {p.reason} ({p.state}) on "
                        f"{e.machine}, {p.duration_s:.0f} s")
                creates.append((i, it, self._log_vals(center, loss, start, text, end)))
        ids = self._create(PROD, creates, batch, "create")
        for index, (i, it, _) in enumerate(creates):
            if i in ids:
                batch.record(i, it, PROD, ids[i], "create", "applied")
                for j, ended in merged.get(index, []):
                    batch.record(j, ended, PROD, ids[i], "write date_end (in create)", "applied")
            else:
                for j, ended in merged.get(index, []):
                    batch.refuse(j, ended, Refusal("start_refused", "its downtime_started was refused",
                                                   "replay both from the DLQ once the cause is fixed"))
        self._grouped_write(PROD, "date_end", writes, batch)

    def _grouped_write(self, model: str, fname: str, groups: dict, batch: _Batch) -> None:
        """One write per distinct value: {value: [(event index, Inbound, record id)]}; when Odoo refuses a grouped
        write, each record is written alone so only the culprit is refused."""
        for value, targets in groups.items():
            op = f"write {fname}={value}"
            try:
                self.client.write(model, [rid for _, _, rid in targets], {fname: value})
            except (OdooTransientError, OdooCircuitOpenError, OdooAuthError, OdooConfigError):
                raise
            except OdooError as exc:
                if len(targets) == 1:
                    batch.refuse(targets[0][0], targets[0][1], Refusal.from_odoo(exc))
                    continue
                for i, it, rid in targets:
                    self._guard(batch, i, it, lambda rid=rid, i=i, it=it, value=value, op=op: (
                        self.client.write(model, [rid], {fname: value}),
                        batch.record(i, it, model, rid, op, "applied")))
                continue
            for i, it, rid in targets:
                batch.record(i, it, model, rid, op, "applied")

    def _log_vals(self, center: int, loss: dict, start: str, text: str, end: str | None = None) -> dict:
        vals = {"workcenter_id": center, "loss_id": loss["id"], "date_start": start, "description": text}
        wo = self.md.active_work_order(center)
        if wo is not None:
            vals["workorder_id"] = wo.id
        if end is not None:
            vals["date_end"] = max(end, start)
        return vals

    @staticmethod
    def _unknown_loss(name: str) -> Refusal:
        return Refusal("unknown_loss_reason", f"Odoo has no mrp.workcenter.productivity.loss named {name!r}",
                       "create the loss reason in Odoo (Manufacturing > Configuration) or fix the reason mapping")

    # -- scrap: stock.scrap + action_validate --------------------------------------------------------------
    def _scraps(self, rows, batch: _Batch) -> None:
        if not rows:
            return
        keys = [marker(it.event.event_id) for _, it, _ in rows]
        existing = {}
        for start in range(0, len(keys), self.chunk * 10):
            for rec in self.client.search_read("stock.scrap", [("origin", "in", keys[start:start + self.chunk * 10])],
                                               ["id", "origin", "state"]):
                existing[rec["origin"]] = rec
        lots = self.md.lots([it.event.data["lot"] for _, it, _ in rows if it.event.data.get("lot")])
        creates, validate = [], []
        for i, it, center in rows:
            e = it.event
            rec = existing.get(marker(e.event_id))
            if rec is not None:
                if rec["state"] == "done":
                    batch.record(i, it, "stock.scrap", rec["id"], "create+validate", "exists")
                else:
                    batch.record(i, it, "stock.scrap", rec["id"], "create", "exists", finished=False)
                    validate.append((i, it, rec["id"]))
                continue
            try:
                creates.append((i, it, self._scrap_vals(it, center, lots)))
            except _Refused as exc:
                batch.refuse(i, it, exc.refusal)
        ids = self._create("stock.scrap", creates, batch, "create")
        for i, it, _ in creates:
            if i in ids:
                batch.record(i, it, "stock.scrap", ids[i], "create", "applied", finished=False)
                validate.append((i, it, ids[i]))
        self._parallel([(i, it, lambda client, i=i, it=it, rid=rid: self._validate_scrap(client, i, it, rid, batch))
                        for i, it, rid in sorted(validate, key=lambda r: r[0])], batch)

    def _parallel(self, jobs: list[tuple[int, Inbound, Callable]], batch: _Batch) -> None:
        """Run one-record calls (stock.scrap.action_validate: Odoo insists on one record per call) over up to
        `concurrency` connections. Every record was created in event order already; validations are independent."""
        if len(jobs) <= 1 or self.concurrency <= 1:
            for i, it, job in jobs:
                self._guard(batch, i, it, lambda job=job: job(self.client))
            return
        clients = self._clients()
        lanes = [jobs[n::len(clients)] for n in range(len(clients))]
        errors: list[BaseException] = []

        def run(client, lane):
            try:
                for i, it, job in lane:
                    self._guard(batch, i, it, lambda job=job: job(client))
            except BaseException as exc:  # transient: re-raised below, the segment is retried
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(c, lane)) for c, lane in zip(clients, lanes, strict=False)
                   if lane]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]

    def _clients(self) -> list:
        """The main client plus `concurrency - 1` more sharing its retry policy, breaker and rate limit."""
        while len(self._pool) < self.concurrency - 1:
            from andon.connectors.odoo.client import OdooClient

            extra = instrument(OdooClient(self.client.settings, retry=self.client.retry,
                                          breaker=self.client.breaker, rate_limit=False))
            extra.limiter = self.client.limiter
            self._pool.append(extra)
        return [self.client, *self._pool]

    def _scrap_vals(self, it: Inbound, center: int, lots: dict) -> dict:
        e, p = it.event, payload(it.event)
        wo = self.md.active_work_order(center)
        product = self.md.product_of(center)
        if product is None:
            raise _Refused(Refusal("no_product", f"no work order on work center {e.work_center} names a product",
                                   "release a work order for the work center, then: andon dlq replay"))
        vals = {"product_id": product, "scrap_qty": float(p.quantity), "origin": marker(e.event_id)}
        if self.md.data.stock_location:
            vals["location_id"] = self.md.data.stock_location
        if self.md.data.scrap_location:
            vals["scrap_location_id"] = self.md.data.scrap_location
        if wo is not None:
            vals["workorder_id"] = wo.id
            if wo.production_id:
                vals["production_id"] = wo.production_id
        if p.lot:
            lot = lots.get(p.lot)
            vals["lot_id"] = self._check_lot(p.lot, lot, product)
        return vals

    @staticmethod
    def _check_lot(name: str, lot: dict | None, product: int | None) -> int:
        if lot is None:
            raise _Refused(Refusal("unknown_lot", f"Odoo has no stock.lot named {name!r}",
                                   "create the lot in Odoo or correct the event's lot, then: andon dlq replay"))
        if product is not None and lot["product_id"] != product:
            raise _Refused(Refusal("lot_product_mismatch", f"lot {name!r} is for product id {lot['product_id']}, "
                                   f"the work order makes product id {product}",
                                   "correct the lot reference or the work order"))
        return lot["id"]

    def _validate_scrap(self, client, i: int, it: Inbound, rid: int, batch: _Batch) -> None:
        answer = client.call_button("stock.scrap", [rid], "action_validate")
        if isinstance(answer, dict):
            if answer.get("res_model") != INSUFFICIENT_QTY_WIZARD:
                raise _Refused(Refusal("unexpected_wizard", f"action_validate opened {answer.get('res_model')}",
                                       "validate the scrap in Odoo by hand"))
            if self.scrap_insufficient == "refuse":
                raise _Refused(Refusal("insufficient_quantity", f"Odoo warns that stock of the product is below "
                                       f"the scrap quantity (scrap id {rid} left in draft)",
                                       "correct the stock in Odoo, then: andon dlq replay"))
            client.call_button("stock.scrap", [rid], "do_scrap")
            batch.record(i, it, "stock.scrap", rid, "action_validate+do_scrap", "applied",
                         "confirmed Odoo's insufficient-quantity warning (the parts were scrapped on the floor)")
            return
        batch.record(i, it, "stock.scrap", rid, "action_validate", "applied")

    # -- maintenance.request -------------------------------------------------------------------------------
    def _maintenance(self, rows, batch: _Batch) -> None:
        if not rows:
            return
        existing = self._marked("maintenance.request", rows)
        creates = []
        for i, it, center in rows:
            e, p = it.event, payload(it.event)
            if e.event_id in existing:
                batch.record(i, it, "maintenance.request", existing[e.event_id], "create", "exists")
                continue
            eq = self.md.equipment(p.equipment, center)
            if p.equipment and eq is None:
                batch.refuse(i, it, Refusal("unknown_equipment", f"Odoo has no maintenance.equipment named "
                                            f"{p.equipment!r}", "create the equipment in Odoo or fix the event"))
                continue
            team = (eq or {}).get("team") or self.md.data.team
            vals = {"name": f"{e.machine}: {p.detail}", "maintenance_type": p.maintenance_type,
                    "priority": p.priority, "request_date": e.occurred_at[:10],
                    "description": f"<p>{p.trigger}: {p.detail} on {e.machine} at {e.occurred_at}</p>"
                                   f"<p>{marker(e.event_id, 'maintenance', e.occurred_at)}</p>"}
            if team:
                vals["maintenance_team_id"] = team
            if eq:
                vals["equipment_id"] = eq["id"]
            creates.append((i, it, self._with_work_order(vals, center)))
        self._create_recorded("maintenance.request", creates, batch)

    # -- counts: absolute qty_producing of the active work order -------------------------------------------
    def _counts(self, rows, batch: _Batch) -> None:
        latest: dict[int, tuple[float, int, Inbound]] = {}
        orders = {}
        for i, it, center in rows:
            e = it.event
            finished = self.md.data.finished_at.get(center)
            if finished and e.occurred_at <= finished:
                batch.record(i, it, None, None, "none", "skipped",
                             f"belongs to a work order finished at {finished}")
                continue
            wo = self.md.active_work_order(center)
            if wo is None:
                batch.record(i, it, None, None, "none", "skipped", "no work order in progress or ready")
                continue
            previous = latest.get(wo.id)
            if previous is not None:
                batch.record(previous[1], previous[2], "mrp.workorder", wo.id, "write qty_producing", "skipped",
                             f"superseded by {e.event_id} in the same batch")
            latest[wo.id] = (float(it.event.data["good_count"]), i, it)
            orders[wo.id] = wo
        by_value: defaultdict[float, list[tuple[int, Inbound, int]]] = defaultdict(list)
        for wo_id, (value, i, it) in latest.items():
            if orders[wo_id].qty_producing == value:
                batch.record(i, it, "mrp.workorder", wo_id, "write qty_producing", "skipped", f"already {value:g}")
            else:
                by_value[value].append((i, it, wo_id))
        self._grouped_write("mrp.workorder", "qty_producing", by_value, batch)
        refused = {id(it) for it, _ in batch.result.dead}
        for value, targets in by_value.items():
            for _, it, wo_id in targets:
                if id(it) not in refused:
                    orders[wo_id].qty_producing = value

    # -- operations: button_start / button_finish ----------------------------------------------------------
    def _operation(self, i: int, it: Inbound, center: int, batch: _Batch) -> None:
        e = it.event
        key = marker(e.event_id)
        found = self.client.search_read(PROD, [("description", "like", key)], ["id", "workorder_id"], limit=1)
        if e.type == "operation.started":
            self._start(i, it, center, found, batch)
        else:
            self._finish(i, it, center, found, batch)

    def _no_order(self, e: Event) -> Refusal:
        return Refusal("no_active_work_order", f"work center {e.work_center} has no work order in progress or "
                       f"ready for {e.type}", "release a work order for the work center in Odoo, then: "
                       "andon dlq replay")

    def _order_for(self, center: int, e):
        """The work center's active work order, read again from Odoo once if the cached one is gone; none refuses
        the event (it goes to the DLQ with what to do)."""
        wo = self.md.active_work_order(center)
        if wo is None:
            self.md.reload_orders(center)
            wo = self.md.active_work_order(center)
            if wo is None:
                raise _Refused(self._no_order(e))
        return wo

    def _start(self, i: int, it: Inbound, center: int, found: list, batch: _Batch) -> None:
        e = it.event
        if found:
            batch.record(i, it, "mrp.workorder", m2o(found[0]["workorder_id"]), "button_start", "exists")
            return
        wo = self._order_for(center, e)
        outcome = "exists"
        if wo.state != "progress":
            try:
                self.client.call_button("mrp.workorder", [wo.id], "button_start")
            except OdooError as exc:
                if not isinstance(exc, OdooTransientError | OdooCircuitOpenError):
                    self.md.reload_orders(center)
                raise
            outcome = "applied"
        self.md.reload_orders(center)
        self._mark_open_log(wo.id, center, marker(e.event_id, "operation_started", e.occurred_at))
        batch.record(i, it, "mrp.workorder", wo.id, "button_start", outcome,
                     "" if outcome == "applied" else "work order already in progress")

    def _finish(self, i: int, it: Inbound, center: int, found: list, batch: _Batch) -> None:
        e, p = it.event, payload(it.event)
        tag = marker(e.event_id, "operation_finished", e.occurred_at)
        if found:  # intent recorded earlier: make sure that order is finished (a crash may have come between)
            wo_id = m2o(found[0]["workorder_id"])
            state = self.client.read("mrp.workorder", [wo_id], ["state"])[0]["state"] if wo_id else "done"
            if state not in ("done", "cancel"):
                self.client.call_button("mrp.workorder", [wo_id], "button_finish")
                batch.record(i, it, "mrp.workorder", wo_id, "button_finish", "applied", "completed after restart")
            else:
                batch.record(i, it, "mrp.workorder", wo_id, "button_finish", "exists")
            self._finished(center, e.occurred_at)
            return
        wo = self._order_for(center, e)
        if p.lot:
            lot = self.md.lots([p.lot])[p.lot]
            lot_id = self._check_lot(p.lot, lot, wo.product_id)
            field_name = self.md.data.production_lot_field
            if field_name and wo.production_id:
                value = lot_id if field_name == "lot_producing_id" else [(6, 0, [lot_id])]
                self.client.write("mrp.production", [wo.production_id], {field_name: value})
                batch.record(i, it, "mrp.production", wo.production_id, f"write {field_name}", "applied",
                             finished=False)
        if not self._mark_open_log(wo.id, center, tag):
            productive = next((v for v in self.md.data.losses.values() if v["loss_type"] == "productive"), None)
            if productive is None:
                raise _Refused(self._unknown_loss("(any productive loss)"))
            self.client.create(PROD, {"workcenter_id": center, "workorder_id": wo.id, "loss_id": productive["id"],
                                      "date_start": odoo_dt(e.occurred_at), "description": tag})
        try:
            self.client.call_button("mrp.workorder", [wo.id], "button_finish")
        finally:
            self.md.reload_orders(center)
        self._finished(center, e.occurred_at)
        batch.record(i, it, "mrp.workorder", wo.id, "button_finish", "applied")

    def _finished(self, center: int, at: str) -> None:
        if at > self.md.data.finished_at.get(center, ""):
            self.md.data.finished_at[center] = at

    def _mark_open_log(self, wo_id: int, center: int, tag: str) -> bool:
        """Append the event marker to the work order's open time log; False when it has none."""
        logs = self.client.search_read(PROD, [("workorder_id", "=", wo_id), ("date_end", "=", False)],
                                       ["id", "description"], limit=1, order="id desc")
        if not logs:
            return False
        text = f"{logs[0].get('description') or ''} {tag}".strip()
        self.client.write(PROD, [logs[0]["id"]], {"description": text})
        return True


def _segments(todo: list[tuple[int, Inbound]]) -> list[list[tuple[int, Inbound]]]:
    """Cut at operation events: each operation event is a segment of its own, applied after what precedes it."""
    out: list[list[tuple[int, Inbound]]] = [[]]
    for row in todo:
        if row[1].event.type in OPERATIONS:
            out.append([row])
            out.append([])
        else:
            out[-1].append(row)
    return [seg for seg in out if seg]

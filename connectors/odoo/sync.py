"""Apply business events to Odoo: batched, idempotent (every write keyed by the event id), per-machine ordered,
holding (never dropping) work while Odoo is unavailable, refusing for good only what Odoo or its data refuses.

    sync = OdooSync(client, site, audit=AuditTrail("audit.jsonl"), ledger=Ledger("ledger.sqlite3"))
    result = sync.apply([Inbound.of(raw) for raw in messages])
    result.dead          # [(Inbound, Refusal)] for the events DLQ; result.audit: what happened per event

This module is the apply loop: the ledger, segments, holding while Odoo is unavailable, routing events to their
work center, and the batched calls handlers share (chunked `create`, grouped `write`, per-event guards, parallel
one-record calls). What each Odoo model receives is decided by its handler in `connectors/odoo/handlers/`.

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

from andon.config import SiteConfig
from andon.connectors.odoo.errors import (
    NOT_REFUSALS,
    OdooAuthError,
    OdooCircuitOpenError,
    OdooConfigError,
    OdooError,
    OdooTransientError,
)
from andon.connectors.odoo.handlers import handlers
from andon.connectors.odoo.handlers.base import (
    PROD,
    Batch,
    Inbound,
    Refusal,
    Refused,
    Row,
    SyncResult,
    odoo_dt,
)
from andon.connectors.odoo.journal import AuditTrail, Ledger
from andon.connectors.odoo.masterdata import MARKER, MasterData, marker
from andon.connectors.odoo.metrics import CIRCUIT_OPEN, RETRIES, instrument
from andon.connectors.odoo.sync_metrics import EVENTS, HELD_SECONDS, HOLDS
from andon.events import EventError
from andon.messages import OutMessage
from andon.progress import PROGRESS
from andon.shifts import ShiftSchedule

log = logging.getLogger(__name__)

OPERATIONS = ("operation.started", "operation.finished")
#: Event types that need no Odoo write (audited as skipped).
INFORMATIONAL = ("machine.state_changed", "workorder.released")

__all__ = ["PROD", "Inbound", "OdooSync", "Refusal", "SyncResult", "dead_letter", "invalid_event", "odoo_dt"]


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
        self.posting = site.odoo.posting
        self._schedule = ShiftSchedule.from_site(site)
        self.handlers = handlers(self)

    # -- entry point -------------------------------------------------------------------------------------
    def apply(self, items: Sequence[Inbound]) -> SyncResult:
        """Apply events in order; blocks with backoff while Odoo is unavailable (never drops, never refuses a
        transient failure); returns audit records and refusals. Audit and ledger are written before returning."""
        batch = Batch(SyncResult())
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

    def has_pending(self) -> bool:
        """Are quantities or rejects held back by the posting settings?"""
        return any(getattr(h, "pending", None) for h in self.handlers)

    def flush(self) -> SyncResult:
        """End of input: post what the posting settings held back (coalesced quantities and rejects)."""
        batch = Batch(SyncResult())

        def post() -> None:
            for handler in self.handlers:
                flush = getattr(handler, "flush", None)
                if flush is not None:
                    flush(batch)

        self._hold_while_unavailable(post, batch.result)
        self.audit.append(batch.result.audit)
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
                PROGRESS.holding(f"Odoo unavailable ({getattr(exc, 'reason', 'circuit_open')}): {len(items)} "
                                 "events held")
                self._sleep(wait)
                result.held_s += wait
                delay = min(delay * 2, self.hold_max_s)

    # -- one segment -------------------------------------------------------------------------------------
    def _segment(self, segment: list[tuple[int, Inbound]], batch: Batch) -> None:
        """Route the segment's unfinished events to their work center, then hand each handler its rows."""
        by_type: defaultdict[str, list[Row]] = defaultdict(list)
        for i, it in segment:
            if i in batch.done:
                continue
            e = it.event
            if e.type in INFORMATIONAL:
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
        for handler in self.handlers:
            rows = sorted((row for t in handler.types for row in by_type.get(t, ())), key=lambda r: r[0])
            if rows:
                self._apply_guarded(handler, rows, batch)

    def _apply_guarded(self, handler, rows: list[Row], batch: Batch) -> None:
        """Hand `handler` its rows. An unexpected exception (a defect, or an event no handler foresaw) must not end
        the dataflow: the rows are applied again one at a time, and the one that raises again is refused as
        `handler_error` with the exception's text, so every other event still reaches Odoo. Odoo being
        unavailable is not such an exception: it holds and retries as always."""
        try:
            handler.apply(rows, batch)
            return
        except NOT_REFUSALS:
            raise
        except Exception as exc:  # any defect: retried row by row below
            log.error("odoo-sync: %s raised %s on %d events; applying them one by one", type(handler).__name__,
                      type(exc).__name__, len(rows))
        for row in rows:
            i, it, _ = row
            if i in batch.done:
                continue
            try:
                handler.apply([row], batch)
            except NOT_REFUSALS:
                raise
            except OdooError as exc:
                batch.refuse(i, it, Refusal.from_odoo(exc))
            except Exception as exc:  # this one event is refused, with the exception text
                batch.refuse(i, it, Refusal(
                    "handler_error", f"{type(handler).__name__} raised {type(exc).__name__}: {exc}"[:2000],
                    "a defect in andon: report this dead letter (andon dlq show ID); once fixed, andon dlq replay"))

    def _configured_center(self, machine: str) -> str | None:
        try:
            return self.site.machine(machine).work_center
        except KeyError:
            return None

    # -- what handlers share (the `Writer` protocol) -----------------------------------------------------
    def shift_ends(self, after_ms: int, until_ms: int) -> bool:
        """Does a shift of the site end in (after_ms, until_ms]?"""
        return any(after_ms < s.end_ms <= until_ms for s in self._schedule.shifts_between(after_ms, until_ms + 1))

    def guard(self, batch: Batch, i: int, it: Inbound, fn: Callable[[], None]) -> None:
        """Run one event's work; a permanent refusal (ours or Odoo's) dead-letters just this event."""
        try:
            fn()
        except Refused as exc:
            batch.refuse(i, it, exc.refusal)
        except NOT_REFUSALS:
            raise
        except OdooError as exc:
            batch.refuse(i, it, Refusal.from_odoo(exc))

    def create(self, model: str, rows: list[tuple[int, Inbound, dict]], batch: Batch) -> dict[int, int]:
        """create_many in chunks; when Odoo refuses a chunk, create its rows one by one so only the culprit is
        refused. Returns event index -> new record id."""
        ids: dict[int, int] = {}
        for start in range(0, len(rows), self.chunk):
            chunk = rows[start:start + self.chunk]
            try:
                new = self.client.create_many(model, [vals for _, _, vals in chunk])
            except NOT_REFUSALS:
                raise
            except OdooError:
                if len(chunk) == 1:
                    raise
                for row in chunk:
                    i, it, _ = row
                    self.guard(batch, i, it, lambda row=row: ids.update(self.create(model, [row], batch)))
                continue
            for (i, _it, _), rid in zip(chunk, new, strict=True):
                ids[i] = rid
        return ids

    def create_recorded(self, model: str, creates: list[tuple[int, Inbound, dict]], batch: Batch,
                        finished: bool = True) -> None:
        """create_many `creates` and audit each created record as applied."""
        ids = self.create(model, creates, batch)
        for i, it, _ in creates:
            if i in ids:
                batch.record(i, it, model, ids[i], "create", "applied", finished=finished)

    def marked(self, model: str, rows: list[Row]) -> dict[str, int]:
        """Event id -> id of the `model` record whose description carries that event's marker (one search)."""
        domain: list = ["|"] * (len(rows) - 1)
        domain += [("description", "like", marker(it.event.event_id)) for _, it, _ in rows]
        existing = {}
        for rec in self.client.search_read(model, domain, ["id", "description"]):
            for key, _, _ in MARKER.findall(rec.get("description") or ""):
                existing[key] = rec["id"]
        return existing

    def grouped_write(self, model: str, fname: str, groups: dict, batch: Batch) -> None:
        """One write per distinct value: {value: [(event index, Inbound, record id)]}; when Odoo refuses a grouped
        write, each record is written alone so only the culprit is refused."""
        for value, targets in groups.items():
            op = f"write {fname}={value}"
            try:
                self.client.write(model, [rid for _, _, rid in targets], {fname: value})
            except NOT_REFUSALS:
                raise
            except OdooError as exc:
                if len(targets) == 1:
                    batch.refuse(targets[0][0], targets[0][1], Refusal.from_odoo(exc))
                    continue
                for i, it, rid in targets:
                    self.guard(batch, i, it, lambda rid=rid, i=i, it=it, value=value, op=op: (
                        self.client.write(model, [rid], {fname: value}),
                        batch.record(i, it, model, rid, op, "applied")))
                continue
            for i, it, rid in targets:
                batch.record(i, it, model, rid, op, "applied")

    def parallel(self, jobs: list[tuple[int, Inbound, Callable]], batch: Batch) -> None:
        """Run one-record calls (stock.scrap.action_validate: Odoo insists on one record per call) over up to
        `concurrency` connections. Every record was created in event order already; validations are independent."""
        if len(jobs) <= 1 or self.concurrency <= 1:
            for i, it, job in jobs:
                self.guard(batch, i, it, lambda job=job: job(self.client))
            return
        clients = self._clients()
        lanes = [jobs[n::len(clients)] for n in range(len(clients))]
        errors: list[BaseException] = []

        def run(client, lane):
            try:
                for i, it, job in lane:
                    self.guard(batch, i, it, lambda job=job: job(client))
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

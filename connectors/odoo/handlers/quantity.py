"""`mrp.workorder.qty_producing`: the good parts of the work order's run, from `operation.progress` (the
running operation's absolute counts, across shift changes and counter resets).

Posting (`[odoo.posting] quantity_interval_s`, docs/odoo-sync.md): an order's quantity is written at its first
counted part, then when its progress crosses an interval boundary or a shift end (event time), and at its finish
(by `OperationHandler`); values in between are coalesced (kept as pending, written at the next boundary or at the
end of input). Within a batch only the latest value per order is written, one `write` per distinct value, none
when Odoo already holds it. A machine producing while its work center's active order is only `ready` is running
that order: it is started (`button_start`) and its time log begins at the first counted part.

Progress whose operation began before the work center's newest `operation.finished` belongs to a finished order
and is skipped; `production.count_reported` (shift totals) is for analytics and never written to an order.
"""

from __future__ import annotations

from collections import defaultdict

from andon.connectors.odoo.errors import NOT_REFUSALS, OdooError
from andon.connectors.odoo.handlers.base import Batch, Inbound, Row, Writer, crossed
from andon.connectors.odoo.handlers.operation import OperationHandler
from andon.events import parse_iso_ms, payload


class QuantityHandler:
    model = "mrp.workorder"
    types = ("production.count_reported", "operation.progress")

    def __init__(self, w: Writer, operations: OperationHandler) -> None:
        self.w, self.operations = w, operations
        self.posted: dict[int, int] = {}  # work order id -> event time (ms) of the value last posted
        self.pending: dict[int, tuple[float, Inbound]] = {}  # work order id -> good parts not posted yet

    def apply(self, rows: list[Row], batch: Batch) -> None:
        md, interval = self.w.md, self.w.posting.quantity_interval_s
        latest: dict[int, tuple[float, int, Inbound]] = {}
        orders = {}
        reloaded: dict[int, set[str]] = {}  # center -> order names re-read from Odoo in this call
        for i, it, center in rows:
            e = it.event
            if e.type == "production.count_reported":
                batch.record(i, it, None, None, "none", "skipped", "shift totals are for analytics; work-order "
                             "quantities come from operation.progress")
                continue
            p = payload(e)
            finished = md.data.finished_at.get(center)
            if finished and p.since < finished:
                batch.record(i, it, None, None, "none", "skipped",
                             f"belongs to a work order finished at {finished}")
                continue
            wo = self.operations.lookup(center, e)
            if wo is None and e.work_order and e.work_order not in reloaded.setdefault(center, set()):
                reloaded[center].add(e.work_order)  # released since the last load? read the center's orders once
                md.reload_orders(center)
                wo = self.operations.lookup(center, e)
            if wo is None:
                ops = self.operations
                batch.refuse(i, it, ops.unknown_order(e) if e.work_order else ops.no_order(e))
                continue
            if wo.state != "progress":
                try:
                    self.operations.start_order(wo, center, p.first_part_at or e.occurred_at)
                except NOT_REFUSALS:
                    raise
                except OdooError as exc:  # e.g. the work center is blocked by an open stop: the next progress
                    batch.record(i, it, self.model, wo.id, "button_start", "skipped",  # carries the total again
                                 f"not started yet, Odoo refused: {exc.odoo_message}")
                    continue
                batch.record(i, it, self.model, wo.id, "button_start", "applied",
                             f"started at its first counted part {p.first_part_at or e.occurred_at}",
                             finished=False)
                wo = self.operations.lookup(center, e) or wo
            at = parse_iso_ms(e.occurred_at)
            value = float(p.quantity - p.rejects)
            previous = latest.get(wo.id)
            if previous is None and not crossed(self.posted.get(wo.id), at, interval, self.w.shift_ends):
                self.pending[wo.id] = (value, it)
                batch.record(i, it, self.model, wo.id, "write qty_producing", "skipped",
                             f"coalesced: {value:g} is posted at the next {interval} s boundary, shift end or finish")
                continue
            if previous is not None:
                batch.record(previous[1], previous[2], self.model, wo.id, "write qty_producing", "skipped",
                             f"superseded by {e.event_id} in the same batch")
            latest[wo.id] = (value, i, it)
            orders[wo.id] = wo
            self.posted[wo.id] = at
        by_value: defaultdict[float, list[Row]] = defaultdict(list)
        for wo_id, (value, i, it) in latest.items():
            self.pending.pop(wo_id, None)
            if value == 0:  # mrp_workorder.py `_set_qty_producing` ignores 0: writing it would change nothing
                batch.record(i, it, self.model, wo_id, "write qty_producing", "skipped",
                             "Odoo ignores a quantity of 0")
            elif orders[wo_id].qty_producing == value:
                batch.record(i, it, self.model, wo_id, "write qty_producing", "skipped", f"already {value:g}")
            else:
                by_value[value].append((i, it, wo_id))
        self.w.grouped_write(self.model, "qty_producing", by_value, batch)
        refused = {id(it) for it, _ in batch.result.dead}
        for value, targets in by_value.items():
            for _, it, wo_id in targets:
                if id(it) not in refused:
                    orders[wo_id].qty_producing = value

    def flush(self, batch: Batch) -> None:
        """Write the pending (coalesced) quantities now (end of input)."""
        by_value: defaultdict[float, list[Row]] = defaultdict(list)
        for n, (wo_id, (value, it)) in enumerate(sorted(self.pending.items())):
            by_value[value].append((n, it, wo_id))
        self.pending.clear()
        self.w.grouped_write(self.model, "qty_producing", by_value, batch)

    def forget(self, wo_id: int) -> None:
        """The order finished (its final quantity was written): nothing of it is pending any more."""
        self.pending.pop(wo_id, None)
        self.posted.pop(wo_id, None)

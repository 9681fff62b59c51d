"""`mrp.workorder.qty_producing`: the active work order's produced quantity from `production.count_reported`
(absolute, so a replay writes the same value); within a batch only the latest value per order is written, one
`write` per distinct value, none when Odoo already holds it. Counts at or before the work center's newest
`operation.finished` belong to a finished order and are skipped."""

from __future__ import annotations

from collections import defaultdict

from andon.connectors.odoo.handlers.base import Batch, Inbound, Row, Writer


class QuantityHandler:
    model = "mrp.workorder"
    types = ("production.count_reported",)

    def __init__(self, w: Writer) -> None:
        self.w = w

    def apply(self, rows: list[Row], batch: Batch) -> None:
        md = self.w.md
        latest: dict[int, tuple[float, int, Inbound]] = {}
        orders = {}
        for i, it, center in rows:
            e = it.event
            finished = md.data.finished_at.get(center)
            if finished and e.occurred_at <= finished:
                batch.record(i, it, None, None, "none", "skipped",
                             f"belongs to a work order finished at {finished}")
                continue
            wo = md.active_work_order(center)
            if wo is None:
                batch.record(i, it, None, None, "none", "skipped", "no work order in progress or ready")
                continue
            previous = latest.get(wo.id)
            if previous is not None:
                batch.record(previous[1], previous[2], self.model, wo.id, "write qty_producing", "skipped",
                             f"superseded by {e.event_id} in the same batch")
            latest[wo.id] = (float(it.event.data["good_count"]), i, it)
            orders[wo.id] = wo
        by_value: defaultdict[float, list[Row]] = defaultdict(list)
        for wo_id, (value, i, it) in latest.items():
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

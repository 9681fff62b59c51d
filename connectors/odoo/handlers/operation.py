"""`mrp.workorder` buttons: `operation.started` → `button_start` on the work center's active order (then the
marker on the time log Odoo opened); `operation.finished` → the marker first (on the open log, or a new
zero-length productive log), the finished lot on `mrp.production`, then `button_finish`. One event at a time
(a button changes which order is active); a marker found on replay means the intent was recorded, so a finish
interrupted by a crash is completed, and nothing is done twice."""

from __future__ import annotations

from andon.connectors.odoo.errors import OdooCircuitOpenError, OdooError, OdooTransientError
from andon.connectors.odoo.handlers.base import (
    PROD,
    Batch,
    Inbound,
    Refusal,
    Refused,
    Row,
    Writer,
    check_lot,
    odoo_dt,
    unknown_loss,
)
from andon.connectors.odoo.masterdata import WorkOrder, m2o, marker
from andon.events import Event, payload


class OperationHandler:
    model = "mrp.workorder"
    types = ("operation.started", "operation.finished")

    def __init__(self, w: Writer) -> None:
        self.w = w

    def apply(self, rows: list[Row], batch: Batch) -> None:
        for i, it, center in rows:
            self.w.guard(batch, i, it, lambda it=it, center=center, i=i: self.one(i, it, center, batch))

    def one(self, i: int, it: Inbound, center: int, batch: Batch) -> None:
        e = it.event
        found = self.w.client.search_read(PROD, [("description", "like", marker(e.event_id))],
                                          ["id", "workorder_id"], limit=1)
        if e.type == "operation.started":
            self._start(i, it, center, found, batch)
        else:
            self._finish(i, it, center, found, batch)

    @staticmethod
    def _no_order(e: Event) -> Refusal:
        return Refusal("no_active_work_order", f"work center {e.work_center} has no work order in progress or "
                       f"ready for {e.type}", "release a work order for the work center in Odoo, then: "
                       "andon dlq replay")

    def _order_for(self, center: int, e: Event) -> WorkOrder:
        """The work center's active work order, read again from Odoo once if the cached one is gone; none refuses
        the event (it goes to the DLQ with what to do)."""
        md = self.w.md
        wo = md.active_work_order(center)
        if wo is None:
            md.reload_orders(center)
            wo = md.active_work_order(center)
            if wo is None:
                raise Refused(self._no_order(e))
        return wo

    def _start(self, i: int, it: Inbound, center: int, found: list, batch: Batch) -> None:
        e, client, md = it.event, self.w.client, self.w.md
        if found:
            batch.record(i, it, self.model, m2o(found[0]["workorder_id"]), "button_start", "exists")
            return
        wo = self._order_for(center, e)
        outcome = "exists"
        if wo.state != "progress":
            try:
                client.call_button(self.model, [wo.id], "button_start")
            except OdooError as exc:
                if not isinstance(exc, OdooTransientError | OdooCircuitOpenError):
                    md.reload_orders(center)
                raise
            outcome = "applied"
        md.reload_orders(center)
        self._mark_open_log(wo.id, marker(e.event_id, "operation_started", e.occurred_at))
        batch.record(i, it, self.model, wo.id, "button_start", outcome,
                     "" if outcome == "applied" else "work order already in progress")

    def _finish(self, i: int, it: Inbound, center: int, found: list, batch: Batch) -> None:
        e, p = it.event, payload(it.event)
        client, md = self.w.client, self.w.md
        tag = marker(e.event_id, "operation_finished", e.occurred_at)
        if found:  # intent recorded earlier: make sure that order is finished (a crash may have come between)
            wo_id = m2o(found[0]["workorder_id"])
            state = client.read(self.model, [wo_id], ["state"])[0]["state"] if wo_id else "done"
            if state not in ("done", "cancel"):
                client.call_button(self.model, [wo_id], "button_finish")
                batch.record(i, it, self.model, wo_id, "button_finish", "applied", "completed after restart")
            else:
                batch.record(i, it, self.model, wo_id, "button_finish", "exists")
            self._finished(center, e.occurred_at)
            return
        wo = self._order_for(center, e)
        if p.lot:
            lot_id = check_lot(p.lot, md.lots([p.lot])[p.lot], wo.product_id)
            field_name = md.data.production_lot_field
            if field_name and wo.production_id:
                value = lot_id if field_name == "lot_producing_id" else [(6, 0, [lot_id])]
                client.write("mrp.production", [wo.production_id], {field_name: value})
                batch.record(i, it, "mrp.production", wo.production_id, f"write {field_name}", "applied",
                             finished=False)
        if not self._mark_open_log(wo.id, tag):
            productive = next((v for v in md.data.losses.values() if v["loss_type"] == "productive"), None)
            if productive is None:
                raise Refused(unknown_loss("(any productive loss)"))
            client.create(PROD, {"workcenter_id": center, "workorder_id": wo.id, "loss_id": productive["id"],
                                 "date_start": odoo_dt(e.occurred_at), "description": tag})
        try:
            client.call_button(self.model, [wo.id], "button_finish")
        finally:
            md.reload_orders(center)
        self._finished(center, e.occurred_at)
        batch.record(i, it, self.model, wo.id, "button_finish", "applied")

    def _finished(self, center: int, at: str) -> None:
        finished_at = self.w.md.data.finished_at
        if at > finished_at.get(center, ""):
            finished_at[center] = at

    def _mark_open_log(self, wo_id: int, tag: str) -> bool:
        """Append the event marker to the work order's open time log; False when it has none."""
        client = self.w.client
        logs = client.search_read(PROD, [("workorder_id", "=", wo_id), ("date_end", "=", False)],
                                  ["id", "description"], limit=1, order="id desc")
        if not logs:
            return False
        text = f"{logs[0].get('description') or ''} {tag}".strip()
        client.write(PROD, [logs[0]["id"]], {"description": text})
        return True

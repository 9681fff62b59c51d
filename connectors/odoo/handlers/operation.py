"""`mrp.workorder` buttons: `operation.started` → `button_start` on the work center's active order, then the
marker on the time log Odoo opened and its `date_start` set to the event time (Odoo opens it at its own clock);
`operation.finished` → the marker first (on the open log, or a new productive log), the finished lot on
`mrp.production`, the order's true good parts as `qty_producing` (Odoo ignores a write of 0, and `button_start`
set it to the remaining quantity), then `button_finish`, then the logs it closed get `date_end` = the event time.
One event at a time (a button changes which order is active); a marker found on replay means the intent was
recorded, so a finish interrupted by a crash is completed, and nothing is done twice."""

from __future__ import annotations

from collections.abc import Callable

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
    close_logs_at,
    end_open_logs_at,
    odoo_dt,
    open_log_starts_at,
    order_of,
    unknown_loss,
)
from andon.connectors.odoo.masterdata import MARKER, WorkOrder, m2o, marker
from andon.events import Event, payload

#: marker kinds of odoo_sync's stop logs
STOP_KINDS = {"downtime", "downtime_closed"}


class OperationHandler:
    model = "mrp.workorder"
    types = ("operation.started", "operation.finished")

    def __init__(self, w: Writer) -> None:
        self.w = w
        self.finished_hooks: list[Callable[[int], None]] = []  # called with the id of each order finished

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
    def no_order(e: Event) -> Refusal:
        return Refusal("no_active_work_order", f"work center {e.work_center} has no work order in progress or "
                       f"ready for {e.type}", "release a work order for the work center in Odoo, then: "
                       "andon dlq replay")

    @staticmethod
    def unknown_order(e: Event) -> Refusal:
        return Refusal("unknown_work_order", f"work center {e.work_center} has no work order of {e.work_order!r} "
                       f"in progress or ready for {e.type} (the name is unknown there, or its order is done, "
                       "cancelled or waits for another operation)",
                       "check the work-order signal (or the MES event) names the manufacturing order running on "
                       "the machine, release that order for the work center in Odoo, then: andon dlq replay")

    def lookup(self, center: int, e: Event) -> WorkOrder | None:
        """The order an event applies to (`base.order_of`)."""
        return order_of(self.w.md, center, e)

    def _order_for(self, center: int, e: Event) -> WorkOrder:
        """The event's order (`lookup`), read again from Odoo once if the cached one is gone; none refuses the
        event (it goes to the DLQ with what to do)."""
        wo = self.lookup(center, e)
        if wo is None:
            self.w.md.reload_orders(center)
            wo = self.lookup(center, e)
            if wo is None:
                raise Refused(self.unknown_order(e) if e.work_order else self.no_order(e))
        return wo

    def _start(self, i: int, it: Inbound, center: int, found: list, batch: Batch) -> None:
        e, md = it.event, self.w.md
        if found:
            batch.record(i, it, self.model, m2o(found[0]["workorder_id"]), "button_start", "exists")
            return
        wo = self._order_for(center, e)
        outcome = "exists"
        if wo.state != "progress":
            self._button_start(wo, center)
            outcome = "applied"
        md.reload_orders(center)
        self._mark_open_log(wo.id, marker(e.event_id, "operation_started", e.occurred_at),
                            odoo_dt(e.occurred_at) if outcome == "applied" else None)
        if outcome == "applied":
            self._around_stops(wo.id, center, odoo_dt(e.occurred_at))
        batch.record(i, it, self.model, wo.id, "button_start", outcome,
                     "" if outcome == "applied" else "work order already in progress")

    def _button_start(self, wo: WorkOrder, center: int) -> None:
        try:
            self.w.client.call_button(self.model, [wo.id], "button_start")
        except OdooError as exc:
            if not isinstance(exc, OdooTransientError | OdooCircuitOpenError):
                self.w.md.reload_orders(center)
            raise

    def start_order(self, wo: WorkOrder, center: int, at: str) -> None:
        """Start a `ready` order the machine is evidently running; its time log begins at `at` (event time)."""
        self._button_start(wo, center)
        self.w.md.reload_orders(center)
        self._mark_open_log(wo.id, "", odoo_dt(at))
        self._around_stops(wo.id, center, odoo_dt(at))

    def _around_stops(self, wo_id: int, center: int, start: str) -> None:
        """Stops of the work center that Odoo holds already from after `start` (applied before this start: in the
        same batch, or on a replay) lie inside the order's new timer: split it around them, as Odoo's block flow
        would have (`ProductivityHandler.block`/`resume`). The timer ends at the first stop; a closed stop is
        followed by a segment up to the next stop, the last one open (the run goes on); an open stop leaves the
        order paused until its end (`resume`)."""
        client = self.w.client
        stops = [r for r in client.search_read(PROD, [("workcenter_id", "=", center), ("description", "like", "[andon:"),
                                                      ("date_start", ">=", start)],
                                               ["id", "date_start", "date_end", "description"], order="date_start")
                 if {k for _, k, _ in MARKER.findall(r.get("description") or "")} & STOP_KINDS]
        if not stops:
            return
        timer = client.search_read(PROD, [("workorder_id", "=", wo_id), ("date_end", "=", False)],
                                   ["id", "loss_id", "description", "date_start"], limit=1, order="id desc")
        if not timer:
            return
        t = timer[0]
        client.write(PROD, [t["id"]], {"date_end": max(stops[0]["date_start"], t["date_start"] or start)})
        text = MARKER.sub("", t.get("description") or "").strip() or "Time Tracking"
        reach = ""  # the latest stop end so far (stops may overlap)
        for k, stop in enumerate(stops):
            if not stop.get("date_end"):
                return
            reach = max(reach, stop["date_end"])
            after = stops[k + 1]["date_start"] if k + 1 < len(stops) else None
            if after is not None and after <= reach:
                continue
            vals = {"workcenter_id": center, "workorder_id": wo_id, "loss_id": m2o(t["loss_id"]),
                    "date_start": reach, "description": text}
            if after is not None:
                vals["date_end"] = after
            client.create(PROD, vals)

    def _trim_after(self, wo_id: int, end: str) -> None:
        """The order's timer segments that start after its finish (`_around_stops` split it around stops that turn
        out to be the next run's) go."""
        later = [r["id"] for r in self.w.client.search_read(PROD, [("workorder_id", "=", wo_id),
                                                                  ("date_start", ">", end)], ["id", "description"])
                 if not {k for _, k, _ in MARKER.findall(r.get("description") or "")} & (STOP_KINDS | {"quality_hold"})]
        if later:
            self.w.client.unlink(PROD, later)

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
        good = float(p.quantity - p.rejects)
        if good > 0 and wo.qty_producing != good:
            client.write(self.model, [wo.id], {"qty_producing": good})
            batch.record(i, it, self.model, wo.id, f"write qty_producing={good:g}", "applied", finished=False)
        end_open_logs_at(client, wo.id, odoo_dt(e.occurred_at))  # the run's time ends at the finish
        try:
            client.call_button(self.model, [wo.id], "button_finish")
        finally:
            md.reload_orders(center)
        close_logs_at(client, wo.id, odoo_dt(e.occurred_at))  # whatever the button closed at Odoo's clock
        self._trim_after(wo.id, odoo_dt(e.occurred_at))
        self._finished(center, e.occurred_at)
        for hook in self.finished_hooks:
            hook(wo.id)
        batch.record(i, it, self.model, wo.id, "button_finish", "applied")

    def _finished(self, center: int, at: str) -> None:
        finished_at = self.w.md.data.finished_at
        if at > finished_at.get(center, ""):
            finished_at[center] = at

    def _mark_open_log(self, wo_id: int, tag: str, date_start: str | None = None) -> bool:
        """Append the event marker to the work order's open time log (and set its start to the event time when
        given: Odoo opened it at its own clock); False when it has none."""
        return open_log_starts_at(self.w.client, wo_id, date_start or "", tag)

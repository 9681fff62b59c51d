"""`maintenance.request`: one request per `maintenance.requested` event, on the machine's equipment and team,
linked to the active work order; keyed by the marker in `description`."""

from __future__ import annotations

from andon.connectors.odoo.handlers.base import Batch, Refusal, Row, Writer, with_work_order
from andon.connectors.odoo.masterdata import marker
from andon.events import payload


class MaintenanceHandler:
    model = "maintenance.request"
    types = ("maintenance.requested",)

    def __init__(self, w: Writer) -> None:
        self.w = w

    def apply(self, rows: list[Row], batch: Batch) -> None:
        if not rows:
            return
        md = self.w.md
        existing = self.w.marked(self.model, rows)
        creates = []
        for i, it, center in rows:
            e, p = it.event, payload(it.event)
            if e.event_id in existing:
                batch.record(i, it, self.model, existing[e.event_id], "create", "exists")
                continue
            eq = md.equipment(p.equipment, center)
            if p.equipment and eq is None:
                batch.refuse(i, it, Refusal("unknown_equipment", f"Odoo has no maintenance.equipment named "
                                            f"{p.equipment!r}", "create the equipment in Odoo or fix the event"))
                continue
            team = (eq or {}).get("team") or md.data.team
            vals = {"name": f"{e.machine}: {p.detail}", "maintenance_type": p.maintenance_type,
                    "priority": p.priority, "request_date": e.occurred_at[:10],
                    "description": f"<p>{p.trigger}: {p.detail} on {e.machine} at {e.occurred_at}</p>"
                                   f"<p>{marker(e.event_id, 'maintenance', e.occurred_at)}</p>"}
            if team:
                vals["maintenance_team_id"] = team
            if eq:
                vals["equipment_id"] = eq["id"]
            creates.append((i, it, with_work_order(md, vals, center, self.model)))
        self.w.create_recorded(self.model, creates, batch)

"""`quality.alert` (the Enterprise Quality app, where installed): one alert per quality hold, besides the
Community time log that `ProductivityHandler` writes; the event finishes with that log, after this handler."""

from __future__ import annotations

from andon.connectors.odoo.handlers.base import Batch, Row, Writer, with_work_order
from andon.connectors.odoo.masterdata import marker
from andon.events import payload


class QualityAlertHandler:
    model = "quality.alert"
    types = ("quality.hold_raised",)

    def __init__(self, w: Writer) -> None:
        self.w = w

    def apply(self, rows: list[Row], batch: Batch) -> None:
        md = self.w.md
        if not rows or not md.data.has_quality_alert:
            return
        existing = self.w.marked(self.model, rows)
        creates = []
        for i, it, center in rows:
            e, p = it.event, payload(it.event)
            if e.event_id in existing:
                batch.record(i, it, self.model, existing[e.event_id], "create", "exists", finished=False)
                continue
            vals = {"title": f"Quality hold on {e.machine} ({p.rule})", "workcenter_id": center, "priority": "2",
                    "description": f"<p>{p.description}; value {p.value:.4g}, limit {p.limit:.4g}, window "
                                   f"{p.window_start} to {p.window_end}</p>"
                                   f"<p>{marker(e.event_id, 'quality_alert', e.occurred_at)}</p>"}
            if not md.schema.has(self.model, "workcenter_id"):  # comes from a quality_* bridge module
                del vals["workcenter_id"]
            creates.append((i, it, with_work_order(md, vals, center, self.model)))
        self.w.create_recorded(self.model, creates, batch, finished=False)

"""`mrp.workcenter.productivity`: time logs for downtime (`machine.downtime_started` opens one,
`machine.downtime_ended` closes it) and quality holds (a closed log with the quality loss over the window that
raised the hold; `quality.hold_released` extends it to the end of the releasing window, so the log spans the
episode). Keyed by the marker in `description`; an ended stop finds its log by work center and start, a release
its hold's log by the raise's event time. A stop opened during an order in progress first closes the order's
timers and restarts them when it ends, as Odoo's own block / unblock does."""

from __future__ import annotations

import logging
from collections import defaultdict

from andon.connectors.odoo.errors import NOT_REFUSALS, OdooError
from andon.connectors.odoo.handlers.base import (
    PROD,
    Batch,
    Inbound,
    Refusal,
    Row,
    Writer,
    end_open_logs_at,
    odoo_dt,
    open_log_starts_at,
    unknown_loss,
)
from andon.connectors.odoo.masterdata import MARKER, m2o, marker
from andon.events import payload

log = logging.getLogger(__name__)


class ProductivityHandler:
    model = PROD
    types = ("machine.downtime_started", "machine.downtime_ended", "quality.hold_raised", "quality.hold_released")

    def __init__(self, w: Writer) -> None:
        self.w = w

    def apply(self, rows: list[Row], batch: Batch) -> None:
        released = [r for r in rows if r[1].event.type == "quality.hold_released"]
        rows = [r for r in rows if r[1].event.type != "quality.hold_released"]
        if rows:
            self._logs(rows, batch)
        if released:
            self._released(released, batch)

    def _released(self, rows: list[Row], batch: Batch) -> None:
        """Each release sets `date_end` of its hold's log to the end of the releasing window (absolute)."""
        client = self.w.client
        wanted = sorted({it.event.data["raised_at"] for _, it, _ in rows})
        domain: list = [("workcenter_id", "in", sorted({c for _, _, c in rows}))] + ["|"] * (len(wanted) - 1)
        domain += [("description", "like", f" quality_hold @{at}") for at in wanted]
        logs: dict[tuple[int, str], dict] = {}
        for rec in client.search_read(PROD, domain, ["id", "workcenter_id", "date_start", "date_end",
                                                     "description"]):
            for _, kind, at in MARKER.findall(rec.get("description") or ""):
                if kind == "quality_hold":
                    logs[(m2o(rec["workcenter_id"]), at)] = rec
        writes: defaultdict[str, list[Row]] = defaultdict(list)
        for i, it, center in rows:
            p = payload(it.event)
            rec = logs.get((center, p.raised_at))
            if rec is None:
                batch.record(i, it, None, None, "none", "skipped", f"no hold log raised at {p.raised_at} on this "
                             "work center (its quality.hold_raised was refused or is not applied yet)")
                continue
            end = max(odoo_dt(p.window_end), rec["date_start"])
            if rec.get("date_end") == end:
                batch.record(i, it, PROD, rec["id"], "write date_end", "exists")
            else:
                writes[end].append((i, it, rec["id"]))
        self.w.grouped_write(PROD, "date_end", writes, batch)

    def _logs(self, rows: list[Row], batch: Batch) -> None:
        by_key, by_start = self._existing(rows)
        creates: list[tuple[int, Inbound, dict]] = []
        merged: dict[int, list[tuple[int, Inbound]]] = defaultdict(list)  # index of create -> ended events
        pending_start: dict[tuple[int, str], int] = {}
        writes: defaultdict[str, list[Row]] = defaultdict(list)
        md = self.w.md
        for i, it, center in rows:
            e = it.event
            if e.event_id in by_key:
                batch.record(i, it, PROD, by_key[e.event_id]["id"], "create", "exists")
                continue
            p = payload(e)
            if e.type == "quality.hold_raised":
                loss = md.loss(self.w.quality_loss)
                if loss is None:
                    batch.refuse(i, it, unknown_loss(self.w.quality_loss))
                    continue
                text = (f"{marker(e.event_id, 'quality_hold', e.occurred_at)} Quality hold on {e.machine} "
                        f"({p.rule}): {p.description}; value {p.value:.4g}, limit {p.limit:.4g}")
                creates.append((i, it, self.log_vals(center, loss, odoo_dt(p.window_start), text,
                                                     odoo_dt(p.window_end))))
                continue
            loss = md.loss(p.reason)
            if loss is None:
                batch.refuse(i, it, unknown_loss(p.reason))
                continue
            if e.type == "machine.downtime_started":
                start = odoo_dt(e.occurred_at)
                text = f"{marker(e.event_id, 'downtime', e.occurred_at)} {p.reason} ({p.state}) on {e.machine}"
                pending_start[(center, start)] = len(creates)
                creates.append((i, it, self.log_vals(center, loss, start, text)))
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
                creates.append((i, it, self.log_vals(center, loss, start, text, end)))
        self.block(creates)
        ids = self.w.create(PROD, creates, batch)
        for index, (i, it, _) in enumerate(creates):
            if i in ids:
                batch.record(i, it, PROD, ids[i], "create", "applied")
                for j, ended in merged.get(index, []):
                    batch.record(j, ended, PROD, ids[i], "write date_end (in create)", "applied")
            else:
                for j, ended in merged.get(index, []):
                    batch.refuse(j, ended, Refusal("start_refused", "its downtime_started was refused",
                                                   "replay both from the DLQ once the cause is fixed"))
        self.w.grouped_write(PROD, "date_end", writes, batch)
        ends: dict[int, str] = {}
        for _, it, center in rows:
            if it.event.type == "machine.downtime_ended":
                ends[center] = max(ends.get(center, ""), odoo_dt(it.event.data["ended_at"]))
        self.resume(ends)

    def block(self, creates: list[tuple[int, Inbound, dict]]) -> None:
        """Odoo's block flow (mrp.workcenter.productivity `button_block`): before a stop is opened on a work
        center, its running order's time logs are closed (`end_all`). Without it Odoo refuses an open stop linked
        to an order the integration user started: one open log per user and work order (`_check_open_time_ids`,
        "cannot be started twice")."""
        starts: dict[int, str] = {}
        for _, _, vals in creates:
            if "date_end" not in vals and vals.get("workorder_id"):
                center = vals["workcenter_id"]
                starts[center] = min(starts.get(center, vals["date_start"]), vals["date_start"])
        for center, start in sorted(starts.items()):
            wo = self.w.md.active_work_order(center)
            if wo is not None and wo.state == "progress":
                end_open_logs_at(self.w.client, wo.id, start)  # the timers end where the stop starts
                self.w.client.call_button("mrp.workorder", [wo.id], "end_all")

    def resume(self, ends: dict[int, str]) -> None:
        """After a stop ended, restart the timer of the order in progress, as the operator's Start does after
        Odoo's unblock, its log starting at the stop's end (event time). A refusal (another stop still open) leaves
        the order paused; the event was applied. An order whose timer runs already (a replayed end) is left as is."""
        client = self.w.client
        for center, end in sorted(ends.items()):
            wo = self.w.md.active_work_order(center)
            if wo is None or wo.state != "progress":
                continue
            if client.search_count(PROD, [("workorder_id", "=", wo.id), ("date_end", "=", False)]):
                continue
            try:
                client.call_button("mrp.workorder", [wo.id], "button_start")
                open_log_starts_at(client, wo.id, end)
            except NOT_REFUSALS:
                raise
            except OdooError as exc:
                log.info("work order %s stays paused after the stop: %s", wo.id, exc.odoo_message)

    def _existing(self, rows: list[Row]) -> tuple[dict[str, dict], dict[tuple[int, str], dict]]:
        """andon's logs near the rows' times (one search): by event id, and downtime logs by (center, start)."""
        stamps, centers = [], set()
        for _, it, center in rows:
            centers.add(center)
            p = it.event.data
            stamps.append(odoo_dt(p.get("started_at") or p.get("window_start") or it.event.occurred_at))
        existing = self.w.client.search_read(PROD, [("workcenter_id", "in", sorted(centers)),
                                                    ("description", "like", "[andon:"),
                                                    ("date_start", ">=", min(stamps)),
                                                    ("date_start", "<=", max(stamps))],
                                             ["id", "workcenter_id", "date_start", "date_end", "description"])
        by_key: dict[str, dict] = {}
        by_start: dict[tuple[int, str], dict] = {}
        for rec in existing:
            for key, kind, _ in MARKER.findall(rec.get("description") or ""):
                by_key[key] = rec
                if kind.startswith("downtime"):
                    by_start[(m2o(rec["workcenter_id"]), rec["date_start"])] = rec
        return by_key, by_start

    def log_vals(self, center: int, loss: dict, start: str, text: str, end: str | None = None) -> dict:
        vals = {"workcenter_id": center, "loss_id": loss["id"], "date_start": start, "description": text}
        wo = self.w.md.active_work_order(center)
        if wo is not None:
            vals["workorder_id"] = wo.id
        if end is not None:
            vals["date_end"] = max(end, start)
        return vals

"""`stock.scrap`: validated scraps of the work order's product (`action_validate`; Odoo insists on one record per
call: validations run in parallel over the loop's connections). Keyed by the marker in `origin`; a draft found on
replay is validated, a done one left alone.

`[odoo.posting] scrap = "per_work_order"` (the default): rejects reach Odoo aggregated per work order, from the
operation counts: at the order's finish and when its `operation.progress` crosses a `scrap_interval_s` boundary
or a shift end, one scrap of (the operation's rejects - what andon scrapped on that order so far, read back from
Odoo). Absolute, so a replay or an older event scraps nothing twice, and the total stays exact.
With reasons (the class's reject_reason_signal: the events' `rejects_by_reason`), one scrap per work order and
reason of (the reason's rejects - what andon scrapped on that order for that reason), and one without a reason for
the rejects none names. The reason is in the scrap's `origin` after `REASON_MARK` on every version (17 has no
reason model; andon reads its own postings back from there), and on 18+ also in `scrap_reason_tag_ids` where a
stock.scrap.reason.tag of that name exists (case-insensitive). A reason without a tag is posted all the same,
untagged, with a warning and a note in the audit trail: the parts are scrapped on the floor whether or not the ERP
has a tag for them, so stock stays right; andon creates no master data (docs/odoo-sync.md).
`production.scrap_recorded` (every window with rejects) is then analytics only. `scrap = "per_event"`: one
scrap per `production.scrap_recorded` event, as before."""

from __future__ import annotations

import logging

from andon.connectors.odoo.handlers.base import (
    PROD,
    Batch,
    Inbound,
    Refusal,
    Refused,
    Row,
    Writer,
    check_lot,
    crossed,
    order_of,
)
from andon.connectors.odoo.masterdata import m2o, marker
from andon.events import parse_iso_ms, payload

INSUFFICIENT_QTY_WIZARD = "stock.warn.insufficient.qty.scrap"
#: in a scrap's origin, after andon's marker: the reject reason of a per-reason scrap
REASON_MARK = " reject reason: "

log = logging.getLogger(__name__)


def reason_of(origin: str | None) -> str | None:
    """The reject reason andon wrote into a scrap's origin, None for a scrap without one."""
    text = origin or ""
    return text.split(REASON_MARK, 1)[1] if REASON_MARK in text else None


def shares(rejects: int, by_reason: dict[str, int] | None) -> list[tuple[str | None, int]]:
    """An operation's rejects per reason (sorted by name), then those no reason names (None)."""
    named = sorted((by_reason or {}).items())
    return [*named, (None, rejects - sum(n for _, n in named))]


class ScrapHandler:
    model = "stock.scrap"
    types = ("production.scrap_recorded", "operation.progress", "operation.finished")

    def __init__(self, w: Writer) -> None:
        self.w = w
        self.posted: dict[int, int] = {}  # work order id -> event time (ms) of its last scrap posting
        #: work order id -> (rejects, rejects per reason, the row) not posted yet
        self.pending: dict[int, tuple[int, dict | None, Row]] = {}
        self.untagged: set[str] = set()  # reasons warned about: no stock.scrap.reason.tag of that name

    def apply(self, rows: list[Row], batch: Batch) -> None:
        per_event = self.w.posting.scrap == "per_event"
        if per_event:
            self.per_event([r for r in rows if r[1].event.type == "production.scrap_recorded"], batch)
            return
        for i, it, _ in rows:
            if it.event.type == "production.scrap_recorded":
                batch.record(i, it, None, None, "none", "skipped", "rejects reach Odoo per work order, from the "
                             "operation counts ([odoo.posting] scrap = per_work_order)")
        self.per_work_order([r for r in rows if r[1].event.type != "production.scrap_recorded"], batch)

    # -- aggregated per work order ------------------------------------------------------------------------
    def per_work_order(self, rows: list[Row], batch: Batch) -> None:
        md, interval = self.w.md, self.w.posting.scrap_interval_s
        due: dict[int, tuple[int, dict | None, Row]] = {}  # work order id -> (rejects, per reason, row)
        for row in rows:
            i, it, center = row
            e, p = it.event, payload(it.event)
            finished = md.data.finished_at.get(center)
            if e.type == "operation.progress" and finished and p.since < finished:
                continue  # a finished order's: its finish posted its scrap
            wo_id = self._finished_order(e) if e.type == "operation.finished" else None
            if wo_id is None:
                wo = order_of(md, center, e)
                if wo is None:
                    continue  # refused by the quantity or operation handler
                wo_id = wo.id
            at = parse_iso_ms(e.occurred_at)
            if e.type == "operation.finished" or crossed(self.posted.get(wo_id), at, interval, self.w.shift_ends):
                due[wo_id] = (p.rejects, p.rejects_by_reason, row)
                self.posted[wo_id] = at
                self.pending.pop(wo_id, None)
            elif p.rejects:
                self.pending[wo_id] = (p.rejects, p.rejects_by_reason, row)
            if e.type == "operation.finished":
                self.posted.pop(wo_id, None)
        self._post(due, batch)

    def _finished_order(self, e) -> int | None:
        """The order a replayed `operation.finished` was applied to (its marker's log), None when it is new."""
        found = self.w.client.search_read(PROD, [("description", "like", marker(e.event_id))], ["workorder_id"],
                                          limit=1)
        return m2o(found[0]["workorder_id"]) if found else None

    def flush(self, batch: Batch) -> None:
        """Post the rejects not posted yet (end of input)."""
        due, self.pending = dict(self.pending), {}
        self._post(due, batch)

    def _post(self, due: dict[int, tuple[int, dict | None, Row]], batch: Batch) -> None:
        if not due:
            return
        w = self.w
        scrapped: dict[tuple[int, str | None], float] = {}  # (work order, reason) -> andon's scraps so far
        total: dict[int, float] = dict.fromkeys(due, 0.0)
        drafts = []
        for rec in w.client.search_read(self.model, [("workorder_id", "in", sorted(due)),
                                                     ("origin", "like", "[andon:")],
                                        ["id", "workorder_id", "scrap_qty", "state", "origin"]):
            wo_id, qty = m2o(rec["workorder_id"]), float(rec["scrap_qty"])
            key = (wo_id, reason_of(rec.get("origin")))
            scrapped[key] = scrapped.get(key, 0.0) + qty
            total[wo_id] = total.get(wo_id, 0.0) + qty
            if rec["state"] != "done":
                drafts.append(rec["id"])
        creates: list[tuple[int, Inbound, dict, str]] = []
        for wo_id, (rejects, by_reason, (i, it, center)) in due.items():
            budget = rejects - total.get(wo_id, 0.0)  # the order's scrap never passes its rejects
            for reason, count in shares(rejects, by_reason):
                quantity = min(count - scrapped.get((wo_id, reason), 0.0), budget)
                if quantity <= 0:
                    continue
                try:
                    vals = self.vals(it, center, {}, quantity=quantity)
                except Refused as exc:
                    batch.refuse(i, it, exc.refusal)
                    break
                budget -= quantity
                vals["workorder_id"] = wo_id
                creates.append((i, it, vals, self._reason(vals, reason)))
        validate = []
        while creates:  # create_many per round: one scrap per event row in each (ids come back per row)
            seen: set[int] = set()
            round_ = [c for c in creates if not (c[0] in seen or seen.add(c[0]))]
            taken = {id(c) for c in round_}
            creates = [c for c in creates if id(c) not in taken]
            ids = w.create(self.model, [(i, it, vals) for i, it, vals, _ in round_], batch)
            for i, it, vals, note in round_:
                if i in ids:
                    batch.record(i, it, self.model, ids[i], f"create scrap_qty={vals['scrap_qty']:g}", "applied",
                                 note, finished=False)
                    validate.append((i, it, ids[i]))
        for rid in drafts:  # a draft of an earlier posting (Odoo went away before its validation)
            i, it, _ = next(iter(due.values()))[2]
            validate.append((i, it, rid))
        w.parallel([(i, it, lambda client, i=i, it=it, rid=rid: self.validate(client, i, it, rid, batch))
                    for i, it, rid in validate], batch)

    def _reason(self, vals: dict, reason: str | None) -> str:
        """Put `reason` into the scrap's vals (origin; the tag where Odoo has one); returns the audit note."""
        if reason is None:
            return ""
        md = self.w.md
        vals["origin"] += REASON_MARK + reason
        if not md.scrap_reason_tags_exist:
            return f"reason {reason!r} in origin (this Odoo has no scrap reason tags)"
        tag = md.scrap_reason_tag(reason)
        if tag is not None:
            vals["scrap_reason_tag_ids"] = [(6, 0, [tag])]
            return f"reason {reason!r}"
        if reason not in self.untagged:
            self.untagged.add(reason)
            log.warning("no stock.scrap.reason.tag named %r: its scraps are posted untagged (reason in origin); "
                        "create the tag in Odoo (Inventory > Configuration > Scrap Reasons) to tag the next ones",
                        reason)
        return f"reason {reason!r} in origin only: Odoo has no stock.scrap.reason.tag of that name"

    # -- one scrap per event -------------------------------------------------------------------------------
    def per_event(self, rows: list[Row], batch: Batch) -> None:
        if not rows:
            return
        w = self.w
        keys = [marker(it.event.event_id) for _, it, _ in rows]
        existing = {}
        for start in range(0, len(keys), w.chunk * 10):
            for rec in w.client.search_read(self.model, [("origin", "in", keys[start:start + w.chunk * 10])],
                                            ["id", "origin", "state"]):
                existing[rec["origin"]] = rec
        lots = w.md.lots([it.event.data["lot"] for _, it, _ in rows if it.event.data.get("lot")])
        creates, validate = [], []
        for i, it, center in rows:
            rec = existing.get(marker(it.event.event_id))
            if rec is not None:
                if rec["state"] == "done":
                    batch.record(i, it, self.model, rec["id"], "create+validate", "exists")
                else:
                    batch.record(i, it, self.model, rec["id"], "create", "exists", finished=False)
                    validate.append((i, it, rec["id"]))
                continue
            try:
                creates.append((i, it, self.vals(it, center, lots)))
            except Refused as exc:
                batch.refuse(i, it, exc.refusal)
        ids = w.create(self.model, creates, batch)
        for i, it, _ in creates:
            if i in ids:
                batch.record(i, it, self.model, ids[i], "create", "applied", finished=False)
                validate.append((i, it, ids[i]))
        w.parallel([(i, it, lambda client, i=i, it=it, rid=rid: self.validate(client, i, it, rid, batch))
                    for i, it, rid in sorted(validate, key=lambda r: r[0])], batch)

    def vals(self, it: Inbound, center: int, lots: dict, quantity: float | None = None) -> dict:
        md = self.w.md
        e, p = it.event, payload(it.event)
        quantity = float(p.quantity) if quantity is None else quantity
        wo = order_of(md, center, e) or md.active_work_order(center)
        product = wo.product_id if wo is not None and wo.product_id else md.product_of(center)
        if product is None:
            raise Refused(Refusal("no_product", f"no work order on work center {e.work_center} names a product",
                                  "release a work order for the work center, then: andon dlq replay"))
        vals = {"product_id": product, "scrap_qty": quantity, "origin": marker(e.event_id)}
        if md.data.stock_location:
            vals["location_id"] = md.data.stock_location
        if md.data.scrap_location:
            vals["scrap_location_id"] = md.data.scrap_location
        if wo is not None:
            vals["workorder_id"] = wo.id
            if wo.production_id:
                vals["production_id"] = wo.production_id
        if getattr(p, "lot", None) and e.type == "production.scrap_recorded":
            vals["lot_id"] = check_lot(p.lot, lots.get(p.lot), product)
        elif md.tracking(product) != "none":
            vals.update(self.lot_of_order(center, product))
        return vals

    def lot_of_order(self, center: int, product: int) -> dict:
        """A tracked product's scrap without a lot in the event takes the lot its manufacturing order produces
        (the active order, else the work center's newest). Without one, Odoo <= 17 refuses the scrap
        (stock.move.line `_action_done`): andon refuses it first, saying what to set; 18/19 accept it lot-less."""
        md = self.w.md
        producing = md.producing_lot(md.last_production(center))
        if producing is not None:
            return {"lot_id": producing}
        if md.schema.lotless_tracked_scrap_refused:
            raise Refused(Refusal(
                "lot_required", f"product id {product} is tracked by lot and neither the event nor the "
                f"manufacturing order names a lot; Odoo {md.schema.major} refuses such a scrap",
                "set the manufacturing order's lot to produce in Odoo (or send the lot in the event), then: "
                "andon dlq replay"))
        return {}

    def validate(self, client, i: int, it: Inbound, rid: int, batch: Batch) -> None:
        answer = client.call_button(self.model, [rid], "action_validate")
        if isinstance(answer, dict):
            if answer.get("res_model") != INSUFFICIENT_QTY_WIZARD:
                raise Refused(Refusal("unexpected_wizard", f"action_validate opened {answer.get('res_model')}",
                                      "validate the scrap in Odoo by hand"))
            if self.w.scrap_insufficient == "refuse":
                raise Refused(Refusal("insufficient_quantity", f"Odoo warns that stock of the product is below "
                                      f"the scrap quantity (scrap id {rid} left in draft)",
                                      "correct the stock in Odoo, then: andon dlq replay"))
            client.call_button(self.model, [rid], "do_scrap")
            batch.record(i, it, self.model, rid, "action_validate+do_scrap", "applied",
                         "confirmed Odoo's insufficient-quantity warning (the parts were scrapped on the floor)")
            return
        batch.record(i, it, self.model, rid, "action_validate", "applied")

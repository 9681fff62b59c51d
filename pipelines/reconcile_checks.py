"""The comparisons of `andon reconcile` and the likely causes they name; pure functions over gathered inputs.

    found = compare(inputs)        # list[Mismatch], each with size, cause and (when possible) a corrective event
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from andon.config import SiteConfig
from andon.connectors.odoo.masterdata import MARKER, m2o
from andon.events import CountReported, Event, ScrapRecorded, iso_ms, make_event, parse_iso_ms
from andon.pipelines.reconcile_data import (
    REALTIME_KINDS,
    SHIFT_KEY,
    clipped_seconds,
    from_odoo_dt,
    shift_breaks,
    ts_ms,
)
from andon.pipelines.sync_shifts import loss_tree
from andon.reconcile_report import Mismatch

#: A stretch without readings (telemetry_agg) or live events at least this long is reported as an outage.
MIN_GAP_MS = 5 * 60_000
#: Productivity time may differ by rounding to whole seconds per record.
TIME_TOLERANCE_S = 60.0


@dataclass
class Inputs:
    """Everything one reconcile run compares, gathered by pipelines/reconcile.py."""

    site: SiteConfig
    shifts: list[dict]  # final shift_oee rows in the range (the per-shift checks compare these only)
    windows: dict[str, list[int]]  # machine -> sorted telemetry_agg window starts (ms) in the range
    events: list[Event] | None  # the events topic (None: not read)
    audit: list[dict] | None  # odoo_sync's audit trail (None: not available)
    workorders: list[dict]  # open and recently done mrp.workorder records
    centers: dict[str, int]  # work center code -> id
    logs: list[dict]  # andon-keyed mrp.workcenter.productivity records ([andon:...] and [andon-shift:...])
    scraps: list[dict]  # andon-keyed stock.scrap records
    now_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    #: provisional shift_oee rows (shift not over when input ended): only the open work order check reads them,
    #: since the open order holds the running shift's count
    provisional: list[dict] = field(default_factory=list)


def compare(inp: Inputs) -> list[Mismatch]:
    causes = Causes(inp)
    found = workorder_quantities(inp, causes) + scrap_quantities(inp, causes) + productivity(inp, causes)
    for m in found:
        m.site = inp.site.site.id
    return sorted(found, key=lambda m: (m.work_center, m.shift_id, m.kind, m.loss or ""))


# -- causes ----------------------------------------------------------------------------------------------------
class Causes:
    """Finds the likely cause of a mismatch: outages (gaps in readings or live events), hand edits in Odoo (a
    write_date after andon's last write to the record per the audit trail), dead-lettered events."""

    def __init__(self, inp: Inputs) -> None:
        self.inp = inp
        zone = inp.site.zone
        self._fmt = lambda ms: datetime.fromtimestamp(ms / 1000, UTC).astimezone(zone).strftime("%H:%M")
        self._zone = lambda ms: datetime.fromtimestamp(ms / 1000, UTC).astimezone(zone).strftime("%Z")
        self.last_write: dict[tuple[str, int], int] = {}
        self.dead: dict[tuple[str, str], int] = defaultdict(int)
        for rec in inp.audit or []:
            if rec.get("outcome") == "applied" and rec.get("model") and rec.get("record_id"):
                key = (rec["model"], int(rec["record_id"]))
                self.last_write[key] = max(self.last_write.get(key, 0), parse_iso_ms(rec["at"]))
            elif rec.get("outcome") == "dead_letter":
                self.dead[(rec["machine"], rec["type"])] += 1
        self.counts: dict[str, list[int]] = defaultdict(list)
        self.down: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for e in inp.events or []:
            if e.type == "production.count_reported":
                self.counts[e.machine].append(parse_iso_ms(e.data["window_start"]))
            elif e.type == "machine.downtime_ended":
                self.down[e.machine].append((parse_iso_ms(e.data["started_at"]), parse_iso_ms(e.data["ended_at"])))
        for times in self.counts.values():
            times.sort()

    def hand_edit(self, model: str, record: dict) -> str | None:
        written = self.last_write.get((model, record["id"]))
        changed = from_odoo_dt(record["write_date"]) if record.get("write_date") else None
        if written is not None and changed is not None and changed >= written // 1000 * 1000 + 1000:
            return (f"edited in Odoo by hand: {model} {record.get('name') or record['id']} changed at "
                    f"{record['write_date']} UTC, after andon's last write at {iso_ms(written)}")
        return None

    def outage(self, machine: str, lo: int, hi: int) -> str | None:
        """Readings missing in telemetry_agg, else live events missing (while the shop floor record is complete)."""
        gaps = _gaps(self.inp.windows.get(machine, []), _span(self.inp.windows, lo, hi), self.inp.site.
                     processing.window_s * 1000, [])
        if gaps:
            return f"gateway outage: no readings {self._stretches(gaps)} on {machine}"
        if self.inp.events is not None:
            gaps = _gaps(self.counts.get(machine, []), _span(self.counts, lo, hi), 60_000, self.down.get(machine, []))
            if gaps:
                return (f"gateway outage: no live readings {self._stretches(gaps)} on {machine} (the shop-floor "
                        "record is complete: the gap is in what reached Odoo)")
        return None

    def _stretches(self, gaps: list[tuple[int, int]]) -> str:
        return ", ".join(f"{self._fmt(a)}–{self._fmt(b)}" for a, b in gaps) + f" {self._zone(gaps[0][0])}"

    def dead_letters(self, machine: str, type_: str) -> str | None:
        n = self.dead.get((machine, type_), 0)
        return f"{n} {type_} event(s) of {machine} dead-lettered by odoo_sync (see andon dlq)" if n else None


def _span(series: dict[str, list[int]], lo: int, hi: int) -> tuple[int, int] | None:
    """First and last time any machine has data within [lo, hi): the stretch every machine should cover."""
    inside = [t for times in series.values() for t in times if lo <= t < hi]
    return (min(inside), max(inside)) if inside else None


def _gaps(times: list[int], span: tuple[int, int] | None, step: int, covered: list[tuple[int, int]]
          ) -> list[tuple[int, int]]:
    """Stretches of at least MIN_GAP_MS inside `span` without a point of `times` (every `step`), not `covered`."""
    if span is None:
        return []
    lo, hi = span
    points = sorted(t for t in times if lo <= t <= hi)
    edges = [lo - step, *points, hi + step]
    out = []
    for a, b in zip(edges, edges[1:], strict=False):
        start, end = a + step, b
        if end - start >= MIN_GAP_MS and not any(s <= start and end <= e + step for s, e in covered):
            out.append((start, end))
    return out


def _cause(*candidates: str | None, default: str) -> str:
    return next((c for c in candidates if c), default)


# -- work order quantities ---------------------------------------------------------------------------------------
def _active_order(orders: list[dict], center: int) -> dict | None:
    mine = sorted((o for o in orders if m2o(o["workcenter_id"]) == center), key=lambda o: o["id"])
    for state in ("progress", "ready"):
        for o in mine:
            if o["state"] == state:
                return o
    return None


def workorder_quantities(inp: Inputs, causes: Causes) -> list[Mismatch]:
    """The open work order of each work center holds the good count of the machine's latest shift (odoo_sync
    writes shift-cumulative absolute counts to the active order)."""
    latest: dict[str, dict] = {}
    for row in inp.shifts + inp.provisional:
        if row["machine"] not in latest or row["shift_start"] > latest[row["machine"]]["shift_start"]:
            latest[row["machine"]] = row
    last_event_shift = {}
    for e in inp.events or []:
        if e.type == "production.count_reported":
            prev = last_event_shift.get(e.machine)
            if prev is None or e.occurred_at > prev[0]:
                last_event_shift[e.machine] = (e.occurred_at, e.data["shift_id"])
    out = []
    for machine, row in sorted(latest.items()):
        if machine in last_event_shift and last_event_shift[machine][1] > row["shift_id"]:
            continue  # the machine has moved on to a later shift (outside the range): its order holds that one
        center = inp.centers.get(row["work_center"])
        order = _active_order(inp.workorders, center) if center else None
        if order is None:
            continue
        expected, actual = float(row["good_count"]), float(order.get("qty_producing") or 0.0)
        if expected == actual:
            continue
        start, end = ts_ms(row["shift_start"]), ts_ms(row["shift_end"])
        cause = _cause(causes.hand_edit("mrp.workorder", order), causes.outage(machine, start, end),
                       causes.dead_letters(machine, "production.count_reported"),
                       default="count events not applied (yet): is odoo_sync running and caught up?")
        event = make_event("production.count_reported", site=inp.site.site.id, machine=machine,
                           occurred_at_ms=end, detected_at_ms=inp.now_ms, work_center=row["work_center"],
                           discriminator=f"reconcile:wo{order['id']}:{row['good_count']}",
                           data=CountReported(shift_id=row["shift_id"], window_start=iso_ms(end - 60_000),
                                              window_end=iso_ms(end), total_count=int(row["total_count"]),
                                              good_count=int(row["good_count"]),
                                              reject_count=int(row["reject_count"]), window_total=0,
                                              window_rejects=0))
        m = Mismatch("workorder_qty", machine, row["work_center"], row["shift_id"], order.get("name"), None,
                     expected, actual, "parts", cause,
                     detail=f"qty_producing of work order id {order['id']} ({order['state']})",
                     fix=f"emit production.count_reported good_count={row['good_count']} (absolute)")
        out.append(_attach(m, event))
    return out


def _attach(m: Mismatch, event: Event) -> Mismatch:
    m.fix_event_id = event.event_id
    FIXES[event.event_id] = event
    return m


#: Corrective events of the current run by id (read by pipelines/reconcile.py after compare()).
FIXES: dict[str, Event] = {}


# -- scrap -------------------------------------------------------------------------------------------------------
def scrap_quantities(inp: Inputs, causes: Causes) -> list[Mismatch]:
    """Scrap validated in Odoo for a machine and shift (by the event each stock.scrap is keyed to) equals the
    shift's reject count. Needs the events topic to place each scrap in its shift."""
    if inp.events is None:
        return []
    where = {e.event_id: (e.machine, e.data["shift_id"]) for e in inp.events
             if e.type == "production.scrap_recorded"}
    in_odoo: dict[tuple[str, str], float] = defaultdict(float)
    for rec in inp.scraps:
        for key, _, _ in MARKER.findall(rec.get("origin") or ""):
            if key in where and rec.get("state") == "done":
                in_odoo[where[key]] += float(rec.get("scrap_qty") or 0.0)
    out = []
    for row in inp.shifts:
        machine, shift = row["machine"], row["shift_id"]
        expected, actual = float(row["reject_count"]), in_odoo.get((machine, shift), 0.0)
        if expected == actual:
            continue
        start, end = ts_ms(row["shift_start"]), ts_ms(row["shift_end"])
        cause = _cause(causes.outage(machine, start, end), causes.dead_letters(machine, "production.scrap_recorded"),
                       default="scrap events not applied (yet): is odoo_sync running and caught up?")
        m = Mismatch("scrap", machine, row["work_center"], shift, None, None, expected, actual, "parts", cause,
                     detail="sum of validated stock.scrap keyed to this shift's scrap events")
        if expected > actual:
            missing = int(expected - actual)
            event = make_event("production.scrap_recorded", site=inp.site.site.id, machine=machine,
                               occurred_at_ms=end, detected_at_ms=inp.now_ms, work_center=row["work_center"],
                               discriminator=f"reconcile:{shift}:{row['reject_count']}:{int(actual)}",
                               data=ScrapRecorded(shift_id=shift, window_start=iso_ms(start), window_end=iso_ms(end),
                                                  quantity=missing, shift_reject_count=int(row["reject_count"])))
            m.fix = f"emit production.scrap_recorded quantity={missing}"
            out.append(_attach(m, event))
        else:
            m.fix = "not fixable through events (Odoo holds more scrap than the shop floor): review in Odoo"
            out.append(m)
    return out


# -- productivity logs -------------------------------------------------------------------------------------------
def productivity(inp: Inputs, causes: Causes) -> list[Mismatch]:
    """Per synced shift (one with sync-shifts records), Odoo's logged time per loss (andon's real-time stops and
    the shift summary) equals the shift's loss tree."""
    summary: dict[tuple[str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    realtime: dict[int, list[dict]] = defaultdict(list)
    for log in inp.logs:
        text = log.get("description") or ""
        key = SHIFT_KEY.search(text)
        loss = log["loss_id"][1] if log.get("loss_id") else "?"
        if key:
            seconds = (from_odoo_dt(log["date_end"]) - from_odoo_dt(log["date_start"])) / 1000 if log.get(
                "date_end") else 0.0
            summary[(key.group(2), key.group(3))][loss] += seconds
        elif {kind for _, kind, _ in MARKER.findall(text)} & set(REALTIME_KINDS):
            realtime[m2o(log["workcenter_id"])].append(log)
    out = []
    for row in inp.shifts:
        synced = summary.get((row["work_center"], row["shift_id"]))
        if synced is None:
            continue  # not synced yet (sync-shifts runs after the shift): nothing to compare
        start, end = ts_ms(row["shift_start"]), ts_ms(row["shift_end"])
        breaks = shift_breaks(inp.site, start)
        odoo = defaultdict(float, synced)
        for log in realtime.get(inp.centers.get(row["work_center"], -1), []):
            odoo[log["loss_id"][1]] += clipped_seconds(log["date_start"], log.get("date_end"), start, end,
                                                       inp.now_ms, breaks)
        tree = {item.loss: item.seconds for item in loss_tree(row, inp.site.site.id)}
        for loss in sorted(set(tree) | set(odoo)):
            expected, actual = tree.get(loss, 0.0), odoo.get(loss, 0.0)
            if abs(expected - actual) <= TIME_TOLERANCE_S:
                continue
            cause = _cause(causes.outage(row["machine"], start, end) if actual > expected else None,
                           default=("real-time stops in Odoo exceed the shop floor's time for this loss"
                                    if actual > expected else
                                    "shift_oee changed after sync-shifts ran (replay or late data)"))
            out.append(Mismatch("productivity", row["machine"], row["work_center"], row["shift_id"], None, loss,
                                expected, actual, "s", cause,
                                detail="andon real-time logs (clipped to the shift, breaks excluded) + shift summary",
                                fix=("run andon sync-shifts for this date" if actual < expected else
                                     "not fixable through events: shorten or re-classify the stop in Odoo")))
    return out

"""The comparisons of `andon reconcile` and the likely causes they name; pure functions over gathered inputs.

    found = compare(inputs)        # list[Mismatch], each with size, cause and (when possible) a corrective event
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from andon.config import SiteConfig
from andon.connectors.odoo.handlers.scrap import reason_of
from andon.connectors.odoo.masterdata import MARKER, m2o
from andon.events import Event, OperationProgress, ScrapRecorded, event_id, iso_ms, make_event, parse_iso_ms
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
    #: Parquet `operations` rows (work-order runs, final and provisional) in the range
    operations: list[dict] = field(default_factory=list)
    #: the work orders' timers (mrp.workcenter.productivity on an order, loss type productive or performance,
    #: andon's or not): the productive time Odoo holds (None: not read)
    timers: list[dict] | None = None


def compare(inp: Inputs) -> list[Mismatch]:
    causes = Causes(inp)
    found = (workorder_quantities(inp, causes) + scrap_quantities(inp, causes) + productivity(inp, causes)
             + downtime_logs(inp, causes) + productive_logs(inp, causes))
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


def _runs(rows: list[dict]) -> dict[str, list[dict]]:
    """machine -> its work-order runs from the Parquet `operations` rows, in order (a final row of a run wins over
    provisional ones, else the one that covers most)."""
    best: dict[tuple[str, int], dict] = {}
    for r in rows:
        key = (r["machine"], ts_ms(r["since"]))
        prev = best.get(key)
        if prev is None or (bool(r["final"]), ts_ms(r["covers_until"])) > (bool(prev["final"]),
                                                                            ts_ms(prev["covers_until"])):
            best[key] = r
    out: dict[str, list[dict]] = defaultdict(list)
    for (machine, _), r in sorted(best.items()):
        out[machine].append(r)
    return out


def workorder_quantities(inp: Inputs, causes: Causes) -> list[Mismatch]:
    """Per work-order run (Parquet `operations`): the good parts (`qty_producing`) and the scrap Odoo holds on the
    order equal the shop floor's. A finished run's order is the one whose time log carries its `operation.finished`
    marker (the event id is deterministic: type, site, machine, finish time); the running one is the work
    center's order in progress, compared once its counts are older than the posting interval (odoo_sync
    coalesces quantities)."""
    finished_on: dict[str, int] = {}
    for log in inp.logs:
        for key, kind, _ in MARKER.findall(log.get("description") or ""):
            if kind == "operation_finished" and log.get("workorder_id"):
                finished_on[key] = m2o(log["workorder_id"])
    orders = {o["id"]: o for o in inp.workorders}
    scrapped: dict[int, float] = defaultdict(float)
    by_reason: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for rec in inp.scraps:
        if rec.get("state") == "done" and rec.get("workorder_id"):
            scrapped[m2o(rec["workorder_id"])] += float(rec.get("scrap_qty") or 0.0)
            reason = reason_of(rec.get("origin"))
            if reason is not None:
                by_reason[m2o(rec["workorder_id"])][reason] += float(rec.get("scrap_qty") or 0.0)
    lag_ms = inp.site.odoo.posting.quantity_interval_s * 1000
    site_id = inp.site.site.id
    out = []
    for machine, runs in sorted(_runs(inp.operations).items()):
        code = runs[-1]["work_center"]
        center = inp.centers.get(code)
        for n, run in enumerate(runs):
            done = bool(run["final"])
            until = ts_ms(run["covers_until"])
            if done:
                finish_id = event_id("operation.finished", site_id, machine, ts_ms(run["finish"]), "changeover")
                order = orders.get(finished_on.get(finish_id, -1))
            else:
                if n != len(runs) - 1 or until > inp.now_ms - lag_ms:
                    continue  # an older provisional row, or still within the posting interval
                order = _active_order(inp.workorders, center) if center else None
                if order is not None and order["state"] != "progress":
                    order = None
            if order is None:
                continue  # no Odoo order holds this run (its events were refused or not applied): see the DLQ
            since = ts_ms(run["since"])
            if run.get("rejects_by_reason") is not None:
                out += _reason_scrap(inp, machine, code, run, order, by_reason.get(order["id"], {}), until)
            for kind, expected, actual in (("workorder_qty", float(run["good"]),
                                            float(order.get("qty_producing") or 0.0)),
                                           ("scrap", float(run["rejects"]), scrapped.get(order["id"], 0.0))):
                if expected == actual:
                    continue
                cause = _cause(causes.hand_edit("mrp.workorder", order) if kind == "workorder_qty" else None,
                               causes.outage(machine, since, until),
                               causes.dead_letters(machine, "operation.progress"),
                               default="operation events not applied (yet): is odoo_sync running and caught up?")
                m = Mismatch(kind, machine, code, _shift_of(inp, until), order.get("name"), None, expected,
                             actual, "parts", cause,
                             detail=(f"{'qty_producing' if kind == 'workorder_qty' else 'validated scrap'} of work "
                                     f"order id {order['id']} ({order['state']}) vs the run's "
                                     f"{'good parts' if kind == 'workorder_qty' else 'rejects'} from "
                                     f"{iso_ms(since)} to {iso_ms(until)}"))
                if done or (kind == "scrap" and expected < actual):
                    m.fix = "not fixable through events (the run is finished in Odoo): correct the order in Odoo"
                    out.append(m)
                    continue
                first = run.get("first_part_at")
                event = make_event("operation.progress", site=site_id, machine=machine, occurred_at_ms=until,
                                   detected_at_ms=inp.now_ms, work_center=code,
                                   discriminator=f"reconcile:wo{order['id']}:{run['good']}:{run['rejects']}",
                                   data=OperationProgress(quantity=int(run["parts"]), rejects=int(run["rejects"]),
                                                          since=iso_ms(since),
                                                          first_part_at=iso_ms(ts_ms(first)) if first else None))
                m.fix = f"emit operation.progress parts={run['parts']} rejects={run['rejects']} (absolute)"
                out.append(_attach(m, event))
    return out


def _reason_scrap(inp: Inputs, machine: str, code: str, run: dict, order: dict, odoo: dict[str, float],
                  until: int) -> list[Mismatch]:
    """Per reject reason of a run (Parquet `rejects_by_reason` against the validated scraps on its order whose
    origin names that reason): which reason a scrap mismatch is in, or a scrap under the wrong reason with the
    right total."""
    floor = {item["reason"]: float(item["rejects"]) for item in run["rejects_by_reason"] or []}
    out = []
    for reason in sorted(set(floor) | set(odoo)):
        expected, actual = floor.get(reason, 0.0), odoo.get(reason, 0.0)
        if expected == actual:
            continue
        out.append(Mismatch("scrap_reason", machine, code, _shift_of(inp, until), order.get("name"), reason,
                            expected, actual, "parts",
                            "a scrap of this reason is missing or extra on the order in Odoo (created or changed by "
                            "hand, or scrap postings not applied yet)",
                            detail=f"validated scrap of work order id {order['id']} with origin reason {reason!r} "
                                   f"vs the run's rejects of that reason",
                            fix=("replay the run's operation events (andon dlq replay)" if actual < expected else
                                 "not fixable through events: correct the scraps in Odoo")))
    return out


def _shift_of(inp: Inputs, at_ms: int) -> str:
    """The shift (in the range) a run's last event falls in: (start, end], so a finish at the end is that shift's."""
    for row in inp.shifts:
        if ts_ms(row["shift_start"]) < at_ms <= ts_ms(row["shift_end"]):
            return row["shift_id"]
    return ""


def _attach(m: Mismatch, event: Event) -> Mismatch:
    m.fix_event_id = event.event_id
    FIXES[event.event_id] = event
    return m


#: Corrective events of the current run by id (read by pipelines/reconcile.py after compare()).
FIXES: dict[str, Event] = {}


# -- scrap -------------------------------------------------------------------------------------------------------
def scrap_quantities(inp: Inputs, causes: Causes) -> list[Mismatch]:
    """With `[odoo.posting] scrap = per_event`: scrap validated in Odoo for a machine and shift (by the event each
    stock.scrap is keyed to) equals the shift's reject count. Needs the events topic to place each scrap in its
    shift. (Per work order, the default, is compared by `workorder_quantities`.)"""
    if inp.events is None or inp.site.odoo.posting.scrap != "per_event":
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


# -- real-time downtime logs per work center and shift -------------------------------------------------------
def downtime_logs(inp: Inputs, causes: Causes) -> list[Mismatch]:
    """Per work center and final shift, the downtime odoo_sync logged in real time (its `downtime` time logs, clipped
    to the shift, planned breaks excluded) per loss equals the shift's `downtime_by_reason` in Parquet, within
    TIME_TOLERANCE_S: a stop log missing, cut short, too long or under another loss is found whether or not
    sync-shifts ran. Summary logs of sync-shifts are compared by `productivity`."""
    realtime: dict[int, list[dict]] = defaultdict(list)
    for log in inp.logs:
        text = log.get("description") or ""
        if not SHIFT_KEY.search(text) and {kind for _, kind, _ in MARKER.findall(text)} & set(REALTIME_KINDS):
            realtime[m2o(log["workcenter_id"])].append(log)
    out = []
    for row in inp.shifts:
        start, end = ts_ms(row["shift_start"]), ts_ms(row["shift_end"])
        breaks = shift_breaks(inp.site, start)
        odoo: dict[str, float] = defaultdict(float)
        for log in realtime.get(inp.centers.get(row["work_center"], -1), []):
            odoo[log["loss_id"][1] if log.get("loss_id") else "?"] += clipped_seconds(
                log["date_start"], log.get("date_end"), start, end, inp.now_ms, breaks)
        floor = {reason: float(seconds) for reason, seconds in _reasons(row.get("downtime_by_reason"))}
        for loss in sorted(set(floor) | {k for k, v in odoo.items() if v > 0}):
            expected, actual = floor.get(loss, 0.0), odoo.get(loss, 0.0)
            if abs(expected - actual) <= TIME_TOLERANCE_S:
                continue
            cause = _cause(causes.outage(row["machine"], start, end) if actual < expected else None,
                           causes.dead_letters(row["machine"], "machine.downtime_started") if actual < expected
                           else None,
                           default=("a stop's time log is missing or cut short in Odoo (edited or deleted?)"
                                    if actual < expected else
                                    "a stop's time log in Odoo is longer than the stop, or under another loss"))
            out.append(Mismatch("downtime_log", row["machine"], row["work_center"], row["shift_id"], None, loss,
                                expected, actual, "s", cause,
                                detail="odoo_sync's real-time downtime logs (clipped to the shift, breaks excluded) "
                                       "vs shift_oee downtime_by_reason",
                                fix=("replay the stop's machine.downtime_* events (andon dlq replay) or restore "
                                     "the log in Odoo" if actual < expected else
                                     "not fixable through events: correct the stop's time log in Odoo")))
    return out


def _reasons(value) -> list[tuple[str, float]]:
    """shift_oee's downtime_by_reason (a list of {reason, seconds}) as (reason, seconds) pairs."""
    return [(item["reason"], float(item["seconds"] or 0.0)) for item in value or []]


# -- productive time of the work orders per work center and shift ---------------------------------------------
#: kinds of andon's markers on time logs that are not an order's running time
NOT_PRODUCTIVE_KINDS = ("downtime", "downtime_closed", "quality_hold")


def productive_logs(inp: Inputs, causes: Causes) -> list[Mismatch]:
    """Per work center and final shift, the time its work orders' timers ran in Odoo (productive and performance
    logs on an order: the operation logs odoo_sync starts at the first part and closes at the finish, split by
    each downtime as Odoo's block flow does; clipped to the shift, planned breaks excluded) equals the shop
    floor's productive time: the planned time the machine's readings cover in the shift minus its downtime
    (shift_oee; micro-stops are run time inside an order's timer). Both over the stretch the readings cover (a
    timer still open counts up to the last reading). Slack: TIME_TOLERANCE_S plus two ideal cycles
    per work-order run in the shift, since a timer starts at the run's first counted part, not when counting
    began. A timer deleted, cut short, left open or started at the wrong time is found."""
    if inp.timers is None:
        return []
    timers: dict[int, list[dict]] = defaultdict(list)
    for log in inp.timers:
        text = log.get("description") or ""
        if SHIFT_KEY.search(text) or {k for _, k, _ in MARKER.findall(text)} & set(NOT_PRODUCTIVE_KINDS):
            continue
        if log.get("workorder_id") and log.get("workcenter_id"):
            timers[m2o(log["workcenter_id"])].append(log)
    window_ms = inp.site.processing.window_s * 1000
    runs = _runs(inp.operations)
    cycle = {m.id: m.ideal_cycle_time_s for m in inp.site.machines}
    out = []
    for row in inp.shifts:
        machine, start, end = row["machine"], ts_ms(row["shift_start"]), ts_ms(row["shift_end"])
        seen = [t for t in inp.windows.get(machine, []) if start - window_ms < t < end]
        if not seen:
            continue
        lo, hi = max(start, seen[0]), min(end, seen[-1] + window_ms)  # what the readings cover
        breaks = shift_breaks(inp.site, start)
        span = (hi - lo - sum(max(0, min(hi, e) - max(lo, s)) for s, e in breaks)) / 1000
        planned_stops = max(0.0, _planned_seconds(start, end, breaks) - float(row["planned_time_s"]))
        expected = max(0.0, span - planned_stops - float(row["downtime_s"]))
        actual = sum(clipped_seconds(log["date_start"], log.get("date_end"), lo, hi, inp.now_ms, breaks)
                     for log in timers.get(inp.centers.get(row["work_center"], -1), []))
        starts = sum(1 for r in runs.get(machine, []) if r.get("first_part_at") is not None
                     and start <= ts_ms(r["first_part_at"]) < end)
        slack = TIME_TOLERANCE_S + 2 * cycle.get(machine, 0.0) * (starts + 1) + window_ms / 1000
        if abs(expected - actual) <= slack:
            continue
        cause = _cause(causes.outage(machine, start, end) if actual < expected else None,
                       causes.dead_letters(machine, "operation.progress") if actual < expected else None,
                       default=("an order's time log is missing, cut short or was never started in Odoo (deleted, "
                                "edited, or the order was not in progress?)" if actual < expected else
                                "an order's time log in Odoo runs longer than the machine ran (left open, edited, "
                                "or a stop without its downtime log?)"))
        out.append(Mismatch("productive_log", machine, row["work_center"], row["shift_id"], None, None, expected,
                            actual, "s", cause,
                            detail=f"work orders' timers (productive and performance logs, clipped to the shift, "
                                   f"breaks excluded) vs the covered planned time minus downtime; slack {slack:.0f} s",
                            fix=("replay the machine's operation events (andon dlq replay) or restore the order's "
                                 "time log in Odoo" if actual < expected else
                                 "not fixable through events: correct the order's time log in Odoo")))
    return out


def _planned_seconds(start: int, end: int, breaks: tuple[tuple[int, int], ...]) -> float:
    """The shift's length minus its breaks."""
    return (end - start - sum(max(0, min(end, e) - max(start, s)) for s, e in breaks)) / 1000

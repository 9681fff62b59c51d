"""`andon sync-shifts`: shift summaries (Parquet shift_oee) to Odoo as `mrp.workcenter.productivity` records, one
per work center, shift and loss, idempotent.

    andon sync-shifts --config site.toml --parquet /var/lib/andon/parquet --from 2026-03-02 --to 2026-03-03 [--dry-run]

A shift's planned time is split into a loss tree (Nakajima/Vorne; see docs/reconcile.md):

    planned = fully productive + performance loss + quality loss + each downtime reason
    fully productive ("Fully Productive Time")  = ideal cycle time x good count
    quality loss     ("Process Defect")         = ideal cycle time x reject count
    performance loss ("Reduced Speed")          = run time - ideal cycle time x total count (micro-stops included
                                                   under the Nakajima policy)
    downtime         (loss named by the reason) = downtime seconds of that reason

Real stops that odoo_sync already logged in Odoo during the shift (its `[andon:<event>]` logs)
are subtracted from their loss, so Odoo's logs of a shift add up to the shift's planned time instead of counting a
stop twice. Each record carries `[andon-shift:<site>/<work center>/<shift>/<loss>]` in its description; a run
finds earlier records by that key and writes only what changed, so a second run writes nothing.
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from dataclasses import dataclass

from andon.config import SiteConfig, load_site
from andon.connectors.odoo.masterdata import MARKER, m2o
from andon.errors import AndonError
from andon.pipelines.reconcile_data import (
    PROD,
    REALTIME_KINDS,
    SHIFT_KEY,
    check_parquet_root,
    clipped_seconds,
    date_range,
    final_rows,
    odoo_client,
    odoo_dt,
    read_dataset,
    shift_breaks,
    shift_key,
    ts_ms,
)
from andon.progressbar import ProgressLine

PRODUCTIVE, PERFORMANCE, QUALITY = "Fully Productive Time", "Reduced Speed", "Process Defect"


@dataclass(frozen=True, slots=True)
class ShiftLoss:
    """One loss of one work center in one shift, in seconds, before laying it out in time."""

    site: str
    machine: str
    work_center: str
    shift_id: str
    shift_start_ms: int
    shift_end_ms: int
    loss: str
    seconds: float

    @property
    def key(self) -> str:
        return shift_key(self.site, self.work_center, self.shift_id, self.loss)


def loss_tree(row: dict, site: str) -> list[ShiftLoss]:
    """The losses of one shift_oee row, in seconds, in a fixed order (productive, performance, quality, downtime)."""
    ideal = float(row["ideal_cycle_time_s"])
    run = max(float(row["run_time_s"]), 0.0)
    productive = ideal * int(row["good_count"])
    quality = ideal * int(row["reject_count"])
    made = productive + quality
    if made > run > 0:  # faster than the ideal cycle time: scale so the tree still adds up to planned time
        productive, quality = productive * run / made, quality * run / made
    elif run <= 0:
        productive = quality = 0.0
    performance = max(run - productive - quality, 0.0)
    parts = [(PRODUCTIVE, productive), (PERFORMANCE, performance), (QUALITY, quality)]
    parts += [(r["reason"], float(r["seconds"])) for r in sorted(row["downtime_by_reason"] or [],
                                                                   key=lambda r: r["reason"])]
    start, end = ts_ms(row["shift_start"]), ts_ms(row["shift_end"])
    return [ShiftLoss(site, row["machine"], row["work_center"], row["shift_id"], start, end, name, secs)
            for name, secs in parts]


@dataclass
class Plan:
    """What a run would do: records to create, to rewrite, and how many are already right."""

    creates: list[tuple[ShiftLoss, dict]]
    writes: list[tuple[ShiftLoss, int, dict]]
    unchanged: int
    shifts: int


def realtime_seconds(client, centers: dict[str, int], lo_ms: int, hi_ms: int) -> dict[tuple[int, str], list]:
    """(work center id, loss name) -> [(date_start, date_end)] of odoo_sync's stop and hold logs near the range."""
    if not centers:
        return {}
    logs = client.search_read(PROD, [("workcenter_id", "in", sorted(centers.values())),
                                     ("description", "like", "[andon:"),
                                     ("date_start", "<", odoo_dt(hi_ms)),
                                     ("date_start", ">=", odoo_dt(lo_ms - 7 * 86_400_000))],
                              ["workcenter_id", "loss_id", "date_start", "date_end", "description"])
    out: dict[tuple[int, str], list] = defaultdict(list)
    for log in logs:
        kinds = {kind for _, kind, _ in MARKER.findall(log.get("description") or "")}
        if kinds & set(REALTIME_KINDS) and log.get("loss_id"):
            out[(m2o(log["workcenter_id"]), log["loss_id"][1])].append((log["date_start"], log.get("date_end")))
    return out


def plan_sync(client, site: SiteConfig, rows: list[dict], now_ms: int | None = None) -> Plan:
    """Compare the loss trees of `rows` with what Odoo holds; nothing is written here."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    centers = {wc["code"]: wc["id"] for wc in client.search_read("mrp.workcenter", [], ["id", "code"])
               if wc.get("code")}
    losses = {loss["name"]: loss for loss in client.search_read("mrp.workcenter.productivity.loss", [],
                                                                ["id", "name", "loss_type"])}
    trees = [loss_tree(row, site.site.id) for row in rows]
    missing_wc = sorted({t[0].work_center for t in trees if t and t[0].work_center not in centers})
    if missing_wc:
        raise AndonError(f"Odoo has no work center with code {', '.join(missing_wc)}",
                         hint="create the work centers in Odoo or fix work_center in the site config")
    missing_loss = sorted({s.loss for t in trees for s in t if s.loss not in losses and s.seconds > 0})
    if missing_loss:
        raise AndonError(f"Odoo has no productivity loss named {', '.join(repr(n) for n in missing_loss)}",
                         hint="create them in Odoo (Manufacturing > Configuration > Productivity Losses)")
    ids = sorted({centers[t[0].work_center] for t in trees if t})
    existing = {}
    if ids:
        for rec in client.search_read(PROD, [("workcenter_id", "in", ids), ("description", "like", "[andon-shift:")],
                                      ["id", "loss_id", "date_start", "date_end", "description"]):
            match = SHIFT_KEY.search(rec.get("description") or "")
            if match:
                existing[match.group(0)] = rec
    lo = min((t[0].shift_start_ms for t in trees if t), default=0)
    hi = max((t[0].shift_end_ms for t in trees if t), default=0)
    realtime = realtime_seconds(client, {c: centers[c] for c in {t[0].work_center for t in trees if t}}, lo, hi)
    plan = Plan([], [], 0, len(trees))
    for tree in trees:
        cursor = tree[0].shift_start_ms if tree else 0
        center = centers[tree[0].work_center] if tree else 0
        breaks = shift_breaks(site, cursor) if tree else ()
        for item in tree:
            logged = sum(clipped_seconds(a, b, item.shift_start_ms, item.shift_end_ms, now_ms, breaks)
                         for a, b in realtime.get((center, item.loss), []))
            seconds = round(max(item.seconds - logged, 0.0))
            vals = {"workcenter_id": center, "loss_id": losses[item.loss]["id"] if item.loss in losses else False,
                    "date_start": odoo_dt(cursor), "date_end": odoo_dt(cursor + seconds * 1000),
                    "description": describe(item, seconds, logged)}
            cursor += seconds * 1000
            rec = existing.get(item.key)
            if rec is None:
                if seconds > 0:
                    plan.creates.append((item, vals))
                continue
            same = (m2o(rec["loss_id"]) == vals["loss_id"] and rec["date_start"] == vals["date_start"]
                    and rec.get("date_end") == vals["date_end"])
            if same:
                plan.unchanged += 1
            else:
                plan.writes.append((item, rec["id"], vals))
    return plan


def describe(item: ShiftLoss, seconds: int, logged: float) -> str:
    text = f"{item.key} shift summary {item.shift_id} on {item.machine}: {seconds / 60:.1f} min {item.loss}"
    if logged:
        text += f" (of {item.seconds / 60:.1f} min; {logged / 60:.1f} min logged by real-time stops)"
    return text


def apply_plan(client, plan: Plan, progress) -> int:
    """Create and rewrite the planned records; returns how many records were written."""
    written = 0
    for start in range(0, len(plan.creates), 100):
        chunk = plan.creates[start:start + 100]
        client.create_many(PROD, [vals for _, vals in chunk])
        written += len(chunk)
        progress(written, len(plan.creates) + len(plan.writes))
    for _item, rid, vals in plan.writes:
        client.write(PROD, [rid], {k: v for k, v in vals.items() if k != "workcenter_id"})
        written += 1
        progress(written, len(plan.creates) + len(plan.writes))
    return written




def main(argv: list[str]) -> int:
    """`andon sync-shifts ARGS...` as a function: its exit status."""
    from andon.cli import invoke
    from andon.pipelines.batch_cli import sync_shifts

    return invoke(sync_shifts, argv, "andon sync-shifts")


def run(args) -> int:
    """The sync-shifts job on parsed options (see `andon sync-shifts --help`)."""
    site = load_site(args.config)
    lo, hi = date_range(args.start, args.end)
    root = check_parquet_root(args.parquet)
    rows, provisional = final_rows(read_dataset(root, "shift_oee", site, lo, hi))
    print(f"sync-shifts: {len(rows)} final shift summaries of {site.site.id} from {lo} to {hi}"
          + (f"; {provisional} provisional left for a later run (shift not over when input ended)"
             if provisional else ""), file=sys.stderr)
    with odoo_client(site) as client:
        plan = plan_sync(client, site, rows)
        if args.dry_run:
            print_plan(plan)
            return 0
        if plan.creates or plan.writes:
            with ProgressLine("sync-shifts", unit="records written") as bar:
                apply_plan(client, plan, bar.update)
    print(f"sync-shifts: {plan.shifts} shifts, {len(plan.creates)} records created, {len(plan.writes)} updated, "
          f"{plan.unchanged} already right", file=sys.stderr)
    return 0


def print_plan(plan: Plan) -> None:
    rows = [("create", item, vals) for item, vals in plan.creates] + [("update", item, vals)
                                                                      for item, _, vals in plan.writes]
    print(f"{'action':<7} {'work center':<14} {'shift':<18} {'loss':<24} {'minutes':>8}  from -> to (UTC)")
    for action, item, vals in rows:
        minutes = (_secs(vals["date_end"]) - _secs(vals["date_start"])) / 60
        print(f"{action:<7} {item.work_center:<14} {item.shift_id:<18} {item.loss:<24} {minutes:8.1f}  "
              f"{vals['date_start']} -> {vals['date_end'][11:]}")
    print(f"dry run: {len(plan.creates)} to create, {len(plan.writes)} to update, {plan.unchanged} already right; "
          "nothing written")


def _secs(text: str) -> int:
    from andon.pipelines.reconcile_data import from_odoo_dt

    return from_odoo_dt(text) // 1000

"""`andon reconcile`: compare what the shop floor recorded (Parquet shift_oee and telemetry_agg, the events topic)
with what Odoo holds (work order quantities, scrap, productivity logs) per work center, work order and shift.

    andon reconcile --config site.toml --parquet DIR --from 2026-03-02 --to 2026-03-03 --out DIR [--fix]

Writes DIR/mismatches.parquet, DIR/reconcile.html and DIR/summary.json, prints a table, and exits 0 when the two
agree, 1 when mismatches remain, 2 on an error. `--fix` produces corrective events (absolute counts, missing scrap)
to the events topic, where odoo_sync applies them idempotently and audits them like any other event; it never
writes Odoo itself. See docs/reconcile.md.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from andon.config import SiteConfig, load_site
from andon.errors import AndonError
from andon.events import Event, EventError, decode_event, encode_event, iso_ms
from andon.pipelines import reconcile_checks
from andon.pipelines.reconcile_checks import Inputs, compare
from andon.pipelines.reconcile_data import (
    PROD,
    check_parquet_root,
    date_range,
    final_rows,
    odoo_client,
    odoo_dt,
    read_dataset,
    ts_ms,
)
from andon.reconcile_report import Mismatch, html_report, terminal_table, write_parquet


def _step(text: str) -> None:
    print(f"reconcile: {text}", file=sys.stderr, flush=True)


def kafka_config(site: SiteConfig, bootstrap: str | None) -> dict:
    conf = site.kafka.client_config()
    if bootstrap:
        conf["bootstrap.servers"] = bootstrap
    return conf


def read_events(site: SiteConfig, args) -> list[Event] | None:
    """The events topic (or --events FILE); None with --no-events."""
    if args.no_events:
        return None
    if args.events:
        raw = Path(args.events).read_bytes().splitlines()
    else:
        from andon.connectors.kafka import read_topic

        try:
            raw = [m.value() for m in read_topic(kafka_config(site, args.bootstrap_servers), site.topics.events,
                                                 idle_s=args.eof_idle)]
        except Exception as exc:  # KafkaException, KafkaIOError: both mean "cannot read the topic"
            raise AndonError(f"cannot read the events topic {site.topics.events}: {exc}",
                             hint="set ANDON_KAFKA_BOOTSTRAP_SERVERS or --bootstrap-servers, pass --events FILE, "
                                  "or --no-events to compare without events") from None
    events = []
    for line in raw:
        try:
            events.append(decode_event(line))
        except EventError:
            continue  # the events DLQ's business; reconcile compares what is valid
    return [e for e in events if e.site == site.site.id]


def read_audit(path: str | None) -> list[dict] | None:
    from andon.connectors.odoo.journal import read_audit as read

    if path is None or not Path(path).exists():
        return None
    return read(path)


def gather(site: SiteConfig, root: Path, lo, hi, args, client) -> Inputs:
    table = read_dataset(root, "shift_oee", site, lo, hi)
    shifts, _ = final_rows(table)
    provisional = [r for r in table.to_pylist() if not r["final"]]
    _step(f"{len(shifts)} final shift summaries in Parquet"
          + (f"; {len(provisional)} provisional (shift not over when input ended) compared with open work orders "
             "only" if provisional else ""))
    windows: dict[str, list[int]] = {}
    if shifts or provisional:
        first = min(ts_ms(r["shift_start"]) for r in shifts + provisional)
        last = max(ts_ms(r["shift_end"]) for r in shifts + provisional)
        agg_lo = datetime.fromtimestamp(first / 1000, UTC).date()
        agg_hi = datetime.fromtimestamp(last / 1000, UTC).date() + timedelta(days=1)
        agg = read_dataset(root, "telemetry_agg", site, agg_lo, agg_hi).select(["machine", "window_start"])
        for machine, start in zip(agg.column("machine").to_pylist(), agg.column("window_start").to_pylist(),
                                  strict=True):
            windows.setdefault(machine, []).append(int(start.timestamp() * 1000))
        for times in windows.values():
            times[:] = sorted(set(times))
        _step(f"{agg.num_rows} telemetry_agg rows of {len(windows)} machines")
    events = read_events(site, args)
    _step("events: not read" if events is None else f"{len(events)} events from {args.events or site.topics.events}")
    audit = read_audit(args.audit)
    _step("audit trail: none" if audit is None else f"{len(audit)} audit records from {args.audit}")
    centers = {wc["code"]: wc["id"] for wc in client.search_read("mrp.workcenter", [], ["id", "code"])
               if wc.get("code")}
    operations = read_dataset(root, "operations", site, lo - timedelta(days=7), hi).to_pylist()
    _step(f"{len(operations)} work-order run rows (operations) in Parquet")
    codes = sorted({r["work_center"] for r in shifts + provisional + operations})
    ids = [centers[c] for c in codes if c in centers]
    workorders = client.search_read("mrp.workorder", [("workcenter_id", "in", ids)],
                                    ["id", "name", "workcenter_id", "state", "qty_producing", "qty_produced",
                                     "write_date"]) if ids else []
    logs, scraps, timers = [], [], None
    spans = [(ts_ms(r["shift_start"]), ts_ms(r["shift_end"])) for r in shifts + provisional] + [
        (ts_ms(r["since"]), ts_ms(r["covers_until"])) for r in operations]
    if spans and ids:
        lo_ms = min(a for a, _ in spans) - 7 * 86_400_000
        hi_ms = max(b for _, b in spans) + 1000
        logs = client.search_read(PROD, [("workcenter_id", "in", ids), ("description", "like", "[andon"),
                                         ("date_start", ">=", odoo_dt(lo_ms)), ("date_start", "<", odoo_dt(hi_ms))],
                                  ["id", "workcenter_id", "workorder_id", "loss_id", "date_start", "date_end",
                                   "description"])
        scraps = client.search_read("stock.scrap", [("origin", "like", "[andon:")],
                                    ["id", "origin", "scrap_qty", "state", "workorder_id"])
        timers = client.search_read(PROD, [("workcenter_id", "in", ids), ("workorder_id", "!=", False),
                                           ("loss_type", "in", ["productive", "performance"]),
                                           ("date_start", ">=", odoo_dt(lo_ms)), ("date_start", "<", odoo_dt(hi_ms))],
                                    ["id", "workcenter_id", "workorder_id", "loss_id", "date_start", "date_end",
                                     "description"])
    _step(f"Odoo: {len(workorders)} work orders, {len(logs)} andon productivity logs, {len(scraps)} andon scraps")
    return Inputs(site, shifts, windows, events, audit, workorders, centers, logs, scraps, provisional=provisional,
                  operations=operations, timers=timers)


def emit(site: SiteConfig, events: list[Event], bootstrap: str | None) -> int:
    """Produce corrective events to the events topic (idempotent producer, key = machine)."""
    from confluent_kafka import Producer

    from andon.connectors.kafka import producer_config

    producer = Producer(producer_config(kafka_config(site, bootstrap)))
    failed: list[str] = []

    def report(err, msg) -> None:
        if err is not None:
            failed.append(str(err))

    for e in events:
        headers = [("andon.event_type", e.type.encode()), ("andon.event_id", e.event_id.encode()),
                   ("andon.producer", b"reconcile")]
        if e.correlation_id:
            headers.append(("andon.correlation_id", e.correlation_id.encode()))
        producer.produce(site.topics.events, encode_event(e), e.machine.encode(), headers=headers, on_delivery=report)
    left = producer.flush(30)
    if left or failed:
        raise AndonError(f"{left or len(failed)} corrective events were not delivered: {failed[:1]}",
                         hint="check the broker; running reconcile --fix again emits the same events (same ids)")
    return len(events)


def main(argv: list[str]) -> int:
    """`andon reconcile ARGS...` as a function: its exit status."""
    from andon.cli import invoke
    from andon.pipelines.batch_cli import reconcile

    return invoke(reconcile, argv, "andon reconcile")


def run(args) -> int:
    """The reconcile job on parsed options (see `andon reconcile --help`); 0 when all agree, 1 on mismatches."""
    site = load_site(args.config)
    lo, hi = date_range(args.start, args.end)
    root = check_parquet_root(args.parquet)
    out = Path(args.out) if args.out else root / "reconcile" / f"{lo}_{hi}"
    started = time.time()
    reconcile_checks.FIXES.clear()
    with odoo_client(site) as client:
        inputs = gather(site, root, lo, hi, args, client)
    found = compare(inputs)
    fixes = [reconcile_checks.FIXES[m.fix_event_id] for m in found if m.fix_event_id]
    emitted = emit(site, fixes, args.bootstrap_servers) if args.fix and fixes else 0
    notes = []
    if inputs.audit is None:
        notes.append(f"no audit trail at {args.audit}: hand edits in Odoo cannot be told from andon's writes")
    if inputs.events is None:
        notes.append("events not read: the scrap comparison was skipped")
    if emitted:
        notes.append(f"{emitted} corrective events emitted to {site.topics.events}; odoo_sync applies them, then "
                     "reconcile again to confirm")
    checked = iso_ms(int(started * 1000))
    meta = {"site": site.site.id, "range": f"{lo} to {hi}", "checked_at": checked, "notes": notes,
            "cards": {"shifts compared": len(inputs.shifts), "corrective events": emitted}}
    write_parquet(found, out / "mismatches.parquet", int(started * 1000))
    (out / "reconcile.html").write_text(html_report(found, meta), encoding="utf-8")
    summary = {"site": site.site.id, "from": str(lo), "to": str(hi), "checked_at": checked,
               "mismatches": len(found), "by_kind": _by_kind(found), "fix_events": emitted,
               "fixable": sum(1 for m in found if m.fix_event_id), "notes": notes,
               "report": str(out / "reconcile.html"), "parquet": str(out / "mismatches.parquet")}
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    sys.stdout.write(terminal_table(found))
    for note in notes:
        print(f"note: {note}")
    print(f"reconcile: {len(found)} mismatches; report {out / 'reconcile.html'}", file=sys.stderr)
    return 1 if found else 0


def _by_kind(found: list[Mismatch]) -> dict[str, int]:
    out: dict[str, int] = {}
    for m in found:
        out[m.kind] = out.get(m.kind, 0) + 1
    return out

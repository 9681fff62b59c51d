"""`andon demo`: the whole main job on embedded defaults, end to end, on loopback.

Starts the embedded broker, simulates the example plant (an accelerated shift) into Kafka, runs the telemetry
dataflow on it, then applies the business events to the Odoo stand-in with `andon run odoo-sync`, and ends with
per-machine OEE beside the simulator's ground truth, what Odoo received beside what the shop floor did, the Parquet
paths and a PNG chart.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import click

from andon.cli_env import Command, config_option, option
from andon.errors import AndonError
from andon.progressbar import ProgressLine


class _Counter:
    def __init__(self) -> None:
        self.sent = 0
        self.done = False


def _produce(sim, bootstrap: str, topic: str, speed: float, counter: _Counter, errors: list) -> None:
    from andon.simulator.output import KafkaSink, run

    class Counting(KafkaSink):
        def write(self, key, value, emit_ms):
            super().write(key, value, emit_ms)
            counter.sent += 1

    try:
        run(sim, [Counting(bootstrap, topic)], speed=speed)
    except Exception as exc:  # reported by the main thread
        errors.append(exc)
    finally:
        counter.done = True


def _scrape(port: int) -> float:
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=1) as resp:
            for line in resp.read().decode().splitlines():
                if line.startswith("andon_readings_in_total "):
                    return float(line.split()[1])
    except OSError:
        pass
    return 0.0


@click.command(cls=Command, name="demo", help=__doc__.splitlines()[0].split(": ", 1)[1].capitalize())
@config_option("site TOML (default: the example plant)", required=False)
@option("--machines", type=int, default=20, show_default=True, help="machines simulated")
@option("--hours", type=float, default=8.0, show_default=True, help="simulated hours")
@option("--seed", type=int, default=7, show_default=True, help="random seed of the simulated plant")
@option("--speed", type=float, default=480.0, show_default=True,
        help="simulated seconds per wall second (480: an 8-hour shift in one minute; 0 = as fast as possible)")
@option("--out", default="demo-out", show_default=True, metavar="DIR", help="output directory")
@option("--broker", type=click.Choice(("auto", "kafka", "tansu")), default=None,
        help="broker engine: Apache Kafka where a JDK and `make kafka`'s jars are present, else Tansu (default auto)")
def cli(**params) -> int:
    args = SimpleNamespace(**params)
    from andon.config import example_site_path, load_site
    from andon.connectors.broker import EmbeddedBroker, free_port, site_topics
    from andon.simulator import Simulation

    config = Path(args.config or example_site_path())
    site = load_site(config)
    out = Path(args.out).resolve()
    sim = Simulation(site, machines=args.machines, hours=args.hours, seed=args.seed)
    print(f"andon demo: {args.machines} machines of {site.site.id}, {args.hours:g} h from "
          f"{sim.start_ms} (epoch ms), speed x{args.speed:g}; output in {out}", flush=True)
    with EmbeddedBroker(site_topics(site), engine=args.broker, partitions=site.topics.partitions) as broker:
        print(f"broker: {broker.label} on {broker.bootstrap}", flush=True)
        counter, errors = _Counter(), []
        producer = threading.Thread(target=_produce, daemon=True,
                                    args=(sim, broker.bootstrap, site.topics.telemetry, args.speed, counter, errors))
        metrics_port = int(os.environ.get("ANDON_METRICS_PORT") or 0) or free_port()
        env = {**os.environ, "ANDON_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap}
        flow_cmd = [sys.executable, "-m", "andon.cli", "run", "telemetry", "--config", str(config),
                    "--out", str(out), "--eof-idle", "8", "--metrics-port", str(metrics_port),
                    "--now", str(sim.end_ms)]
        started = time.monotonic()
        producer.start()
        flow_log = out / "telemetry.log"  # a file, not a pipe: a chatty child can never block on a full pipe
        out.mkdir(parents=True, exist_ok=True)
        with open(flow_log, "wb") as sink:
            flow = subprocess.Popen(flow_cmd, env=env, stdout=sink, stderr=subprocess.STDOUT)
        with ProgressLine("demo") as bar:
            while flow.poll() is None:
                processed = _scrape(metrics_port)
                elapsed = time.monotonic() - started
                bar.update(processed, text=f"simulated {counter.sent:,} readings -> Kafka; dataflow processed "
                                           f"{processed:,.0f} ({elapsed:,.0f} s)")
                time.sleep(0.5)
        producer.join()
        log = flow_log.read_text(errors="replace")
        if errors:
            raise AndonError(f"the simulator failed: {errors[0]}")
        if flow.returncode != 0:
            raise AndonError(f"the telemetry dataflow exited with status {flow.returncode}:\n{log[-3000:]}")
        from andon.connectors.kafka import read_topic

        kafka = {"bootstrap.servers": broker.bootstrap}
        with open(out / "events.jsonl", "wb") as fh:
            fh.writelines(m.value() + b"\n" for m in read_topic(kafka, site.topics.events))
        dead = read_topic(kafka, site.topics.telemetry_dlq)
        odoo_summary = odoo_loop(out, config, site, broker.bootstrap)
    truth = sim.truth()
    report(out, truth, counter.sent, time.monotonic() - started, len(dead))
    report_odoo(out, odoo_summary)
    report_orders(odoo_summary, truth)
    return 0


#: Work orders the demo's "planner" releases per work center besides the seeded one, so changeovers find work.
EXTRA_WORK_ORDERS = 6
#: Odoo calls per second for the demo (the example site's 50/s would make the Odoo part last a minute and a half).
DEMO_RATE_LIMIT = 400
ODOO_MODELS = ("mrp.workcenter.productivity", "stock.scrap", "maintenance.request", "mrp.workorder")


def odoo_loop(out: Path, config: Path, site, bootstrap: str) -> dict:
    """Start the stand-in, release work orders, run `andon run odoo-sync` on the events topic; returns counts."""
    import shutil

    from andon.config import OdooSettings
    from andon.connectors.kafka import read_topic
    from andon.connectors.odoo import OdooClient
    from andon.connectors.odoo.journal import read_audit
    from andon.connectors.standin import run_standin

    data = out / "odoo-standin"
    shutil.rmtree(data, ignore_errors=True)
    for name in ("odoo-audit.jsonl", "odoo-ledger.sqlite3"):
        (out / name).unlink(missing_ok=True)
    # The integration user's secrets: from the environment when set (as in production), else demo defaults.
    password = os.environ.get("ANDON_ODOO_PASSWORD") or "andon-demo-integration"
    api_key = os.environ.get("ANDON_ODOO_API_KEY") or None
    with run_standin(data, integration_password=password, integration_api_key=api_key, config=config) as odoo:
        print(f"\nOdoo stand-in on {odoo.url} (data in {data})", flush=True)
        admin = OdooClient(OdooSettings(url=odoo.url, username="admin", password="admin", transport="xmlrpc",
                                        rate_limit_per_s=10_000), rate_limit=False)
        with admin:
            release_work_orders(admin)
            before = {m: admin.search_count(m, []) for m in ODOO_MODELS}
            env = {**os.environ, "ANDON_KAFKA_BOOTSTRAP_SERVERS": bootstrap, "ANDON_ODOO_URL": odoo.url,
                   "ANDON_ODOO_PASSWORD": password}
            cmd = [sys.executable, "-m", "andon.cli", "run", "odoo-sync", "--config", str(config), "--eof-idle", "5",
                   "--audit", str(out / "odoo-audit.jsonl"), "--ledger", str(out / "odoo-ledger.sqlite3"),
                   "--rate-limit", str(DEMO_RATE_LIMIT)]
            started = time.monotonic()
            sync_log = out / "odoo-sync.log"
            with open(sync_log, "wb") as sink:
                sync = subprocess.Popen(cmd, env=env, stdout=sink, stderr=subprocess.STDOUT)
            audit = out / "odoo-audit.jsonl"
            with ProgressLine("demo") as bar:
                while sync.poll() is None:
                    lines = audit.read_bytes().count(b"\n") if audit.exists() else 0
                    bar.update(lines, text=f"odoo-sync: {lines:,} audit lines, {odoo.stats()['calls']:,} Odoo calls "
                                           f"({time.monotonic() - started:,.0f} s)")
                    time.sleep(0.5)
            log = sync_log.read_text(errors="replace")
            if sync.returncode != 0:
                raise AndonError(f"odoo-sync exited with status {sync.returncode}:\n{log[-3000:]}")
            after = {m: admin.search_count(m, []) for m in ODOO_MODELS}
            scrapped = sum(r["scrap_qty"] for r in admin.search_read("stock.scrap", [("state", "=", "done")],
                                                                     ["scrap_qty"]))
            done = admin.search_count("mrp.workorder", [("state", "=", "done")])
            downtime_logs = admin.search_count("mrp.workcenter.productivity", [("description", "like", " downtime")])
            holds = admin.search_count("mrp.workcenter.productivity", [("description", "like", " quality_hold")])
            calls = odoo.stats()["calls"]
            orders = admin.search_read("mrp.workorder", [], ["id", "workcenter_id", "state", "qty_producing"],
                                       order="id")
            scraps = admin.search_read("stock.scrap", [("state", "=", "done")], ["workorder_id", "scrap_qty"])
        dlq = read_topic({"bootstrap.servers": bootstrap}, site.topics.events_dlq, idle_s=1.0)
    outcomes: dict[str, int] = {}
    qty_writes = 0
    for record in read_audit(audit):
        outcomes[record["outcome"]] = outcomes.get(record["outcome"], 0) + 1
        qty_writes += record["outcome"] == "applied" and record["operation"].startswith("write qty_producing")
    return {"before": before, "after": after, "scrapped": scrapped, "done": done, "downtime_logs": downtime_logs,
            "holds": holds, "calls": calls, "seconds": time.monotonic() - started, "dead_letters": len(dlq),
            "dlq_reasons": _reasons(dlq), "outcomes": outcomes, "audit": str(audit), "url": odoo.url,
            "qty_writes": qty_writes, "orders": orders, "scraps": scraps}


def _reasons(messages) -> dict[str, int]:
    out: dict[str, int] = {}
    for m in messages:
        reason = dict(m.headers() or []).get("andon.dlq.reason", b"?").decode()
        out[reason] = out.get(reason, 0) + 1
    return out


def release_work_orders(admin) -> None:
    """What a planner would do: confirm further manufacturing orders, one ready work order each, per work center;
    a lot-tracked product's order names the lot it produces, like the first one (Odoo needs it to finish, 17 to
    scrap)."""
    centers = admin.search_read("mrp.workcenter", [], ["id", "code"])
    first = {wo["workcenter_id"][0]: wo for wo in admin.search_read(
        "mrp.workorder", [], ["workcenter_id", "product_id", "production_id"], order="id")}
    fields = admin.fields_get("mrp.production", ["type"])
    lot_field = next((f for f in ("lot_producing_id", "lot_producing_ids") if f in fields), None)
    for center in centers:
        seed = first.get(center["id"])
        if seed is None:
            continue
        product = seed["product_id"][0]
        lot = {}
        if lot_field and seed.get("production_id"):
            value = admin.read("mrp.production", [seed["production_id"][0]], [lot_field])[0][lot_field]
            if value:
                lot = {lot_field: value[0] if lot_field == "lot_producing_id" else [(6, 0, list(value))]}
        for n in range(EXTRA_WORK_ORDERS):
            mo = admin.create("mrp.production", {"product_id": product, "product_qty": 1000.0, "state": "confirmed",
                                                 "origin": f"demo plan {center['code']} #{n + 2}", **lot})
            admin.create("mrp.workorder", {"name": f"Run {n + 2} on {center['code']}", "workcenter_id": center["id"],
                                           "production_id": mo, "state": "ready"})


def report_odoo(out: Path, s: dict) -> None:
    """What Odoo received beside what the shop floor did (from the events the telemetry dataflow emitted)."""
    events: dict[str, int] = {}
    scrap_parts = 0
    for line in (out / "events.jsonl").read_bytes().splitlines():
        e = json.loads(line)
        events[e["type"]] = events.get(e["type"], 0) + 1
        if e["type"] == "production.scrap_recorded":
            scrap_parts += e["data"]["quantity"]
    added = {m: s["after"][m] - s["before"][m] for m in ODOO_MODELS}
    print(f"\nOdoo ({s['url']}), {s['calls']:,} calls in {s['seconds']:,.1f} s; shop floor vs Odoo:")
    rows = [
        ("downtimes", events.get("machine.downtime_started", 0), "mrp.workcenter.productivity (downtime)",
         s["downtime_logs"]),
        ("quality holds", events.get("quality.hold_raised", 0), "mrp.workcenter.productivity (quality)", s["holds"]),
        ("scrap windows", events.get("production.scrap_recorded", 0), "stock.scrap (records)", added["stock.scrap"]),
        ("scrapped parts", scrap_parts, "stock.scrap (done, scrap_qty)", int(s["scrapped"])),
        ("maintenance requests", events.get("maintenance.requested", 0), "maintenance.request",
         added["maintenance.request"]),
        ("operations finished", events.get("operation.finished", 0), "mrp.workorder done", s["done"]),
        ("count reports", events.get("production.count_reported", 0), "qty_producing writes (coalesced)",
         s["qty_writes"]),
    ]
    print(f"  {'shop floor':<22} {'events':>8}   {'Odoo':<40} {'records':>8}")
    for label, n, model, odoo_n in rows:
        print(f"  {label:<22} {n:>8,}   {model:<40} {'' if odoo_n is None else f'{odoo_n:,}':>8}")
    print(f"  audit outcomes: {', '.join(f'{k} {v:,}' for k, v in sorted(s['outcomes'].items()))}")
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(s["dlq_reasons"].items())) or "none"
    print(f"  events DLQ: {s['dead_letters']} ({reasons}); audit trail: {s['audit']}")


def report_orders(s: dict, truth: dict) -> None:
    """Per work order: the good parts and scrap Odoo holds beside the simulator's truth of that run, and the
    records andon created per machine-shift."""
    by_center: dict[str, list[dict]] = {}
    for wo in s["orders"]:  # the orders andon ran, in the order it ran them (the oldest ready one each time);
        if wo["state"] in ("progress", "done"):  # orders nobody ran (still waiting or ready) hold no run
            by_center.setdefault(wo["workcenter_id"][1].split(" ")[0], []).append(wo)
    scrapped: dict[int, float] = {}
    for rec in s["scraps"]:
        if rec["workorder_id"]:
            scrapped[rec["workorder_id"][0]] = scrapped.get(rec["workorder_id"][0], 0.0) + rec["scrap_qty"]
    exact = runs = 0
    lines = []
    for machine, mt in truth["per_machine"].items():
        orders = by_center.get(mt["work_center"], [])
        cells = []
        for op, wo in zip(mt["operations"], orders, strict=False):
            got, got_scrap = wo["qty_producing"], scrapped.get(wo["id"], 0.0)
            ok = got == op["good"] and got_scrap == op["rejects"]
            exact += ok
            runs += 1
            cells.append(f"{got:g}/{op['good']}" + ("" if got_scrap == op["rejects"] else
                                                     f" (scrap {got_scrap:g}/{op['rejects']})") + ("" if ok else " ✗"))
        lines.append(f"  {machine:<10} {'  '.join(cells)}")
    print("\nWork orders in Odoo vs the simulator's truth, per run (produced qty_producing / true good parts; "
          "scrap shown where it differs):")
    print("\n".join(lines))
    print(f"  {exact} of {runs} work-order runs exact (produced and scrapped)")
    shifts = sum(1 for mt in truth["per_machine"].values() for sh in mt["shifts"] if sh["window_end_ms"] >
                 sh["window_start_ms"])
    created = sum(s["after"][m] - s["before"][m] for m in ODOO_MODELS if m != "mrp.workorder")
    downtimes = s["downtime_logs"]
    operations = sum(1 for wo in s["orders"] if wo["state"] in ("progress", "done"))
    target = (2 * downtimes + 2 * operations + 2 * shifts) / max(1, shifts)
    print(f"  records andon created in Odoo: {created:,} = {created / max(1, shifts):.1f} per machine-shift "
          f"({shifts} machine-shifts; target at most 2 x downtimes + 2 x operations + 2 = {target:.1f})")


def report(out: Path, truth: dict, sent: int, seconds: float, dead_letters: int) -> None:
    import polars as pl

    shifts = pl.scan_parquet(str(out / "shift_oee" / "**" / "*.parquet"), hive_partitioning=True).collect()
    truth_oee = {(m, s["shift_id"]): s["oee"] for m, t in truth["per_machine"].items() for s in t["shifts"]}
    rows = shifts.sort(["machine", "shift_id"]).select(
        "machine", "shift_id", "availability", "performance", "quality", "oee", "total_count", "downtime_s")
    print(f"\n{sent:,} readings in {seconds:,.1f} s. Per-machine OEE (andon vs simulator ground truth):")
    print(f"{'machine':<10} {'shift':<18} {'A':>6} {'P':>6} {'Q':>6} {'OEE':>6} {'truth':>6} {'parts':>7} "
          f"{'down min':>8}")
    for r in rows.iter_rows(named=True):
        expected = truth_oee.get((r["machine"], r["shift_id"]))
        print(f"{r['machine']:<10} {r['shift_id']:<18} {r['availability']:6.3f} {r['performance']:6.3f} "
              f"{r['quality']:6.3f} {r['oee']:6.3f} {'' if expected is None else f'{expected:6.3f}':>6} "
              f"{r['total_count']:7d} {r['downtime_s'] / 60:8.1f}")
    events: dict[str, int] = {}
    events_path = out / "events.jsonl"
    if events_path.exists():
        for line in events_path.read_bytes().splitlines():
            kind = json.loads(line)["type"]
            events[kind] = events.get(kind, 0) + 1
    chart = oee_chart(rows, out / "oee.png")
    print(f"\nbusiness events on Kafka: {sum(events.values()):,} ({', '.join(f'{k} {v}' for k, v in sorted(events.items()))})")
    print(f"dead letters (telemetry DLQ): {dead_letters:,}; events copied to {out / 'events.jsonl'}")
    print("\nParquet datasets:")
    for dataset in ("shift_oee", "telemetry_agg"):
        files = sorted((out / dataset).rglob("*.parquet"))
        print(f"  {out / dataset}  ({len(files)} files)")
    print(f"  data dictionary: {out / 'DATA_DICTIONARY.md'}")
    print(f"OEE chart: {chart}")


def oee_chart(rows, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{m}\n{s[-5:]}" if rows["shift_id"].n_unique() > 1 else m
              for m, s in zip(rows["machine"], rows["shift_id"], strict=True)]
    fig, ax = plt.subplots(figsize=(max(8, len(labels) * 0.45), 4.5))
    x = range(len(labels))
    ax.bar(x, rows["oee"].to_list(), color="#2b7bba", label="OEE")
    ax.plot(x, rows["availability"].to_list(), "o", color="#e6550d", label="availability")
    ax.plot(x, rows["performance"].to_list(), "s", color="#31a354", label="performance")
    ax.plot(x, rows["quality"].to_list(), "^", color="#756bb1", label="quality")
    ax.set_xticks(list(x), labels, rotation=90, fontsize=7)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("ratio")
    ax.set_title("OEE per machine and shift")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv: list[str]) -> int:
    """`andon demo ARGS...` as a function: its exit status."""
    from andon.cli import invoke

    return invoke(cli, argv, "andon demo")

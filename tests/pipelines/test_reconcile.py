"""`andon reconcile` end to end: a demo-like run with two injected faults (a gateway outage on press-03 and a work
order quantity edited by hand on WC-PRESS-02), real Tansu, the stand-in over HTTP, `andon run odoo-sync`; reconcile
finds exactly those (per work-order run, against Parquet `operations`; every finished run matches exactly), `--fix` repairs them through the events topic and odoo_sync, a second reconcile is clean; the
HTML report renders in headless Chromium."""

from __future__ import annotations

import json
import time
import uuid

import polars as pl
import pytest
from flowtools import andon, chromium, drop_readings, parquet_of, site_config
from odoo_variants import PARAMS, admin_client
from odoosync_tools import produce, run_sync

from andon.simulator import DEFAULT_START_MS, Simulation

pytestmark = [pytest.mark.broker, pytest.mark.odoo]

HOURS = 4
OUTAGE = (DEFAULT_START_MS + (HOURS * 60 - 20) * 60_000, DEFAULT_START_MS + HOURS * 3_600_000)  # last 20 minutes


@pytest.fixture(scope="module")
def floor(tmp_path_factory, site):
    """The shop floor once (the same for every Odoo): the complete Parquet record and the live events."""
    root = tmp_path_factory.mktemp("reconcile")
    trace = root / "trace.jsonl"
    Simulation(site, machines=3, hours=HOURS, seed=10).write_jsonl(trace)
    # The gateway of press-03 loses its link for the last 20 minutes: the live stream never carries those
    # readings. Its store-and-forward buffer reaches the historian, and the Parquet record is replayed complete.
    assert drop_readings(trace, root / "live.jsonl", "press-03", *OUTAGE) == 20 * 60
    andon("replay", str(trace), "--out", str(root / "shop"))
    andon("replay", str(root / "live.jsonl"), "--out", str(root / "live"))
    return root


@pytest.fixture(scope="module", params=PARAMS)
def plant(request, tmp_path_factory, floor, broker):
    """The run up to the first reconcile, per Odoo variant: live events in Kafka applied to Odoo by odoo_sync,
    shift summaries synced, and the two faults injected."""
    variant = request.param
    root = tmp_path_factory.mktemp(f"reconcile-{variant.id}")
    config, topics = site_config(root, broker, f"rc{uuid.uuid4().hex[:6]}")
    produce(broker, topics[2], (floor / "live" / "events.jsonl").read_bytes().splitlines())
    with variant.standin(root / "odoo") as odoo:
        env = variant.env(odoo, broker)
        run_sync(config, root, env)
        admin = admin_client(odoo)
        andon("sync-shifts", "--config", str(config), "--parquet", str(floor / "shop"), "--from", "2026-03-02",
              "--to", "2026-03-02", env=env)
        time.sleep(1.1)  # Odoo's write_date has whole seconds: the hand edit comes visibly after andon's write
        (order,) = admin.search_read("mrp.workorder", [("workcenter_id.code", "=", "WC-PRESS-02"),
                                                        ("state", "in", ["ready", "progress"])], ["qty_producing"])
        admin.write("mrp.workorder", order["id"], {"qty_producing": order["qty_producing"] - 100})
        yield {"root": root, "shop": floor / "shop", "config": config, "env": env, "odoo": odoo, "admin": admin,
               "topics": topics}


def reconcile(plant, out: str, *extra: str):
    return andon("reconcile", "--config", str(plant["config"]), "--parquet", str(plant["shop"]),
                 "--from", "2026-03-02", "--to", "2026-03-02", "--out", str(plant["root"] / out),
                 "--audit", str(plant["root"] / "audit.jsonl"), *extra, env=plant["env"], check=False)


def test_reconcile_reports_exactly_the_injected_faults_and_fix_repairs_them(plant):
    first = reconcile(plant, "first")
    assert first.returncode == 1, first.stderr
    found = pl.read_parquet(plant["root"] / "first" / "mismatches.parquet")
    rows = {(r["kind"], r["work_center"]): r for r in found.iter_rows(named=True)}
    runs = parquet_of(plant["shop"], "operations").sort("since")
    running = {r["machine"]: r for r in runs.filter(~runs["final"]).iter_rows(named=True)}  # the running runs

    edited = rows.pop(("workorder_qty", "WC-PRESS-02"))
    assert edited["difference"] == 100 and edited["shop_floor"] == running["press-02"]["good"]
    assert edited["cause"].startswith("edited in Odoo by hand")

    outage = rows.pop(("workorder_qty", "WC-PRESS-03"))
    assert outage["shop_floor"] == running["press-03"]["good"] and outage["difference"] > 0
    assert outage["cause"].startswith("gateway outage: no live readings 09:40–10:00 CET on press-03")
    scrap = rows.pop(("scrap", "WC-PRESS-03"), None)  # rejects made during the outage, when there were any
    if scrap is not None:
        assert scrap["difference"] > 0 and scrap["cause"] == outage["cause"]
    assert rows == {}, f"mismatches nobody injected: {rows}"
    assert "edited in Odoo by hand" in first.stdout and "WC-PRESS-03" in first.stdout

    fixed = reconcile(plant, "fix", "--fix")
    assert fixed.returncode == 1  # still there until odoo_sync applied the corrective events
    summary = json.loads((plant["root"] / "fix" / "summary.json").read_text())
    assert summary["fix_events"] == len(found)
    run_sync(plant["config"], plant["root"], plant["env"])  # the normal events path applies them, audited
    audit = [json.loads(line) for line in (plant["root"] / "audit.jsonl").read_text().splitlines()]
    fix_ids = set(pl.read_parquet(plant["root"] / "fix" / "mismatches.parquet")["fix_event_id"].to_list())
    assert fix_ids <= {r["event_id"] for r in audit if r["outcome"] == "applied"}

    again = reconcile(plant, "again")
    assert again.returncode == 0, again.stdout + again.stderr
    assert pl.read_parquet(plant["root"] / "again" / "mismatches.parquet").height == 0
    assert "no mismatches" in again.stdout


def test_html_report_renders_the_mismatch_table_in_headless_chromium(plant, tmp_path):
    page = plant["root"] / "first" / "reconcile.html"
    if not page.exists():
        reconcile(plant, "first")
    shot = tmp_path / "report.png"
    proc = chromium(page, tmp_path, f"--screenshot={shot}", "--window-size=1280,900")
    assert shot.exists() and shot.stat().st_size > 5_000, proc.stderr[-2000:]
    from PIL import Image

    image = Image.open(shot).convert("RGB")
    assert image.size == (1280, 900)
    colours = image.getcolors(maxcolors=1_000_000)
    assert colours is not None and len(colours) > 50, "the screenshot is blank"
    dom = chromium(page, tmp_path, "--dump-dom").stdout
    assert '<table id="mismatches">' in dom
    assert dom.count('<tr class="mismatch">') == pl.read_parquet(plant["root"] / "first" / "mismatches.parquet").height
    assert "edited in Odoo by hand" in dom and "gateway outage" in dom

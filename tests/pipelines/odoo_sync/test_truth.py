"""Odoo holds the truth of the floor: simulator -> Kafka -> `andon run telemetry` -> events -> `andon run odoo-sync`
(killed once mid-run, then resumed, then a full replay of the events topic) -> the stand-in, read over XML-RPC as
a user would and compared with the simulator's truth: per work order the produced and scrapped quantities exact,
every downtime log and every work order's productive time within 5 s of the true times at both ends, over a night
with a shift change (22:00) and the spring DST change (02:00 -> 03:00 Europe/Berlin)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from flowtools import ROOT, andon, produce_trace, run_args, site_config
from odoo_variants import PARAMS, admin_client, events_topic, produce_keyed
from odoosync_tools import run_sync, snapshot

from andon.demo import release_work_orders
from andon.simulator import Simulation

pytestmark = [pytest.mark.broker, pytest.mark.odoo]

#: 21:00 CET on the eve of the DST change: the run crosses the 22:00 shift change and 02:00 CET -> 03:00 CEST.
START_MS = int(datetime.fromisoformat("2026-03-28T21:00:00+01:00").timestamp() * 1000)
HOURS = 5
MACHINES = 3
TOLERANCE_S = 5
PROD = "mrp.workcenter.productivity"


def odt(text: str) -> int:
    """Odoo's 'YYYY-MM-DD HH:MM:SS' (UTC) as epoch ms."""
    return int(datetime.fromisoformat(text + "+00:00").timestamp() * 1000)


@pytest.fixture(scope="module")
def stream(tmp_path_factory, site, broker):
    """The floor's events once: simulator -> Kafka -> `andon run telemetry` (the same for every Odoo)."""
    root = tmp_path_factory.mktemp("truth")
    sim = Simulation(site, machines=MACHINES, hours=HOURS, seed=19, start_ms=START_MS)  # 3 runs per machine
    trace = root / "trace.jsonl"
    truth = sim.write_jsonl(trace)
    config, topics = site_config(root, broker, f"tr{uuid.uuid4().hex[:6]}")
    produce_trace(broker, topics[0], trace)
    andon(*run_args(config, root / "parquet", truth), env={"ANDON_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap})
    return truth, events_topic(broker, topics[2])


@pytest.fixture(scope="module", params=PARAMS)
def floor(request, tmp_path_factory, broker, stream):
    """The Odoo side per variant: odoo-sync killed after its first writes, resumed, replayed."""
    variant = request.param
    truth, events = stream
    root = tmp_path_factory.mktemp(f"truth-{variant.id}")
    config, topics = site_config(root, broker, f"tr{uuid.uuid4().hex[:6]}")
    produce_keyed(broker, topics[2], events)
    with variant.standin(root / "odoo", config=config) as odoo:
        admin = admin_client(odoo)
        release_work_orders(admin)
        env = {**os.environ, **variant.env(odoo, broker)}
        ledger = root / "ledger.sqlite3"
        cmd = [sys.executable, "-m", "andon.cli", "run", "odoo-sync", "--config", str(config), "--eof-idle", "4",
               "--audit", str(root / "audit.jsonl"), "--ledger", str(ledger), "--rate-limit", "60"]
        with open(root / "crashed.log", "wb") as log:
            proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        deadline = time.monotonic() + 120
        while odoo.stats()["calls"] < 150 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        crashed = proc.poll() is None
        if crashed:
            os.killpg(proc.pid, signal.SIGKILL)  # a crash mid-batch: no flush, no audit of the batch in flight
        proc.wait(timeout=30)
        run_sync(config, root, env, "--ledger", str(ledger))  # resumed
        after_resume = snapshot(admin, drop=("write_date",))
        run_sync(config, root, env)  # a full replay of the events topic, without the ledger
        after_replay = snapshot(admin, drop=("write_date",))
        odoo_view = {
            "orders": admin.search_read("mrp.workorder", [], ["id", "workcenter_id", "state", "qty_producing"],
                                        order="id"),
            "scraps": admin.search_read("stock.scrap", [], ["workorder_id", "scrap_qty", "state"]),
            "logs": admin.search_read(PROD, [], ["workcenter_id", "workorder_id", "loss_id", "date_start",
                                                 "date_end", "description"], order="id"),
            "centers": {c["code"]: c["id"] for c in admin.search_read("mrp.workcenter", [], ["code"])},
        }
        admin.close()
    return {"truth": truth, "odoo": odoo_view, "crashed": crashed, "resume": after_resume,
            "replay": after_replay}


def runs_of(floor, machine: str) -> list[tuple[dict, dict]]:
    """(truth operation, Odoo work order) pairs of a machine: its work center's orders in id order."""
    mt = floor["truth"]["per_machine"][machine]
    center = floor["odoo"]["centers"][mt["work_center"]]
    orders = [o for o in floor["odoo"]["orders"] if o["workcenter_id"][0] == center]
    return list(zip(mt["operations"], orders, strict=False))


def test_the_run_crossed_a_shift_change_and_the_dst_change_and_odoo_sync_crashed(floor):
    truth = floor["truth"]
    berlin = ZoneInfo("Europe/Berlin")
    assert datetime.fromtimestamp(truth["start_ms"] / 1000, berlin).utcoffset() != datetime.fromtimestamp(
        truth["end_ms"] / 1000, berlin).utcoffset(), "the run spans the DST change"
    assert len({s["shift_id"] for s in truth["calendar"]}) >= 2, "the run spans a shift change"
    assert floor["crashed"], "odoo-sync was killed mid-run"
    spanning = [op for mt in truth["per_machine"].values() for op in mt["operations"]
                if any(op["since_ms"] < s["shift_start_ms"] < (op["finish_ms"] or truth["end_ms"])
                       for s in truth["calendar"])]
    assert spanning, "some work-order run spans a shift change"


def test_per_work_order_produced_and_scrapped_equal_the_truth(floor):
    scrapped: dict[int, float] = {}
    for rec in floor["odoo"]["scraps"]:
        if rec["state"] == "done" and rec["workorder_id"]:
            scrapped[rec["workorder_id"][0]] = scrapped.get(rec["workorder_id"][0], 0.0) + rec["scrap_qty"]
    compared = 0
    for machine, mt in floor["truth"]["per_machine"].items():
        pairs = runs_of(floor, machine)
        assert len(pairs) == len(mt["operations"]), f"{machine}: an order for every run"
        for op, order in pairs:
            assert (order["qty_producing"], scrapped.get(order["id"], 0.0)) == (op["good"], op["rejects"]), (
                machine, op, order)
            assert order["state"] == ("done" if op["finish_ms"] is not None else "progress"), (machine, order)
            compared += 1
    assert compared > MACHINES, "there were changeovers"


def test_every_downtime_and_every_run_is_logged_within_5_s_of_the_truth(floor):
    logs = floor["odoo"]["logs"]
    tol = TOLERANCE_S * 1000
    for machine, mt in floor["truth"]["per_machine"].items():
        center = floor["odoo"]["centers"][mt["work_center"]]
        stops = [lg for lg in logs if lg["workcenter_id"][0] == center and " downtime" in (lg["description"] or "")]
        want = [d for d in floor["truth"]["expected_downtimes"] if d["machine"] == machine]
        assert len(stops) == len(want), machine
        for d in want:
            match = [lg for lg in stops if lg["loss_id"][1] == d["reason"] and lg["date_end"]
                     and abs(odt(lg["date_start"]) - d["start_ms"]) <= tol
                     and abs(odt(lg["date_end"]) - d["end_ms"]) <= tol]
            assert match, f"{machine}: no log within {TOLERANCE_S} s of {d}"
        for op, order in runs_of(floor, machine):
            mine = [lg for lg in logs if lg["workorder_id"] and lg["workorder_id"][0] == order["id"]
                    and not any(k in (lg["description"] or "") for k in (" downtime", " quality_hold"))]
            assert mine, f"{machine}: no productive log for order {order['id']}"
            started = op["start_ms"] if op["start_ms"] is not None else op["first_part_ms"]
            assert abs(min(odt(lg["date_start"]) for lg in mine) - started) <= tol, (machine, op, mine)
            if op["finish_ms"] is not None:
                assert all(lg["date_end"] for lg in mine), (machine, order)
                assert abs(max(odt(lg["date_end"]) for lg in mine) - op["finish_ms"]) <= tol, (machine, op, mine)


def test_a_resume_after_the_crash_and_a_full_replay_change_nothing(floor):
    assert floor["replay"] == floor["resume"]

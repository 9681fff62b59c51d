"""odoo_sync end to end: a real broker, the stand-in over HTTP in each Odoo variant, `andon run odoo-sync` and
`andon dlq` in subprocesses (Odoo's faults: test_sync_faults.py)."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from flowtools import andon
from odoosync_tools import (
    assert_all_applied,
    dead_letters,
    markers,
    produce,
    run_sync,
    snapshot,
)

from andon.connectors.odoo.journal import read_audit
from andon.events import ScrapRecorded, encode_event, make_event, parse_iso_ms

pytestmark = [pytest.mark.broker, pytest.mark.odoo]

WRITES = {"create", "write", "unlink", "button_start", "button_finish", "button_pending", "action_validate", "do_scrap"}


def test_replaying_the_events_topic_twice_changes_no_odoo_table(plant, odoo, admin, tmp_path, event_lines):
    config, topics, env = plant
    ledger = tmp_path / "ledger.sqlite3"
    run_sync(config, tmp_path, env, "--ledger", str(ledger))
    assert_all_applied(admin, event_lines)
    first = snapshot(admin)

    odoo.reset_stats()
    run_sync(config, tmp_path, env, "--ledger", str(ledger))  # replay 1: the ledger spares Odoo every write
    writes = {m: n for m, n in odoo.stats()["by_method"].items() if m.rsplit(".", 1)[-1] in WRITES}
    assert writes == {}
    assert snapshot(admin) == first

    run_sync(config, tmp_path, env)  # replay 2: no ledger, Odoo-side keys alone decide
    again = snapshot(admin, drop=("write_date",))
    assert again == snapshot_without(first, "write_date")
    audit = read_audit(tmp_path / "audit.jsonl")
    # per model: on Enterprise a quality hold is a time log and a quality.alert
    created = Counter((r["event_id"], r["model"]) for r in audit
                      if r["outcome"] == "applied" and r["operation"] == "create")
    assert created and max(created.values()) == 1, "an event created a record twice"


def snapshot_without(snap: dict, field: str) -> dict:
    return {m: [{k: v for k, v in row.items() if k != field} for row in rows] for m, rows in snap.items()}


def test_refusals_go_to_the_dlq_do_not_block_and_replay_after_the_fix(plant, odoo, admin, broker, tmp_path,
                                                                       event_lines):
    config, topics, env = plant
    center = admin.search("mrp.workcenter", [("code", "=", "WC-PRESS-02")])
    admin.write("mrp.workcenter", center, {"code": "WC-PRESS-02-RETIRED"})  # renamed in Odoo
    last = max(parse_iso_ms(json.loads(line)["occurred_at"]) for line in event_lines)
    extra = [_scrap(last + 60_000, "press-03", 2, "LOT-NEW-0042"), _scrap(last + 120_000, "press-01", 0, None)]
    produce(broker, topics[2], extra)
    run_sync(config, tmp_path, env)

    dead = dead_letters(broker, topics[3])
    by_reason = Counter(d["andon.dlq.reason"] for d in dead)
    press02 = [line for line in event_lines if json.loads(line)["machine"] == "press-02"
               and json.loads(line)["type"] != "machine.state_changed"]
    assert by_reason["unknown_work_center"] == len(press02)
    assert by_reason["unknown_lot"] == 1
    zero = [d for d in dead if d["andon.dlq.reason"] == "odoo_refused"]
    assert [d["andon.odoo.message"] for d in zero] == ["You can only enter positive quantities."]
    assert zero[0]["andon.odoo.error"] == "odoo.exceptions.UserError"
    assert all(d["event"]["event_id"] == d["andon.event_id"] for d in dead), "original event bytes kept"
    # later events of other machines were applied
    others = [line for line in event_lines if json.loads(line)["machine"] != "press-02"]
    scraps = markers(admin, "stock.scrap", "origin")
    assert len(scraps) == sum(1 for line in others if json.loads(line)["type"] == "production.scrap_recorded") + 1

    listing = andon("dlq", "list", "--config", str(config), env=env).stdout
    assert "unknown_work_center" in listing and "unknown_lot" in listing
    entry = listing.split()[0]
    assert json.loads(andon("dlq", "show", entry, "--config", str(config), env=env).stdout)["event"]

    # the causes are fixed in Odoo
    admin.write("mrp.workcenter", center, {"code": "WC-PRESS-02"})
    product = admin.search("product.product", [("default_code", "=", "PB-100")])[0]
    admin.create("stock.lot", {"name": "LOT-NEW-0042", "product_id": product})
    draft = admin.search("stock.scrap", [("state", "=", "draft")])
    admin.write("stock.scrap", draft, {"scrap_qty": 1.0})

    entries = [json.loads(line) for line in andon("dlq", "list", "--format", "json", "--config", str(config),
                                                  env=env).stdout.splitlines()]
    fixed = [arg for e in entries if e["reason"] != "no_active_work_order" for arg in ("--id", e["id"])]
    replay = andon("dlq", "replay", *fixed, "--config", str(config), "--audit", str(tmp_path / "audit.jsonl"), env=env)
    assert "still refused" not in replay.stdout
    assert_all_applied(admin, event_lines + extra)
    lot = admin.search_read("stock.scrap", [("lot_id.name", "=", "LOT-NEW-0042")], ["state"])
    assert [r["state"] for r in lot] == ["done"]
    settled = snapshot(admin)
    andon("dlq", "replay", *fixed, "--config", str(config), "--audit", str(tmp_path / "audit.jsonl"),
          env=env)  # twice: nothing changes
    assert snapshot_without(snapshot(admin), "write_date") == snapshot_without(settled, "write_date")
    assert snapshot(admin)["stock.scrap"] == settled["stock.scrap"]


def _scrap(at_ms: int, machine: str, quantity: int, lot: str | None) -> bytes:
    n = machine.rsplit("-", 1)[1]
    return encode_event(make_event(
        "production.scrap_recorded", site="plant-a", machine=machine, work_center=f"WC-PRESS-{n}",
        occurred_at_ms=at_ms, detected_at_ms=at_ms + 1000, discriminator="test",
        data=ScrapRecorded(shift_id="x", window_start="2026-03-02T06:00:00.000Z", window_end="2026-03-02T06:01:00.000Z",
                           quantity=quantity, shift_reject_count=quantity, lot=lot)))

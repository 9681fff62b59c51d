"""Helpers for odoo_sync tests: hand-built events, producing to a topic, running the dataflow, table snapshots."""

from __future__ import annotations

import json
from collections import Counter, defaultdict

from confluent_kafka import Producer
from flowtools import andon

from andon.connectors.kafka import read_topic
from andon.connectors.odoo import OdooClient
from andon.connectors.odoo.masterdata import MARKER
from andon.events import (
    MaintenanceRequested,
    QualityHoldRaised,
    QualityHoldReleased,
    ScrapRecorded,
    encode_event,
    iso_ms,
    make_event,
)

PROD = "mrp.workcenter.productivity"
#: Most odoo_sync tests check per-event idempotency, ordering and refusals: every scrap event a stock.scrap of its
#: own, every progress a quantity write (the site default coalesces both; see the posting tests).
PER_EVENT = '[odoo.posting]\nscrap = "per_event"\nquantity_interval_s = 0\n'
#: Models odoo_sync writes (directly or through button methods).
TOUCHED = ("mrp.workcenter.productivity", "stock.scrap", "maintenance.request", "mrp.workorder", "mrp.production",
           "product.product")


def extra_events(last_ms: int) -> list[bytes]:
    """Events a 90-minute trace rarely has: a maintenance request, a scrap with a known lot, a quality hold raised
    and released (a stable simulated process raises none)."""
    common = {"site": "plant-a", "machine": "press-01", "work_center": "WC-PRESS-01"}
    maintenance = make_event("maintenance.requested", occurred_at_ms=last_ms - 60_000, detected_at_ms=last_ms - 59_000,
                             data=MaintenanceRequested(trigger="alarm", detail="alarm code 17", alarm_code=17,
                                                       equipment="EQ-PRESS-01"), **common)
    scrap = make_event("production.scrap_recorded", occurred_at_ms=last_ms, detected_at_ms=last_ms + 1000,
                       discriminator="lot", data=ScrapRecorded(
                           shift_id="x", window_start="2026-03-02T06:00:00.000Z",
                           window_end="2026-03-02T06:01:00.000Z", quantity=2, shift_reject_count=2,
                           lot="LOT-PB-100-0001"), **common)
    raised_at = last_ms - 1_800_000
    hold = make_event("quality.hold_raised", occurred_at_ms=raised_at, detected_at_ms=raised_at + 1000,
                      discriminator="test", data=QualityHoldRaised(
                          rule="reject_rate", value=0.12, limit=0.08, window_start=iso_ms(raised_at - 60_000),
                          window_end=iso_ms(raised_at), description="reject rate shifted (test)"), **common)
    released = make_event("quality.hold_released", occurred_at_ms=last_ms - 600_000,
                          detected_at_ms=last_ms - 599_000, discriminator="test", data=QualityHoldReleased(
                              rule="reject_rate", raised_at=iso_ms(raised_at), value=0.01, limit=0.08,
                              window_start=iso_ms(last_ms - 660_000), window_end=iso_ms(last_ms - 600_000),
                              description="back at nominal (test)"), **common)
    return [encode_event(hold), encode_event(released), encode_event(maintenance), encode_event(scrap)]


def produce(broker, topic: str, lines: list[bytes]) -> None:
    producer = Producer({"bootstrap.servers": broker.bootstrap, "enable.idempotence": True, "linger.ms": 5})
    for line in lines:
        producer.produce(topic, line, json.loads(line)["machine"].encode())
    assert producer.flush(30) == 0


def run_sync(config, tmp_path, env, *extra: str, audit: str = "audit.jsonl", timeout: float = 180):
    return andon("run", "odoo-sync", "--config", str(config), "--eof-idle", "3", "--audit", str(tmp_path / audit),
                 "--snapshot-interval", "1", *extra, env=env, timeout=timeout)


def snapshot(admin: OdooClient, models=TOUCHED, drop=()) -> dict[str, list[dict]]:
    """Every record of every touched model, all stored fields, by id."""
    out = {}
    for model in models:
        rows = admin.search_read(model, [], None, order="id")
        out[model] = [{k: v for k, v in row.items() if k not in drop and k not in ("working_state", "oee",
                                                                                    "qty_remaining")}
                      for row in rows]
    return out


def expected_counts(lines: list[bytes]) -> dict[str, int]:
    events = [json.loads(line) for line in lines]
    by_type: dict[str, int] = {}
    for e in events:
        by_type[e["type"]] = by_type.get(e["type"], 0) + 1
    return by_type


def markers(admin, model: str, field: str) -> dict[str, tuple[int, str]]:
    """event id -> (record id, kind) of every andon-keyed record of a model. A time log Odoo split on finish
    (`_close()` copies the overrun of an order's open log, description and all) counts once: the copy starts
    where the original ends."""
    out: dict[str, tuple[int, str]] = {}
    spans: dict[str, tuple[str, str]] = {}
    extra = ["date_start", "date_end"] if model == PROD else []
    for rec in admin.search_read(model, [(field, "like", "[andon:")], [field, *extra], order="id"):
        for key, kind, _ in MARKER.findall(rec[field] or ""):
            if key in out and extra and spans[key][1] == rec["date_start"]:
                spans[key] = (spans[key][0], rec["date_end"])  # the split-off overrun of the same log
                continue
            assert key not in out, f"event {key} keyed twice in {model}"
            out[key] = (rec["id"], kind)
            if extra:
                spans[key] = (rec["date_start"], rec["date_end"])
    return out


def assert_all_applied(admin, lines: list[bytes]) -> None:
    """Exactly one Odoo record per keyed event, all scraps validated, every downtime closed."""
    counts = expected_counts(lines)
    logs = markers(admin, PROD, "description")
    kinds = Counter(kind for _, kind in logs.values())
    assert kinds["downtime"] == counts.get("machine.downtime_started", 0)
    assert kinds["quality_hold"] == counts.get("quality.hold_raised", 0)
    scraps = markers(admin, "stock.scrap", "origin")
    assert len(scraps) == counts.get("production.scrap_recorded", 0)
    assert admin.search_count("stock.scrap", [("state", "!=", "done")]) == 0
    assert len(markers(admin, "maintenance.request", "description")) == counts.get("maintenance.requested", 0)
    ended = counts.get("machine.downtime_ended", 0)
    closed = admin.search_count(PROD, [("description", "like", " downtime @"), ("date_end", "!=", False)])
    assert closed == ended


def assert_per_machine_order(admin, lines: list[bytes]) -> None:
    """Records of one machine were created in the order its events stand in the topic."""
    position = {json.loads(line)["event_id"]: (json.loads(line)["machine"], n) for n, line in enumerate(lines)}
    for model, field in ((PROD, "description"), ("stock.scrap", "origin"), ("maintenance.request", "description")):
        per_machine = defaultdict(list)
        for key, (_rid, _) in sorted(markers(admin, model, field).items(), key=lambda kv: kv[1][0]):
            if key in position:
                machine, n = position[key]
                per_machine[machine].append(n)
        for machine, seq in per_machine.items():
            assert seq == sorted(seq), f"{model}: {machine} records out of event order"


def dead_letters(broker, topic: str) -> list[dict]:
    out = []
    for m in read_topic({"bootstrap.servers": broker.bootstrap}, topic, idle_s=1.5):
        headers = {k: (v or b"").decode() for k, v in m.headers() or []}
        out.append({**headers, "event": json.loads(m.value())})
    return out


def keyed_summary(admin, lines: list[bytes]) -> tuple[int, int, int]:
    """(events that must leave one keyed Odoo record, those found, keys found more than once) for summaries."""
    counts = expected_counts(lines)
    expected = sum(counts.get(t, 0) for t in ("machine.downtime_started", "quality.hold_raised",
                                              "production.scrap_recorded", "maintenance.requested"))
    keys: Counter[str] = Counter()
    for model, field in ((PROD, "description"), ("stock.scrap", "origin"), ("maintenance.request", "description")):
        for rec in admin.search_read(model, [(field, "like", "[andon:")], [field]):
            for key, kind, _ in MARKER.findall(rec[field] or ""):
                if kind in ("downtime", "quality_hold", "maintenance") or model == "stock.scrap":
                    keys[key] += 1
    wanted = {json.loads(line)["event_id"] for line in lines
              if json.loads(line)["type"] in ("machine.downtime_started", "quality.hold_raised",
                                              "production.scrap_recorded", "maintenance.requested")}
    return expected, len(wanted & set(keys)), sum(1 for n in keys.values() if n > 1)

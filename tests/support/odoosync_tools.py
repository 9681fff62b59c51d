"""Helpers for odoo_sync tests: hand-built events, producing to a topic, running the dataflow, table snapshots."""

from __future__ import annotations

import json

from confluent_kafka import Producer
from flowtools import andon

from andon.connectors.odoo import OdooClient
from andon.events import MaintenanceRequested, ScrapRecorded, encode_event, make_event

#: Models odoo_sync writes (directly or through button methods).
TOUCHED = ("mrp.workcenter.productivity", "stock.scrap", "maintenance.request", "mrp.workorder", "mrp.production",
           "product.product")


def extra_events(last_ms: int) -> list[bytes]:
    """Events a 90-minute trace rarely has: a maintenance request and a scrap with a known lot."""
    common = {"site": "plant-a", "machine": "press-01", "work_center": "WC-PRESS-01"}
    maintenance = make_event("maintenance.requested", occurred_at_ms=last_ms - 60_000, detected_at_ms=last_ms - 59_000,
                             data=MaintenanceRequested(trigger="alarm", detail="alarm code 17", alarm_code=17,
                                                       equipment="EQ-PRESS-01"), **common)
    scrap = make_event("production.scrap_recorded", occurred_at_ms=last_ms, detected_at_ms=last_ms + 1000,
                       discriminator="lot", data=ScrapRecorded(
                           shift_id="x", window_start="2026-03-02T06:00:00.000Z",
                           window_end="2026-03-02T06:01:00.000Z", quantity=2, shift_reject_count=2,
                           lot="LOT-PB-100-0001"), **common)
    return [encode_event(maintenance), encode_event(scrap)]


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

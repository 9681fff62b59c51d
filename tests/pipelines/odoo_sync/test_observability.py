"""odoo_sync as operators see it: the correlation id of an event's Kafka header in the JSON log line and the audit
entry of its Odoo write; the status server (page, /status.json, /readyz, /metrics) of a live `andon run odoo-sync`."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid

import pytest
from confluent_kafka import Producer
from flowtools import ROOT, site_config
from httptools import get

from andon.connectors.broker import free_port
from andon.connectors.odoo.journal import read_audit
from andon.logs import CORRELATION_HEADER

pytestmark = [pytest.mark.broker, pytest.mark.odoo]

CORRELATION = "mes-order-4711/step-3"


def test_correlation_id_from_kafka_header_to_log_and_audit(tmp_path, broker, variant, odoo, event_lines):
    config, topics = site_config(tmp_path, broker, f"obs{uuid.uuid4().hex[:6]}")
    traced = next(line for line in event_lines if json.loads(line)["type"] == "maintenance.requested")
    traced_id = json.loads(traced)["event_id"]
    producer = Producer({"bootstrap.servers": broker.bootstrap, "enable.idempotence": True, "linger.ms": 5})
    for line in event_lines:
        headers = [(CORRELATION_HEADER, CORRELATION.encode())] if line is traced else None
        producer.produce(topics[2], line, json.loads(line)["machine"].encode(), headers=headers)
    assert producer.flush(30) == 0

    odoo.set_faults(latency_ms=15)  # slow enough to look at the status server while events wait
    port = free_port()
    env = {**variant.env(odoo, broker), "ANDON_LOG_FORMAT": "json", "ANDON_METRICS_PORT": str(port),
           "PATH": "/usr/bin:/bin"}
    audit = tmp_path / "audit.jsonl"
    log_path = tmp_path / "odoo-sync.log"
    with open(log_path, "w") as log_file:  # a file, not a pipe: a full pipe would stall the run
        proc = subprocess.Popen([sys.executable, "-m", "andon.cli", "run", "odoo-sync", "--config", str(config),
                                 "--eof-idle", "3", "--audit", str(audit), "--snapshot-interval", "1"],
                                cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log_file, text=True)
    seen: dict = {"ready": False, "waiting": 0, "page": ""}
    deadline = time.monotonic() + 150
    while proc.poll() is None and time.monotonic() < deadline:
        code, _ = get(port, "/readyz")
        seen["ready"] |= code == 200
        code, body = get(port, "/status.json")
        if code == 200:
            doc = json.loads(body)
            seen["waiting"] = max(seen["waiting"], doc["confirmations"]["waiting"])
            if doc["confirmations"]["waiting"] and not seen["page"]:
                seen["page"] = get(port, "/")[1]
            seen["metrics"] = get(port, "/metrics")[1] or seen.get("metrics", "")
        time.sleep(0.3)
    proc.wait(timeout=60)
    err = log_path.read_text()
    odoo.clear_faults()
    assert proc.returncode == 0, err[-3000:]

    logs = [json.loads(line) for line in err.splitlines() if line.startswith('{"ts"')]
    assert logs and all({"ts", "level", "logger", "msg"} <= set(doc) for doc in logs)
    mine = [doc for doc in logs if doc.get("correlation_id") == CORRELATION]
    assert mine and all(doc["event_id"] == traced_id for doc in mine)
    assert any(doc["outcome"] == "applied" and doc["model"] == "maintenance.request" for doc in mine)
    others = [doc for doc in logs if doc.get("event_id") and doc["event_id"] != traced_id]
    assert others and all(doc["correlation_id"] == doc["event_id"] for doc in others), \
        "without a header, the correlation id is the event id (as the telemetry flow sets it)"

    entries = [e for e in read_audit(audit) if e["event_id"] == traced_id]
    assert entries and all(e["correlation_id"] == CORRELATION for e in entries)

    assert seen["ready"], "/readyz turned ready while the dataflow ran"
    assert seen["waiting"] > 0, "the status server showed events waiting for Odoo"
    assert "Confirmations to Odoo" in seen["page"] and "id='waiting'" in seen["page"]
    metrics = seen.get("metrics", "")
    for name in ("andon_odoo_call_duration_seconds_bucket",
                 "andon_odoo_oldest_unapplied_age_seconds", "andon_odoo_unapplied_events",
                 "andon_consumer_lag_messages"):
        assert name in metrics, name

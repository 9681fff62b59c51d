"""Publisher authorization in the live telemetry dataflow against Tansu: a reading for site B from a gateway
authorized only for site A goes to the telemetry DLQ with reason `unauthorized_publisher`; the rest flows on."""

from __future__ import annotations

import json
import tomllib
import uuid

import pytest
from bytewax.testing import run_main
from confluent_kafka import Producer
from flowtools import parquet_of, site_config

from andon.config import parse_site
from andon.connectors.kafka import read_topic
from andon.pipelines.telemetry import TelemetryFlowConfig, build_flow
from andon.security import signed_headers

pytestmark = pytest.mark.broker

KEYS = {"ANDON_GATEWAY_KEY_GW_A": "live-secret-a-61f0", "ANDON_GATEWAY_KEY_GW_B": "live-secret-b-93d2"}
T0 = 1_772_431_200_000  # 2026-03-02T06:00:00Z


def reading(site: str, machine: str, n: int) -> bytes:
    return json.dumps({"site": site, "machine": machine, "ts": T0 + n * 10_000, "seq": n,
                       "signals": {"state": 10000, "spindle_rpm": 1200.0, "part_count": n, "reject_count": 0}}).encode()


def test_reading_for_site_b_from_a_gateway_of_site_a_is_dead_lettered_live(broker, tmp_path):
    config, topics = site_config(tmp_path, broker, f"auth{uuid.uuid4().hex[:6]}")
    raw_a = tomllib.loads(config.read_text())
    raw_a["gateways"] = [{"id": "gw-a", "key_name": "gw-a"}]  # sites default to the declaring site: plant-a
    raw_b = {**raw_a, "site": {**raw_a["site"], "id": "plant-b"},
             "gateways": [{"id": "gw-b", "key_name": "gw-b"}]}
    sites = [parse_site(raw_a, env=KEYS), parse_site(raw_b, env=KEYS)]

    producer = Producer({"bootstrap.servers": broker.bootstrap, "enable.idempotence": True})
    sent = {"gw-a plant-a": 0, "gw-a plant-b": 0, "gw-b plant-b": 0, "unsigned": 0}

    def send(value: bytes, gateway: str | None, label: str) -> None:
        headers = signed_headers(gateway, KEYS[f"ANDON_GATEWAY_KEY_{gateway.upper().replace('-', '_')}"], value) \
            if gateway else None
        producer.produce(topics[0], value, b"press-01", headers=headers)
        sent[label] += 1

    for n in range(30):
        send(reading("plant-a", "press-01", n), "gw-a", "gw-a plant-a")
        send(reading("plant-b", "press-02", n), "gw-b", "gw-b plant-b")
    for n in range(5):
        send(reading("plant-b", "press-01", n), "gw-a", "gw-a plant-b")  # the refused publisher
    send(reading("plant-a", "press-03", 1), None, "unsigned")
    assert producer.flush(30) == 0

    out = tmp_path / "out"
    cfg = TelemetryFlowConfig(sites=sites, out_dir=out, source="kafka", shards=2, eof_idle_s=3.0,
                              kafka_config={"bootstrap.servers": broker.bootstrap},
                              ts_bounds=(T0 - 86_400_000, T0 + 86_400_000))
    run_main(build_flow(cfg))

    dead = read_topic({"bootstrap.servers": broker.bootstrap}, topics[1], idle_s=3.0)
    headers = [dict(m.headers()) for m in dead]
    assert {h["andon.dlq.reason"] for h in headers} == {b"unauthorized_publisher"}
    assert len(dead) == sent["gw-a plant-b"] + sent["unsigned"]
    details = sorted(h["andon.dlq.detail"].decode() for h in headers)
    assert details.count("gateway 'gw-a' may publish for ['plant-a'] only, not for site 'plant-b' "
                         "(1 reading refused)") == 5
    assert any(d.startswith("no gateway identified") for d in details)

    agg = parquet_of(out, "telemetry_agg")
    seen = set(zip(agg["site"].to_list(), agg["machine"].to_list(), strict=True))
    assert seen == {("plant-a", "press-01"), ("plant-b", "press-02")}

"""Other plants' gateways through the real broker: UMH `_historian` messages (one topic keyed by UNS path, and one
UNS topic per machine) and a custom gateway (renamed fields, watts, RFC 3339, no site) give the same events (ids
and payloads) and Parquet as andon's own format; and several sites in one run give what one run per site gives."""

from __future__ import annotations

import json
import re
import uuid

import polars as pl
import pytest
from confluent_kafka import Producer
from flowtools import andon, events_from_topic, file_names, parquet_of, run_args
from gateways import (
    CUSTOM,
    UMH_BY_KEY,
    UMH_BY_TOPIC,
    contract,
    custom_payload,
    umh_payload,
    uns_path,
    with_mapping,
)

from andon.config import example_site_path, load_site
from andon.connectors.broker import create_topics
from andon.connectors.kafka import read_topic
from andon.simulator import Simulation

pytestmark = pytest.mark.broker

TOPIC_NAMES = ("telemetry", "telemetry_dlq", "events", "events_dlq", "workorders")


def site_text(tag: str, mapping: str | None = None, **fmt: str) -> str:
    """The example site with topics of its own (`<tag>.<name>`) and, optionally, another [mapping]."""
    text = example_site_path().read_text()
    for name in TOPIC_NAMES:
        text = re.sub(rf'^{name} = ".*"$', f'{name} = "{tag}.{name}"', text, flags=re.M)
    return with_mapping(text, mapping, **fmt) if mapping else text


def write_site(tmp_path, broker, name: str, text: str) -> tuple:
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    site = load_site(path)
    create_topics(broker.bootstrap, [getattr(site.topics, t) for t in TOPIC_NAMES if t != "telemetry"] +
                  ([site.topics.telemetry]), partitions=4)
    return path, site


def produce(broker, messages: list[tuple[str, bytes | None, bytes]]) -> None:
    producer = Producer({"bootstrap.servers": broker.bootstrap, "enable.idempotence": True, "linger.ms": 20})
    for topic, key, value in messages:
        while True:
            try:
                producer.produce(topic, value, key)
                break
            except BufferError:
                producer.poll(0.1)
    assert producer.flush(30) == 0


@pytest.fixture(scope="module")
def gateway_trace(site):
    """Contract readings of 4 machines over an hour (one reading per message), with the truth's time range."""
    sim = Simulation(site, machines=4, hours=1.0, seed=11)
    docs, end_ms = [], sim.end_ms
    for _key, value, _ts in sim.messages():
        doc = json.loads(value)
        docs.extend(doc if isinstance(doc, list) else [doc])
    return docs, {"end_ms": end_ms}


def outputs(broker, site, out) -> tuple[dict, dict]:
    events = {e["event_id"]: e for e in events_from_topic(broker, site.topics.events)}
    return events, {d: parquet_of(out, d) for d in ("telemetry_agg", "shift_oee")}


def test_umh_and_custom_gateways_equal_the_contract_format(gateway_trace, broker, tmp_path):
    docs, truth = gateway_trace
    tag = f"map{uuid.uuid4().hex[:6]}"
    env = {"ANDON_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap}
    # one contract side for all: what the custom gateway's watts give once scaled to kW
    want_docs = [contract(d, custom=True) for d in docs]

    runs = {}
    base_cfg, base = write_site(tmp_path, broker, "contract", site_text(f"{tag}c"))
    produce(broker, [(base.topics.telemetry, d["machine"].encode(), json.dumps(d).encode()) for d in want_docs])
    keyed_cfg, keyed = write_site(tmp_path, broker, "umh-key", site_text(f"{tag}k", UMH_BY_KEY).replace(
        f'telemetry = "{tag}k.telemetry"', f'telemetry = "{tag}k.umh.messages"'))
    produce(broker, [(keyed.topics.telemetry, uns_path(d["site"], d["machine"]).encode(), umh_payload(d))
                     for d in want_docs])
    enterprise = f"{tag}e"
    topic_cfg, by_topic = write_site(tmp_path, broker, "umh-topic", site_text(f"{tag}t", UMH_BY_TOPIC,
                                                                              enterprise=enterprise))
    machines = sorted({d["machine"] for d in docs})
    create_topics(broker.bootstrap, [uns_path("plant-a", m, enterprise) for m in machines], partitions=1)
    produce(broker, [(uns_path(d["site"], d["machine"], enterprise), None, umh_payload(d)) for d in want_docs])
    custom_cfg, custom = write_site(tmp_path, broker, "custom", site_text(f"{tag}g", CUSTOM))
    produce(broker, [(custom.topics.telemetry, d["machine"].encode(), custom_payload(d)) for d in docs])

    for name, cfg, site in (("contract", base_cfg, base), ("umh-key", keyed_cfg, keyed),
                            ("umh-topic", topic_cfg, by_topic), ("custom", custom_cfg, custom)):
        out = tmp_path / name
        andon(*run_args(cfg, out, truth), env=env)
        runs[name] = (*outputs(broker, site, out), file_names(out))
        assert not read_topic({"bootstrap.servers": broker.bootstrap}, site.topics.telemetry_dlq, idle_s=1), name

    events, parquet, files = runs["contract"]
    kinds = {e["type"] for e in events.values()}
    assert {"machine.state_changed", "production.count_reported"} <= kinds, kinds
    assert len(parquet["telemetry_agg"]) > 0 and len(parquet["shift_oee"]) > 0
    for name in ("umh-key", "umh-topic", "custom"):
        got_events, got_parquet, got_files = runs[name]
        assert got_events == events, f"{name}: events (ids and payloads) differ from the contract format's"
        assert got_files == files, name
        for dataset, frame in parquet.items():
            assert got_parquet[dataset].equals(frame), f"{name}: {dataset}"


def shifted_hour(text: str) -> str:
    """Every calendar time of the example an hour later (another plant's shifts)."""
    def later(match: re.Match) -> str:
        return f"{(int(match.group(1)) + 1) % 24:02d}:{match.group(2)}:00"
    start = text.index("[[calendar.shifts]]")
    end = text.index("\n[mapping]\n")
    return text[:start] + re.sub(r"(\d\d):(\d\d):00", later, text[start:end]) + text[end:]


def plant_b(text: str) -> str:
    """Another plant: its own id, shifts an hour later, other processing thresholds, a custom gateway."""
    text = text.replace('id = "plant-a"', 'id = "plant-b"', 1)
    for key, value in (("window_s", "30"), ("min_dwell_s", "5"), ("microstop_threshold_s", "90"),
                       ("max_past_s", "2000000"), ("max_future_s", "200")):
        text = re.sub(rf"^{key} = .*$", f"{key} = {value}", text, count=1, flags=re.M)
    return shifted_hour(text)


def test_two_sites_in_one_run_equal_one_run_per_site(gateway_trace, broker, site, tmp_path):
    docs_a, truth = gateway_trace
    tag = f"two{uuid.uuid4().hex[:6]}"
    env = {"ANDON_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap}

    def configs(run: str, shared_outputs: bool):
        a_text = site_text(f"{tag}{run}a")
        b_text = plant_b(site_text(f"{tag}{run}b", CUSTOM))
        if shared_outputs:  # one events and dead-letter topic for the deployment
            for name in ("events", "telemetry_dlq"):
                b_text = b_text.replace(f'{name} = "{tag}{run}b.{name}"', f'{name} = "{tag}{run}a.{name}"')
        return (write_site(tmp_path, broker, f"{run}-a", a_text), write_site(tmp_path, broker, f"{run}-b", b_text))

    (a_cfg, a), (b_cfg, b) = configs("j", shared_outputs=True)
    (a1_cfg, a1), _ = configs("s", shared_outputs=False)
    _, (b1_cfg, b1) = configs("t", shared_outputs=False)
    assert b.calendar != a.calendar and b.processing != a.processing and b.mapping != a.mapping
    sim_b = Simulation(b, machines=4, hours=1.0, seed=5)
    docs_b = []
    for _key, value, _ts in sim_b.messages():
        doc = json.loads(value)
        docs_b.extend(doc if isinstance(doc, list) else [doc])
    stranger = {**docs_a[0], "site": "plant-z"}
    for topic_a, topic_b in ((a.topics.telemetry, b.topics.telemetry), (a1.topics.telemetry, b1.topics.telemetry)):
        produce(broker, [(topic_a, d["machine"].encode(), json.dumps(d).encode()) for d in docs_a] +
                [(topic_a, b"press-01", json.dumps(stranger).encode())] +
                [(topic_b, d["machine"].encode(), custom_payload(d)) for d in docs_b])

    both, only_a, only_b = tmp_path / "both", tmp_path / "only-a", tmp_path / "only-b"
    andon(*run_args(a_cfg, both, truth, "--config", str(b_cfg)), env=env)
    andon(*run_args(a1_cfg, only_a, truth), env=env)
    andon(*run_args(b1_cfg, only_b, truth), env=env)

    events, parquet = outputs(broker, a, both)
    events_a, parquet_a = outputs(broker, a1, only_a)
    events_b, parquet_b = outputs(broker, b1, only_b)
    assert events_a and events_b and {e["site"] for e in events.values()} == {"plant-a", "plant-b"}
    assert events == {**events_a, **events_b}
    for dataset, frame in parquet.items():
        keys = ["site", "machine", "window_start", "signal"] if dataset == "telemetry_agg" else \
            ["site", "machine", "shift_id"]
        separate = pl.concat([parquet_a[dataset], parquet_b[dataset]], how="vertical_relaxed").sort(keys)
        assert frame.sort(keys).equals(separate), dataset
    assert sorted(file_names(both)) == sorted(file_names(only_a) + file_names(only_b))
    dead = read_topic({"bootstrap.servers": broker.bootstrap}, a.topics.telemetry_dlq, idle_s=1)
    assert [dict(m.headers())["andon.dlq.reason"] for m in dead] == [b"unknown_site"]
    assert json.loads(dead[0].value())["site"] == "plant-z"

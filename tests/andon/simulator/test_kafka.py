"""`andon simulate --bootstrap-servers`: the messages on the topic are exactly the JSONL lines, keyed by machine."""

from __future__ import annotations

import json
import uuid

import pytest

from andon.connectors.broker import create_topics
from andon.connectors.kafka import read_topic
from andon.simulator import DEFAULT_START, Simulation, parse_faults
from andon.simulator.cli import main

pytestmark = pytest.mark.broker


def test_kafka_messages_equal_the_jsonl_lines(site, broker, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    topic = f"sim-{uuid.uuid4().hex[:8]}"
    create_topics(broker.bootstrap, [topic], partitions=2)
    # --start pins the trace: without it --bootstrap-servers starts at a recent shift start (see recent_start)
    args = ["--machines", "3", "--hours", "0.5", "--seed", "3", "--faults", "all", "--start", DEFAULT_START]
    assert main([*args, "--bootstrap-servers", broker.bootstrap, "--topic", topic, "--out", "k.jsonl"]) == 0
    lines = (tmp_path / "k.jsonl").read_bytes().split(b"\n")[:-1]
    truth = json.loads((tmp_path / "k.truth.json").read_text())
    got = read_topic({"bootstrap.servers": broker.bootstrap}, topic, idle_s=2.0)
    assert len(got) == len(lines) == truth["lines"]
    assert sorted(m.value() for m in got) == sorted(lines)
    machines = set(truth["machines"])
    assert all(m.key().decode() in machines or m.key().startswith(b"ghost-") for m in got)
    sim = Simulation(site, machines=3, hours=0.5, seed=3, faults=parse_faults("all"))
    sent = list(sim.messages())
    for machine in truth["machines"]:  # one partition per machine, its messages in emission order
        key = machine.encode()
        mine = [m for m in got if m.key() == key]
        assert len({m.partition() for m in mine}) == 1
        assert [(m.value(), m.timestamp()[1]) for m in mine] == [(v, t) for k, v, t in sent if k == key]


def test_unreachable_broker_is_reported(tmp_path, monkeypatch, capsys):
    from andon.connectors.broker import free_port

    monkeypatch.chdir(tmp_path)
    port = free_port()
    assert main(["--machines", "1", "--hours", "0.1", "--bootstrap-servers", f"127.0.0.1:{port}"]) == 2
    err = capsys.readouterr().err
    assert f"cannot reach Kafka at 127.0.0.1:{port}" in err and "what to do:" in err

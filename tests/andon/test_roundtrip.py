"""Simulator -> Tansu -> confluent-kafka consumer -> decoder gives back exactly the readings produced."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from andon.connectors.broker import create_topics
from andon.connectors.kafka import read_topic
from andon.simulator import Simulation
from andon.simulator.output import KafkaSink, run
from andon.wire.decoder import BatchDecoder

pytestmark = pytest.mark.broker


def columns(decoder, values, bounds):
    batch = decoder.decode(values, bounds=bounds)
    assert batch.invalid == []
    order = np.lexsort((batch.seq, batch.machine))
    return batch.machine[order], batch.ts[order], batch.seq[order], batch.values[order]


def test_simulated_readings_survive_kafka_exactly(site, broker):
    topic = f"telemetry-{uuid.uuid4().hex[:8]}"
    create_topics(broker.bootstrap, [topic], partitions=3)
    sim = Simulation(site, machines=6, hours=0.5, seed=11)
    produced = [(key, value) for key, value, _ in sim.messages()]
    truth = run(Simulation(site, machines=6, hours=0.5, seed=11), [KafkaSink(broker.bootstrap, topic)])
    got = read_topic({"bootstrap.servers": broker.bootstrap}, topic, idle_s=2.0)
    assert len(got) == len(produced) == truth["readings"]
    # keys are machine ids and each machine stays on one partition, in order
    for machine in sim.machine_ids:
        mine = [m for m in got if m.key() == machine.encode()]
        assert len({m.partition() for m in mine}) == 1
        assert [m.offset() for m in mine] == sorted(m.offset() for m in mine)
    decoder = BatchDecoder.for_site(site)
    bounds = (sim.start_ms - 1, sim.end_ms + 1)
    expected = columns(decoder, [v for _, v in produced], bounds)
    actual = columns(decoder, [m.value() for m in got], bounds)
    for want, have in zip(expected, actual, strict=True):
        assert np.array_equal(want, have, equal_nan=True)

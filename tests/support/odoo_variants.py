"""The Odoo databases andon promises to work with (docs/odoo.md), as the tests meet them: each a version, an
edition and the transport andon speaks to it, so every transport meets the versions where it matters (JSON-RPC on
17, XML-RPC's None marshalling on 18 and 19, JSON-2 on 19). Tests that talk to Odoo are parametrized over
`PARAMS` (ids `17-community` ... `19-enterprise`); the slow ones run their full trace on `FULL` and a shorter one
on the others (`variant.full`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer

from andon.config import OdooSettings
from andon.connectors.kafka import read_topic
from andon.connectors.odoo import OdooClient
from andon.connectors.standin import run_standin
from andon.connectors.standin.testing import INTEGRATION_KEY, INTEGRATION_PASSWORD


@dataclass(frozen=True)
class OdooVariant:
    version: str
    edition: str
    transport: str

    @property
    def id(self) -> str:
        return f"{self.version}-{self.edition}"

    @property
    def enterprise(self) -> bool:
        return self.edition == "enterprise"

    @property
    def full(self) -> bool:
        """The variant the slow tests run their whole trace on."""
        return self == FULL

    @contextmanager
    def standin(self, data_dir: str | Path, **options: Any) -> Iterator[Any]:
        """A stand-in of this version and edition; the integration user has an API key (JSON-2 needs one)."""
        with run_standin(data_dir, odoo_version=self.version, edition=self.edition,
                         integration_api_key=INTEGRATION_KEY, **options) as handle:
            yield handle

    def env(self, odoo, broker=None) -> dict[str, str]:
        """Environment for andon commands talking to `odoo` as the integration user over this transport."""
        env = {"ANDON_ODOO_URL": odoo.url, "ANDON_ODOO_TRANSPORT": self.transport,
               "ANDON_ODOO_PASSWORD": INTEGRATION_PASSWORD, "ANDON_ODOO_API_KEY": INTEGRATION_KEY}
        if broker is not None:
            env["ANDON_KAFKA_BOOTSTRAP_SERVERS"] = broker.bootstrap
        return env

    def settings(self, odoo, **extra: Any) -> OdooSettings:
        """The integration user's settings for an in-process andon client over this transport."""
        return OdooSettings(url=odoo.url, transport=self.transport, password=INTEGRATION_PASSWORD,
                            api_key=INTEGRATION_KEY, **extra)


def events_topic(broker, topic: str) -> list[tuple]:
    """(key, value, headers) of every message of a topic, per partition in offset order: one dataflow's output, to be
    produced again for each variant (one variant's run must not see another's dead letters)."""
    return [(m.key(), m.value(), m.headers()) for m in read_topic({"bootstrap.servers": broker.bootstrap}, topic, idle_s=2)]


def produce_keyed(broker, topic: str, messages: list[tuple]) -> None:
    """Produce (key, value, headers) again: same keys, so each machine's events keep their order in one partition."""
    producer = Producer({"bootstrap.servers": broker.bootstrap, "enable.idempotence": True, "linger.ms": 5})
    for key, value, headers in messages:
        while True:
            try:
                producer.produce(topic, value, key, headers=headers)
                break
            except BufferError:
                producer.poll(0.1)
    assert producer.flush(30) == 0


def admin_client(odoo) -> OdooClient:
    """The administrator over XML-RPC, as a user reads Odoo to check what andon wrote."""
    return OdooClient(OdooSettings(url=odoo.url, username="admin", password="admin", transport="xmlrpc",
                                   rate_limit_per_s=10_000), rate_limit=False)


VARIANTS = (
    OdooVariant("17", "community", "jsonrpc"),
    OdooVariant("17", "enterprise", "xmlrpc"),
    OdooVariant("18", "community", "xmlrpc"),
    OdooVariant("19", "community", "json2"),
    OdooVariant("19", "enterprise", "xmlrpc"),
)
FULL = VARIANTS[0]
PARAMS = [pytest.param(v, id=v.id) for v in VARIANTS]
#: One variant per transport (17 Community over JSON-RPC, 18 Community over XML-RPC, 19 Community over JSON-2),
#: for the tests whose subject is Kafka or andon's own limits rather than Odoo's models: what differs between
#: the editions (Enterprise-only fields, their rights) does not reach them, what differs between transports
#: (logins and their HTTP requests, how faults and None results arrive) does.
PER_TRANSPORT = [pytest.param(v, id=v.id) for v in VARIANTS if v.edition == "community"]

"""`andon run workorders`: released work orders from Odoo to `andon.workorders.v1` as `workorder.released`
events, incrementally (a cursor on `write_date` kept in a small state file) and without duplicates.

    andon run workorders --config site.toml --state andon-data/workorders.state.json [--once] [--interval 30]

Each poll reads work orders in a released state whose `write_date` is at or after the cursor, oldest first. The
event id is derived from the work order id and its `write_date`, so a work order is published once per version;
orders already published at the cursor's second are remembered so the `>=` boundary re-reads none twice. The
cursor is saved (atomically) only after Kafka acknowledged the events: a crash in between re-publishes the same
ids, which consumers recognise.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING

import click

from andon.cli_env import Command, bootstrap_option, config_option, option
from andon.errors import AndonError
from andon.pipelines.runner import observability_options, with_bootstrap

if TYPE_CHECKING:
    from andon.config import SiteConfig

log = logging.getLogger(__name__)

#: States of a released work order: ready everywhere; waiting/pending (16-18) wait for components or another order.
RELEASED_STATES = ("ready", "waiting", "pending")
FIELDS = ["id", "name", "state", "workcenter_id", "production_id", "product_id", "qty_production", "date_start",
          "write_date"]
STATE_VERSION = 1


def _ms(odoo_datetime: str) -> int:
    return int(datetime.strptime(odoo_datetime, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp() * 1000)


def _name(value) -> str:
    return value[1] if isinstance(value, list | tuple) and len(value) > 1 else str(value or "")


class Cursor:
    """The last `write_date` published and the work order ids published at exactly that second."""

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path else None
        self.write_date: str | None = None
        self.ids_at: set[int] = set()
        if self.path is not None and self.path.exists():
            doc = json.loads(self.path.read_text(encoding="utf-8"))
            if doc.get("version") != STATE_VERSION:
                raise AndonError(f"{self.path} has state version {doc.get('version')}, expected {STATE_VERSION}",
                                 hint="remove the file to publish every released work order again")
            self.write_date, self.ids_at = doc.get("write_date"), set(doc.get("ids_at", []))

    def advance(self, rows: list[dict]) -> None:
        for row in rows:
            if row["write_date"] != self.write_date:
                self.write_date, self.ids_at = row["write_date"], set()
            self.ids_at.add(row["id"])

    def save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        tmp.write_text(json.dumps({"version": STATE_VERSION, "write_date": self.write_date,
                                   "ids_at": sorted(self.ids_at)}), encoding="utf-8")
        os.replace(tmp, self.path)


def released_events(site: SiteConfig, rows: list[dict], codes: dict[int, str]):
    """`workorder.released` events for work order rows as search_read returns them (`codes`: center id -> code)."""
    from andon.events import WorkorderReleased, make_event

    machine_of = {m.work_center: m.id for m in site.machines}
    for row in rows:
        center = row["workcenter_id"]
        center_id = center[0] if isinstance(center, list | tuple) else center
        code = codes.get(center_id) or _name(center)
        machine = machine_of.get(code, code)
        at = _ms(row["write_date"])
        data = WorkorderReleased(odoo_id=row["id"], production=_name(row["production_id"]),
                                 product=_name(row["product_id"]), qty_production=float(row["qty_production"] or 0),
                                 state=row["state"], date_start=row.get("date_start") or None,
                                 write_date=row["write_date"])
        yield make_event("workorder.released", site=site.site.id, machine=machine, occurred_at_ms=at,
                         detected_at_ms=int(time.time() * 1000), data=data, discriminator=str(row["id"]),
                         work_center=code, work_order=row["name"])


def poll_once(client, site: SiteConfig, cursor: Cursor, producer, topic: str, states=RELEASED_STATES,
              limit: int = 1000) -> int:
    """Publish what changed since the cursor; returns how many events were published."""
    from andon.events import encode_event

    published = 0
    while True:
        domain: list = [("state", "in", list(states))]
        if cursor.write_date:
            domain.append(("write_date", ">=", cursor.write_date))
        rows = client.search_read("mrp.workorder", domain, FIELDS, order="write_date, id", limit=limit)
        fresh = [r for r in rows if not (r["write_date"] == cursor.write_date and r["id"] in cursor.ids_at)]
        if not fresh:
            return published
        codes = {c["id"]: c["code"] for c in client.search_read("mrp.workcenter", [("active", "in", [True, False])],
                                                                ["id", "code"])}
        for event in released_events(site, fresh, codes):
            producer.produce(topic, encode_event(event), event.machine.encode(),
                             headers=[("andon.event_type", event.type.encode()),
                                      ("andon.event_id", event.event_id.encode())])
        if producer.flush(30):
            raise AndonError(f"Kafka did not acknowledge the work order events on {topic}",
                             hint="check the broker; the cursor was not advanced, the next poll retries")
        cursor.advance(fresh)
        cursor.save()
        published += len(fresh)
        if len(rows) < limit:
            return published


@click.command(cls=Command, name="workorders")
@config_option("site TOML (secrets from ANDON_ODOO_* / ANDON_KAFKA_*)", required=True)
@option("--state", default="andon-data/workorders.state.json", show_default=True, metavar="FILE", help="cursor file")
@option("--interval", type=float, default=30.0, show_default=True, metavar="SECONDS", help="seconds between polls")
@option("--once", is_flag=True, help="poll once and exit")
@option("--states", default=",".join(RELEASED_STATES), show_default=True,
        help="work order states that count as released, comma-separated")
@bootstrap_option()
@observability_options
def run_workorders(**params) -> int:
    """Publish released Odoo work orders to Kafka for MES."""
    args = SimpleNamespace(**params)
    from confluent_kafka import Producer

    from andon import shutdown
    from andon.config import load_site
    from andon.connectors.kafka import producer_config
    from andon.connectors.odoo import OdooCircuitOpenError, OdooClient, OdooTransientError
    from andon.connectors.odoo.metrics import init_labels, instrument
    from andon.pipelines.runner import start_observability

    site = with_bootstrap(load_site(args.config), args.bootstrap_servers)
    if not (site.odoo.password or site.odoo.api_key):
        raise AndonError("no Odoo credentials", hint="set ANDON_ODOO_PASSWORD or ANDON_ODOO_API_KEY")
    status = start_observability(args, f"andon workorders · {site.site.id}")
    init_labels()  # andon_odoo_errors_total{kind} at 0 for every kind before the first failure
    states = tuple(s.strip() for s in args.states.split(",") if s.strip())
    cursor = Cursor(args.state)
    producer = Producer(producer_config(site.kafka.client_config()))
    total = 0
    with instrument(OdooClient(site.odoo)) as client, shutdown.handling():
        if status is not None:
            status.add_check("odoo", lambda: (client.breaker.state != "open", f"circuit {client.breaker.state}"))
            status.ready.set()
        from andon.progress import PROGRESS

        PROGRESS.timeout_s = max(PROGRESS.timeout_s, 3 * args.interval)  # a poll every interval is progress
        # SIGTERM/SIGINT: the poll in flight finishes (events acknowledged, cursor saved), then the loop ends (exit 0)
        while True:
            PROGRESS.polled()
            try:
                total += poll_once(client, site, cursor, producer, site.topics.workorders, states)
                PROGRESS.advanced()
            except (OdooTransientError, OdooCircuitOpenError) as exc:
                if args.once:
                    raise
                PROGRESS.holding(f"Odoo unavailable ({exc.odoo_message})")
                log.warning("odoo unavailable (%s); next poll in %.0fs", exc.odoo_message, args.interval)
            if args.once or shutdown.wait(args.interval):
                break
    if shutdown.requested():
        print(f"andon: stopped cleanly on {shutdown.signal_name()}: the poll in flight finished, cursor saved",
              file=sys.stderr)
    print(json.dumps({"published": total, "cursor": cursor.write_date}), file=sys.stderr)
    return 0

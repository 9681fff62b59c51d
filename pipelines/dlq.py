"""`andon dlq list|show|replay`: the dead-letter topics, read and (for events) replayed into Odoo.

    andon dlq list   --config site.toml [--topic events|telemetry] [--format json]
    andon dlq show   0:17 --config site.toml [--topic telemetry]
    andon dlq replay --all --config site.toml            # or --id 0:17 --id 1:4

An entry's id is `PARTITION:OFFSET` in its DLQ topic. `replay` applies the original event bytes directly through
the same Odoo sink odoo_sync uses (not via the events topic), so it reports per event whether the cause is fixed;
every write is keyed by the event id, so replaying twice changes nothing. Entries still refused stay in the DLQ
(the topic is append-only) and are listed with their new reason; nothing is re-published.
"""

from __future__ import annotations

import json
import sys
from types import SimpleNamespace

import click

from andon.cli_env import Group, bootstrap_option, config_option, eof_idle_option, format_option, option
from andon.errors import AndonError


class DlqError(AndonError, ValueError):
    """A DLQ command was asked for something that does not exist."""


def _entries(site, which: str, idle_s: float) -> list[dict]:
    from andon.connectors.kafka import read_topic

    topic = site.topics.events_dlq if which == "events" else site.topics.telemetry_dlq
    out = []
    for m in read_topic(site.kafka.client_config(), topic, idle_s=idle_s):
        headers = {k: (v or b"").decode("utf-8", "replace") for k, v in (m.headers() or [])}
        out.append({"id": f"{m.partition()}:{m.offset()}", "topic": topic, "reason": headers.get("andon.dlq.reason", ""),
                    "detail": headers.get("andon.dlq.detail", ""), "hint": headers.get("andon.dlq.hint", ""),
                    "odoo_error": headers.get("andon.odoo.error"), "event_id": headers.get("andon.event_id"),
                    "event_type": headers.get("andon.event_type"),
                    "source": f"{headers.get('andon.source.topic', '')}[{headers.get('andon.source.partition', '')}]"
                              f"@{headers.get('andon.source.offset', '')}",
                    "key": (m.key() or b"").decode("utf-8", "replace"), "headers": headers, "raw": m.value() or b""})
    return out


def _site(config: str, bootstrap_servers: str | None):
    from andon.config import load_site
    from andon.pipelines.runner import with_bootstrap

    return with_bootstrap(load_site(config), bootstrap_servers)


@click.group(cls=Group)
def dlq() -> None:
    """List, show and replay dead-lettered events (an entry's id is PARTITION:OFFSET in its DLQ topic)."""


def _common(f):
    f = bootstrap_option()(f)
    f = eof_idle_option(2.0, "seconds of silence that end reading the topic")(f)
    return config_option("site TOML (Kafka and Odoo settings; secrets from env)", required=True)(f)


def _topic(f):
    return option("--topic", type=click.Choice(["events", "telemetry"]), default="events", show_default=True,
                  help="which dead-letter topic")(f)


@dlq.command("list")
@_common
@_topic
@format_option(("text", "json"), "text: one line per entry; json: one JSON object per line")
def list_(config: str, eof_idle: float, bootstrap_servers: str | None, topic: str, format: str) -> int:
    """list the entries of a dead-letter topic"""
    site = _site(config, bootstrap_servers)
    entries = _entries(site, topic, eof_idle)
    for e in entries:
        if format == "json":
            print(json.dumps({k: v for k, v in e.items() if k not in ("raw", "headers")}))
        else:
            what = e["event_type"] or "reading"
            print(f"{e['id']:>10}  {e['reason']:<22} {what:<26} {e['key']:<10} {e['detail'][:90]}")
    if format != "json":
        name = site.topics.events_dlq if topic == "events" else site.topics.telemetry_dlq
        print(f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'} in {name}", file=sys.stderr)
    return 0


@dlq.command()
@click.argument("entry_id", metavar="ID")
@_common
@_topic
def show(entry_id: str, config: str, eof_idle: float, bootstrap_servers: str | None, topic: str) -> int:
    """print one entry (ID as `andon dlq list` prints it) with its headers and event"""
    entries = {e["id"]: e for e in _entries(_site(config, bootstrap_servers), topic, eof_idle)}
    if entry_id not in entries:
        raise DlqError(f"no DLQ entry {entry_id}", hint="run `andon dlq list` for the ids (PARTITION:OFFSET)")
    e = entries[entry_id]
    doc = {k: v for k, v in e.items() if k != "raw"}
    try:
        doc["event"] = json.loads(e["raw"])
    except ValueError:
        doc["raw"] = e["raw"].decode("utf-8", "replace")
    print(json.dumps(doc, indent=2))
    return 0


@dlq.command("replay")
@_common
@option("--id", "ids", multiple=True, metavar="ID", help="entry to replay (repeatable)")
@option("--all", "all_", is_flag=True, help="replay every entry of the events DLQ")
@option("--audit", default="andon-data/odoo-audit.jsonl", show_default=True, metavar="FILE",
        help="audit trail to append to")
@option("--ledger", default=None, metavar="FILE", help="SQLite ledger shared with odoo-sync (optional)")
def replay_command(config: str, eof_idle: float, bootstrap_servers: str | None, ids: tuple[str, ...], all_: bool,
                   audit: str, ledger: str | None) -> int:
    """apply the events of the events DLQ to Odoo again (--all, or --id ID repeated); exit 1 while any is refused"""
    if bool(ids) == all_:
        raise click.UsageError("pass --all or one or more --id ID (not both)")
    args = SimpleNamespace(idle=eof_idle, id=list(ids), all=all_, audit=audit, ledger=ledger)
    return replay(_site(config, bootstrap_servers), args)


def main(argv: list[str]) -> int:
    """`andon dlq ARGS...` as a function: its exit status."""
    from andon.cli import invoke

    return invoke(dlq, argv, "andon dlq")


def replay(site, args) -> int:
    from andon.connectors.odoo import OdooClient
    from andon.connectors.odoo.journal import AuditTrail, Ledger
    from andon.connectors.odoo.sync import Inbound, OdooSync
    from andon.events import EventError

    entries = _entries(site, "events", args.idle)
    if args.id:
        by_id = {e["id"]: e for e in entries}
        missing = [i for i in args.id if i not in by_id]
        if missing:
            raise DlqError(f"no DLQ entr{'y' if len(missing) == 1 else 'ies'} {', '.join(missing)}",
                           hint="run `andon dlq list` for the ids (PARTITION:OFFSET)")
        entries = [by_id[i] for i in args.id]
    items, seen, invalid = [], set(), 0
    from andon.pipelines.odoo_sync import MAX_EVENT_BYTES

    for e in entries:
        if len(e["raw"]) > MAX_EVENT_BYTES:  # same size limit as the odoo_sync input
            invalid += 1
            print(f"{e['id']}: still invalid: oversized ({len(e['raw'])} bytes > limit {MAX_EVENT_BYTES})")
            continue
        try:
            it = Inbound.of(e["raw"], key=e["key"].encode() or None, topic=e["topic"],
                            partition=int(e["id"].split(":")[0]), offset=int(e["id"].split(":")[1]))
        except EventError as exc:
            invalid += 1
            print(f"{e['id']}: still invalid: {exc}")
            continue
        if it.event.event_id not in seen:  # the same event may have been refused more than once
            seen.add(it.event.event_id)
            items.append(it)
    if not (site.odoo.password or site.odoo.api_key):
        raise AndonError("no Odoo credentials", hint="set ANDON_ODOO_PASSWORD or ANDON_ODOO_API_KEY")
    ledger = Ledger(args.ledger)
    with OdooClient(site.odoo) as client:
        sync = OdooSync(client, site, audit=AuditTrail(args.audit), ledger=ledger)
        result = sync.apply(sorted(items, key=lambda it: it.event.occurred_at))
    ledger.close()
    refused = {it.event.event_id: r for it, r in result.dead}
    outcomes: dict[str, str] = {}
    for rec in result.audit:
        outcomes[rec.event_id] = rec.outcome if rec.event_id not in refused else "dead_letter"
    for it in items:
        eid = it.event.event_id
        if eid in refused:
            print(f"{eid} {it.event.type}: still refused ({refused[eid].reason}: {refused[eid].detail})")
        else:
            print(f"{eid} {it.event.type}: {outcomes.get(eid, 'applied')}")
    print(json.dumps({"replayed": len(items), "applied_or_present": len(items) - len(refused),
                      "still_refused": len(refused), "invalid": invalid}), file=sys.stderr)
    return 1 if refused or invalid else 0

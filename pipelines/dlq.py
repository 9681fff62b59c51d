"""`andon dlq list|show|replay`: the dead-letter topics, read and (for events) replayed into Odoo.

    andon dlq list   --config site.toml [--topic events|telemetry] [--json]
    andon dlq show   0:17 --config site.toml [--topic telemetry]
    andon dlq replay --all --config site.toml            # or --id 0:17 --id 1:4

An entry's id is `PARTITION:OFFSET` in its DLQ topic. `replay` applies the original event bytes directly through
the same Odoo sink odoo_sync uses (not via the events topic), so it reports per event whether the cause is fixed;
every write is keyed by the event id, so replaying twice changes nothing. Entries still refused stay in the DLQ
(the topic is append-only) and are listed with their new reason; nothing is re-published.
"""

from __future__ import annotations

import argparse
import json
import sys

from andon.cli_env import apply_env_defaults
from andon.config import load_site
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


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="andon dlq", description="List, show and replay dead-lettered events.")
    sub = p.add_subparsers(dest="action", required=True)
    for name in ("list", "show", "replay"):
        s = sub.add_parser(name)
        s.add_argument("--config", required=True, help="site TOML (Kafka and Odoo settings; secrets from env)")
        s.add_argument("--idle", type=float, default=2.0, help="seconds of silence that end reading the topic")
        if name != "replay":
            s.add_argument("--topic", choices=["events", "telemetry"], default="events")
        if name == "list":
            s.add_argument("--json", action="store_true", help="one JSON object per line")
        if name == "show":
            s.add_argument("id", help="PARTITION:OFFSET as `andon dlq list` prints it")
        if name == "replay":
            g = s.add_mutually_exclusive_group(required=True)
            g.add_argument("--id", action="append", help="entry to replay (repeatable)")
            g.add_argument("--all", action="store_true", help="replay every entry of the events DLQ")
            s.add_argument("--audit", default="andon-data/odoo-audit.jsonl", help="audit trail to append to")
            s.add_argument("--ledger", default=None, help="SQLite ledger shared with odoo-sync (optional)")
    return p


def main(argv: list[str]) -> int:
    args = apply_env_defaults(_parser()).parse_args(argv)
    site = load_site(args.config)
    if args.action == "list":
        entries = _entries(site, args.topic, args.idle)
        for e in entries:
            if args.json:
                print(json.dumps({k: v for k, v in e.items() if k not in ("raw", "headers")}))
            else:
                what = e["event_type"] or "reading"
                print(f"{e['id']:>10}  {e['reason']:<22} {what:<26} {e['key']:<10} {e['detail'][:90]}")
        if not args.json:
            print(f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'} in {site.topics.events_dlq if args.topic == 'events' else site.topics.telemetry_dlq}",
                  file=sys.stderr)
        return 0
    if args.action == "show":
        entries = {e["id"]: e for e in _entries(site, args.topic, args.idle)}
        if args.id not in entries:
            raise DlqError(f"no DLQ entry {args.id}", hint="run `andon dlq list` for the ids (PARTITION:OFFSET)")
        e = entries[args.id]
        doc = {k: v for k, v in e.items() if k != "raw"}
        try:
            doc["event"] = json.loads(e["raw"])
        except ValueError:
            doc["raw"] = e["raw"].decode("utf-8", "replace")
        print(json.dumps(doc, indent=2))
        return 0
    return replay(site, args)


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

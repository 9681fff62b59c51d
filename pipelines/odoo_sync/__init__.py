"""The odoo_sync dataflow: business events (Kafka) -> validate -> shard by machine -> apply to Odoo, with refusals
to the events DLQ and every outcome in the audit trail.

Example::

    flow = build_flow(OdooSyncFlowConfig(site=site, audit_path="audit.jsonl", eof_idle_s=5))
    # andon run odoo-sync --config site.toml   (or bytewax.testing.run_main(flow))
"""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.operators import StatefulBatchLogic

from andon.config import SiteConfig
from andon.connectors.kafka import KafkaBatchSource, KafkaSink
from andon.connectors.odoo import CircuitBreaker, OdooClient, RetryPolicy
from andon.connectors.odoo.journal import AuditTrail, Ledger
from andon.connectors.odoo.resilience import TokenBucket
from andon.connectors.odoo.sync import Inbound, OdooSync, dead_letter, invalid_event
from andon.events import EventError, decode_event
from andon.messages import OutMessage, RawBatch
from andon.pipelines.odoo_sync.observe import CorrelatedAudit, count_dead, pending
from andon.pipelines.status import BOARD, DEAD_LETTERS
from andon.progress import PROGRESS

SNAPSHOT_VERSION = 1
#: Default size limit of one event on the events topic (and of one DLQ entry replayed by `andon dlq replay`).
MAX_EVENT_BYTES = 65_536


@dataclass
class OdooSyncFlowConfig:
    """What odoo_sync reads, how it shards and where it keeps its audit trail and ledger."""

    #: the first site; `sites` may add more of the same deployment (each applied with its own [odoo] settings)
    site: SiteConfig | None = None
    audit_path: str | Path | None = None
    ledger_path: str | Path | None = None
    #: Events of one machine always land in the same shard (per-machine order); one Odoo client per shard.
    shards: int = 1
    poll_size: int = 2_000
    eof_idle_s: float | None = None
    refresh_s: float = 300.0
    hold_max_s: float = 30.0
    scrap_insufficient: str = "confirm"
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    breaker_threshold: int = 5
    breaker_reset_s: float = 30.0
    kafka_config: dict = field(default_factory=dict)
    #: Larger events are refused to the events DLQ (reason `oversized`) before decoding; v1 events are < 2 KiB.
    max_event_bytes: int = MAX_EVENT_BYTES
    #: every site of the deployment (`site` first); events of any other site are refused (reason unknown_site)
    sites: Sequence[SiteConfig] = ()

    def __post_init__(self) -> None:
        every = ([self.site] if self.site is not None else []) + [s for s in self.sites if s is not self.site]
        if not every:
            raise ValueError("at least one site config is needed")
        ids = [s.site.id for s in every]
        if len(set(ids)) != len(ids):
            raise ValueError(f"a site is configured twice: {ids}")
        self.site, self.sites = every[0], every
        if self.max_event_bytes < 256:
            raise ValueError("max_event_bytes must be at least 256")
        if self.shards < 1:
            raise ValueError("shards must be at least 1")
        if self.poll_size < 1:
            raise ValueError("poll_size must be at least 1")


@dataclass
class Decoded:
    items: list[Inbound]
    dead: list[OutMessage]


class _Shared:
    """Per-process objects several shards share: the audit file and the ledger (both locked inside), and the
    OdooSync instances so the run can report their counters."""

    lock = threading.Lock()
    audits: dict[str, AuditTrail] = {}
    ledgers: dict[str, Ledger] = {}
    limiters: dict[tuple, TokenBucket] = {}
    syncs: list[OdooSync] = []

    @classmethod
    def limiter(cls, odoo) -> TokenBucket:
        """One token bucket per Odoo endpoint and process: rate_limit_per_s holds for all shards together."""
        with cls.lock:
            key = (odoo.url, odoo.database, odoo.rate_limit_per_s)
            return cls.limiters.setdefault(key, TokenBucket(odoo.rate_limit_per_s))

    @classmethod
    def audit(cls, path) -> AuditTrail:
        with cls.lock:
            return cls.audits.setdefault(str(path), AuditTrail(path))

    @classmethod
    def ledger(cls, path) -> Ledger:
        with cls.lock:
            if str(path) not in cls.ledgers:
                cls.ledgers[str(path)] = Ledger(path)
            return cls.ledgers[str(path)]


def counters() -> dict[str, int]:
    """Outcome counts over every OdooSync of this process (for the end-of-run summary and metrics)."""
    total: dict[str, int] = {}
    for sync in _Shared.syncs:
        for key, value in sync.counters.items():
            total[key] = total.get(key, 0) + value
    return total


def make_sync(cfg: OdooSyncFlowConfig, site: SiteConfig | None = None) -> OdooSync:
    """An OdooSync for `site` (default: the first) with its own Odoo client, settings and master-data cache."""
    site = site or cfg.site
    client = OdooClient(site.odoo, retry=cfg.retry,
                        breaker=CircuitBreaker(cfg.breaker_threshold, cfg.breaker_reset_s))
    client.limiter = _Shared.limiter(site.odoo)
    sync = OdooSync(client, site, audit=CorrelatedAudit(_Shared.audit(cfg.audit_path) if cfg.audit_path else
                                                            AuditTrail(None)),
                    ledger=_Shared.ledger(cfg.ledger_path) if cfg.ledger_path else None, refresh_s=cfg.refresh_s,
                    hold_max_s=cfg.hold_max_s, scrap_insufficient=cfg.scrap_insufficient)
    with _Shared.lock:
        _Shared.syncs.append(sync)
    return sync


class _ApplyLogic(StatefulBatchLogic):
    """One shard: applies its events in arrival order and emits dead-letter messages. Holds no state worth a
    snapshot (Odoo-side keys are the truth), so a resume simply re-applies from the last committed offsets."""

    def __init__(self, cfg: OdooSyncFlowConfig, resume_state) -> None:
        self.cfg = cfg
        self.by_site = {s.site.id: s for s in cfg.sites}
        #: one OdooSync per site this shard has seen (each its own Odoo endpoint, settings and cache)
        self.syncs: dict[str, OdooSync] = {}
        self._flush_at: datetime | None = None

    def _sync(self, site_id: str) -> OdooSync:
        sync = self.syncs.get(site_id)
        if sync is None:
            sync = self.syncs[site_id] = make_sync(self.cfg, self.by_site[site_id])
        return sync

    def on_batch(self, values: list[list[Inbound]]):
        items = [it for chunk in values for it in chunk]
        by_site: dict[str, list[Inbound]] = {}
        for it in items:  # a machine belongs to one site: per-machine order holds within each group
            by_site.setdefault(it.event.site, []).append(it)
        out = []
        for site_id, group in by_site.items():
            result = self._sync(site_id).apply(group)
            BOARD.settled([it.event.event_id for it in group],
                          ["refused" if r.outcome == "dead_letter" else r.outcome for r in result.audit])
            dlq = self.by_site[site_id].topics.events_dlq
            out.extend(dead_letter(it, refusal, dlq) for it, refusal in result.dead)
        return out, StatefulBatchLogic.RETAIN

    def notify_at(self):
        """While quantities or rejects are held back (coalesced), post them at the latest one posting interval of
        wall time later, so an idle machine's last values do not wait for its next event."""
        waiting = [s for s in self.syncs.values() if s.has_pending()]
        if not waiting:
            self._flush_at = None
            return None
        if self._flush_at is None:
            wait = min(max(1, s.posting.quantity_interval_s) for s in waiting)
            self._flush_at = datetime.now(UTC) + timedelta(seconds=wait)
        return self._flush_at

    def on_notify(self):
        self._flush_at = None
        return self.on_eof()

    def on_eof(self):
        out = []
        for site_id, sync in self.syncs.items():
            result = sync.flush()
            dlq = self.by_site[site_id].topics.events_dlq
            out.extend(dead_letter(it, refusal, dlq) for it, refusal in result.dead)
        return out, StatefulBatchLogic.RETAIN

    def snapshot(self):
        return {"version": SNAPSHOT_VERSION}


def oversized_event(raw: bytes, limit: int, key: bytes | None, topic: str, partition: int, offset: int,
                    dlq_topic: str) -> OutMessage:
    """Dead letter for an event over the size limit (its first 4 KiB kept, enough to find the producer)."""
    headers = [("andon.dlq.reason", b"oversized"), ("andon.dlq.detail", f"{len(raw)} bytes > limit {limit}".encode()),
               ("andon.dlq.hint", b"fix the producer: a v1 event is a few hundred bytes"),
               ("andon.source.topic", topic.encode()), ("andon.source.partition", str(partition).encode()),
               ("andon.source.offset", str(offset).encode())]
    return OutMessage(dlq_topic, key, raw[:4096], headers)


def decoder_error(raw: bytes, exc: Exception, key: bytes | None, topic: str, partition: int, offset: int,
                  dlq_topic: str) -> OutMessage:
    """Dead letter for an event the decoder failed on unexpectedly (a bug in andon: the text says which)."""
    detail = f"{type(exc).__name__}: {exc}".encode("utf-8", "backslashreplace")[:1024]
    headers = [("andon.dlq.reason", b"decoder_error"), ("andon.dlq.detail", detail),
               ("andon.dlq.hint", b"a bug in andon's event decoder: report it with this message"),
               ("andon.source.topic", topic.encode()), ("andon.source.partition", str(partition).encode()),
               ("andon.source.offset", str(offset).encode())]
    return OutMessage(dlq_topic, key, raw, headers)


def unknown_site_event(raw: bytes, site: str, known: Sequence[str], key: bytes | None, topic: str, partition: int,
                       offset: int, dlq_topic: str) -> OutMessage:
    """Dead letter for an event of a site this deployment has no config for."""
    headers = [("andon.dlq.reason", b"unknown_site"),
               ("andon.dlq.detail", f"site {site!r} is not configured here (sites: {', '.join(known)})".encode()),
               ("andon.dlq.hint", b"add the site's config file to this odoo-sync deployment (--config) or fix the "
                                  b"producer's site, then: andon dlq replay"),
               ("andon.source.topic", topic.encode()), ("andon.source.partition", str(partition).encode()),
               ("andon.source.offset", str(offset).encode())]
    return OutMessage(dlq_topic, key, raw, headers)


def build_flow(cfg: OdooSyncFlowConfig) -> Dataflow:
    from andon.pipelines.status import report_lag

    site = cfg.site
    BOARD.register_sites(cfg.sites, "odoo_sync")
    kafka = {**site.kafka.client_config(), **cfg.kafka_config}
    by_site = {s.site.id: s for s in cfg.sites}
    known = sorted(by_site)
    # an event that cannot be attributed to a site goes to the dead-letter topic of the first site reading its topic
    dlq_of_topic: dict[str, str] = {}
    for s in cfg.sites:
        dlq_of_topic.setdefault(s.topics.events, s.topics.events_dlq)
    shard_keys = [f"shard-{i:02d}" for i in range(cfg.shards)]

    from andon.connectors.odoo.sync_metrics import init_labels
    from andon.events import EVENT_TYPES

    init_labels(EVENT_TYPES)
    for s in cfg.sites:
        for reason in ("oversized", "decoder_error", "unknown_site", "invalid_event"):
            DEAD_LETTERS.labels(s.topics.events_dlq, reason)

    def decode(batch: RawBatch) -> Decoded:
        PROGRESS.advanced()
        out = Decoded([], [])
        read_ms = int(time.time() * 1000)
        headers = batch.headers or [None] * len(batch)
        stamps = batch.timestamps or [None] * len(batch)
        dlq = dlq_of_topic.get(batch.topic, site.topics.events_dlq)
        for offset, value, key, head, stamp in zip(batch.offsets, batch.values, batch.keys, headers, stamps,
                                                   strict=True):
            if len(value) > cfg.max_event_bytes:
                out.dead.append(oversized_event(value, cfg.max_event_bytes, key, batch.topic, batch.partition, offset,
                                                dlq))
                continue
            try:
                event = decode_event(value)
                if event.site not in by_site:
                    out.dead.append(unknown_site_event(value, event.site, known, key, batch.topic, batch.partition,
                                                       offset, dlq))
                    continue
                out.items.append(Inbound(event, value, key, batch.topic, batch.partition, offset))
                BOARD.consumed([pending(event, head, stamp, read_ms)])
            except EventError as exc:
                out.dead.append(invalid_event(value, exc, key, batch.topic, batch.partition, offset, dlq))
            except Exception as exc:  # a bug in decoding must not stop the sync: this event alone is set aside
                out.dead.append(decoder_error(value, exc, key, batch.topic, batch.partition, offset, dlq))
        return out

    def shard(decoded: Decoded) -> list[tuple[str, list[Inbound]]]:
        groups: dict[str, list[Inbound]] = {}
        for it in decoded.items:
            key = shard_keys[zlib.crc32(f"{it.event.site}/{it.event.machine}".encode()) % cfg.shards]
            groups.setdefault(key, []).append(it)
        return list(groups.items())

    flow = Dataflow("andon_odoo_sync")
    raw = op.input("events_in", flow, KafkaBatchSource(kafka, list(dlq_of_topic), batch_size=cfg.poll_size,
                                                       eof_idle_s=cfg.eof_idle_s, on_lag=report_lag,
                                                       group_prefix=site.kafka.group_id))
    decoded = op.map("decode", raw, decode)
    invalid = op.flat_map("invalid", decoded, lambda d: d.dead)
    sharded = op.flat_map("shard", decoded, shard)
    applied = op.stateful_batch("odoo_apply", sharded, lambda resume: _ApplyLogic(cfg, resume))
    refused = op.flat_map("refused", applied, lambda kv: [kv[1]])
    op.output("dlq_out", op.map("count_dead", op.merge("dead_letters", invalid, refused), count_dead),
              KafkaSink(kafka))
    return flow

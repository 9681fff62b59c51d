"""What odoo_sync tells operators: correlation ids from Kafka headers to the audit trail and the logs, events
waiting for Odoo (status page and gauges), dead letters by reason, and readiness (Odoo's circuit not open).

Correlation id rule: the Kafka header `andon.correlation_id` of the event's message wins; else the envelope's
`correlation_id`; else the event id. The telemetry dataflow sets both to the event id (an event aggregates many
readings, so no single reading's id can stand for it, and the event id is stable across replays); other
producers (MES, `andon dlq replay`, a person re-publishing an event) may set their own.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable

from prometheus_client import Gauge

from andon.connectors.odoo.journal import AuditRecord
from andon.connectors.odoo.metrics import CIRCUIT_STATE, circuit_state_value
from andon.events import Event
from andon.logs import CORRELATION_HEADER
from andon.messages import OutMessage
from andon.pipelines.status import BOARD, Pending, count_dead_letter

log = logging.getLogger("andon.odoo_sync")

UNAPPLIED = Gauge("andon_odoo_unapplied_events", "Events read from Kafka and not yet applied to Odoo (nor refused)")
UNAPPLIED.set_function(BOARD.unapplied)
OLDEST_UNAPPLIED = Gauge("andon_odoo_oldest_unapplied_age_seconds",
                         "Age of the oldest event read but not yet applied to Odoo (since it was published to Kafka)")
OLDEST_UNAPPLIED.set_function(BOARD.oldest_unapplied_age_s)

_LEVELS = {"applied": logging.INFO, "exists": logging.INFO, "dead_letter": logging.WARNING}


def correlation_id(headers: Iterable[tuple[str, bytes]] | None, event: Event) -> str:
    for name, value in headers or ():
        if name == CORRELATION_HEADER and value:
            return value.decode("utf-8", "replace")
    return event.correlation_id or event.event_id


def pending(event: Event, headers, kafka_ts_ms: int | None, read_ms: int) -> Pending:
    published = kafka_ts_ms if kafka_ts_ms and kafka_ts_ms > 0 else read_ms
    return Pending(event.event_id, event.type, event.machine, correlation_id(headers, event), published)


@dataclasses.dataclass(frozen=True, slots=True)
class CorrelatedRecord(AuditRecord):
    """An audit line with the correlation id of the event's message (written as `correlation_id`)."""

    correlation_id: str | None = None


class CorrelatedAudit:
    """Wraps an AuditTrail: adds each event's correlation id to its audit lines and logs every Odoo outcome."""

    def __init__(self, trail) -> None:
        self.trail = trail

    def append(self, records: Iterable[AuditRecord]) -> int:
        out = []
        for r in records:
            cid = BOARD.correlation(r.event_id) or r.event_id
            out.append(CorrelatedRecord(**{f.name: getattr(r, f.name) for f in dataclasses.fields(AuditRecord)},
                                        correlation_id=cid))
            level = _LEVELS.get(r.outcome, logging.DEBUG)
            if log.isEnabledFor(level):
                target = f"{r.model}#{r.record_id}" if r.model else "no write"
                log.log(level, "odoo %s %s: %s%s", r.operation, target, r.outcome, f" ({r.detail})" if r.detail else "",
                        extra={"event_id": r.event_id, "correlation_id": cid, "event_type": r.type,
                               "machine": r.machine, "model": r.model, "operation": r.operation,
                               "outcome": r.outcome})
        return self.trail.append(out)

    def __getattr__(self, name: str):
        return getattr(self.trail, name)


def count_dead(message: OutMessage) -> OutMessage:
    """Count a dead letter (DLQ topic, reason) on its way to the events DLQ."""
    reason = next((v.decode() for k, v in message.headers if k == "andon.dlq.reason"), "unknown")
    count_dead_letter(message.topic, reason)
    return message


def watch_circuits(syncs) -> None:
    """Let the circuit-state gauge read the breakers of `syncs` (a live list) at every scrape."""
    CIRCUIT_STATE.set_function(lambda: max((circuit_state_value(s.client.breaker.state) for s in list(syncs)),
                                           default=0))


def odoo_ready(syncs) -> tuple[bool, str]:
    """Ready unless an Odoo circuit breaker is open (Odoo kept failing: writes are held, nothing is lost)."""
    states = [s.client.breaker.state for s in list(syncs)]
    if "open" in states:
        return False, "Odoo circuit breaker open: Odoo unreachable or failing, writes are held"
    return True, f"{len(states)} Odoo client(s), circuit {'closed' if states else 'not used yet'}"

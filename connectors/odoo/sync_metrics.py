"""odoo-sync's own Prometheus counters: events handled per type and outcome, and the batches held while Odoo was
down. Only odoo-sync imports this module, so no other process exports these families (docs/observability.md)."""

from __future__ import annotations

from prometheus_client import Counter

from andon.connectors.odoo.metrics import init_labels as init_client_labels

HOLDS = Counter("andon_odoo_holds_total", "Times odoo_sync held a batch because Odoo was unavailable")
HELD_SECONDS = Counter("andon_odoo_held_seconds_total", "Seconds odoo_sync waited for Odoo to come back")
#: odoo_sync outcome per event (the audit outcome of its last record; `retried` once per hold of its batch).
EVENTS = Counter("andon_odoo_events_total", "Business events handled by odoo_sync by type and outcome",
                 ["type", "outcome"])

#: Outcomes of `andon_odoo_events_total` (docs/observability.md).
OUTCOMES = ("applied", "exists", "skipped", "ledger", "refused", "retried")


def init_labels(event_types) -> None:
    """Every error kind and every event type x outcome at 0, so a rate() or an alert sees a series at once."""
    init_client_labels()
    for event_type in event_types:
        for outcome in OUTCOMES:
            EVENTS.labels(event_type, outcome)

"""Prometheus metrics of the Odoo client: call latency, errors by kind, retries and the circuit state.

Every process that talks to Odoo (odoo-sync, workorders) exports these; odoo-sync's own counters (events per outcome,
holds) are in `andon.connectors.odoo.sync_metrics`, so a process exports only the metrics it can move.

`instrument(client)` wraps an `OdooClient`'s transport so that every attempt (retries included) is timed and every
failure counted by kind, without the client knowing:

    client = instrument(OdooClient(site.odoo))

Error kinds: the transient reasons (`unavailable` for 503, `rate_limited` for 429, `serialization`, `timeout`,
`connection_refused`, `connection_reset`) and, for permanent errors, `user_error`, `validation`, `missing`,
`access`, `auth`, `request`, `server`, `config`. `circuit_open` counts calls refused by the breaker.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

from andon.connectors.odoo.errors import OdooError, OdooTransientError
from andon.connectors.odoo.resilience import READ_METHODS

CALL_SECONDS = Histogram(
    "andon_odoo_call_duration_seconds", "Odoo call latency per attempt (retries count separately)",
    ["kind", "model", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0))
ERRORS = Counter("andon_odoo_errors_total", "Failed Odoo call attempts by error kind", ["kind"])
RETRIES = Counter("andon_odoo_retries_total", "Odoo calls retried by the client after a transient failure")
CIRCUIT_OPEN = Counter("andon_odoo_circuit_open_total", "Odoo calls refused at once by the open circuit breaker")

_ERROR_KINDS = {"OdooUserError": "user_error", "OdooValidationError": "validation", "OdooMissingError": "missing",
                "OdooAccessError": "access", "OdooAuthError": "auth", "OdooRequestError": "request",
                "OdooServerError": "server", "OdooConfigError": "config", "OdooCircuitOpenError": "circuit_open"}


#: Transient reasons of the client.
_TRANSIENT_KINDS = ("unavailable", "rate_limited", "serialization", "timeout", "connection_refused", "connection_reset")


def init_labels() -> None:
    """Create every error kind at 0, so a rate() or an alert sees a series before the first failure."""
    for kind in (*_TRANSIENT_KINDS, *_ERROR_KINDS.values(), "odoo_error"):
        ERRORS.labels(kind)


def error_kind(exc: BaseException) -> str:
    if isinstance(exc, OdooTransientError):
        return exc.reason
    if isinstance(exc, OdooError):
        return _ERROR_KINDS.get(type(exc).__name__, "odoo_error")
    return "other"


class InstrumentedTransport:
    """Delegates to a transport; times `execute_kw` per model and method, counts failures by kind."""

    def __init__(self, inner) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def execute_kw(self, model: str, method: str, args: list, kwargs: dict) -> Any:
        kind = "read" if method in READ_METHODS else "write"
        started = time.perf_counter()
        try:
            return self.inner.execute_kw(model, method, args, kwargs)
        except BaseException as exc:
            ERRORS.labels(error_kind(exc)).inc()
            raise
        finally:
            CALL_SECONDS.labels(kind, model, method).observe(time.perf_counter() - started)

    def authenticate(self) -> int:
        try:
            return self.inner.authenticate()
        except BaseException as exc:
            ERRORS.labels(error_kind(exc)).inc()
            raise


def instrument(client):
    """Wrap `client.transport` once (idempotent); returns the client."""
    if not isinstance(client.transport, InstrumentedTransport):
        client.transport = InstrumentedTransport(client.transport)
    return client


def circuit_state_value(state: str) -> int:
    return {"closed": 0, "half_open": 1, "open": 2}.get(state, 0)


CIRCUIT_STATE = Gauge("andon_odoo_circuit_state", "Worst circuit breaker state of this process: 0 closed, "
                      "1 half-open, 2 open")

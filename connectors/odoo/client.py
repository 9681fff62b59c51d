"""`OdooClient`: one interface to Odoo over XML-RPC, JSON-RPC or JSON-2, with retries, a circuit breaker and a
client-side rate limit.

    client = OdooClient(site.odoo)                       # andon.config.OdooSettings
    wc = client.search_read("mrp.workcenter", [("code", "=", "WC-PRESS-01")], ["id", "working_state"])
    log_id = client.create("mrp.workcenter.productivity", {"workcenter_id": wc[0]["id"], ...})
    client.call_button("mrp.workorder", [wo_id], "button_start")

Retry policy (see `RetryPolicy`): only transient failures are retried, with exponential backoff and full jitter,
honouring Retry-After. Calls are retried after 503, 429, a serialization failure (Odoo rolled the transaction
back) and connection refused: the call provably did not run. After a timeout or a dropped connection the outcome
is unknown, so only read-only methods are retried; a `create` could otherwise be applied twice. Callers make
writes idempotent (the sync layer keys each write by event id and looks for it before creating again) and treat
an `OdooTransientError` from a write as "outcome unknown". User, validation, access and auth errors are never
retried. The circuit breaker counts transient failures per attempt; while open, calls fail fast with
`OdooCircuitOpenError` carrying `retry_after`.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from andon.config import OdooSettings
from andon.connectors.odoo.errors import OdooCircuitOpenError, OdooConfigError, OdooError, OdooTransientError
from andon.connectors.odoo.resilience import CircuitBreaker, RetryPolicy, TokenBucket
from andon.connectors.odoo.transports import Json2Transport, JsonRpcTransport, Transport, XmlRpcTransport

log = logging.getLogger(__name__)

Domain = Sequence[Any]


def make_transport(settings: OdooSettings) -> Transport:
    """The transport `settings.transport` names, holding the settings' secrets."""
    password = settings.password.get_secret_value() if settings.password else None
    api_key = settings.api_key.get_secret_value() if settings.api_key else None
    if settings.transport == "json2":
        return Json2Transport(settings.url, settings.database, api_key, settings.timeout_s)
    secret = password or api_key  # Odoo accepts an API key in place of the password over RPC
    if not secret:
        raise OdooConfigError(f"the {settings.transport} transport needs a password or an API key",
                              hint="set ANDON_ODOO_PASSWORD or ANDON_ODOO_API_KEY")
    cls = XmlRpcTransport if settings.transport == "xmlrpc" else JsonRpcTransport
    return cls(settings.url, settings.database, settings.username, secret, settings.timeout_s)


class OdooClient:
    """Calls Odoo model methods with retries, circuit breaking and rate limiting; thread-safe (calls serialize
    on one connection: use one client per worker for parallel calls)."""

    def __init__(self, settings: OdooSettings, *, retry: RetryPolicy | None = None,
                 breaker: CircuitBreaker | None = None, rate_limit: bool = True,
                 transport: Transport | None = None, sleep: Callable[[float], None] = time.sleep,
                 rng: random.Random | None = None) -> None:
        self.settings = settings
        self.retry = retry or RetryPolicy()
        self.breaker = breaker or CircuitBreaker()
        self.limiter = TokenBucket(settings.rate_limit_per_s, sleep=sleep) if rate_limit else None
        self.transport = transport or make_transport(settings)
        self._sleep, self._rng = sleep, rng or random.Random()
        self._lock = threading.RLock()
        self._uid: int | None = None
        #: attempts, retries, errors by type, waits: for metrics and tests
        self.counters: Counter[str] = Counter()

    def __repr__(self) -> str:
        return f"OdooClient({self.settings.url!r}, db={self.settings.database!r}, transport={self.transport.name!r})"

    # -- core ------------------------------------------------------------------------------------------------
    def _attempt(self, fn: Callable[[], Any]) -> Any:
        self.breaker.before_call()
        if self.limiter is not None:
            waited = self.limiter.acquire()
            if waited:
                self.counters["rate_limit_waits"] += 1
        self.counters["attempts"] += 1
        try:
            result = fn()
        except BaseException as exc:
            self.breaker.record(exc)
            raise
        self.breaker.record(None)
        return result

    def _with_retry(self, model: str | None, method: str, fn: Callable[[], Any]) -> Any:
        for attempt in range(1, self.retry.attempts + 1):
            try:
                return self._attempt(fn)
            except OdooCircuitOpenError:
                self.counters["circuit_open"] += 1
                raise
            except OdooError as exc:
                self.counters[f"error:{type(exc).__name__}"] += 1
                if attempt >= self.retry.attempts or not self.retry.retryable(exc, method):
                    raise
                delay = self.retry.delay(attempt, exc, self._rng)
                if delay is None:
                    raise
                self.counters["retries"] += 1
                reason = exc.reason if isinstance(exc, OdooTransientError) else type(exc).__name__
                log.warning("odoo %s%s failed (%s), retry %d/%d in %.2fs", f"{model}." if model else "", method,
                            reason, attempt, self.retry.attempts - 1, delay)
                self._sleep(delay)
        raise AssertionError("unreachable")

    @property
    def uid(self) -> int:
        """The user id, logging in on first use."""
        with self._lock:
            if self._uid is None:
                self._uid = self._with_retry(None, "authenticate", self.transport.authenticate)
            return self._uid

    def authenticate(self) -> int:
        with self._lock:
            self._uid = None
            return self.uid

    def version(self) -> dict[str, Any]:
        """Odoo's version info (server_version, server_version_info, ...)."""
        with self._lock:
            return self._with_retry(None, "version", self.transport.version)

    def execute_kw(self, model: str, method: str, args: Sequence[Any] | None = None,
                   kwargs: dict[str, Any] | None = None) -> Any:
        """Call `model.method(*args, **kwargs)` in Odoo, as one transaction."""
        args, kwargs = list(args or []), dict(kwargs or {})
        with self._lock:
            if self._uid is None:
                self.uid  # noqa: B018 - log in (with retries) before the first call
            return self._with_retry(model, method, lambda: self.transport.execute_kw(model, method, args, kwargs))

    # -- conveniences ----------------------------------------------------------------------------------------
    def search(self, model: str, domain: Domain = (), *, offset: int = 0, limit: int | None = None,
               order: str | None = None) -> list[int]:
        kwargs: dict[str, Any] = {"offset": offset} if offset else {}
        if limit is not None:
            kwargs["limit"] = limit
        if order:
            kwargs["order"] = order
        return self.execute_kw(model, "search", [_domain(domain)], kwargs)

    def search_read(self, model: str, domain: Domain = (), fields: Sequence[str] | None = None, *, offset: int = 0,
                    limit: int | None = None, order: str | None = None,
                    context: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {"fields": list(fields)} if fields else {}
        if offset:
            kwargs["offset"] = offset
        if limit is not None:
            kwargs["limit"] = limit
        if order:
            kwargs["order"] = order
        if context:
            kwargs["context"] = context
        return self.execute_kw(model, "search_read", [_domain(domain)], kwargs)

    def search_count(self, model: str, domain: Domain = ()) -> int:
        return self.execute_kw(model, "search_count", [_domain(domain)])

    def read(self, model: str, ids: Sequence[int], fields: Sequence[str] | None = None) -> list[dict[str, Any]]:
        return self.execute_kw(model, "read", [list(ids)], {"fields": list(fields)} if fields else {})

    def create(self, model: str, vals: dict[str, Any]) -> int:
        """Create one record; returns its id. Not retried after a timeout: make the write idempotent."""
        result = self.execute_kw(model, "create", [[vals]])
        return result[0] if isinstance(result, list) else result

    def create_many(self, model: str, vals_list: Sequence[dict[str, Any]]) -> list[int]:
        """Create several records in one call (one transaction); returns their ids in order."""
        result = self.execute_kw(model, "create", [list(vals_list)])
        return result if isinstance(result, list) else [result]

    def write(self, model: str, ids: Sequence[int] | int, vals: dict[str, Any]) -> bool:
        return self.execute_kw(model, "write", [_ids(ids), vals])

    def unlink(self, model: str, ids: Sequence[int] | int) -> bool:
        return self.execute_kw(model, "unlink", [_ids(ids)])

    def call_button(self, model: str, ids: Sequence[int] | int, method: str,
                    context: dict[str, Any] | None = None) -> Any:
        """Run a button method (button_start, action_validate, ...); returns True or the wizard action Odoo opens."""
        return self.execute_kw(model, method, [_ids(ids)], {"context": context} if context else {})

    def ref(self, xml_id: str) -> tuple[str, int]:
        """(model, id) of an external id such as 'mrp.block_reason1'."""
        module, _, name = xml_id.partition(".")
        model, rid = self.execute_kw("ir.model.data", "check_object_reference", [module, name, True])
        return model, rid

    def fields_get(self, model: str, attributes: Sequence[str] = ("type", "string", "required", "relation")) -> dict:
        return self.execute_kw(model, "fields_get", [], {"attributes": list(attributes)})

    def close(self) -> None:
        with self._lock:
            self.transport.close()
            self._uid = None

    def __enter__(self) -> OdooClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _domain(domain: Domain) -> list:
    return [list(term) if isinstance(term, tuple) else term for term in domain]


def _ids(ids: Sequence[int] | int) -> list[int]:
    return [ids] if isinstance(ids, int) else list(ids)

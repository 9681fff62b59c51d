"""Every error the Odoo client raises, under `OdooError`; each also subclasses the matching built-in.

Which errors are retried (see `resilience.RetryPolicy`): only `OdooTransientError`, and of those only the ones
where the request provably did not run or was rolled back (`reason` in SAFE_REASONS), plus timeouts and resets
for read-only methods. Everything else is permanent for this call: fix the data, rights or configuration.
"""

from __future__ import annotations

from typing import Any

from andon.errors import AndonError

#: Transient reasons after which Odoo provably did not apply the call: safe to retry any method.
SAFE_REASONS = frozenset({"unavailable", "rate_limited", "serialization", "connection_refused"})
#: Transient reasons with an unknown outcome: retried only for read-only methods.
UNKNOWN_OUTCOME_REASONS = frozenset({"timeout", "connection_reset"})


class OdooError(AndonError):
    """Root of the Odoo client's errors; says which call failed and how Odoo answered."""

    def __init__(self, message: str, *, hint: str = "", model: str | None = None, method: str | None = None,
                 transport: str | None = None, odoo_name: str | None = None, status: int | None = None,
                 fault_code: int | None = None, debug: str | None = None) -> None:
        where = f"{model}.{method}" if model and method else (method or "")
        super().__init__(f"Odoo {where}: {message}" if where else f"Odoo: {message}", hint)
        self.odoo_message, self.model, self.method, self.transport = message, model, method, transport
        self.odoo_name, self.status, self.fault_code, self.debug = odoo_name, status, fault_code, debug


class OdooTransientError(OdooError, ConnectionError):
    """Odoo is unreachable, overloaded or hit a concurrent update; the same call may succeed later.

    `reason` is one of unavailable (HTTP 503), rate_limited (429), serialization (rolled back after Odoo's own
    retries), connection_refused, connection_reset, timeout; `retry_after` is the server's hint in seconds.
    """

    hint = "retry later; Odoo or the network is temporarily unavailable"

    def __init__(self, message: str, *, reason: str, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.reason, self.retry_after = reason, retry_after

    @property
    def outcome_known(self) -> bool:
        """True when the call certainly did not change anything in Odoo."""
        return self.reason in SAFE_REASONS


class OdooUserError(OdooError, ValueError):
    """Odoo refused the call for a business reason (odoo.exceptions.UserError, faultCode 2). Never retried."""

    hint = "the data or the record's state does not allow this; fix the event or the record in Odoo"


class OdooValidationError(OdooUserError):
    """A constraint or a mandatory field failed (odoo.exceptions.ValidationError). Never retried."""


class OdooMissingError(OdooUserError, LookupError):
    """The record does not exist or was deleted (odoo.exceptions.MissingError). Never retried."""

    hint = "refresh cached ids (work center, work order) from Odoo"


class OdooRequestError(OdooError, ValueError):
    """The call itself is wrong: unknown model, method or field, bad arguments or value format. Never retried."""

    hint = "this is a bug in the caller or a mismatch with this Odoo version's models"


class OdooAccessError(OdooError, PermissionError):
    """The user lacks the rights for this model or record (odoo.exceptions.AccessError, faultCode 4)."""

    hint = "give the integration user the groups listed in docs/odoo.md"


class OdooAuthError(OdooError, PermissionError):
    """Wrong database, login, password or API key (AccessDenied, faultCode 3, JSON-2 HTTP 401)."""

    hint = "check ANDON_ODOO_DATABASE, ANDON_ODOO_USERNAME and ANDON_ODOO_PASSWORD / ANDON_ODOO_API_KEY"


class OdooServerError(OdooError, RuntimeError):
    """Odoo failed with an unexpected server error (faultCode 1, HTTP 500). Not retried."""

    hint = "see the Odoo server log for the traceback"


class OdooConfigError(OdooError, ValueError):
    """The client settings cannot work (e.g. JSON-2 without an API key)."""


class OdooCircuitOpenError(OdooError, ConnectionError):
    """The circuit breaker is open after repeated transient failures: calls fail fast until `retry_after`."""

    hint = "Odoo has been failing; the client will try again after the cool-down"

    def __init__(self, message: str, *, retry_after: float, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


#: Failures that are not the event's fault: Odoo unreachable or busy, or andon's own access or set-up broken.
#: They hold (or stop) the sync and are never a refusal of one event.
NOT_REFUSALS: tuple[type[OdooError], ...] = (OdooTransientError, OdooCircuitOpenError, OdooAuthError,
                                             OdooConfigError)


_BY_NAME: dict[str, type[OdooError]] = {
    "odoo.exceptions.ValidationError": OdooValidationError,
    "odoo.exceptions.MissingError": OdooMissingError,
    "odoo.exceptions.UserError": OdooUserError,
    "odoo.exceptions.RedirectWarning": OdooUserError,
    "odoo.exceptions.except_orm": OdooUserError,
    "odoo.exceptions.AccessError": OdooAccessError,
    "odoo.exceptions.AccessDenied": OdooAuthError,
    "werkzeug.exceptions.Unauthorized": OdooAuthError,
    "werkzeug.exceptions.Forbidden": OdooAccessError,
    "werkzeug.exceptions.NotFound": OdooRequestError,
    "werkzeug.exceptions.BadRequest": OdooRequestError,
    "werkzeug.exceptions.UnprocessableEntity": OdooRequestError,
    "werkzeug.exceptions.MethodNotAllowed": OdooRequestError,
}
#: Python errors Odoo raises for a malformed call (unknown field or method, wrong arguments or value format).
_BAD_CALL = {"builtins.ValueError", "builtins.TypeError", "builtins.KeyError", "builtins.AttributeError"}
_SERIALIZATION_MARKS = ("SerializationFailure", "could not serialize access", "TransactionRollbackError",
                        "deadlock detected", "LockNotAvailable")


def from_odoo(name: str | None, message: str, **kw: Any) -> OdooError:
    """Build the typed error for an Odoo exception name (JSON-RPC `data.name`, JSON-2 `name`)."""
    name = name or ""
    if any(mark in name or mark in message for mark in _SERIALIZATION_MARKS):
        return OdooTransientError(message, reason="serialization", odoo_name=name, **kw)
    if name == "werkzeug.exceptions.ServiceUnavailable":
        return OdooTransientError(message, reason="unavailable", odoo_name=name, **kw)
    if name == "werkzeug.exceptions.TooManyRequests":
        return OdooTransientError(message, reason="rate_limited", odoo_name=name, **kw)
    cls = _BY_NAME.get(name)
    if cls is None and name in _BAD_CALL:
        cls = OdooRequestError
    return (cls or OdooServerError)(message, odoo_name=name or None, **kw)


def from_fault(code: int, text: str, **kw: Any) -> OdooError:
    """Build the typed error for an XML-RPC fault (faultCode 1-4, faultString)."""
    if code == 3:
        return OdooAuthError(text or "Access Denied", fault_code=code, odoo_name="odoo.exceptions.AccessDenied", **kw)
    if code == 4:
        return OdooAccessError(text, fault_code=code, odoo_name="odoo.exceptions.AccessError", **kw)
    if code == 2:
        if text.startswith("Record does not exist or has been deleted"):
            return OdooMissingError(text, fault_code=code, odoo_name="odoo.exceptions.MissingError", **kw)
        if text.startswith("The operation cannot be completed"):
            return OdooValidationError(text, fault_code=code, odoo_name="odoo.exceptions.ValidationError", **kw)
        return OdooUserError(text, fault_code=code, odoo_name="odoo.exceptions.UserError", **kw)
    # faultCode 1: a traceback whose last line is "<exception name>: <message>"
    last = next((line for line in reversed(text.strip().splitlines()) if line.strip()), "")
    name, _, message = last.partition(": ")
    if " " in name or not message:
        name, message = "", last or text
    elif "." not in name:
        name = f"builtins.{name}"  # tracebacks print built-in exceptions unqualified
    return from_odoo(name, message, fault_code=code, debug=text, **kw)


def from_http_status(status: int, message: str, retry_after: float | None = None, **kw: Any) -> OdooError:
    """Build the typed error for a bare HTTP error status (proxy pages, 503/429 before Odoo ran the call)."""
    if status == 503:
        return OdooTransientError(message, reason="unavailable", retry_after=retry_after, status=status, **kw)
    if status == 429:
        return OdooTransientError(message, reason="rate_limited", retry_after=retry_after, status=status, **kw)
    if status in (502, 504):
        return OdooTransientError(message, reason="timeout", status=status, **kw)
    if status == 401:
        return OdooAuthError(message, status=status, **kw)
    if status == 403:
        return OdooAccessError(message, status=status, **kw)
    if status in (400, 404, 405, 422):
        return OdooRequestError(message, status=status, **kw)
    return OdooServerError(message, status=status, **kw)


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After in seconds (delta-seconds form; HTTP dates are not expected from Odoo)."""
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        return None

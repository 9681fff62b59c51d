"""Retry policy, circuit breaker, token bucket and error classification, on fake time (no server)."""

from __future__ import annotations

import random

import pytest

from andon.connectors.odoo import (
    CircuitBreaker,
    OdooAccessError,
    OdooAuthError,
    OdooCircuitOpenError,
    OdooMissingError,
    OdooRequestError,
    OdooServerError,
    OdooTransientError,
    OdooUserError,
    OdooValidationError,
    RetryPolicy,
    TokenBucket,
)
from andon.connectors.odoo.errors import from_fault, from_http_status, from_odoo
from andon.connectors.odoo.transports import Json2Transport
from andon.errors import AndonError


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _transient(reason: str, retry_after: float | None = None) -> OdooTransientError:
    return OdooTransientError("x", reason=reason, retry_after=retry_after)


@pytest.mark.parametrize("error, method, expected", [
    (_transient("unavailable"), "create", True),
    (_transient("rate_limited"), "write", True),
    (_transient("serialization"), "button_start", True),
    (_transient("connection_refused"), "create", True),
    (_transient("timeout"), "search_read", True),
    (_transient("timeout"), "create", False),
    (_transient("connection_reset"), "read", True),
    (_transient("connection_reset"), "write", False),
    (OdooValidationError("x"), "search", False),
    (OdooAccessError("x"), "search", False),
    (OdooAuthError("x"), "search", False),
    (OdooServerError("x"), "search", False),
    (ValueError("x"), "search", False),
])
def test_retryable(error, method, expected):
    assert RetryPolicy().retryable(error, method) is expected


def test_full_jitter_backoff_bounds_and_retry_after():
    policy = RetryPolicy(base_s=0.1, cap_s=1.0, max_retry_after_s=30)
    rng = random.Random(7)
    for retry in range(1, 8):
        bound = min(1.0, 0.1 * 2**retry)
        delays = [policy.delay(retry, _transient("unavailable"), rng) for _ in range(200)]
        assert all(0.0 <= d <= bound for d in delays)
        assert max(delays) > bound * 0.8  # full jitter spreads over the whole range
    assert policy.delay(1, _transient("rate_limited", retry_after=5.0), rng) == 5.0
    assert policy.delay(1, _transient("rate_limited", retry_after=60.0), rng) is None


def test_circuit_breaker_states_on_fake_clock():
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=2, reset_timeout_s=10, clock=clock)
    breaker.record(_transient("unavailable"))
    breaker.record(OdooValidationError("answered"))  # an answer resets the count
    breaker.record(_transient("unavailable"))
    assert breaker.state == "closed"
    breaker.record(_transient("timeout"))
    assert breaker.state == "open"
    with pytest.raises(OdooCircuitOpenError) as info:
        breaker.before_call()
    assert info.value.retry_after == 10
    clock.now = 10.0
    assert breaker.state == "half_open"
    breaker.before_call()  # the trial
    with pytest.raises(OdooCircuitOpenError):
        breaker.before_call()  # only one trial at a time
    breaker.record(None)
    assert breaker.state == "closed"
    breaker.before_call()


def test_token_bucket_on_fake_clock():
    clock = FakeClock()
    bucket = TokenBucket(rate_per_s=10, burst=5, clock=clock, sleep=clock.sleep)
    waits = [bucket.acquire() for _ in range(15)]
    assert waits[:5] == [0.0] * 5
    assert clock.now == pytest.approx(1.0)  # 10 more calls at 10/s
    with pytest.raises(ValueError):
        TokenBucket(0)


@pytest.mark.parametrize("code, text, cls", [
    (1, "Traceback ...\npsycopg2.errors.SerializationFailure: could not serialize access due to concurrent update\n",
     OdooTransientError),
    (1, "Traceback ...\nValueError: Invalid field 'x' on model 'y'\n", OdooRequestError),
    (1, "Traceback ...\nRuntimeError: boom\n", OdooServerError),
    (2, "Record does not exist or has been deleted.\n(Record: mrp.workorder(9,), User: 2)", OdooMissingError),
    (2, "The operation cannot be completed:\n- Create/update: a mandatory field is not set.", OdooValidationError),
    (2, "Please unblock the work center to start the work order.", OdooUserError),
    (3, "Access Denied", OdooAuthError),
    (4, "You are not allowed to modify 'Work Center' (mrp.workcenter) records.", OdooAccessError),
])
def test_xmlrpc_fault_classification(code, text, cls):
    error = from_fault(code, text, model="m", method="f")
    assert type(error) is cls
    assert isinstance(error, AndonError)


@pytest.mark.parametrize("name, cls, builtin", [
    ("psycopg2.errors.SerializationFailure", OdooTransientError, ConnectionError),
    ("odoo.exceptions.ValidationError", OdooValidationError, ValueError),
    ("odoo.exceptions.MissingError", OdooMissingError, LookupError),
    ("odoo.exceptions.UserError", OdooUserError, ValueError),
    ("odoo.exceptions.AccessError", OdooAccessError, PermissionError),
    ("odoo.exceptions.AccessDenied", OdooAuthError, PermissionError),
    ("werkzeug.exceptions.Unauthorized", OdooAuthError, PermissionError),
    ("builtins.TypeError", OdooRequestError, ValueError),
    ("something.Else", OdooServerError, RuntimeError),
])
def test_jsonrpc_error_classification(name, cls, builtin):
    error = from_odoo(name, "message")
    assert type(error) is cls and isinstance(error, builtin)


def test_http_status_classification():
    error = from_http_status(429, "slow down", retry_after=3.0)
    assert isinstance(error, OdooTransientError) and error.reason == "rate_limited" and error.retry_after == 3.0
    assert from_http_status(503, "down").reason == "unavailable"
    assert isinstance(from_http_status(401, "x"), OdooAuthError)


class _Recorder(Json2Transport):
    def post(self, model, method, body):
        return model, method, body


@pytest.mark.parametrize("method, args, kwargs, body", [
    ("create", [[{"name": "a"}]], {}, {"vals_list": [{"name": "a"}]}),
    ("write", [[1, 2], {"name": "b"}], {}, {"ids": [1, 2], "vals": {"name": "b"}}),
    ("search_read", [[["id", ">", 1]]], {"fields": ["name"], "limit": 5},
     {"domain": [["id", ">", 1]], "fields": ["name"], "limit": 5}),
    ("button_start", [[7]], {"context": {"tz": "UTC"}}, {"ids": [7], "context": {"tz": "UTC"}}),
    ("read", [[3], ["name"]], {}, {"ids": [3], "fields": ["name"]}),
])
def test_json2_named_arguments(method, args, kwargs, body):
    transport = _Recorder("http://127.0.0.1:1", "andon", "key", 1.0)
    assert transport.execute_kw("m.m", method, args, kwargs) == ("m.m", method, body)


def test_json2_refuses_extra_positional_arguments():
    transport = _Recorder("http://127.0.0.1:1", "andon", "key", 1.0)
    with pytest.raises(OdooRequestError, match="named arguments only"):
        transport.execute_kw("m.m", "button_start", [[1], "extra"], {})

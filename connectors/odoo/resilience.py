"""Retry with backoff, a circuit breaker and a token-bucket rate limiter for the Odoo client.

All three take an injectable clock (and sleep) so tests run them on short or fake time.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from andon.connectors.odoo.errors import (
    SAFE_REASONS,
    UNKNOWN_OUTCOME_REASONS,
    OdooCircuitOpenError,
    OdooError,
    OdooTransientError,
)

#: Methods that change nothing in Odoo: retried after a timeout or reset, where the outcome is unknown.
READ_METHODS = frozenset({"read", "search", "search_read", "search_count", "fields_get", "name_search",
                          "name_get", "default_get", "exists", "read_group", "check_object_reference",
                          "context_get", "version", "login", "authenticate", "version_info", "check_access_rights"})


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter: before retry n (1-based) sleep uniform(0, min(cap_s, base_s * 2**n)),
    or the server's Retry-After when that is longer (up to `max_retry_after_s`, beyond which the error is raised).

    `attempts` counts every try, so attempts=1 means no retry.
    """

    attempts: int = 5
    base_s: float = 0.25
    cap_s: float = 10.0
    max_retry_after_s: float = 120.0

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.base_s < 0 or self.cap_s < 0 or self.max_retry_after_s < 0:
            raise ValueError("RetryPolicy needs attempts >= 1 and non-negative base_s, cap_s, max_retry_after_s")

    def retryable(self, error: BaseException, method: str) -> bool:
        """True for transient errors where the call did not run, and for timeouts/resets of read-only methods."""
        if not isinstance(error, OdooTransientError):
            return False
        if error.reason in SAFE_REASONS:
            return True
        return error.reason in UNKNOWN_OUTCOME_REASONS and method in READ_METHODS

    def delay(self, retry: int, error: BaseException, rng: random.Random) -> float | None:
        """Seconds to wait before retry number `retry` (1-based); None when Retry-After is too long to wait."""
        jitter = rng.uniform(0.0, min(self.cap_s, self.base_s * (2 ** retry)))
        retry_after = getattr(error, "retry_after", None)
        if retry_after is None:
            return jitter
        if retry_after > self.max_retry_after_s:
            return None
        return max(retry_after, jitter)


class CircuitBreaker:
    """Fails fast while Odoo keeps failing.

    States:
    - **closed**: calls pass; each transient failure adds to a count of consecutive failures, any answer from
      Odoo (success or a permanent error) resets it. At `failure_threshold` consecutive failures it opens.
    - **open**: every call raises `OdooCircuitOpenError` at once (with `retry_after`), for `reset_timeout_s`.
    - **half-open**: after the cool-down one trial call passes (others still fail fast); if it succeeds the
      breaker closes, if it fails transiently it opens again for another `reset_timeout_s`.
    """

    CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"

    def __init__(self, failure_threshold: int = 5, reset_timeout_s: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if failure_threshold < 1 or reset_timeout_s < 0:
            raise ValueError("CircuitBreaker needs failure_threshold >= 1 and reset_timeout_s >= 0")
        self.failure_threshold, self.reset_timeout_s, self._clock = failure_threshold, reset_timeout_s, clock
        self._lock = threading.Lock()
        self._state = self.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._trial_running = False
        self.transitions: list[tuple[str, str]] = []

    @property
    def state(self) -> str:
        with self._lock:
            return self._current()

    def _current(self) -> str:
        if self._state == self.OPEN and self._clock() - self._opened_at >= self.reset_timeout_s:
            self._move(self.HALF_OPEN)
        return self._state

    def _move(self, state: str) -> None:
        if state != self._state:
            self.transitions.append((self._state, state))
            self._state = state

    def before_call(self) -> None:
        """Raise OdooCircuitOpenError unless a call may go to Odoo now."""
        with self._lock:
            state = self._current()
            if state == self.CLOSED:
                return
            if state == self.HALF_OPEN and not self._trial_running:
                self._trial_running = True
                return
            wait = max(self.reset_timeout_s - (self._clock() - self._opened_at), 0.0)
            raise OdooCircuitOpenError(
                f"circuit open after {self._failures} consecutive transient failures; next trial in {wait:.1f}s",
                retry_after=wait)

    def on_success(self) -> None:
        with self._lock:
            self._failures = 0
            self._trial_running = False
            self._move(self.CLOSED)

    def on_failure(self) -> None:
        with self._lock:
            self._failures += 1
            was_trial, self._trial_running = self._trial_running, False
            if was_trial or self._state == self.HALF_OPEN or self._failures >= self.failure_threshold:
                self._opened_at = self._clock()
                self._move(self.OPEN)

    def record(self, error: BaseException | None) -> None:
        """Account one finished attempt: transient errors are failures, anything Odoo answered is a success."""
        if isinstance(error, OdooTransientError):
            self.on_failure()
        elif error is None or isinstance(error, OdooError):
            self.on_success()
        else:
            with self._lock:
                self._trial_running = False


class TokenBucket:
    """Client-side rate limit: `rate_per_s` calls per second on average, bursts of up to `burst` calls."""

    def __init__(self, rate_per_s: float, burst: float | None = None, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if rate_per_s <= 0:
            raise ValueError("rate_per_s must be positive")
        self.rate, self.capacity = rate_per_s, max(burst if burst is not None else rate_per_s, 1.0)
        self._clock, self._sleep = clock, sleep
        self._tokens, self._stamp = self.capacity, clock()
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Take one token; returns how long the caller must wait before using it (0 when one was available)."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            self._tokens -= 1.0
            return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def acquire(self) -> float:
        """Block until a call may be made; returns the seconds waited."""
        wait = self.reserve()
        if wait > 0:
            self._sleep(wait)
        return wait

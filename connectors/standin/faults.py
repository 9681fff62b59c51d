"""Fault injection and call statistics for the stand-in, both changeable while it runs.

Fault kinds: "503" (HTTP 503, request not processed), "429" (HTTP 429 with Retry-After), "serialization"
(Odoo's error after its server-side retries of a concurrent update: nothing was written), "500" (an application
error, faultCode 1) and "reset" (the connection is closed without an answer). An outage answers 503 to every call.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

FAULT_KINDS = ("503", "429", "serialization", "500", "reset")


@dataclass
class FaultConfig:
    latency_ms: float = 0.0
    error_rate: float = 0.0
    error_kind: str = "503"
    outage: bool = False
    outage_until: float | None = None
    fail_next: int = 0
    retry_after_s: float = 1.0
    seed: int | None = None


class Faults:
    """Current fault settings; `decide()` says what the next call suffers."""

    def __init__(self, config: FaultConfig | None = None) -> None:
        self._lock = threading.Lock()
        self.config = FaultConfig()
        self._rng = random.Random()
        self.update(**asdict(config or FaultConfig()))

    def update(self, **changes: Any) -> dict[str, Any]:
        """Apply changes (unknown keys and bad values raise ValueError); `outage_in_s` sets `outage_until`."""
        with self._lock:
            config = asdict(self.config)
            if "outage_for_s" in changes:
                seconds = changes.pop("outage_for_s")
                changes["outage_until"] = None if seconds in (None, 0) else time.time() + float(seconds)
            unknown = set(changes) - set(config)
            if unknown:
                raise ValueError(f"unknown fault setting(s) {sorted(unknown)}; known: {sorted(config)} and "
                                 "outage_for_s")
            config.update(changes)
            new = FaultConfig(**config)
            if new.error_kind not in FAULT_KINDS:
                raise ValueError(f"error_kind must be one of {FAULT_KINDS}, not {new.error_kind!r}")
            if not 0.0 <= float(new.error_rate) <= 1.0:
                raise ValueError("error_rate must be between 0 and 1")
            if float(new.latency_ms) < 0 or int(new.fail_next) < 0 or float(new.retry_after_s) < 0:
                raise ValueError("latency_ms, fail_next and retry_after_s must not be negative")
            new.latency_ms, new.error_rate = float(new.latency_ms), float(new.error_rate)
            new.fail_next, new.outage = int(new.fail_next), bool(new.outage)
            if "seed" in changes:
                self._rng.seed(new.seed)
            self.config = new
            return asdict(new)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return asdict(self.config)

    def decide(self) -> tuple[float, str | None]:
        """(seconds of added latency, fault kind or None) for one incoming call."""
        with self._lock:
            config = self.config
            latency = config.latency_ms / 1000.0
            if config.outage or (config.outage_until is not None and time.time() < config.outage_until):
                return latency, "503"
            if config.fail_next > 0:
                config.fail_next -= 1
                return latency, config.error_kind
            if config.error_rate and self._rng.random() < config.error_rate:
                return latency, config.error_kind
            return latency, None


@dataclass
class Stats:
    """Counts of calls by service, by model.method and by outcome."""

    started_at: float = field(default_factory=time.time)
    calls: int = 0
    by_service: Counter = field(default_factory=Counter)
    by_method: Counter = field(default_factory=Counter)
    by_outcome: Counter = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, service: str, model: str | None, method: str | None, outcome: str) -> None:
        with self._lock:
            self.calls += 1
            self.by_service[service] += 1
            self.by_method[f"{model}.{method}" if model else str(method)] += 1
            self.by_outcome[outcome] += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"started_at": self.started_at, "calls": self.calls, "by_service": dict(self.by_service),
                    "by_method": dict(self.by_method), "by_outcome": dict(self.by_outcome)}

    def reset(self) -> None:
        with self._lock:
            self.started_at, self.calls = time.time(), 0
            self.by_service.clear()
            self.by_method.clear()
            self.by_outcome.clear()

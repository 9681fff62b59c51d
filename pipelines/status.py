"""What the status page shows, kept per process while the dataflows run: machine states and this shift's OEE so far
(telemetry), events consumed but not yet applied to Odoo (odoo_sync), dead letters by reason (both).

The dataflows feed the process-wide `BOARD`; `StatusServer` reads `BOARD.snapshot()` for `/status` and
`/status.json`.

OEE so far is computed from the latest business events of each machine, not from the operators' internal
accumulators: `production.count_reported` carries the shift's cumulative good count up to its window end, so

    OEE so far = good_count x ideal_cycle_time_s / planned time elapsed (shift start .. window end, minus breaks)

which is Nakajima's OEE (= A x P x Q) on the part of the shift seen so far. It lags by one count window and is
refreshed with every count event. `machine.state_changed` gives the state and since when.

Age of an unapplied event: wall clock minus the Kafka timestamp of its message on the events topic (when it was
published), or minus the time odoo_sync read it when the message has no timestamp.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from prometheus_client import Counter as PromCounter
from prometheus_client import Gauge

from andon.config import SiteConfig
from andon.events import Event, parse_iso_ms
from andon.shifts import ShiftSchedule


@dataclass
class MachineStatus:
    site: str
    machine: str
    work_center: str | None = None
    state: str = "unknown"
    since: str | None = None
    shift_id: str | None = None
    good: int = 0
    total: int = 0
    oee: float | None = None
    as_of: str | None = None


@dataclass(frozen=True, slots=True)
class Pending:
    event_id: str
    type: str
    machine: str
    correlation_id: str
    published_ms: int


class StatusBoard:
    """Thread-safe (bytewax workers are threads) store of the latest status of this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._machines: dict[tuple[str, str], MachineStatus] = {}
            self._pending: dict[str, Pending] = {}
            self._dead: Counter[tuple[str, str]] = Counter()
            self._outcomes: Counter[str] = Counter()
            self._schedules: dict[str, tuple[SiteConfig, ShiftSchedule]] = {}
            self._roles: set[str] = set()
            self._last_applied_ms: int | None = None

    # -- telemetry ---------------------------------------------------------------------------------------
    def register_sites(self, sites: Sequence[SiteConfig], role: str) -> None:
        """Know the sites' shift calendars and ideal cycle times. Machines appear with their first event: in a
        cluster each process shows the machines of its own shards."""
        with self._lock:
            self._roles.add(role)
            for site in sites:
                self._schedules[site.site.id] = (site, ShiftSchedule.from_site(site))

    def observe_events(self, events: Iterable[Event]) -> None:
        """Update machine states and shift counts from business events as the telemetry dataflow emits them."""
        with self._lock:
            for e in events:
                if e.type not in ("machine.state_changed", "production.count_reported"):
                    continue
                status = self._machines.get((e.site, e.machine))
                if status is None:
                    status = self._machines[(e.site, e.machine)] = MachineStatus(e.site, e.machine,
                                                                                 self._work_center(e))
                if e.type == "machine.state_changed":
                    if status.since is None or e.occurred_at >= status.since:
                        status.state, status.since = e.data.get("to_state", "unknown"), e.occurred_at
                    continue
                end = e.data.get("window_end") or e.occurred_at
                if status.as_of is not None and end < status.as_of:
                    continue
                status.shift_id, status.as_of = e.data.get("shift_id"), end
                status.good, status.total = int(e.data.get("good_count", 0)), int(e.data.get("total_count", 0))
                status.oee = self._oee_so_far(e.site, e.machine, status.good, parse_iso_ms(end))

    def _work_center(self, e: Event) -> str | None:
        if e.work_center:
            return e.work_center
        known = self._schedules.get(e.site)
        try:
            return known[0].machine(e.machine).work_center if known else None
        except KeyError:
            return None

    def _oee_so_far(self, site_id: str, machine: str, good: int, end_ms: int) -> float | None:
        known = self._schedules.get(site_id)
        if known is None:
            return None
        site, schedule = known
        try:
            ideal = site.machine(machine).ideal_cycle_time_s
        except KeyError:
            return None
        shift = schedule.shift_at(end_ms - 1)
        if shift is None:
            return None
        breaks = sum(max(0, min(e, end_ms) - max(s, shift.start_ms)) for s, e in shift.breaks_ms)
        planned_s = (end_ms - shift.start_ms - breaks) / 1000.0
        return None if planned_s <= 0 else good * ideal / planned_s

    # -- odoo_sync ---------------------------------------------------------------------------------------
    def consumed(self, items: Iterable[Pending]) -> None:
        with self._lock:
            self._roles.add("odoo_sync")
            for p in items:
                self._pending.setdefault(p.event_id, p)

    def settled(self, event_ids: Iterable[str], outcomes: Iterable[str] = ()) -> None:
        with self._lock:
            for event_id in event_ids:
                self._pending.pop(event_id, None)
            self._outcomes.update(outcomes)
            self._last_applied_ms = int(time.time() * 1000)

    def correlation(self, event_id: str) -> str | None:
        with self._lock:
            p = self._pending.get(event_id)
            return p.correlation_id if p is not None else None

    def oldest_unapplied_age_s(self) -> float:
        with self._lock:
            if not self._pending:
                return 0.0
            oldest = min(p.published_ms for p in self._pending.values())
        return max(time.time() * 1000 - oldest, 0.0) / 1000.0

    def unapplied(self) -> int:
        with self._lock:
            return len(self._pending)

    # -- both --------------------------------------------------------------------------------------------
    def dead_letter(self, topic: str, reason: str, n: int = 1) -> None:
        with self._lock:
            self._dead[(topic, reason)] += n

    def snapshot(self, delayed_after_s: float = 60.0, limit: int = 20) -> dict:
        """Plain data for the page and /status.json."""
        now = time.time() * 1000
        with self._lock:
            pending = sorted(self._pending.values(), key=lambda p: p.published_ms)
            machines = sorted(self._machines.values(), key=lambda m: (m.site, m.machine))
            doc = {
                "roles": sorted(self._roles),
                "generated_ms": int(now),
                "confirmations": {
                    "waiting": len(pending),
                    "delayed": sum(1 for p in pending if now - p.published_ms > delayed_after_s * 1000),
                    "delayed_after_s": delayed_after_s,
                    "oldest_age_s": round(max(now - pending[0].published_ms, 0) / 1000, 1) if pending else 0.0,
                    "oldest": [{"event_id": p.event_id, "type": p.type, "machine": p.machine,
                                "correlation_id": p.correlation_id,
                                "age_s": round(max(now - p.published_ms, 0) / 1000, 1)} for p in pending[:limit]],
                    "outcomes": dict(sorted(self._outcomes.items())),
                    "last_applied_ms": self._last_applied_ms,
                },
                "dead_letters": [{"topic": t, "reason": r, "count": n}
                                 for (t, r), n in sorted(self._dead.items(), key=lambda kv: (-kv[1], kv[0]))],
                "machines": [{"site": m.site, "machine": m.machine, "work_center": m.work_center, "state": m.state,
                              "since": m.since, "shift_id": m.shift_id, "good": m.good, "total": m.total,
                              "oee": None if m.oee is None else round(m.oee, 4), "as_of": m.as_of}
                             for m in machines],
            }
        return doc


#: The board of this process.
BOARD = StatusBoard()

#: Written by both dataflows: the DLQ depth as messages written per topic and reason since the process started.
DEAD_LETTERS = PromCounter("andon_dead_letters_total", "Dead letters written, by DLQ topic and reason",
                           ["topic", "reason"])


def count_dead_letter(topic: str, reason: str) -> None:
    DEAD_LETTERS.labels(topic, reason).inc()
    BOARD.dead_letter(topic, reason)


#: Lower bound on Tansu 0.6 (its high watermark is the start of the last written batch + 1); exact on Apache Kafka.
CONSUMER_LAG = Gauge("andon_consumer_lag_messages", "Messages behind the partition's high watermark (lower bound)",
                     ["topic", "partition"])


def report_lag(topic: str, partition: int, behind: int) -> None:
    """`KafkaBatchSource(on_lag=...)`, both dataflows: the consumer-lag gauge, and input waiting for liveness."""
    from andon.progress import PROGRESS

    CONSUMER_LAG.labels(topic, str(partition)).set(behind)
    PROGRESS.behind(topic, partition, behind)

BUILD_INFO = Gauge("andon_build_info", "1, labelled with what this process runs: andon, Python and bytewax versions "
                   "and the command", ["version", "python", "bytewax", "command"])


def report_build(command: str) -> None:
    import platform
    from importlib.metadata import PackageNotFoundError, version

    from andon import __version__

    try:
        bytewax = version("bytewax")
    except PackageNotFoundError:
        bytewax = "none"
    BUILD_INFO.labels(__version__, platform.python_version(), bytewax, command).set(1)


def _stalled() -> float:
    from andon.connectors.kafka_health import BROKER
    from andon.progress import PROGRESS

    alive, _ = PROGRESS.liveness(excuses=(BROKER.check,))
    return 0.0 if alive else 1.0


STALLED = Gauge("andon_dataflow_stalled", "1 while the dataflow has not started, or has processed no batch while "
                "input waits, for longer than --liveness-timeout (what fails /healthz); 0 otherwise")
STALLED.set_function(_stalled)

"""What the Odoo sync did, kept locally: an append-only JSONL audit trail and an optional SQLite ledger of
applied events (a cache that lets replays skip Odoo; Odoo-side event keys remain the truth).

Audit line (one JSON object per line, UTC)::

    {"event_id": "…", "type": "production.scrap_recorded", "machine": "press-01", "model": "stock.scrap",
     "record_id": 42, "operation": "create", "outcome": "applied", "detail": "", "at": "2026-03-02T05:01:10.123Z"}

`outcome` is one of `applied` (Odoo changed), `exists` (found the earlier write by its key: nothing to do),
`skipped` (no Odoo write by design, e.g. machine.state_changed, or a count already at that value), `ledger`
(in the local ledger: not sent to Odoo at all) and `dead_letter` (refused; `detail` says why).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

OUTCOMES = ("applied", "exists", "skipped", "ledger", "dead_letter")


def utc_now_iso() -> str:
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One line of the audit trail: what happened in Odoo because of one event."""

    event_id: str
    type: str
    machine: str
    model: str | None
    record_id: int | None
    operation: str
    outcome: str
    detail: str = ""
    at: str = ""

    def to_json(self) -> str:
        doc = asdict(self)
        if not doc["at"]:
            doc["at"] = utc_now_iso()
        return json.dumps(doc, separators=(",", ":"), sort_keys=False)


class AuditTrail:
    """Appends audit records to a JSONL file (created with its directory); every append is flushed and fsynced
    per batch, so a line on disk means the write it describes was acknowledged by Odoo."""

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path else None
        self._lock = threading.Lock()
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)

    def append(self, records: Iterable[AuditRecord]) -> int:
        lines = [r.to_json() + "\n" for r in records]
        if self.path is None or not lines:
            return len(lines)
        with self._lock, open(self.path, "a", encoding="utf-8") as fh:
            fh.writelines(lines)
            fh.flush()
            os.fsync(fh.fileno())
        return len(lines)


def read_audit(path: str | Path) -> list[dict]:
    """Every audit line as a dict (for tests, reconciliation and the demo)."""
    p = Path(path)
    if not p.exists():
        return []
    return [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]


class Ledger:
    """Event ids already applied to Odoo, in SQLite; `None` path keeps nothing (every event goes to Odoo)."""

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path else None
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS applied (event_id TEXT PRIMARY KEY, model TEXT, "
                             "record_id INTEGER, outcome TEXT, at TEXT)")

    def known(self, event_ids: Iterable[str]) -> set[str]:
        if self._db is None:
            return set()
        ids = list(event_ids)
        found: set[str] = set()
        with self._lock:
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                marks = ",".join("?" * len(chunk))
                found.update(row[0] for row in self._db.execute(
                    f"SELECT event_id FROM applied WHERE event_id IN ({marks})", chunk))
        return found

    def add(self, records: Iterable[AuditRecord]) -> None:
        """Remember applied / existing / skipped events (dead letters are not remembered: they may be replayed)."""
        if self._db is None:
            return
        rows = [(r.event_id, r.model, r.record_id, r.outcome, r.at or utc_now_iso()) for r in records
                if r.outcome in ("applied", "exists", "skipped")]
        if not rows:
            return
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR REPLACE INTO applied VALUES (?, ?, ?, ?, ?)", rows)
            self._db.execute("COMMIT")

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

"""What the Odoo sync did, kept locally: an append-only JSONL audit trail and an optional SQLite ledger of
applied events (a cache that lets replays skip Odoo; Odoo-side event keys remain the truth).

Audit line (one JSON object per line, UTC)::

    {"event_id": "…", "type": "production.scrap_recorded", "machine": "press-01", "model": "stock.scrap",
     "record_id": 42, "operation": "create", "outcome": "applied", "detail": "", "at": "2026-03-02T05:01:10.123Z"}

`outcome` is one of `applied` (Odoo changed), `exists` (found the earlier write by its key: nothing to do),
`skipped` (no Odoo write by design, e.g. machine.state_changed, or a count already at that value), `ledger`
(in the local ledger: not sent to Odoo at all) and `dead_letter` (refused; `detail` says why).

Each line also carries `seq`, `prev` and `hash` (a hash chain, HMAC-keyed when ANDON_AUDIT_KEY is set), and a
sidecar `<trail>.head` records the line count and last hash: `andon audit verify` finds an edited byte, a removed,
inserted or reordered line and a cut-off tail (see andon/audit.py and docs/security.md for the limits).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from andon.audit import audit_key, chain_line, digest, genesis, head_mac, head_path, split_line

log = logging.getLogger(__name__)

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
    """Appends audit records to a JSONL file (created with its directory) as a hash chain; every append is flushed
    and fsynced per batch, so a line on disk means the write it describes was acknowledged by Odoo.

    Appends hold an exclusive `flock` on the file and continue the chain from the file's last line, so several
    processes on one host may share a trail. After the lines, the `.head` sidecar is replaced atomically.
    `key` (default: ANDON_AUDIT_KEY / _FILE) makes the chain an HMAC chain."""

    def __init__(self, path: str | Path | None, key: bytes | None | object = ...) -> None:
        self.path = Path(path) if path else None
        self._key: bytes | None = audit_key() if key is ... else key  # type: ignore[assignment]
        self._lock = threading.Lock()
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"AuditTrail({str(self.path) if self.path else None!r}, keyed={self._key is not None})"

    def append(self, records: Iterable[AuditRecord]) -> int:
        records = list(records)
        if self.path is None or not records:
            return len(records)
        with self._lock, open(self.path, "a+b") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                seq, prev = self._tail(fh)
                lines = []
                for r in records:
                    seq += 1
                    line, prev = chain_line(r.to_json(), seq, prev, self._key)
                    lines.append(line)
                fh.seek(0, os.SEEK_END)
                fh.writelines(lines)
                fh.flush()
                os.fsync(fh.fileno())
                self._write_head(seq, prev, fh.tell())
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        return len(records)

    def _tail(self, fh) -> tuple[int, str]:
        """(seq, hash) of the last complete line; drops a torn partial line left by a crash mid-write."""
        size = os.fstat(fh.fileno()).st_size
        if size == 0:
            self._orphan_head(0)
            return 0, genesis(self._key)
        chunk = 4096
        while True:
            start = max(0, size - chunk)
            fh.seek(start)
            tail = fh.read(size - start)
            if not tail.endswith(b"\n"):
                cut = tail.rfind(b"\n")
                if cut < 0 and start > 0:
                    chunk *= 4
                    continue
                keep = start + cut + 1
                log.warning("audit trail %s: dropping %d bytes of a line left incomplete by a crash", self.path,
                            size - keep)
                fh.truncate(keep)
                size = keep
                if size == 0:
                    return 0, genesis(self._key)
                continue
            body = tail[:-1]
            cut = body.rfind(b"\n")
            if cut < 0 and start > 0:
                chunk *= 4
                continue
            last = body[cut + 1:]
            break
        parts = split_line(last)
        try:
            seq = int(json.loads(last)["seq"]) if parts is not None else None
        except (ValueError, KeyError, TypeError):
            seq = None
        if parts is None or seq is None:  # a line written before chaining (or damaged): chain on from its bytes
            fh.seek(0)
            seq = sum(block.count(b"\n") for block in iter(lambda: fh.read(1 << 20), b""))
            log.warning("audit trail %s: last line carries no hash; continuing the chain from its bytes", self.path)
            return seq, digest(last, self._key)
        self._orphan_head(seq)
        return seq, parts[1]

    def _orphan_head(self, seq: int) -> None:
        """A head recording more lines than the trail has means the trail was cut: keep that head as evidence."""
        head = head_path(self.path)
        try:
            lines = int(json.loads(head.read_text(encoding="utf-8"))["lines"])
        except (OSError, ValueError, KeyError, TypeError):
            return
        if lines > seq:
            kept = head.with_name(f"{head.name}.cut-{utc_now_iso().replace(':', '')}")
            os.replace(head, kept)
            log.warning("audit trail %s has %d lines but its head recorded %d: kept the old head as %s", self.path,
                        seq, lines, kept.name)

    def _write_head(self, lines: int, last: str, size: int) -> None:
        head = head_path(self.path)
        doc = {"lines": lines, "hash": last, "bytes": size, "updated_at": utc_now_iso()}
        mac = head_mac(lines, last, self._key)
        if mac:
            doc["mac"] = mac
        tmp = head.with_name(head.name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as out:
            out.write(json.dumps(doc) + "\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, head)


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

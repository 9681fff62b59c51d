"""SQLite persistence for the stand-in: one row per record (model, id, JSON values), cached in memory.

Every RPC call runs in one `Transaction` under the store's lock: reads see the transaction's own changes, and
`commit()` writes them to SQLite in one database transaction (or `rollback()` drops them), so a failed call
leaves no trace, as in Odoo where each call is its own database transaction.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

_DELETED = object()


class Store:
    """Record store for one database file; thread-safe (one call at a time holds `lock`)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS records (model TEXT NOT NULL, id INTEGER NOT NULL, "
                         "vals TEXT NOT NULL, PRIMARY KEY (model, id))")
        self._db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        self._cache: dict[str, dict[int, dict[str, Any]]] = {}
        for model, rid, vals in self._db.execute("SELECT model, id, vals FROM records ORDER BY model, id"):
            self._cache.setdefault(model, {})[rid] = json.loads(vals)
        self._meta: dict[str, str] = dict(self._db.execute("SELECT key, value FROM meta"))

    def begin(self) -> Transaction:
        return Transaction(self)

    def meta(self, key: str) -> str | None:
        return self._meta.get(key)

    def close(self) -> None:
        with self.lock:
            self._db.close()


class Transaction:
    """Changes of one call, applied to the store only on `commit()`."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._changes: dict[tuple[str, int], Any] = {}
        self._meta: dict[str, str] = {}
        #: bumped on every put/delete, so per-call caches know when to refresh
        self.writes = 0

    def get(self, model: str, rid: int) -> dict[str, Any] | None:
        change = self._changes.get((model, rid))
        if change is _DELETED:
            return None
        if change is not None:
            return change
        return self._store._cache.get(model, {}).get(rid)

    def ids(self, model: str) -> list[int]:
        ids = set(self._store._cache.get(model, {}))
        for (m, rid), change in self._changes.items():
            if m == model:
                (ids.discard if change is _DELETED else ids.add)(rid)
        return sorted(ids)

    def put(self, model: str, rid: int, vals: dict[str, Any]) -> None:
        self._changes[(model, rid)] = vals
        self.writes += 1

    def delete(self, model: str, rid: int) -> None:
        self._changes[(model, rid)] = _DELETED
        self.writes += 1

    def meta(self, key: str) -> str | None:
        return self._meta.get(key, self._store._meta.get(key))

    def set_meta(self, key: str, value: str) -> None:
        self._meta[key] = value

    def next_id(self, model: str) -> int:
        key = f"seq:{model}"
        value = int(self.meta(key) or max(self.ids(model), default=0)) + 1
        self.set_meta(key, str(value))
        return value

    def commit(self) -> None:
        if not self._changes and not self._meta:
            return
        store = self._store
        db = store._db
        db.execute("BEGIN")
        try:
            for (model, rid), change in self._changes.items():
                if change is _DELETED:
                    db.execute("DELETE FROM records WHERE model = ? AND id = ?", (model, rid))
                else:
                    db.execute("INSERT OR REPLACE INTO records (model, id, vals) VALUES (?, ?, ?)",
                               (model, rid, json.dumps(change, separators=(",", ":"))))
            for key, value in self._meta.items():
                db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        for (model, rid), change in self._changes.items():
            table = store._cache.setdefault(model, {})
            if change is _DELETED:
                table.pop(rid, None)
            else:
                table[rid] = change
        store._meta.update(self._meta)
        self._changes.clear()
        self._meta.clear()

    def rollback(self) -> None:
        self._changes.clear()
        self._meta.clear()

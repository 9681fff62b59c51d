"""Parquet datasets: Hive-partitioned, zstd, UTC timestamps, deterministic file names, atomic writes.

Layout: ``ROOT/<dataset>/site=<site>/date=<YYYY-MM-DD>/part-<period>-<shard>.parquet``. A replay writes the same
names with the same content, so it overwrites and never duplicates. Each file is written to a temporary name in
the same folder and renamed into place.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from bytewax.outputs import FixedPartitionedSink, StatefulSinkPartition

TS = pa.timestamp("ms", tz="UTC")

TELEMETRY_AGG = pa.schema([
    ("machine", pa.string()), ("window_start", TS), ("window_end", TS), ("signal", pa.string()),
    ("count", pa.int64()), ("min", pa.float64()), ("max", pa.float64()), ("mean", pa.float64()),
    ("last", pa.float64()), ("final", pa.bool_()), ("covers_until", TS),
])
REASONS = pa.list_(pa.struct([("reason", pa.string()), ("seconds", pa.float64())]))
#: rejects per reason of a work-order run (a class's reject_reason_signal); null without the signal
REJECT_REASONS = pa.list_(pa.struct([("reason", pa.string()), ("rejects", pa.int64())]))
SHIFT_OEE = pa.schema([
    ("machine", pa.string()), ("work_center", pa.string()), ("shift_id", pa.string()),
    ("shift_start", TS), ("shift_end", TS), ("planned_time_s", pa.float64()), ("run_time_s", pa.float64()),
    ("downtime_s", pa.float64()), ("microstop_s", pa.float64()), ("total_count", pa.int64()),
    ("good_count", pa.int64()), ("reject_count", pa.int64()), ("ideal_cycle_time_s", pa.float64()),
    ("availability", pa.float64()), ("performance", pa.float64()), ("quality", pa.float64()),
    ("oee", pa.float64()), ("downtime_by_reason", REASONS), ("final", pa.bool_()), ("covers_until", TS),
])
OPERATIONS = pa.schema([
    ("machine", pa.string()), ("work_center", pa.string()), ("since", TS), ("finish", TS), ("first_part_at", TS),
    ("parts", pa.int64()), ("rejects", pa.int64()), ("good", pa.int64()), ("final", pa.bool_()),
    ("covers_until", TS), ("rejects_by_reason", REJECT_REASONS),
])
#: Columns every row of a period carries: whether the period is final, and the event time its data reaches.
STATUS_COLUMNS = ("final", "covers_until")
#: Version of the datasets' layout, in each file's key/value metadata (`andon.schema_version`); raised when a
#: column changes meaning or goes away (adding a column keeps it).
SCHEMA_VERSION = "2"


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    schema: pa.Schema
    key: tuple[str, ...]  # identity of a row: a replayed row replaces, never duplicates
    period: str  # "hour" -> one file per UTC hour of `time_column`, "day" -> one file per date partition
    time_column: str


DATASETS = {
    "telemetry_agg": DatasetSpec("telemetry_agg", TELEMETRY_AGG, ("machine", "window_start", "signal"), "hour",
                                 "window_start"),
    "shift_oee": DatasetSpec("shift_oee", SHIFT_OEE, ("machine", "shift_id"), "day", "shift_start"),
    "operations": DatasetSpec("operations", OPERATIONS, ("machine", "since"), "day", "since"),
}

def period_of(spec: DatasetSpec, ts_ms: int, date: str) -> str:
    if spec.period == "hour":
        return datetime.fromtimestamp(ts_ms / 1000, UTC).strftime("h%H")
    return "day"


def file_path(root: Path, dataset: str, site: str, date: str, period: str, shard: str) -> Path:
    return root / dataset / f"site={site}" / f"date={date}" / f"part-{period}-{shard}.parquet"


#: Temporary files being written by this process right now (the stale-file sweep must leave them alone).
_writing: set[Path] = set()
_writing_lock = threading.Lock()


def file_metadata(dataset: str, site: str, timezone: str, microstop_policy: str) -> dict[str, str]:
    """Key/value metadata of every file: what wrote it and the settings its figures depend on."""
    from andon import __version__

    return {"andon.dataset": dataset, "andon.schema_version": SCHEMA_VERSION, "andon.producer": "andon",
            "andon.producer_version": __version__, "andon.site": site, "andon.site_timezone": timezone,
            "andon.microstop_policy": microstop_policy}


def read_rows(path: Path, spec: DatasetSpec) -> pa.Table:
    """A dataset file's rows in the current schema (files written before a column existed get it as null)."""
    table = pq.read_table(path).replace_schema_metadata(None)
    if table.schema.equals(spec.schema):
        return table
    columns = [table.column(f.name).cast(f.type) if f.name in table.column_names else pa.nulls(table.num_rows, f.type)
               for f in spec.schema]
    return pa.Table.from_arrays(columns, schema=spec.schema)


def write_atomic(table: pa.Table, path: Path, metadata: dict[str, str] | None = None) -> None:
    if metadata:
        table = table.replace_schema_metadata(metadata)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with _writing_lock:
        _writing.add(tmp)
    try:
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, path)
    finally:
        with _writing_lock:
            _writing.discard(tmp)


def sweep_stale(root: Path, shard: str) -> None:
    """Remove temporary files a killed process left behind for `shard` (the final names are never partial).

    Files this process is writing now are kept: bytewax builds a shard's partition of each output step when
    the step first needs it, possibly while the writer thread works on another step's file of the same shard."""
    with _writing_lock:
        for stale in root.glob(f"*/site=*/date=*/.part-*-{shard}.parquet.*.tmp"):
            if stale not in _writing:
                stale.unlink(missing_ok=True)


def _dedup(spec: DatasetSpec, parts: list[pa.Table | AggColumns]) -> tuple[pa.Table, pa.Table | AggColumns]:
    """The file's table (sorted by key, last row of each key kept) and what to keep pending in its place."""
    first = parts[0] if parts else None
    if isinstance(first, AggColumns) and all(
            isinstance(t, AggColumns) and t.machine_names is first.machine_names
            and t.signal_names is first.signal_names for t in parts):
        merged = AggColumns.concat(parts).sorted_unique()  # integer keys: no string sort
        return merged.to_table(), merged
    table = _dedup_sorted(spec, parts)
    return table, table


def _dedup_sorted(spec: DatasetSpec, tables: list[pa.Table | AggColumns]) -> pa.Table:
    tables = as_tables(tables)
    table = tables[0] if len(tables) == 1 else pa.concat_tables(tables).combine_chunks()
    # final rows sort after provisional ones of the same key (null = an older file's row: provisional)
    rank = pc.fill_null(table.column("final"), False)
    order = [(k, "ascending") for k in spec.key]
    table = table.take(pc.sort_indices(table.append_column("__final", rank),
                                       sort_keys=[*order, ("__final", "ascending")]))
    if table.num_rows < 2:
        return table
    # keep the last row of each key: the latest final one, else the latest provisional one (rows are appended in
    # arrival order; sort_indices is stable)
    n = table.num_rows
    differs = None
    for k in spec.key:
        col = table.column(k)
        ne = pc.not_equal(col.slice(0, n - 1), col.slice(1))
        differs = ne if differs is None else pc.or_(differs, ne)
    keep = pa.concat_arrays([differs.combine_chunks(), pa.array([True])])
    return table if pc.all(keep).as_py() else table.filter(keep)


_writer_lock = threading.Lock()
_writer: ThreadPoolExecutor | None = None


def _background() -> ThreadPoolExecutor:
    """One writer thread per process: Parquet encoding, compression and the write release the GIL, so files are
    written on the second core while the dataflow goes on. One thread keeps writes of a path in submit order."""
    global _writer
    with _writer_lock:
        if _writer is None:
            _writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="andon-parquet")
        return _writer


@dataclass(slots=True)
class Rows:
    """Rows for one dataset file: (dataset, site, date, period) and a table in the dataset's schema."""

    dataset: str
    site: str
    date: str
    period: str
    table: pa.Table | AggColumns


@dataclass(slots=True)
class AggColumns:
    """telemetry_agg rows as numpy columns, made into an Arrow table only when their file is written: a batch
    adds a few slices, and each file builds one table from all of them instead of one per batch.

    `machine` and `signal` index `machine_names` / `signal_names` (Arrow string arrays shared by every batch of
    a dataflow, so a snapshot pickles them once)."""

    machine: np.ndarray  # int32
    window_start_ms: np.ndarray  # int64
    window_end_ms: np.ndarray  # int64
    signal: np.ndarray  # int16
    count: np.ndarray  # int64
    min: np.ndarray
    max: np.ndarray
    mean: np.ndarray
    last: np.ndarray
    final: np.ndarray  # bool
    covers_until_ms: np.ndarray  # int64
    machine_names: pa.Array
    signal_names: pa.Array

    _NUMERIC = ("machine", "window_start_ms", "window_end_ms", "signal", "count", "min", "max", "mean", "last",
                "final", "covers_until_ms")

    @property
    def num_rows(self) -> int:
        return int(self.machine.shape[0])

    @classmethod
    def concat(cls, parts: list[AggColumns]) -> AggColumns:
        if len(parts) == 1:
            return parts[0]
        first = parts[0]
        cols = {name: np.concatenate([getattr(p, name) for p in parts]) for name in cls._NUMERIC}
        return cls(**cols, machine_names=first.machine_names, signal_names=first.signal_names)

    def take(self, rows: np.ndarray) -> AggColumns:
        return AggColumns(*(getattr(self, name)[rows] for name in self._NUMERIC), self.machine_names,
                          self.signal_names)

    def sorted_unique(self) -> AggColumns:
        """Rows sorted by (machine, window_start, signal) names as Arrow sorts strings, and of rows with the same
        key only the last final one added, else the last provisional one (a replayed window replaces, never
        duplicates): what `_dedup_sorted` does on a table, on integer keys."""
        km = _ranks(self.machine_names)[self.machine]
        kw = self.window_start_ms
        ks = _ranks(self.signal_names)[self.signal]
        order = np.lexsort((self.final, ks, kw, km))  # stable: equal keys keep the order they were added in
        km, kw, ks = km[order], kw[order], ks[order]
        last = np.ones(order.shape[0], dtype=bool)
        last[:-1] = (km[1:] != km[:-1]) | (kw[1:] != kw[:-1]) | (ks[1:] != ks[:-1])
        return self.take(order if last.all() else order[last])

    def to_table(self) -> pa.Table:
        return pa.Table.from_arrays([
            self.machine_names.take(pa.array(self.machine)),
            pa.array(self.window_start_ms, pa.int64()).cast(TS),
            pa.array(self.window_end_ms, pa.int64()).cast(TS),
            self.signal_names.take(pa.array(self.signal)),
            pa.array(self.count, pa.int64()),
            pa.array(self.min, pa.float64()),
            pa.array(self.max, pa.float64()),
            pa.array(self.mean, pa.float64()),
            pa.array(self.last, pa.float64()),
            pa.array(self.final, pa.bool_()),
            pa.array(self.covers_until_ms, pa.int64()).cast(TS),
        ], schema=TELEMETRY_AGG)


_rank_cache: dict[int, tuple[pa.Array, np.ndarray]] = {}


def _ranks(names: pa.Array) -> np.ndarray:
    """Position of each name in Arrow's string sort order (cached per name table: one per dataflow)."""
    hit = _rank_cache.get(id(names))
    if hit is not None and hit[0] is names:
        return hit[1]
    ranks = np.empty(len(names), dtype=np.int64)
    ranks[pc.sort_indices(names).to_numpy()] = np.arange(len(names))
    if len(_rank_cache) > 64:
        _rank_cache.clear()
    _rank_cache[id(names)] = (names, ranks)
    return ranks


def as_tables(parts: list[pa.Table | AggColumns]) -> list[pa.Table]:
    """Arrow tables of a file's pending parts, consecutive AggColumns with the same name tables built as one."""
    out: list[pa.Table] = []
    run: list[AggColumns] = []
    for part in [*parts, None]:
        if isinstance(part, AggColumns) and (not run or (part.machine_names is run[0].machine_names
                                                         and part.signal_names is run[0].signal_names)):
            run.append(part)
            continue
        if run:
            out.append(AggColumns.concat(run).to_table())
            run = []
        if isinstance(part, AggColumns):
            run.append(part)
        elif part is not None:
            out.append(part)
    return out


def _upgrade(part: pa.Table | AggColumns, spec: DatasetSpec) -> pa.Table | AggColumns:
    """A pending part from a version-1 snapshot (before `final`/`covers_until`): rows closed by the watermark
    then are final, covering their whole period."""
    if isinstance(part, AggColumns):
        if not hasattr(part, "final"):
            part.final = np.ones(part.num_rows, dtype=bool)
            part.covers_until_ms = np.asarray(part.window_end_ms, dtype=np.int64)
        return part
    if "final" in part.column_names:
        return part
    end = part.column("window_end" if spec.name == "telemetry_agg" else "shift_end")
    return part.append_column("final", pa.array([True] * part.num_rows, pa.bool_())).append_column(
        "covers_until", end)


class _ShardFiles(StatefulSinkPartition[Rows, dict]):
    def __init__(self, root: Path, shard: str, state: dict | None, retain: int, write_interval_s: float,
                 sites: dict[str, tuple[str, str]] | None = None, failed: threading.Event | None = None):
        self.root, self.shard = root, shard
        #: shared by every partition of one sink: set once one of their writes failed
        self.failed = failed if failed is not None else threading.Event()
        self.sites = sites or {}
        self.pending: dict[tuple[str, str, str, str], list[pa.Table]] = (state or {}).get("pending", {})
        if state and state.get("version", 1) < 2:
            self.pending = {ident: [_upgrade(p, DATASETS[ident[0]]) for p in parts]
                            for ident, parts in self.pending.items()}
        self.order: list[tuple[str, str, str, str]] = (state or {}).get("order", [])
        self.dirty: set = set(self.pending)
        self.retain = retain
        self.write_interval_s = write_interval_s
        self._last_write = time.monotonic()
        self.rows_written = 0
        self._inflight: dict[Path, Future] = {}  # files handed to the writer thread and not yet known written
        sweep_stale(root, shard)

    def write_batch(self, values: list[Rows]) -> None:
        self._settle(done_only=True)
        for rows in values:
            ident = (rows.dataset, rows.site, rows.date, rows.period)
            if ident not in self.pending:
                path = file_path(self.root, *ident, self.shard)
                self._settle(path)
                # re-opened after it closed: its rows stay, a later row of the same key replaces a provisional one
                self.pending[ident] = [read_rows(path, DATASETS[ident[0]])] if path.exists() else []
                self.order.append(ident)
            self.pending[ident].append(rows.table)
            self.dirty.add(ident)
        # finalize periods that are `retain` newer periods behind, per dataset
        for dataset in {ident[0] for ident in self.order}:
            idents = [i for i in self.order if i[0] == dataset]
            for ident in sorted(idents, key=lambda i: (i[2], i[3]))[: max(0, len(idents) - self.retain)]:
                self._write(ident)
                self.pending.pop(ident, None)
                self.order.remove(ident)
        if time.monotonic() - self._last_write > self.write_interval_s:
            self.flush()

    def _write(self, ident) -> None:
        if ident not in self.dirty:
            return
        tables = self.pending[ident]
        if tables:
            spec = DATASETS[ident[0]]
            table, kept = _dedup(spec, tables)
            self.pending[ident] = [kept]
            path = file_path(self.root, *ident, self.shard)
            timezone, policy = self.sites.get(ident[1], ("UTC", "performance"))
            metadata = file_metadata(ident[0], ident[1], timezone, policy)
            self._inflight[path] = _background().submit(write_atomic, table, path, metadata)
            self.rows_written += table.num_rows
        self.dirty.discard(ident)

    def _settle(self, path: Path | None = None, *, done_only: bool = False) -> None:
        """Wait for the writer thread: for `path` only, for every file (None), or just collect finished writes
        (`done_only`). A failed write raises here, in the dataflow, with the file it was for."""
        if path is not None:
            futures = [(path, self._inflight[path])] if path in self._inflight else []
        else:
            futures = list(self._inflight.items())
        for p, future in futures:
            if done_only and not future.done():
                continue
            try:
                future.result()
            except OSError as exc:
                self.failed.set()
                raise OSError(exc.errno, f"writing Parquet file {p} failed: {exc.strerror or exc}; check free space "
                                         f"and permissions of {self.root}, then restart (recovery rewrites it)") from exc
            finally:
                if self._inflight.get(p) is future:
                    del self._inflight[p]

    def flush(self) -> None:
        for ident in list(self.dirty):
            self._write(ident)
        self._last_write = time.monotonic()

    def snapshot(self) -> dict:
        # finalized periods leave the state once written: a snapshot must never get ahead of the files
        self._settle()
        return {"version": 2, "pending": self.pending, "order": list(self.order)}

    def close(self) -> None:
        if self.failed.is_set():
            # a write of this sink failed and was raised already: bytewax closes every partition while it unwinds,
            # and a second error there would abort the process instead of reporting the first one
            return
        self.flush()
        self._settle()


class ParquetSink(FixedPartitionedSink[Rows, dict]):
    """One partition per shard; items are ``(shard_key, Rows)``. Periods stay in state until `retain` newer ones
    exist (late rows rewrite their file), dirty files are rewritten every `write_interval_s` and at end of input.
    """

    def __init__(self, root: str | Path, shards: Iterable[str], *, retain: int = 2, write_interval_s: float = 30.0,
                 sites: dict[str, tuple[str, str]] | None = None):
        self.root = Path(root)
        #: site id -> (time zone, micro-stop policy), written into each file's key/value metadata
        self.sites = dict(sites or {})
        self.failed = threading.Event()
        self.shards = list(shards)
        if not self.shards:
            raise ValueError("ParquetSink needs at least one shard")
        self.retain = retain
        self.write_interval_s = write_interval_s

    def list_parts(self) -> list[str]:
        return self.shards

    def part_fn(self, item_key: str) -> int:
        return self.shards.index(item_key)

    def build_part(self, step_id: str, for_part: str, resume_state: dict | None) -> _ShardFiles:
        return _ShardFiles(self.root, for_part, resume_state, self.retain, self.write_interval_s, self.sites,
                           self.failed)

"""Readings as Arrow IPC record batches: many readings per Kafka message, decoded column by column.

Columns: `site`, `machine`, `ts` (int64 epoch ms or a timestamp type), optional `seq`, and one column per signal.
No Python object is built per reading; only refused rows become `InvalidReading` records.

Example::

    payload = encode_arrow(table)                       # what an edge gateway would send
    batch = decode_arrow([payload], registry, bounds)    # ReadingBatch, like the JSON decoder's
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from andon.readings import InvalidReading, ReadingBatch, Reason, Registry

ARROW_STREAM_MAGIC = b"\xff\xff\xff\xff"


def is_arrow(payload: bytes) -> bool:
    """Arrow IPC streams start with the continuation marker; JSON starts with `{` or `[`."""
    return payload[:4] == ARROW_STREAM_MAGIC


def encode_arrow(table: pa.Table | pa.RecordBatch) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write(table)
    return sink.getvalue().to_pybytes()


def _refuse(invalid: list, reason: Reason, rows: np.ndarray, detail: str, index: int, raw: bytes) -> None:
    if rows.size:
        invalid.append(InvalidReading(reason, f"{rows.size} row(s), first at row {int(rows[0])}: {detail}",
                                      raw[:4096], index))


def _decode_one(payload: bytes, registry: Registry, bounds: tuple[int, int], index: int, invalid: list):
    try:
        table = pa.ipc.open_stream(payload).read_all()
    except (pa.ArrowInvalid, pa.ArrowException, OSError) as exc:
        invalid.append(InvalidReading(Reason.MALFORMED, f"not an Arrow IPC stream: {exc}", payload[:4096], index))
        return None
    missing = [c for c in ("site", "machine", "ts") if c not in table.column_names]
    if missing:
        invalid.append(InvalidReading(Reason.SCHEMA, f"Arrow batch lacks column(s) {missing}", payload[:4096], index))
        return None
    n = table.num_rows
    try:
        key = pc.binary_join_element_wise(pc.cast(table["site"], pa.string()),
                                          pc.cast(table["machine"], pa.string()), "\x1f")
        encoded = pc.dictionary_encode(key).combine_chunks()
        lookup = np.array([registry.index.get(tuple(k.split("\x1f", 1)), -1) if k is not None else -1
                           for k in encoded.dictionary.to_pylist()], dtype=np.int64)
        codes = encoded.indices.to_numpy(zero_copy_only=False)
        machine = lookup[codes] if lookup.size else np.full(n, -1, dtype=np.int64)
        ts_col = table["ts"]
        if pa.types.is_timestamp(ts_col.type):
            ts_col = pc.cast(pc.cast(ts_col, pa.timestamp("ms", tz=ts_col.type.tz)), pa.int64())
        ts = pc.cast(ts_col, pa.int64()).to_numpy(zero_copy_only=False)
        seq = (pc.cast(table["seq"], pa.int64()).fill_null(-1).to_numpy(zero_copy_only=False)
               if "seq" in table.column_names else np.full(n, -1, dtype=np.int64))
        values = np.full((n, len(registry.signals)), np.nan, dtype=np.float64)
        for j, name in enumerate(registry.signals):
            if name in table.column_names:
                col = pc.cast(table[name], pa.float64())
                values[:, j] = col.to_numpy(zero_copy_only=False)  # nulls become NaN
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        invalid.append(InvalidReading(Reason.SCHEMA, f"Arrow column types: {exc}", payload[:4096], index))
        return None
    keep = machine >= 0
    _refuse(invalid, Reason.UNKNOWN_MACHINE, np.flatnonzero(~keep), "site/machine not in the config", index, payload)
    lo, hi = bounds
    future, past = keep & (ts > hi), keep & (ts < lo)
    _refuse(invalid, Reason.TS_FUTURE, np.flatnonzero(future), "timestamp in the future", index, payload)
    _refuse(invalid, Reason.TS_PAST, np.flatnonzero(past), "timestamp too old", index, payload)
    keep &= ~(future | past)
    nonfinite = keep & np.isinf(values).any(axis=1)
    _refuse(invalid, Reason.NON_FINITE, np.flatnonzero(nonfinite), "non-finite signal value", index, payload)
    keep &= ~nonfinite
    return machine[keep].astype(np.int32), ts[keep], seq[keep], values[keep]


def decode_arrow(payloads: Sequence[bytes], registry: Registry, bounds: tuple[int, int],
                 indices: Sequence[int] | None = None) -> ReadingBatch:
    """Decode Arrow IPC payloads into one ReadingBatch; `indices` are the payloads' message positions."""
    invalid: list[InvalidReading] = []
    parts = []
    msg_index = []
    for pos, payload in enumerate(payloads):
        index = indices[pos] if indices is not None else pos
        got = _decode_one(payload, registry, bounds, index, invalid)
        if got is not None:
            parts.append(got)
            msg_index.append(np.full(got[0].shape[0], index, dtype=np.int64))
    if not parts:
        empty = np.empty(0, dtype=np.int64)
        return ReadingBatch(np.empty(0, np.int32), empty, empty.copy(),
                            np.empty((0, len(registry.signals))), registry.signals, invalid, empty.copy())
    return ReadingBatch(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
                        np.concatenate([p[2] for p in parts]), np.concatenate([p[3] for p in parts]),
                        registry.signals, invalid, np.concatenate(msg_index))


def batch_to_arrow(batch: ReadingBatch, registry: Registry) -> pa.Table:
    """The columnar form an edge gateway sends: site, machine, ts, seq and one nullable column per signal."""
    keys = registry.keys
    columns = {
        "site": pa.array([keys[m][0] for m in batch.machine], pa.string()).dictionary_encode(),
        "machine": pa.array([keys[m][1] for m in batch.machine], pa.string()).dictionary_encode(),
        "ts": pa.array(batch.ts, pa.int64()),
        "seq": pa.array(batch.seq, pa.int64()),
    }
    for j, name in enumerate(batch.signals):
        col = batch.values[:, j]
        columns[name] = pa.array(col, pa.float64(), mask=np.isnan(col))
    return pa.table(columns)

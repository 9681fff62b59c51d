"""Readings as Arrow IPC record batches: many readings per Kafka message, decoded column by column.

Columns: `site`, `machine`, `ts` (int64 epoch ms or a timestamp type), optional `seq`, and one column per signal.
No Python object is built per reading; only refused rows become `InvalidReading` records.

Example::

    payload = encode_arrow(table)                       # what an edge gateway would send
    batch = decode_arrow([payload], registry, bounds)    # ReadingBatch, like the JSON decoder's

How it is fast (a few µs of Python per message instead of a pyarrow.compute call per column):

- the stream's prefix (schema and dictionary messages: the same bytes for every message of a gateway's machine) is
  read once by pyarrow's stream reader; what it means (which column is which signal, the registry index of each
  site/machine dictionary entry) is kept under those bytes (`_Plan`);
- a record batch message is read once by pyarrow (`read_record_batch`, which refuses what its stream reader would),
  with dictionary columns read as their indices; where each column lies in the body (from the FieldNode/Buffer
  metadata, which a few `struct` reads find) is kept under the message's metadata bytes (`_Recipe`), for schemas
  whose reading cannot depend on the body's content (fixed-width and dictionary columns);
- columns are numpy views of the payload; float64 signal columns written one after the other become one strided
  view, so the (rows, signals) matrix is filled with one copy per message; checks run once over all messages and
  only a message with a refused row is looked at again;
- anything else (other column types, nulls in `ts`, compressed bodies, values a cast could refuse, out-of-range
  dictionary indices, dictionary messages between record batches, trailing bytes, ...) takes the general path
  (`_decode_general`, pyarrow.compute over a Table), so results and refusal texts are the same for every input.

A null site or machine makes its row unknown (UNKNOWN_MACHINE). A stream that fails pyarrow's full validation (string
offsets, UTF-8, dictionary indices) or has field names that are not UTF-8 is MALFORMED: the decoder this one replaced
raised for these, or crashed in a compute kernel.
"""

from __future__ import annotations

import struct
import threading
import weakref
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from andon.counters import CounterRange
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


# ---- the general path: any stream pyarrow can read ----------------------------------------------------------------

_TYPE_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, pa.ArrowIndexError)


def _decode_general(payload: bytes, registry: Registry, index: int, invalid: list):
    """(machine, ts, seq, values) of all rows (machine -1 where unknown) or None when the payload is refused."""
    try:
        table = pa.ipc.open_stream(payload).read_all()
        table.column_names  # noqa: B018 - field names that are not UTF-8 raise here
        table.validate(full=True)  # string offsets, UTF-8, dictionary indices: compute kernels trust them
    except (pa.ArrowInvalid, pa.ArrowException, OSError, UnicodeDecodeError) as exc:
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
                           for k in encoded.dictionary.to_pylist()] + [-1], dtype=np.int64)  # last: null keys
        codes = encoded.indices.fill_null(len(encoded.dictionary)).to_numpy(zero_copy_only=False)
        machine = lookup[codes]
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
    except (*_TYPE_ERRORS, UnicodeDecodeError) as exc:
        invalid.append(InvalidReading(Reason.SCHEMA, f"Arrow column types: {exc}", payload[:4096], index))
        return None
    return machine, ts, seq, values


# ---- the fast path ------------------------------------------------------------------------------------------------

class _Slow(Exception):
    """This payload takes the general path."""


_i32 = struct.Struct("<i").unpack_from
_u32 = struct.Struct("<I").unpack_from
_i64 = struct.Struct("<q").unpack_from
_frame8 = struct.Struct("<iI").unpack_from  # continuation marker, metadata length
_vtables = [struct.Struct(f"<{n}H").unpack_from for n in range(64)]

_SCHEMA, _DICTIONARY, _RECORD_BATCH = 1, 2, 3
_V5 = 4  # MetadataVersion.V5, what pyarrow writes
_EOS = b"\xff\xff\xff\xff\x00\x00\x00\x00"


def _table(buf: bytes, table: int, hi: int) -> tuple[int, ...]:
    """Field positions (0 when absent) of the flatbuffer table at `table`; `hi` bounds the metadata."""
    if table + 4 > hi:
        raise _Slow
    vtable = table - _i32(buf, table)[0]
    if vtable < 0 or vtable + 4 > hi:
        raise _Slow
    size, _ = _vtables[2](buf, vtable)
    count = (size - 4) >> 1
    if size < 4 or count >= 64 or vtable + size > hi:
        raise _Slow
    return tuple(table + off if off else 0 for off in _vtables[count](buf, vtable + 4))


def _message(buf: bytes, pos: int, end: int) -> tuple[int, int, int, int]:
    """(header type, header table, metadata end, body end) of the message at `pos`; header type 0 is end of stream."""
    if pos + 16 > end:
        if pos + 8 == end and buf[pos:] == _EOS:
            return 0, 0, end, end
        raise _Slow
    marker, length = _frame8(buf, pos)
    if marker != -1:
        raise _Slow
    if length == 0:
        return 0, 0, pos + 8, pos + 8
    lo = pos + 8
    hi = lo + length
    if length & 7 or hi > end:
        raise _Slow
    fields = _table(buf, lo + _u32(buf, lo)[0], hi)
    if len(fields) < 4:
        fields += (0,) * (4 - len(fields))
    version, kind, header, body = fields[:4]
    if not version or version + 2 > hi or buf[version] != _V5 or buf[version + 1]:
        raise _Slow
    if not kind or kind + 1 > hi or not header or header + 4 > hi:
        raise _Slow
    kind = buf[kind]
    header += _u32(buf, header)[0]
    if body:
        if body + 8 > hi:
            raise _Slow
        body = _i64(buf, body)[0]
    if body < 0 or hi + body > end:
        raise _Slow
    return kind, header, hi, hi + body


def _little_endian(buf: bytes, schema: int, hi: int) -> bool:
    fields = _table(buf, schema, hi)
    return not fields or not fields[0] or (fields[0] + 2 <= hi and buf[fields[0]:fields[0] + 2] == b"\x00\x00")


def _buffer_count(name: str, t: pa.DataType) -> int:
    """Buffers of a column in the IPC body (one FieldNode each); -1 for the types the fast path leaves alone.

    Only types whose full validation cannot depend on the values (besides string offsets and UTF-8, which
    `validate(full=True)` checks on every such batch) and dictionaries for site/machine (indices checked here).
    """
    if pa.types.is_dictionary(t):
        return 2 if name in ("site", "machine") else -1
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return 3
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t) or pa.types.is_timestamp(t):
        return 2
    return -1


_INTS = {pa.int8(): np.int8, pa.int16(): np.int16, pa.int32(): np.int32, pa.int64(): np.int64,
         pa.uint8(): np.uint8, pa.uint16(): np.uint16, pa.uint32(): np.uint32, pa.uint64(): np.uint64}
_FLOATS = {pa.float64(): np.float64, pa.float32(): np.float32}
_TS_SCALE = {"s": -1000, "ms": 1, "us": 1000, "ns": 1_000_000}  # negative: multiply
_EXACT_FLOAT = 2**53  # casts of int64 to float64 refuse larger magnitudes
_MS_FROM_S = (2**63 - 1) // 1000
_INT64_MAX = 2**63 - 1
_F8 = np.dtype(np.float64)


class _Col:
    """Where a column's FieldNode and buffers are in a record batch (indices into the flat int64 lists)."""

    __slots__ = ("field", "node", "validity", "data", "dtype", "itemsize", "kind", "scale", "dictionary", "signal",
                 "wide")

    def __init__(self, field: int, first_buffer: int, dtype, kind: str, *, scale: int = 1, dictionary=None,
                 signal: int = -1) -> None:
        self.field, self.node, self.validity, self.data = field, 2 * field, 2 * first_buffer, 2 * first_buffer + 2
        self.dtype = np.dtype(dtype) if dtype is not None else None
        self.itemsize = self.dtype.itemsize if self.dtype is not None else 0
        self.kind, self.scale, self.dictionary, self.signal = kind, scale, dictionary, signal
        self.wide = self.dtype is not None and self.dtype.kind in "iu" and self.itemsize == 8


class _Plan:
    """What a stream prefix (schema + dictionaries) means for one registry."""

    __slots__ = ("read_schema", "n_fields", "n_buffers", "site", "machine", "lookup", "single", "ts", "seq",
                 "signals", "missing", "layouts")


def _key(registry: Registry, site, machine) -> int:
    """Registry index of a (site, machine) value pair, joined and split as the general path does; -1 if unknown."""
    if site is None or machine is None:
        return -1
    return registry.index.get(tuple((site + "\x1f" + machine).split("\x1f", 1)), -1)


def _string_col(field: int, buffer: int, t: pa.DataType, first_batch: pa.RecordBatch) -> _Col:
    if pa.types.is_dictionary(t):
        vt = t.value_type
        if not (pa.types.is_string(vt) or pa.types.is_large_string(vt)) or t.index_type not in _INTS:
            raise _Slow
        return _Col(field, buffer, _INTS[t.index_type], "dict",
                    dictionary=first_batch.column(field).dictionary.to_pylist())
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return _Col(field, buffer, None, "str")
    raise _Slow


def _make_plan(schema: pa.Schema, first_batch: pa.RecordBatch, registry: Registry) -> _Plan | None:
    """The fast path's reading of `schema`; None when this schema takes the general path."""
    names = schema.names
    if len(set(names)) != len(names) or not {"site", "machine", "ts"} <= set(names):
        return None
    counts = [_buffer_count(f.name, f.type) for f in schema]
    if -1 in counts:
        return None
    first = np.concatenate([[0], np.cumsum(counts)]).astype(int).tolist()
    at = {name: i for i, name in enumerate(names)}
    plan = _Plan()
    try:
        plan.site = _string_col(at["site"], first[at["site"]], schema.field("site").type, first_batch)
        plan.machine = _string_col(at["machine"], first[at["machine"]], schema.field("machine").type, first_batch)
    except _Slow:
        return None
    i, t = at["ts"], schema.field("ts").type
    if pa.types.is_timestamp(t):
        plan.ts = _Col(i, first[i], np.int64, "ts", scale=_TS_SCALE[t.unit])
    elif t in _INTS:
        plan.ts = _Col(i, first[i], _INTS[t], "int")
    else:
        return None
    plan.seq = None
    if "seq" in at:
        i, t = at["seq"], schema.field("seq").type
        if t not in _INTS:
            return None
        plan.seq = _Col(i, first[i], _INTS[t], "int")
    plan.signals, plan.missing = [], []
    for j, name in enumerate(registry.signals):
        if name not in at:
            plan.missing.append(j)
            continue
        i, t = at[name], schema.field(name).type
        if t in _FLOATS:
            plan.signals.append(_Col(i, first[i], _FLOATS[t], "float", signal=j))
        elif t in _INTS:
            plan.signals.append(_Col(i, first[i], _INTS[t], "int", signal=j))
        else:
            return None
    plan.lookup = plan.single = None
    if plan.site.kind == "dict" and plan.machine.kind == "dict":
        plan.lookup = np.array([[_key(registry, s, m) for m in plan.machine.dictionary] for s in plan.site.dictionary],
                               dtype=np.int64).reshape(len(plan.site.dictionary), len(plan.machine.dictionary))
        if plan.lookup.size == 1:
            plan.single = int(plan.lookup[0, 0])
    plan.read_schema = pa.schema([pa.field(f.name, f.type.index_type if pa.types.is_dictionary(f.type) else f.type)
                                  for f in schema])
    plan.n_fields, plan.n_buffers = len(names), first[-1]
    # record batch layouts by metadata bytes, when reading a batch cannot depend on its body's content
    plan.layouts = {} if 3 not in counts else None
    return plan


class _Cache:
    """Plans by stream prefix bytes, for one registry (whose sites, machines and signals do not change).

    One cache serves every worker thread of a process that decodes with the same registry. Readers look plans and
    layouts up without a lock (a dict lookup is one step under the GIL, and a stale miss only costs the slow
    path); writers take `lock`, so no thread iterates the plans while another inserts, and `lengths` is replaced,
    never changed in place, so a reader iterating it sees a whole list."""

    PLANS = 1024
    LAYOUTS = 4096  # record batch recipes, over all plans

    def __init__(self, registry: Registry) -> None:
        self.plans: dict[bytes, _Plan | None] = {}
        self.lengths: list[int] = []  # prefix lengths seen, most recent first
        self.n_layouts = 0
        self.lock = threading.Lock()
        #: counters whole and within 0..counter_max (immutable once built)
        self.counters = CounterRange(registry)

    def put(self, prefix: bytes, plan: _Plan | None) -> None:
        with self.lock:
            if len(self.plans) >= self.PLANS:
                self.plans = {}
                self.lengths = []
                self.n_layouts = 0
            self.plans[prefix] = plan
            if len(prefix) not in self.lengths:
                self.lengths = [len(prefix), *self.lengths][:8]

    def put_layout(self, plan: _Plan, metadata: bytes, recipe) -> None:
        with self.lock:
            if self.n_layouts >= self.LAYOUTS:
                for other in self.plans.values():
                    if other is not None and other.layouts:
                        other.layouts.clear()
                self.n_layouts = 0
            plan.layouts[metadata] = recipe
            self.n_layouts += 1


_caches: weakref.WeakKeyDictionary[Registry, _Cache] = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


def _cache_of(registry: Registry) -> _Cache:
    cache = _caches.get(registry)
    if cache is None:
        with _caches_lock:
            cache = _caches.get(registry)
            if cache is None:
                cache = _caches[registry] = _Cache(registry)
    return cache


def _prefix(buf: bytes, end: int, cache: _Cache) -> tuple[int, _Plan | None, bool]:
    """(length of the schema + dictionary messages before the first record batch, its plan, whether cached)."""
    plans = cache.plans
    for length in cache.lengths:
        plan = plans.get(buf[:length], plans)
        if plan is not plans:
            return length, plan, True
    kind, header, meta_end, pos = _message(buf, 0, end)
    if kind != _SCHEMA or pos != meta_end or not _little_endian(buf, header, meta_end):
        raise _Slow
    while True:
        start = pos
        kind, header, meta_end, pos = _message(buf, pos, end)
        if kind == _RECORD_BATCH:
            return start, None, False
        if kind != _DICTIONARY:
            raise _Slow


def _place(col: _Col, rows: int, body_len: int, nodes: list, buffers: list) -> tuple[int, int]:
    """(data offset, validity offset or -1 without nulls) of a fixed-width column, checked against the body."""
    n = col.node
    nulls = nodes[n + 1]
    if nodes[n] != rows or nulls < 0 or nulls > rows:
        raise _Slow
    d = col.data
    offset, need = buffers[d], rows * col.itemsize
    if offset < 0 or buffers[d + 1] < need or offset + need > body_len:
        raise _Slow
    if not nulls:
        return offset, -1
    v = col.validity
    valid, need = buffers[v], (rows + 7) >> 3
    if valid < 0 or buffers[v + 1] < need or valid + need > body_len:
        raise _Slow
    return offset, valid


class _Recipe:
    """Where one record batch layout keeps each column in the body: the content-independent part of decoding."""

    __slots__ = ("rows", "body_len", "site", "machine", "ts", "seq", "runs", "others", "nan")


def _recipe(plan: _Plan, rows: int, body_len: int, nodes: list, buffers: list) -> _Recipe:
    r = _Recipe()
    r.rows, r.body_len = rows, body_len
    r.site = _place(plan.site, rows, body_len, nodes, buffers) if plan.site.kind == "dict" else None
    r.machine = _place(plan.machine, rows, body_len, nodes, buffers) if plan.machine.kind == "dict" else None
    r.ts = _place(plan.ts, rows, body_len, nodes, buffers)
    if r.ts[1] >= 0:
        raise _Slow  # null timestamps: the general path's float conversion
    r.seq = _place(plan.seq, rows, body_len, nodes, buffers) if plan.seq is not None else None
    # float64 columns without nulls whose data lie at a constant stride (the writer's layout): one strided copy
    runs, others, nan = [], [], list(plan.missing)
    run_j = run_k = run_offset = stride = last = -1
    for col in plan.signals:
        n = col.node
        if nodes[n + 1] == rows and nodes[n] == rows and col.kind == "float":
            nan.append(col.signal)  # all null: NaN whatever the data buffer holds
            continue
        offset, valid = _place(col, rows, body_len, nodes, buffers)
        if valid >= 0 or col.dtype is not _F8:
            others.append((col, offset, valid))
            continue
        if run_k > 0 and col.signal == run_j + run_k and offset > last and (run_k == 1 or offset - last == stride):
            stride = offset - last
            run_k += 1
        else:
            if run_k > 0:
                runs.append((run_j, run_k, run_offset, stride))
            run_j, run_k, run_offset = col.signal, 1, offset
        last = offset
    if run_k > 0:
        runs.append((run_j, run_k, run_offset, stride))
    r.runs, r.others, r.nan = runs, others, nan
    return r


def _valid(buf: bytes, at: int, rows: int) -> np.ndarray:
    """A validity bitmap as bools."""
    bits = np.unpackbits(np.frombuffer(buf, np.uint8, (rows + 7) >> 3, at), count=rows, bitorder="little")
    return bits.view(np.bool_)


def _codes(buf: bytes, col: _Col, place, batch: pa.RecordBatch | None, rows: int, body: int):
    """(codes, valid or None, values) of a site/machine column: dictionary indices or dictionary_encode's."""
    if place is not None:
        offset, valid = place
        idx = np.frombuffer(buf, col.dtype, rows, body + offset)
        size = len(col.dictionary)
        if rows and (np.count_nonzero(idx) if size == 1 else
                     (size == 0 or np.minimum.reduce(idx) < 0 or np.maximum.reduce(idx) >= size)):
            raise _Slow  # out-of-range indices (null rows too): the general path says what pyarrow says
        return idx, _valid(buf, body + valid, rows) if valid >= 0 else None, col.dictionary
    encoded = pc.dictionary_encode(batch.column(col.field))
    indices = encoded.indices
    valid = None
    if indices.null_count:
        valid = indices.is_valid().to_numpy(zero_copy_only=False)
        indices = indices.fill_null(0)
    return indices.to_numpy(zero_copy_only=False), valid, encoded.dictionary.to_pylist()


def _machine(buf: bytes, plan: _Plan, r: _Recipe, batch, registry: Registry, body: int) -> np.ndarray:
    """Registry index per row, -1 where unknown or null: the general path's join of site and machine."""
    rows = r.rows
    if plan.single is not None and r.site[1] < 0 and r.machine[1] < 0:  # one site and machine, no nulls
        if rows and (np.count_nonzero(np.frombuffer(buf, plan.site.dtype, rows, body + r.site[0])) or
                     np.count_nonzero(np.frombuffer(buf, plan.machine.dtype, rows, body + r.machine[0]))):
            raise _Slow  # out-of-range indices: the general path refuses them
        return np.full(rows, plan.single, dtype=np.int64)
    si, svalid, svalues = _codes(buf, plan.site, r.site, batch, rows, body)
    mi, mvalid, mvalues = _codes(buf, plan.machine, r.machine, batch, rows, body)
    ns, nm = len(svalues), len(mvalues)
    if not rows or not ns or not nm:
        return np.full(rows, -1, dtype=np.int64)
    lookup = plan.lookup
    if lookup is None and ns * nm <= 1024:
        lookup = np.array([[_key(registry, s, m) for m in mvalues] for s in svalues], dtype=np.int64)
    if lookup is not None:
        if ns == 1 and nm == 1:
            machine = np.full(rows, lookup[0, 0], dtype=np.int64)
        else:
            machine = lookup.ravel()[si.astype(np.intp) * nm + mi]
    else:  # many distinct values: look up only the pairs present
        unique, inverse = np.unique(si.astype(np.int64) * nm + mi, return_inverse=True)
        found = [_key(registry, svalues[code // nm], mvalues[code % nm]) for code in unique.tolist()]
        machine = np.array(found, dtype=np.int64)[inverse.ravel()]
    if svalid is not None:
        machine[~svalid] = -1
    if mvalid is not None:
        machine[~mvalid] = -1
    return machine


def _ts(buf: bytes, col: _Col, r: _Recipe, body: int) -> np.ndarray:
    rows = r.rows
    ts = np.frombuffer(buf, col.dtype, rows, body + r.ts[0])
    if col.scale == 1:
        if col.dtype == np.uint64 and rows and np.maximum.reduce(ts) > _INT64_MAX:
            raise _Slow
        return ts if col.dtype == np.int64 else ts.astype(np.int64)
    if col.scale < 0:
        if rows and (np.maximum.reduce(ts) > _MS_FROM_S or np.minimum.reduce(ts) < -_MS_FROM_S):
            raise _Slow  # the cast to ms would overflow
        return ts * 1000
    if rows and np.count_nonzero(ts % col.scale):
        raise _Slow  # the cast to ms would lose data
    return ts // col.scale


def _seq(buf: bytes, col: _Col | None, r: _Recipe, body: int) -> np.ndarray:
    rows = r.rows
    if col is None:
        return np.full(rows, -1, dtype=np.int64)
    offset, valid = r.seq
    seq = np.frombuffer(buf, col.dtype, rows, body + offset)
    if col.dtype == np.uint64 and rows and np.maximum.reduce(seq) > _INT64_MAX:
        raise _Slow
    if valid < 0:
        return seq if col.dtype == np.int64 else seq.astype(np.int64)
    seq = seq.astype(np.int64)
    seq[~_valid(buf, body + valid, rows)] = -1
    return seq


def _signals(buf: bytes, r: _Recipe, body: int) -> list:
    """[(first signal, signal count, float64 values (rows,) or (rows, count))]."""
    rows = r.rows
    fills = []
    for j, k, offset, stride in r.runs:
        if k == 1:
            fills.append((j, 1, np.frombuffer(buf, np.float64, rows, body + offset)))
        else:
            fills.append((j, k, np.ndarray((rows, k), np.float64, buf, body + offset, (8, stride))))
    for col, offset, valid in r.others:
        values = np.frombuffer(buf, col.dtype, rows, body + offset)
        if col.wide and rows and (np.maximum.reduce(values) > _EXACT_FLOAT or
                                  (col.dtype == np.int64 and np.minimum.reduce(values) < -_EXACT_FLOAT)):
            raise _Slow  # the cast to float64 would refuse these
        values = values.astype(np.float64)
        if valid >= 0:
            values[~_valid(buf, body + valid, rows)] = np.nan
        fills.append((col.signal, 1, values))
    return fills


def _layout(buf: bytes, whole: pa.Buffer, cache: _Cache, plan: _Plan, pos: int, end: int) -> tuple[_Recipe, pa.RecordBatch]:
    """The recipe of the record batch message at `pos`, and the batch as pyarrow reads it.

    pyarrow reads the message (and refuses it as its stream reader would); for schemas of fixed-width and
    dictionary columns only, that depends on the metadata bytes alone, so the recipe is kept under them.
    """
    kind, header, body, body_end = _message(buf, pos, end)
    if kind != _RECORD_BATCH:
        raise _Slow  # dictionary replacements between batches
    length, nodes, buffers, compression = (_table(buf, header, body) + (0, 0, 0, 0))[:4]
    if compression:
        raise _Slow
    rows = 0
    if length:
        if length + 8 > body:
            raise _Slow
        rows = _i64(buf, length)[0]
    if not nodes or not buffers or nodes + 4 > body or buffers + 4 > body:
        raise _Slow
    nodes += _u32(buf, nodes)[0]
    buffers += _u32(buf, buffers)[0]
    if nodes + 4 > body or buffers + 4 > body:
        raise _Slow
    n_nodes, n_buffers = _u32(buf, nodes)[0], _u32(buf, buffers)[0]
    if (n_nodes != plan.n_fields or n_buffers != plan.n_buffers or nodes + 4 + 16 * n_nodes > body
            or buffers + 4 + 16 * n_buffers > body):
        raise _Slow
    try:  # pyarrow validates the message as its stream reader would
        batch = pa.ipc.read_record_batch(whole.slice(pos, body_end - pos), plan.read_schema)
    except (pa.ArrowException, OSError):
        raise _Slow from None
    if batch.num_rows != rows:
        raise _Slow
    if plan.layouts is None:  # string columns: offsets and UTF-8 as the general path checks them
        try:
            batch.validate(full=True)
        except pa.ArrowException:
            raise _Slow from None
    recipe = _recipe(plan, rows, body_end - body, np.frombuffer(buf, "<i8", 2 * n_nodes, nodes + 4).tolist(),
                     np.frombuffer(buf, "<i8", 2 * n_buffers, buffers + 4).tolist())
    if plan.layouts is not None:
        cache.put_layout(plan, buf[pos:body], recipe)
    return recipe, batch


def _decode_fast(buf: bytes, registry: Registry, cache: _Cache) -> list:
    """[(rows, machine, ts, seq, signal fills, NaN signals)] per record batch; raises _Slow for the general path."""
    end = len(buf)
    start, plan, cached = _prefix(buf, end, cache)
    if not cached:
        try:
            reader = pa.ipc.open_stream(buf)
            first = reader.read_next_batch()
            first.validate(full=True)  # the dictionaries the plan keeps
            plan = _make_plan(reader.schema, first, registry)
        except (pa.ArrowException, OSError, StopIteration, UnicodeDecodeError):
            raise _Slow from None
        cache.put(buf[:start], plan)
    if plan is None:
        raise _Slow
    whole = None
    layouts = plan.layouts
    out = []
    pos = start
    while True:
        if pos + 8 > end:
            raise _Slow
        marker, length = _frame8(buf, pos)
        if marker != -1:
            raise _Slow
        if length == 0:
            if pos + 8 != end:
                raise _Slow  # bytes after the end-of-stream marker: the general path decides
            break
        body = pos + 8 + length
        recipe = layouts.get(buf[pos:body]) if layouts is not None else None
        batch = None
        if recipe is None:
            if whole is None:
                whole = pa.py_buffer(buf)
            recipe, batch = _layout(buf, whole, cache, plan, pos, end)
        pos = body + recipe.body_len
        if pos > end:
            raise _Slow
        out.append((recipe.rows, _machine(buf, plan, recipe, batch, registry, body), _ts(buf, plan.ts, recipe, body),
                    _seq(buf, plan.seq, recipe, body), _signals(buf, recipe, body), recipe.nan))
    if not out:
        raise _Slow  # no record batch: the general path
    return out


def _check(machine, ts, values, bounds, index: int, payload: bytes, invalid: list) -> np.ndarray:
    """Refuse one payload's unknown, out-of-bounds and non-finite rows; the rows to keep."""
    lo, hi = bounds
    keep = machine >= 0
    _refuse(invalid, Reason.UNKNOWN_MACHINE, np.flatnonzero(~keep), "site/machine not in the config", index, payload)
    future, past = keep & (ts > hi), keep & (ts < lo)
    _refuse(invalid, Reason.TS_FUTURE, np.flatnonzero(future), "timestamp in the future", index, payload)
    _refuse(invalid, Reason.TS_PAST, np.flatnonzero(past), "timestamp too old", index, payload)
    keep &= ~(future | past)
    nonfinite = keep & np.isinf(values).any(axis=1)
    _refuse(invalid, Reason.NON_FINITE, np.flatnonzero(nonfinite), "non-finite signal value", index, payload)
    keep &= ~nonfinite
    return keep


def decode_arrow(payloads: Sequence[bytes], registry: Registry, bounds: tuple[int, int],
                 indices: Sequence[int] | None = None) -> ReadingBatch:
    """Decode Arrow IPC payloads into one ReadingBatch; `indices` are the payloads' message positions."""
    cache = _cache_of(registry)
    batch = _decode_arrow(payloads, registry, bounds, indices, cache)
    try:
        return cache.counters.refuse(batch, payloads if indices is None else dict(zip(indices, payloads,
                                                                                      strict=True)))
    except Exception:  # the shard's counter guard refuses such values too
        return batch


def _decode_arrow(payloads: Sequence[bytes], registry: Registry, bounds: tuple[int, int],
                  indices: Sequence[int] | None, cache: _Cache) -> ReadingBatch:
    n_sig = len(registry.signals)
    # per payload: (index, payload, record batches or None, refusals of the whole payload)
    parts: list[tuple[int, bytes, list | None, list]] = []
    total = 0
    for pos, payload in enumerate(payloads):
        index = indices[pos] if indices is not None else pos
        try:
            batches = _decode_fast(payload, registry, cache)
        except Exception:  # _Slow, strings that are not UTF-8, or a bug: the general path judges the payload
            errors: list[InvalidReading] = []
            try:
                got = _decode_general(payload, registry, index, errors)
            except Exception as exc:  # a bug in the general path: this payload alone is dead-lettered
                errors.append(InvalidReading(Reason.DECODER_ERROR, f"{type(exc).__name__}: {exc}", payload[:4096],
                                             index))
                got = None
            if got is None:
                parts.append((index, payload, None, errors))
                continue
            machine, ts, seq, values = got
            batches = [(ts.shape[0], machine, ts, seq, values, None)]
        parts.append((index, payload, batches, []))
        total += sum(b[0] for b in batches)
    if all(batches is None for _, _, batches, _ in parts):
        invalid = [bad for *_, errors in parts for bad in errors]
        empty = np.empty(0, dtype=np.int64)
        return ReadingBatch(np.empty(0, np.int32), empty, empty.copy(),
                            np.empty((0, n_sig)), registry.signals, invalid, empty.copy())
    # one contiguous NaN fill is cheaper than NaN columns written row by row
    prefill = any(b[5] for _, _, batches, _ in parts if batches is not None for b in batches)
    values = np.full((total, n_sig), np.nan) if prefill else np.empty((total, n_sig), dtype=np.float64)
    machines, tss, seqs, spans = [], [], [], []
    row = 0
    for _, _, batches, _ in parts:
        if batches is None:
            continue
        first = row
        for rows, machine, ts, seq, fills, nan in batches:
            block = values[row:row + rows]
            if nan is None:
                block[...] = fills  # the general path's values
            else:
                for j, k, src in fills:
                    if k == 1:
                        block[:, j] = src
                    else:
                        block[:, j:j + k] = src
                if not prefill:
                    for j in nan:
                        block[:, j] = np.nan
            machines.append(machine)
            tss.append(ts)
            seqs.append(seq)
            row += rows
        spans.append((first, row))
    machine = np.concatenate(machines)
    ts = np.concatenate(tss)
    seq = np.concatenate(seqs)
    message_index = np.repeat([index for index, _, batches, _ in parts if batches is not None],
                              [b - a for a, b in spans]).astype(np.int64, copy=False)
    lo, hi = bounds
    clean = not total or (np.minimum.reduce(machine) >= 0 and np.minimum.reduce(ts) >= lo
                          and np.maximum.reduce(ts) <= hi and not np.isinf(values).any())
    invalid: list[InvalidReading] = []
    keeps = []
    spans_iter = iter(spans)
    for index, payload, batches, errors in parts:
        if batches is None:
            invalid.extend(errors)
        elif not clean:
            a, b = next(spans_iter)
            keeps.append(_check(machine[a:b], ts[a:b], values[a:b], bounds, index, payload, invalid))
    machine = machine.astype(np.int32)
    if not clean:
        keep = np.concatenate(keeps)
        machine, ts, seq, values, message_index = machine[keep], ts[keep], seq[keep], values[keep], message_index[keep]
    return ReadingBatch(machine, ts, seq, values, registry.signals, invalid, message_index)


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

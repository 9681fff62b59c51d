"""Arrow IPC readings decode to exactly what the JSON decoder gives; bad rows become typed invalid data."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa

from andon.counters import CounterRange
from andon.readings import Reason
from andon.wire.arrow import _decode_general as decode_general
from andon.wire.arrow import batch_to_arrow, decode_arrow, encode_arrow, is_arrow
from andon.wire.decoder import BatchDecoder

NOW = 1_772_431_200_000
BOUNDS = (NOW - 86_400_000, NOW + 300_000)


def json_batch(site, n=50):
    msgs = [json.dumps({"site": "plant-a", "machine": f"press-0{1 + i % 3}", "ts": NOW - 60_000 + i * 100, "seq": i,
                        "signals": {"state": 10000, "power_kw": 7.5 + i, "part_count": i}}).encode()
            for i in range(n)]
    decoder = BatchDecoder.for_site(site)
    return decoder, decoder.decode(msgs, bounds=BOUNDS)


def test_arrow_round_trip_equals_json(site):
    decoder, batch = json_batch(site)
    payload = encode_arrow(batch_to_arrow(batch, decoder.registry))
    assert is_arrow(payload) and not is_arrow(b'{"site": 1}')
    got = decode_arrow([payload], decoder.registry, BOUNDS)
    assert got.invalid == []
    for name in ("machine", "ts", "seq"):
        assert np.array_equal(getattr(got, name), getattr(batch, name))
    assert np.array_equal(got.values, batch.values, equal_nan=True)


def test_bad_arrow_rows_and_payloads_are_data(site):
    decoder, _ = json_batch(site)
    table = pa.table({"site": ["plant-a"] * 4, "machine": ["press-01", "press-99", "press-01", "press-02"],
                      "ts": [NOW - 1000, NOW - 900, NOW + 10**10, NOW - 800],
                      "power_kw": [1.0, 2.0, 3.0, float("inf")]})
    got = decode_arrow([encode_arrow(table), b"\xff\xff\xff\xffgarbage", encode_arrow(pa.table({"x": [1]}))],
                       decoder.registry, BOUNDS)
    assert got.ts.tolist() == [NOW - 1000]
    reasons = sorted(bad.reason for bad in got.invalid)
    assert reasons == sorted([Reason.UNKNOWN_MACHINE, Reason.TS_FUTURE, Reason.NON_FINITE, Reason.MALFORMED,
                              Reason.SCHEMA])
    assert {bad.message_index for bad in got.invalid} == {0, 1, 2}


# ---- the fast decoder against the straightforward one ------------------------------------------------------------
# `reference_decode` is the straightforward decoder: every payload through decode_arrow's general path (the
# pyarrow.compute decoder the fast path replaced: one Table per payload, a cast per column), then the row checks and
# the concatenation written plainly here. It defines the expected results: every input must decode to exactly the
# same batch, refusals (reason, detail, raw, message index) included. Deliberate differences from the original, which raised
# (or crashed in a compute kernel) for these: a null site or machine makes its row unknown (UNKNOWN_MACHINE); a
# stream failing pyarrow's full validation (string offsets, UTF-8, dictionary indices) or with field names that are
# not UTF-8 is MALFORMED.

import pytest  # noqa: E402
from fuzzing import examples  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from andon.readings import InvalidReading, ReadingBatch, Registry  # noqa: E402


def _reference_refuse(invalid, reason, rows, detail, index, raw):
    if rows.size:
        invalid.append(InvalidReading(reason, f"{rows.size} row(s), first at row {int(rows[0])}: {detail}",
                                      raw[:4096], index))


def _reference_one(payload, registry, bounds, index, invalid):
    got = decode_general(payload, registry, index, invalid)  # one pyarrow Table, a cast per column
    if got is None:
        return None
    machine, ts, seq, values = got
    keep = machine >= 0
    _reference_refuse(invalid, Reason.UNKNOWN_MACHINE, np.flatnonzero(~keep), "site/machine not in the config",
                      index, payload)
    lo, hi = bounds
    future, past = keep & (ts > hi), keep & (ts < lo)
    _reference_refuse(invalid, Reason.TS_FUTURE, np.flatnonzero(future), "timestamp in the future", index, payload)
    _reference_refuse(invalid, Reason.TS_PAST, np.flatnonzero(past), "timestamp too old", index, payload)
    keep &= ~(future | past)
    nonfinite = keep & np.isinf(values).any(axis=1)
    _reference_refuse(invalid, Reason.NON_FINITE, np.flatnonzero(nonfinite), "non-finite signal value", index,
                      payload)
    keep &= ~nonfinite
    return machine[keep].astype(np.int32), ts[keep], seq[keep], values[keep]


def reference_decode(payloads, registry, bounds, indices=None) -> ReadingBatch:
    """The rows and refusals of the Arrow contract, then the counter range every decoder applies (andon.counters,
    held to the plain rule by tests/wire/test_reference.py)."""
    batch = _reference_decode(payloads, registry, bounds, indices)
    messages = payloads if indices is None else dict(zip(indices, payloads, strict=True))
    return CounterRange(registry).refuse(batch, messages)


def _reference_decode(payloads, registry, bounds, indices=None) -> ReadingBatch:
    invalid, parts, msg_index = [], [], []
    for pos, payload in enumerate(payloads):
        index = indices[pos] if indices is not None else pos
        got = _reference_one(payload, registry, bounds, index, invalid)
        if got is not None:
            parts.append(got)
            msg_index.append(np.full(got[0].shape[0], index, dtype=np.int64))
    if not parts:
        empty = np.empty(0, dtype=np.int64)
        return ReadingBatch(np.empty(0, np.int32), empty, empty.copy(), np.empty((0, len(registry.signals))),
                            registry.signals, invalid, empty.copy())
    return ReadingBatch(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
                        np.concatenate([p[2] for p in parts]), np.concatenate([p[3] for p in parts]),
                        registry.signals, invalid, np.concatenate(msg_index))


def assert_same(got: ReadingBatch, want: ReadingBatch) -> None:
    for name in ("machine", "ts", "seq", "message_index", "values"):
        a, b = getattr(got, name), getattr(want, name)
        assert a.dtype == b.dtype and a.shape == b.shape, name
        assert np.array_equal(a, b, equal_nan=True), name
    assert got.signals == want.signals
    assert got.invalid == want.invalid
    for name in ("machine", "ts", "seq", "values"):
        a = getattr(got, name)
        assert a.flags.writeable and a.flags.c_contiguous, name


@pytest.fixture(scope="module")
def registry(site):
    return Registry([site])


KEYS = [("plant-a", "press-01"), ("plant-a", "press-02"), ("plant-a", "press-03"), ("plant-a", "press-99"),
        ("plant-b", "press-01"), (None, "press-01"), ("plant-a", None), ("plant-a\x1fpress-01", "x")]
SIGNALS = ["state", "spindle_rpm", "power_kw", "part_count", "reject_count", "alarm", "bore_mm", "melt_temp_c"]
INT_TYPES = [pa.int8(), pa.int16(), pa.int32(), pa.int64(), pa.uint8(), pa.uint16(), pa.uint32(), pa.uint64()]


def _ints(t: pa.DataType, data, n: int, nulls: bool, special: list[int]) -> pa.Array:
    info = np.iinfo(t.to_pandas_dtype())
    lo, hi = max(int(info.min), -(2**62)), min(int(info.max), 2**62)
    pool = [v for v in special if info.min <= v <= info.max]
    vals = data.draw(st.lists(st.one_of(st.integers(lo, hi), *(st.just(v) for v in pool)) if pool else
                              st.integers(lo, hi), min_size=n, max_size=n))
    mask = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool) if nulls else None
    return pa.array(np.array(vals, dtype=t.to_pandas_dtype()), t, mask=mask)


@st.composite
def arrow_payload(draw, bounds=BOUNDS) -> bytes:
    """A stream of 1-3 record batches (some empty) with varied column types, nulls and out-of-range values."""
    string_kind = draw(st.sampled_from(["dict", "dict", "string", "large_string", "dict8", "mixed"]))
    ts_kind = draw(st.sampled_from(["int64", "int32", "s", "ms", "us", "ns", "ms_tz", "uint64"]))
    seq_kind = draw(st.sampled_from([None, pa.int64(), pa.int32(), pa.uint64()]))
    names = draw(st.lists(st.sampled_from(SIGNALS), unique=True, max_size=len(SIGNALS)))
    sig_types = {name: draw(st.sampled_from([pa.float64(), pa.float64(), pa.float32(), pa.int32(), pa.int64(),
                                             pa.uint8(), pa.uint64(), pa.bool_()])) for name in names}
    extra = draw(st.booleans())
    same_keys = draw(st.booleans())  # one site/machine per message, like a gateway's batch
    key_pool = [draw(st.sampled_from(KEYS))] if same_keys else KEYS
    lo, hi = bounds
    batches = []
    for _ in range(draw(st.integers(1, 3))):
        n = draw(st.integers(0, 40))
        data = draw(st.data())
        keys = data.draw(st.lists(st.sampled_from(key_pool), min_size=n, max_size=n))
        cols = {}
        for col, part in (("site", 0), ("machine", 1)):
            arr = pa.array([k[part] for k in keys], pa.string())
            kind = string_kind if string_kind != "mixed" else ("dict" if col == "site" else "string")
            if kind == "dict":
                arr = arr.dictionary_encode()
            elif kind == "dict8":
                enc = arr.dictionary_encode()
                arr = pa.DictionaryArray.from_arrays(enc.indices.cast(pa.int8()), enc.dictionary)
            elif kind == "large_string":
                arr = arr.cast(pa.large_string())
            cols[col] = arr
        ts_vals = data.draw(st.lists(st.one_of(st.integers(lo, hi), st.integers(lo, hi), st.integers(lo, hi),
                                               st.integers(hi + 1, hi + 10**9), st.integers(lo - 10**9, lo - 1)),
                                     min_size=n, max_size=n))
        ts_nulls = data.draw(st.booleans()) and data.draw(st.booleans()) and data.draw(st.booleans())
        mask = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool) if ts_nulls else None
        ts_arr = np.array(ts_vals, dtype=np.int64)
        if ts_kind in ("int64", "uint64"):
            cols["ts"] = pa.array(ts_arr, pa.int64() if ts_kind == "int64" else pa.uint64(), mask=mask)
        elif ts_kind == "int32":
            cols["ts"] = pa.array((ts_arr % 2**31).astype(np.int32), pa.int32(), mask=mask)
        else:
            unit = ts_kind.split("_")[0]
            tz = "Europe/Berlin" if ts_kind.endswith("_tz") else None
            scale = {"s": None, "ms": 1, "us": 1000, "ns": 1_000_000}[unit]
            if scale is None:
                raw = ts_arr // 1000  # whole seconds: the same instant only when ts_vals were whole seconds
            else:
                lossy = data.draw(st.booleans()) and data.draw(st.booleans())
                raw = ts_arr * scale + (data.draw(st.integers(0, scale - 1)) if lossy and scale > 1 else 0)
            cols["ts"] = pa.array(raw, pa.timestamp(unit, tz=tz), mask=mask)
        if seq_kind is not None:
            cols["seq"] = _ints(seq_kind, data, n, data.draw(st.booleans()), [2**63 + 5])
        for name in names:
            t = sig_types[name]
            nulls = data.draw(st.sampled_from(["none", "some", "all"]))
            if pa.types.is_floating(t):
                vals = data.draw(st.lists(st.one_of(st.floats(-1e6, 1e6), st.just(float("inf")),
                                                    st.just(float("-inf")), st.just(float("nan"))),
                                          min_size=n, max_size=n))
                mask = (np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
                        if nulls == "some" else np.full(n, nulls == "all"))
                cols[name] = pa.array(np.array(vals, dtype=t.to_pandas_dtype()), t, mask=mask)
            elif pa.types.is_boolean(t):
                cols[name] = pa.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)), t)
            else:
                cols[name] = _ints(t, data, n, nulls != "none", [2**53, 2**53 + 1, -(2**53) - 1, 2**64 - 1])
        if extra:
            cols["note"] = pa.array([f"r{i}" for i in range(n)], pa.string())
        batches.append(pa.record_batch(cols))
    schema = batches[0].schema
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, schema) as writer:
        for batch in batches:
            try:
                writer.write_batch(batch.cast(schema))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
                writer.write_batch(batches[0].slice(0, 0))
    return sink.getvalue().to_pybytes()


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(st.lists(arrow_payload(), min_size=1, max_size=4), st.booleans())
def test_decoder_matches_reference(registry, payloads, with_indices):
    indices = [3 * i + 1 for i in range(len(payloads))] if with_indices else None
    want = reference_decode(payloads, registry, BOUNDS, indices)
    assert_same(decode_arrow(payloads, registry, BOUNDS, indices), want)
    assert_same(decode_arrow(payloads, registry, BOUNDS, indices), want)  # again, from the caches


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(arrow_payload(), st.data())
def test_damaged_payloads_match_reference(registry, payload, data):
    """Bytes overwritten or cut anywhere (metadata, body, end marker): the same refusals or readings."""
    good = decode_arrow([payload], registry, BOUNDS)  # fills the caches with the undamaged layout
    assert_same(good, reference_decode([payload], registry, BOUNDS))
    damaged = bytearray(payload)
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(damaged) - 1))
        damaged[at] = data.draw(st.integers(0, 255))
    damaged = bytes(damaged)
    if data.draw(st.booleans()):
        damaged = damaged[:data.draw(st.integers(0, len(damaged)))]
    elif data.draw(st.booleans()):
        damaged += data.draw(st.binary(max_size=16))
    assert_same(decode_arrow([damaged, payload], registry, BOUNDS),
                reference_decode([damaged, payload], registry, BOUNDS))


def test_gateway_payloads_match_reference(site, registry):
    """Payloads like the benchmark's: one machine per message, 1,000 readings, two signals all null."""
    decoder, batch = json_batch(site, n=3000)
    payloads = []
    for m in np.unique(batch.machine):
        rows = np.flatnonzero(batch.machine == m)
        sub = ReadingBatch(batch.machine[rows], batch.ts[rows], batch.seq[rows], batch.values[rows], batch.signals)
        payloads.append(encode_arrow(batch_to_arrow(sub, registry)))
    for _ in range(2):
        assert_same(decode_arrow(payloads, registry, BOUNDS, indices=[5, 7, 9]),
                    reference_decode(payloads, registry, BOUNDS, indices=[5, 7, 9]))
    tight = (NOW - 30_000, NOW)  # some rows too old, some in the future
    assert_same(decode_arrow(payloads, registry, tight), reference_decode(payloads, registry, tight))

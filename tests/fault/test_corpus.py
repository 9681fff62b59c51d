"""A structure-aware corpus of damaged messages, in the normal suite: every decoder path equals the reference.

Injects: from a few valid readings (JSON objects, arrays of readings, Arrow IPC streams), every truncation, byte
flips at every position of the small ones, other encodings (UTF-16, UTF-32, Latin-1, a BOM), deeper nesting,
huge and tiny numbers, duplicate and escaped keys, and Arrow frames whose metadata bytes are damaged one by one.
Checks: decoding never raises; for JSON the scanner, msgspec and one-by-one paths give the reference decoder's
rows and refusals; for Arrow every payload becomes rows or dead letters with a reason, and a payload's rows are
never more than it holds.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest

from andon.messages import RawBatch
from andon.operators.telemetry import TelemetryDecoder
from andon.readings import Registry
from andon.wire.arrow import decode_arrow, encode_arrow
from andon.wire.decoder import BatchDecoder
from andon.wire.reference import decode_reference

pytestmark = pytest.mark.fault

NOW = 1_772_430_000_000
BOUNDS = (NOW - 86_400_000, NOW + 300_000)
READING = {"site": "plant-a", "machine": "press-01", "ts": NOW - 1000, "seq": 3,
           "signals": {"state": 10000, "power_kw": 7.25, "part_count": 120, "reject_count": 4, "note": "ok"}}
SEEDS = [json.dumps(READING).encode(), json.dumps([READING, {**READING, "machine": "cnc-02"}]).encode(),
         json.dumps(READING, indent=1).encode()]


def truncations(raw: bytes) -> list[bytes]:
    return [raw[:k] for k in range(len(raw))]


def flips(raw: bytes) -> list[bytes]:
    out = []
    for k in range(len(raw)):
        for b in (0x00, 0x22, 0x5C, 0x7B, 0x80, 0xFF, raw[k] ^ 0x20):
            out.append(raw[:k] + bytes([b]) + raw[k + 1:])
    return out


def encodings(raw: bytes) -> list[bytes]:
    text = raw.decode()
    return [text.encode("utf-16"), text.encode("utf-16-le"), text.encode("utf-32"), b"\xef\xbb\xbf" + raw,
            text.replace("ok", "\u00e9t\u00e9").encode("latin-1"), text.replace("ok", "\u00e9t\u00e9").encode()]


def structures() -> list[bytes]:
    r = READING
    out = []
    for depth in (1, 2, 31, 32, 33, 200, 5000):
        out.append(json.dumps({**r, "x": 0}).replace('"x": 0', '"x": ' + "[" * depth + "]" * depth).encode())
    for number in ("1e308", "1e309", "-1e308", "1e-400", "123456789012345678901234567890", "-0", "0.1e1",
                   "9007199254740993", "18446744073709551616", "1E+2", "01", "1.", ".5", "+1", "0x10"):
        out.append(json.dumps(r).replace('"power_kw": 7.25', f'"power_kw": {number}').encode())
        out.append(json.dumps(r).replace(f'"ts": {NOW - 1000}', f'"ts": {number}').encode())
        out.append(json.dumps(r).replace('"part_count": 120', f'"part_count": {number}').encode())
    body = json.dumps(r)[1:-1]
    for extra in ('"ts": 1', '"signals": {}', '"site": "plant-a"', '"x": 1, "x": 2', '"s\\u0069te": "plant-a"',
                  '"machine": "press-02"'):
        out.append(("{" + body + ", " + extra + "}").encode())
    out.append(json.dumps(r).replace('"state": 10000', '"state": 10000, "state": 40000').encode())
    out.append(json.dumps(r).replace('"note": "ok"', '"note": "\\ud800"').encode())
    out.append(json.dumps(r).replace('"note": "ok"', '"n\\u006fte": "ok", "note": "x"').encode())
    return out


JSON_CORPUS = sorted({m for seed in SEEDS for m in truncations(seed) + encodings(seed)} | set(flips(SEEDS[0]))
                     | set(structures()))


@pytest.fixture(scope="module")
def registry(site):
    return Registry([site])


@pytest.mark.parametrize("chunk", range(8))
def test_every_json_path_equals_the_reference_on_the_corpus(registry, chunk):
    messages = JSON_CORPUS[chunk::8]
    want = decode_reference(messages, registry, BOUNDS)
    for decoder in (BatchDecoder(registry), BatchDecoder(registry, scanner=False)):
        for got in (decoder.decode(messages, bounds=BOUNDS), decoder.decode_each(messages, BOUNDS)):
            assert got.machine.tolist() == want.machine.tolist()
            assert got.ts.tolist() == want.ts.tolist() and got.seq.tolist() == want.seq.tolist()
            np.testing.assert_array_equal(got.values, want.values)
            assert got.message_index.tolist() == want.message_index.tolist()
            assert sorted((b.message_index, b.reason.value) for b in got.invalid) == \
                sorted((b.message_index, b.reason.value) for b in want.invalid)
    # and each message alone gives the same as within the batch
    for i in range(0, len(messages), 17):
        alone = decode_reference([messages[i]], registry, BOUNDS)
        assert len(alone) == int((want.message_index == i).sum())


def arrow_seeds() -> list[bytes]:
    table = pa.table({"site": pa.array(["plant-a"] * 3).dictionary_encode(),
                      "machine": pa.array(["press-01", "press-02", "press-01"]).dictionary_encode(),
                      "ts": pa.array([NOW - 3000, NOW - 2000, NOW - 1000], pa.int64()),
                      "seq": pa.array([1, 2, 3], pa.int64()),
                      "power_kw": pa.array([1.0, None, 3.0]), "part_count": pa.array([10.0, 11.0, 12.0])})
    plain = pa.table({"site": ["plant-a"], "machine": ["press-01"], "ts": [NOW - 500], "state": [10000]})
    return [encode_arrow(table), encode_arrow(plain)]


def damaged_arrow() -> list[bytes]:
    out = []
    for seed in arrow_seeds():
        metadata_end = 8 + int.from_bytes(seed[4:8], "little")  # the schema message's flatbuffer
        for k in range(metadata_end + 64):  # the schema, and the start of the next message
            for b in (0x00, 0xFF, seed[k] ^ 0x01):
                out.append(seed[:k] + bytes([b]) + seed[k + 1:])
        out += [seed[:k] for k in range(0, len(seed), 7)]
    return out


def _rows(payload: bytes) -> int:
    try:
        return pa.ipc.open_stream(payload).read_all().num_rows
    except (pa.ArrowException, OSError):
        return -1


def test_damaged_arrow_frames_are_rows_or_dead_letters(site, registry):
    payloads = damaged_arrow()
    decoder = TelemetryDecoder([site], registry, BOUNDS)
    for start in range(0, len(payloads), 50):
        part = payloads[start:start + 50]
        n = len(part)
        decoded = decoder.decode(RawBatch("t", 0, list(range(n)), part, [None] * n, [0] * n, [None] * n))
        kept = set(decoded.batch.message_index.tolist())
        dead = {d.source_offset for d in decoded.dead}
        empty = {i for i in set(range(n)) - kept - dead if _rows(part[i]) == 0}  # a valid stream of no rows
        assert kept | dead | empty == set(range(n)), "every payload is rows or a dead letter"
        assert all(d.reason and d.hint and d.detail for d in decoded.dead)
        rows = np.bincount(decoded.batch.message_index, minlength=n)
        assert rows.max(initial=0) <= 3, "no payload gives more rows than it holds"
        # the Arrow decoder alone agrees with what the TelemetryDecoder kept
        alone = decode_arrow(part, registry, BOUNDS)
        assert alone.message_index.tolist() == decoded.batch.message_index.tolist()

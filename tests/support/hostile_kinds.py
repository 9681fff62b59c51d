"""Hostile Kafka messages for the telemetry poison test, each with the dead-letter reason it must get.

A kind is (name, reason, message) where message is bytes, or a function of a valid neighbouring reading (a dict)
giving bytes: hostile messages built from a neighbour are in its time range, so only what is wrong with them
refuses them. None of them may add, change or remove a reading.
"""

from __future__ import annotations

import json

import pyarrow as pa

from andon.wire.arrow import encode_arrow


def _json(doc) -> bytes:
    return json.dumps(doc).encode()


def _with(**changes):
    def make(doc: dict) -> bytes:
        d = json.loads(json.dumps(doc))
        for key, value in changes.items():
            if key.startswith("sig_"):
                d["signals"][key[4:]] = value
            else:
                d[key] = value
        return _json(d)
    return make


def _raw(template: bytes):
    """`template` with {site} {machine} {ts} filled in from the neighbour."""
    def make(doc: dict) -> bytes:
        return (template.replace(b"{site}", doc["site"].encode()).replace(b"{machine}", doc["machine"].encode())
                .replace(b"{ts}", str(doc["ts"]).encode()))
    return make


def _without(key: str):
    def make(doc: dict) -> bytes:
        return _json({k: v for k, v in doc.items() if k != key})
    return make


def _arrow(doc: dict) -> bytes:
    return encode_arrow(pa.table({"site": [doc["site"]], "machine": [doc["machine"]], "ts": [doc["ts"] + 1],
                                  "part_count": pa.array([-5.0])}))


def _arrow_damaged(doc: dict) -> bytes:
    good = encode_arrow(pa.table({"site": [doc["site"]], "machine": [doc["machine"]], "ts": [doc["ts"] + 1],
                                  "power_kw": [1.0]}))
    return good[:12] + b"\xff\xff\xff\x7f" + good[16:]  # the schema's flatbuffer root offset points far away


def _arrow_truncated(doc: dict) -> bytes:
    good = encode_arrow(pa.table({"site": [doc["site"]], "machine": [doc["machine"]], "ts": [doc["ts"] + 1],
                                  "power_kw": [1.0]}))
    return good[: len(good) // 2]


READING = b'{"site":"{site}","machine":"{machine}","ts":{ts},"signals":{"power_kw":1.5}'

KINDS = [
    ("truncated JSON", "malformed_json", _raw(READING[:40])),
    ("empty message", "malformed_json", b""),
    ("whitespace only", "malformed_json", b"   \n"),
    ("two objects in one message", "malformed_json", _raw(READING + b"}" + READING + b"}")),
    ("trailing garbage", "malformed_json", _raw(READING + b"}xyz")),
    ("UTF-8 byte order mark", "malformed_json", _raw(b"\xef\xbb\xbf" + READING + b"}")),
    ("raw control character in a string", "malformed_json",
     _raw(b'{"site":"{site}","machine":"{machine}","ts":{ts},"signals":{"note":"a\x01b"}}')),
    ("lone surrogate escape", "invalid_utf8",
     _raw(b'{"site":"{site}","machine":"{machine}","ts":{ts},"signals":{"note":"\\ud800"}}')),
    ("Arrow magic then junk", "malformed_json", b"\xff\xff\xff\xff\x10\x00\x00\x00junkjunkjunk"),
    ("Arrow frame with damaged metadata", "malformed_json", _arrow_damaged),
    ("Arrow stream cut in half", "malformed_json", _arrow_truncated),
    ("binary junk (PNG header)", "invalid_utf8", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe"),
    ("a lone continuation byte", "invalid_utf8", b"\x80"),
    ("invalid UTF-8 in a string signal", "invalid_utf8",
     _raw(b'{"site":"{site}","machine":"{machine}","ts":{ts},"signals":{"note":"\xff\xfe"}}')),
    ("invalid UTF-8 in an ignored field", "invalid_utf8",
     _raw(b'{"site":"{site}","machine":"{machine}","ts":{ts},"x":"\xc3","signals":{}}')),
    ("Latin-1 machine name", "invalid_utf8", _raw(b'{"site":"{site}","machine":"pr\xe9ss","ts":{ts},"signals":{}}')),
    ("UTF-16 with byte order mark", "invalid_utf8", lambda doc: b"\xff\xfe" + _json(doc).decode().encode("utf-16-le")),
    ("encoded surrogate", "invalid_utf8",
     _raw(b'{"site":"{site}","machine":"{machine}","ts":{ts},"signals":{"note":"\xed\xa0\x80"}}')),
    ("duplicate ts", "duplicate_key", _raw(b'{"site":"{site}","machine":"{machine}","ts":{ts},"ts":1,"signals":{}}')),
    ("duplicate signal", "duplicate_key",
     _raw(b'{"site":"{site}","machine":"{machine}","ts":{ts},"signals":{"power_kw":1,"power_kw":2}}')),
    ("duplicate ignored key", "duplicate_key",
     _raw(b'{"site":"{site}","machine":"{machine}","ts":{ts},"x":1,"x":2,"signals":{}}')),
    ("duplicate key once unescaped", "duplicate_key",
     _raw(b'{"site":"{site}","machine":"{machine}","ts":{ts},"s\\u0069te":"plant-b","signals":{}}')),
    ("arrays nested 5000 deep", "nesting_too_deep", b"[" * 5000 + b"]" * 5000),
    ("an object nested 3000 deep in a reading", "nesting_too_deep",
     _raw(b'{"site":"{site}","machine":"{machine}","ts":{ts},"x":' + b'{"a":' * 3000 + b"1" + b"}" * 3000
          + b',"signals":{}}')),
    ("null", "schema_violation", b"null"),
    ("a number", "schema_violation", b"42"),
    ("a string", "schema_violation", b'"reading"'),
    ("an empty array", "schema_violation", b"[]"),
    ("no machine", "schema_violation", _without("machine")),
    ("no signals", "schema_violation", _without("signals")),
    ("site as a number", "schema_violation", _with(site=7)),
    ("signals as an array", "schema_violation", _with(signals=[1, 2])),
    ("a nested signal value", "schema_violation", _with(sig_power_kw={"value": 1})),
    ("a list signal value", "schema_violation", _with(sig_power_kw=[1])),
    ("ts as a bool", "schema_violation", _with(ts=True)),
    ("seq as a string", "schema_violation", _with(seq="7")),
    ("NaN", "non_finite_number", _raw(b'{"site":"{site}","machine":"{machine}","ts":{ts},"signals":{"power_kw":NaN}}')),
    ("Infinity", "non_finite_number",
     _raw(b'{"site":"{site}","machine":"{machine}","ts":{ts},"signals":{"power_kw":-Infinity}}')),
    ("1e999", "non_finite_number",
     _raw(b'{"site":"{site}","machine":"{machine}","ts":{ts},"signals":{"power_kw":1e999}}')),
    ("ts that is no time", "bad_timestamp", _with(ts="soon")),
    ("RFC 3339 ts without offset", "bad_timestamp", _with(ts="2026-03-02T06:00:00")),
    ("ts three years ahead", "timestamp_in_future", _with(ts=4_102_444_800_000)),
    ("ts three years old", "timestamp_too_old", _with(ts=1_672_430_000_000)),
    ("unknown machine", "unknown_machine", _with(machine="press-77")),
    ("unknown site", "unknown_site", _with(site="plant-z")),
    ("array of one unknown machine's reading", "unknown_machine",
     lambda doc: _json([{**doc, "machine": "press-77"}])),
    ("part_count -1e308", "implausible_counter", _with(sig_part_count=-1e308)),
    ("part_count -1", "implausible_counter", _with(sig_part_count=-1)),
    ("part_count 2.5", "implausible_counter", _with(sig_part_count=2.5)),
    ("part_count above counter_max", "implausible_counter", _with(sig_part_count=2**40)),
    ("reject_count -3", "implausible_counter", _with(sig_reject_count=-3)),
    ("Arrow row with a negative counter", "implausible_counter", _arrow),
    ("2 MB message", "oversized", _raw(b'{"site":"{site}","machine":"{machine}","ts":{ts},"signals":{"x":"'
                                       + b"A" * 2_000_000 + b'"}}')),
]


def hostile(kind, neighbour: dict) -> bytes:
    _, _, message = kind
    return message(neighbour) if callable(message) else message

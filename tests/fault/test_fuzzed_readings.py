"""Hypothesis-fuzzed and hostile reading payloads through the telemetry decoder (the first step of the dataflow).

Injects: Kafka batches mixing valid readings, readings with fields removed, retyped or out of range, JSON arrays of
good and bad readings, arbitrary JSON, arbitrary bytes (also Arrow's magic prefix followed by junk), deep nesting
and huge numbers. Checks: the decoder never raises, and every message is accounted for: it yields at least one
reading or at least one dead letter with a reason, and readings_in equals readings kept plus dead letters.
"""

from __future__ import annotations

import json

import pytest
from fuzzing import examples
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from andon.config import example_site_path, load_site
from andon.messages import RawBatch
from andon.operators.telemetry import TelemetryDecoder
from andon.readings import Registry
from andon.wire.arrow import ARROW_STREAM_MAGIC

pytestmark = pytest.mark.fault

NOW_MS = 1_772_430_000_000
BOUNDS = (NOW_MS - 86_400_000, NOW_MS + 300_000)
TOTALS = {"batches": 0, "messages": 0, "readings": 0, "dead": 0, "reasons": set()}


@pytest.fixture(scope="module")
def decoder(site):
    return TelemetryDecoder([site], Registry([site]), BOUNDS)


def machines(site) -> list[str]:
    return [m.id for m in site.machines]


scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20))
any_json = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                         st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                        max_leaves=12)


@st.composite
def reading(draw, names: list[str]) -> dict:
    doc = {"site": draw(st.sampled_from(["plant-a", "plant-a", "plant-b", ""])),
           "machine": draw(st.sampled_from([*names[:4], "press-99", ""])),
           "ts": draw(st.one_of(st.integers(BOUNDS[0] - 10**9, BOUNDS[1] + 10**9),
                                st.just("2026-03-02T06:00:00.125Z"), st.text(max_size=10), st.floats())),
           "seq": draw(st.one_of(st.integers(-5, 2**40), st.none())),
           "signals": draw(st.dictionaries(st.sampled_from(["state", "power_kw", "part_count", "reject_count",
                                                            "alarm", "spindle_rpm", "x"]),
                                           st.one_of(st.integers(-10, 20_000), st.floats(), st.booleans(),
                                                     st.text(max_size=5), st.lists(st.integers(), max_size=2)),
                                           max_size=6))}
    for key in draw(st.lists(st.sampled_from(list(doc)), max_size=2)):
        doc.pop(key, None)
    return doc


@st.composite
def valid_reading(draw, names: list[str]) -> dict:
    return {"site": "plant-a", "machine": draw(st.sampled_from(names)), "ts": draw(st.integers(*BOUNDS)),
            "seq": draw(st.integers(0, 2**40)),
            "signals": {"state": draw(st.sampled_from([10000, 40000, 180000])),
                        "power_kw": draw(st.floats(0, 50)), "part_count": draw(st.integers(0, 2**32 - 1))}}


def encode(doc) -> bytes:
    return json.dumps(doc, allow_nan=True).encode()


@st.composite
def message(draw, names: list[str]) -> bytes:
    kind = draw(st.integers(-2, 6))
    if kind == -2:
        return encode(draw(valid_reading(names)))
    if kind == -1:
        return encode(draw(st.lists(st.one_of(valid_reading(names), reading(names)), min_size=1, max_size=4)))
    if kind == 0:
        return encode(draw(reading(names)))
    if kind == 1:
        return encode(draw(st.lists(reading(names), min_size=1, max_size=4)))
    if kind == 2:
        return encode(draw(any_json))
    if kind == 3:
        return draw(st.binary(max_size=64))
    if kind == 4:
        return ARROW_STREAM_MAGIC + draw(st.binary(max_size=64))
    if kind == 5:
        depth = draw(st.integers(1, 3000))
        return b"[" * depth + b"]" * draw(st.integers(0, depth))
    return encode(draw(reading(names)))[: draw(st.integers(0, 40))]  # truncated


def _is_empty_array(value: bytes) -> bool:
    try:
        return json.loads(value) == []
    except (ValueError, RecursionError):
        return False


NAMES = machines(load_site(example_site_path()))
_GOOD = b'{"site":"plant-a","machine":"press-01","ts":1772430000000,"seq":7,"signals":{"state":10000}}'

#: What Hypothesis (or a user) found; each stays an explicit example.
FOUND = [
    # msgspec's batch path raised UnicodeDecodeError (issue 16)
    [_GOOD, b'{"site": "', b"\x80", b'{"site":"plant-a","machine":"press-01","ts":1772430000000,"seq":null,'
                                     b'"signals":{"state":10000}}'],
    # a string signal holding invalid UTF-8 was taken silently
    [b'{"site":"plant-a","machine":"press-01","ts":1772430000000,"signals":{"note":"\xff\xfe"}}', _GOOD],
    # an object nested a few thousand levels deep raised RecursionError
    [b'{"site":"plant-a","machine":"press-01","ts":1772430000000,"x":' + b'{"a":' * 3000 + b"1" + b"}" * 3000
     + b',"signals":{}}', _GOOD],
    [b"[" * 3000 + b"]" * 3000, _GOOD, b"[" * 3000],
    # duplicate keys (the scanner took the first of two unknown keys, msgspec the last of known ones)
    [b'{"site":"plant-a","machine":"press-01","ts":1772430000000,"x":1,"x":2,"signals":{}}',
     b'{"site":"plant-a","machine":"press-01","ts":1772430000000,"ts":1772430000001,"signals":{}}'],
    # the corpus: a ts too large for int64 made msgspec's batch path raise OverflowError; a cut \u escape made the
    # screen raise; half a surrogate pair
    [_GOOD, b'{"site":"plant-a","machine":"press-01","ts":123456789012345678901234567890,"signals":{}}'],
    [b'{"site":"plant-a","machine":"press-01","ts":1772430000000,"signals":{"note":"\\u12', _GOOD,
     b'{"site":"plant-a","machine":"press-01","ts":1772430000000,"signals":{"note":"\\ud800"}}'],
]


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                            HealthCheck.function_scoped_fixture])
@given(values=st.lists(message(NAMES), min_size=1, max_size=25))
@example(values=FOUND[0])
@example(values=FOUND[1])
@example(values=FOUND[2])
@example(values=FOUND[3])
@example(values=FOUND[4])
@example(values=FOUND[5])
@example(values=FOUND[6])
def test_every_message_is_a_reading_or_a_dead_letter(decoder, values):
    n = len(values)
    raw = RawBatch("t", 0, list(range(n)), values, [None] * n, [0] * n, [None] * n)
    decoded = decoder.decode(raw)  # must not raise
    kept = set(decoded.batch.message_index.tolist()) if decoded.batch.message_index is not None else set()
    dead = {d.source_offset for d in decoded.dead}
    # An empty JSON array is a batch of zero readings (a gateway heartbeat): nothing in it can be lost.
    empty = {i for i, v in enumerate(values) if v.strip() in (b"[]",) or _is_empty_array(v)}
    assert all(d.reason and d.hint for d in decoded.dead), "every dead letter says why and what to do"
    missing = set(range(n)) - kept - dead - empty
    assert not missing, f"messages neither kept nor dead-lettered: {[values[i][:80] for i in sorted(missing)]}"
    assert decoded.readings_in == len(decoded.batch) + len(decoded.dead)
    TOTALS["batches"] += 1
    TOTALS["messages"] += n
    TOTALS["readings"] += len(decoded.batch)
    TOTALS["dead"] += len(decoded.dead)
    TOTALS["reasons"].update(d.reason for d in decoded.dead)


def test_fuzz_summary(fault_summary):
    """Reports what the Hypothesis run above fed the decoder (runs after it in file order)."""
    if not TOTALS["batches"]:
        pytest.skip("the fuzz test did not run")
    fault_summary(faults=f"{TOTALS['messages']} fuzzed messages in {TOTALS['batches']} batches",
                  readings_in=TOTALS["readings"] + TOTALS["dead"], events_expected="-", events_applied="-",
                  duplicates=0, lost=0, readings_kept=TOTALS["readings"], dead_letters=TOTALS["dead"],
                  reasons="|".join(sorted(TOTALS["reasons"])))

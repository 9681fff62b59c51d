"""Reading v1 batch decoder: valid readings become columns, every kind of bad input becomes typed data."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from fuzzing import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from andon.readings import Reason, Registry, parse_ts
from andon.wire.decoder import BatchDecoder

NOW = 1_772_431_200_000  # 2026-03-02T06:00:00Z


def reading(machine="press-01", ts=NOW - 1000, seq=1, **signals) -> dict:
    return {"site": "plant-a", "machine": machine, "ts": ts, "seq": seq,
            "signals": signals or {"state": 10000, "spindle_rpm": 1200.5, "part_count": 10, "alarm": 0}}


def raw(obj) -> bytes:
    return json.dumps(obj).encode()


@pytest.fixture(scope="module")
def decoder(site):
    return BatchDecoder.for_site(site)


def test_valid_batch_becomes_columns(decoder):
    msgs = [raw(reading(seq=1)), raw(reading("cnc-02", ts=NOW - 500, seq=2, spindle_rpm=0.0, alarm=True))]
    batch = decoder.decode(msgs, now_ms=NOW)
    assert batch.invalid == []
    assert len(batch) == 2
    reg = decoder.registry
    assert [reg.keys[m] for m in batch.machine] == [("plant-a", "press-01"), ("plant-a", "cnc-02")]
    assert batch.ts.tolist() == [NOW - 1000, NOW - 500]
    assert batch.column("spindle_rpm").tolist() == [1200.5, 0.0]
    assert batch.column("alarm").tolist() == [0.0, 1.0]
    assert math.isnan(batch.column("state")[1])
    assert batch.message_index.tolist() == [0, 1]


def test_array_message_and_rfc3339_timestamp(decoder):
    arr = [reading(seq=i, ts=NOW - 3000 + i) for i in range(3)]
    arr[1]["ts"] = "2026-03-02T05:59:57.001Z"
    batch = decoder.decode([raw(arr)], now_ms=NOW)
    assert batch.invalid == []
    assert batch.ts.tolist() == [NOW - 3000, NOW - 2999, NOW - 2998]
    assert batch.message_index.tolist() == [0, 0, 0]


BAD = [
    (b'{"site": "plant-a", "machine": "press-01", "ts": 17', Reason.MALFORMED),
    (b"\x00\xff\xfe garbage", Reason.INVALID_UTF8),
    (b"\x00 garbage", Reason.MALFORMED),
    (b'{"site":"plant-a","machine":"press-01","ts":1772431199000,"signals":{"note":"\xff\xfe"}}', Reason.INVALID_UTF8),
    (b'{"site":"plant-a","machine":"press-01","ts":1772431199000,"x":"\xc3","signals":{}}', Reason.INVALID_UTF8),
    (b'{"site":"plant-a","machine":"press-01","ts":1772431199000,"ts":1772431199001,"signals":{}}',
     Reason.DUPLICATE_KEY),
    (b'{"site":"plant-a","machine":"press-01","ts":1772431199000,"signals":{"q":1,"q":2}}', Reason.DUPLICATE_KEY),
    (b'{"site":"plant-a","machine":"press-01","ts":1772431199000,"x":1,"x":2,"signals":{}}', Reason.DUPLICATE_KEY),
    (b'{"site":"plant-a","machine":"press-01","ts":1772431199000,"s\\u0069te":"plant-b","signals":{}}',
     Reason.DUPLICATE_KEY),
    (b'{"site":"plant-a","machine":"press-01","ts":1772431199000,"x":' + b'{"a":' * 3000 + b"1" + b"}" * 3000
     + b',"signals":{}}', Reason.TOO_DEEP),
    (b'{"site":"plant-a","machine":"press-01","ts":1772431199000,"signals":{"x":' + b"[" * 900 + b"]" * 900 + b"}}",
     Reason.TOO_DEEP),
    (raw({"site": "plant-a", "machine": "press-01", "signals": {}}), Reason.SCHEMA),
    (raw({**reading(), "ts": [1, 2]}), Reason.SCHEMA),
    (raw({**reading(), "signals": {"state": {"nested": 1}}}), Reason.SCHEMA),
    (b'{"site":"plant-a","machine":"press-01","ts":1772431199000,"signals":{"spindle_rpm":NaN}}', Reason.NON_FINITE),
    (b'{"site":"plant-a","machine":"press-01","ts":1772431199000,"signals":{"spindle_rpm":1e999}}', Reason.NON_FINITE),
    (raw(reading(ts=NOW + 86_400_000 * 365 * 3)), Reason.TS_FUTURE),
    (raw(reading(ts=NOW - 86_400_000 * 365 * 3)), Reason.TS_PAST),
    (raw({**reading(), "ts": "yesterday"}), Reason.BAD_TIMESTAMP),
    (raw({**reading(), "ts": "2026-03-02T05:59:00"}), Reason.BAD_TIMESTAMP),
    (raw(reading(machine="press-99")), Reason.UNKNOWN_MACHINE),
    (raw({**reading(), "site": "plant-z"}), Reason.UNKNOWN_SITE),
    (b"x" * 2_000_000, Reason.OVERSIZED),
]


@pytest.mark.parametrize(("message", "reason"), BAD, ids=[r.value + str(i) for i, (_, r) in enumerate(BAD)])
def test_bad_reading_is_data_with_reason_and_neighbours_survive(decoder, message, reason):
    good_before, good_after = raw(reading(seq=1)), raw(reading("mold-03", seq=2))
    batch = decoder.decode([good_before, message, good_after], now_ms=NOW)
    assert [bad.reason for bad in batch.invalid] == [reason]
    bad = batch.invalid[0]
    assert bad.message_index == 1 and bad.detail and bad.hint
    assert len(batch) == 2 and batch.message_index.tolist() == [0, 2]


def test_empty_batch(decoder):
    batch = decoder.decode([], now_ms=NOW)
    assert len(batch) == 0 and batch.values.shape == (0, len(decoder.registry.signals))


def test_parse_ts():
    assert parse_ts(1764144000125) == 1764144000125
    assert parse_ts("2025-11-26T08:00:00.125+00:00") == 1764144000125
    assert parse_ts("2025-11-26T09:00:00.125+01:00") == 1764144000125
    assert parse_ts(True) is None and parse_ts(float("nan")) is None and parse_ts("2025-11-26") is None


@settings(max_examples=examples(60), deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["press-01", "cnc-05", "mold-08"]),
                          st.integers(NOW - 10_000_000, NOW),
                          st.floats(-1e9, 1e9, allow_nan=False)), max_size=30),
       st.integers(1, 7))
def test_batch_split_does_not_change_result(site, rows, parts):
    """Decoding in one batch or many gives the same readings (fast path and fallback agree)."""
    decoder = BatchDecoder(Registry([site]))
    msgs = [raw(reading(m, ts, i, power_kw=v)) for i, (m, ts, v) in enumerate(rows)]
    whole = decoder.decode(msgs, now_ms=NOW)
    chunks = [decoder.decode(msgs[i::parts], now_ms=NOW) for i in range(parts)]
    order = np.argsort(np.concatenate([c.seq for c in chunks]), kind="stable")
    assert np.array_equal(np.concatenate([c.ts for c in chunks])[order], whole.ts)
    assert np.array_equal(np.concatenate([c.column("power_kw") for c in chunks])[order], whole.column("power_kw"))


def test_empty_array_message_is_refused_not_silently_dropped(decoder):
    batch = decoder.decode([raw(reading(seq=1)), b"[]", b" [ ] "], now_ms=NOW)
    assert [(bad.reason, bad.message_index) for bad in batch.invalid] == [(Reason.SCHEMA, 1), (Reason.SCHEMA, 2)]
    assert len(batch) == 1


@pytest.mark.parametrize("scanner", [True, False])
def test_json_decoding_sets_arrow_payloads_aside_by_position(site, scanner):
    from andon.wire.arrow import ARROW_STREAM_MAGIC, batch_to_arrow, encode_arrow

    dec = BatchDecoder.for_site(site)
    dec_under_test = BatchDecoder(dec.registry, scanner=scanner)
    some = dec.decode([raw(reading(seq=s)) for s in (7, 8)], now_ms=NOW)
    arrow = encode_arrow(batch_to_arrow(some, dec.registry))
    msgs = [raw(reading(seq=1)), arrow, b"{not json", raw(reading("cnc-02", seq=2)), arrow,
            raw(reading(ts=NOW + 10**9, seq=3))]
    bounds = (NOW - 10**6, NOW + 10**6)
    batch, skipped = dec_under_test.decode_json_only(msgs, ARROW_STREAM_MAGIC, bounds=bounds)
    assert skipped == [1, 4]
    assert batch.seq.tolist() == [1, 2] and batch.message_index.tolist() == [0, 3]
    assert [(bad.reason, bad.message_index) for bad in batch.invalid] == [(Reason.MALFORMED, 2),
                                                                           (Reason.TS_FUTURE, 5)]
    # the JSON messages alone give the same readings and refusals, only numbered within their own list
    alone = dec.decode([msgs[i] for i in (0, 2, 3, 5)], bounds=bounds)
    assert np.array_equal(alone.values, batch.values, equal_nan=True)
    assert [(b.reason, b.detail) for b in alone.invalid] == [(b.reason, b.detail) for b in batch.invalid]
    only_arrow, skipped = dec_under_test.decode_json_only([arrow, arrow], ARROW_STREAM_MAGIC, bounds=bounds)
    assert skipped == [0, 1] and len(only_arrow) == 0 and only_arrow.invalid == []


def test_json_decoding_of_many_messages_sets_arrow_payloads_aside_among_the_scanner_fallbacks(site):
    from andon.wire.arrow import ARROW_STREAM_MAGIC, batch_to_arrow, encode_arrow

    dec = BatchDecoder.for_site(site)
    arrow = encode_arrow(batch_to_arrow(dec.decode([raw(reading(seq=7))], now_ms=NOW), dec.registry))
    msgs = [raw(reading(seq=s)) for s in range(100)]
    msgs[10], msgs[70] = arrow, arrow
    msgs[40] = b"{not json"
    bounds = (NOW - 10**6, NOW + 10**6)
    batch, skipped = dec.decode_json_only(msgs, ARROW_STREAM_MAGIC, bounds=bounds)
    assert skipped == [10, 70]
    kept = [i for i in range(100) if i not in (10, 40, 70)]
    assert batch.message_index.tolist() == kept and batch.seq.tolist() == kept
    assert [(bad.reason, bad.message_index) for bad in batch.invalid] == [(Reason.MALFORMED, 40)]
    assert dec.fallback_messages >= 3  # the Arrow payloads and the broken one went past the scanner

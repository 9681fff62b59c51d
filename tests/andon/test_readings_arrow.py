"""Arrow IPC readings decode to exactly what the JSON decoder gives; bad rows become typed invalid data."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa

from andon.readings import BatchDecoder, Reason
from andon.readings_arrow import batch_to_arrow, decode_arrow, encode_arrow, is_arrow

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

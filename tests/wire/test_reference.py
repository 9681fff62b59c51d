"""Every fast decode path equals the reference decoder (andon.wire.reference) on Hypothesis inputs, mapping included:
the byte scanner (batches of more than 64 messages), the few-messages path, the typed and general msgspec paths,
the decoder's own one-by-one path, and TelemetryDecoder after a UMH or custom mapping."""

from __future__ import annotations

import json

import numpy as np
import pytest
from gateways import CUSTOM, UMH_BY_KEY, contract, custom_payload, umh_payload, uns_path, with_mapping
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from andon.config import example_site_path, load_site
from andon.messages import RawBatch
from andon.operators.telemetry import TelemetryDecoder
from andon.readings import Registry
from andon.wire.decoder import BatchDecoder
from andon.wire.mapping import Mapper
from andon.wire.reference import decode_reference

NOW = 1_772_431_200_000
BOUNDS = (NOW - 86_400_000, NOW + 300_000)
MAX_BYTES = 2048


@pytest.fixture(scope="module")
def registry(site):
    return Registry([site])


def machines_of(site):
    return [m.id for m in site.machines]


INT64 = st.integers(-(2**63), 2**63 - 1)
NUMBERS = st.one_of(st.integers(-(2**53), 2**53), st.floats(allow_nan=False, allow_infinity=False), st.booleans())
#: values a reading of the contract may not hold
BAD_VALUES = st.sampled_from([None, {"x": 1}, [1]])
SIGNAL_NAMES = st.sampled_from(["state", "spindle_rpm", "power_kw", "part_count", "reject_count", "alarm", "bore_mm",
                                "melt_temp_c", "unknown_tag"])
TIMES = st.one_of(st.integers(BOUNDS[0] - 5_000, BOUNDS[1] + 5_000), st.integers(BOUNDS[0], BOUNDS[1]),
                  st.sampled_from([BOUNDS[0], BOUNDS[1], BOUNDS[0] - 1, BOUNDS[1] + 1]),
                  st.floats(BOUNDS[0], BOUNDS[1]).map(lambda v: round(v, 1)),
                  st.sampled_from(["2026-03-02T05:00:00Z", "2026-03-02T05:00:00.125+01:00", "2026-03-02T05:00:00",
                                   "yesterday", ""]))
#: one defect a reading may carry (most carry none)
DEFECTS = st.sampled_from(["none"] * 20 + ["drop_site", "drop_ts", "drop_signals", "bad_value", "bool_ts", "null_ts",
                                          "huge_ts", "str_seq", "str_site"])


@st.composite
def reading(draw, site):
    doc = {"site": draw(st.sampled_from(["plant-a"] * 6 + ["plant-x"])),
           "machine": draw(st.sampled_from([*machines_of(site)[:6], "press-99"])),
           "ts": draw(TIMES),
           "signals": draw(st.dictionaries(SIGNAL_NAMES, st.one_of(NUMBERS, st.text(max_size=3)), max_size=5))}
    seq = draw(st.one_of(st.just("absent"), st.none(), INT64))
    if seq != "absent":
        doc["seq"] = seq
    defect = draw(DEFECTS)
    if defect.startswith("drop_"):
        del doc[defect[5:]]
    elif defect == "bad_value":
        doc["signals"][draw(SIGNAL_NAMES)] = draw(BAD_VALUES)
    elif defect in ("bool_ts", "null_ts", "huge_ts"):
        doc["ts"] = {"bool_ts": True, "null_ts": None, "huge_ts": 2**70}[defect]
    elif defect == "str_seq":
        doc["seq"] = "7"
    elif defect == "str_site":
        doc["site"] = 7
    return doc


@st.composite
def message(draw, site):
    kind = draw(st.sampled_from(["one", "one", "one", "array", "junk"]))
    if kind == "one":
        return json.dumps(draw(reading(site))).encode()
    if kind == "array":
        return json.dumps(draw(st.lists(reading(site), max_size=3))).encode()
    return draw(st.sampled_from([b"", b"{", b"[1]", b"42", b'"x"', b"\x80", b'{"site": NaN}', b"[[]]",
                                 b'{"a": 1, "a": 2}', b"[" * 40 + b"]" * 40, b" " * (MAX_BYTES + 1),
                                 b'{"site":"plant-a","machine":"press-01","ts":1e400,"signals":{}}',
                                 b'{"site":"plant-a","machine":"press-01","ts":1772431199000,"signals":{"alarm":1e400}}',
                                 b'{"site":"plant-a","machine":"press-01","ts":1772431199000,"signals":{}} x']))


def same(got, want) -> None:
    """Rows bit for bit and the same refusals (reason and message), whatever the order of the refusal list."""
    assert got.machine.tolist() == want.machine.tolist()
    assert got.ts.tolist() == want.ts.tolist()
    assert got.seq.tolist() == want.seq.tolist()
    np.testing.assert_array_equal(got.values, want.values)
    assert got.message_index.tolist() == want.message_index.tolist()
    assert sorted((b.message_index, b.reason.value) for b in got.invalid) == \
        sorted((b.message_index, b.reason.value) for b in want.invalid)


@pytest.mark.parametrize("copies", [1, 80], ids=["few messages", "scanner batch"])
@given(data=st.data())
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(data=None)
def test_every_json_path_equals_the_reference(site, registry, copies, data):
    at = b'{"site":"plant-a","machine":"press-01","ts":%d,"signals":{"state":10000,"alarm":true}}'
    messages = data.draw(st.lists(message(site), min_size=1, max_size=12)) if data is not None else [
        at % (BOUNDS[1] - 1), at % BOUNDS[1], at % (BOUNDS[1] + 1), at % BOUNDS[0], at % (BOUNDS[0] - 1)]
    messages = (messages * copies)[: max(len(messages), copies)]
    want = decode_reference(messages, registry, BOUNDS, max_message_bytes=MAX_BYTES)
    scanned = BatchDecoder(registry, max_message_bytes=MAX_BYTES)
    msgspec_only = BatchDecoder(registry, max_message_bytes=MAX_BYTES, scanner=False)
    same(scanned.decode(messages, bounds=BOUNDS), want)
    same(scanned.decode_json_only(messages, b"\xff\xff\xff\xff", bounds=BOUNDS)[0], want)
    same(msgspec_only.decode(messages, bounds=BOUNDS), want)
    same(scanned.decode_each(messages, BOUNDS), want)


@pytest.fixture(scope="module")
def mapped_sites(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ref-mapping")
    out = {}
    for name, mapping in (("umh", UMH_BY_KEY), ("custom", CUSTOM)):
        path = tmp / f"{name}.toml"
        path.write_text(with_mapping(example_site_path().read_text(), mapping))
        out[name] = load_site(path)
    return out


@pytest.mark.parametrize("profile", ["umh", "custom"])
@pytest.mark.parametrize("copies", [1, 80], ids=["few messages", "scanner batch"])
@given(data=st.data())
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_the_mapped_fast_paths_equal_the_reference(site, mapped_sites, profile, copies, data):
    """A gateway's messages through TelemetryDecoder equal the reference decoder on the mapping's contract messages
    (and the mapping's own refusals are the same messages)."""
    mapped = mapped_sites[profile]
    docs = data.draw(st.lists(st.builds(dict, site=st.just("plant-a"), machine=st.sampled_from(machines_of(site)[:6]),
                                        ts=st.integers(BOUNDS[0] - 2_000, BOUNDS[1] + 2_000),
                                        signals=st.dictionaries(SIGNAL_NAMES, st.one_of(
                                            st.integers(0, 2**31), st.floats(-1e6, 1e6).map(lambda v: round(v, 2)),
                                            st.booleans()), max_size=4)), min_size=1, max_size=10))
    docs = (docs * copies)[: max(len(docs), copies)]
    if profile == "umh":
        values, keys = [umh_payload(d) for d in docs], [uns_path("plant-a", d["machine"]).encode() for d in docs]
    else:
        values, keys = [custom_payload(d) for d in docs], [None] * len(docs)
    raw = RawBatch(mapped.topics.telemetry, 0, list(range(len(docs))), values, keys, [0] * len(docs))
    registry = Registry([mapped])
    got = TelemetryDecoder([mapped], registry, BOUNDS).decode(raw).batch
    route = Mapper.from_sites([mapped]).route(mapped.topics.telemetry)
    contract_messages = route.apply(values, keys, mapped.topics.telemetry)
    assert contract_messages.kept == list(range(len(docs)))
    want = decode_reference(contract_messages.values, registry, BOUNDS,
                            max_message_bytes=mapped.processing.max_message_bytes)
    same(got, want)
    # and the mapped contract messages are what andon's own format of the same readings holds
    plain = [json.dumps(contract(d, custom=profile == "custom")).encode() for d in docs]
    same(decode_reference(plain, registry, BOUNDS), want)


ARROW_SIGNALS = ["state", "spindle_rpm", "power_kw", "alarm", "bore_mm"]


@st.composite
def arrow_reading(draw, site):
    signals = draw(st.dictionaries(st.sampled_from(ARROW_SIGNALS),
                                   st.floats(-1e9, 1e9, allow_nan=False, allow_infinity=False), max_size=5))
    return {"site": "plant-a", "machine": draw(st.sampled_from([*machines_of(site)[:6], "press-99"])),
            "ts": draw(st.one_of(st.integers(BOUNDS[0] - 5_000, BOUNDS[1] + 5_000),
                                 st.sampled_from([BOUNDS[0], BOUNDS[1], BOUNDS[0] - 1, BOUNDS[1] + 1]))),
            "seq": draw(st.integers(-1, 2**40)), "signals": signals}


def arrow_payload(docs: list[dict], dictionary: bool) -> bytes:
    import pyarrow as pa

    from andon.wire.arrow import encode_arrow

    ids = {name: pa.array([d[name] for d in docs], pa.string()) for name in ("site", "machine")}
    columns = {name: col.dictionary_encode() if dictionary else col for name, col in ids.items()}
    columns["ts"] = pa.array([d["ts"] for d in docs], pa.int64())
    columns["seq"] = pa.array([d["seq"] for d in docs], pa.int64())
    for name in ARROW_SIGNALS:
        columns[name] = pa.array([d["signals"].get(name) for d in docs], pa.float64())
    return encode_arrow(pa.table(columns))


@given(data=st.data())
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_the_arrow_paths_equal_the_reference(site, registry, data):
    """Arrow IPC payloads (plain or dictionary-encoded ids, nullable float signals), through the fast path and the
    general path, equal the reference decoder on the same readings as JSON arrays (one message per payload). The
    Arrow paths refuse per payload and reason (`n row(s), first at row …`), so refusals compare as (message,
    reason) sets."""
    import andon.wire.arrow as arrow

    payloads = data.draw(st.lists(st.lists(arrow_reading(site), min_size=1, max_size=6), min_size=1, max_size=4))
    dictionary = data.draw(st.booleans())
    raw = [arrow_payload(docs, dictionary) for docs in payloads]
    want = decode_reference([json.dumps([{**d, "seq": d["seq"]} if d["seq"] >= 0 else
                                         {k: v for k, v in d.items() if k != "seq"} for d in docs]).encode()
                             for docs in payloads], registry, BOUNDS)
    refusals = {(b.message_index, b.reason.value) for b in want.invalid}

    def slow(*args, **kwargs):
        raise arrow._Slow("forced onto the general path")

    for label in ("fast path", "general path"):
        with pytest.MonkeyPatch.context() as patch:
            if label == "general path":
                patch.setattr(arrow, "_decode_fast", slow)
            got = arrow.decode_arrow(raw, registry, BOUNDS)
        assert got.machine.tolist() == want.machine.tolist(), label
        assert got.ts.tolist() == want.ts.tolist() and got.seq.tolist() == want.seq.tolist(), label
        np.testing.assert_array_equal(got.values, want.values, label)
        assert got.message_index.tolist() == want.message_index.tolist(), label
        assert {(b.message_index, b.reason.value) for b in got.invalid} == refusals, label

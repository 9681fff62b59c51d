"""Mapping profiles: UMH and custom gateway payloads decode to exactly what andon's own format gives, through every
decoder path (JSON scanner, msgspec paths, Arrow), and what a mapping cannot read is refused with its reason."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest
from gateways import (
    CUSTOM,
    UMH_BY_KEY,
    UMH_BY_TOPIC,
    contract,
    custom_payload,
    umh_payload,
    uns_path,
    with_mapping,
)
from hypothesis import example, given, settings
from hypothesis import strategies as st

from andon.config import example_site_path, load_site
from andon.errors import ConfigError
from andon.messages import RawBatch
from andon.operators.telemetry import TelemetryDecoder
from andon.readings import Registry
from andon.wire.arrow import encode_arrow
from andon.wire.mapping import Mapper, parse_uns_path

NOW = 1_772_431_200_000
BOUNDS = (NOW - 86_400_000, NOW + 60_000)
TOPIC = "andon.telemetry.v1"


def site_with(tmp_path, mapping: str, name: str = "mapped", **fmt):
    path = tmp_path / f"{name}.toml"
    text = with_mapping(example_site_path().read_text(), mapping, **fmt)
    if "site_from = \"key\"" in mapping:
        text = text.replace('telemetry = "andon.telemetry.v1"', 'telemetry = "umh.messages"')
    path.write_text(text)
    return load_site(path)


@pytest.fixture(scope="module")
def sites(site, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mapping")
    return {"andon": site, "umh_key": site_with(tmp, UMH_BY_KEY, "k"),
            "umh_topic": site_with(tmp, UMH_BY_TOPIC, "t", enterprise="acme"), "custom": site_with(tmp, CUSTOM, "c")}


def decoder(site) -> TelemetryDecoder:
    return TelemetryDecoder([site], Registry([site]), BOUNDS)


def batch(topic: str, values: list[bytes], keys: list[bytes | None] | None = None) -> RawBatch:
    n = len(values)
    return RawBatch(topic, 0, list(range(n)), values, keys or [None] * n, [0] * n, [None] * n)


def columns(decoded):
    b = decoded.batch
    return b.machine.tolist(), b.ts.tolist(), b.values, b.message_index.tolist()


def assert_same(got, want) -> None:
    g, w = columns(got), columns(want)
    assert g[0] == w[0] and g[1] == w[1] and g[3] == w[3]
    np.testing.assert_array_equal(g[2], w[2])  # NaN where absent on both sides, every value bit for bit
    assert [d.reason for d in got.dead] == [d.reason for d in want.dead]


SIGNAL_VALUES = st.one_of(st.integers(0, 2**31), st.floats(-1e6, 1e6, allow_nan=False).map(lambda v: round(v, 3)))


@st.composite
def readings(draw, site):
    machines = [m.id for m in site.machines]
    out = []
    for _ in range(draw(st.integers(1, 40))):
        machine = draw(st.sampled_from(machines))
        names = site.class_of(machine).signals
        signals = draw(st.dictionaries(st.sampled_from(names), SIGNAL_VALUES, min_size=1, max_size=len(names)))
        for counter in ("part_count", "reject_count"):  # counters are whole and non-negative (else refused)
            if counter in signals:
                signals[counter] = draw(st.integers(0, 10**6))
        out.append({"site": "plant-a", "machine": machine, "ts": NOW - draw(st.integers(0, 3_600_000)),
                    "signals": signals})
    return out


def as_json(docs) -> list[bytes]:
    return [json.dumps(d).encode() for d in docs]


@pytest.mark.parametrize("many", [False, True], ids=["few messages", "scanner batch"])
@given(data=st.data())
@settings(max_examples=40, deadline=None)
@example(data=None)
def test_umh_and_custom_decode_like_the_contract(sites, many, data):
    """UMH by key, UMH by topic and the custom gateway give the contract's columns (scanner and msgspec paths:
    more than 64 messages go through the byte scanner, fewer are looked at one by one)."""
    docs = data.draw(readings(sites["andon"])) if data is not None else [
        {"site": "plant-a", "machine": "press-01", "ts": NOW - 5, "signals": {"state": 10000, "power_kw": 7.25}}]
    if many:
        docs = (docs * (70 // len(docs) + 1))[:70]
    want = decoder(sites["andon"]).decode(batch(TOPIC, as_json(contract(d) for d in docs)))
    assert not want.dead
    keyed = batch("umh.messages", [umh_payload(d) for d in docs],
                  [uns_path(d["site"], d["machine"]).encode() for d in docs])
    assert_same(decoder(sites["umh_key"]).decode(keyed), want)
    want_custom = decoder(sites["andon"]).decode(batch(TOPIC, as_json(contract(d, custom=True) for d in docs)))
    assert_same(decoder(sites["custom"]).decode(batch(TOPIC, [custom_payload(d) for d in docs])), want_custom)
    by_topic = decoder(sites["umh_topic"])
    for machine in sorted({d["machine"] for d in docs}):
        mine = [d for d in docs if d["machine"] == machine]
        want_m = decoder(sites["andon"]).decode(batch(TOPIC, as_json(contract(d) for d in mine)))
        got = by_topic.decode(batch(uns_path("plant-a", machine), [umh_payload(d) for d in mine]))
        assert_same(got, want_m)


def test_arrow_payloads_are_mapped_like_json(sites):
    """A custom gateway sending Arrow IPC (its own column names, watts, RFC 3339 strings) decodes like the
    contract's Arrow payload."""
    docs = [{"site": "plant-a", "machine": "press-0" + str(1 + i % 3), "ts": NOW - 1000 * i,
             "signals": {"state": 10000, "power_kw": 7.5 + i, "part_count": 10 + i}} for i in range(6)]
    want_docs = [contract(d, custom=True) for d in docs]
    contract_arrow = encode_arrow(pa.table({
        "site": [d["site"] for d in want_docs], "machine": [d["machine"] for d in want_docs],
        "ts": pa.array([d["ts"] for d in want_docs], pa.int64()),
        "state": [float(d["signals"]["state"]) for d in want_docs],
        "power_kw": [d["signals"]["power_kw"] for d in want_docs],
        "part_count": [float(d["signals"]["part_count"]) for d in want_docs]}))
    gateway = [json.loads(custom_payload(d)) for d in docs]
    gateway_arrow = encode_arrow(pa.table({
        "asset": [g["asset"] for g in gateway], "time": [g["time"] for g in gateway],
        "status": [float(g["status"]) for g in gateway], "power_w": [g["power_w"] for g in gateway],
        "pieces": [float(g["pieces"]) for g in gateway]}))
    want = decoder(sites["andon"]).decode(batch(TOPIC, [contract_arrow]))
    assert len(want.batch) == 6 and not want.dead
    assert_same(decoder(sites["custom"]).decode(batch(TOPIC, [gateway_arrow])), want)


T = NOW - 1000
UMH_OK = f'{{"timestamp_ms": {T}, "state": 10000}}'.encode()


@pytest.mark.parametrize(
    ("profile", "value", "key", "reason", "detail"),
    [
        ("umh_key", UMH_OK, b"umh.v1.acme.plant-a._historian", "schema_violation", "is not a UMH v1 path"),
        ("umh_key", UMH_OK, b"umh.v2.acme.plant-a.press-01._historian", "schema_violation", "is not a UMH v1 path"),
        ("umh_key", UMH_OK, b"umh.v1.acme.plant-a..press-01._historian", "schema_violation", "has an empty level"),
        ("umh_key", UMH_OK, None, "schema_violation", "the message key is empty"),
        ("umh_key", UMH_OK, b"\xff\xfe", "schema_violation", "the message key is not UTF-8"),
        ("umh_key", UMH_OK, b"umh.v1.acme.plant-z.press-01._historian", "unknown_site", "site='plant-z'"),
        ("umh_key", UMH_OK, b"umh.v1.acme.plant-a.press-99._historian", "unknown_machine", "machine='press-99'"),
        ("umh_key", b'{"state": 1}', b"umh.v1.acme.plant-a.press-01._historian", "schema_violation",
         "no timestamp field 'timestamp_ms'"),
        ("umh_key", b'{"timestamp_ms": "yesterday"}', b"umh.v1.acme.plant-a.press-01._historian", "bad_timestamp",
         "timestamp_ms='yesterday' is not epoch_ms"),
        ("umh_key", b'{"timestamp_ms": true}', b"umh.v1.acme.plant-a.press-01._historian", "bad_timestamp", "True"),
        ("umh_key", b'{"timestamp_ms": 1, ', b"umh.v1.acme.plant-a.press-01._historian", "malformed_json", ""),
        ("umh_key", b"[]", b"umh.v1.acme.plant-a.press-01._historian", "schema_violation", "empty array"),
        ("umh_key", f'{{"timestamp_ms": {T}, "state": 1, "state": 2}}'.encode(),
         b"umh.v1.acme.plant-a.press-01._historian", "duplicate_key", "'state'"),
        ("umh_key", b"[" * 5000 + b"]" * 5000, b"umh.v1.acme.plant-a.press-01._historian", "nesting_too_deep", ""),
        ("umh_key", b'{"timestamp_ms": 1, "tag": "\xff"}', b"umh.v1.acme.plant-a.press-01._historian",
         "invalid_utf8", ""),
        ("umh_key", b"[1]", b"umh.v1.acme.plant-a.press-01._historian", "schema_violation", "a JSON object"),
        ("umh_key", f'{{"timestamp_ms": {T}, "state": {{"x": 1}}}}'.encode(),
         b"umh.v1.acme.plant-a.press-01._historian", "schema_violation", ""),
        ("custom", b'{"time": "2026-03-02T05:59:59Z", "pieces": 1}', None, "schema_violation",
         "field 'asset' is missing or not a string"),
        ("custom", b'{"asset": "press-01", "time": "2026-03-02T05:59:59", "pieces": 1}', None, "bad_timestamp",
         "is not rfc3339"),
        ("custom", b'{"asset": "press-01", "time": 1772431199000, "pieces": 1}', None, "bad_timestamp",
         "is not rfc3339"),
        ("custom", b'{"asset": "press-01", "time": "2030-01-01T00:00:00Z", "pieces": 1}', None, "timestamp_in_future",
         ""),
        ("custom", b'{"asset": "press-01", "time": "2026-03-02T05:59:59Z", "pieces": NaN}', None, "non_finite_number",
         ""),
    ],
)
def test_refusals_name_the_reason_and_keep_the_original_bytes(sites, profile, value, key, reason, detail):
    topic = "umh.messages" if profile == "umh_key" else TOPIC
    good = umh_payload({"ts": T, "signals": {"state": 10000}}) if profile == "umh_key" else \
        b'{"asset": "press-02", "time": "2026-03-02T05:59:59Z", "pieces": 3}'
    good_key = b"umh.v1.acme.plant-a.press-02._historian" if profile == "umh_key" else None
    out = decoder(sites[profile]).decode(batch(topic, [good, value, good], [good_key, key, good_key]))
    assert len(out.batch) == 2 and out.batch.message_index.tolist() == [0, 2], "the good messages around it stay"
    assert [d.reason for d in out.dead] == [reason]
    dead = out.dead[0]
    assert detail in dead.detail and dead.raw == value and dead.source_offset == 1 and dead.key == key


def test_umh_paths():
    assert parse_uns_path("umh.v1.acme.plant-a.press-01._historian") == ("plant-a", "press-01")
    assert parse_uns_path("umh.v1.acme.plant-a.hall.line.cell.press-01._historian") == ("plant-a", "press-01")


def test_andon_profile_has_no_mapping_cost(site):
    assert Mapper.from_sites([site]) is None
    assert decoder(site).mapper is None


def test_subscriptions_and_routes(sites):
    umh = Mapper.from_sites([sites["umh_topic"]])
    assert umh.subscriptions() == [r"^umh\.v1\.acme\..+\._historian$"]
    assert umh.route(uns_path("plant-a", "press-01")) is not None
    keyed = Mapper.from_sites([sites["umh_key"]])
    assert keyed.subscriptions() == ["umh.messages"]


def test_sites_that_find_the_site_differently_cannot_share_a_topic(sites, tmp_path):
    other = site_with(tmp_path, CUSTOM, "other")
    other = other.model_copy(update={"site": other.site.model_copy(update={"id": "plant-b"})})
    with pytest.raises(ConfigError, match=r"read by sites plant-a \(custom, site from config\), plant-b \(custom, "
                                          r"site from config\)"):
        TelemetryDecoder([sites["custom"], other], Registry([sites["custom"], other]), BOUNDS)


def test_a_pattern_shared_by_sites_that_find_the_site_differently_refuses_its_messages(sites, tmp_path):
    """Patterns cannot be compared when the sites are loaded: a topic both match is refused message by message."""
    other = site_with(tmp_path, UMH_BY_TOPIC, "other-umh", enterprise="acme")
    other = other.model_copy(update={"site": other.site.model_copy(update={"id": "plant-b"}),
                                     "mapping": other.mapping.model_copy(update={"site_from": "config"})})
    both = TelemetryDecoder([sites["umh_topic"], other], Registry([sites["umh_topic"], other]), BOUNDS)
    out = both.decode(batch(uns_path("plant-a", "press-01"), [umh_payload({"ts": T, "signals": {"state": 1}})]))
    assert [d.reason for d in out.dead] == ["unknown_site"]
    assert "whose [mapping] finds site and machine differently" in out.dead[0].detail


def test_a_machine_class_reads_its_own_gateways_names(tmp_path, site):
    """Within one custom site, the cnc gateways name the counter `count` and send seconds; the others follow the
    site's [mapping]."""
    text = with_mapping(example_site_path().read_text(), CUSTOM).replace(
        "[machine_classes.cnc.states]",
        '[machine_classes.cnc.mapping]\nts_field = "t"\nts_format = "epoch_s"\nrename = { count = "part_count" }\n'
        "scale = {}\n\n[machine_classes.cnc.states]")
    path = tmp_path / "classes.toml"
    path.write_text(text)
    mapped = load_site(path)
    press = b'{"asset": "press-01", "time": "2026-03-02T05:59:59Z", "pieces": 5, "power_w": 7000}'
    cnc = b'{"asset": "cnc-01", "t": 1772431199.5, "count": 9, "pieces": 1, "power_w": 7000}'
    out = decoder(mapped).decode(batch(TOPIC, [press, cnc]))
    assert not out.dead
    b = out.batch
    col = {name: b.signals.index(name) for name in ("part_count", "power_kw")}
    assert b.ts.tolist() == [NOW - 1000, NOW - 500]
    assert b.values[0, col["part_count"]] == 5 and b.values[0, col["power_kw"]] == 7000 * 0.001
    assert b.values[1, col["part_count"]] == 9, "the class's rename replaces the site's (pieces is not read)"
    assert b.values[1, col["power_kw"]] != b.values[1, col["power_kw"]], "no power_w rename for the class: absent"

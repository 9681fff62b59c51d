"""The numba byte scanner in front of the msgspec decoder: the same ReadingBatch, bit for bit, for every input."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
from fuzzing import examples
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from andon.readings import Reason, Registry
from andon.wire.decoder import BatchDecoder
from andon.wire.json_scan import FALLBACK, OK, TS_FUTURE, TS_PAST, scan_batch

NOW = 1_772_431_200_000  # 2026-03-02T06:00:00Z
BOUNDS = (NOW - 3_600_000, NOW + 60_000)
KNOWN = ["state", "spindle_rpm", "power_kw", "part_count", "reject_count", "alarm", "bore_mm", "melt_temp_c"]


@pytest.fixture(scope="module")
def registry(site):
    return Registry([site])


@pytest.fixture(scope="module")
def pair(registry):
    return BatchDecoder(registry, max_message_bytes=4096), BatchDecoder(registry, max_message_bytes=4096,
                                                                       scanner=False)


def outcome(decoder, messages):
    try:
        return decoder.decode(messages, bounds=BOUNDS)
    except Exception as exc:  # the old path raising must be mirrored, not hidden
        return type(exc)


def assert_same(new, old):
    if not hasattr(old, "ts"):
        assert new == old
        return
    for name in ("machine", "ts", "seq", "message_index"):
        a, b = getattr(new, name), getattr(old, name)
        assert a.dtype == b.dtype and a.shape == b.shape, name
        assert np.array_equal(a, b), name
    assert new.values.dtype == old.values.dtype and new.values.shape == old.values.shape
    # bitwise: NaN where NaN, -0.0 where -0.0
    assert np.array_equal(np.ascontiguousarray(new.values).view(np.uint64),
                          np.ascontiguousarray(old.values).view(np.uint64))
    assert new.signals == old.signals
    assert new.invalid == old.invalid


# ---- generated messages ------------------------------------------------------------------------------------------

WS = st.sampled_from(["", "", "", " ", "\n", "\t", "\r\n  "])


@st.composite
def number_text(draw) -> str:
    """JSON numbers in many spellings, plus some that are not JSON or not exact."""
    kind = draw(st.integers(0, 12))
    if kind == 0:
        return draw(st.sampled_from(["-0", "-0.0", "0", "0.0", "-0e0", "0E+0", "1e22", "1e-22", "9007199254740991",
                                     "9007199254740992", "9007199254740993", "123456789012345678",
                                     "1234567890123456789", "0.1", "00", "-01", "1.", ".5", "+1", "1e", "1e+",
                                     "-", "1.5e400", "1e23", "4.9e-324", "NaN", "Infinity", "-Infinity",
                                     "0.30000000000000004", "1.7976931348623157e308", "2.5E-3", "7.39"]))
    if kind <= 4:
        return str(draw(st.integers(-(10**15), 10**15)))
    if kind == 5:
        return repr(draw(st.floats(allow_nan=False, allow_infinity=False, width=64)))
    if kind == 6:
        return repr(draw(st.floats(-1e15, 1e15)))
    if kind <= 8:
        return repr(round(draw(st.floats(-1e6, 1e6)), draw(st.integers(0, 4))))
    sign = draw(st.sampled_from(["", "-"]))
    whole = draw(st.sampled_from(["0", str(draw(st.integers(1, 10**draw(st.integers(1, 19)))))]))
    digits = st.lists(st.sampled_from("0123456789"), min_size=1, max_size=draw(st.sampled_from([3, 12])))
    frac = draw(st.sampled_from(["", "." + "".join(draw(digits))]))
    exp = draw(st.sampled_from(["", f"e{draw(st.integers(-30, 30))}", f"E+{draw(st.integers(0, 25))}"]))
    return sign + whole + frac + exp


def plain_string(draw) -> str:
    odd = not draw(st.integers(0, 5))  # sometimes with an escaped quote or backslash
    alphabet = st.characters(codec="ascii", min_codepoint=32, exclude_characters="" if odd else '"\\')
    return json.dumps(draw(st.text(alphabet=alphabet, max_size=6)))


@st.composite
def scalar_text(draw, allow_fallback: bool) -> str:
    """A value for an unknown key, sometimes one the scanner must leave to msgspec."""
    options = ["num", "str", "true", "false"] + (["null", "obj", "arr", "esc", "wide"] if allow_fallback else [])
    kind = draw(st.sampled_from(options))
    if kind == "num":
        return draw(number_text())
    if kind == "str":
        return plain_string(draw)
    if kind in ("true", "false", "null"):
        return kind
    if kind == "obj":
        return '{"a": [1, {"b": null}]}'
    if kind == "arr":
        return "[1, 2]"
    if kind == "esc":
        return '"a\\"b\\u00e9"'
    return '"caf\u00e9"'


@st.composite
def signal_value(draw) -> str:
    kind = draw(st.integers(0, 20))
    if kind == 0:
        return draw(st.sampled_from(["null", "null", "true", "false", '"running"', "[1]", '{"x": 1}', "NaN", '"1"']))
    return draw(number_text())


@st.composite
def reading_text(draw) -> str:
    """One reading as JSON text, keys in any order, whitespace anywhere, sometimes unusual or broken."""
    ws = lambda: draw(WS)  # noqa: E731
    signals = []
    names = draw(st.lists(st.sampled_from(KNOWN + ["torque", "x", ""]), max_size=8, unique=True))
    if not draw(st.integers(0, 15)):
        names.append(draw(st.sampled_from(["st\u00e4te", "state\\u0041", *names[:1]])))  # odd or twice
    for name in names:
        signals.append(f'{ws()}"{name}"{ws()}:{ws()}{draw(signal_value())}{ws()}')
    site = "plant-a" if draw(st.integers(0, 15)) else draw(st.sampled_from(["plant-z", "plant-", "plant-a\\u0020"]))
    machine = draw(st.sampled_from(["press-01", "press-02", "cnc-02", "mold-03"]) if draw(st.integers(0, 9)) else
                   st.sampled_from(["press-99", "", "press-01x", "pr\\u0065ss-01", "press-0"]))
    ts_kind = draw(st.integers(0, 19))
    if ts_kind == 0:
        ts = draw(st.sampled_from(['"2026-03-02T05:59:00Z"', "1772431199000.0", "1.7e12", "null", '"x"',
                                   "01772431199000", "-0", "1772431199000 0"]))
    elif ts_kind == 1:
        ts = str(draw(st.sampled_from([BOUNDS[0] - 1, BOUNDS[0], BOUNDS[1], BOUNDS[1] + 1, -5, 0, 10**17,
                                       10**18 - 1])))
    else:
        ts = str(draw(st.integers(BOUNDS[0] - 100_000, BOUNDS[1] + 10_000)))
    members = [f'"site"{ws()}:{ws()}"{site}"', f'"machine"{ws()}:{ws()}"{machine}"', f'"ts"{ws()}:{ws()}{ts}',
               f'"signals"{ws()}:{ws()}{{{",".join(signals) or ws()}}}']
    if draw(st.booleans()):
        seq = str(draw(st.integers(-5, 10**12))) if draw(st.integers(0, 9)) else draw(st.sampled_from(
            ["null", "1.0", "1e3", "12345678901234567890"]))
        members.append(f'"seq"{ws()}:{ws()}{seq}')
    for _ in range(draw(st.integers(0, 2))):
        key = draw(st.sampled_from(["gateway", "fw", "", "Site", "sites"]) if draw(st.integers(0, 5)) else
                   st.sampled_from(["caf\u00e9", "site", "signals", "ts"]))
        members.append(f'"{key}"{ws()}:{ws()}{draw(scalar_text(draw(st.integers(0, 4)) == 0))}')
    members = draw(st.permutations(members))
    if draw(st.integers(0, 15)) == 0 and members:
        members = members[1:]  # a required key missing, sometimes
    return f"{ws()}{{{ws()}{(ws() + ',' + ws()).join(members)}{ws()}}}{ws()}"


@st.composite
def message(draw) -> bytes:
    text = draw(reading_text())
    kind = draw(st.integers(0, 30))
    if kind == 0:
        return f"[{text}, {draw(reading_text())}]".encode()
    if kind == 1:
        raw = text.encode()
        return raw[:draw(st.integers(0, len(raw)))]  # truncated
    if kind == 2:
        return text.encode() + draw(st.sampled_from([b"x", b",", b"{}", b"\x00", b" 1", b"]"]))
    if kind == 3:
        return draw(st.sampled_from([b"", b" ", b"[]", b"null", b"\x00", b"\xff\xfe", b"{", b"}", b"1",
                                     b'"text"', b"x" * 5000]))
    if kind == 4:
        raw = bytearray(text.encode())
        if raw:
            raw[draw(st.integers(0, len(raw) - 1))] = draw(st.sampled_from([0, 0xFF, 0x01, 0x22, 0x5C, 0x7F]))
        return bytes(raw)
    return text.encode()


def dumps_json(site="plant-a", machine="press-01", ts=NOW - 1000, seq=1, **signals) -> bytes:
    return json.dumps({"site": site, "machine": machine, "ts": ts, "seq": seq, "signals": signals}).encode()


@settings(max_examples=examples(400), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(message(), max_size=12))
@example([b'{"site":"plant-a","machine":"press-01","ts":1772431199000,"signals":{"state":-0}}',
          b'{"site":"plant-a","machine":"press-01","ts":1772431199000,"signals":{"state":-0.0,"alarm":true}}'])
@example([b'{"site":"plant-a","machine":"press-01","ts":1772431199000,"seq":3,"signals":{"state":1}}\x00',
          b'{"site":"plant-a","machine":"press-01","ts":1772431199000,"signals":{"state":2}}'])
@example([b'{"site":"plant-a","machine":"press-01","ts":1772431199000,"signals":{"torque":null,"state":1}}',
          b'{"site":"plant-a","machine":"press-01","ts":1772431199000,"signals":{"alarm":false}}'])
def test_scanner_gives_what_the_msgspec_paths_give(pair, messages):
    new, old = pair
    assert_same(outcome(new, messages), outcome(old, messages))


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(["press-01", "cnc-02", "mold-03", "press-99"]),
                          st.integers(BOUNDS[0] - 1000, BOUNDS[1] + 1000),
                          st.floats(allow_nan=False, allow_infinity=False, width=64),
                          st.integers(-(2**53) + 1, 2**53 - 1), st.booleans()), max_size=40))
def test_scanner_on_plain_readings_with_some_fallbacks(pair, rows):
    """Mostly scanned readings with a few the general path must take (a bool signal), merged in order."""
    new, old = pair
    messages = [dumps_json(machine=m, ts=ts, seq=i, power_kw=f, part_count=n, alarm=(b if i % 7 == 3 else int(b)))
                for i, (m, ts, f, n, b) in enumerate(rows)]
    assert_same(outcome(new, messages), outcome(old, messages))


# ---- the scanner really takes the common case --------------------------------------------------------------------


def test_simulator_messages_take_no_fallback(site):
    from andon.config import example_site_path, load_site
    from andon.simulator import Simulation

    sim = Simulation(load_site(example_site_path()), machines=20, hours=0.1, seed=7)
    values = [v for _, v, _ in sim.messages()]
    new = BatchDecoder.for_site(site)
    old = BatchDecoder(new.registry, scanner=False)
    bounds = (sim.start_ms - 1, sim.end_ms + 1)
    batch = new.decode(values, bounds=bounds)
    assert new.fallback_messages == 0 and new.scanned_messages == len(values) == len(batch)
    assert_same(batch, old.decode(values, bounds=bounds))


def test_status_per_message(pair):
    new, _ = pair
    good = dumps_json(state=1, spindle_rpm=1480.5)
    msgs = [good, dumps_json(ts=BOUNDS[1] + 1), dumps_json(ts=BOUNDS[0] - 1), dumps_json(alarm=True), good,
            dumps_json(machine="press-99"), b'{"site":"plant-a"}', b"x" * 5000, b"[" + good + b"]"]
    scan = new._scanner.scan(msgs, new.max_message_bytes, *BOUNDS)
    assert scan.status.tolist() == [OK, TS_FUTURE, TS_PAST, FALLBACK, OK, FALLBACK, FALLBACK, FALLBACK, FALLBACK]
    assert scan.fallbacks == 5 and scan.message_index.tolist() == [0, 4]
    assert scan.values[0, 1] == 1480.5 and np.isnan(scan.values[0, 2])


def test_exact_numbers_bit_for_bit(pair):
    new, old = pair
    texts = ["-0", "-0.0", "0.1", "1480.5", "7.39", "-1.5e-3", "2.5E+2", "1e22", "1e-22", "9007199254740991",
             "123.456e-5", "0.000001", "3.141592653589793"]
    msgs = [b'{"site":"plant-a","machine":"press-01","ts":%d,"signals":{"power_kw":%s}}' % (NOW - 1000, t.encode())
            for t in texts]
    batch = new.decode(msgs, bounds=BOUNDS)
    assert new._scanner.scan(msgs, 4096, *BOUNDS).fallbacks == 0
    bits = [struct.pack("<d", v) for v in batch.column("power_kw")]
    assert bits == [struct.pack("<d", float(int(t)) if t.lstrip("-").isdigit() else float(t)) for t in texts]
    assert_same(batch, old.decode(msgs, bounds=BOUNDS))


def test_refused_and_fallback_records_keep_the_msgspec_order(pair):
    """Oversized and undecodable messages first, then per-reading refusals in message order (as the general path)."""
    new, old = pair
    msgs = [dumps_json(ts=BOUNDS[1] + 5000), b"x" * 5000, dumps_json(machine="press-99"), b"{broken",
            dumps_json(ts=BOUNDS[0] - 5000), dumps_json(alarm=True), dumps_json(state=3)]
    batch = new.decode(msgs, bounds=BOUNDS)
    assert [(bad.reason, bad.message_index) for bad in batch.invalid] == [
        (Reason.OVERSIZED, 1), (Reason.MALFORMED, 3), (Reason.TS_FUTURE, 0), (Reason.UNKNOWN_MACHINE, 2),
        (Reason.TS_PAST, 4)]
    assert batch.message_index.tolist() == [5, 6]
    assert_same(batch, old.decode(msgs, bounds=BOUNDS))


def test_nul_byte_inside_a_message_falls_back_to_lengths(pair):
    new, old = pair
    msgs = [dumps_json(state=1), b'{"site":"plant-a","machine":"pre\x00ss-01","ts":1,"signals":{}}', dumps_json()]
    assert_same(new.decode(msgs, bounds=BOUNDS), old.decode(msgs, bounds=BOUNDS))
    assert new._scanner.scan(msgs, 4096, *BOUNDS).status.tolist() == [OK, FALLBACK, OK]


def test_names_json_must_escape_or_non_ascii(site):
    """Registry names outside plain ASCII: matched by their UTF-8 bytes, or (needing an escape) left to msgspec."""
    reg = Registry([site])
    reg.keys = [("plant-a", "presse-\u00fc"), ("plant-a", 'q"uote'), ("plant-a", "back\\slash"), ("w\u00e9rk", "m")]
    reg.index = {key: i for i, key in enumerate(reg.keys)}
    reg.signals = ["temp\u00e9rature", "rpm"]
    reg.signal_index = {name: i for i, name in enumerate(reg.signals)}
    new, old = BatchDecoder(reg), BatchDecoder(reg, scanner=False)
    msgs = [json.dumps({"site": s, "machine": m, "ts": NOW, "signals": {"temp\u00e9rature": 1.5, "rpm": 3}},
                       ensure_ascii=ascii_only).encode()
            for s, m in reg.keys for ascii_only in (True, False)]
    batch = new.decode(msgs, now_ms=NOW)
    assert_same(batch, old.decode(msgs, now_ms=NOW))
    assert len(batch) == len(msgs)
    assert new.scanned_messages == 2  # the UTF-8 spellings of the two plain names; the rest needs escapes


def test_no_compilation_after_warm_up(pair):
    from andon.operators import warm_up

    warm_up()
    before = len(scan_batch.signatures)
    new, _ = pair
    new.decode([dumps_json(state=1)], bounds=BOUNDS)
    new.decode([dumps_json(state=1), b"\x00"], bounds=BOUNDS)  # the rescan by lengths too
    assert len(scan_batch.signatures) == before == 1


@pytest.mark.parametrize("bounds", [(BOUNDS[0] + 0.5, BOUNDS[1] - 0.5), (float("-inf"), float("inf")),
                                    (float("nan"), float("nan")), (-(2**70), 2**70),
                                    (np.int64(BOUNDS[0]), np.int64(BOUNDS[1]))])
def test_unusual_bounds(pair, bounds):
    new, old = pair
    msgs = [dumps_json(ts=t, state=1) for t in (BOUNDS[0] - 1, BOUNDS[0], BOUNDS[0] + 1, BOUNDS[1] - 1, BOUNDS[1],
                                                BOUNDS[1] + 1, 0, 10**17)]
    assert_same(new.decode(msgs, bounds=bounds), old.decode(msgs, bounds=bounds))


# ---- numbers outside the exact fast path: libc strtod (correctly rounded on glibc) --------------------------------


def exact_decimal(x: float) -> str:
    """Every digit of the double's exact decimal value (up to ~770 significant digits)."""
    from decimal import Decimal

    return format(Decimal(x), "f")


@st.composite
def float_text(draw) -> str:
    """A valid JSON number, in the spellings gateways and JSON libraries use and in some they do not."""
    x = draw(st.floats(allow_nan=False, allow_infinity=False, width=64))
    kind = draw(st.integers(0, 9))
    if kind <= 2:
        return repr(x)
    if kind == 3:
        return f"{x:.17g}"
    if kind == 4:
        return f"{x:.{draw(st.integers(0, 20))}{draw(st.sampled_from('eE'))}}"
    if kind == 5:
        return exact_decimal(x)
    if kind == 6:  # a random digit string, maybe very long, with a random exponent
        sign = draw(st.sampled_from(["", "-"]))
        whole = draw(st.sampled_from(["0", str(draw(st.integers(1, 9))) + draw(st.text("0123456789", max_size=400))]))
        frac = draw(st.sampled_from(["", "." + draw(st.text("0123456789", min_size=1, max_size=400))]))
        exp = draw(st.sampled_from(["", f"e{draw(st.integers(-400, 400))}", f"E+{draw(st.integers(0, 400))}",
                                    f"e-{draw(st.integers(0, 20)):03d}"]))
        return sign + whole + frac + exp
    if kind == 7:  # halfway between two doubles, and just beside it: the hardest cases to round
        from decimal import Decimal

        y = abs(x) or 5e-324
        mid = (Decimal(y) + Decimal(float(np.nextafter(y, 0.0)))) / 2  # exact: both have at most 1074 decimals
        text = format(mid, "f")
        beside = draw(st.sampled_from(["", "1", "-"]))
        if beside == "1":
            return text + ("" if "." in text else ".") + "0" * 20 + "1"
        if beside == "-":
            return format(mid - Decimal(10) ** -1100, "f")
        return text
    return draw(st.sampled_from([
        "-0.0", "-0", "0e400", "-0e-400", "0.0e-999", "1e-400", "-1e-400", "4.9e-324", "5e-324", "2.4703282292062327e-324",
        "2.4703282292062328e-324", "2.2250738585072011e-308", "2.2250738585072014e-308", "1.5E+300", "1.5e-300",
        "1.7976931348623157e308", "1.7976931348623158e308", "1204.7387681128703", "9007199254740993", "1e23",
        "12345678901234567890123456789", "-12345678901234567890123456789.5e-10", "0.1e1", "1e0", "1E-0",
        "100000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000001e-100",
    ]))


def float_message(text: str, ws: str, at: int) -> bytes:
    signals = ['"state":1', f'"power_kw":{text}{ws}', f'"torque":{text}', f'"spindle_rpm":-{text.lstrip("-")}']
    signals = signals[at:] + signals[:at]
    return (f'{{"site":"plant-a","machine":"press-01","ts":{NOW - 1000},"fw":{text}{ws},'
            f'"signals":{{{",".join(signals)}}}}}').encode()


@pytest.fixture(scope="module")
def wide_pair(registry):
    """Room for the longest digit strings (a message holds its number four times)."""
    return BatchDecoder(registry, max_message_bytes=65536), BatchDecoder(registry, max_message_bytes=65536,
                                                                         scanner=False)


def _bits(values) -> list[bytes]:
    return [struct.pack("<d", v) for v in values]


def _value(text: str) -> float:
    """What every decoding path makes of a JSON number: float(int) for an integer literal ("-0": 0.0)."""
    return float(int(text)) if text.lstrip("-").isdigit() else float(text)


@settings(max_examples=examples(500), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(float_text(), st.sampled_from(["", " ", "\n"]), st.integers(0, 3)), min_size=1,
                max_size=8))
@example([("1.7976931348623159e308", "", 0), ("1e400", " ", 1), ("-1e400", "", 2), ("1204.7387681128703", "", 3)])
@example([("123." + "4" * 2000 + "e-2010", "", 0), ("4.9e-324", "", 0), ("-0.0", "\n", 1)])
def test_long_and_far_numbers_converted_by_strtod(wide_pair, texts):
    """Any valid JSON number: the very bits msgspec and float() give; no fallback unless the value overflows."""
    import math

    new, old = wide_pair
    msgs = [float_message(text, ws, at) for text, ws, at in texts]
    before = new.fallback_messages
    batch = new.decode(msgs, bounds=BOUNDS)
    assert_same(batch, old.decode(msgs, bounds=BOUNDS))
    finite = [math.isfinite(float(text)) for text, _, _ in texts]
    assert new.fallback_messages - before == finite.count(False)
    kept = [text for (text, _, _), ok in zip(texts, finite, strict=True) if ok]
    assert _bits(batch.column("power_kw")) == _bits([_value(text) for text in kept])
    assert _bits(batch.column("spindle_rpm")) == _bits([_value("-" + text.lstrip("-")) for text in kept])


def test_strtod_numbers_without_it_fall_back(pair, monkeypatch):
    """Where libc's strtod is not trusted (not glibc, a locale with a decimal comma), such numbers fall back."""
    import andon.wire.json_scan as scan

    new, old = pair
    msgs = [float_message(text, "", 0) for text in ["1204.7387681128703", "1.5", "1e-400"]]
    assert new._scanner.scan(msgs, 4096, *BOUNDS).status.tolist() == [OK, OK, OK]
    monkeypatch.setattr(scan, "CORRECT_STRTOD", False)
    assert new._scanner.scan(msgs, 4096, *BOUNDS).status.tolist() == [FALLBACK, OK, FALLBACK]
    assert_same(new.decode(msgs, bounds=BOUNDS), old.decode(msgs, bounds=BOUNDS))


def test_strtod_never_reads_past_the_message(pair):
    """A long number at the very end of a message (found by lengths: the next message's digits follow it)."""
    new, old = pair
    head = b'{"site":"plant-a","machine":"press-01","ts":%d,"signals":{"power_kw":' % (NOW - 1000)
    msgs = [head + b"1204.7387681128703", b"5}", head + b"1.5e300}", b"\x00", head + b"1e400}}", head + b"1e-7"]
    scan = new._scanner.scan(msgs, 4096, *BOUNDS)
    assert scan.status.tolist() == [FALLBACK, FALLBACK, FALLBACK, FALLBACK, FALLBACK, FALLBACK]
    assert_same(new.decode(msgs, bounds=BOUNDS), old.decode(msgs, bounds=BOUNDS))
    msgs[-1] += b"}}"
    msgs[2] = msgs[2] + b"}"
    assert new._scanner.scan(msgs, 4096, *BOUNDS).status.tolist() == [FALLBACK, FALLBACK, OK, FALLBACK, FALLBACK, OK]
    assert_same(new.decode(msgs, bounds=BOUNDS), old.decode(msgs, bounds=BOUNDS))

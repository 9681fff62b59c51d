"""A bug in a decoder costs one message, never the batch: fast paths fall back, the reference path dead-letters.

Injects: exceptions raised from the numba scanner, msgspec's batch path, the Arrow fast and general paths, the
reference path (for one chosen message) and the publisher authorization. Checks: decode returns; the message the
reference path fails on is a `decoder_error` dead letter with the exception text and its offset; every other
message gives the same readings and refusals as without the fault.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import andon.wire.arrow as readings_arrow
from andon.messages import RawBatch
from andon.operators.telemetry import TelemetryDecoder
from andon.readings import Reason, Registry
from andon.wire.arrow import batch_to_arrow, encode_arrow
from andon.wire.decoder import BatchDecoder
from andon.wire.json_scan import Scanner
from andon.wire.json_typed import FastDecoder

pytestmark = pytest.mark.fault

NOW = 1_772_430_000_000
BOUNDS = (NOW - 86_400_000, NOW + 300_000)
POISON = b'{"site":"plant-a","machine":"press-01","ts":1772430000001,"seq":99,"signals":{"state":10000}}'


def reading(seq: int, machine: str = "press-01") -> bytes:
    return json.dumps({"site": "plant-a", "machine": machine, "ts": NOW - 1000 + seq, "seq": seq,
                       "signals": {"state": 10000, "power_kw": 5.5, "part_count": seq}}).encode()


@pytest.fixture
def messages(site):
    registry = Registry([site])
    arrow = encode_arrow(batch_to_arrow(BatchDecoder(registry).decode([reading(50), reading(51)], bounds=BOUNDS),
                                        registry))
    return [reading(1), b'{"site": "', b"\x80", reading(2, "cnc-02"), POISON, arrow,
            b'{"site":"plant-a","machine":"press-01","ts":1772430000000,"seq":null,"signals":{}}', reading(3)]


def decode(site, messages) -> tuple:
    n = len(messages)
    d = TelemetryDecoder([site], Registry([site]), BOUNDS).decode(
        RawBatch("t", 3, [100 + i for i in range(n)], messages, [b"k"] * n, [0] * n, [None] * n))
    rows = sorted(zip(d.batch.message_index.tolist(), d.batch.seq.tolist(), strict=True))
    return rows, sorted((x.source_offset, x.reason) for x in d.dead), d


def boom(*args, **kwargs):
    raise RuntimeError("injected fault")


FAULTS = {
    "scanner": [(Scanner, "scan", boom)],
    "msgspec batch path": [(FastDecoder, "decode", boom)],
    "scanner and batch path": [(Scanner, "scan", boom), (FastDecoder, "decode", boom)],
    "arrow fast path": [(readings_arrow, "_decode_fast", boom)],
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_failing_fast_path_falls_back_to_the_reference_path(site, messages, monkeypatch, fault):
    want_rows, want_dead, _ = decode(site, messages)
    for owner, name, replacement in FAULTS[fault]:
        monkeypatch.setattr(owner, name, replacement)
    rows, dead, _ = decode(site, messages)
    assert rows == want_rows and dead == want_dead


def test_the_reference_path_failing_on_one_message_dead_letters_it_alone(site, messages, monkeypatch):
    want_rows, want_dead, _ = decode(site, messages)

    def columns(self, decoded, invalid, bounds):
        if any(raw == POISON for _, raw, _ in decoded):
            raise RuntimeError("injected fault on the poison message")
        return original(self, decoded, invalid, bounds)

    original = BatchDecoder._columns
    monkeypatch.setattr(BatchDecoder, "_columns", columns)
    monkeypatch.setattr(Scanner, "scan", boom)
    rows, dead, decoded = decode(site, messages)
    poison = messages.index(POISON)
    assert rows == [r for r in want_rows if r[0] != poison]
    assert dead == sorted([*want_dead, (100 + poison, Reason.DECODER_ERROR.value)])
    letter = next(x for x in decoded.dead if x.reason == Reason.DECODER_ERROR.value)
    assert letter.raw == POISON and "injected fault on the poison message" in letter.detail
    assert letter.source_partition == 3 and letter.key == b"k"


def test_the_arrow_general_path_failing_dead_letters_the_payload(site, messages, monkeypatch):
    monkeypatch.setattr(readings_arrow, "_decode_fast", boom)
    monkeypatch.setattr(readings_arrow, "_decode_general", boom)
    rows, dead, _ = decode(site, messages)
    arrow = 5
    assert (100 + arrow, Reason.DECODER_ERROR.value) in dead
    assert all(index != arrow for index, _ in rows) and len(rows) == 5


def test_a_failing_step_around_the_decoders_costs_one_message(site, messages, monkeypatch):
    """Anything the TelemetryDecoder does raising for one message (here: concatenating its readings)."""
    want_rows, want_dead, _ = decode(site, messages)
    import andon.operators.telemetry as telemetry

    original = telemetry.TelemetryDecoder._decode

    def flaky(self, raw):
        if POISON in raw.values:
            raise RuntimeError("injected fault")
        return original(self, raw)

    monkeypatch.setattr(telemetry.TelemetryDecoder, "_decode", flaky)
    rows, dead, decoded = decode(site, messages)
    poison = messages.index(POISON)
    assert rows == [r for r in want_rows if r[0] != poison]
    assert dead == sorted([*want_dead, (100 + poison, Reason.DECODER_ERROR.value)])
    assert decoded.readings_in == len(decoded.batch) + len(decoded.dead)
    assert np.all(np.diff(decoded.batch.message_index) >= 0)

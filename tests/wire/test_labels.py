"""Name signals: string values become codes in their float64 column, names beside the batch; never raises."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from andon.config import example_site_path, load_site
from andon.readings import Registry
from andon.wire.decoder import BatchDecoder
from andon.wire.labels import LABEL_BASE, fill_labels, label_code, name_of


def _site(tmp_path):
    path = tmp_path / "site.toml"
    path.write_text(example_site_path().read_text().replace(
        "[machine_classes.cnc]\n", '[machine_classes.cnc]\nworkorder_signal = "workorder"\n', 1))
    return load_site(path)


def _msg(machine: str, ts: int, value) -> bytes:
    return json.dumps({"site": "plant-a", "machine": machine, "ts": ts,
                       "signals": {"part_count": 1, "workorder": value}}).encode()


@pytest.mark.parametrize("text", ["WH/MO/00012", "Ünïcode ✓", "x" * 300])
def test_codes_are_exact_floats_and_stable(text):
    code = label_code(text)
    assert LABEL_BASE <= code < 2 * LABEL_BASE and int(float(code)) == code == label_code(text)
    assert name_of(code, {code: text}) == text and name_of(42, {}) == "42"


def test_fill_labels_matches_rows_to_their_message_and_reading(tmp_path):
    site = _site(tmp_path)
    reg = Registry([site])
    ts = 1_772_438_400_000
    messages = [_msg("cnc-01", ts, "WH/MO/00001"),
                json.dumps([json.loads(_msg("cnc-02", ts, "WH/MO/00002")),
                            json.loads(_msg("cnc-01", ts + 1000, 17))]).encode(),
                _msg("cnc-02", ts + 1000, ""), _msg("press-01", ts, "WH/MO/00003")]
    batch = BatchDecoder(reg).decode(messages, now_ms=ts)
    assert fill_labels(batch, messages, reg, ["workorder"]) == 1  # the empty string carries no order
    col = batch.values[:, reg.signal_index["workorder"]]
    got = [name_of(int(v), batch.labels) if v == v else None for v in col.tolist()]
    assert got == ["WH/MO/00001", "WH/MO/00002", "17", None, "WH/MO/00003"]


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(st.binary(max_size=80) | st.just(b'{"workorder": [1, {"signals": 3}]}'), max_size=5))
def test_fill_labels_never_raises(tmp_path_factory, raws):
    reg = Registry([_site(tmp_path_factory.mktemp("l"))])
    ts = 1_772_438_400_000
    messages = [_msg("cnc-01", ts, "A"), *raws]
    batch = BatchDecoder(reg).decode(messages, now_ms=ts)
    batch.message_index = np.zeros(len(batch), np.int64) if len(batch) else batch.message_index
    fill_labels(batch, list(reversed(messages)), reg, ["workorder"])  # mismatched on purpose

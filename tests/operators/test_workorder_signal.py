"""A class's workorder_signal splits operations at each change of the order it shows (sites without a setup code):
per-operation counts, the envelope's work_order, snapshots across the change, windows without the code column,
and bad values (empty, negative, fractional) that carry no order."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from harness import T0, make_batch, plant_dict

from andon.config import parse_site
from andon.operators import ShardProcessor
from andon.readings import ReadingBatch, Registry
from andon.wire.labels import LABEL_BASE, label_code

RAW = plant_dict()
RAW["machine_classes"]["inferred"]["workorder_signal"] = "wo"
PLANT = parse_site(RAW, "<workorder plant>")
REG = Registry([PLANT])
I0 = REG.index[("test", "i0")]


def batch(rows) -> ReadingBatch:
    """rows: (ts offset s, parts counter, order name or number or None) of machine i0, running."""
    names = REG.signals
    values = np.full((len(rows), len(names)), np.nan)
    labels: dict[int, str] = {}
    for r, (_, parts, order) in enumerate(rows):
        values[r, names.index("rpm")] = 100.0
        values[r, names.index("parts")] = parts
        values[r, names.index("rejects")] = 0
        if isinstance(order, str):
            labels[label_code(order)] = order
            values[r, names.index("wo")] = label_code(order)
        elif order is not None:
            values[r, names.index("wo")] = order
    return ReadingBatch(np.full(len(rows), I0, np.int32), np.array([T0 + dt * 1000 for dt, _, _ in rows], np.int64),
                        np.full(len(rows), -1, np.int64), values, names, labels=labels)


def ops(events):
    return [(e.type, e.work_order, e.data.get("quantity"), e.occurred_at) for e in events
            if e.type in ("operation.finished", "operation.started")]


def final_progress(events):
    return {e.work_order: e.data["quantity"] for e in events if e.type == "operation.progress"}


TRACE = [(0, 0, "WH/MO/00001"), (1, 1, "WH/MO/00001"), (2, 3, "WH/MO/00001"), (3, 5, "WH/MO/00002"),
         (4, 6, "WH/MO/00002"), (15, 9, None), (16, 12, 4711), (17, 13, 4711)]


@pytest.mark.parametrize("cut", [None, 3, 4, 6])
def test_the_reading_that_shows_the_next_order_closes_the_running_one(cut):
    """Counts split at the change, the changing reading's increment still the old order's; the same with a
    snapshot taken anywhere (resumed in a new processor)."""
    proc = ShardProcessor([PLANT], REG)
    if cut is None:
        events = proc.process(batch(TRACE)).events
    else:
        events = proc.process(batch(TRACE[:cut])).events
        proc = ShardProcessor([PLANT], REG, state=pickle.loads(pickle.dumps(proc.snapshot())))
        events += proc.process(batch(TRACE[cut:])).events
    events += proc.flush().events
    assert ops(events) == [("operation.finished", "WH/MO/00001", 5, "2026-03-02T08:00:03.000Z"),
                           ("operation.finished", "WH/MO/00002", 7, "2026-03-02T08:00:16.000Z")]
    assert final_progress(events)["4711"] == 1  # a whole number names itself; NaN (None) kept the order


@pytest.mark.parametrize("bad", [-3.0, 2.5, float(2 * LABEL_BASE)])
def test_a_number_that_is_no_order_changes_nothing(bad):
    from andon.wire.labels import fill_labels

    b = batch([(0, 0, 7), (1, 1, None), (2, 2, 7)])
    b.values[1, REG.signals.index("wo")] = bad
    b.message_index = np.arange(3)
    assert fill_labels(b, [b"", b"", b""], REG, ["wo"]) == 1
    proc = ShardProcessor([PLANT], REG)
    events = proc.process(b).events + proc.flush().events
    assert ops(events) == [] and final_progress(events) == {"7": 2}


def test_the_code_column_is_not_aggregated_into_windows():
    proc = ShardProcessor([PLANT], REG)
    out = proc.process(batch(TRACE))
    fin = proc.flush()
    signals = {REG.signals[j] for j in np.concatenate([out.windows["signal"], fin.windows["signal"]]).tolist()}
    assert "wo" not in signals and "parts" in signals


def test_classes_without_the_signal_still_split_at_setups():
    c0 = REG.index[("test", "c0")]
    rows = [(c0, T0 + k * 1000, {"state": 4 if 4 <= k < 9 else 1, "parts": min(k, 4) + max(0, k - 9),
                                  "rejects": 0}) for k in range(14)]
    proc = ShardProcessor([PLANT], REG)
    events = proc.process(make_batch(REG, rows)).events + proc.flush().events
    assert ops(events) == [("operation.finished", None, 4, "2026-03-02T08:00:04.000Z"),
                           ("operation.started", None, None, "2026-03-02T08:00:09.000Z")]

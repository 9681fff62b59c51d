"""A class's reject_reason_signal names the reason of the rejects its reject counter counts: the kernel counts them
per operation and reason (the reason shown is sticky until another shows), the operation events carry
`rejects_by_reason` beside the unchanged `rejects` total, and a snapshot anywhere changes nothing."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from harness import T0, plant_dict

from andon.config import parse_site
from andon.operators import ShardProcessor
from andon.operators.kernels import layout as L
from andon.readings import ReadingBatch, Registry
from andon.wire.labels import label_code

RAW = plant_dict()
RAW["machine_classes"]["inferred"]["workorder_signal"] = "wo"
RAW["machine_classes"]["inferred"]["reject_reason_signal"] = "why"
PLANT = parse_site(RAW, "<reject reason plant>")
REG = Registry([PLANT])
I0 = REG.index[("test", "i0")]


def _code(value, labels):
    if isinstance(value, str):
        labels[label_code(value)] = value
        return label_code(value)
    return value


def batch(rows) -> ReadingBatch:
    """rows: (ts offset s, parts counter, rejects counter, order, reason or None) of machine i0, running."""
    names = REG.signals
    values = np.full((len(rows), len(names)), np.nan)
    labels: dict[int, str] = {}
    for r, (_, parts, rejects, order, why) in enumerate(rows):
        values[r, names.index("rpm")] = 100.0
        values[r, names.index("parts")] = parts
        values[r, names.index("rejects")] = rejects
        values[r, names.index("wo")] = _code(order, labels)
        if why is not None:
            values[r, names.index("why")] = _code(why, labels)
    return ReadingBatch(np.full(len(rows), I0, np.int32), np.array([T0 + row[0] * 1000 for row in rows], np.int64),
                        np.full(len(rows), -1, np.int64), values, names, labels=labels)


A, B = "WH/MO/00001", "WH/MO/00002"
# rejects: 1 unattributed (no reason shown yet), 2 dimension, 1 surface, 2 surface (sticky: no reason on the
# reading), then order B: 1 surface (still shown), 3 of code 7, 1 dimension
TRACE = [(0, 0, 0, A, None), (1, 2, 1, A, None), (2, 4, 3, A, "dimension"), (3, 5, 4, A, "surface"),
         (4, 8, 6, A, None), (70, 9, 7, B, None), (71, 12, 10, B, 7), (72, 14, 11, B, "dimension"),
         (140, 15, 11, B, None)]


def finished(events):
    return {e.work_order: (e.data["rejects"], e.data.get("rejects_by_reason")) for e in events
            if e.type == "operation.finished"}


def last_progress(events):
    out = {}
    for e in events:
        if e.type == "operation.progress":
            out[e.work_order] = (e.data["rejects"], e.data.get("rejects_by_reason"))
    return out


@pytest.mark.parametrize("cut", [None, 2, 4, 6, 8])
def test_rejects_counted_per_operation_and_reason(cut):
    proc = ShardProcessor([PLANT], REG)
    if cut is None:
        events = proc.process(batch(TRACE)).events
    else:
        events = proc.process(batch(TRACE[:cut])).events
        proc = ShardProcessor([PLANT], REG, state=pickle.loads(pickle.dumps(proc.snapshot())))
        events += proc.process(batch(TRACE[cut:])).events
    events += proc.flush().events
    # the reading that shows B closes A: its own increment (1 reject, still "surface") is A's
    assert finished(events) == {A: (7, {"dimension": 2, "surface": 4})}
    assert last_progress(events)[B] == (4, {"7": 3, "dimension": 1})


def test_progress_carries_the_reasons_so_far():
    proc = ShardProcessor([PLANT], REG)
    events = proc.process(batch(TRACE[:5])).events + proc.flush().events
    assert last_progress(events)[A] == (6, {"dimension": 2, "surface": 3})


def test_more_reasons_than_slots_stay_unattributed_and_the_total_exact():
    n = L.REASON_SLOTS + 3
    rows = [(0, 0, 0, A, None)] + [(k, k, k, A, f"r{k}") for k in range(1, n + 1)]
    proc = ShardProcessor([PLANT], REG)
    events = proc.process(batch(rows)).events + proc.flush().events
    rejects, by_reason = last_progress(events)[A]
    assert rejects == n
    assert by_reason == {f"r{k}": 1 for k in range(1, L.REASON_SLOTS + 1)}


def test_classes_without_the_signal_carry_no_reasons():
    raw = plant_dict()
    plant = parse_site(raw, "<plain>")
    reg = Registry([plant])
    names = reg.signals
    values = np.full((3, len(names)), np.nan)
    values[:, names.index("rpm")] = 100.0
    values[:, names.index("parts")] = [0, 2, 4]
    values[:, names.index("rejects")] = [0, 1, 2]
    b = ReadingBatch(np.full(3, reg.index[("test", "i0")], np.int32), np.array([T0, T0 + 1000, T0 + 2000]),
                     np.full(3, -1, np.int64), values, names)
    proc = ShardProcessor([plant], reg)
    events = proc.process(b).events + proc.flush().events
    progress = [e for e in events if e.type == "operation.progress"]
    assert progress and all(e.data.get("rejects_by_reason") is None for e in progress)
    assert progress[-1].data["rejects"] == 2


def test_the_reason_signal_is_refused_where_it_is_another_role():
    raw = plant_dict()
    raw["machine_classes"]["inferred"]["reject_reason_signal"] = raw["machine_classes"]["inferred"].get(
        "reject_counter", "rejects")
    with pytest.raises(Exception, match="reject_reason_signal"):
        parse_site(raw, "<bad>")

"""Name signals (a machine class's `workorder_signal`): a reading's string value becomes a code in its float64
column, so the kernels see "the order changed" like any other number, and the code's name travels beside the batch.

The decoders keep only numbers (a string value is no column, see `andon.wire.reference`); `fill_labels` runs after
them on the contract messages that mention a name signal and writes the codes in. A code is exact in a float64:

- a whole number n in [0, 2**52) is itself (a numeric order reference; its name is its decimal text);
- a string s is 2**52 + (64-bit BLAKE2b of s mod 2**52), in [2**52, 2**53) where every integer is a float64
  exactly (the mantissa has 52 bits plus the implicit one); its name is kept in `ReadingBatch.labels`.

An empty string, a negative or fractional number, or a number at or above 2**52 carries no order: NaN, so the
running operation goes on (counted in `LabelStats.ignored`).

Example::

    code = label_code("WH/MO/00012")          # 2**52 + hash, the same in every process
    name_of(code, {code: "WH/MO/00012"})      # 'WH/MO/00012'
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import msgspec
import numpy as np

from andon.readings import ReadingBatch, Registry, parse_ts

LABEL_BASE = 2**52
_untyped = msgspec.json.Decoder()


def label_code(text: str) -> int:
    """The code of a name: the same in every process and on every replay."""
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return LABEL_BASE + int.from_bytes(digest, "big") % LABEL_BASE


def name_of(code: int, labels: dict[int, str]) -> str | None:
    """The name a code stands for: the string it was made from, or a whole number's decimal text."""
    if code < 0:
        return None
    if code < LABEL_BASE:
        return str(code)
    return labels.get(code)


def _sanitize(column: np.ndarray) -> int:
    """NaN for numbers that are no order code (negative, fractional, too large); returns how many."""
    bad = ~np.isnan(column) & ((column < 0) | (column >= LABEL_BASE) | (column != np.floor(column)))
    n = int(np.count_nonzero(bad))
    if n:
        column[bad] = np.nan
    return n


def fill_labels(batch: ReadingBatch, messages: Sequence[bytes], registry: Registry, names: Sequence[str]) -> int:
    """Write the codes of the name signals `names` into `batch.values` (rows matched to their message by
    `batch.message_index`, machine and ts) and their names into `batch.labels`; never raises. Returns the
    number of values that carried no order (see the module docstring)."""
    cols = [(name, registry.signal_index[name]) for name in names if name in registry.signal_index]
    if not cols or len(batch) == 0 or batch.message_index is None:
        return 0
    ignored = sum(_sanitize(batch.values[:, j]) for _, j in cols)
    needles = [(name, f'"{name}"'.encode(), j) for name, j in cols]
    labels = batch.labels if batch.labels is not None else {}
    msg = batch.message_index
    wanted: dict[int, list[tuple[str, int]]] = {}
    for i in np.unique(msg).tolist():
        raw = messages[i] if 0 <= i < len(messages) else b""
        hits = [(name, j) for name, needle, j in needles if needle in raw]
        if hits:
            wanted[i] = hits
    if not wanted:
        return ignored
    found: dict[tuple[int, int, int, int], float] = {}  # (message, machine, ts, column) -> code
    for i, hits in wanted.items():
        try:
            doc = _untyped.decode(messages[i])
        except (msgspec.DecodeError, RecursionError, ValueError):
            continue
        for reading in doc if isinstance(doc, list) else [doc]:
            if not isinstance(reading, dict) or not isinstance(reading.get("signals"), dict):
                continue
            m = registry.index.get((reading.get("site"), reading.get("machine")))
            ts = reading.get("ts")
            t = parse_ts(ts) if isinstance(ts, int | float | str) else None
            if m is None or t is None:
                continue
            for name, j in hits:
                value = reading["signals"].get(name)
                if isinstance(value, str):
                    if value:
                        code = label_code(value)
                        labels[code] = value
                        found[(i, m, t, j)] = float(code)
                    else:
                        ignored += 1
    if found:
        rows = np.flatnonzero(np.isin(msg, np.fromiter(wanted, np.int64)))
        for r, i, m, t in zip(rows.tolist(), msg[rows].tolist(), batch.machine[rows].tolist(),
                              batch.ts[rows].tolist(), strict=True):
            for _, j in cols:
                code = found.get((i, m, t, j))
                if code is not None:
                    batch.values[r, j] = code
    batch.labels = labels
    return ignored

"""The reference decoder of telemetry readings v1: plain Python, one message at a time, the contract in code.

Every fast path (the numba byte scanner, the typed msgspec batch path, the general msgspec path, the Arrow paths)
is an optimisation of this function and is held equal to it by Hypothesis tests (tests/wire/test_reference.py),
mapping included: a mapped message is a contract message, so the same rules apply to it after `andon.wire.mapping`.

The contract, message by message (a message is one Kafka value or one line of a file):

1. A message longer than `max_message_bytes` is refused: `oversized` (its first 4 KiB kept).
2. It must be UTF-8, nest arrays and objects at most 32 deep and hold no key twice in one object
   (`invalid_utf8`, `nesting_too_deep`, `duplicate_key`; see andon.jsonguard).
3. It must be one JSON value: `malformed_json` otherwise, `non_finite_number` when the text holds NaN or Infinity.
4. The value is one reading (an object) or a non-empty array of readings; a reading has `site` and `machine`
   (strings), `ts` (an integer or float of epoch milliseconds, or an RFC 3339 string with offset), `signals` (an
   object of name to number, bool or string) and optionally `seq` (an integer or null); other fields are ignored.
   Anything else refuses the whole message: `schema_violation` (`non_finite_number` for a number too large for a
   float, e.g. 1e400).
5. Each reading of an accepted message is then judged alone, in this order: a site and machine the registry does
   not know (`unknown_site`, `unknown_machine`); a `ts` that is no timestamp (`bad_timestamp`); a `ts` after
   `bounds[1]` or before `bounds[0]` (`timestamp_in_future`, `timestamp_too_old`); a known signal that is not a
   finite number (`non_finite_number`); its machine class's part or reject counter that is not a whole number from
   0 to the class's counter_max (`implausible_counter`, one record per message however many of its readings). A
   reading that passes is a row: its registry index, ts, seq (-1 when absent) and one float64 per registry signal
   (NaN where the reading has none; bools are 1.0 and 0.0; string values and unknown signal names are not columns).

Rows are in message order; each refusal names its message's position.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

import numpy as np

from andon.jsonguard import screen
from andon.readings import InvalidReading, ReadingBatch, Reason, Registry, parse_ts
from andon.wire.decoder import future_detail, past_detail

_FIELDS = (("site", str), ("machine", str))


class _NotFinite(ValueError):
    pass


def _constant(name: str):
    raise _NotFinite(name)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _schema(doc) -> str | None:
    """Why `doc` (one parsed reading) is not a reading of the contract, or None."""
    if not isinstance(doc, dict):
        return "a reading must be a JSON object"
    for name, kind in _FIELDS:
        if not isinstance(doc.get(name), kind):
            return f"{name!r} must be a string"
    ts = doc.get("ts")
    if not (_is_number(ts) or isinstance(ts, str)):
        return "'ts' must be a number or a string"
    signals = doc.get("signals")
    if not isinstance(signals, dict):
        return "'signals' must be an object"
    for name, value in signals.items():
        if not (isinstance(value, bool | str) or _is_number(value)):
            return f"signal {name!r} must be a number, bool or string"
    if "seq" in doc and doc["seq"] is not None and not _is_int(doc["seq"]):
        return "'seq' must be an integer"
    return None


def _overflows(doc: dict) -> bool:
    """A float read as infinity: the text held a number too large for a float."""
    values = [doc["ts"], *doc["signals"].values()]
    return any(isinstance(v, float) and not math.isfinite(v) for v in values)


def _readings(raw: bytes) -> list[dict] | tuple[Reason, str]:
    """The readings of one message, or why the message is refused as a whole."""
    refusal = screen(raw)
    if refusal is not None:
        return Reason(refusal.kind), refusal.detail
    try:
        doc = json.loads(raw.decode("utf-8"), parse_constant=_constant)
    except _NotFinite:
        return Reason.NON_FINITE, "NaN or Infinity is not a JSON number"
    except ValueError as exc:
        return Reason.MALFORMED, str(exc)
    docs = doc if isinstance(doc, list) else [doc]
    if isinstance(doc, list) and not doc:
        return Reason.SCHEMA, "an empty array holds no reading"
    for d in docs:
        why = _schema(d)
        if why is not None:
            return Reason.SCHEMA, why
        if _overflows(d):
            return Reason.NON_FINITE, "a number is too large for a float"
    return docs


def _implausible_counter(registry: Registry, site: str, machine: str, values: np.ndarray) -> str | None:
    """What is wrong with a reading's part or reject counter (NaN: absent, fine), or None."""
    config = registry.sites[site]
    cls = config.machine_classes[config.machine(machine).machine_class]
    for name in (cls.part_counter, cls.reject_counter):
        j = registry.signal_index.get(name)
        v = values[j] if j is not None else math.nan
        if not math.isnan(v) and (v < 0 or v > cls.counter_max or v != math.floor(v)):
            return f"{name}={v:g} is not a whole number from 0 to counter_max {cls.counter_max}"
    return None


def decode_reference(messages: Sequence[bytes], registry: Registry, bounds: tuple[int, int], *,
                     max_message_bytes: int = 1_048_576) -> ReadingBatch:
    """Decode `messages` by the contract above; never raises on any bytes."""
    lo, hi = bounds
    n_sig = len(registry.signals)
    rows: list[tuple[int, int, int, np.ndarray, int]] = []
    invalid: list[InvalidReading] = []
    implausible: set[int] = set()  # messages with a reading refused for its counters
    for i, raw in enumerate(messages):
        if len(raw) > max_message_bytes:
            invalid.append(InvalidReading(Reason.OVERSIZED, f"{len(raw)} bytes > limit {max_message_bytes}",
                                          raw[:4096], i))
            continue
        docs = _readings(raw)
        if isinstance(docs, tuple):
            invalid.append(InvalidReading(docs[0], docs[1], raw, i))
            continue
        for doc in docs:
            site, machine = doc["site"], doc["machine"]
            m = registry.index.get((site, machine))
            if m is None:
                reason = Reason.UNKNOWN_SITE if site not in registry.sites else Reason.UNKNOWN_MACHINE
                invalid.append(InvalidReading(reason, f"site={site!r} machine={machine!r}", raw, i))
                continue
            t = parse_ts(doc["ts"])
            if t is None:
                invalid.append(InvalidReading(Reason.BAD_TIMESTAMP, f"ts={doc['ts']!r}", raw, i))
                continue
            if t > hi:
                invalid.append(InvalidReading(Reason.TS_FUTURE, future_detail(t, hi), raw, i))
                continue
            if t < lo:
                invalid.append(InvalidReading(Reason.TS_PAST, past_detail(t, lo), raw, i))
                continue
            values = np.full(n_sig, np.nan)
            bad = None
            for name, value in doc["signals"].items():
                j = registry.signal_index.get(name)
                if j is None or isinstance(value, str):
                    continue
                try:
                    number = float(value)
                except OverflowError:  # an integer beyond any float
                    number = math.inf
                if not math.isfinite(number):
                    bad = name
                    break
                values[j] = number
            if bad is not None:
                invalid.append(InvalidReading(Reason.NON_FINITE, f"signal {bad!r} is not finite", raw, i))
                continue
            wrong = _implausible_counter(registry, site, machine, values)
            if wrong is not None:
                if i not in implausible:
                    implausible.add(i)
                    invalid.append(InvalidReading(Reason.IMPLAUSIBLE_COUNTER, wrong, raw[:4096], i))
                continue
            seq = doc.get("seq")
            rows.append((m, t, -1 if seq is None else seq, values, i))
    k = len(rows)
    return ReadingBatch(np.array([r[0] for r in rows], np.int32), np.array([r[1] for r in rows], np.int64),
                        np.array([r[2] for r in rows], np.int64),
                        np.stack([r[3] for r in rows]) if k else np.zeros((0, n_sig)), registry.signals, invalid,
                        np.array([r[4] for r in rows], np.int64))

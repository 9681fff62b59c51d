"""Gateway faults: duplicates, out-of-order, late readings, batched arrays and malformed extra lines.

Faults change how readings are delivered, never what they say: every real reading is delivered at least once,
in one piece, so the ground truth holds. Nothing is ever sent before its time:

- duplicates: the same line again, 0-2 s later;
- out_of_order: a reading held back until just after one of the same machine up to 3 s later;
- late: a reading sent 30-120 s after its time (past the allowed lateness: listed in truth["late_readings"]);
- batched: 2-20 consecutive readings of one machine as one JSON array line, sent with the last of them (capped so
  the first is still within the allowed lateness);
- malformed: EXTRA invalid lines (truncated, wrong types, NaN, unknown machine, timestamp years off, garbage).

A fault plan is drawn from its own random stream, so the truth can be computed without encoding a single line.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec
import numpy as np

from andon.errors import SimulationError

FAULT_KINDS = ("duplicates", "out_of_order", "late", "batched", "malformed")

#: Chance per reading that a fault of each kind starts there.
RATES = {"duplicates": 0.002, "out_of_order": 0.002, "late": 0.0005, "batched": 0.001, "malformed": 0.0005}
MALFORMED_KINDS = ("truncated", "wrong_type", "nan", "unknown_machine", "ts_years_off", "garbage")
LATE_S = (30.0, 120.0)
OUT_OF_ORDER_S = 3.0
DUPLICATE_DELAY_MS = 2000
BATCH_SIZE = (2, 20)

# Sub-orders: among items emitted at the same instant by the same machine reading, a fixed order.
ORIGINAL, DUPLICATE, MALFORMED, LATE, DELAYED = 0, 1, 2, 3, 4


def parse_faults(text: str | None) -> frozenset[str]:
    """`"duplicates,late"` or `"all"` -> frozenset of fault kinds; an unknown kind is an error."""
    if not text:
        return frozenset()
    names = {part.strip().replace("-", "_") for part in text.split(",") if part.strip()}
    if "all" in names:
        return frozenset(FAULT_KINDS)
    unknown = sorted(names - set(FAULT_KINDS))
    if unknown:
        raise SimulationError(f"unknown fault kind(s): {', '.join(unknown)}",
                              hint=f"use a comma list of {', '.join(FAULT_KINDS)}, or 'all'")
    return frozenset(names)


@dataclass(frozen=True, slots=True)
class FaultOp:
    """One fault at chunk-relative reading `j`: `arg` is a delay (ms), a partner offset or a batch size."""

    kind: str
    j: int
    arg: int = 0
    variant: str = ""


def max_batch(period_ms: int, allowed_lateness_s: float) -> int:
    """Largest batch whose first reading is still within the allowed lateness when the batch is sent."""
    span = max(0, int(allowed_lateness_s * 1000) - 1) // period_ms
    return max(BATCH_SIZE[0], min(BATCH_SIZE[1], span + 1))


def plan_faults(rng: np.random.Generator, faults: frozenset[str], size: int, period_ms: int,
                batch_limit: int = BATCH_SIZE[1]) -> list[FaultOp]:
    """Fault operations for `size` consecutive readings of one machine; each reading takes at most one.

    A batch holds 2..`batch_limit` readings and is sent with its last one (see `max_batch`).
    """
    if not faults or size == 0:
        return []
    kinds = [k for k in FAULT_KINDS if k in faults and k != "malformed"]
    thresholds = np.cumsum([RATES[k] for k in kinds]) if kinds else np.zeros(0)
    u = rng.random(size)
    ops: list[FaultOp] = []
    taken = np.zeros(size, dtype=bool)
    max_shift = max(1, int(OUT_OF_ORDER_S * 1000) // period_ms)
    for j in np.flatnonzero(u < (thresholds[-1] if kinds else 0.0)).tolist():
        kind = kinds[int(np.searchsorted(thresholds, u[j], side="right"))]
        if taken[j]:
            continue
        if kind == "duplicates":
            ops.append(FaultOp(kind, j, int(rng.integers(0, DUPLICATE_DELAY_MS + 1))))
            taken[j] = True
        elif kind == "late":
            ops.append(FaultOp(kind, j, int(rng.integers(int(LATE_S[0] * 1000), int(LATE_S[1] * 1000) + 1))))
            taken[j] = True
        elif kind == "out_of_order":
            d = int(rng.integers(1, max_shift + 1))
            if j + d < size and not taken[j + d]:
                ops.append(FaultOp(kind, j, d))
                taken[j] = taken[j + d] = True
        else:  # batched
            m = int(rng.integers(BATCH_SIZE[0], BATCH_SIZE[1] + 1))
            m = min(m, batch_limit, size - j)
            span = taken[j:j + m]
            if span.any():
                m = int(np.argmax(span))
            if m >= 2:
                ops.append(FaultOp(kind, j, m))
                taken[j:j + m] = True
    if "malformed" in faults:
        count = int(rng.poisson(RATES["malformed"] * size))
        for j in sorted(rng.integers(0, size, count).tolist()):
            ops.append(FaultOp("malformed", j, int(rng.integers(0, 2**31)),
                               MALFORMED_KINDS[int(rng.integers(len(MALFORMED_KINDS)))]))
    return ops


_YEARS_MS = 5 * 365 * 86_400_000


def malformed_line(op: FaultOp, line: bytes, ts: int, machine: str) -> tuple[bytes, bytes]:
    """(key, value) of an invalid extra message modelled on the real reading `line`."""
    rng = np.random.default_rng(op.arg)
    key = machine.encode()
    if op.variant == "truncated":
        return key, line[: max(1, len(line) // 2)]
    if op.variant == "nan":
        return key, line.replace(b'"ts":', b'"nan":NaN,"ts":', 1)
    doc = msgspec.json.decode(line)
    if op.variant == "wrong_type":
        doc["signals"] = list(doc["signals"].values())
    elif op.variant == "unknown_machine":
        doc["machine"] = f"ghost-{int(rng.integers(100, 1000))}"
        key = doc["machine"].encode()
    elif op.variant == "ts_years_off":
        doc["ts"] = ts + (_YEARS_MS if rng.random() < 0.5 else -_YEARS_MS)
    else:  # garbage: random bytes without line breaks
        raw = bytearray(rng.integers(0, 256, int(rng.integers(8, 200)), dtype=np.uint8).tobytes())
        for i, b in enumerate(raw):
            if b in (0x0A, 0x0D):
                raw[i] = 0xFF
        raw[0] = 0xFE  # never a valid JSON start
        return key, bytes(raw)
    return key, msgspec.json.encode(doc)


def apply_faults(ops: list[FaultOp], lines: list[bytes], ts: list[int], machine_index: int, k0: int,
                 key: bytes, machine: str) -> list[tuple]:
    """Emission items `(emit_ms, machine_index, reading_index, sub_order, key, value)` for one chunk."""
    items: list[tuple] = []
    handled: dict[int, FaultOp] = {op.j: op for op in ops if op.kind != "malformed"}
    skip = set()
    for op in handled.values():
        if op.kind == "batched":
            skip.update(range(op.j + 1, op.j + op.arg))
    for j, line in enumerate(lines):
        if j in skip:
            continue
        op = handled.get(j)
        k = k0 + j
        if op is None:
            items.append((ts[j], machine_index, k, ORIGINAL, key, line))
        elif op.kind == "duplicates":
            items.append((ts[j], machine_index, k, ORIGINAL, key, line))
            items.append((ts[j] + op.arg, machine_index, k, DUPLICATE, key, line))
        elif op.kind == "late":
            items.append((ts[j] + op.arg, machine_index, k, LATE, key, line))
        elif op.kind == "out_of_order":
            # held back until just after a reading up to 3 s later: nothing is ever sent before its time
            items.append((ts[j + op.arg], machine_index, k0 + j + op.arg, DELAYED, key, line))
        else:  # batched: one JSON array line, sent when its last reading is taken
            last = j + op.arg - 1
            value = b"[" + b",".join(lines[j:last + 1]) + b"]"
            items.append((ts[last], machine_index, k0 + last, ORIGINAL, key, value))
    for op in ops:
        if op.kind == "malformed":
            mkey, value = malformed_line(op, lines[op.j], ts[op.j], machine)
            items.append((ts[op.j], machine_index, k0 + op.j, MALFORMED + 10 * len(items), mkey, value))
    return items

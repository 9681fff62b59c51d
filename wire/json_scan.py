"""Numba byte scanner for the contract's flat JSON readings: a whole batch of messages straight into numpy columns.

The scanner takes only what it understands completely and what every existing decoding path (msgspec typed structs,
or the general message-by-message path) turns into the very same numbers; for anything else it marks the message for
fallback and the caller decodes that message the old way. It takes:

- one JSON object per message, JSON whitespace anywhere JSON allows it, keys in any order, no known key twice;
- ``site`` and ``machine``: strings without backslash escapes whose bytes name a registry entry;
- ``ts`` and ``seq``: JSON integers of at most 18 digits (``seq`` may be absent: -1);
- ``signals``: a flat object; a known signal's value is a JSON number, read with the exact fast path (at most 18
  digits, a decimal mantissa below 2**53 and a power of ten with ``|e| <= 22``, so ``m * 10**e`` or ``m / 10**-e``
  is correctly rounded; an integer literal such as ``-0`` gives what ``float(int)`` gives: 0.0), else (17-digit
  reprs, long digit strings, far exponents) by libc's ``strtod``, correctly rounded on glibc like ``float()`` and
  msgspec (where it is not trusted, see ``CORRECT_STRTOD``, such numbers fall back; so does a value that overflows);
- unknown signals and unknown top-level keys holding ASCII strings without escapes, such numbers, true or false
  (and null at the top level only: the general path refuses a null signal) are skipped; up to 16 of them, each
  once (a repeated key, or two keys with the same hash, falls back: the general path refuses duplicate keys).

Everything else falls back: nested values, a signal set to null, true/false or a string, ``NaN``/``Infinity``,
numbers beyond the float range, ``ts``/``seq`` beyond 18 digits, non-ASCII text outside a matched name, bytes after
the object, truncated JSON, unknown sites or machines, messages longer than the size limit, arrays of readings.

Per message the status is OK (a row was written), FALLBACK, TS_FUTURE or TS_PAST (outside the bounds; no row).
Rows are written compacted, in message order, with the index of their message beside them.

How it is fast: one numba function at run time, without reference counting (its named pieces are inlined at the
numba IR level with ``inline="always"``, and the scan runs with numba's runtime off: an atomic reference-count
increment and decrement per piece that takes an array would cost more than scanning a key), 8 bytes at a time where it matters (unaligned loads: the batch
buffer and the name tables end with 16 spare bytes) for name comparisons, string ends and digit runs, and each key
first compared with the key the previous message had at the same turn (gateways repeat their key order).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numba import njit

from andon.wire.scan_pieces import _machine_entry, _next_nul, _scan_reading, _skip_ws
from andon.wire.scan_words import (
    _GUESSES,
    _INT64_MAX,
    _INT64_MIN,
    _PAD,
    _TOP_KEYS,
    _UNKNOWN_KEYS,
    CORRECT_STRTOD,
    name_hash,
)

OK, FALLBACK, TS_FUTURE, TS_PAST = 0, 1, 2, 3

__all__ = ["CORRECT_STRTOD", "FALLBACK", "OK", "TS_FUTURE", "TS_PAST", "ScanResult", "Scanner", "name_hash",
           "scan_batch"]


# _nrt=False: the scan allocates nothing (the caller passes every array), so it runs without numba's reference
# counting; with it, each inlined piece that takes an array increfs and decrefs it (atomically) per use, which made
# the cut-up scan 2 to 5 times slower than the one-function scan it replaced (measured; without: the same speed)
@njit(cache=True, _nrt=False)
def scan_batch(buf, n, data_end, offsets, max_len, lo, hi, site_names, site_off, mach_names, mach_off, mach_site,
               mach_value, mach_table, key_names, key_off, key_words, sig_table, guess, out_machine, out_ts, out_seq,
               out_values, out_index, status, correct_strtod, unknown):
    """Scan n messages; returns (rows written, messages left to fall back), or (-1, 0) to rescan with offsets.

    With offsets (n + 1 of them), message i is buf[offsets[i]:offsets[i+1]]. Without (an empty array), the messages
    are buf[:data_end] joined by NUL bytes: a NUL is no JSON and stops every part of the scan, so a message's end is
    where its object ends (or, when the scan fails, the next NUL); when a message holds a NUL itself, more than n
    messages appear and the scan answers -1.

    Name tables: flat bytes + offsets; site and key entries end with their closing quote, an empty entry never
    matches. key entries: the signals (entry j is column j), then the reading's keys in the order of the key kinds.
    `unknown` is scratch room for the hashes of one message's unknown keys (_UNKNOWN_KEYS of them).
    """
    discover = offsets.shape[0] == 0
    n_sig = out_values.shape[1]
    sig_mask = sig_table.shape[0] - 1
    k = 0
    fallbacks = 0
    cursor = 0
    for i in range(n):
        start, end = (cursor, data_end) if discover else (offsets[i], offsets[i + 1])
        code = FALLBACK
        entry = -1
        ts = 0
        seq = -1
        msg_end = -1
        if discover or end - start <= max_len:
            p = _skip_ws(buf, start, end)
            if p < end and buf[p] == 123:
                done, p, site, m_start, m_len, ts, seq, have_ts, have_signals = _scan_reading(
                    buf, _skip_ws(buf, p + 1, end), end, k, n_sig, key_names, key_off, key_words, sig_table,
                    sig_mask, guess, site_names, site_off, out_values, unknown, correct_strtod)
                if done:
                    p = _skip_ws(buf, p, end)
                    if p == end or (discover and buf[p] == 0):
                        msg_end = p  # nothing after the object but the message's end
                    if msg_end >= 0 and site >= 0 and m_start >= 0 and have_ts and have_signals and m_len > 0:
                        entry = _machine_entry(buf, m_start, m_len, site, mach_names, mach_off, mach_site,
                                               mach_table)
                        if entry >= 0:  # else an unknown machine: the general path names it
                            code = OK
                            if ts > hi:
                                code = TS_FUTURE
                            elif ts < lo:
                                code = TS_PAST
        if discover:
            if msg_end < 0:  # the next NUL (the scan stopped before it)
                msg_end = _next_nul(buf, start, end)
            if msg_end - start > max_len:
                code = FALLBACK  # the existing path refuses it as oversized
            cursor = msg_end + 1
        status[i] = code
        if code == OK:
            out_machine[k] = mach_value[entry]
            out_ts[k] = ts
            out_seq[k] = seq
            out_index[k] = i
            k += 1
        else:
            if code == FALLBACK:
                fallbacks += 1
            for j in range(n_sig):
                out_values[k, j] = np.nan
    if discover and cursor != data_end + 1:
        return -1, 0
    return k, fallbacks


def _bound(value, to_int) -> int:
    """A timestamp bound as an int64 that refuses the same integer timestamps (ceil for the oldest, floor for the
    newest; NaN refuses nothing, like a comparison with NaN)."""
    if isinstance(value, float) and math.isnan(value):
        return _INT64_MIN if to_int is math.ceil else _INT64_MAX
    if isinstance(value, float) and math.isinf(value):
        return _INT64_MIN if value < 0 else _INT64_MAX
    return min(max(to_int(value), _INT64_MIN), _INT64_MAX)


def _plain(name: bytes) -> bool:
    """True when JSON writes the name as its own bytes (no quote, backslash or control character to escape)."""
    return all(c >= 32 and c not in (34, 92) for c in name)


def _names_table(names: list[bytes], quote: bool, colon: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Flat bytes (16 spare at the end) and offsets; names JSON must escape become empty entries (never matched).

    quote: each entry ends with the name's closing quote; colon: with the closing quote and a colon.
    """
    tail = b'":' if colon else b'"' if quote else b""
    entries = [name + tail if name and _plain(name) else b"" for name in names]
    offsets = np.zeros(len(entries) + 1, np.int64)
    offsets[1:] = np.cumsum([len(b) for b in entries])
    return np.frombuffer(b"".join(entries) + _PAD, np.uint8).copy(), offsets


def _words(flat: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Per entry, its first 16 bytes as two little-endian words and their masks: [word0, mask0, word1, mask1]."""
    out = np.zeros(4 * (len(offsets) - 1), np.uint64)
    for j in range(len(offsets) - 1):
        name = flat[offsets[j]:offsets[j + 1]].tobytes()[:16]
        for half in range(2):
            part = name[8 * half:8 * half + 8]
            out[4 * j + 2 * half] = int.from_bytes(part, "little")
            out[4 * j + 2 * half + 1] = (1 << (8 * len(part))) - 1
    return out


def _hash_table(names: list[bytes], salts: list[int]) -> np.ndarray:
    """Open addressing: slot -> entry number, -1 where empty; at least half the slots stay empty.

    Names that JSON must escape are left out: a message can only name them with an escape, which falls back.
    """
    size = 8
    while size < 2 * len(names):
        size *= 2
    table = np.full(size, -1, np.int64)
    for j, (name, salt) in enumerate(zip(names, salts, strict=True)):
        if not name or not _plain(name):
            continue
        slot = name_hash(name, salt) & (size - 1)
        while table[slot] >= 0:
            slot = (slot + 1) & (size - 1)
        table[slot] = j
    return table


@dataclass(slots=True)
class ScanResult:
    """Rows of the messages the scanner took (compacted, in message order) and every message's status."""

    machine: np.ndarray  # int32 registry index
    ts: np.ndarray  # int64
    seq: np.ndarray  # int64, -1 where absent
    values: np.ndarray  # float64 [rows, signals], NaN where absent
    message_index: np.ndarray  # int64
    status: np.ndarray  # uint8 per message: OK, FALLBACK, TS_FUTURE, TS_PAST
    fallbacks: int


class Scanner:
    """The byte tables of one registry's sites, machines and signals, and the batch scan over them."""

    def __init__(self, index: dict[tuple[str, str], int], signals: Sequence[str]) -> None:
        sites = list(dict.fromkeys(s for s, _ in index))
        site_id = {s: j for j, s in enumerate(sites)}
        self._site_names, self._site_off = _names_table([s.encode() for s in sites], quote=True)
        entries = list(index.items())
        machines = [m.encode() for (_, m), _ in entries]
        self._mach_names, self._mach_off = _names_table(machines, quote=False)
        self._mach_site = np.array([site_id[s] for (s, _), _ in entries], np.int64)
        self._mach_value = np.array([v for _, v in entries], np.int32)
        self._mach_table = _hash_table(machines, [site_id[s] + 1 for (s, _), _ in entries])
        encoded = [s.encode() for s in signals]
        self._key_names, self._key_off = _names_table(encoded + _TOP_KEYS, quote=True, colon=True)
        self._key_words = _words(self._key_names, self._key_off)
        self._sig_table = _hash_table(encoded, [0] * len(encoded))
        self._n_signals = len(signals)

    def scan(self, messages: Sequence[bytes], max_len: int, lo: int, hi: int) -> ScanResult:
        n = len(messages)
        buf = np.frombuffer(b"\0".join([*messages, _PAD]), np.uint8)
        result = self._scan(buf, n, len(buf) - len(_PAD) - 1, np.zeros(0, np.int64), max_len, lo, hi)
        if result is None:  # a message holds a NUL byte: find the messages by their lengths
            offsets = np.zeros(n + 1, np.int64)
            np.cumsum(np.fromiter(map(len, messages), np.int64, n), out=offsets[1:])
            result = self._scan(np.frombuffer(b"".join([*messages, _PAD]), np.uint8), n, int(offsets[-1]),
                                offsets, max_len, lo, hi)
        return result

    def _scan(self, buf: np.ndarray, n: int, data_end: int, offsets: np.ndarray, max_len: int, lo: int,
              hi: int) -> ScanResult | None:
        machine = np.empty(n, np.int32)
        ts = np.empty(n, np.int64)
        seq = np.empty(n, np.int64)
        values = np.full((n, self._n_signals), np.nan)
        index = np.empty(n, np.int64)
        status = np.empty(n, np.uint8)
        k, fallbacks = scan_batch(buf, n, data_end, offsets, min(max_len, _INT64_MAX), _bound(lo, math.ceil),
                                  _bound(hi, math.floor), self._site_names, self._site_off,
                                  self._mach_names, self._mach_off, self._mach_site, self._mach_value,
                                  self._mach_table, self._key_names, self._key_off, self._key_words,
                                  self._sig_table,
                                  np.full(_GUESSES, -1, np.int64), machine, ts, seq, values, index, status,
                                  CORRECT_STRTOD, np.empty(_UNKNOWN_KEYS, np.uint64))
        if k < 0:
            return None
        return ScanResult(machine[:k], ts[:k], seq[:k], values[:k], index[:k], status, int(fallbacks))

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

import ctypes
import math
import os
import platform
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

OK, FALLBACK, TS_FUTURE, TS_PAST = 0, 1, 2, 3

_U = np.uint64
_PRIME = _U(0x100000001B3)
_ONES = _U(0x0101010101010101)
_HIGH = _U(0x8080808080808080)
_LOW7 = _U(0x7F7F7F7F7F7F7F7F)
_NIBBLE_LO = _U(0x0F0F0F0F0F0F0F0F)
_NIBBLE_HI = _U(0xF0F0F0F0F0F0F0F0)
_ZEROS = _U(0x3030303030303030)  # "00000000"
_SIXES = _U(0x0606060606060606)
_QUOTES = _U(0x2222222222222222)
_SLASHES = _U(0x5C5C5C5C5C5C5C5C)
_SPACES = _U(0x2020202020202020)
_MAX_MANTISSA = 2**53
_MAX_DIGITS = 18  # below 2**63: a mantissa never overflows an int64
_P10 = np.array([float(10**k) for k in range(23)])  # exact doubles
_P10_INT = np.array([10**k for k in range(9)], np.int64)
_PAD = bytes(16)  # after the batch and every name table: loads of 8 bytes (two at once) never leave the buffer
_GUESSES = 64  # key turns per message whose key is remembered from the previous message
_TOP_KEYS = [b"site", b"machine", b"ts", b"seq", b"signals"]
_UNKNOWN_KEYS = 16  # unknown keys a message may have and still be scanned (their hashes are compared pairwise)

# what a key means
_UNKNOWN, _SITE, _MACHINE, _TS, _SEQ, _SIGNALS, _KNOWN_SIGNAL = 0, 1, 2, 3, 4, 5, 6

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


@intrinsic
def _load8(typingctx, arr, idx):
    """The 8 bytes at arr[idx:idx+8] as a little-endian uint64 (an unaligned load; the caller keeps it in bounds)."""
    sig = types.uint64(arr, types.intp)

    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        ptr = builder.bitcast(builder.gep(ary.data, [args[1]]), ir.IntType(64).as_pointer())
        return builder.load(ptr, align=1)

    return sig, codegen


@intrinsic
def _cttz(typingctx, x):
    """Count of trailing zero bits (64 for 0)."""
    sig = types.uint64(types.uint64)

    def codegen(context, builder, signature, args):
        i64 = ir.IntType(64)
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(i64, [i64, ir.IntType(1)]),
                                            "llvm.cttz.i64")
        return builder.call(fn, [args[0], ir.Constant(ir.IntType(1), 0)])

    return sig, codegen


@intrinsic
def _strtod(typingctx, arr, start, stop):
    """libc ``strtod`` of the bytes from arr[start]; NaN unless it read exactly the bytes up to arr[stop].

    The caller has validated a JSON number there, followed (before the buffer's end) by a byte no number goes on
    with. The symbol is resolved from the process (libc is loaded), also when the function comes from numba's cache.
    """
    sig = types.float64(arr, types.intp, types.intp)

    def codegen(context, builder, signature, args):
        i8p = ir.IntType(8).as_pointer()
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.DoubleType(), [i8p, i8p.as_pointer()]),
                                            "strtod")
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        data = builder.bitcast(ary.data, i8p)
        stop = cgutils.alloca_once(builder, i8p)
        value = builder.call(fn, [builder.gep(data, [args[1]]), stop])
        read_all = builder.icmp_unsigned("==", builder.load(stop), builder.gep(data, [args[2]]))
        return builder.select(read_all, value, ir.Constant(ir.DoubleType(), math.nan))

    return sig, codegen


def _strtod_is_correct() -> bool:
    """True where libc's strtod rounds correctly (glibc) and reads JSON numbers (a "." decimal point: LC_NUMERIC)."""
    try:
        if (sys.platform != "linux" or platform.machine() not in ("x86_64", "aarch64")
                or not os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc")):
            return False
        strtod = ctypes.CDLL(None).strtod
        strtod.restype = ctypes.c_double
        strtod.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
        return (strtod(b"0.5", None) == 0.5 and strtod(b"1e3", None) == 1000.0
                and strtod(b"1204.7387681128703", None) == 1204.7387681128703
                and strtod(b"2.2250738585072011e-308", None) == 2.2250738585072011e-308)
    except (OSError, AttributeError, ValueError):
        return False


#: libc's strtod converts the numbers outside the exact fast path (else such a number makes its message fall back)
CORRECT_STRTOD = _strtod_is_correct()


@njit(cache=True)
def _same8(x, y, r):
    """The first min(r, 8) bytes of two words are equal."""
    if r >= 8:
        return x == y
    return ((x ^ y) << _U(64 - 8 * r)) == _U(0)


@njit(cache=True)
def _digits(x):
    """How many of the word's bytes, from the first, are ASCII digits (0 to 8).

    Flags: a byte below "0" borrows, above "9" carries into its high bit, non-ASCII has it; borrows and carries only
    flag bytes above a true flag, so the lowest flag is exact.
    """
    flags = ((x - _ZEROS) | (x + _U(0x4646464646464646)) | x) & _HIGH
    return np.int64(_cttz(flags) >> _U(3))


@njit(cache=True)
def _parse8(x, n):
    """The value of the first n (1 to 8) bytes of the word, all ASCII digits."""
    v = (x & _NIBBLE_LO) << _U(8 * (8 - n))
    v = (v * _U(2561)) >> _U(8)
    v = ((v & _U(0x00FF00FF00FF00FF)) * _U(6553601)) >> _U(16)
    v = ((v & _U(0x0000FFFF0000FFFF)) * _U(42949672960001)) >> _U(32)
    return np.int64(v)


@njit(cache=True)
def _stops(x):
    """Flags (high bit of a byte) where a string scan must look: a quote, a backslash, a control or a non-ASCII byte.

    The lowest flag is exact (the borrows of the zero-byte test only flag bytes above a true one).
    """
    q = x ^ _QUOTES
    b = x ^ _SLASHES
    return (((q - _ONES) & ~q) | ((b - _ONES) & ~b) | ((x - _SPACES) & ~x) | x) & _HIGH


@njit(cache=True)
def _mix(length, first, second, middle, before_last, last, salt):
    """A cheap hash of a name from its length and five of its bytes (collisions are resolved by comparing bytes)."""
    h = _U(length) ^ _U(salt)
    h = (h ^ _U(first)) * _PRIME
    h = (h ^ _U(second)) * _PRIME
    h = (h ^ _U(middle)) * _PRIME
    h = (h ^ _U(before_last)) * _PRIME
    h = (h ^ _U(last)) * _PRIME
    h = (h ^ _U(salt)) * _PRIME
    return h ^ (h >> _U(32))


def name_hash(name: bytes, salt: int) -> int:
    """The scanner's hash of a non-empty `name`, as the scan computes it from the message bytes."""
    n = len(name)
    return int(_mix(n, name[0], name[min(1, n - 1)], name[n // 2], name[max(n - 2, 0)], name[n - 1], salt))


# ---- pieces of the scan: each inlined into scan_batch at the numba IR level (inline="always"), so splitting the
# ---- scan costs no call and no reference counting of the arrays it passes

#: how a member of the reading object ends (_after_value)
_NEXT, _DONE, _FAIL = 0, 1, 2


@njit(inline="always")
def _skip_ws(buf, p, end):
    """The first position at or after p that is not JSON whitespace (space, LF, CR, tab), or end."""
    while p < end and (buf[p] == 32 or buf[p] == 10 or buf[p] == 13 or buf[p] == 9):
        p += 1
    return p


@njit(inline="always")
def _equal(buf, at, names, a, size):
    """buf[at:at + size] == names[a:a + size], 8 bytes at a time (both buffers end with 16 spare bytes)."""
    same = True
    q = 0
    while same and q < size:
        same = _same8(_load8(buf, at + q), _load8(names, a + q), size - q)
        q += 8
    return same


@njit(inline="always")
def _hash_at(buf, at, size, salt):
    """`name_hash` of the name buf[at:at + size] (size >= 1), from the same five bytes."""
    return _mix(size, buf[at], buf[at + min(1, size - 1)], buf[at + size // 2], buf[at + max(size - 2, 0)],
                buf[at + size - 1], salt)


@njit(inline="always")
def _string_end(buf, p, end):
    """(position of the closing quote, closed, wide) of the string whose text starts at p.

    8 bytes at a time up to the first quote, backslash, control or non-ASCII byte (_stops); a backslash or a
    control character leaves it unclosed (escapes are the general path's), a non-ASCII byte is stepped over and
    makes it `wide` (its UTF-8 is not validated here)."""
    wide = False
    closed = False
    while p < end:
        flags = _stops(_load8(buf, p))
        if flags == _U(0):
            p += 8
            continue
        p += np.int64(_cttz(flags) >> _U(3))  # the byte of the lowest flag: trailing zero bits / 8
        if p >= end:
            break
        c = buf[p]
        if c == 34:
            closed = True
            break
        if c < 128:
            break
        wide = True
        p += 1
    return p, closed, wide


@njit(inline="always")
def _guessed_key(buf, ks, end, g, key_names, key_off, key_words):
    """The key at ks is key entry g (its text, closing quote and colon): the first 16 bytes at once, masked
    (key_words holds each entry's first two words and their masks), then 8 at a time."""
    a = key_off[g]
    size = key_off[g + 1] - a
    if size <= 0 or ks + size > end:
        return False
    w = 4 * g
    if (((_load8(buf, ks) ^ key_words[w]) & key_words[w + 1])
            | ((_load8(buf, ks + 8) ^ key_words[w + 2]) & key_words[w + 3])) != _U(0):
        return False
    return _equal(buf, ks + 16, key_names, a + 16, size - 16)


@njit(inline="always")
def _top_key(buf, ks, size, key_names, key_off, n_sig):
    """The kind (_SITE ... _SIGNALS) of the top-level key at ks, `size` its bytes with the closing quote and a
    colon (entries n_sig to n_sig + 4 of the key table), or _UNKNOWN."""
    for j in range(n_sig, n_sig + 5):
        a = key_off[j]
        if key_off[j + 1] - a == size and _equal(buf, ks, key_names, a, size - 1):
            return j - n_sig + 1
    return _UNKNOWN


@njit(inline="always")
def _signal_column(buf, ks, size, key_names, key_off, sig_table, sig_mask):
    """The column of the known signal named by the key at ks (`size` as for _top_key), or -1: open addressing in
    sig_table by the name's hash (salt 0), collisions resolved by comparing bytes."""
    kl = size - 2  # the name without its quote and colon
    slot = np.int64(_hash_at(buf, ks, kl, 0) & _U(sig_mask))
    while True:
        j = sig_table[slot]
        if j < 0:
            return -1
        a = key_off[j]
        if key_off[j + 1] - a == size and _equal(buf, ks, key_names, a, size - 1):
            return j
        slot = (slot + 1) & sig_mask


@njit(inline="always")
def _seen_before(unknown, n_unknown, hk):
    """An unknown key of hash hk met earlier in this message (or no room to remember another): the general path
    refuses a key twice, so such a message falls back (a hash collision falls back too, harmlessly)."""
    if n_unknown == _UNKNOWN_KEYS:
        return True
    for u in range(n_unknown):
        if unknown[u] == hk:
            return True
    return False


@njit(inline="always")
def _site_entry(buf, vs, end, site_names, site_off):
    """(site index, position after the closing quote) of the site whose quoted name starts at vs, or (-1, vs)."""
    for j in range(site_off.shape[0] - 1):
        a = site_off[j]
        size = site_off[j + 1] - a
        if size > 0 and vs + size <= end and _equal(buf, vs, site_names, a, size):
            return j, vs + size
    return -1, vs


@njit(inline="always")
def _literal_end(buf, p, end, c):
    """The position after the literal `false`, `true` or `null` that starts at p (c = its first byte), or -1."""
    if c == 102:
        if end - p < 5 or buf[p + 1] != 97 or buf[p + 2] != 108 or buf[p + 3] != 115 or buf[p + 4] != 101:
            return -1
        return p + 5
    if c == 116:
        if end - p < 4 or buf[p + 1] != 114 or buf[p + 2] != 117 or buf[p + 3] != 101:
            return -1
        return p + 4
    if end - p < 4 or buf[p + 1] != 117 or buf[p + 2] != 108 or buf[p + 3] != 108:
        return -1
    return p + 4


@njit(inline="always")
def _digit_run(buf, p, end, m, nd):
    """Append the ASCII digits at p to the mantissa m (nd digits so far), 8 at a time: (p after them, m, digits
    read, long) where `long` means m would pass _MAX_DIGITS digits (then m stops growing and only strtod converts
    the number); a leading zero followed by digits gives digits read = -1."""
    read = 0
    long = False
    while p < end:
        x = _load8(buf, p)
        d = min(_digits(x), end - p)
        if d == 0:
            break
        if nd + read == 0 and d > 1 and (x & _U(0xFF)) == _U(48):
            return p, m, -1, long  # "0" then more digits is no JSON number
        if nd + read + d <= _MAX_DIGITS:
            m = m * _P10_INT[d] + _parse8(x, d)
        else:
            long = True
        read += d
        p += d
        if d < 8:
            break
    return p, m, read, long


@njit(inline="always")
def _number(buf, p, end):
    """The JSON number -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? at p: (position after it, or -1 when there is
    none, negative, mantissa m, exponent e, is_int, long); its value is ±m × 10**e unless `long`."""
    neg = buf[p] == 45
    if neg:
        p += 1
    p, m, nd, long = _digit_run(buf, p, end, 0, 0)
    if nd <= 0:
        return -1, neg, m, 0, True, long
    e = 0
    is_int = True
    if p < end and buf[p] == 46:
        is_int = False
        p, m, fd, more = _digit_run(buf, p + 1, end, m, nd)
        if fd <= 0:  # (fd = -1 cannot happen after the first digits)
            return -1, neg, m, 0, False, long
        long = long or more
        e = -fd
    if p < end and (buf[p] == 101 or buf[p] == 69):
        is_int = False
        p += 1
        eneg = False
        if p < end and (buf[p] == 43 or buf[p] == 45):
            eneg = buf[p] == 45
            p += 1
        x10 = 0
        xd = 0
        while p < end and buf[p] >= 48 and buf[p] <= 57:
            if x10 < 1000:  # beyond, the value is 0 or infinite either way
                x10 = x10 * 10 + np.int64(buf[p] - 48)
            xd += 1
            p += 1
        if xd == 0:
            return -1, neg, m, 0, False, long
        e += -x10 if eneg else x10
    return p, neg, m, e, is_int, long


@njit(inline="always")
def _float_value(buf, num, p, end, neg, m, e, is_int, long, correct_strtod):
    """(ok, value) of the number buf[num:p] as float() reads it. Exact fast path: a mantissa below 2**53 and
    |e| <= 22, so one multiply or divide by an exact power of ten rounds correctly; otherwise libc's strtod where it
    is correctly rounded (not for a number at the message's end: that never ends a valid message); an overflow is
    not ok (msgspec judges it)."""
    if long or m >= _MAX_MANTISSA or e < -22 or e > 22:
        if not correct_strtod or p >= end:
            return False, 0.0
        v = _strtod(buf, num, p)
        return np.isfinite(v), v
    if is_int:
        return True, float(-m if neg else m)  # as float(int): "-0" is 0.0
    v = float(m) * _P10[e] if e >= 0 else float(m) / _P10[-e]
    return True, -v if neg else v


@njit(inline="always")
def _after_value(buf, p, end, depth):
    """After a member's value: (p, depth, _NEXT) at the next key after a comma, (p, 1, _DONE) after the reading's
    closing brace (closing "signals" first when inside it), or _FAIL for anything else."""
    p = _skip_ws(buf, p, end)
    if p >= end:
        return p, depth, _FAIL
    c = buf[p]
    p += 1
    if c == 44:
        return _skip_ws(buf, p, end), depth, _NEXT
    if c != 125:
        return p, depth, _FAIL
    if depth == 2:  # the end of signals: then a comma or the end of the reading
        p = _skip_ws(buf, p, end)
        if p >= end:
            return p, 1, _FAIL
        c = buf[p]
        p += 1
        if c == 44:
            return _skip_ws(buf, p, end), 1, _NEXT
        if c != 125:
            return p, 1, _FAIL
    return p, 1, _DONE


@njit(inline="always")
def _machine_entry(buf, m_start, m_len, site, mach_names, mach_off, mach_site, mach_table):
    """The entry of machine buf[m_start:m_start + m_len] of site `site` in the open-addressed mach_table (hash salted
    with site + 1), or -1."""
    mask = mach_table.shape[0] - 1
    slot = np.int64(_hash_at(buf, m_start, m_len, site + 1) & _U(mask))
    while True:
        j = mach_table[slot]
        if j < 0:
            return -1
        a = mach_off[j]
        if mach_site[j] == site and mach_off[j + 1] - a == m_len and _equal(buf, m_start, mach_names, a, m_len):
            return j
        slot = (slot + 1) & mask


@njit(inline="always")
def _next_nul(buf, p, end):
    """The position of the first NUL byte at or after p, or end: 8 bytes at a time, a zero byte is the lowest one
    that borrows ((x - 0x01..01) & ~x & 0x80..80)."""
    while p < end:
        x = _load8(buf, p)
        flags = (x - _ONES) & ~x & _HIGH
        if flags != _U(0):
            return min(p + np.int64(_cttz(flags) >> _U(3)), end)
        p = min(p + 8, end)
    return p


@njit(inline="always")
def _scan_reading(buf, p, end, k, n_sig, key_names, key_off, key_words, sig_table, sig_mask, guess, site_names,
                  site_off, out_values, unknown, correct_strtod):
    """The members of the reading object whose first key starts at p; known signals go to out_values[k].

    Returns (done, p, site, m_start, m_len, ts, seq, have_ts, have_signals): `done` when the object closed with
    everything understood (p after it), else the message falls back. Each key is first compared with the key the
    previous message had at the same turn (`guess`: gateways repeat their key order), else scanned and looked up.
    """
    n_guess = guess.shape[0]
    site = -1
    m_start = -1
    m_len = 0
    ts = 0
    seq = -1
    have_ts = False
    have_seq = False
    have_signals = False
    depth = 1  # 1: the reading object, 2: inside "signals"
    n_unknown = 0
    turn = 0
    while True:  # one member per turn
        # ---- the key
        if p >= end or buf[p] != 34:
            break
        p += 1
        ks = p
        kind = _UNKNOWN
        col = -1
        colon = False
        g = guess[turn] if turn < n_guess else -1
        if g >= 0 and (g < n_sig) == (depth == 2) and _guessed_key(buf, ks, end, g, key_names, key_off, key_words):
            p = ks + key_off[g + 1] - key_off[g]  # after the colon
            colon = True
            if g < n_sig:
                kind = _KNOWN_SIGNAL
                col = g
            else:
                kind = g - n_sig + 1
        if kind == _UNKNOWN:
            p, closed, wide = _string_end(buf, p, end)
            if not closed:
                break
            p += 1
            size = p - ks + 1  # with the closing quote and a colon
            first = n_sig if depth == 1 else 0
            if depth == 1:
                kind = _top_key(buf, ks, size, key_names, key_off, n_sig)
            elif size > 2:
                col = _signal_column(buf, ks, size, key_names, key_off, sig_table, sig_mask)
                if col >= 0:
                    kind = _KNOWN_SIGNAL
            if kind == _UNKNOWN:
                if wide:
                    break  # not validated as UTF-8 here
                kl = p - ks - 1
                hk = _hash_at(buf, ks, kl, depth) if kl > 0 else _U(depth)
                if _seen_before(unknown, n_unknown, hk):
                    break
                unknown[n_unknown] = hk
                n_unknown += 1
            if turn < n_guess:
                if kind == _KNOWN_SIGNAL:
                    guess[turn] = col
                elif kind != _UNKNOWN:
                    guess[turn] = first + kind - 1
                else:
                    guess[turn] = -1
        turn += 1
        if not colon:
            p = _skip_ws(buf, p, end)
            if p >= end or buf[p] != 58:
                break
            p += 1
        p = _skip_ws(buf, p, end)
        if p >= end:
            break
        # ---- the value
        c = buf[p]
        if c == 123:  # "signals": {
            if kind != _SIGNALS or have_signals:
                break
            have_signals = True
            depth = 2
            p = _skip_ws(buf, p + 1, end)
            if p >= end:
                break
            if buf[p] != 125:
                continue  # the first signal's key
            depth = 1  # an empty signals object
            p += 1
        elif c == 34:  # a string
            p += 1
            vs = p
            if kind == _SITE:
                if site >= 0:
                    break
                site, p = _site_entry(buf, vs, end, site_names, site_off)
                if site < 0:
                    break  # an unknown site (or an escape): the general path names it
            else:
                p, closed, wide = _string_end(buf, p, end)
                if not closed:
                    break
                if kind == _MACHINE:
                    if m_start >= 0:
                        break
                    m_start = vs
                    m_len = p - vs
                elif kind != _UNKNOWN or wide:
                    break
                p += 1
        elif c == 116 or c == 102 or c == 110:  # true, false, null
            if kind != _UNKNOWN or (c == 110 and depth == 2):
                break  # a null signal is refused by the general path, accepted by the typed one
            p = _literal_end(buf, p, end, c)
            if p < 0:
                break
        else:
            num = p  # where strtod starts
            p, neg, m, e, is_int, long = _number(buf, p, end)
            if p < 0:
                break
            if kind == _TS or kind == _SEQ:
                if not is_int or long:
                    break  # a float timestamp or seq, or one beyond 18 digits: the general path judges it
                if kind == _TS:
                    if have_ts:
                        break
                    have_ts = True
                    ts = -m if neg else m
                else:
                    if have_seq:
                        break
                    have_seq = True
                    seq = -m if neg else m
            elif kind == _KNOWN_SIGNAL or kind == _UNKNOWN:
                ok, v = _float_value(buf, num, p, end, neg, m, e, is_int, long, correct_strtod)
                if not ok:
                    break
                if kind == _KNOWN_SIGNAL:
                    if not np.isnan(out_values[k, col]):
                        break  # a known signal twice
                    out_values[k, col] = v
            else:
                break  # a number for site, machine or signals
        # ---- after the value
        p, depth, step = _after_value(buf, p, end, depth)
        if step == _NEXT:
            continue
        return step == _DONE, p, site, m_start, m_len, ts, seq, have_ts, have_signals
    return False, p, site, m_start, m_len, ts, seq, have_ts, have_signals


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

"""The named pieces of the byte scanner's scan (andon.wire.json_scan.scan_batch): each inlined into it at the numba
IR level (inline="always"), so cutting the scan up costs no call; the scan runs without reference counting, so the
arrays they take cost nothing either."""

from __future__ import annotations

import numpy as np
from numba import njit

from andon.wire.scan_words import (
    _HIGH,
    _KNOWN_SIGNAL,
    _MACHINE,
    _MAX_DIGITS,
    _MAX_MANTISSA,
    _ONES,
    _P10,
    _P10_INT,
    _SEQ,
    _SIGNALS,
    _SITE,
    _TS,
    _U,
    _UNKNOWN,
    _UNKNOWN_KEYS,
    _cttz,
    _digits,
    _load8,
    _mix,
    _parse8,
    _same8,
    _stops,
    _strtod,
)

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

"""What every JSON message must pass before a decoder reads it: UTF-8, bounded nesting, no duplicate keys.

The decoders (msgspec, the numba scanner) are fast and lenient in places a strict reader is not: msgspec skips
unknown fields without validating their UTF-8, takes the last of two equal keys, and counts nesting with Python's
recursion limit. Two readers of the same bytes must never disagree (a parser differential), so a message that
any strict JSON reader could read differently is refused here, with a reason, before it is decoded.

Example::

    refusal = screen(b'{"ts": 1, "ts": 2}')
    refusal.kind, refusal.detail        # ("duplicate_key", "key 'ts' appears twice in one object")
"""

from __future__ import annotations

import json
import re
from typing import NamedTuple

#: Deepest nesting of arrays and objects a message may have (a reading is 3 deep: array, reading, signals).
MAX_DEPTH = 32

_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


class Refusal(NamedTuple):
    """Why a message is refused before decoding: `kind` is invalid_utf8, nesting_too_deep or duplicate_key."""

    kind: str
    detail: str


class _DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return out


_ESCAPES = re.compile(rb"\\(u[0-9a-fA-F]{4}|.)", re.DOTALL)


def _lone_surrogate(raw: bytes) -> str | None:
    """The first \\uD800-\\uDFFF escape that is not half of a high-low pair, or None."""
    pending = None  # (escape, end) of a high surrogate waiting for its low half
    for m in _ESCAPES.finditer(raw):
        esc = m.group(1)
        code = int(esc[1:], 16) if len(esc) == 5 else -1
        if pending is not None:
            if 0xDC00 <= code <= 0xDFFF and m.start() == pending[1]:
                pending = None
                continue
            return "\\" + pending[0].decode()
        if 0xD800 <= code <= 0xDBFF:
            pending = (esc, m.end())
        elif 0xDC00 <= code <= 0xDFFF:
            return "\\" + esc.decode()
    return None if pending is None else "\\" + pending[0].decode()


def depth(raw: bytes) -> int:
    """Deepest nesting of `[`/`{` outside strings (an unterminated string ends the count)."""
    level = deepest = 0
    for token in _TOKENS.findall(raw):
        c = token[0]
        if c == 0x5B or c == 0x7B:  # [ {
            level += 1
            deepest = max(deepest, level)
        elif c == 0x5D or c == 0x7D:  # ] }
            level -= 1
    return deepest


def screen(raw: bytes, max_depth: int = MAX_DEPTH) -> Refusal | None:
    """A Refusal when `raw` is not UTF-8, nests deeper than `max_depth` or repeats a key in an object; else None.

    Malformed JSON is not judged here (the decoder names what is wrong with it)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Refusal("invalid_utf8", f"byte {exc.start} (0x{raw[exc.start]:02x}) is not valid UTF-8: {exc.reason}")
    if raw.count(b"[") + raw.count(b"{") > max_depth:  # cheap bound first: few brackets cannot nest deep
        deepest = depth(raw)
        if deepest > max_depth:
            return Refusal("nesting_too_deep", f"arrays/objects nest {deepest} deep, more than {max_depth}")
    if b"\\u" in raw:
        lone = _lone_surrogate(raw)
        if lone is not None:
            return Refusal("invalid_utf8", f"the escape {lone} at byte {raw.find(lone.encode())} is half of a "
                                           "surrogate pair: no Unicode text")
    if b'"' not in raw or (b"{" not in raw):
        return None
    try:
        json.loads(text, object_pairs_hook=_no_duplicates)
    except _DuplicateKey as exc:
        return Refusal("duplicate_key", f"key {exc.args[0]!r} appears twice in one object")
    except (ValueError, RecursionError):
        return None  # malformed: the decoder says how
    return None

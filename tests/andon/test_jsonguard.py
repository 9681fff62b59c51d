"""The screen in front of every JSON decoder: UTF-8, bounded nesting and unique keys, checked before decoding."""

from __future__ import annotations

import json

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from andon.events import EventError, decode_event
from andon.jsonguard import MAX_DEPTH, depth, screen

CASES = [
    (b'{"a": 1}', None),
    (b"[]", None),
    (b"not json at all {", None),  # malformed JSON is the decoder's to name
    (b"\x80", "invalid_utf8"),
    (b'{"a": "\xc3"}', "invalid_utf8"),
    (b'{"a": "\xed\xa0\x80"}', "invalid_utf8"),  # an encoded surrogate is no UTF-8
    (b'{"a": 1, "a": 2}', "duplicate_key"),
    (b'{"a": 1, "\\u0061": 2}', "duplicate_key"),  # equal once unescaped
    (b'{"o": {"k": 1, "k": 1}}', "duplicate_key"),
    (b'[{"k": 1}, {"k": 1}]', None),  # equal keys in different objects are fine
    (b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), "nesting_too_deep"),
    (b"[" * MAX_DEPTH + b"]" * MAX_DEPTH, None),
    (b'{"a": "' + b"[" * 5000 + b'"}', None),  # brackets inside a string do not nest
    (b'{"a": "\\"' + b"[" * 5000 + b'"}', None),  # nor after an escaped quote
    (b"{" * 100_000, "nesting_too_deep"),
    (b'{"a": "\\ud800"}', "invalid_utf8"),  # half a surrogate pair (json.loads takes it, msgspec refuses it)
    (b'{"a": "\\udc00x"}', "invalid_utf8"),
    (b'{"a": "\\ud83d\\ude00"}', None),  # a whole pair
    (b'{"a": "\\\\ud800"}', None),  # an escaped backslash, then text
    (b'{"a": "\\u12', None),  # a cut escape is the decoder's to name (the corpus found the screen raising here)
]


@pytest.mark.parametrize(("raw", "kind"), CASES, ids=[f"{i}-{k}" for i, (_, k) in enumerate(CASES)])
def test_screen(raw, kind):
    refusal = screen(raw)
    assert (refusal.kind if refusal else None) == kind
    if refusal:
        assert refusal.detail


def _python_depth(value) -> int:
    if isinstance(value, list):
        return 1 + max((_python_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_python_depth(v) for v in value.values()), default=0)
    return 0


json_values = st.recursive(st.none() | st.integers() | st.text(alphabet='ab"\\[]{}', max_size=6),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner,
                                                                                       max_size=3), max_leaves=20)


@given(json_values)
@example(["[", {"]": "\\"}])
def test_depth_counts_brackets_outside_strings_only(value):
    assert depth(json.dumps(value).encode()) == _python_depth(value)


@pytest.mark.parametrize("raw", [b'{"event_id": "a", "event_id": "b"}', b"\xff", b"[" * 5000])
def test_event_decoder_refuses_what_the_screen_refuses(raw):
    with pytest.raises(EventError):
        decode_event(raw)

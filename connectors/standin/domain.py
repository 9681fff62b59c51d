"""Odoo search domains: prefix-notation lists of leaves `(field, operator, value)` and '&', '|', '!' operators.

`matches(domain, get)` evaluates a domain against one record, where `get(path)` returns the record's value for a
field path (dotted paths follow many2one fields) and `get_name(path)` its display name.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from andon.connectors.standin.exceptions import ProgrammingError

OPERATORS = ("=", "!=", "<>", "<", "<=", ">", ">=", "in", "not in", "like", "not like", "ilike", "not ilike",
             "=like", "=ilike", "=?")


def _is_leaf(term: Any) -> bool:
    return isinstance(term, list | tuple) and len(term) == 3 and isinstance(term[0], str)


def normalize(domain: Any) -> list:
    """Return `domain` in full prefix form (implicit '&' made explicit); raise on malformed terms."""
    if domain in (None, False):
        return []
    if not isinstance(domain, list | tuple):
        raise ProgrammingError(f"Invalid domain {domain!r}: a domain is a list of terms")
    out: list = []
    expected = 1
    for term in domain:
        if expected == 0:
            out.insert(0, "&")
            expected = 1
        if term in ("&", "|"):
            expected += 1
        elif term == "!":
            pass
        elif _is_leaf(term):
            if term[1] not in OPERATORS:
                raise ProgrammingError(f"Invalid leaf {list(term)!r}: operator {term[1]!r} is not supported")
            expected -= 1
        elif term in (1, 0, True, False) or (isinstance(term, list | tuple) and len(term) == 3):
            expected -= 1
        else:
            raise ProgrammingError(f"Invalid domain term {term!r}")
        out.append(tuple(term) if isinstance(term, list) else term)
    if expected != 0 and out:
        raise ProgrammingError(f"Invalid domain {domain!r}: operators and leaves do not balance")
    return out


def _like(pattern: str, value: Any, *, anchored: bool, case: bool) -> bool:
    if value in (None, False):
        return False
    text = str(value)
    if anchored:
        regex = "^" + "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern) + "$"
        return re.match(regex, text, 0 if case else re.IGNORECASE | re.DOTALL) is not None
    return pattern in text if case else pattern.lower() in text.lower()


def _compare(op: str, actual: Any, value: Any, name: Callable[[], str | None]) -> bool:
    if isinstance(actual, list) and op in ("=", "in", "!=", "not in"):  # x2many: any of the linked ids
        values = set(value) if isinstance(value, list | tuple | set) else {value}
        hit = bool(values & set(actual)) or (not actual and (False in values or None in values))
        return hit if op in ("=", "in") else not hit
    null = actual is None or actual is False
    if isinstance(value, str) and isinstance(actual, int) and not isinstance(actual, bool) and op in (
            "=", "!=", "<>", "like", "ilike", "not like", "not ilike", "=like", "=ilike"):
        actual = name()  # many2one compared with a name, as Odoo does
        null = actual is None
    if op == "=?":
        return True if value in (None, False) else _compare("=", actual, value, name)
    if op in ("=", "!=", "<>"):
        if value is False or value is None:
            equal = null or actual is False
        elif isinstance(value, bool):
            equal = bool(actual) == value
        else:
            equal = actual == value
        return equal if op == "=" else not equal
    if op in ("in", "not in"):
        values = list(value) if isinstance(value, list | tuple | set) else [value]
        hit = actual in values or (null and False in values)
        return hit if op == "in" else not hit
    if op in ("like", "ilike", "not like", "not ilike"):
        hit = _like(str(value), actual, anchored=False, case=op in ("like", "not like"))
        return hit if not op.startswith("not") else not hit
    if op in ("=like", "=ilike"):
        return _like(str(value), actual, anchored=True, case=op == "=like")
    if null or value in (None, False):
        return False
    try:
        return {"<": actual < value, "<=": actual <= value, ">": actual > value, ">=": actual >= value}[op]
    except TypeError:
        raise ProgrammingError(f"cannot compare {actual!r} {op} {value!r}") from None


def matches(domain: list, get: Callable[[str], Any], get_name: Callable[[str], str | None]) -> bool:
    """Evaluate a normalized domain against one record."""
    if not domain:
        return True
    stack: list[bool] = []
    for term in reversed(domain):
        if term == "&":
            stack.append(stack.pop() and stack.pop())
        elif term == "|":
            a, b = stack.pop(), stack.pop()
            stack.append(a or b)
        elif term == "!":
            stack.append(not stack.pop())
        elif term in (1, True):
            stack.append(True)
        elif term in (0, False):
            stack.append(False)
        else:
            path, op, value = term
            if path == 1:
                stack.append(op == "=" and value == 1)
                continue
            stack.append(_compare(op, get(path), value, lambda p=path: get_name(p)))
    return all(stack)

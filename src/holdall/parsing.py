"""Strict parsing of the numbers and JSON that requests carry.

``str.isdigit`` accepts ``²`` and ``١``, and ``int`` refuses texts of over 4,300 digits with a
ValueError nobody expects: every number from a request goes through :func:`ascii_uint` instead.
JSON from a request goes through :func:`loads_bounded`, which refuses deep nesting before the
recursive decoder sees it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from holdall.errors import BadRequest

MAX_DIGITS = 19
"""Enough for any int64; more is not a number holdall takes."""
MAX_JSON_DEPTH = 32


def is_ascii_uint(text: str, max_digits: int = MAX_DIGITS) -> bool:
    return 0 < len(text) <= max_digits and text.isascii() and text.isdigit()


def ascii_uint(text: str, max_digits: int = MAX_DIGITS) -> int:
    """``text`` as a non-negative integer of ASCII digits only; ValueError otherwise."""
    if not is_ascii_uint(text, max_digits):
        raise ValueError(f"{text[:40]!r} is not a number of at most {max_digits} ASCII digits")
    return int(text)


def json_depth(text: str) -> int:
    """How deeply the arrays and objects of ``text`` nest (brackets inside strings not counted)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def loads_bounded(text: str | bytes, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``json.loads`` that refuses (ValueError) nesting deeper than ``max_depth``."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    if json_depth(text) > max_depth:
        raise ValueError(f"the JSON nests deeper than {max_depth} levels")
    return json.loads(text)


def is_header_safe(value: str) -> bool:
    """Whether ``value`` can go out as a response header: printable Latin-1, tabs allowed."""
    return all(" " <= char <= "~" or char == "\t" or "\xa0" <= char <= "\xff" for char in value)


def query_int(query: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    """An integer query parameter from ``low`` to ``high``; ``default`` when it is absent or empty."""
    raw = query.get(name, "")
    if raw == "":
        return default
    if not is_ascii_uint(raw.removeprefix("-")):
        raise BadRequest(f"{name} must be an integer")
    value = int(raw)
    if not low <= value <= high:
        raise BadRequest(f"{name} must be between {low} and {high}")
    return value

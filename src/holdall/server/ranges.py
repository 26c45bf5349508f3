"""One HTTP byte range (RFC 9110 §14.1.2), resolved against an object's size."""

from __future__ import annotations

import re

from holdall.errors import BadRequest, RangeNotSatisfiable
from holdall.parsing import MAX_DIGITS

_RANGE = re.compile(r"^\s*bytes\s*=\s*([0-9]*)\s*-\s*([0-9]*)\s*$", re.IGNORECASE)


def parse_range(header: str, size: int) -> tuple[int, int]:
    """The inclusive (first, last) byte positions asked for by a single-range header."""
    if "," in header:
        if not re.match(r"^\s*bytes\s*=", header, re.IGNORECASE):
            raise BadRequest(f"malformed Range {header!r}")
        raise RangeNotSatisfiable(size, "only a single byte range is supported")
    match = _RANGE.match(header)
    if match is None or (not match.group(1) and not match.group(2)):
        raise BadRequest(f"malformed Range {header!r}: expected bytes=first-last, bytes=first- or bytes=-suffix")
    first, last = match.group(1), match.group(2)
    if len(first) > MAX_DIGITS or len(last) > MAX_DIGITS:
        raise RangeNotSatisfiable(size, f"a Range position has at most {MAX_DIGITS} digits")
    if not first:
        length = int(last)
        if length == 0 or size == 0:
            raise RangeNotSatisfiable(size)
        return max(0, size - length), size - 1
    start = int(first)
    if last and int(last) < start:
        raise BadRequest(f"malformed Range {header!r}: the last byte comes before the first")
    if start >= size:
        raise RangeNotSatisfiable(size)
    return start, min(int(last), size - 1) if last else size - 1

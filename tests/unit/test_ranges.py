from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from holdall.errors import BadRequest, RangeNotSatisfiable
from holdall.server.ranges import parse_range


def test_forms() -> None:
    assert parse_range("bytes=0-9", 100) == (0, 9)
    assert parse_range("bytes=90-", 100) == (90, 99)
    assert parse_range("bytes=-10", 100) == (90, 99)
    assert parse_range("bytes=-1000", 100) == (0, 99)
    assert parse_range("bytes=50-5000", 100) == (50, 99)
    assert parse_range("BYTES = 1 - 2", 100) == (1, 2)


@pytest.mark.parametrize("header", ["bytes=", "bytes=-", "bytes=a-b", "items=0-1", "bytes=5-1", "0-1"])
def test_malformed(header: str) -> None:
    with pytest.raises(BadRequest):
        parse_range(header, 100)


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=-0", "bytes=0-1,3-4"])
def test_unsatisfiable(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, 100)


@given(st.text(max_size=30), st.integers(min_value=0, max_value=10**6))
def test_never_anything_but_a_range_or_a_4xx(header: str, size: int) -> None:
    try:
        first, last = parse_range(header, size)
    except (BadRequest, RangeNotSatisfiable):
        return
    assert 0 <= first <= last < size

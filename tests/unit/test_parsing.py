from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from holdall.parsing import MAX_DIGITS, ascii_uint, is_header_safe, json_depth, loads_bounded


@given(st.text(max_size=30))
def test_ascii_uint_takes_ascii_digits_only(text: str) -> None:
    try:
        value = ascii_uint(text)
    except ValueError:
        assert not (text.isascii() and text.isdigit() and len(text) <= MAX_DIGITS)
    else:
        assert text.isascii() and text.isdigit() and value == int(text)


@pytest.mark.parametrize("text", ["²", "١٢", "+1", " 1", "1_000", "-1", "", "9" * 5000])
def test_ascii_uint_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        ascii_uint(text)


@given(st.integers(min_value=1, max_value=200), st.sampled_from(["[]", "{}"]))
def test_nesting_is_bounded(depth: int, pair: str) -> None:
    text = pair[0] * depth + pair[1] * depth if pair == "[]" else '{"a":' * depth + "1" + "}" * depth
    if depth <= 32:
        loads_bounded(text)
    else:
        with pytest.raises(ValueError):
            loads_bounded(text)


def test_deep_json_never_recurses() -> None:
    with pytest.raises(ValueError):
        loads_bounded("[" * 100_000)
    assert json_depth('["[[[[", {"a": "}}}"}]') == 2


def test_header_safety() -> None:
    assert is_header_safe("text/plain; charset=utf-8")
    assert not is_header_safe("text/plain\r\nX-Evil: 1")
    assert not is_header_safe("a\x00b") and not is_header_safe("a\x7fb")

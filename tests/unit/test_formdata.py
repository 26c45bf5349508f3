from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from holdall.errors import BadRequest
from holdall.server.formdata import FormReader, boundary_of


def body(file_bytes: bytes, closing: bytes = b"--b--\r\n") -> bytes:
    return (
        b'--b\r\nContent-Disposition: form-data; name="FileName"\r\n\r\nkey\r\n'
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="f.bin"\r\nContent-Type: x/y\r\n\r\n'
        + file_bytes
        + b"\r\n"
        + closing
    )


async def feed(data: bytes, cuts: list[int]) -> AsyncIterator[bytes]:
    offset = 0
    for cut in cuts:
        if offset < len(data):
            yield data[offset : offset + cut]
            offset += cut
    if offset < len(data):
        yield data[offset:]


def parse(data: bytes, cuts: list[int]) -> tuple[dict[str, str], str, bytes]:
    async def run() -> tuple[dict[str, str], str, bytes]:
        reader = FormReader(feed(data, cuts), b"b")
        fields, part = await reader.fields_then_file()
        assert part is not None
        content = b"".join([chunk async for chunk in reader.file_chunks()])
        await reader.finish()
        return fields, part.content_type, content

    return asyncio.run(run())


@settings(max_examples=60, deadline=None)
@given(
    st.binary(max_size=3000).filter(lambda b: b"\r\n--b" not in b),
    st.lists(st.integers(min_value=1, max_value=400), max_size=20),
    st.sampled_from([b"--b--\r\n", b"--b\r\n", b"--b--"]),
)
def test_any_chunking_and_both_endings(file_bytes: bytes, cuts: list[int], closing: bytes) -> None:
    fields, content_type, content = parse(body(file_bytes, closing), cuts)
    assert fields == {"FileName": "key"}
    assert content_type == "x/y"
    assert content == file_bytes


def test_missing_closing_boundary_is_an_error() -> None:
    with pytest.raises(BadRequest):
        parse(body(b"abc")[:-12], [7])


def test_boundary_of() -> None:
    assert boundary_of('multipart/form-data; boundary="abc"') == b"abc"
    with pytest.raises(BadRequest):
        boundary_of("text/plain")
    with pytest.raises(BadRequest):
        boundary_of("multipart/form-data")

"""aws-chunked bodies against the example AWS publishes for STREAMING-AWS4-HMAC-SHA256-PAYLOAD
(66,560 bytes of ``a`` in 64 KiB chunks, signed on 2013-05-24 for examplebucket/chunkObject.txt)."""

from __future__ import annotations

import asyncio
import base64
import zlib
from collections.abc import AsyncIterator

import pytest

from holdall.auth import v4
from holdall.errors import BadRequest, ChecksumMismatch, SignatureMismatch
from holdall.server import aws_chunked
from holdall.server.http import BodyIncomplete

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SEED = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
CHUNK_SIGNATURES = (
    "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
    "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
    "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
)
SIGNER = aws_chunked.ChunkSigner(
    v4.signing_key(v4.AWS4, SECRET, "20130524", "us-east-1"),
    "20130524T000000Z",
    "20130524/us-east-1/s3/aws4_request",
    SEED,
)
DATA = b"a" * 66560


def example_body() -> bytes:
    pieces = [DATA[:65536], DATA[65536:], b""]
    return b"".join(
        f"{len(piece):x};chunk-signature={signature}\r\n".encode() + piece + b"\r\n"
        for piece, signature in zip(pieces, CHUNK_SIGNATURES, strict=True)
    )


async def _source(body: bytes, step: int) -> AsyncIterator[bytes]:
    for start in range(0, len(body), step):
        yield body[start : start + step]


def decode(body: bytes, framing: aws_chunked.Framing, step: int = 1000) -> bytes:
    async def run() -> bytes:
        return b"".join([piece async for piece in aws_chunked.decode(_source(body, step), framing)])

    return asyncio.run(run())


def signed(length: int = len(DATA)) -> aws_chunked.Framing:
    return aws_chunked.Framing(SIGNER, "", length, {})


@pytest.mark.parametrize("step", [7, 1000, 70000])
def test_the_published_example_decodes_in_any_split(step: int) -> None:
    assert decode(example_body(), signed(), step) == DATA


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (lambda body: body.replace(b"a" * 10, b"a" * 9 + b"b", 1), SignatureMismatch),
        (lambda body: body.replace(CHUNK_SIGNATURES[2].encode(), b"0" * 64), SignatureMismatch),
        (lambda body: body.replace(CHUNK_SIGNATURES[0].encode(), b"\xe9" * 64), SignatureMismatch),
        (lambda body: body.replace(b";chunk-signature=" + CHUNK_SIGNATURES[1].encode(), b""), SignatureMismatch),
        (lambda body: body[:-5], BodyIncomplete),
        (lambda body: body + b"extra", BadRequest),
        (lambda body: b"zz" + body, BadRequest),
        (lambda body: body.replace(b"10000;", b"10001;", 1), SignatureMismatch),
        (lambda body: body.replace(b"10000;", b"1000000000000000000;", 1), BadRequest),
    ],
)
def test_a_changed_body_is_refused(change: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        decode(change(example_body()), signed())  # type: ignore[operator]


def test_a_body_longer_or_shorter_than_its_decoded_length_is_refused() -> None:
    with pytest.raises(BadRequest):
        decode(example_body(), signed(len(DATA) - 1))
    with pytest.raises(BodyIncomplete):
        decode(example_body(), signed(len(DATA) + 1))


def test_an_unsigned_trailer_checksum_is_checked() -> None:
    crc = base64.b64encode(zlib.crc32(b"hello world").to_bytes(4, "big")).decode()
    body = f"5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:{crc}\r\n\r\n".encode()
    found: dict[str, str] = {}
    assert decode(body, aws_chunked.Framing(None, "crc32", 11, found), step=3) == b"hello world"
    assert found == {"crc32": crc}
    with pytest.raises(ChecksumMismatch):
        decode(body.replace(b"world", b"w0rld"), aws_chunked.Framing(None, "crc32", 11, {}))
    with pytest.raises(BadRequest):
        renamed = body.replace(b"x-amz-checksum-crc32", b"x-amz-checksum-sha1")
        decode(renamed, aws_chunked.Framing(None, "crc32", 11, {}))

"""``Content-Encoding: aws-chunked`` bodies, decoded while they stream.

::

    STREAMING-AWS4-HMAC-SHA256-PAYLOAD  <hex size>;chunk-signature=<sig> CRLF <bytes> CRLF …
                                        0;chunk-signature=<sig> CRLF CRLF
    …-PAYLOAD-TRAILER                   the same, then <name>:<value> CRLF … x-amz-trailer-signature:<sig> CRLF CRLF
    STREAMING-UNSIGNED-PAYLOAD-TRAILER  <hex size> CRLF <bytes> CRLF … 0 CRLF <name>:<value> CRLF CRLF

Each chunk signature chains from the one before it, the first from the request's own signature.
Bytes are passed on as they arrive and a chunk's signature is checked at its end: a bad one raises
before the body ends, so the write it feeds is aborted and nothing is stored. A trailing checksum is
checked against the decoded bytes the same way.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import AsyncIterator
from dataclasses import dataclass

from holdall.errors import BadRequest, ChecksumMismatch, SignatureMismatch
from holdall.server.http import BodyIncomplete
from holdall.service.digests import ALGORITHMS, Hasher

SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
PAYLOADS = (SIGNED, SIGNED_TRAILER, UNSIGNED_TRAILER)
TRAILER_CHECKSUMS = ("crc32", "crc32c", "sha1", "sha256")
MAX_LINE = 4096
MAX_TRAILER_LINES = 8
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


@dataclass(frozen=True, slots=True)
class ChunkSigner:
    """What the chunk signatures are computed from: the V4 signing key, the request's timestamp and
    scope, and its own signature (the seed)."""

    key: bytes
    timestamp: str
    scope: str
    seed: str

    def sign(self, kind: str, previous: str, digest: str) -> str:
        text = f"AWS4-HMAC-SHA256-{kind}\n{self.timestamp}\n{self.scope}\n{previous}\n"
        text += f"{EMPTY_SHA256}\n{digest}" if kind == "PAYLOAD" else digest
        return hmac.new(self.key, text.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class Framing:
    """How one request's body is framed: ``signer`` None for unsigned chunks; ``trailer`` the
    checksum algorithm the trailer carries ("" for none); ``decoded_length`` the body's real size."""

    signer: ChunkSigner | None
    trailer: str
    decoded_length: int
    trailed: dict[str, str]
    """Filled with the trailer's checksum (algorithm → base64) once the body has been read."""


class _Reader:
    def __init__(self, source: AsyncIterator[bytes]) -> None:
        self._source = source
        self._buffer = b""
        self._at = 0

    async def _more(self) -> None:
        try:
            chunk = await anext(self._source)
        except StopAsyncIteration:
            raise BodyIncomplete("the aws-chunked body ended before its last chunk") from None
        self._buffer = self._buffer[self._at :] + chunk
        self._at = 0

    async def line(self) -> bytes:
        while True:
            end = self._buffer.find(b"\r\n", self._at)
            if end >= 0:
                found = self._buffer[self._at : end]
                self._at = end + 2
                return found
            if len(self._buffer) - self._at > MAX_LINE:
                raise BadRequest("an aws-chunked chunk header is too long")
            await self._more()

    async def take(self, size: int) -> AsyncIterator[bytes]:
        while size:
            if self._at >= len(self._buffer):
                await self._more()
            piece = self._buffer[self._at : self._at + size]
            self._at += len(piece)
            size -= len(piece)
            yield piece

    async def at_end(self) -> bool:
        if self._at < len(self._buffer):
            return False
        async for chunk in self._source:
            if chunk:
                return False
        return True


def _chunk_header(line: bytes, signed: bool) -> tuple[int, str]:
    size_text, _, extension = line.partition(b";")
    try:
        text = size_text.decode("ascii").strip()
        size = int(text, 16) if 0 < len(text) <= 16 and text.isalnum() else -1
    except (UnicodeDecodeError, ValueError):
        size = -1
    if size < 0:
        raise BadRequest("an aws-chunked chunk header does not start with a hexadecimal size")
    if not signed:
        return size, ""
    name, _, signature = extension.decode("latin-1").partition("=")
    if name != "chunk-signature" or not signature:
        raise SignatureMismatch("an aws-chunked chunk carries no chunk-signature")
    return size, signature


async def decode(source: AsyncIterator[bytes], framing: Framing) -> AsyncIterator[bytes]:
    """The bytes the chunks carry; raises on a bad signature, framing, size or trailing checksum."""
    reader, signer = _Reader(source), framing.signer
    hasher = ALGORITHMS[framing.trailer]() if framing.trailer else None
    previous = signer.seed if signer else ""
    total = 0
    while True:
        size, claimed = _chunk_header(await reader.line(), signer is not None)
        total += size
        if total > framing.decoded_length:
            raise BadRequest("the aws-chunked body holds more than x-amz-decoded-content-length")
        digest = hashlib.sha256() if signer else None
        async for piece in reader.take(size):
            if digest is not None:
                digest.update(piece)
            if hasher is not None:
                hasher.update(piece)
            yield piece
        if signer is not None and digest is not None:
            expected = signer.sign("PAYLOAD", previous, digest.hexdigest())
            if not hmac.compare_digest(expected.encode(), claimed.encode()):
                raise SignatureMismatch("an aws-chunked chunk's signature does not match")
            previous = claimed
        if size == 0:
            break
        if await reader.line() != b"":
            raise BadRequest("an aws-chunked chunk is longer than its size")
    if total != framing.decoded_length:
        raise BodyIncomplete("the aws-chunked body holds less than x-amz-decoded-content-length")
    await _trailer(reader, framing, previous, hasher)
    if not await reader.at_end():
        raise BadRequest("bytes follow the last aws-chunked chunk")


async def _trailer(reader: _Reader, framing: Framing, previous: str, hasher: Hasher | None) -> None:
    lines = []
    while (line := await reader.line()) != b"":
        lines.append(line.decode("latin-1"))
        if len(lines) > MAX_TRAILER_LINES:
            raise BadRequest("the aws-chunked trailer is too long")
    fields = dict(line.partition(":")[::2] for line in lines)
    fields = {name.strip().lower(): value.strip() for name, value in fields.items()}
    signature = fields.pop("x-amz-trailer-signature", None)
    if framing.signer is not None and framing.trailer:
        text = "".join(f"{name}:{value}\n" for name, value in fields.items())
        wanted = framing.signer.sign("TRAILER", previous, hashlib.sha256(text.encode()).hexdigest())
        if signature is None or not hmac.compare_digest(wanted.encode(), signature.encode()):
            raise SignatureMismatch("the aws-chunked trailer's signature does not match")
    if not framing.trailer:
        if fields:
            raise BadRequest("the aws-chunked body has a trailer that x-amz-trailer did not announce")
        return
    value = fields.get(f"x-amz-checksum-{framing.trailer}")
    if value is None or set(fields) != {f"x-amz-checksum-{framing.trailer}"}:
        raise BadRequest(f"the trailer must carry x-amz-checksum-{framing.trailer} and nothing else")
    try:
        claimed = base64.b64decode(value, validate=True)
    except binascii.Error:
        raise BadRequest(f"x-amz-checksum-{framing.trailer} is not base64") from None
    if hasher is None or hasher.digest() != claimed:
        raise ChecksumMismatch(f"The {framing.trailer.upper()} you specified did not match the calculated checksum.")
    framing.trailed[framing.trailer] = value

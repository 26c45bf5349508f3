"""A streaming multipart/form-data reader for form uploads.

The fields before the file are read into memory (small, bounded); the file is handed on chunk by
chunk so it never sits in memory whole. The ufile SDK ends its body with ``--boundary\\r\\n``
instead of ``--boundary--``: end of input right after a delimiter also ends the form.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

from holdall.errors import BadRequest

MAX_HEADER_BLOCK = 16 * 1024
MAX_FIELD = 64 * 1024
MAX_FIELDS = 64
_PARAM = re.compile(r';\s*([A-Za-z0-9_*-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')


def boundary_of(content_type: str) -> bytes:
    kind, _, params = content_type.partition(";")
    if kind.strip().lower() != "multipart/form-data":
        raise BadRequest("a form upload needs Content-Type multipart/form-data")
    for name, value in _PARAM.findall(";" + params):
        if name.lower() == "boundary":
            boundary: str = value.strip().strip('"')
            if 1 <= len(boundary) <= 200:
                return boundary.encode("latin-1")
    raise BadRequest("multipart/form-data without a usable boundary")


def _disposition(value: str) -> dict[str, str]:
    params = {}
    for name, raw in _PARAM.findall(";" + value.partition(";")[2]):
        raw = raw.strip()
        if raw.startswith('"') and raw.endswith('"') and len(raw) >= 2:
            raw = raw[1:-1].replace('\\"', '"')
        params[name.lower()] = raw
    return params


@dataclass(slots=True)
class FilePart:
    field: str
    filename: str
    content_type: str


class FormReader:
    def __init__(self, chunks: AsyncIterator[bytes], boundary: bytes) -> None:
        self._chunks = chunks.__aiter__()
        self._delimiter = b"\r\n--" + boundary
        self._buffer = bytearray(b"\r\n")
        self._eof = False
        self._done = False

    async def _fill(self) -> bool:
        if self._eof:
            return False
        try:
            self._buffer += await self._chunks.__anext__()
        except StopAsyncIteration:
            self._eof = True
            return False
        return True

    async def _next_part_headers(self) -> dict[str, str] | None:
        """Skips to after the next delimiter and reads a part's headers; None at the end."""
        while True:
            index = self._buffer.find(self._delimiter)
            if index >= 0:
                del self._buffer[: index + len(self._delimiter)]
                break
            if len(self._buffer) > len(self._delimiter):
                del self._buffer[: len(self._buffer) - len(self._delimiter)]
            if not await self._fill():
                raise BadRequest("the form ends before its closing boundary")
        while len(self._buffer) < 2 and await self._fill():
            pass
        if self._buffer[:2] == b"--" or (self._eof and not self._buffer.strip()):
            self._done = True
            return None
        while True:
            end = self._buffer.find(b"\r\n\r\n")
            if end >= 0:
                break
            if len(self._buffer) > MAX_HEADER_BLOCK:
                raise BadRequest("a form part's headers are too long")
            if not await self._fill():
                if not self._buffer.strip():
                    self._done = True
                    return None
                raise BadRequest("the form ends inside a part's headers")
        block = bytes(self._buffer[:end]).decode("utf-8", "replace")
        del self._buffer[: end + 4]
        headers = {}
        for line in block.split("\r\n"):
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        return headers

    async def _content(self) -> AsyncIterator[bytes]:
        """A part's bytes up to (not including) the next delimiter, which stays in the buffer."""
        keep = len(self._delimiter)
        while True:
            index = self._buffer.find(self._delimiter)
            if index >= 0:
                if index:
                    yield bytes(self._buffer[:index])
                    del self._buffer[:index]
                return
            if len(self._buffer) > keep:
                cut = len(self._buffer) - keep
                yield bytes(self._buffer[:cut])
                del self._buffer[:cut]
            if not await self._fill():
                raise BadRequest("the form ends inside a part: the closing boundary is missing")

    async def fields_then_file(self) -> tuple[dict[str, str], FilePart | None]:
        """The text fields up to the first file part, and that part's description."""
        fields: dict[str, str] = {}
        while not self._done:
            headers = await self._next_part_headers()
            if headers is None:
                break
            params = _disposition(headers.get("content-disposition", ""))
            name = params.get("name", "").strip()
            if "filename" in params:
                return fields, FilePart(name, params["filename"], headers.get("content-type", ""))
            value = bytearray()
            async for piece in self._content():
                value += piece
                if len(value) > MAX_FIELD:
                    raise BadRequest(f"form field {name!r} is longer than {MAX_FIELD} bytes")
            if len(fields) >= MAX_FIELDS:
                raise BadRequest("too many form fields")
            fields[name] = value.decode("utf-8", "replace")
        return fields, None

    def file_chunks(self) -> AsyncIterator[bytes]:
        return self._content()

    async def finish(self) -> None:
        """Reads what follows the file; fields after the file are ignored."""
        while not self._done:
            if await self._next_part_headers() is None:
                break
            async for _ in self._content():
                pass

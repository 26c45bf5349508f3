"""One ``writev`` per small response instead of one ``write`` per ASGI message, with header names
in their usual case.

uvicorn writes a response's head and its body with two ``transport.write`` calls: two system
calls for every small response. :class:`CoalescingTransport` holds the head back until the next
write (the body, or the empty write that ends a bodiless response) and sends both with one
``writelines``. Nothing is held across an await of the application or past the end of a response.

uvicorn also lower-cases every header name. HTTP does not care, but clients that copy the
headers into a plain dict and look up ``"ETag"`` (cos-python-sdk-v5 does) do, so the head goes
out with the names spelled as the clouds spell them.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

SPELLING = {
    name.lower().encode(): name.encode()
    for name in (
        "ETag", "X-SessionId", "Content-Type", "Content-Length", "Content-Range", "Last-Modified", "Accept-Ranges",
        "Date", "Server", "Connection", "Transfer-Encoding", "Vary", "Location", "X-Amz-Request-Id",
        "X-Oss-Request-Id", "X-Tos-Request-Id", "X-Cos-Request-Id", "Access-Control-Allow-Origin",
        "Access-Control-Allow-Methods", "Access-Control-Allow-Headers", "Access-Control-Expose-Headers",
        "Access-Control-Max-Age", "Access-Control-Allow-Credentials",
    )
}  # fmt: skip


@functools.lru_cache(maxsize=256)
def _spelled(name: bytes) -> bytes:
    if b"-meta-" in name:  # user metadata names go out as stored: clients hand them on case and all
        return name
    return SPELLING.get(name) or b"-".join(part.capitalize() for part in name.split(b"-"))


def spell_head(head: bytes) -> bytes:
    """``etag: x`` → ``ETag: x`` for every header line of a response head."""
    lines = head.split(b"\r\n")
    for index in range(1, len(lines)):
        name, sep, rest = lines[index].partition(b":")
        if sep:
            lines[index] = _spelled(name) + sep + rest
    return b"\r\n".join(lines)


def _is_final_head(data: bytes) -> bool:
    """A response's status line and headers, but not an interim ``1xx`` such as 100 Continue."""
    return data.startswith(b"HTTP/1.") and data[9:10] != b"1"


class CoalescingTransport:
    __slots__ = ("_head", "_transport")

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._head: bytes | None = None

    def write(self, data: bytes) -> None:
        head = self._head
        if head is None:
            if _is_final_head(data):
                self._head = spell_head(data)
            else:
                self._transport.write(data)
            return
        self._head = None
        if data:
            self._transport.writelines([head, data])
        else:
            self._transport.write(head)

    def flush(self) -> None:
        if self._head is not None:
            head, self._head = self._head, None
            self._transport.write(head)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescingTransport(transport))  # type: ignore[arg-type]

    def on_response_complete(self) -> None:
        transport = self.transport
        if isinstance(transport, CoalescingTransport):
            transport.flush()
        super().on_response_complete()

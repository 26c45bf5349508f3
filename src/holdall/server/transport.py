"""One ``writev`` per small response instead of one ``write`` per ASGI message.

uvicorn writes a response's head and its body with two ``transport.write`` calls: two system
calls for every small response. :class:`CoalescingTransport` holds the head back until the next
write (the body, or the empty write that ends a bodiless response) and sends both with one
``writelines``. Nothing is held across an await of the application or past the end of a response.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


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
                self._head = data
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

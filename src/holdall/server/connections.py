"""Bounds on every connection a worker holds.

- A request head must arrive whole within ``head_timeout`` of the connection opening, or of its
  first byte on a kept-alive connection; uvicorn closes a kept-alive connection that stays idle.
- The request line and headers together may not exceed ``max_head_bytes``: the count runs over the
  raw bytes as they arrive, so an endless header is cut off after one read, not buffered whole.
- A worker holds at most ``cap`` connections. When a new one would pass the cap, the connections
  that have not sent a complete request go first, the longest idle first (nginx drains its
  reusable connections the same way); only when none is left is the newcomer told 503.
"""

from __future__ import annotations

import asyncio
from asyncio import TimerHandle
from dataclasses import dataclass
from typing import ClassVar

import httptools

from holdall.server.transport import CoalescingHttpToolsProtocol

FILE_RESERVE = 64
"""Descriptors kept for the metadata store, logs and the listening socket."""


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    head_timeout: float = 10.0
    max_head_bytes: int = 16 * 1024
    max_connections: int = 0
    """0: derived from the open-files limit by :func:`connection_cap`."""


def connection_cap(file_limit: int) -> int:
    """Each connection may hold its socket and one blob file, so half the descriptors less a reserve."""
    return max(8, (file_limit - FILE_RESERVE) // 2)


class HeadTooLarge(Exception):
    pass


def _plain_reply(status: bytes, message: bytes, extra: bytes = b"") -> bytes:
    return b"".join(
        [
            b"HTTP/1.1 ", status, b"\r\nContent-Type: text/plain; charset=utf-8\r\n",
            b"Content-Length: ", str(len(message)).encode(), b"\r\nConnection: close\r\n", extra, b"\r\n", message,
        ]
    )  # fmt: skip


TOO_LARGE = _plain_reply(b"431 Request Header Fields Too Large", b"request line and headers too large")
BUSY = _plain_reply(b"503 Service Unavailable", b"too many connections", b"Retry-After: 1\r\n")


class IdleConnections:
    """A worker's connections that hold no request in progress, in the order they fell idle."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self._order: dict[GuardedHttpProtocol, None] = {}

    def add(self, connection: GuardedHttpProtocol) -> None:
        self._order.pop(connection, None)
        self._order[connection] = None

    def discard(self, connection: GuardedHttpProtocol) -> None:
        self._order.pop(connection, None)

    def make_room(self, open_connections: int) -> bool:
        """Closes idle connections, oldest first, until ``open_connections`` fits under the cap."""
        while open_connections > self.cap and self._order:
            next(iter(self._order)).drop()
            open_connections -= 1
        return open_connections <= self.cap


class GuardedHttpProtocol(CoalescingHttpToolsProtocol):
    limits: ClassVar[ConnectionLimits]
    idle: ClassVar[IdleConnections]

    _head_timer: TimerHandle | None
    _in_head: bool
    _head_raw: int
    _head_seen: int

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_timer = None
        self._in_head = False
        self._head_raw = 0
        self._head_seen = 0
        if not self.idle.make_room(len(self.connections)):
            self.transport.write(BUSY)
            self.drop()
            return
        self.idle.add(self)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self.idle.discard(self)
        self._cancel_head_timer()
        super().connection_lost(exc)

    def drop(self) -> None:
        self.idle.discard(self)
        self._cancel_head_timer()
        self.transport.close()

    def _arm_head_timer(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.limits.head_timeout, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self.drop()

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing():
            return
        self._unset_keepalive_if_required()
        started_earlier = self._in_head
        if self.cycle is None or self.cycle.response_complete:
            self._arm_head_timer()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as error:
            if isinstance(error.__context__, HeadTooLarge):
                self._refuse_head()
            else:
                self.send_400_response("Invalid HTTP request received.")
            return
        except httptools.HttpParserError:
            self.send_400_response("Invalid HTTP request received.")
            return
        except httptools.HttpParserUpgrade:
            pass  # holdall upgrades to nothing; the request is served as plain HTTP
        if self._in_head:
            self._head_raw = self._head_raw + len(data) if started_earlier else self._head_seen
            if self._head_raw > self.limits.max_head_bytes:
                self._refuse_head()

    def _refuse_head(self) -> None:
        if self.cycle is None or self.cycle.response_complete:
            self.transport.write(TOO_LARGE)
        self.drop()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_seen = 0

    def on_url(self, url: bytes) -> None:
        self._head_seen += len(url)
        if self._head_seen > self.limits.max_head_bytes:
            raise HeadTooLarge
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_seen += len(name) + len(value) + 4
        if self._head_seen > self.limits.max_head_bytes:
            raise HeadTooLarge
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_raw = 0
        self._cancel_head_timer()
        self.idle.discard(self)
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # starts a pipelined request, if one is waiting
        if not self.transport.is_closing() and self.cycle.response_complete:
            self.idle.add(self)


def guarded_protocol(limits: ConnectionLimits, file_limit: int) -> type[GuardedHttpProtocol]:
    """The protocol class of one server, with its own limits and its own idle list."""
    cap = limits.max_connections or connection_cap(file_limit)
    return type(
        "GuardedHttpProtocol",
        (GuardedHttpProtocol,),
        {"limits": limits, "idle": IdleConnections(cap)},
    )

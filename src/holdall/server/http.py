"""The thin HTTP layer over raw ASGI: a request view and a response value."""

from __future__ import annotations

import asyncio
import functools
import itertools
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import unquote_plus

from holdall.errors import BadRequest, EntityTooLarge, HoldallError
from holdall.parsing import is_ascii_uint

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]
UFILE = "ufile"
"""The dialect of a request that carries no other cloud's signature."""


@functools.lru_cache(maxsize=4096)
def http_date(seconds: int) -> bytes:
    """``Last-Modified`` and friends: an RFC 7231 date in GMT."""
    return format_datetime(datetime.fromtimestamp(seconds, UTC), usegmt=True).encode()


def parse_query(raw: bytes) -> dict[str, str]:
    """``a=1&b&c=%2F`` → {"a": "1", "b": "", "c": "/"}; ``+`` is a space; a name given twice is refused."""
    try:
        text = raw.decode("ascii")
        query = {}
        for item in text.split("&"):
            if not item:
                continue
            name, _, value = item.partition("=")
            if "%" in name or "+" in name:
                name = unquote_plus(name, errors="strict")
            if "%" in value or "+" in value:
                value = unquote_plus(value, errors="strict")
            if name in query:
                raise BadRequest(f"the query names {name!r} twice")
            query[name] = value
    except UnicodeDecodeError:
        raise BadRequest("the query string is not valid UTF-8 once percent-decoded") from None
    return query


_cached_query = functools.lru_cache(maxsize=4096)(parse_query)


def _parsed_query(raw: bytes) -> dict[str, str]:
    """Presigned URLs come back again and again: their queries are parsed once per process."""
    return _cached_query(raw) if len(raw) <= 2048 else parse_query(raw)


def decode_headers(scope: Scope) -> dict[str, str]:
    """A request's headers by lower-case name (a name sent twice keeps its last value)."""
    return {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}


class BodyIncomplete(HoldallError):
    """The client went away or stalled before the whole body arrived."""

    code = "IncompleteBody"
    default_message = "request body incomplete"


_SESSIONS = itertools.count()


class Outcome:
    """What became of a request, noted as it is served: for its access-log line and the metrics."""

    __slots__ = ("_session", "account", "key_id", "operation", "started")

    def __init__(self, started: float) -> None:
        self.started = started
        self.operation = self.account = self._session = ""
        self.key_id = ""
        """The access key a token or temporary key signed with; empty for an account's own keys."""

    @property
    def session(self) -> str:
        """The request's id in the access log and the error log: the worker's pid and a counter."""
        if not self._session:
            self._session = f"{os.getpid():x}-{next(_SESSIONS):x}"
        return self._session


class Request:
    __slots__ = (
        "_consumed",
        "_finished",
        "_receive",
        "body_timeout",
        "headers",
        "method",
        "outcome",
        "query",
        "raw_path",
        "received",
        "scope",
    )

    def __init__(self, scope: Scope, receive: Receive, body_timeout: float, outcome: Outcome | None = None) -> None:
        self.outcome = outcome or Outcome(time.time())
        self.scope = scope
        self._receive = receive
        self._consumed = False
        self._finished = False
        self.received = 0
        """Body bytes read so far, as they came off the wire."""
        self.body_timeout = body_timeout
        self.method: str = scope["method"]
        self.raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        self.headers: dict[str, str] = decode_headers(scope)
        raw_query: bytes = scope["query_string"]
        self.query: dict[str, str] = _parsed_query(raw_query) if raw_query else {}
        """Shared between requests with the same query string: never change it."""

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name, default)

    @property
    def content_length(self) -> int | None:
        value = self.headers.get("content-length")
        if value is None:
            return None
        if not is_ascii_uint(value):
            raise BadRequest("Content-Length is not a number")
        return int(value)

    @property
    def body_pending(self) -> bool:
        """Whether a body was announced and not read to its end: the connection cannot carry another
        request (a client that sent ``Expect: 100-continue`` and got a final answer sends no body)."""
        if self._finished:
            return False
        if "transfer-encoding" in self.headers:
            return True
        length = self.headers.get("content-length", "0").strip()
        return length not in ("", "0")

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body, chunk by chunk; raises :class:`BodyIncomplete` if it never fully arrives."""
        if self._consumed:
            return
        self._consumed = True
        while True:
            try:
                message = await asyncio.wait_for(self._receive(), self.body_timeout)
            except TimeoutError:
                raise BodyIncomplete("timed out waiting for the request body") from None
            if message["type"] == "http.disconnect":
                raise BodyIncomplete()
            chunk = message.get("body", b"")
            self.received += len(chunk)
            if not message.get("more_body", False):
                self._finished = True
                if chunk:
                    yield chunk
                return
            if chunk:
                yield chunk

    async def read(self, limit: int) -> bytes:
        parts = []
        size = 0
        async for chunk in self.chunks():
            size += len(chunk)
            if size > limit:
                raise EntityTooLarge(f"request body larger than {limit} bytes")
            parts.append(chunk)
        return b"".join(parts)


BodyDecoder = Callable[[AsyncIterator[bytes]], AsyncIterator[bytes]]


class RequestView(Request):
    """The same request as a dialect hands it to the handlers: its headers under the names they read
    and its body decoded (``aws-chunked``). Reading the view reads the request it shows."""

    __slots__ = ("_decode", "_origin")

    def __init__(self, origin: Request, headers: dict[str, str], decode: BodyDecoder | None) -> None:
        self.scope, self._receive, self.body_timeout = origin.scope, origin._receive, origin.body_timeout
        self.method, self.raw_path, self.query = origin.method, origin.raw_path, origin.query
        self.outcome = origin.outcome
        self._consumed = self._finished = False
        self.received = 0
        self.headers = headers
        self._origin, self._decode = origin, decode

    @property
    def body_pending(self) -> bool:
        return self._origin.body_pending

    async def chunks(self) -> AsyncIterator[bytes]:
        if self._consumed:
            return
        self._consumed = True
        source = self._origin.chunks()
        async for chunk in self._decode(source) if self._decode else source:
            yield chunk


@dataclass(slots=True)
class Response:
    status: int = 200
    headers: Headers = field(default_factory=list)
    body: bytes = b""
    stream: AsyncIterator[bytes] | None = None
    length: int | None = None

    def header(self, name: str, value: str) -> Response:
        self.headers.append((name.encode("latin-1"), value.encode("latin-1")))
        return self


async def send_response(send: Send, response: Response, head_only: bool = False, receive: Receive | None = None) -> int:
    """Sends the reply; returns the body bytes handed to the connection (a streamed body stops early
    when the client goes away)."""
    length = response.length if response.length is not None else len(response.body)
    headers = response.headers
    if length is not None and response.status != 304:
        headers = [*headers, (b"content-length", str(length).encode())]
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    if response.stream is None or head_only:
        body = b"" if head_only else response.body
        await send({"type": "http.response.body", "body": body})
        return len(body)
    sent = 0
    gone = asyncio.ensure_future(_disconnect(receive)) if receive is not None else None
    try:
        async for chunk in response.stream:
            if gone is not None and gone.done():
                return sent  # the client went away: read no more of the object
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            sent += len(chunk)
    finally:
        if gone is not None:
            gone.cancel()
        await response.stream.aclose()  # type: ignore[attr-defined]
    await send({"type": "http.response.body", "body": b""})
    return sent


async def _disconnect(receive: Receive) -> None:
    """Returns once the client has gone away (uvicorn's ``send`` silently drops what follows)."""
    while (await receive())["type"] != "http.disconnect":
        pass

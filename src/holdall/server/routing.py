"""From Host and path to what a request addresses (REFERENCE §1, addressing).

``<bucket>.<domain>[:port]`` and ``<bucket>.<IPv4 address>[:port]`` are bucket hosts and the whole
path is the key; any other host is
path style, ``/<bucket>/<key>``, and ``/`` there is the management API. The path is
percent-decoded exactly once; ``+`` stays ``+``.
"""

from __future__ import annotations

import ipaddress
from typing import NamedTuple
from urllib.parse import unquote_to_bytes, urlsplit

from holdall.errors import BadRequest
from holdall.service.objects import MAX_KEY_BYTES


class Target(NamedTuple):
    """A tuple because one is built for every request (0.27 µs against a frozen dataclass's 0.5)."""

    bucket: str
    key: str
    virtual_host: bool


def host_name(host: str) -> str:
    """The host without its port, lower-cased."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1]
    return host.rsplit(":", 1)[0] if ":" in host else host


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


def decode_path(raw: bytes) -> str:
    try:
        return (unquote_to_bytes(raw) if b"%" in raw else raw).decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("the path is not valid UTF-8 once percent-decoded") from None


def split_absolute(raw_path: bytes, host: str) -> tuple[bytes, str]:
    """A proxy-style absolute request target ``http://host/path`` → (path, host)."""
    if raw_path[:7].lower() == b"http://" or raw_path[:8].lower() == b"https://":
        parts = urlsplit(raw_path.decode("latin-1"))
        return (parts.path or "/").encode("latin-1"), parts.netloc or host
    return raw_path, host


def route(host: str, raw_path: bytes, domain: str) -> Target | None:
    """The bucket and key addressed, or None for the bare service root (management API)."""
    raw_path, host = split_absolute(raw_path, host)
    name = host_name(host)
    suffix = "." + domain
    if name.endswith(suffix) and len(name) > len(suffix) and not _is_ip(name):
        return Target(name[: -len(suffix)], decode_path(raw_path)[1:], True)
    if name.count(".") >= 4:  # <bucket>.<IPv4 address>, as the TOS and COS SDKs address an IP endpoint
        bucket, _, rest = name.partition(".")
        if _is_ip(rest) and not _is_ip(name):
            return Target(bucket, decode_path(raw_path)[1:], True)
    path = decode_path(raw_path)
    if path in ("", "/"):
        return None
    bucket, _, key = path[1:].partition("/")
    return Target(bucket, key, False)


def check_key(key: str) -> str:
    if not key:
        raise BadRequest("the object key is empty")
    if "\x00" in key:
        raise BadRequest("the object key contains a NUL character")
    size = len(key.encode("utf-8"))
    if size > MAX_KEY_BYTES:
        raise BadRequest(f"the object key is {size} bytes long; the limit is {MAX_KEY_BYTES}")
    return key

"""Tencent COS ``q-sign`` signatures (REFERENCE §3). Pure: no I/O, no clock.

::

    HttpString   = method.lower() \\n <path> \\n <params k=urlenc(v) sorted &> \\n <headers likewise> \\n
    StringToSign = sha1 \\n <q-sign-time> \\n sha1hex(HttpString) \\n
    SignKey      = hexHMAC-SHA1(secret, q-key-time)
    Signature    = hexHMAC-SHA1(SignKey, StringToSign)

The host is signed without its port. The path is the request's own: ``/<key>`` on a bucket host,
which then binds the bucket only if ``host`` is signed, and ``/<bucket>/<key>`` in path style.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from holdall.auth.encoding import uri_encode
from holdall.auth.v4 import QueryError
from holdall.parsing import is_ascii_uint

PARAMS = ("q-sign-algorithm", "q-ak", "q-sign-time", "q-key-time", "q-header-list", "q-url-param-list", "q-signature")
TOKEN_PARAM = "x-cos-security-token"


def _encode(text: str) -> str:
    return uri_encode(text, keep_slash=False)


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name, "")
    if name == "host" and not value.startswith("[") and ":" in value:
        return value.rsplit(":", 1)[0]
    return value


@dataclass(frozen=True, slots=True)
class CosQuery:
    access_key: str
    sign_time: str
    key_time: str
    starts_at: int
    expires_at: int
    header_list: tuple[str, ...]
    param_list: tuple[str, ...]
    signature: str
    security_token: str


def _time_range(value: str, name: str) -> tuple[int, int]:
    start, sep, end = value.partition(";")
    if not sep or not is_ascii_uint(start) or not is_ascii_uint(end) or int(start) > int(end):
        raise QueryError(f"{name} must be <start>;<end> in unix seconds")
    return int(start), int(end)


def parse_query(query: Mapping[str, str], headers: Mapping[str, str]) -> CosQuery:
    missing = [name for name in PARAMS if name not in query or (name.startswith("q-s") and not query[name])]
    if missing:
        raise QueryError(f"the presigned URL has no {missing[0]}")
    if query["q-sign-algorithm"] != "sha1":
        raise QueryError("q-sign-algorithm must be sha1")
    starts_at, expires_at = _time_range(query["q-sign-time"], "q-sign-time")
    _time_range(query["q-key-time"], "q-key-time")
    return CosQuery(
        access_key=query["q-ak"],
        sign_time=query["q-sign-time"],
        key_time=query["q-key-time"],
        starts_at=starts_at,
        expires_at=expires_at,
        header_list=tuple(name for name in query["q-header-list"].lower().split(";") if name),
        param_list=tuple(name for name in query["q-url-param-list"].lower().split(";") if name),
        signature=query["q-signature"].lower(),
        security_token=query.get(TOKEN_PARAM) or headers.get(TOKEN_PARAM, ""),
    )


def http_string(parsed: CosQuery, method: str, path: str, query: Mapping[str, str], headers: Mapping[str, str]) -> str:
    lowered_query = {name.lower(): value for name, value in query.items()}
    params = "&".join(f"{_encode(name)}={_encode(lowered_query.get(name, ''))}" for name in sorted(parsed.param_list))
    signed = "&".join(f"{_encode(name)}={_encode(_header(headers, name))}" for name in sorted(parsed.header_list))
    return f"{method.lower()}\n{path}\n{params}\n{signed}\n"


def string_to_sign(parsed: CosQuery, http: str) -> str:
    return f"sha1\n{parsed.sign_time}\n{hashlib.sha1(http.encode()).hexdigest()}\n"


def signature(secret: str, key_time: str, text: str) -> str:
    sign_key = hmac.new(secret.encode(), key_time.encode(), hashlib.sha1).hexdigest()
    return hmac.new(sign_key.encode(), text.encode(), hashlib.sha1).hexdigest()


def presign(
    access_key: str,
    secret: str,
    *,
    method: str,
    host: str,
    path: str,
    starts_at: int,
    expires_at: int,
    security_token: str = "",
) -> dict[str, str]:
    """The query of a presigned URL for ``path`` (``/key`` on a bucket host, else ``/bucket/key``)
    that signs the host, signed locally."""
    window = f"{starts_at};{expires_at}"
    query = {TOKEN_PARAM: security_token} if security_token else {}
    parsed = CosQuery(
        access_key,
        window,
        window,
        starts_at,
        expires_at,
        ("host",),
        tuple(name for name in query),
        "",
        security_token,
    )
    text = string_to_sign(parsed, http_string(parsed, method, path, query, {"host": host}))
    return {
        "q-sign-algorithm": "sha1",
        "q-ak": access_key,
        "q-sign-time": window,
        "q-key-time": window,
        "q-header-list": "host",
        "q-url-param-list": ";".join(parsed.param_list),
        "q-signature": signature(secret, window, text),
        **query,
    }

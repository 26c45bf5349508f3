"""Volcengine OpenAPI signatures, HMAC-SHA256 (REFERENCE §6). Pure: no I/O, no clock.

::

    CanonicalRequest = METHOD \\n path \\n sorted RFC 3986 query \\n name:value\\n for each signed header \\n
                       signed;header;names \\n hex SHA-256 of the body
    StringToSign     = HMAC-SHA256 \\n X-Date \\n date/region/service/request \\n hex SHA-256 of it
    key              = HMAC(secret, date) → region → service → "request"

The signed Host drops a port of 80 or 443, as the SDKs write it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from holdall.auth import openapi
from holdall.auth.alibaba import canonical_query
from holdall.errors import MalformedSignature

ALGORITHM = "HMAC-SHA256"
TERMINATOR = "request"
REQUIRED_SIGNED = ("host", "x-date")


@dataclass(frozen=True, slots=True)
class VolcCredential:
    access_key: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/{TERMINATOR}"


def parse_authorization(value: str) -> VolcCredential:
    fields = openapi.parse_authorization(value, ALGORITHM, REQUIRED_SIGNED)
    parts = fields.credential.split("/")
    if len(parts) != 5 or not all(parts) or parts[4] != TERMINATOR:
        raise MalformedSignature(f"the Credential is AccessKey/YYYYMMDD/region/service/{TERMINATOR}")
    return VolcCredential(parts[0], parts[1], parts[2], parts[3], fields.signed_headers, fields.signature)


def signed_host(host: str) -> str:
    name, sep, port = host.rpartition(":")
    return name if sep and port in ("80", "443") else host


def canonical_request(
    method: str,
    path: str,
    pairs: Iterable[tuple[str, str]],
    headers: Mapping[str, str],
    signed_headers: Sequence[str],
    payload_hash: str,
) -> str:
    values = {name: headers.get(name, "") for name in signed_headers}
    if "host" in values:
        values["host"] = signed_host(values["host"])
    query = canonical_query(pairs)
    return openapi.canonical_request(method, openapi.encoded_path(path), query, values, signed_headers, payload_hash)


def string_to_sign(timestamp: str, scope: str, canonical: str) -> str:
    return f"{ALGORITHM}\n{timestamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"


def signature(secret: str, date: str, region: str, service: str, to_sign: str) -> str:
    key = hmac.new(secret.encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, service, TERMINATOR):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def authorization(access_key: str, scope: str, signed_headers: Sequence[str], sig: str) -> str:
    return f"{ALGORITHM} Credential={access_key}/{scope}, SignedHeaders={';'.join(signed_headers)}, Signature={sig}"

"""The V4 family of presigned URLs (REFERENCE §3): AWS SigV4, Alibaba OSS V4 and Volcengine TOS V4.

All three sign a canonical request with an HMAC-SHA256 key derived from the secret, the date,
the region and the service; they differ in names, in the key's prefix, in how the query and the
URI are written, and in which headers they sign. Pure: no I/O, no clock.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from holdall.auth.encoding import uri_encode
from holdall.parsing import is_ascii_uint

MAX_EXPIRES = 7 * 24 * 3600
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"


class QueryError(ValueError):
    """A presigned query that is malformed: the message says what is wrong."""


@dataclass(frozen=True, slots=True, eq=False)
class V4Dialect:
    """OSS signs ``/bucket/key`` even for a bucket host; AWS and TOS sign the path as sent."""

    name: str
    algorithm: str
    key_prefix: str
    service: str
    terminator: str
    params: Mapping[str, str]
    """Our names (algorithm, credential, date, expires, signed_headers, signature, token,
    additional_headers) → the dialect's query parameter names."""
    bare_empty_values: bool
    """OSS writes a query parameter with an empty value as a bare name."""

    def param(self, name: str) -> str:
        return self.params[name]


AWS4 = V4Dialect(
    name="aws4",
    algorithm="AWS4-HMAC-SHA256",
    key_prefix="AWS4",
    service="s3",
    terminator="aws4_request",
    params={
        "algorithm": "X-Amz-Algorithm",
        "credential": "X-Amz-Credential",
        "date": "X-Amz-Date",
        "expires": "X-Amz-Expires",
        "signed_headers": "X-Amz-SignedHeaders",
        "signature": "X-Amz-Signature",
        "token": "X-Amz-Security-Token",
    },
    bare_empty_values=False,
)
OSS4 = V4Dialect(
    name="oss4",
    algorithm="OSS4-HMAC-SHA256",
    key_prefix="aliyun_v4",
    service="oss",
    terminator="aliyun_v4_request",
    params={
        "algorithm": "x-oss-signature-version",
        "credential": "x-oss-credential",
        "date": "x-oss-date",
        "expires": "x-oss-expires",
        "additional_headers": "x-oss-additional-headers",
        "signature": "x-oss-signature",
        "token": "x-oss-security-token",
    },
    bare_empty_values=True,
)
TOS4 = V4Dialect(
    name="tos4",
    algorithm="TOS4-HMAC-SHA256",
    key_prefix="",
    service="tos",
    terminator="request",
    params={
        "algorithm": "X-Tos-Algorithm",
        "credential": "X-Tos-Credential",
        "date": "X-Tos-Date",
        "expires": "X-Tos-Expires",
        "signed_headers": "X-Tos-SignedHeaders",
        "signature": "X-Tos-Signature",
        "token": "X-Tos-Security-Token",
    },
    bare_empty_values=False,
)
DIALECTS = (AWS4, OSS4, TOS4)
OSS_DEFAULT_SIGNED = ("content-type", "content-md5")


@dataclass(frozen=True, slots=True)
class V4Query:
    """What a V4 presigned query claims."""

    dialect: V4Dialect
    access_key: str
    date: str
    region: str
    timestamp: str
    signed_at: float
    expires: int
    signed_headers: tuple[str, ...]
    signature: str
    security_token: str
    payload: str = ""
    """The payload hash a header signature signs (``x-amz-content-sha256``); empty for a presigned query."""

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.dialect.service}/{self.dialect.terminator}"

    @property
    def expires_at(self) -> float:
        return self.signed_at + self.expires


def parse_credential(dialect: V4Dialect, value: str) -> tuple[str, str, str]:
    """``<key>/<date>/<region>/<service>/<terminator>`` → (key, date, region)."""
    parts = value.split("/")
    if len(parts) != 5 or not all(parts):
        raise QueryError(f"{dialect.param('credential')} must be <key>/<date>/<region>/{dialect.service}/...")
    access_key, date, region, service, terminator = parts
    if service != dialect.service or terminator != dialect.terminator:
        raise QueryError(f"the credential scope must end {dialect.service}/{dialect.terminator}")
    return access_key, date, region


def _signed_at(timestamp: str, date: str, name: str) -> float:
    """The moment of a V4 timestamp (``20260101T000000Z``), which must fall on the credential's date."""
    try:
        signed_at = datetime.strptime(timestamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        raise QueryError(f"{name} must look like 20260101T000000Z") from None
    if timestamp[:8] != date:
        raise QueryError(f"the credential's date {date} is not the day of {timestamp}")
    return signed_at


def parse_query(dialect: V4Dialect, query: Mapping[str, str]) -> V4Query:
    def need(name: str) -> str:
        value = query.get(dialect.param(name), "")
        if not value:
            raise QueryError(f"the presigned URL has no {dialect.param(name)}")
        return value

    if need("algorithm") != dialect.algorithm:
        raise QueryError(f"{dialect.param('algorithm')} must be {dialect.algorithm}")
    access_key, date, region = parse_credential(dialect, need("credential"))
    timestamp = need("date")
    signed_at = _signed_at(timestamp, date, dialect.param("date"))
    raw_expires = need("expires")
    if not is_ascii_uint(raw_expires, 7) or not 1 <= int(raw_expires) <= MAX_EXPIRES:
        raise QueryError(f"{dialect.param('expires')} must be between 1 and {MAX_EXPIRES} seconds")
    if "signed_headers" in dialect.params:
        listed = need("signed_headers").split(";")
    else:
        extra = query.get(dialect.param("additional_headers"), "")
        listed = [name for name in extra.split(";") if name]
    return V4Query(
        dialect=dialect,
        access_key=access_key,
        date=date,
        region=region,
        timestamp=timestamp,
        signed_at=signed_at,
        expires=int(raw_expires),
        signed_headers=tuple(name.strip().lower() for name in listed),
        signature=need("signature").lower(),
        security_token=query.get(dialect.param("token"), ""),
    )


def parse_authorization(dialect: V4Dialect, value: str, headers: Mapping[str, str]) -> V4Query:
    """``<algorithm> Credential=…, SignedHeaders=…, Signature=…`` with the ``x-amz-date`` and
    ``x-amz-content-sha256`` headers it relies on (``x-tos-…`` for TOS; OSS4 names its extra signed
    headers in ``AdditionalHeaders`` and signs every ``x-oss-*`` one anyway)."""
    scheme, _, rest = value.partition(" ")
    if scheme != dialect.algorithm:
        raise QueryError(f"the scheme must be {dialect.algorithm}")
    fields: dict[str, str] = {}
    for item in rest.split(","):
        name, equals, field = item.strip().partition("=")
        if not equals or name in fields:
            raise QueryError("expected Credential=…, SignedHeaders=…, Signature=…, each once")
        fields[name] = field
    listed = "AdditionalHeaders" if dialect is OSS4 else "SignedHeaders"  # OSS4's is optional
    required = ("Credential", "Signature") if dialect is OSS4 else ("Credential", "SignedHeaders", "Signature")
    missing = [name for name in required if not fields.get(name)]
    if missing:
        raise QueryError(f"the Authorization header has no {missing[0]}")
    access_key, date, region = parse_credential(dialect, fields["Credential"])
    prefix = f"x-{dialect.service.replace('s3', 'amz')}-"
    timestamp = headers.get(f"{prefix}date", "")
    signed_at = _signed_at(timestamp, date, f"{prefix}date")
    payload = headers.get(f"{prefix}content-sha256", "")
    if not payload and dialect is AWS4:
        raise QueryError(f"{prefix}content-sha256 must be sent")
    payload = payload or UNSIGNED_PAYLOAD  # what TOS and OSS sign when they send none
    return V4Query(
        dialect=dialect,
        access_key=access_key,
        date=date,
        region=region,
        timestamp=timestamp,
        signed_at=signed_at,
        expires=0,
        signed_headers=tuple(name.strip().lower() for name in fields.get(listed, "").split(";") if name.strip()),
        signature=fields["Signature"].lower(),
        security_token=headers.get(f"{prefix}security-token", ""),
        payload=payload,
    )


def canonical_query(dialect: V4Dialect, query: Mapping[str, str]) -> str:
    signature = dialect.param("signature")
    encoded = sorted(
        (uri_encode(name, keep_slash=False), uri_encode(value, keep_slash=False))
        for name, value in query.items()
        if name != signature
    )
    if dialect.bare_empty_values:
        return "&".join(f"{name}={value}" if value else name for name, value in encoded)
    return "&".join(f"{name}={value}" for name, value in encoded)


def header_names(parsed: V4Query, headers: Mapping[str, str], *, with_content_type: bool = True) -> list[str]:
    """The headers a request's signature covers: listed ones, and for OSS the ones it always signs."""
    if parsed.dialect is not OSS4:
        return sorted(parsed.signed_headers)
    names = {name for name in headers if name.startswith("x-oss-")}
    names.update(name for name in OSS_DEFAULT_SIGNED if name in headers)
    names.update(parsed.signed_headers)
    if not with_content_type:
        names.discard("content-type")
    return sorted(names)


def canonical_request(
    parsed: V4Query,
    method: str,
    uri_path: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    names: list[str],
) -> str:
    dialect = parsed.dialect
    canonical_headers = "".join(f"{name}:{' '.join(headers.get(name, '').split())}\n" for name in names)
    listed = ";".join(name for name in names if dialect is not OSS4 or name in parsed.signed_headers)
    payload = parsed.payload or (
        UNSIGNED_PAYLOAD if dialect is AWS4 else headers.get(f"x-{dialect.service}-content-sha256", UNSIGNED_PAYLOAD)
    )
    return "\n".join(
        [
            method.upper(),
            uri_encode(uri_path, keep_slash=True),
            canonical_query(dialect, query),
            canonical_headers,
            listed,
            payload,
        ]
    )


def string_to_sign(parsed: V4Query, canonical: str) -> str:
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    return f"{parsed.dialect.algorithm}\n{parsed.timestamp}\n{parsed.scope}\n{digest}"


@functools.lru_cache(maxsize=1024)
def _signing_key(key_prefix: str, service: str, terminator: str, secret: str, date: str, region: str) -> bytes:
    key = (key_prefix + secret).encode()
    for part in (date, region, service, terminator):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def signing_key(dialect: V4Dialect, secret: str, date: str, region: str) -> bytes:
    return _signing_key(dialect.key_prefix, dialect.service, dialect.terminator, secret, date, region)


def signature(dialect: V4Dialect, secret: str, date: str, region: str, text: str) -> str:
    return hmac.new(signing_key(dialect, secret, date, region), text.encode(), hashlib.sha256).hexdigest()


def presign(
    dialect: V4Dialect,
    access_key: str,
    secret: str,
    *,
    method: str,
    host: str,
    bucket: str,
    key: str,
    region: str,
    expires: int,
    now: float,
    security_token: str = "",
    headers: Mapping[str, str] | None = None,
    virtual_host: bool = True,
) -> dict[str, str]:
    """The query of a presigned URL for ``bucket/key`` on ``host``, signed locally with no network call.

    ``headers`` (names and values) are signed too and must then be sent as they are. The path of the
    URL is ``/key`` on a bucket host (``virtual_host``), else ``/bucket/key``.
    """
    if not 1 <= expires <= MAX_EXPIRES:
        raise QueryError(f"a presigned URL lives 1 to {MAX_EXPIRES} seconds")
    timestamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%dT%H%M%SZ")
    date = timestamp[:8]
    signed = {name.lower(): value for name, value in (headers or {}).items()}
    if dialect is not OSS4:
        signed["host"] = host
    query = {
        dialect.param("algorithm"): dialect.algorithm,
        dialect.param("credential"): f"{access_key}/{date}/{region}/{dialect.service}/{dialect.terminator}",
        dialect.param("date"): timestamp,
        dialect.param("expires"): str(expires),
    }
    if security_token:
        query[dialect.param("token")] = security_token
    names = sorted(signed)
    if "signed_headers" in dialect.params:
        query[dialect.param("signed_headers")] = ";".join(names)
        listed = tuple(names)
    else:
        extra = [name for name in names if not name.startswith("x-oss-") and name not in OSS_DEFAULT_SIGNED]
        if extra:
            query[dialect.param("additional_headers")] = ";".join(extra)
        listed = tuple(extra)
    parsed = V4Query(dialect, access_key, date, region, timestamp, now, expires, listed, "", security_token)
    uri = f"/{bucket}/{key}" if dialect is OSS4 or not virtual_host else f"/{key}"
    canonical = canonical_request(parsed, method, uri, query, signed, header_names(parsed, signed))
    query[dialect.param("signature")] = signature(dialect, secret, date, region, string_to_sign(parsed, canonical))
    return query

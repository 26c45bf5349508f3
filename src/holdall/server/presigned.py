"""Presigned URLs of the other clouds' dialects (REFERENCE §3): AWS SigV4 and V2, Alibaba OSS V4 and
V1, Volcengine TOS V4, Tencent COS. Each is checked as strictly as its cloud checks it: what it signs
must match, it lives at most 7 days, and a refusal says what the server computed."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl

from holdall import clock
from holdall.auth import cos, v1, v4
from holdall.auth.encoding import uri_encode
from holdall.auth.principal import Principal
from holdall.errors import AccessDenied, AuthQueryInvalid, RequestExpired, SignatureMismatch
from holdall.server.context import Call
from holdall.server.guard import Coverage
from holdall.server.http import Request
from holdall.server.routing import decode_path, split_absolute

Lookup = Callable[[str, str], Awaitable[tuple[str, Principal]]]
"""(access key, session token) → (secret, principal); raises when the key is unknown."""
Verified = tuple[Principal, Coverage | None]
"""Whom a request acts for, and what its presigned signature covers (None: signed in a header)."""

CLOCK_SKEW = 900
V1_SIGNED_HEADERS = frozenset(("content-md5", "content-type"))
V4_DIALECTS = {dialect.name: dialect for dialect in v4.DIALECTS}
V1_DIALECTS = {dialect.name: dialect for dialect in (v1.OSS1, v1.AWS2)}
BROWSER_HINT = (
    "The URL was signed without Content-Type, but the request sends Content-Type: {type}"
    " (browsers add the File's type themselves). Sign the URL with that Content-Type."
)


def same_signature(computed: str, claimed: str) -> bool:
    return hmac.compare_digest(computed.encode(), claimed.encode())


def _check_window(now: float, starts_at: float, expires_at: float) -> None:
    if starts_at > now + CLOCK_SKEW:
        raise AccessDenied("the request is signed for a time that has not come yet")
    if expires_at < now:
        raise RequestExpired()


def path_as_sent(request: Request) -> str:
    """The path a SigV4 or TOS signature covers: as the client sent it, decoded once (``/bucket`` and
    ``/bucket/`` differ, as they do for boto3)."""
    raw, _ = split_absolute(request.raw_path, request.headers.get("host", ""))
    return decode_path(raw) or "/"


class PresignedAuth:
    def __init__(self, lookup: Lookup) -> None:
        self.lookup = lookup

    async def verify(self, call: Call, key: str) -> Verified:
        """Checks the call's presigned query (or COS Authorization) over ``/<call's bucket>/key``."""
        dialect, request, bucket, virtual = call.dialect, call.request, call.bucket.name, call.virtual_host
        try:
            if dialect in V4_DIALECTS:
                return await self.v4_query(V4_DIALECTS[dialect], request, bucket, key, virtual)
            if dialect in V1_DIALECTS:
                return await self.v1_query(V1_DIALECTS[dialect], request, bucket, key, virtual)
            return await self.cos(request, bucket, key, virtual)
        except v4.QueryError as problem:
            raise AuthQueryInvalid(str(problem)) from None

    async def v4_query(
        self, dialect: v4.V4Dialect, request: Request, bucket: str, key: str, virtual_host: bool
    ) -> Verified:
        parsed = v4.parse_query(dialect, request.query)
        if dialect is not v4.OSS4 and "host" not in parsed.signed_headers:
            # the bucket of a bucket host is named by the Host alone; S3 refuses such URLs too
            raise AuthQueryInvalid(f"{dialect.param('signed_headers')} must include host")
        _check_window(clock.now(), parsed.signed_at, parsed.expires_at)
        secret, principal = await self.lookup(parsed.access_key, parsed.security_token)
        headers = request.headers
        uri = f"/{bucket}/{key}" if dialect is v4.OSS4 else path_as_sent(request)

        def attempt(names: list[str]) -> tuple[bool, str, str]:
            canonical = v4.canonical_request(parsed, request.method, uri, request.query, headers, names)
            text = v4.string_to_sign(parsed, canonical)
            computed = v4.signature(dialect, secret, parsed.date, parsed.region, text)
            return same_signature(computed, parsed.signature), text, canonical

        names = v4.header_names(parsed, headers)
        ok, text, canonical = attempt(names)
        if ok:
            return principal, Coverage(query=None, headers=frozenset(names))
        browser_type = headers.get("content-type", "") if dialect is v4.OSS4 else ""
        if browser_type and attempt(v4.header_names(parsed, headers, with_content_type=False))[0]:
            raise SignatureMismatch(BROWSER_HINT.format(type=browser_type))
        raise SignatureMismatch(string_to_sign=text, canonical_request=canonical)

    async def v1_query(
        self, dialect: v1.V1Dialect, request: Request, bucket: str, key: str, virtual_host: bool
    ) -> Verified:
        parsed = v1.parse_query(dialect, request.query)
        now = clock.now()
        if parsed.expires_at - now > v4.MAX_EXPIRES:
            raise AuthQueryInvalid("a presigned URL may be valid for at most 7 days (604800 seconds)")
        _check_window(now, 0, parsed.expires_at)
        secret, principal = await self.lookup(parsed.access_key, parsed.security_token)
        headers, query = request.headers, request.query
        if dialect is v1.OSS1:
            paths = [v1.oss_resource_path(bucket, key)]
        else:
            raw = request.raw_path.decode("latin-1").partition("?")[0]
            paths = [
                f"/{bucket}{raw}" if virtual_host else raw,
                f"/{bucket}/{uri_encode(key, keep_slash=True)}",
            ]
        content_type = headers.get("content-type", query.get("content-type", "") if dialect is v1.AWS2 else "")
        first = ""
        for path in dict.fromkeys(paths):
            resource = v1.canonical_resource(dialect, path, query)
            text = v1.string_to_sign(parsed, request.method, resource, headers, content_type=content_type)
            if same_signature(v1.signature(secret, text), parsed.signature):
                return principal, Coverage(dialect.subresources, V1_SIGNED_HEADERS, (dialect.header_prefix,))
            first = first or text
        if dialect is v1.OSS1 and content_type:
            resource = v1.canonical_resource(dialect, paths[0], query)
            bare = v1.string_to_sign(parsed, request.method, resource, headers, content_type="")
            if same_signature(v1.signature(secret, bare), parsed.signature):
                raise SignatureMismatch(BROWSER_HINT.format(type=content_type))
        raise SignatureMismatch(string_to_sign=first)

    async def cos(self, request: Request, bucket: str, key: str, virtual_host: bool) -> Verified:
        """A COS ``q-sign`` signature, in the query or (as the COS SDK sends it) in Authorization, where
        every ``x-cos-*`` header must be signed."""
        signed = request.query
        presigned = "q-sign-algorithm" in signed
        if not presigned:  # COS SDK requests carry the same fields in Authorization
            signed = dict(parse_qsl(request.headers.get("authorization", ""), keep_blank_values=True))
        parsed = cos.parse_query(signed, request.headers)
        if virtual_host and "host" not in parsed.header_list:
            raise AccessDenied("q-header-list must include host: on a bucket host only the host names the bucket")
        unsigned = sorted(
            name for name in request.headers if name.startswith("x-cos-") and name not in parsed.header_list
        )
        if unsigned and not presigned:
            raise AccessDenied(f"headers present in the request were not signed: {', '.join(unsigned)}")
        folded = [name.lower() for name in request.query]
        twice = next((name for name in parsed.param_list if folded.count(name) > 1), None)
        if twice is not None:
            raise AuthQueryInvalid(f"the query names {twice!r} more than once, in different cases")
        missing = [name for name in parsed.param_list if name not in folded]
        if missing:  # the string signs an absent parameter as empty: dropping one must not pass
            raise AccessDenied(f"the signed query parameter {missing[0]!r} is not in the request")
        unlisted = sorted(name for name in request.query if name.lower() not in parsed.param_list)
        if unlisted and not presigned:  # a header signature covers the whole request: ?uploadId, ?cors…
            raise AccessDenied(f"query parameters present in the request were not signed: {', '.join(unlisted)}")
        if parsed.expires_at - parsed.starts_at > v4.MAX_EXPIRES:
            raise AuthQueryInvalid("q-sign-time may span at most 7 days (604800 seconds)")
        _check_window(clock.now(), parsed.starts_at, parsed.expires_at)
        secret, principal = await self.lookup(parsed.access_key, parsed.security_token)
        path = f"/{key}" if virtual_host or not bucket else f"/{bucket}/{key}"
        text = cos.string_to_sign(parsed, cos.http_string(parsed, request.method, path, request.query, request.headers))
        if not same_signature(cos.signature(secret, parsed.key_time, text), parsed.signature):
            raise SignatureMismatch(string_to_sign=text)
        if not presigned:
            return principal, None
        coverage = Coverage(frozenset(parsed.param_list), frozenset(parsed.header_list), fold_query_case=True)
        return principal, coverage

"""S3 requests signed in the Authorization header with SigV4 (``AWS4-HMAC-SHA256 Credential=…``).

The canonical URI is the path as sent, decoded once and encoded the V4 way, so ``/bucket`` and
``/bucket/`` sign differently, as they do for boto3. Every ``x-amz-*`` header must be signed, as S3
requires: an unsigned one could turn a captured PUT into a copy or make a bucket public. The payload hash is what
``x-amz-content-sha256`` claims: a SHA-256, which the body must then match (checked as it streams),
or ``UNSIGNED-PAYLOAD``. ``X-Amz-Date`` must be within 15 minutes of the server's clock.
"""

from __future__ import annotations

import hmac
import re

from holdall import clock
from holdall.auth import v4
from holdall.auth.principal import Principal
from holdall.errors import (
    AccessDenied,
    BadRequest,
    ContentSHA256Mismatch,
    NotImplementedHere,
    RequestTimeTooSkewed,
    SignatureMismatch,
)
from holdall.server.http import Request
from holdall.server.presigned import Lookup
from holdall.server.routing import decode_path, split_absolute
from holdall.service.digests import Expected

DATE_SKEW = 900
_SHA256_HEX = re.compile("[0-9a-f]{64}")


def is_sigv4_header(authorization: str) -> bool:
    return authorization.startswith(v4.AWS4.algorithm + " ")


async def verify_header(request: Request, lookup: Lookup) -> tuple[Principal, tuple[Expected, ...]]:
    """Whom a SigV4 header signature speaks for, and what the body must hash to."""
    headers = request.headers
    try:
        parsed = v4.parse_authorization(v4.AWS4, headers.get("authorization", ""), headers)
    except v4.QueryError as problem:
        raise AccessDenied(f"the Authorization header is malformed: {problem}") from None
    if "host" not in parsed.signed_headers:
        raise AccessDenied("SignedHeaders must include host")
    unsigned = sorted(name for name in headers if name.startswith("x-amz-") and name not in parsed.signed_headers)
    if unsigned:  # x-amz-copy-source, x-amz-acl, x-amz-metadata-directive… change what a request does
        raise AccessDenied(f"There were headers present in the request which were not signed: {', '.join(unsigned)}")
    if headers.get("content-encoding", "").lower().startswith("aws-chunked") or "x-amz-trailer" in headers:
        raise NotImplementedHere("aws-chunked bodies and trailing checksums are not supported yet")
    skew = abs(parsed.signed_at - clock.now())
    if skew > DATE_SKEW:
        raise RequestTimeTooSkewed(f"X-Amz-Date is {int(skew)} s away from the server's clock; at most {DATE_SKEW}")
    payload = parsed.payload
    if payload.startswith("STREAMING-"):
        raise NotImplementedHere(f"x-amz-content-sha256 {payload} (aws-chunked bodies) is not supported yet")
    if payload != v4.UNSIGNED_PAYLOAD and not _SHA256_HEX.fullmatch(payload):
        raise BadRequest("x-amz-content-sha256 must be the body's SHA-256 in hex or UNSIGNED-PAYLOAD")
    secret, principal = await lookup(parsed.access_key, parsed.security_token)
    raw_path, _ = split_absolute(request.raw_path, headers.get("host", ""))
    canonical = v4.canonical_request(
        parsed, request.method, decode_path(raw_path) or "/", request.query, headers, sorted(parsed.signed_headers)
    )
    text = v4.string_to_sign(parsed, canonical)
    computed = v4.signature(v4.AWS4, secret, parsed.date, parsed.region, text)
    if not hmac.compare_digest(computed.encode(), parsed.signature.encode()):
        raise SignatureMismatch(string_to_sign=text, canonical_request=canonical)
    if payload == v4.UNSIGNED_PAYLOAD:
        return principal, ()
    mismatch = ContentSHA256Mismatch("the body's SHA-256 is not the x-amz-content-sha256 it was signed with")
    return principal, (Expected("sha256", bytes.fromhex(payload), mismatch),)

"""The dialects of S3-shaped requests signed in the Authorization header (and of SigV4 and SigV2
presigned URLs), and how each is verified.

A dialect is what differs between clouds that otherwise speak S3: how its Authorization header
reads and is checked, the prefix of its headers (``x-amz-``, ``x-oss-``, ``x-cos-``), and the
shape of its errors (by its family, :mod:`holdall.server.dialects`). The handlers are S3's for
all of them: :func:`present` shows them each request under S3's header names.

- **SigV4** (``AWS4-HMAC-SHA256 Credential=…``): the canonical URI is the path as sent, decoded
  once and encoded the V4 way, so ``/bucket`` and ``/bucket/`` sign differently, as for boto3.
  The payload hash is what ``x-amz-content-sha256`` claims: a SHA-256 (checked as the body
  streams), ``UNSIGNED-PAYLOAD``, or an ``aws-chunked`` framing (:mod:`holdall.server.aws_chunked`).
- **TOS V4** (``TOS4-HMAC-SHA256 Credential=…``): SigV4 with ``x-tos-*`` names; TOS answers in JSON.
- **OSS V4** (``OSS4-HMAC-SHA256 Credential=…``): V4 over ``/bucket/key`` and every ``x-oss-*`` header.
- **COS** (``q-sign-algorithm=sha1&…``): HMAC-SHA1 over the headers and parameters it lists.
- **SigV2** (``AWS key:signature``) and **OSS V1** (``OSS key:signature``): HMAC-SHA1 over the method,
  Content-MD5, Content-Type, Date, the prefixed headers and the resource. They sign no payload hash.

Every header with the dialect's prefix must be signed (SigV2 and OSS V1 sign them all by
construction): an unsigned one could turn a captured PUT into a copy or make a bucket public.
A signed time must be within 15 minutes of the server's clock.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from urllib.parse import parse_qsl

from holdall import clock
from holdall.auth import cos, v1, v4
from holdall.auth.principal import Principal
from holdall.errors import (
    AccessDenied,
    AuthQueryInvalid,
    BadRequest,
    ContentSHA256Mismatch,
    NotImplementedHere,
    RequestTimeTooSkewed,
    SignatureMismatch,
)
from holdall.parsing import is_ascii_uint
from holdall.server import aws_chunked
from holdall.server.http import Request, RequestView, Response
from holdall.server.presigned import Lookup, PresignedAuth, path_as_sent, same_signature
from holdall.server.routing import Target
from holdall.service.digests import Expected

DATE_SKEW = 900
MAX_DECODED_LENGTH = 5 * 1024**4
_SHA256_HEX = re.compile("[0-9a-f]{64}")
S3_PREFIX = "x-amz-"


@dataclass(frozen=True, slots=True)
class Verified:
    principal: Principal
    expected: tuple[Expected, ...] = ()
    """Digests the body must have for the signature to hold."""
    body_bound: bool = False
    """The signature binds the body: a signed SHA-256, signed chunks, or a signed Content-MD5 or
    x-amz-checksum-sha1/-sha256 (a CRC binds nothing: another body with the same CRC is easy to make)."""
    signs_payloads: bool = False
    """The dialect lets its clients sign the payload (SigV4 in a header, which boto3 always does for
    command bodies); the other dialects' SDKs never do."""
    framing: aws_chunked.Framing | None = None
    checksums: dict[str, str] = field(default_factory=dict)
    """A trailing checksum, filled in once the body has been read (an ``aws-chunked`` trailer)."""


Verifier = Callable[[Request, "Target | None", Lookup], Awaitable[Verified]]


@dataclass(frozen=True, slots=True)
class HeaderDialect:
    name: str
    family: str
    prefix: str
    verify: Verifier


def _check_time(signed_at: float, name: str) -> None:
    skew = abs(signed_at - clock.now())
    if skew > DATE_SKEW:
        raise RequestTimeTooSkewed(f"{name} is {int(skew)} s away from the server's clock; at most {DATE_SKEW}")


# ----------------------------------------------------------------- SigV4


async def _verify_v4(dialect: v4.V4Dialect, request: Request, target: Target | None, lookup: Lookup) -> Verified:
    """SigV4, or TOS's V4 (``TOS4-HMAC-SHA256``, ``x-tos-*`` headers, no aws-chunked bodies)."""
    headers = request.headers
    prefix = S3_PREFIX if dialect is v4.AWS4 else "x-tos-"
    try:
        parsed = v4.parse_authorization(dialect, headers.get("authorization", ""), headers)
    except v4.QueryError as problem:
        raise AccessDenied(f"the Authorization header is malformed: {problem}") from None
    if "host" not in parsed.signed_headers:
        raise AccessDenied("SignedHeaders must include host")
    unsigned = sorted(name for name in headers if name.startswith(prefix) and name not in parsed.signed_headers)
    if unsigned:  # x-amz-copy-source, x-amz-acl, x-amz-metadata-directive… change what a request does
        raise AccessDenied(f"There were headers present in the request which were not signed: {', '.join(unsigned)}")
    _check_time(parsed.signed_at, f"{prefix}date")
    payload = parsed.payload
    chunked = dialect is v4.AWS4 and payload in aws_chunked.PAYLOADS
    if payload.startswith("STREAMING-") and not chunked:
        raise NotImplementedHere(f"{prefix}content-sha256 {payload} is not supported")
    if not chunked and (_is_chunked(request) or "x-amz-trailer" in headers):
        raise BadRequest("an aws-chunked body needs x-amz-content-sha256 STREAMING-…")
    if not chunked and payload != v4.UNSIGNED_PAYLOAD and not _SHA256_HEX.fullmatch(payload):
        raise BadRequest(f"{prefix}content-sha256 must be the body's SHA-256 in hex or UNSIGNED-PAYLOAD")
    secret, principal = await lookup(parsed.access_key, parsed.security_token)
    canonical = v4.canonical_request(
        parsed, request.method, path_as_sent(request), request.query, headers, sorted(parsed.signed_headers)
    )
    text = v4.string_to_sign(parsed, canonical)
    key = v4.signing_key(dialect, secret, parsed.date, parsed.region)
    computed = hmac.new(key, text.encode(), hashlib.sha256).hexdigest()
    if not same_signature(computed, parsed.signature):
        raise SignatureMismatch(string_to_sign=text, canonical_request=canonical)
    if chunked:
        signer = None
        if payload != aws_chunked.UNSIGNED_TRAILER:
            signer = aws_chunked.ChunkSigner(key, parsed.timestamp, parsed.scope, parsed.signature)
        checksums: dict[str, str] = {}
        framing = aws_chunked.Framing(signer, _trailer(request, payload), _decoded_length(request), checksums)
        bound = signer is not None or _digest_signed(headers, parsed.signed_headers.__contains__)
        return Verified(principal, (), bound, dialect is v4.AWS4, framing, checksums)
    if payload == v4.UNSIGNED_PAYLOAD:
        return Verified(principal, (), _digest_signed(headers, parsed.signed_headers.__contains__), dialect is v4.AWS4)
    mismatch = ContentSHA256Mismatch(f"the body's SHA-256 is not the {prefix}content-sha256 it was signed with")
    return Verified(principal, (Expected("sha256", bytes.fromhex(payload), mismatch),), True, dialect is v4.AWS4)


STRONG_DIGESTS = ("content-md5", "x-amz-checksum-sha1", "x-amz-checksum-sha256")


def _digest_signed(headers: dict[str, str], signed: Callable[[str], bool]) -> bool:
    """Whether the request carries a digest of its body that its signature covers (and that the body is
    then checked against)."""
    return any(name in headers and signed(name) for name in STRONG_DIGESTS)


def _is_chunked(request: Request) -> bool:
    return "aws-chunked" in [item.strip().lower() for item in request.header("content-encoding").split(",")]


def _trailer(request: Request, payload: str) -> str:
    named = request.header("x-amz-trailer").strip().lower()
    if payload == aws_chunked.SIGNED:
        if named:
            raise BadRequest(f"x-amz-trailer needs x-amz-content-sha256 {aws_chunked.SIGNED_TRAILER}")
        return ""
    algorithm = named.removeprefix("x-amz-checksum-")
    if algorithm not in aws_chunked.TRAILER_CHECKSUMS or algorithm == named:
        raise NotImplementedHere(f"x-amz-trailer {named!r}: holdall takes one x-amz-checksum-crc32/crc32c/sha1/sha256")
    return algorithm


def _decoded_length(request: Request) -> int:
    value = request.header("x-amz-decoded-content-length")
    if not is_ascii_uint(value) or int(value) > MAX_DECODED_LENGTH:
        raise BadRequest("an aws-chunked body needs x-amz-decoded-content-length")
    return int(value)


# ----------------------------------------------------------------- OSS V4


async def _verify_oss4(request: Request, target: Target | None, lookup: Lookup) -> Verified:
    """``OSS4-HMAC-SHA256 Credential=…, AdditionalHeaders=…, Signature=…``: every ``x-oss-*`` header,
    Content-Type and Content-MD5 are signed; the URI is ``/bucket/key`` even on a bucket host. oss2
    always sends ``x-oss-content-sha256: UNSIGNED-PAYLOAD``, so OSS4 is held to what V1 signs."""
    headers = request.headers
    try:
        parsed = v4.parse_authorization(v4.OSS4, headers.get("authorization", ""), headers)
    except v4.QueryError as problem:
        raise AccessDenied(f"the Authorization header is malformed: {problem}") from None
    _check_time(parsed.signed_at, "x-oss-date")
    if parsed.payload != v4.UNSIGNED_PAYLOAD and not _SHA256_HEX.fullmatch(parsed.payload):
        raise BadRequest("x-oss-content-sha256 must be the body's SHA-256 in hex or UNSIGNED-PAYLOAD")
    secret, principal = await lookup(parsed.access_key, parsed.security_token)
    uri = "/" if target is None else f"/{target.bucket}/{target.key}"
    canonical = v4.canonical_request(
        parsed, request.method, uri, request.query, headers, v4.header_names(parsed, headers)
    )
    text = v4.string_to_sign(parsed, canonical)
    computed = v4.signature(v4.OSS4, secret, parsed.date, parsed.region, text)
    if not same_signature(computed, parsed.signature):
        raise SignatureMismatch(string_to_sign=text, canonical_request=canonical)
    if parsed.payload == v4.UNSIGNED_PAYLOAD:  # OSS4 signs Content-MD5 whenever it is sent
        return Verified(principal, (), "content-md5" in headers)
    mismatch = ContentSHA256Mismatch("the body's SHA-256 is not the x-oss-content-sha256 it was signed with")
    return Verified(principal, (Expected("sha256", bytes.fromhex(parsed.payload), mismatch),), True)


# ----------------------------------------------------------------- COS


async def _verify_cos(request: Request, target: Target | None, lookup: Lookup) -> Verified:
    """``Authorization: q-sign-algorithm=sha1&q-ak=…`` (:meth:`PresignedAuth.cos`). It signs no payload."""
    bucket, key, virtual = (target.bucket, target.key, target.virtual_host) if target else ("", "", False)
    try:
        principal, _ = await PresignedAuth(lookup).cos(request, bucket, key, virtual)
        fields = dict(parse_qsl(request.header("authorization"), keep_blank_values=True))
        signed = cos.parse_query(fields, request.headers).header_list
    except v4.QueryError as problem:
        raise AccessDenied(f"the Authorization header is malformed: {problem}") from None
    return Verified(principal, (), _digest_signed(request.headers, signed.__contains__))


# ----------------------------------------------------------------- presigned S3 URLs


async def _verify_presigned(request: Request, target: Target | None, lookup: Lookup) -> Verified:
    """A SigV4 (``X-Amz-Algorithm``) or SigV2 (``AWSAccessKeyId``) presigned URL, checked as the UFile
    data plane checks it (:class:`PresignedAuth`), over the bucket and key the request addresses.
    SigV4 signs the whole query; SigV2 the sub-resources, which are what pick the route. Every
    ``x-amz-*`` header must be signed here too. A presigned URL signs no payload."""
    if target is None:
        raise AccessDenied("a presigned URL must address a bucket")
    presigned = PresignedAuth(lookup)
    try:
        if "X-Amz-Algorithm" in request.query:
            principal, coverage = await presigned.v4_query(
                v4.AWS4, request, target.bucket, target.key, target.virtual_host
            )
        else:
            principal, coverage = await presigned.v1_query(
                v1.AWS2, request, target.bucket, target.key, target.virtual_host
            )
    except v4.QueryError as problem:
        raise AuthQueryInvalid(str(problem)) from None
    if coverage is not None:
        unsigned = sorted(
            name for name in request.headers if name.startswith(S3_PREFIX) and not coverage.covers_header(name)
        )
        if unsigned:
            raise AccessDenied(
                f"There were headers present in the request which were not signed: {', '.join(unsigned)}"
            )
    return Verified(principal)


# ----------------------------------------------------------------- SigV2 and OSS V1


async def _verify_v1(dialect: v1.V1Dialect, request: Request, target: Target | None, lookup: Lookup) -> Verified:
    headers = request.headers
    scheme = "AWS" if dialect is v1.AWS2 else "OSS"
    access_key, colon, signature = headers.get("authorization", "").removeprefix(scheme + " ").rpartition(":")
    if not colon or not access_key or not signature:
        raise AccessDenied(f"the Authorization header must be {scheme} <access key>:<signature>")
    stamp = headers.get("x-amz-date", "") if dialect is v1.AWS2 else ""
    stamp = stamp or headers.get("date", "")
    try:
        signed_at = parsedate_to_datetime(stamp).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        raise AccessDenied("the request needs a Date header (RFC 1123)") from None
    _check_time(signed_at, "Date")
    token = headers.get(f"{dialect.header_prefix}security-token", "")
    secret, principal = await lookup(access_key, token)
    first = ""
    try:
        paths = _v1_paths(dialect, request, target)
    except v4.QueryError as problem:
        raise AccessDenied(str(problem)) from None
    for path in paths:
        resource = v1.canonical_resource(dialect, path, request.query)
        text = v1.header_string_to_sign(dialect, request.method, resource, headers)
        if same_signature(v1.signature(secret, text), signature):
            return Verified(principal, (), _digest_signed(headers, functools.partial(_v1_signs, dialect)))
        first = first or text
    raise SignatureMismatch(string_to_sign=first)


def _v1_signs(dialect: v1.V1Dialect, name: str) -> bool:
    return name == "content-md5" or name.startswith(dialect.header_prefix)


def _v1_paths(dialect: v1.V1Dialect, request: Request, target: Target | None) -> list[str]:
    """What the resource line may name: ``/bucket/key``, the key as sent for S3 and decoded for OSS; a
    bucket is ``/bucket/`` (botocore's way) or ``/bucket``."""
    if target is None:
        return ["/"]
    if not target.key:
        return [f"/{target.bucket}/"] if dialect is v1.OSS1 else [f"/{target.bucket}/", f"/{target.bucket}"]
    if dialect is v1.OSS1:
        return [v1.oss_resource_path(target.bucket, target.key)]
    raw = request.raw_path.decode("latin-1").partition("?")[0]
    return [f"/{target.bucket}{raw}" if target.virtual_host else raw]


S3V4 = HeaderDialect("s3v4", "s3", S3_PREFIX, functools.partial(_verify_v4, v4.AWS4))
TOS4 = HeaderDialect("tos4h", "tos", "x-tos-", functools.partial(_verify_v4, v4.TOS4))
S3V2 = HeaderDialect("s3v2", "s3", S3_PREFIX, functools.partial(_verify_v1, v1.AWS2))
OSS1 = HeaderDialect("oss1h", "oss", "x-oss-", functools.partial(_verify_v1, v1.OSS1))
OSS4 = HeaderDialect("oss4h", "oss", "x-oss-", _verify_oss4)
COS = HeaderDialect("cosh", "cos", "x-cos-", _verify_cos)
PRESIGNED_V4 = HeaderDialect("aws4", "s3", S3_PREFIX, _verify_presigned)
PRESIGNED_V2 = HeaderDialect("aws2", "s3", S3_PREFIX, _verify_presigned)
SCHEMES = {"AWS4-HMAC-SHA256": S3V4, "AWS": S3V2, "OSS": OSS1, "OSS4-HMAC-SHA256": OSS4, "TOS4-HMAC-SHA256": TOS4}
HEADER_DIALECTS = {dialect.name: dialect for dialect in (*SCHEMES.values(), COS, PRESIGNED_V4, PRESIGNED_V2)}
"""Every dialect the S3 handlers serve, by the name :func:`holdall.server.dialects.detect` gives it."""


def header_dialect(authorization: str) -> HeaderDialect | None:
    if authorization.startswith("q-sign-algorithm="):
        return COS
    scheme, space, _ = authorization.partition(" ")
    return SCHEMES.get(scheme) if space else None


def present(dialect: HeaderDialect, request: Request, verified: Verified) -> Request:
    """The request as the S3 handlers read it: the dialect's headers under ``x-amz-`` names (any
    ``x-amz-`` header it sent itself dropped: its signature does not cover them), and an
    ``aws-chunked`` body decoded, with its real length."""
    framing = verified.framing
    if dialect.prefix == S3_PREFIX and framing is None:
        return request
    headers = request.headers
    if dialect.prefix != S3_PREFIX:
        headers = {
            S3_PREFIX + name[len(dialect.prefix) :] if name.startswith(dialect.prefix) else name: value
            for name, value in headers.items()
            if not name.startswith(S3_PREFIX)
        }
    if framing is None:
        return RequestView(request, headers, None)
    headers = dict(headers)
    headers["content-length"] = str(framing.decoded_length)
    encodings = [item.strip() for item in headers.pop("content-encoding", "").split(",")]
    remaining = [item for item in encodings if item and item.lower() != "aws-chunked"]
    if remaining:
        headers["content-encoding"] = ", ".join(remaining)
    for name in ("x-amz-decoded-content-length", "x-amz-trailer", "transfer-encoding"):
        headers.pop(name, None)
    return RequestView(request, headers, functools.partial(aws_chunked.decode, framing=framing))


_NAMESPACE = b' xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'


def answer(dialect: HeaderDialect, response: Response) -> Response:
    """A reply of the S3 handlers in the dialect's own names: ``x-oss-…`` headers for ``x-amz-…``, and
    XML without S3's namespace (the OSS and COS SDKs look elements up by their bare names)."""
    if dialect.prefix == S3_PREFIX:
        return response
    prefix = dialect.prefix.encode()
    response.headers = [
        (prefix + name[6:] if name.startswith(b"x-amz-") else name, value) for name, value in response.headers
    ]
    if response.body and response.body.startswith(b"<?xml"):
        response.body = response.body.replace(_NAMESPACE, b"", 1)
    return response

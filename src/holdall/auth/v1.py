"""HMAC-SHA1 presigned queries: Alibaba OSS V1 (``OSSAccessKeyId``) and AWS S3 V2 (``AWSAccessKeyId``,
what boto3 makes when no signature version is set). Pure: no I/O, no clock.

::

    StringToSign = VERB \\n Content-MD5 \\n Content-Type \\n Expires \\n
                   CanonicalizedHeaders (x-oss-* or x-amz-*, sorted, name:value\\n) CanonicalizedResource
    signature    = base64(HMAC-SHA1(secret, StringToSign))
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from holdall.auth import ufile
from holdall.auth.encoding import uri_encode
from holdall.auth.v4 import QueryError
from holdall.parsing import is_ascii_uint

OSS_SUBRESOURCES = frozenset(
    [
        "response-content-type",
        "response-content-language",
        "response-cache-control",
        "logging",
        "response-content-encoding",
        "acl",
        "uploadId",
        "uploads",
        "partNumber",
        "group",
        "link",
        "delete",
        "website",
        "location",
        "objectInfo",
        "objectMeta",
        "response-expires",
        "response-content-disposition",
        "cors",
        "lifecycle",
        "restore",
        "qos",
        "referer",
        "stat",
        "bucketInfo",
        "append",
        "position",
        "security-token",
        "live",
        "comp",
        "status",
        "vod",
        "startTime",
        "endTime",
        "x-oss-process",
        "symlink",
        "callback",
        "callback-var",
        "tagging",
        "encryption",
        "versions",
        "versioning",
        "versionId",
        "policy",
        "requestPayment",
        "x-oss-traffic-limit",
        "qosInfo",
        "asyncFetch",
        "x-oss-request-payer",
        "sequential",
        "inventory",
        "inventoryId",
        "continuation-token",
        "worm",
        "wormId",
        "wormExtend",
        "replication",
        "replicationLocation",
        "replicationProgress",
        "transferAcceleration",
        "cname",
        "metaQuery",
    ]
)
S3_SUBRESOURCES = frozenset(
    [
        "accelerate",
        "acl",
        "cors",
        "defaultObjectAcl",
        "location",
        "logging",
        "partNumber",
        "policy",
        "requestPayment",
        "torrent",
        "versioning",
        "versionId",
        "versions",
        "website",
        "uploads",
        "uploadId",
        "response-content-type",
        "response-content-language",
        "response-expires",
        "response-cache-control",
        "response-content-disposition",
        "response-content-encoding",
        "delete",
        "lifecycle",
        "tagging",
        "restore",
        "storageClass",
        "notification",
        "replication",
        "analytics",
        "metrics",
        "inventory",
        "select",
        "select-type",
        "object-lock",
    ]
)


@dataclass(frozen=True, slots=True)
class V1Dialect:
    name: str
    key_param: str
    header_prefix: str
    subresources: frozenset[str]
    token_param: str


OSS1 = V1Dialect("oss1", "OSSAccessKeyId", "x-oss-", OSS_SUBRESOURCES, "security-token")
AWS2 = V1Dialect("aws2", "AWSAccessKeyId", "x-amz-", S3_SUBRESOURCES, "x-amz-security-token")


@dataclass(frozen=True, slots=True)
class V1Query:
    dialect: V1Dialect
    access_key: str
    expires_at: int
    signature: str
    security_token: str


def parse_query(dialect: V1Dialect, query: Mapping[str, str]) -> V1Query:
    access_key = query.get(dialect.key_param, "")
    expires = query.get("Expires", "")
    signature = query.get("Signature", "")
    if not access_key or not expires or not signature:
        raise QueryError(f"a presigned URL needs {dialect.key_param}, Expires and Signature")
    if not is_ascii_uint(expires):
        raise QueryError("Expires must be unix seconds")
    return V1Query(dialect, access_key, int(expires), signature, query.get(dialect.token_param, ""))


def oss_resource_path(bucket: str, key: str) -> str:
    """``/bucket/key`` as OSS V1 signs it, the key not encoded: a key holding ``?`` would read as
    sub-resources (``k?uploadId=U`` signs like ``k`` with ``?uploadId=U``), so it cannot be signed."""
    if "?" in key:
        raise QueryError("OSS V1 cannot sign a key that holds '?' unambiguously: sign it with OSS V4")
    return f"/{bucket}/{key}"


def canonical_resource(dialect: V1Dialect, path: str, query: Mapping[str, str]) -> str:
    """``path`` (``/bucket/key``) followed by the sub-resources the dialect signs, sorted."""
    picked = sorted((name, value) for name, value in query.items() if name in dialect.subresources)
    if not picked:
        return path
    return path + "?" + "&".join(f"{name}={value}" if value else name for name, value in picked)


def string_to_sign(
    parsed: V1Query,
    method: str,
    resource: str,
    headers: Mapping[str, str],
    *,
    content_type: str,
) -> str:
    """A presigned query's: the Date line holds Expires."""
    return _string_to_sign(parsed.dialect, method, resource, headers, content_type, str(parsed.expires_at))


def header_string_to_sign(dialect: V1Dialect, method: str, resource: str, headers: Mapping[str, str]) -> str:
    """A request signed in ``Authorization: AWS|OSS key:signature``: the Date line holds the Date
    header, or nothing when ``x-amz-date`` (signed among the custom headers) stands in for it."""
    date = "" if dialect is AWS2 and "x-amz-date" in headers else headers.get("date", "")
    return _string_to_sign(dialect, method, resource, headers, headers.get("content-type", ""), date)


def _string_to_sign(
    dialect: V1Dialect, method: str, resource: str, headers: Mapping[str, str], content_type: str, date: str
) -> str:
    prefix = dialect.header_prefix
    custom = "".join(f"{name}:{headers[name].strip()}\n" for name in sorted(headers) if name.startswith(prefix))
    md5 = headers.get("content-md5", "").strip()
    return f"{method.upper()}\n{md5}\n{content_type}\n{date}\n{custom}{resource}"


signature = ufile.sign
"""base64(HMAC-SHA1(secret, text)): the UFile signature, which these dialects share."""


def presign(
    dialect: V1Dialect,
    access_key: str,
    secret: str,
    *,
    method: str,
    bucket: str,
    key: str,
    expires_at: int,
    headers: Mapping[str, str] | None = None,
    security_token: str = "",
) -> dict[str, str]:
    """The query of a presigned URL for ``/bucket/key``, signed locally."""
    signed = {name.lower(): value for name, value in (headers or {}).items()}
    query = {"Expires": str(expires_at)}
    if security_token:
        query[dialect.token_param] = security_token
    path = f"/{bucket}/{key}" if dialect is OSS1 else f"/{bucket}/{uri_encode(key, keep_slash=True)}"
    parsed = V1Query(dialect, access_key, expires_at, "", security_token)
    text = string_to_sign(
        parsed,
        method,
        canonical_resource(dialect, path, query),
        signed,
        content_type=signed.get("content-type", ""),
    )
    return {dialect.key_param: access_key, **query, "Signature": signature(secret, text)}

"""Presigned URLs made locally, with no network call, in every dialect holdall verifies (seed 001)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from urllib.parse import urlencode, urlsplit

from holdall.auth import cos, ufile, v1, v4
from holdall.auth.encoding import uri_encode

DIALECTS = ("ufile", "aws4", "aws2", "oss4", "oss1", "tos4", "cos")
DEFAULT_REGION = "cn-bj"


def presign_url(
    method: str,
    endpoint: str,
    bucket: str,
    key: str,
    access_key: str,
    secret: str,
    *,
    expires: int = 3600,
    dialect: str = "ufile",
    headers: Mapping[str, str] | None = None,
    region: str = DEFAULT_REGION,
    security_token: str = "",
    virtual_host: bool = False,
    now: float | None = None,
) -> str:
    """A URL that lets its holder send ``method`` to ``bucket/key`` for ``expires`` seconds.

    ``endpoint`` is the server's base URL (``http://127.0.0.1:9000``); the URL is path style unless
    ``virtual_host``, which puts the bucket in the host name. Headers given here are signed, and the
    request must then send them unchanged.
    """
    if dialect not in DIALECTS:
        raise ValueError(f"dialect is one of {', '.join(DIALECTS)}")
    if not 1 <= expires <= v4.MAX_EXPIRES:
        raise ValueError(f"a presigned URL lives 1 to {v4.MAX_EXPIRES} seconds")
    moment = time.time() if now is None else now
    parts = urlsplit(endpoint if "://" in endpoint else f"http://{endpoint}")
    host = f"{bucket}.{parts.netloc}" if virtual_host else parts.netloc
    path = f"/{uri_encode(key, keep_slash=True)}" if virtual_host else f"/{bucket}/{uri_encode(key, keep_slash=True)}"
    signed = dict(headers or {})
    lowered = {name.lower(): value for name, value in signed.items()}
    expires_at = int(moment) + expires
    if dialect == "ufile":
        query = ufile.presign_query(
            access_key,
            secret,
            method,
            bucket,
            key,
            expires_at,
            content_md5=lowered.get("content-md5", ""),
            content_type=lowered.get("content-type", ""),
        )
        if security_token:
            query["SecurityToken"] = security_token
    elif dialect in ("aws4", "oss4", "tos4"):
        family = {"aws4": v4.AWS4, "oss4": v4.OSS4, "tos4": v4.TOS4}[dialect]
        query = v4.presign(
            family,
            access_key,
            secret,
            method=method,
            host=host,
            bucket=bucket,
            key=key,
            region=region,
            expires=expires,
            now=moment,
            security_token=security_token,
            headers=signed,
            virtual_host=virtual_host,
        )
    elif dialect in ("aws2", "oss1"):
        family1 = v1.AWS2 if dialect == "aws2" else v1.OSS1
        query = v1.presign(
            family1,
            access_key,
            secret,
            method=method,
            bucket=bucket,
            key=key,
            expires_at=expires_at,
            headers=signed,
            security_token=security_token,
        )
    else:
        query = cos.presign(
            access_key,
            secret,
            method=method,
            host=host.rsplit(":", 1)[0],
            path=f"/{key}" if virtual_host else f"/{bucket}/{key}",
            starts_at=int(moment),
            expires_at=expires_at,
            security_token=security_token,
        )
    return f"{parts.scheme}://{host}{path}?{urlencode(query)}"

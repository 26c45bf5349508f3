"""User metadata headers: ``x-amz-meta-*`` and the other dialects' prefixes in, and back out in the
prefix of whoever reads the object. Names are kept in lower case (HTTP headers have no case)."""

from __future__ import annotations

from collections.abc import Mapping

from holdall.errors import MetadataTooLarge
from holdall.server.http import Response
from holdall.store.meta.base import ObjectRecord

MAX_USER_META = 2048
"""S3's bound on the names and values of an object's user metadata, in bytes."""
PREFIXES = {"s3": "x-amz-meta-", "oss": "x-oss-meta-", "cos": "x-cos-meta-", "tos": "x-tos-meta-"}
UFILE_PREFIX = "x-ufile-meta-"
ALL_PREFIXES = (UFILE_PREFIX, *PREFIXES.values())


def _prefix(family: str | None) -> str:
    return PREFIXES.get(family or "", UFILE_PREFIX)


def user_metadata(headers: Mapping[str, str], family: str | None) -> dict[str, str]:
    """The user metadata a write sends under its own dialect's prefix (``x-amz-meta-`` for S3, the
    one its signature covers: another cloud's prefix is not read); more than 2 KiB is refused."""
    prefix = _prefix(family)
    found = {name[len(prefix) :]: value for name, value in headers.items() if name.startswith(prefix)}
    found.pop("", None)
    if found and sum(len(name.encode()) + len(value.encode()) for name, value in found.items()) > MAX_USER_META:
        raise MetadataTooLarge(f"user metadata may hold at most {MAX_USER_META} bytes of names and values")
    return found


def add_user_metadata(response: Response, record: ObjectRecord, family: str | None) -> Response:
    """The object's user metadata as headers with the reader's prefix (``x-ufile-meta-`` for UFile)."""
    if record.user_meta:
        prefix = _prefix(family)
        for name, value in record.user_meta.items():
            response.header(prefix + name, value)
    return response

"""S3's conditional requests: If-Match, If-None-Match, If-Modified-Since and If-Unmodified-Since on
reads, and their x-amz-copy-source-if-* forms on a copy's source."""

from __future__ import annotations

from email.utils import parsedate_to_datetime

from holdall.errors import PreconditionFailed
from holdall.server.http import Request

FAILED = "At least one of the pre-conditions you specified did not hold"


def not_modified(request: Request, etag: str, modified: int) -> bool:
    """Checks the preconditions: True for 304; PreconditionFailed for 412."""
    if_match, if_none = request.header("if-match"), request.header("if-none-match")
    if if_match and not _etag_listed(if_match, etag):
        raise PreconditionFailed(FAILED)
    unmodified_since = _date(request.header("if-unmodified-since"))
    if not if_match and unmodified_since is not None and modified > unmodified_since:
        raise PreconditionFailed(FAILED)
    if if_none:
        return _etag_listed(if_none, etag)
    since = _date(request.header("if-modified-since"))
    return since is not None and modified <= since


def _etag_listed(header: str, etag: str) -> bool:
    listed = [item.strip() for item in header.split(",")]
    return "*" in listed or etag in listed or etag.strip('"') in listed


def _date(value: str) -> float | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def check_copy_source(request: Request, etag: str, modified: int) -> None:
    """A copy's x-amz-copy-source-if-* conditions on its source; any that fails is 412 (never 304)."""
    header = request.headers.get
    if_match, if_none = header("x-amz-copy-source-if-match"), header("x-amz-copy-source-if-none-match")
    if if_match and not _etag_listed(if_match, etag):
        raise PreconditionFailed(FAILED)
    if if_none and _etag_listed(if_none, etag):
        raise PreconditionFailed(FAILED)
    unmodified_since = _date(header("x-amz-copy-source-if-unmodified-since", ""))
    if not if_match and unmodified_since is not None and modified > unmodified_since:
        raise PreconditionFailed(FAILED)
    since = _date(header("x-amz-copy-source-if-modified-since", ""))
    if not if_none and since is not None and modified <= since:
        raise PreconditionFailed(FAILED)

"""The one check every data-plane call passes once its signature verified, whatever API it speaks:
the signature covers every input that changes the operation, the key's account owns the bucket, the
token's rules allow the key really touched, the quotas have room; then the request is metered."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import unquote

from holdall import clock
from holdall.auth.principal import Op, Principal
from holdall.errors import AccessDenied, BadRequest, BucketNotFound
from holdall.server.access_log import note
from holdall.server.context import Call
from holdall.server.guard import require_covered
from holdall.server.http import Request
from holdall.server.presigned import Verified
from holdall.server.routing import check_key
from holdall.service.formats import require_format
from holdall.service.quotas import QuotaBook
from holdall.service.usage import Meter
from holdall.store.meta.base import DOWNLOAD_TRAFFIC, REQUEST_COUNT, STORAGE_VOLUME, Bucket, MetaStore

_REQUEST_QUOTAS = (REQUEST_COUNT,)
_WRITE_QUOTAS = (REQUEST_COUNT, STORAGE_VOLUME)
_DOWNLOAD_QUOTAS = (REQUEST_COUNT, DOWNLOAD_TRAFFIC)


def client_ip(request: Request) -> str:
    client = request.scope.get("client")
    return str(client[0]) if client else ""


def check_token(principal: Principal, request: Request, op: Op, bucket: Bucket, key: str | None) -> None:
    """The token's rules for ``op`` on ``bucket/key``; also for a second key a request touches."""
    if principal.token is not None:
        principal.token.check(op, bucket.name, key, client_ip(request), clock.now())


def body(principal: Principal, request: Request) -> AsyncIterator[bytes]:
    """The request's body, held to the formats a temporary key may upload (its first bytes are sniffed)."""
    chunks = request.chunks()
    if principal.token is not None and principal.token.formats:
        chunks = require_format(chunks, principal.token.formats)
    return chunks


def account_keys_only(principal: Principal) -> str:
    """The account of a request that only an account's own keys may make (no token): creating, deleting
    and configuring buckets."""
    if principal.token is not None:
        raise AccessDenied("only an account's own keys may list, create, delete or configure buckets")
    return principal.account_id


def check_owner(principal: Principal, bucket: Bucket) -> None:
    if not principal.anonymous and principal.account_id != bucket.account_id:
        raise AccessDenied(f"this key may not use bucket {bucket.name!r}")


async def copy_source(meta: MetaStore, principal: Principal, request: Request, header: str) -> tuple[Bucket, str]:
    """The bucket and key the copy-source ``header`` names (``/bucket/key``, percent-encoded), once the
    caller may read them: its own bucket or a public one, and a key its token lets it read."""
    try:
        source = unquote(request.header(header).lstrip("/"), errors="strict")
    except UnicodeDecodeError:
        raise BadRequest(f"{header} is not valid UTF-8 once percent-decoded") from None
    bucket_name, _, key = source.partition("/")
    bucket = await meta.bucket(bucket_name)
    if bucket is None:
        raise BucketNotFound(f"the copy source's bucket does not exist: {bucket_name!r}")
    if bucket.type != "public":
        check_owner(principal, bucket)
    key = check_key(key)
    check_token(principal, request, Op.READ, bucket, key)
    return bucket, key


class Admission:
    def __init__(self, quotas: QuotaBook, meter: Meter) -> None:
        self.quotas = quotas
        self.meter = meter

    async def admit(self, verified: Verified, call: Call, key: str | None) -> Principal:
        """``key`` is what the token's rules are checked on (None: the handler checks the key it touches)."""
        principal, coverage = verified
        request, bucket, operation = call.request, call.bucket, call.operation
        note(request, operation.name, principal)
        op = operation.op
        if coverage is not None and operation.changeable:
            require_covered(coverage, *operation.inputs(request.query, request.headers))
        check_owner(principal, bucket)
        check_token(principal, request, op, bucket, key)
        owner, region = bucket.account_id, bucket.region
        if self.quotas.stale:
            await self.quotas.refresh()
        if op is Op.WRITE:
            self.quotas.check(owner, region, _WRITE_QUOTAS)
        elif op is Op.READ and request.method == "GET":
            self.quotas.check(owner, region, _DOWNLOAD_QUOTAS)
        else:
            self.quotas.check(owner, region, _REQUEST_QUOTAS)
        self.meter.add(owner, region, 1, 0)
        return principal

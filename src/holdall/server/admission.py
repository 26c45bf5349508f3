"""The one check every data-plane call passes once its signature verified, whatever API it speaks:
the signature covers every input that changes the operation, the key's account owns the bucket, the
token's rules allow the key really touched, the quotas have room; then the request is metered."""

from __future__ import annotations

from collections.abc import AsyncIterator

from holdall import clock
from holdall.auth.principal import Op, Principal
from holdall.errors import AccessDenied
from holdall.server.context import Call
from holdall.server.guard import require_covered
from holdall.server.http import Request
from holdall.server.presigned import Verified
from holdall.service.formats import require_format
from holdall.service.quotas import QuotaBook
from holdall.service.usage import Meter
from holdall.store.meta.base import DOWNLOAD_TRAFFIC, REQUEST_COUNT, STORAGE_VOLUME, Bucket

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


def check_owner(principal: Principal, bucket: Bucket) -> None:
    if not principal.anonymous and principal.account_id != bucket.account_id:
        raise AccessDenied(f"this key may not use bucket {bucket.name!r}")


class Admission:
    def __init__(self, quotas: QuotaBook, meter: Meter) -> None:
        self.quotas = quotas
        self.meter = meter

    async def admit(self, verified: Verified, call: Call, key: str | None) -> Principal:
        """``key`` is what the token's rules are checked on (None: the handler checks the key it touches)."""
        principal, coverage = verified
        request, bucket, operation = call.request, call.bucket, call.operation
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

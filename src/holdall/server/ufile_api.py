"""The UFile / Inspur management API: ``GET /?Action=<Name>&...&PublicKey=&Signature=`` (REFERENCE §2).

Replies are HTTP 200 JSON with ``RetCode`` (0 = success), ``Action`` = ``<Name>Response`` and,
on failure, ``Message``.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any

from holdall.auth import ufile
from holdall.errors import ApiError
from holdall.server.http import Request, Response
from holdall.server.replies import api_error_response, api_response
from holdall.service.buckets import DEFAULT_PROJECT, BucketService
from holdall.store.meta.base import Bucket, MetaStore

Handler = Callable[[str, dict[str, str]], Awaitable[dict[str, Any]]]


def _int(params: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(15017, f"{name} must be an integer") from None
    if not low <= value <= high:
        raise ApiError(15018, f"{name} must be between {low} and {high}")
    return value


def _required(params: dict[str, str], name: str) -> str:
    value = params.get(name, "")
    if not value:
        raise ApiError(15002, f"missing {name}")
    return value


class ManagementApi:
    def __init__(self, meta: MetaStore, buckets: BucketService, default_region: str) -> None:
        self.meta = meta
        self.buckets = buckets
        self.default_region = default_region
        self.actions: dict[str, Handler] = {
            "CreateBucket": self.create_bucket,
            "DescribeBucket": self.describe_bucket,
            "UpdateBucket": self.update_bucket,
            "DeleteBucket": self.delete_bucket,
        }

    async def handle(self, request: Request, params: dict[str, str]) -> Response:
        action = params.get("Action", "")
        try:
            handler = self.actions.get(action)
            if handler is None:
                raise ApiError(15017, f"unknown Action {action!r}")
            account_id = self.authenticate(params)
            return api_response(action, await handler(account_id, params))
        except ApiError as error:
            return api_error_response(action, error)

    def authenticate(self, params: dict[str, str]) -> str:
        public_key, signature = params.get("PublicKey", ""), params.get("Signature", "")
        if not public_key or not signature:
            raise ApiError(15037, "the request needs PublicKey and Signature")
        account = self.meta.account_by_public_key(public_key)
        if account is None or account.disabled:
            raise ApiError(15037, f"unknown or disabled PublicKey {public_key!r}")
        signed = {name: value for name, value in params.items() if name != "Signature"}
        expected = ufile.api_signature(signed, account.private_key)
        if not hmac.compare_digest(expected.encode(), signature.lower().encode()):
            raise ApiError(15037, "Signature does not match the parameters")
        return account.id

    def _bucket_set(self, bucket: Bucket) -> dict[str, Any]:
        return {
            "BucketName": bucket.name,
            "BucketId": bucket.id,
            "Domain": {"Src": [self.buckets.host_of(bucket.name)], "Cdn": [], "CustomSrc": [], "CustomCdn": []},
            "CdnDomainId": [],
            "Type": bucket.type,
            "CreateTime": bucket.created,
            "ModifyTime": bucket.modified,
            "Biz": "general",
            "Region": bucket.region,
            "Tag": "Default",
            "HasUserDomain": 0,
            "ProjectId": bucket.project_id,
        }

    async def create_bucket(self, account_id: str, params: dict[str, str]) -> dict[str, Any]:
        bucket = await self.buckets.create(
            account_id,
            _required(params, "BucketName"),
            params.get("Type") or "private",
            params.get("Region") or self.default_region,
            params.get("ProjectId") or DEFAULT_PROJECT,
        )
        return {"BucketName": bucket.name, "BucketId": bucket.id}

    async def describe_bucket(self, account_id: str, params: dict[str, str]) -> dict[str, Any]:
        name = params.get("BucketName") or params.get("Name") or None
        buckets = self.buckets.describe(
            account_id,
            name,
            params.get("ProjectId") or None,
            _int(params, "Offset", 0, 0, 10**9),
            _int(params, "Limit", 20, 1, 1000),
        )
        return {"DataSet": [self._bucket_set(bucket) for bucket in buckets]}

    async def update_bucket(self, account_id: str, params: dict[str, str]) -> dict[str, Any]:
        bucket = await self.buckets.update(account_id, _required(params, "BucketName"), _required(params, "Type"))
        return {"BucketName": bucket.name, "BucketId": bucket.id}

    async def delete_bucket(self, account_id: str, params: dict[str, str]) -> dict[str, Any]:
        bucket = await self.buckets.delete(account_id, _required(params, "BucketName"))
        return {"BucketName": bucket.name, "BucketId": bucket.id}

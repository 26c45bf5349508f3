"""The UFile / Inspur management actions on buckets: ``GET /?Action=<Name>&...&PublicKey=&Signature=``
(REFERENCE §2), and the parameters every UFile action takes.

Replies are HTTP 200 JSON with ``RetCode`` (0 = success), ``Action`` = ``<Name>Response`` and,
on failure, ``Message``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from holdall.errors import InvalidParameter, MissingParameter, OutOfRange
from holdall.parsing import is_ascii_uint
from holdall.server.actions import ActionSpec, Args, Runner, declared
from holdall.service.buckets import REGION, BucketService, resolve_project
from holdall.service.cors import CorsRuleError, dump_rules, parse_rules
from holdall.store.meta.base import Bucket, MetaStore

Handler = Callable[[str, dict[str, str]], Awaitable[dict[str, Any]]]
MAX_CAP = 2**62
_TOKEN = ("TokenName", "AllowedOps.N", "AllowedPrefixes.N", "AllowedBuckets.N", "ExpireTime")
_TOKEN_IPS = ("BlackIPList.N", "WhiteIPList.N")
_PURCHASE = ("StorageVolume", "DownloadTraffic", "RequestCount")
DECLARED: dict[str, tuple[str, ...]] = {
    "CreateBucket": ("BucketName", "Type", "Domain.N"),
    "DescribeBucket": ("BucketName", "Name", "Offset", "Limit"),
    "UpdateBucket": ("BucketName", "Type"),
    "UpdateBucketQuota": ("BucketName", "MaxBytes", "MaxObjects"),
    "UpdateBucketCors": ("BucketName", "CORSRules"),
    "DeleteBucket": ("BucketName",),
    "CreateUFileToken": (*_TOKEN, *_TOKEN_IPS),
    "UpdateUFileToken": ("TokenId", *_TOKEN, *_TOKEN_IPS),
    "DeleteUFileToken": ("TokenId",),
    "DescribeUFileToken": ("TokenId",),
    "GetUFileQuota": ("QuotaType",),
    "GetUFileQuotaInfo": ("QuotaType.N",),
    "GetUFileQuotaPrice": _PURCHASE,
    "BuyUFileQuota": _PURCHASE,
    "GetUFileReport": ("StartTime", "EndTime"),
}
"""The parameters of each UFile action besides the common ones (Action, PublicKey, Signature, Region, ProjectId)."""


def param_int(params: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name, "")
    if raw == "":
        return default
    if not is_ascii_uint(raw.removeprefix("-")):
        raise InvalidParameter(name, f"{name} must be an integer")
    value = int(raw)
    if not low <= value <= high:
        raise OutOfRange(name, f"{name} must be between {low} and {high}")
    return value


def required(params: dict[str, str], name: str) -> str:
    value = params.get(name, "")
    if not value:
        raise MissingParameter(name, f"missing {name}")
    return value


def region_param(params: dict[str, str], default: str | None) -> str:
    """The Region a call names (``default`` when it names none; None: the call must name one)."""
    value = params.get("Region", "")
    if not value:
        if default is None:
            raise MissingParameter("Region", "missing Region")
        return default
    if not REGION.match(value):
        raise InvalidParameter("Region", f"Region {value!r}: lower-case letters, digits and hyphens, at most 32")
    return value


def param_list(params: dict[str, str], name: str) -> list[str] | None:
    """``Name.0``, ``Name.1``, … in order of their numbers; None when none is given."""
    numbered = []
    for param, value in params.items():
        base, dot, number = param.partition(".")
        if base == name and dot:
            if not is_ascii_uint(number, 6):
                raise InvalidParameter(param, f"{param}: the part after the dot must be a number")
            numbered.append((int(number), value))
    if not numbered:
        return None
    return [value for _, value in sorted(numbered)]


def ufile_specs(handlers: dict[str, Handler]) -> list[ActionSpec]:
    """The table rows of UFile's own actions: text parameters, each handler parses its own."""

    def adapt(handler: Handler) -> Runner:
        async def run(account_id: str, args: Args) -> dict[str, Any]:
            return await handler(account_id, {name: str(value) for name, value in args.items()})

        return run

    return [ActionSpec(name, "ufile", declared(*DECLARED[name]), adapt(handler)) for name, handler in handlers.items()]


class BucketApi:
    def __init__(self, meta: MetaStore, buckets: BucketService, default_region: str) -> None:
        self.meta = meta
        self.buckets = buckets
        self.default_region = default_region

    def actions(self) -> dict[str, Handler]:
        return {
            "CreateBucket": self.create_bucket,
            "DescribeBucket": self.describe_bucket,
            "UpdateBucket": self.update_bucket,
            "UpdateBucketQuota": self.update_bucket_quota,
            "UpdateBucketCors": self.update_bucket_cors,
            "DeleteBucket": self.delete_bucket,
        }

    async def _bucket_set(self, bucket: Bucket) -> dict[str, Any]:
        usage = await self.meta.bucket_usage(bucket.name)
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
            "MaxBytes": bucket.max_bytes,
            "MaxObjects": bucket.max_objects,
            "UsedBytes": usage.used_bytes,
            "ObjectCount": usage.object_count,
            "CORSRules": json.loads(bucket.cors) if bucket.cors else [],
        }

    async def create_bucket(self, account_id: str, params: dict[str, str]) -> dict[str, Any]:
        bucket = await self.buckets.create(
            account_id,
            required(params, "BucketName"),
            params.get("Type") or "private",
            region_param(params, self.default_region),
            await resolve_project(self.meta, account_id, params.get("ProjectId")),
        )
        return {"BucketName": bucket.name, "BucketId": bucket.id}

    async def describe_bucket(self, account_id: str, params: dict[str, str]) -> dict[str, Any]:
        name = params.get("BucketName") or params.get("Name") or None
        buckets = await self.buckets.describe(
            account_id,
            name,
            await resolve_project(self.meta, account_id, params["ProjectId"]) if params.get("ProjectId") else None,
            param_int(params, "Offset", 0, 0, 10**9),
            param_int(params, "Limit", 20, 1, 1000),
        )
        return {"DataSet": [await self._bucket_set(bucket) for bucket in buckets]}

    async def update_bucket(self, account_id: str, params: dict[str, str]) -> dict[str, Any]:
        bucket = await self.buckets.update(account_id, required(params, "BucketName"), required(params, "Type"))
        return {"BucketName": bucket.name, "BucketId": bucket.id}

    async def update_bucket_quota(self, account_id: str, params: dict[str, str]) -> dict[str, Any]:
        """Hard caps on a bucket's bytes and object count (0: none), held inside every write's transaction."""
        bucket = await self.buckets.owned(account_id, required(params, "BucketName"))
        if "MaxBytes" not in params and "MaxObjects" not in params:
            raise MissingParameter("MaxBytes", "give MaxBytes, MaxObjects or both")
        max_bytes = param_int(params, "MaxBytes", bucket.max_bytes, 0, MAX_CAP)
        max_objects = param_int(params, "MaxObjects", bucket.max_objects, 0, MAX_CAP)
        await self.meta.set_bucket_caps(bucket.name, max_bytes, max_objects)
        return {"BucketName": bucket.name, "BucketId": bucket.id, "MaxBytes": max_bytes, "MaxObjects": max_objects}

    async def update_bucket_cors(self, account_id: str, params: dict[str, str]) -> dict[str, Any]:
        """Replaces a bucket's CORS rules with ``CORSRules``, a JSON list (``[]`` removes them)."""
        bucket = await self.buckets.owned(account_id, required(params, "BucketName"))
        if "CORSRules" not in params:
            raise MissingParameter("CORSRules", "missing CORSRules")
        try:
            rules = parse_rules(params["CORSRules"])
        except CorsRuleError as problem:
            raise InvalidParameter("CORSRules", f"CORSRules: {problem}") from None
        await self.meta.set_bucket_cors(bucket.name, dump_rules(rules) if rules else "")
        return {"BucketName": bucket.name, "BucketId": bucket.id}

    async def delete_bucket(self, account_id: str, params: dict[str, str]) -> dict[str, Any]:
        bucket = await self.buckets.delete(account_id, required(params, "BucketName"))
        return {"BucketName": bucket.name, "BucketId": bucket.id}

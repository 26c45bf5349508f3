"""Management actions of seed 004 §16–19 and §21–23: quotas, prices, usage reports and tokens."""

from __future__ import annotations

from typing import Any

from holdall.errors import InvalidParameter, MissingParameter, OutOfRange
from holdall.server.ufile_api import Handler, param_int, param_list, region_param, required
from holdall.service.quotas import PURCHASE_RULES, PriceTable, QuotaBook, to_raw
from holdall.service.tokens import TokenChanges, TokenService
from holdall.service.usage import report
from holdall.store.meta.base import DOWNLOAD_TRAFFIC, QUOTA_TYPES, REQUEST_COUNT, STORAGE_VOLUME, MetaStore, Token

YEAR = 365 * 86400
MAX_TIME = 2**40
QUOTA_INFO_FIELDS = {STORAGE_VOLUME: "Storage", DOWNLOAD_TRAFFIC: "DownloadFlow", REQUEST_COUNT: "RequestCnt"}


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def token_set(token: Token) -> dict[str, Any]:
    return {
        "TokenId": token.id,
        "TokenName": token.name,
        "PublicKey": token.public_key,
        "PrivateKey": token.private_key,
        "AllowedOps": token.ops,
        "AllowedPrefixes": token.prefixes,
        "AllowedBuckets": token.buckets,
        "ExpireTime": token.expire_time,
        "CreateTime": token.created,
        "ModifyTime": token.modified,
        "Region": token.region,
        "ProjectId": token.project_id,
        "BlackIPList": token.black_ips,
        "WhiteIPList": token.white_ips,
    }


def _token_changes(params: dict[str, str]) -> TokenChanges:
    expire = params.get("ExpireTime")
    return TokenChanges(
        name=params.get("TokenName"),
        ops=param_list(params, "AllowedOps"),
        prefixes=param_list(params, "AllowedPrefixes"),
        buckets=param_list(params, "AllowedBuckets"),
        expire_time=param_int(params, "ExpireTime", 0, 0, MAX_TIME) if expire else None,
        white_ips=param_list(params, "WhiteIPList"),
        black_ips=param_list(params, "BlackIPList"),
        region=region_param(params, "") or None,
    )


class AccountingApi:
    def __init__(self, meta: MetaStore, tokens: TokenService, book: QuotaBook, prices: PriceTable, region: str) -> None:
        self.meta = meta
        self.tokens = tokens
        self.book = book
        self.prices = prices
        self.default_region = region

    def actions(self) -> dict[str, Handler]:
        return {
            "CreateUFileToken": self.create_token,
            "UpdateUFileToken": self.update_token,
            "DeleteUFileToken": self.delete_token,
            "DescribeUFileToken": self.describe_token,
            "GetUFileQuota": self.get_quota,
            "GetUFileQuotaInfo": self.get_quota_info,
            "GetUFileQuotaPrice": self.get_quota_price,
            "BuyUFileQuota": self.buy_quota,
            "GetUFileReport": self.get_report,
        }

    # ----------------------------------------------------------------- tokens

    async def create_token(self, account_id: str, params: dict[str, str]) -> dict[str, Any]:
        token = await self.tokens.create(account_id, params.get("ProjectId", ""), _token_changes(params))
        return {"TokenId": token.id, "UFileTokenSet": token_set(token)}

    async def update_token(self, account_id: str, params: dict[str, str]) -> dict[str, Any]:
        await self.tokens.update(account_id, required(params, "TokenId"), _token_changes(params))
        return {}

    async def delete_token(self, account_id: str, params: dict[str, str]) -> dict[str, Any]:
        await self.tokens.delete(account_id, required(params, "TokenId"))
        return {}

    async def describe_token(self, account_id: str, params: dict[str, str]) -> dict[str, Any]:
        return {
            "DataSet": [token_set(token) for token in await self.tokens.describe(account_id, params.get("TokenId"))]
        }

    # ----------------------------------------------------------------- quotas

    def _quota_type(self, value: str) -> str:
        if value not in QUOTA_TYPES:
            raise InvalidParameter("QuotaType", f"QuotaType {value!r} is not one of {', '.join(QUOTA_TYPES)}")
        return value

    async def get_quota(self, account_id: str, params: dict[str, str]) -> dict[str, Any]:
        quota_type = self._quota_type(required(params, "QuotaType"))
        found = [left for (_, type_), left in (await self.meta.quotas(account_id)).items() if type_ == quota_type]
        if not found:
            return {"Unlimited": True}
        return {"LeftQuota": _number(round(sum(found) / to_raw(quota_type, 1), 6))}

    async def get_quota_info(self, account_id: str, params: dict[str, str]) -> dict[str, Any]:
        region = region_param(params, None)
        types = [self._quota_type(value) for value in param_list(params, "QuotaType") or []]
        if not types:
            raise MissingParameter("QuotaType.0", "missing QuotaType.0")
        left = await self.book.left(account_id, region)
        values = [left[quota_type] for quota_type in types]
        owes = any(value is not None and value <= 0 for value in values)
        item: dict[str, Any] = {"Region": region, "Owe": int(owes)}
        for quota_type in types:
            value = left[quota_type]
            item[QUOTA_INFO_FIELDS[quota_type]] = (
                {"Unlimited": True} if value is None else {"Left": _number(round(value, 6))}
            )
        return {"DataSet": [item]}

    def _purchase(self, params: dict[str, str]) -> dict[str, float]:
        amounts: dict[str, float] = {}
        for rule in PURCHASE_RULES:
            amount = param_int(params, rule.param, 0, 0, rule.high)
            if amount % rule.step:
                raise InvalidParameter(rule.param, f"{rule.param} must be a multiple of {rule.step}")
            amounts[rule.quota_type] = amount
        return amounts

    async def get_quota_price(self, account_id: str, params: dict[str, str]) -> dict[str, Any]:
        region_param(params, self.default_region)
        return {"Price": _number(self.prices.price(self._purchase(params)))}

    async def buy_quota(self, account_id: str, params: dict[str, str]) -> dict[str, Any]:
        """Adds quota to the account in a region, priced as GetUFileQuotaPrice prices it."""
        region = region_param(params, self.default_region)
        amounts = self._purchase(params)
        if not any(amounts.values()):
            raise MissingParameter("StorageVolume", "give StorageVolume, DownloadTraffic or RequestCount")
        raw = {quota_type: to_raw(quota_type, amount) for quota_type, amount in amounts.items() if amount}
        await self.meta.add_quota(account_id, region, raw)
        return {"Price": _number(self.prices.price(amounts))}

    # ----------------------------------------------------------------- usage

    async def get_report(self, account_id: str, params: dict[str, str]) -> dict[str, Any]:
        region = region_param(params, self.default_region)
        start = param_int(params, "StartTime", -1, 0, MAX_TIME)
        end = param_int(params, "EndTime", -1, 0, MAX_TIME)
        if start < 0 or end < 0:
            raise MissingParameter("StartTime", "missing StartTime or EndTime")
        if start >= end:
            raise InvalidParameter("StartTime", "StartTime must be earlier than EndTime")
        if end - start >= YEAR:
            raise OutOfRange("EndTime", "StartTime and EndTime must lie less than a year apart")
        return {
            "DataSet": [
                {
                    "Time": row.time,
                    "StorageVolume": row.storage_volume,
                    "DownloadTraffic": row.download_traffic,
                    "RequestCount": row.request_count,
                }
                for row in await report(self.meta, account_id, region, start, end)
            ]
        }

"""Quotas of seed 004 §16, 17, 19: what an account may still consume, per region and type, and what it costs.

Quota is kept in raw units (byte-seconds, bytes, requests) and shown in the seed's: storage
volume in GB·day, download traffic in GB, requests in units of 10,000 (1 GB = 2**30 bytes). An
account with no quota of a type is unlimited in that type; once it has one, requests that
consume the type are refused while what remains is zero or less (the account owes).
"""

from __future__ import annotations

from dataclasses import dataclass

from holdall.errors import QuotaExceeded
from holdall.store.meta.base import DAY, DOWNLOAD_TRAFFIC, QUOTA_TYPES, REQUEST_COUNT, STORAGE_VOLUME, MetaStore

GB = 1024**3
RAW_PER_UNIT: dict[str, float] = {
    STORAGE_VOLUME: GB * DAY,
    DOWNLOAD_TRAFFIC: GB,
    REQUEST_COUNT: 10_000,
}
UNIT_NAMES = {STORAGE_VOLUME: "GB·day", DOWNLOAD_TRAFFIC: "GB", REQUEST_COUNT: "×10,000 requests"}


@dataclass(frozen=True, slots=True)
class PurchaseRule:
    """The range and step that GetUFileQuotaPrice accepts for one quota type (seed 004 §17)."""

    param: str
    quota_type: str
    high: int
    step: int


PURCHASE_RULES = (
    PurchaseRule("StorageVolume", STORAGE_VOLUME, 30_000_000, 100),
    PurchaseRule("DownloadTraffic", DOWNLOAD_TRAFFIC, 60_000, 1),
    PurchaseRule("RequestCount", REQUEST_COUNT, 1_000_000, 1),
)


@dataclass(frozen=True, slots=True)
class PriceTable:
    """Fen per unit. The defaults price the seed's example (200 GB·day, 5 GB, 20,000 requests) at 346."""

    storage_volume: float = 0.72
    download_traffic: float = 40.0
    request_count: float = 1.0

    def price(self, amounts: dict[str, float]) -> float:
        total = (
            amounts.get(STORAGE_VOLUME, 0) * self.storage_volume
            + amounts.get(DOWNLOAD_TRAFFIC, 0) * self.download_traffic
            + amounts.get(REQUEST_COUNT, 0) * self.request_count
        )
        return round(total, 2)


def to_raw(quota_type: str, units: float) -> float:
    return units * RAW_PER_UNIT[quota_type]


def to_units(quota_type: str, raw: float) -> float:
    return raw / RAW_PER_UNIT[quota_type]


class QuotaBook:
    """What each account has left, as this process last read it: refreshed after every usage flush
    and whenever quota is added, so a refusal lags consumption by at most one flush interval.
    The data plane looks up the bucket (which notices changes) before it asks."""

    def __init__(self, meta: MetaStore) -> None:
        self.meta = meta
        self.remaining: dict[tuple[str, str, str], float] = {}
        self._fresh = meta.new_cache()  # emptied by the store when quota is added anywhere

    @property
    def stale(self) -> bool:
        """Quota changed somewhere since the last :meth:`refresh`; refresh before :meth:`check`."""
        return not self._fresh

    async def refresh(self) -> None:
        self.remaining = await self.meta.all_quotas()
        self._fresh["quotas"] = True

    def check(self, account_id: str, region: str, quota_types: tuple[str, ...]) -> None:
        """Refuses a request that consumes any of ``quota_types`` while the account owes one of them."""
        if not self.remaining:
            return
        for quota_type in quota_types:
            left = self.remaining.get((account_id, region, quota_type))
            if left is not None and left <= 0:
                raise QuotaExceeded(
                    f"the {quota_type} quota of region {region} is used up"
                    f" ({to_units(quota_type, left):.6g} {UNIT_NAMES[quota_type]} left): add quota to go on"
                )

    async def left(self, account_id: str, region: str) -> dict[str, float | None]:
        """Units left of each type; None where the account has no quota of that type."""
        found = await self.meta.quotas(account_id)
        return {
            quota_type: to_units(quota_type, found[(region, quota_type)]) if (region, quota_type) in found else None
            for quota_type in QUOTA_TYPES
        }

"""Usage metering (seed 004 §18): requests and download bytes counted in memory, flushed often.

A GET adds no database write: each process adds to a dictionary and writes it out every
``usage_flush_interval`` seconds (and at shutdown) in one transaction, so a crash loses at most
that interval's counts. The same flush accrues stored bytes as byte-seconds.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from holdall import clock
from holdall.errors import StorageFull
from holdall.service.quotas import QuotaBook, to_units
from holdall.store.meta.base import (
    DAY,
    DOWNLOAD_TRAFFIC,
    REQUEST_COUNT,
    STORAGE_VOLUME,
    MetaStore,
    UsageDeltas,
    day_of,
)

log = logging.getLogger("holdall.usage")


class Meter:
    def __init__(self, meta: MetaStore, book: QuotaBook, interval: float) -> None:
        self.meta = meta
        self.book = book
        self.interval = interval
        self.pending: UsageDeltas = {}

    def add(self, account_id: str, region: str, requests: int, download_bytes: int) -> None:
        entry = self.pending.get((account_id, region))
        if entry is None:
            self.pending[(account_id, region)] = [requests, download_bytes]
        else:
            entry[0] += requests
            entry[1] += download_bytes

    async def flush(self) -> None:
        deltas, self.pending = self.pending, {}
        try:
            await self.meta.record_usage(deltas, clock.now())
        except BaseException:
            for (account_id, region), (requests, download) in deltas.items():  # kept for the next try
                self.add(account_id, region, requests, download)
            raise
        await self.book.refresh()

    async def run_forever(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.flush()
            except StorageFull as error:
                log.error("usage flush failed, counts kept for the next one: %s", error.message)
            except Exception:
                log.exception("usage flush failed; counts kept for the next one")


@dataclass(frozen=True, slots=True)
class ReportRow:
    time: int
    storage_volume: float
    download_traffic: float
    request_count: float


async def report(meta: MetaStore, account_id: str, region: str, start: int, end: int) -> list[ReportRow]:
    """One row a day from the day of ``start`` to the day of ``end``, days without usage included."""
    first, last = day_of(start), day_of(end)
    days = await meta.usage_days(account_id, region, first, last)
    rows = []
    for day in range(first, last + 1, DAY):
        found = days.get(day)
        rows.append(
            ReportRow(
                time=day,
                storage_volume=to_units(STORAGE_VOLUME, found.storage_byte_seconds) if found else 0.0,
                download_traffic=to_units(DOWNLOAD_TRAFFIC, found.download_bytes) if found else 0.0,
                request_count=to_units(REQUEST_COUNT, found.requests) if found else 0.0,
            )
        )
    return rows

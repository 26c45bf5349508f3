"""Background sweeping: stale multipart uploads, and blobs nothing refers to any more.

A blob is deleted only after a grace period: a released blob may still be streaming to a
reader that looked it up a moment ago, and a blob file without a row may belong to a write
whose metadata commit is on its way.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from holdall import clock
from holdall.config import Settings
from holdall.errors import UploadNotFound
from holdall.metrics import TALLY
from holdall.service.tempaccess import TEMP_PREFIX
from holdall.store.blobs.composite import CompositeBlobs
from holdall.store.meta.base import MetaStore

log = logging.getLogger("holdall.lifecycle")
BATCH = 500
STRAY_GRACE = 3600
UNFINISHED_GRACE = 24 * 3600
"""How long a blob may take to arrive: temporaries and announced blobs younger than this are left alone."""
TEMP_CREDENTIAL_GRACE = 3600
LEASE_SECONDS = 30.0


class Sweeper:
    def __init__(
        self, settings: Settings, meta: MetaStore, blobs: CompositeBlobs, executor: ThreadPoolExecutor
    ) -> None:
        self.settings = settings
        self.meta = meta
        self.blobs = blobs
        self.executor = executor
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._strays_scanned = 0.0

    async def run_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.sweep_interval)
            try:
                await self.sweep_if_leader()
            except Exception:
                log.exception("sweep failed; trying again next round")

    async def sweep_if_leader(self) -> dict[str, int] | None:
        """Sweeps when this process holds the sweeper's lease: one process of all gateways at a time
        (each step also claims its rows atomically, so an overlap after a lease expires is harmless)."""
        lease = max(3.0 * self.settings.sweep_interval, LEASE_SECONDS)
        if not await self.meta.hold_lease("sweeper", self.holder, lease, clock.now()):
            return None
        return await self.sweep()

    async def sweep(self) -> dict[str, int]:
        uploads = await self.expire_uploads()
        released = await self.delete_released_blobs()
        strays = await self.delete_unnamed_blobs()
        if time.time() - self._strays_scanned >= STRAY_GRACE:  # listing the store's temporary area: hourly
            self._strays_scanned = time.time()
            strays += await asyncio.get_running_loop().run_in_executor(
                self.executor, self._delete_old_temporaries, time.time() - UNFINISHED_GRACE
            )
        credentials = await self.meta.forget_temp_credentials(int(clock.now()) - TEMP_CREDENTIAL_GRACE)
        temp_files = await self.expire_temp_files()
        removed = {
            "uploads": uploads,
            "blobs": released,
            "strays": strays,
            "credentials": credentials,
            "temp_files": temp_files,
        }
        TALLY.sweep(removed)
        return removed

    async def expire_temp_files(self) -> int:
        """Deletes files of the temp bucket (seed 000) uploaded more than ``temp_file_max_age`` ago."""
        bucket = self.settings.temp_bucket
        if await self.meta.bucket(bucket) is None:
            return 0
        before = clock.now() - self.settings.temp_file_max_age
        count, after = 0, ""
        while True:
            rows = await self.meta.objects(bucket, TEMP_PREFIX, after, BATCH)
            for row in rows:
                if row.modified < before and await self.meta.delete_object(bucket, row.key, now=clock.now()):
                    count += 1
            if len(rows) < BATCH:
                return count
            after = rows[-1].key

    async def expire_uploads(self) -> int:
        before = int(clock.now()) - self.settings.upload_max_age
        count = 0
        for upload_id in await self.meta.uploads_created_before(before, BATCH):
            try:
                await self.meta.abort_upload(upload_id, now=clock.now())
                count += 1
            except UploadNotFound:
                pass
        return count

    async def delete_released_blobs(self) -> int:
        before = clock.now() - self.settings.blob_grace
        ids = await self.meta.released_blobs(before, BATCH)
        if not ids:
            return 0
        gone = await self.meta.forget_blobs(ids)
        return sum([await self._delete_or_keep_record(blob_id) for blob_id in gone])

    async def _delete_or_keep_record(self, blob_id: str) -> int:
        """Deletes the bytes of a blob the metadata dropped; if that fails, records it again as pending
        so that a later sweep retries, rather than leaving bytes nothing will ever name."""
        try:
            await self.blobs.delete(blob_id)
        except Exception as error:
            log.warning("could not delete blob %s (%s); it is retried in a day", blob_id, error)
            await self.meta.note_pending_blob(blob_id, clock.now())
            return 0
        return 1

    async def delete_unnamed_blobs(self) -> int:
        """Blobs announced a day ago or more that no row came to name: a write that died between its
        bytes and its metadata. Found from the metadata's records, never by listing the blob store."""
        before = clock.now() - max(self.settings.blob_grace, UNFINISHED_GRACE)
        count = 0
        while ids := await self.meta.stale_pending_blobs(before, BATCH):
            for blob_id in await self.meta.forget_pending_blobs(ids):
                count += await self._delete_or_keep_record(blob_id)
        return count

    def _delete_old_temporaries(self, before: float) -> int:
        count = 0
        for name, mtime in list(self.blobs.store.scan_temporary()):
            if mtime < before:
                self.blobs.store.delete_temporary(name)
                count += 1
        return count

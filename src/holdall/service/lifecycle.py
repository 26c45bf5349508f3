"""Background sweeping: stale multipart uploads, and blobs nothing refers to any more.

A blob is deleted only after a grace period: a released blob may still be streaming to a
reader that looked it up a moment ago, and a blob file without a row may belong to a write
whose metadata commit is on its way.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor

from holdall import clock
from holdall.config import Settings
from holdall.errors import UploadNotFound
from holdall.service.tempaccess import TEMP_PREFIX
from holdall.store.blobs.base import BlobStore, is_inline
from holdall.store.meta.base import MetaStore

log = logging.getLogger("holdall.lifecycle")
BATCH = 500
STRAY_GRACE = 3600
TEMP_CREDENTIAL_GRACE = 3600


class Sweeper:
    def __init__(self, settings: Settings, meta: MetaStore, blobs: BlobStore, executor: ThreadPoolExecutor) -> None:
        self.settings = settings
        self.meta = meta
        self.blobs = blobs
        self.executor = executor

    async def run_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.sweep_interval)
            try:
                await self.sweep()
            except Exception:
                log.exception("sweep failed; trying again next round")

    async def sweep(self) -> dict[str, int]:
        uploads = await self.expire_uploads()
        released = await self.delete_released_blobs()
        strays = await asyncio.get_running_loop().run_in_executor(self.executor, self.delete_stray_files)
        credentials = await self.meta.forget_temp_credentials(int(clock.now()) - TEMP_CREDENTIAL_GRACE)
        temp_files = await self.expire_temp_files()
        return {
            "uploads": uploads,
            "blobs": released,
            "strays": strays,
            "credentials": credentials,
            "temp_files": temp_files,
        }

    async def expire_temp_files(self) -> int:
        """Deletes files of the temp bucket (seed 000) uploaded more than ``temp_file_max_age`` ago."""
        bucket = self.settings.temp_bucket
        if self.meta.bucket(bucket) is None:
            return 0
        before = clock.now() - self.settings.temp_file_max_age
        count, after = 0, ""
        while True:
            rows = self.meta.objects(bucket, TEMP_PREFIX, after, BATCH)
            for row in rows:
                if row.modified < before and await self.meta.delete_object(bucket, row.key, now=clock.now()):
                    count += 1
            if len(rows) < BATCH:
                return count
            after = rows[-1].key

    async def expire_uploads(self) -> int:
        before = int(clock.now()) - self.settings.upload_max_age
        count = 0
        for upload_id in self.meta.uploads_created_before(before, BATCH):
            try:
                await self.meta.abort_upload(upload_id, now=clock.now())
                count += 1
            except UploadNotFound:
                pass
        return count

    async def delete_released_blobs(self) -> int:
        before = time.time() - self.settings.blob_grace
        ids = self.meta.released_blobs(before, BATCH)
        if not ids:
            return 0
        gone = await self.meta.forget_blobs(ids)
        for blob_id in gone:
            if not is_inline(blob_id):
                self.blobs.delete(blob_id)
        return len(gone)

    def delete_stray_files(self) -> int:
        """Blob files that no row names, and abandoned temporary files, an hour old or more."""
        before = time.time() - max(self.settings.blob_grace, STRAY_GRACE)
        count = 0
        for name, mtime in list(self.blobs.scan_temporary()):
            if mtime < before:
                self.blobs.delete_temporary(name)
                count += 1
        for blob_id, mtime in list(self.blobs.scan()):
            if mtime < before and not self.meta.blob_known(blob_id):
                self.blobs.delete(blob_id)
                count += 1
        return count

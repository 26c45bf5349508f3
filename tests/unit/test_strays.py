"""The sweeper's stray pass: blob files no metadata names, an hour old, go; everything else stays."""

from __future__ import annotations

import asyncio
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from holdall.config import Settings
from holdall.service.lifecycle import STRAY_GRACE, Sweeper
from holdall.store.blobs.composite import CompositeBlobs
from holdall.store.blobs.file import FileBlobStore
from holdall.store.meta.base import BlobRef, Bucket, ObjectRecord
from holdall.store.meta.sqlite import SqliteMetaStore


def test_old_unreferenced_blobs_go_and_the_rest_stay(tmp_path: Path) -> None:
    async def scenario() -> None:
        meta = SqliteMetaStore(tmp_path / "meta.sqlite3")
        blobs = FileBlobStore(tmp_path / "blobs")
        executor = ThreadPoolExecutor(2)
        try:
            bucket = Bucket("b", "id", "acct", "default", "private", "cn-bj", 0, 0)
            await meta.create_bucket(bucket)

            def blob(age: float) -> str:
                writer = blobs.writer()
                writer.write(b"bytes")
                writer.commit()
                moment = time.time() - age
                os.utime(blobs.path(writer.blob_id), (moment, moment))
                return writer.blob_id

            kept = blob(2 * STRAY_GRACE)
            record = ObjectRecord("b", "k", 5, "e", "text/plain", 0, 0, [BlobRef(kept, 5)])
            await meta.put_object(record, bucket_id="id", now=time.time())
            young, old = blob(60), blob(2 * STRAY_GRACE)
            sweeper = Sweeper(Settings(data_dir=tmp_path), meta, CompositeBlobs(meta, blobs, executor), executor)
            assert await sweeper.delete_stray_files() == 1
            remaining = {blob_id for blob_id, _ in blobs.scan()}
            assert remaining == {kept, young} and old not in remaining
        finally:
            executor.shutdown()
            meta.close()

    asyncio.run(scenario())

"""The sweeper's leftovers pass: a blob announced an hour ago that no row came to name goes; a blob a
row names stays, and so does one still being written. Nothing lists the blob store."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from holdall.config import Settings
from holdall.service.lifecycle import UNFINISHED_GRACE, Sweeper
from holdall.store.blobs.composite import CompositeBlobs
from holdall.store.blobs.file import FileBlobStore
from holdall.store.meta.base import BlobRef, Bucket, ObjectRecord
from holdall.store.meta.sqlite import SqliteMetaStore


def test_announced_blobs_nobody_named_go_and_the_rest_stay(tmp_path: Path) -> None:
    async def scenario() -> None:
        meta = SqliteMetaStore(tmp_path / "meta.sqlite3")
        blobs = FileBlobStore(tmp_path / "blobs")
        executor = ThreadPoolExecutor(2)
        try:
            await meta.create_bucket(Bucket("b", "id", "acct", "default", "private", "cn-bj", 0, 0))

            async def blob(announced_ago: float) -> str:
                writer = blobs.writer()
                await meta.note_pending_blob(writer.blob_id, time.time() - announced_ago)
                writer.write(b"bytes")
                writer.commit()
                return writer.blob_id

            named = await blob(2 * UNFINISHED_GRACE)
            record = ObjectRecord("b", "k", 5, "e", "text/plain", 0, 0, [BlobRef(named, 5)])
            await meta.put_object(record, bucket_id="id", now=time.time())
            in_flight, abandoned = await blob(60), await blob(2 * UNFINISHED_GRACE)
            sweeper = Sweeper(Settings(data_dir=tmp_path), meta, CompositeBlobs(meta, blobs, executor), executor)
            assert await sweeper.delete_unnamed_blobs() == 1
            assert {blob_id for blob_id, _ in blobs.scan()} == {named, in_flight}
            assert abandoned not in {blob_id for blob_id, _ in blobs.scan()}
            assert await meta.stale_pending_blobs(time.time(), 10) == [in_flight]  # the named one's record went
        finally:
            executor.shutdown()
            meta.close()

    asyncio.run(scenario())

"""The blobs services see: small ones kept in the metadata store, the rest in the blob store.

An object up to ``--inline-limit`` bytes is committed in the same metadata transaction as the row
that names it; a larger one is a file or an S3 object. Services read, stream and delete blobs
through this one place, which knows where each kind lives and keeps blocking calls to a remote
store off the event loop.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

from holdall.store.blobs.base import BlobStore
from holdall.store.meta.base import BlobRefStore

INLINE_PREFIX = "i"


def new_inline_id() -> str:
    """The id of a blob kept in the metadata store."""
    return INLINE_PREFIX + uuid.uuid4().hex[1:]


def is_inline(blob_id: str) -> bool:
    return blob_id.startswith(INLINE_PREFIX)


class CompositeBlobs:
    def __init__(self, meta: BlobRefStore, store: BlobStore, executor: ThreadPoolExecutor) -> None:
        self.meta = meta
        self.store = store
        self.executor = executor

    async def read(self, blob_id: str, offset: int, length: int) -> bytes:
        """``length`` bytes from ``offset``, for small reads."""
        if is_inline(blob_id):
            data = await self.meta.inline_data(blob_id)
            if data is None or len(data) < offset + length:
                raise OSError(f"inline blob {blob_id} is missing or short")
            return data[offset : offset + length]
        if self.store.local_reads:
            return self.store.read(blob_id, offset, length)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, self.store.read, blob_id, offset, length)

    async def stream(self, blob_id: str, offset: int, length: int, step: int) -> AsyncIterator[bytes]:
        """``length`` bytes from ``offset`` in chunks of at most ``step``, read off the event loop."""
        if is_inline(blob_id):
            yield await self.read(blob_id, offset, length)
            return
        loop = asyncio.get_running_loop()
        handle = self.store.open(blob_id)
        try:
            await loop.run_in_executor(self.executor, handle.seek, offset)
            while length > 0:
                data = await loop.run_in_executor(self.executor, handle.read, min(step, length))
                if not data:
                    raise OSError(f"blob {blob_id} is shorter than its manifest says")
                length -= len(data)
                yield data
        finally:
            handle.close()

    def discard(self, blob_id: str) -> None:
        """Drops, in the background, the bytes of a blob that never made it into the metadata."""
        if not is_inline(blob_id):
            self.executor.submit(self.store.delete, blob_id)

    async def delete(self, blob_id: str) -> None:
        """Deletes the bytes of a blob the metadata forgot (an inline one went with its row)."""
        if not is_inline(blob_id):
            await asyncio.get_running_loop().run_in_executor(self.executor, self.store.delete, blob_id)

"""Streams a request body into a new blob while hashing it.

A body of at most ``inline_limit`` bytes stays in memory and becomes an *inline* blob, stored in
the metadata store's own transaction: for small objects a file, its ``fdatasync`` and the
directory ``fsync`` cost far more than the bytes, while the metadata commit is group-committed
anyway. A larger body goes to a blob file: once it passes one buffer's worth, writing and hashing
move to a worker thread in 1 MiB steps, one step in flight while the next is received (hashlib
and os.write release the GIL). A file blob becomes durable in :meth:`BlobSink.commit`, which runs
``fdatasync``/rename/``fsync`` off the event loop.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import shutil
from collections.abc import AsyncIterator
from concurrent.futures import Future, ThreadPoolExecutor

from holdall.errors import BadRequest, ChecksumMismatch, EntityTooLarge, ServiceUnavailable
from holdall.etag import ETagHasher
from holdall.store.blobs.base import BlobStore, BlobWriter, new_inline_id

STEP = 1024 * 1024


def parse_content_md5(value: str) -> bytes | None:
    """Content-MD5 as the SDK sends it (32 hex digits) or as RFC 1864 has it (base64)."""
    value = value.strip()
    if not value:
        return None
    if len(value) == 32:
        try:
            return bytes.fromhex(value)
        except ValueError:
            pass
    try:
        digest = base64.b64decode(value, validate=True)
    except binascii.Error:
        digest = b""
    if len(digest) != 16:
        raise BadRequest("Content-MD5 must be 32 hex digits or the base64 of 16 bytes")
    return digest


class BlobSink:
    def __init__(
        self,
        blobs: BlobStore,
        executor: ThreadPoolExecutor,
        *,
        max_size: int,
        expected_md5: bytes | None = None,
        inline_limit: int = 0,
    ) -> None:
        self._blobs = blobs
        self._executor = executor
        self._max_size = max_size
        self._expected_md5 = expected_md5
        self._md5 = hashlib.md5() if expected_md5 is not None else None
        self.etag_hasher = ETagHasher()
        self.size = 0
        self._writer: BlobWriter | None = None
        self._buffer = bytearray()
        self._pending: Future[None] | None = None
        self._inline_limit = inline_limit
        self.inline_data: bytes | None = None

    def _absorb(self, data: bytes) -> None:
        if self._writer is None:
            self._writer = self._blobs.writer()
        self._writer.write(data)
        self.etag_hasher.update(data)
        if self._md5 is not None:
            self._md5.update(data)

    async def _flush(self) -> None:
        if self._pending is not None:
            await asyncio.wrap_future(self._pending)
            self._pending = None
        if self._buffer:
            data = bytes(self._buffer)
            self._buffer.clear()
            self._pending = self._executor.submit(self._absorb, data)

    async def consume(self, chunks: AsyncIterator[bytes]) -> None:
        try:
            async for chunk in chunks:
                self.size += len(chunk)
                if self.size > self._max_size:
                    raise EntityTooLarge(f"the object is larger than the limit of {self._max_size} bytes")
                self._buffer += chunk
                if len(self._buffer) >= STEP:
                    if self._writer is None:
                        self._writer = self._blobs.writer()
                    await self._flush()
            if self._pending is None and self.size <= self._inline_limit:
                self.inline_data = bytes(self._buffer)
                self._buffer.clear()
                self.etag_hasher.update(self.inline_data)
                if self._md5 is not None:
                    self._md5.update(self.inline_data)
            elif self._pending is None and len(self._buffer) < STEP:
                self._absorb(bytes(self._buffer))
                self._buffer.clear()
            else:
                await self._flush()
                await self._flush()
        except BaseException:
            await self.abort()
            raise

    def check_md5(self) -> None:
        if self._md5 is not None and self._md5.digest() != self._expected_md5:
            raise ChecksumMismatch("check md5 failed: the body does not match Content-MD5")

    async def commit(self) -> str:
        """Verifies the checksum and makes a file blob durable; returns the blob's id.

        An inline blob gets its id here and becomes durable with the metadata that names it.
        """
        if self.inline_data is not None:
            self.check_md5()
            return new_inline_id()
        if self._writer is None:
            self._writer = self._blobs.writer()
        try:
            self.check_md5()
            await asyncio.get_running_loop().run_in_executor(self._executor, self._writer.commit)
        except BaseException:
            await self.abort()
            raise
        return self._writer.blob_id

    async def abort(self) -> None:
        if self._pending is not None:
            try:
                await asyncio.wrap_future(self._pending)
            except Exception:  # the write failed already; the temporary file goes anyway
                pass
            self._pending = None
        if self._writer is not None:
            self._writer.abort()


def check_free_space(path: str, reserve: int, incoming: int) -> None:
    free = shutil.disk_usage(path).free
    if free - incoming < reserve:
        raise ServiceUnavailable(
            f"not enough free disk space: {free} bytes free, {reserve} kept in reserve, {incoming} requested"
        )

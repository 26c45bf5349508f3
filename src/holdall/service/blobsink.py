"""Streams a request body into a new blob while hashing it.

A body of at most ``inline_limit`` bytes stays in memory and becomes an *inline* blob, stored in
the metadata store's own transaction: for small objects a file, its ``fdatasync`` and the
directory ``fsync`` cost far more than the bytes, while the metadata commit is group-committed
anyway. A larger body goes to a blob file: once it passes one buffer's worth, writing and hashing
move to a worker thread in steps of :data:`STEP`, one step in flight while the next is received
(hashlib and os.write release the GIL). A file blob becomes durable in :meth:`BlobSink.commit`,
which runs ``fdatasync``/rename/``fsync`` off the event loop.

Bounds: a stalled upload holds less than one step here plus uvicorn's 64 KiB read buffer; each
step first checks that the blob volume keeps its free-space reserve; and a worker streams at
most ``UploadSlots.limit`` bodies at once.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import Future, ThreadPoolExecutor

from holdall.errors import BadRequest, ChecksumMismatch, EntityTooLarge, StorageFull, UploadsBusy
from holdall.etag import ETagHasher
from holdall.service.digests import Digests, Expected
from holdall.store.blobs.base import BlobStore, BlobWriter
from holdall.store.blobs.composite import new_inline_id

STEP = 192 * 1024


class FreeSpace:
    """The free-space reserve of the volume a blob store writes to, checked before every step of a
    write. A store that keeps at most ``held`` bytes of a blob there (an S3 writer's spooled part)
    needs at most that much room for a body of any size."""

    def __init__(self, path: str | None, reserve: Callable[[int], int], held: int | None = None) -> None:
        self._path = path
        self._reserve = reserve
        self._held = held

    def check(self, incoming: int) -> None:
        if self._path is None:
            return
        if self._held is not None:
            incoming = min(incoming, self._held)
        usage = shutil.disk_usage(self._path)
        reserve = self._reserve(usage.total)
        if usage.free - incoming < reserve:
            raise StorageFull(
                f"not enough free space for the blob store: {usage.free} bytes free, "
                f"{reserve} kept in reserve, {incoming} more to write"
            )


class UploadSlots:
    """How many bodies one worker streams into blobs at once."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.taken = 0

    def take(self) -> None:
        if self.taken >= self.limit:
            raise UploadsBusy(f"this server already receives {self.limit} uploads; retry shortly")
        self.taken += 1

    def give_back(self) -> None:
        self.taken -= 1


def content_md5(value: str) -> tuple[Expected, ...]:
    """What a Content-MD5 header asks of the body: nothing when it is absent or empty."""
    digest = parse_content_md5(value)
    if digest is None:
        return ()
    return (Expected("md5", digest, ChecksumMismatch("check md5 failed: the body does not match Content-MD5")),)


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
        space: FreeSpace,
        slots: UploadSlots,
        expected: tuple[Expected, ...] = (),
        also: tuple[str, ...] = (),
        inline_limit: int = 0,
        announce: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        """``announce`` records a blob id (the sweeper's list of leftovers) while its bytes arrive; the
        blob commits only once that record committed, so a blob that exists is named by a row or by
        the record. Bytes written before that live in the store's temporary area, swept on their own."""
        self._blobs = blobs
        self._announce = announce
        self._announced: asyncio.Future[None] | None = None
        self._space = space
        self._slots = slots
        self._executor = executor
        self._max_size = max_size
        self.digests = Digests(expected, also)
        self.etag_hasher = ETagHasher()
        self.size = 0
        self._writer: BlobWriter | None = None
        self._buffer = bytearray()
        self._pending: Future[None] | None = None
        self._inline_limit = inline_limit
        self.inline_data: bytes | None = None

    def _open_writer(self) -> None:
        """On the event loop: a writer for the blob, announced before any byte goes out."""
        if self._writer is None:
            self._writer = self._blobs.writer()
            if self._announce is not None:
                self._announced = asyncio.ensure_future(self._announce(self._writer.blob_id))

    async def _wait_announced(self) -> None:
        if self._announced is not None:
            await self._announced

    def _absorb(self, data: bytes) -> None:
        assert self._writer is not None
        self._writer.write(data)
        self.etag_hasher.update(data)
        self.digests.update(data)

    async def _flush(self) -> None:
        if self._pending is not None:
            await asyncio.wrap_future(self._pending)
            self._pending = None
        if self._buffer:
            self._space.check(len(self._buffer))
            data = bytes(self._buffer)
            self._buffer.clear()
            self._pending = self._executor.submit(self._absorb, data)

    async def consume(self, chunks: AsyncIterator[bytes]) -> None:
        self._slots.take()
        try:
            async for chunk in chunks:
                self.size += len(chunk)
                if self.size > self._max_size:
                    raise EntityTooLarge(f"the object is larger than the limit of {self._max_size} bytes")
                self._buffer += chunk
                if len(self._buffer) >= STEP:
                    self._open_writer()
                    await self._flush()
            if self._pending is None and self.size <= self._inline_limit:
                self.inline_data = bytes(self._buffer)
                self._buffer.clear()
                self.etag_hasher.update(self.inline_data)
                self.digests.update(self.inline_data)
            elif self._pending is None and len(self._buffer) < STEP:
                self._space.check(len(self._buffer))
                self._open_writer()
                self._absorb(bytes(self._buffer))
                self._buffer.clear()
            else:
                await self._flush()
                await self._flush()
        except BaseException:
            await self.abort()
            raise
        finally:
            self._slots.give_back()

    async def commit(self) -> str:
        """Verifies the checksum and makes a file blob durable; returns the blob's id.

        An inline blob gets its id here and becomes durable with the metadata that names it.
        """
        if self.inline_data is not None:
            self.digests.check()
            return new_inline_id()
        self._open_writer()
        writer = self._writer
        assert writer is not None
        try:
            await self._wait_announced()
            self.digests.check()
            await asyncio.get_running_loop().run_in_executor(self._executor, writer.commit)
        except BaseException:
            await self.abort()
            raise
        return writer.blob_id

    async def abort(self) -> None:
        if self._announced is not None:
            with contextlib.suppress(Exception):  # the record alone is harmless: the sweeper drops it
                await self._announced
        if self._pending is not None:
            try:
                await asyncio.wrap_future(self._pending)
            except Exception:  # the write failed already; the temporary file goes anyway
                pass
            self._pending = None
        if self._writer is not None:
            self._writer.abort()

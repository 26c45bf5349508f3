"""Objects: put, read, copy, rename, UploadHit, metadata and listings. No HTTP in here."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

from holdall import clock
from holdall.config import Settings
from holdall.errors import BadRequest, EntityTooLarge, EntityTooSmall, FileNotFound, PolicyEntityTooLarge
from holdall.etag import EMPTY_ETAG, EMPTY_ETAG_ALT
from holdall.parsing import is_header_safe
from holdall.service.blobsink import BlobSink, FreeSpace, UploadSlots
from holdall.service.digests import Expected
from holdall.store.blobs.composite import CompositeBlobs
from holdall.store.meta.base import BlobRef, Bucket, Listing, MetaStore, ObjectRecord

READ_STEP = 1024 * 1024
INLINE_READ_LIMIT = 256 * 1024
MAX_LIST = 1000
MAX_KEY_BYTES = 1024


class ObjectService:
    def __init__(
        self, settings: Settings, meta: MetaStore, blobs: CompositeBlobs, executor: ThreadPoolExecutor
    ) -> None:
        self.settings = settings
        self.meta = meta
        self.blobs = blobs
        self.executor = executor
        self.space = FreeSpace(blobs.store.volume, settings.free_space_reserve, blobs.store.held_locally)
        self.upload_slots = UploadSlots(settings.max_uploads)

    # ----------------------------------------------------------------- writes

    def sink(
        self,
        expected: tuple[Expected, ...],
        declared_size: int | None,
        max_size: int | None = None,
        also: tuple[str, ...] = (),
    ) -> BlobSink:
        limit = self.settings.max_object_size if max_size is None else min(max_size, self.settings.max_object_size)
        if declared_size is not None and declared_size > limit:
            raise EntityTooLarge(f"the body has {declared_size} bytes; the limit is {limit}")
        self.space.check(declared_size or 0)
        return BlobSink(
            self.blobs.store,
            self.executor,
            max_size=limit,
            space=self.space,
            slots=self.upload_slots,
            expected=expected,
            also=also,
            inline_limit=self.settings.inline_limit,
            announce=self._announce,
        )

    async def _announce(self, blob_id: str) -> None:
        await self.meta.note_pending_blob(blob_id, clock.now())

    async def put(
        self,
        bucket: Bucket,
        key: str,
        mime: str,
        chunks: AsyncIterator[bytes],
        *,
        declared_size: int | None,
        expected: tuple[Expected, ...] = (),
        if_absent: bool = False,
        size_range: tuple[int, int] | None = None,
        user_meta: dict[str, str] | None = None,
        checksums: dict[str, str] | None = None,
        crc64: bool = False,
    ) -> ObjectRecord:
        """Stores an object; ``size_range`` (from a form policy) bounds its size, both ends included;
        ``checksums`` are among ``expected``, so they hold once the object is stored (they may be
        filled in while the body streams: a trailing checksum). ``crc64``: the object's CRC-64
        (``crc64ecma``, as a decimal) is kept among its checksums, for the OSS and TOS SDKs.

        The object lands in ``bucket`` as it was when the request was authorised: if that bucket
        was deleted meanwhile (and perhaps made anew by someone else), the write fails."""
        require_header_safe(mime)
        sink = self.sink(
            expected, declared_size, size_range[1] if size_range else None, ("crc64ecma",) if crc64 else ()
        )
        try:
            await sink.consume(chunks)
        except EntityTooLarge as error:
            if size_range and sink.size > size_range[1]:
                raise PolicyEntityTooLarge(f"the file is larger than the policy's {size_range[1]} bytes") from None
            raise error
        if declared_size is not None and sink.size != declared_size:
            await sink.abort()
            raise BadRequest(f"the body has {sink.size} bytes but Content-Length said {declared_size}")
        if size_range and sink.size < size_range[0]:
            await sink.abort()
            raise EntityTooSmall(f"the file has {sink.size} bytes; the policy wants at least {size_range[0]}")
        blob_id = await sink.commit()
        now = int(clock.now())
        record = ObjectRecord(
            bucket=bucket.name,
            key=key,
            size=sink.size,
            etag=sink.etag_hasher.etag(),
            mime=mime or "application/octet-stream",
            created=now,
            modified=now,
            manifest=[BlobRef(blob_id, sink.size)] if sink.size else [],
            md5=sink.digests.digest("md5").hex(),
            user_meta=user_meta or {},
            checksums=_with_crc64(checksums or {}, sink.digests.computed("crc64ecma")),
        )
        inline = {blob_id: sink.inline_data} if sink.inline_data else None
        try:
            await self.meta.put_object(record, bucket_id=bucket.id, now=clock.now(), if_absent=if_absent, inline=inline)
        except BaseException:
            self.forget(blob_id)
            raise
        return record

    def forget(self, blob_id: str) -> None:
        """Deletes, off the event loop, the bytes of a blob that never made it into the metadata."""
        self.blobs.discard(blob_id)

    async def _link(
        self, source: ObjectRecord, bucket: Bucket, key: str, storage_class: str, if_absent: bool
    ) -> ObjectRecord:
        """A new object at ``bucket/key`` that shares the blobs of ``source``."""
        now = int(clock.now())
        record = dataclasses.replace(
            source, bucket=bucket.name, key=key, created=now, modified=now, storage_class=storage_class
        )
        await self.meta.put_object(record, bucket_id=bucket.id, now=clock.now(), if_absent=if_absent)
        return record

    async def copy(
        self,
        src_bucket: str,
        src_key: str,
        bucket: Bucket,
        key: str,
        *,
        if_absent: bool = False,
        mime: str | None = None,
        user_meta: dict[str, str] | None = None,
    ) -> ObjectRecord:
        """``mime`` and ``user_meta`` given: the copy takes them instead of the source's."""
        source = await self.require(src_bucket, src_key)
        if mime is not None:
            require_header_safe(mime)
            source = dataclasses.replace(source, mime=mime or "application/octet-stream")
        if user_meta is not None:
            source = dataclasses.replace(source, user_meta=user_meta)
        return await self._link(source, bucket, key, source.storage_class, if_absent)

    async def upload_hit(
        self, account_id: str, bucket: Bucket, key: str, etag: str, size: int, *, if_absent: bool = False
    ) -> ObjectRecord | None:
        """Links content that this account already stores; None when it stores no such content."""
        etags = [EMPTY_ETAG, EMPTY_ETAG_ALT] if etag in (EMPTY_ETAG, EMPTY_ETAG_ALT) else [etag]
        found = await self.meta.object_by_etag(account_id, etags, size)
        if found is None:
            return None
        return await self._link(found, bucket, key, "STANDARD", if_absent)

    async def delete(self, bucket: str, key: str) -> None:
        if not await self.meta.delete_object(bucket, key, now=clock.now()):
            raise FileNotFound(f"file not exist: {key!r}")

    async def rename(self, bucket: str, key: str, new_key: str, force: bool) -> None:
        await self.meta.rename_object(bucket, key, new_key, force, int(clock.now()))

    async def set_mime(self, bucket: str, key: str, mime: str) -> None:
        require_header_safe(mime)
        await self.meta.update_object(bucket, key, mime=mime)

    async def set_storage_class(self, bucket: str, key: str, storage_class: str) -> None:
        await self.meta.update_object(bucket, key, storage_class=storage_class)

    # ----------------------------------------------------------------- reads

    async def require(self, bucket: str, key: str) -> ObjectRecord:
        record = await self.meta.object(bucket, key)
        if record is None:
            raise FileNotFound(f"file not exist: {key!r}")
        return record

    async def require_for_read(self, bucket: str, key: str) -> tuple[ObjectRecord, bytes | None]:
        found = await self.meta.object_for_read(bucket, key)
        if found is None:
            raise FileNotFound(f"file not exist: {key!r}")
        return found

    async def read_small(self, record: ObjectRecord, start: int, end: int) -> bytes:
        """Bytes ``start..end`` (inclusive) of a small object, read on the calling thread."""
        segments = _segments(record.manifest, start, end)
        if len(segments) == 1:
            return await self._read_segment(*segments[0])
        return b"".join([await self._read_segment(*segment) for segment in segments])

    async def _read_segment(self, blob_id: str, offset: int, length: int) -> bytes:
        return await self.blobs.read(blob_id, offset, length)

    async def read(self, record: ObjectRecord, start: int, end: int) -> AsyncIterator[bytes]:
        """Bytes ``start..end`` (inclusive), in steps of at most 1 MiB read off the event loop."""
        for blob_id, offset, length in _segments(record.manifest, start, end):
            async for chunk in self.blobs.stream(blob_id, offset, length, READ_STEP):
                yield chunk

    # ----------------------------------------------------------------- listings

    async def list_prefix(self, bucket: str, prefix: str, marker: str, limit: int) -> Listing:
        rows = await self.meta.objects(bucket, prefix, marker, limit + 1)
        truncated = len(rows) > limit
        rows = rows[:limit]
        return Listing(rows, [], rows[-1].key if truncated and rows else "", truncated)

    async def list_delimited(self, bucket: str, prefix: str, marker: str, limit: int, delimiter: str) -> Listing:
        """Keys and common prefixes after ``marker``, at most ``limit`` entries in all."""
        if not delimiter:
            return await self.list_prefix(bucket, prefix, marker, limit)
        return await self.meta.list_delimited(bucket, prefix, marker, limit, delimiter)


def _with_crc64(checksums: dict[str, str], crc64: bytes | None) -> dict[str, str]:
    return checksums if crc64 is None else {**checksums, "crc64ecma": str(int.from_bytes(crc64, "big"))}


def require_header_safe(mime: str) -> None:
    """A type that will go out as Content-Type may not carry CR, LF or other control characters."""
    if not is_header_safe(mime):
        raise BadRequest("the Content-Type holds control characters; it could not be sent back as a header")


def _segments(manifest: list[BlobRef], start: int, end: int) -> list[tuple[str, int, int]]:
    """(blob id, offset in blob, length) covering object bytes ``start..end`` inclusive."""
    out = []
    base = 0
    for ref in manifest:
        lo, hi = max(start, base), min(end, base + ref.size - 1)
        if lo <= hi:
            out.append((ref.blob_id, lo - base, hi - lo + 1))
        base += ref.size
    return out

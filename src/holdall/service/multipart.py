"""Multipart uploads. UFile's: parts of exactly BlkSize (4 MiB) numbered from 0, the last shorter.
S3's: parts numbered from 1, of 5 MiB to 5 GiB but the last, completed with the list of those to keep.

Finishing writes a manifest of the parts' blobs and copies no data; the object's ETag follows
from the parts' SHA1s because every part but the last is exactly one ETag block.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator

from holdall import clock
from holdall.errors import BadRequest, EntityTooLarge, EntityTooSmall, InvalidPart, InvalidPartOrder, UploadNotFound
from holdall.etag import BLOCK_SIZE, etag_from_block_digests
from holdall.service.blobsink import BlobSink
from holdall.service.digests import Expected
from holdall.service.objects import ObjectService, require_header_safe
from holdall.store.meta.base import BlobRef, ObjectRecord, Part, Upload

MAX_PARTS = 10000
MIN_S3_PART = 5 * 1024 * 1024
MAX_S3_PART = 5 * 1024 * 1024 * 1024


class MultipartService:
    def __init__(self, objects: ObjectService) -> None:
        self.objects = objects
        self.meta = objects.meta

    async def initiate(self, bucket: str, key: str, mime: str, user_meta: dict[str, str] | None = None) -> Upload:
        require_header_safe(mime)
        upload = Upload(str(uuid.uuid4()), bucket, key, mime, int(clock.now()), user_meta or {})
        await self.meta.create_upload(upload)
        return upload

    async def require(self, upload_id: str, bucket: str) -> Upload:
        upload = await self.meta.upload(upload_id)
        if upload is None or upload.bucket != bucket:
            raise UploadNotFound(f"no unfinished upload {upload_id!r} in this bucket")
        return upload

    async def put_part(
        self,
        upload: Upload,
        number: int,
        chunks: AsyncIterator[bytes],
        declared_size: int | None,
        expected: tuple[Expected, ...],
        mime: str,
    ) -> Part:
        if not 0 <= number < MAX_PARTS:
            raise BadRequest(f"partNumber must be between 0 and {MAX_PARTS - 1}")
        require_header_safe(mime)
        if declared_size is not None and declared_size > BLOCK_SIZE:
            raise EntityTooLarge(f"a part may hold at most BlkSize = {BLOCK_SIZE} bytes")
        sink = self.objects.sink(expected, declared_size, max_size=BLOCK_SIZE)
        await sink.consume(chunks)
        if sink.size == 0:
            await sink.abort()
            raise BadRequest("a part may not be empty")
        blob_id = await sink.commit()
        sha1 = sink.etag_hasher.block_digests()[0]
        md5 = sink.digests.digest("md5").hex()
        part = Part(upload.id, number, BlobRef(blob_id, sink.size), sink.etag_hasher.etag(), sha1, md5)
        # The SDK initiates with text/plain whatever the file is, and sends the file's type with every
        # part: the object takes the type of part 0.
        return await self._record(part, sink, mime if number == 0 and mime else None)

    async def _record(self, part: Part, sink: BlobSink, mime: str | None) -> Part:
        """Names the part's committed blob in the metadata, or deletes the blob if that fails."""
        try:
            inline = {part.blob.blob_id: sink.inline_data} if sink.inline_data is not None else None
            await self.meta.put_part(part, mime, now=clock.now(), inline=inline)
        except BaseException:
            self.objects.forget(part.blob.blob_id)
            raise
        return part

    async def put_s3_part(
        self,
        upload: Upload,
        number: int,
        chunks: AsyncIterator[bytes],
        declared_size: int | None,
        expected: tuple[Expected, ...],
    ) -> Part:
        """An S3 part: numbered 1 to 10,000, up to 5 GiB. Its ETag is its MD5; its 4 MiB block SHA-1s are
        kept too, so that UFile's ETag of the object follows when every part but the last is a whole
        number of blocks."""
        if not 1 <= number <= MAX_PARTS:
            raise BadRequest(f"Part number must be an integer between 1 and {MAX_PARTS}, inclusive")
        sink = self.objects.sink(expected, declared_size, max_size=MAX_S3_PART)
        await sink.consume(chunks)
        blob_id = await sink.commit()
        md5 = sink.digests.digest("md5").hex()
        blocks = b"".join(sink.etag_hasher.block_digests())
        return await self._record(Part(upload.id, number, BlobRef(blob_id, sink.size), md5, blocks, md5), sink, None)

    async def complete_s3(
        self, upload: Upload, listed: list[tuple[int, str]], *, if_absent: bool = False
    ) -> ObjectRecord:
        """Makes the object of the parts ``listed`` (number, ETag) in that order, as S3's
        CompleteMultipartUpload does; parts not listed are dropped."""

        def build(current: Upload, parts: list[Part], key: str) -> ObjectRecord:
            by_number = {part.number: part for part in parts}
            numbers = [number for number, _ in listed]
            if numbers != sorted(set(numbers)):
                raise InvalidPartOrder("The list of parts was not in ascending order.")
            chosen = []
            for number, etag in listed:
                part = by_number.get(number)
                if part is None or etag.strip('"') != (part.md5 or part.etag):
                    raise InvalidPart(f"part {number} was not uploaded or its ETag is not {etag}")
                chosen.append(part)
            for part in chosen[:-1]:
                if part.blob.size < MIN_S3_PART:
                    raise EntityTooSmall(f"part {part.number} has {part.blob.size} bytes; all but the last need 5 MiB")
            now = int(clock.now())
            return ObjectRecord(
                bucket=current.bucket,
                key=key,
                size=sum(part.blob.size for part in chosen),
                etag=ufile_etag_of(chosen),
                mime=current.mime,
                created=now,
                modified=now,
                manifest=[part.blob for part in chosen],
                md5=multipart_md5(chosen),
                user_meta=current.user_meta,
            )

        if not listed:
            raise BadRequest("CompleteMultipartUpload names no part")
        return await self.meta.finish_upload(upload.id, None, build, now=clock.now(), if_absent=if_absent)

    async def finish(
        self, upload: Upload, etags: list[str], new_key: str | None, *, if_absent: bool = False
    ) -> ObjectRecord:
        def build(current: Upload, parts: list[Part], key: str) -> ObjectRecord:
            if not parts:
                raise BadRequest("the upload has no parts")
            numbers = [part.number for part in parts]
            if numbers != list(range(len(parts))):
                missing = sorted(set(range(numbers[-1] + 1)) - set(numbers))
                raise BadRequest(f"parts are missing: {missing[:10]}")
            if len(etags) != len(parts):
                raise BadRequest(f"the body lists {len(etags)} part ETags; the upload has {len(parts)} parts")
            for part, etag in zip(parts, etags, strict=True):
                if part.etag != etag:
                    raise BadRequest(f"part {part.number} has ETag {part.etag}, not {etag}")
            for part in parts[:-1]:
                if part.blob.size != BLOCK_SIZE:
                    raise BadRequest(
                        f"part {part.number} has {part.blob.size} bytes; all but the last need {BLOCK_SIZE}"
                    )
            now = int(clock.now())
            return ObjectRecord(
                bucket=current.bucket,
                key=key,
                size=sum(part.blob.size for part in parts),
                etag=etag_from_block_digests([part.sha1 for part in parts]),
                mime=current.mime,
                created=now,
                modified=now,
                manifest=[part.blob for part in parts],
                md5=multipart_md5(parts),
                user_meta=current.user_meta,
            )

        return await self.meta.finish_upload(upload.id, new_key, build, now=clock.now(), if_absent=if_absent)

    async def abort(self, upload: Upload) -> None:
        await self.meta.abort_upload(upload.id, now=clock.now())

    async def parts(self, upload: Upload, after: int, limit: int) -> list[Part]:
        return await self.meta.parts(upload.id, after, limit)


def ufile_etag_of(parts: list[Part]) -> str:
    """UFile's ETag of the parts' bytes, from their 4 MiB block SHA-1s: exact when every part but the
    last holds whole blocks (boto3's and awscli's 8 MiB parts do); otherwise the blocks straddle parts
    and their digests are unknown without reading the bytes again, and S3's ETag stands in."""
    if all(part.blob.size % BLOCK_SIZE == 0 for part in parts[:-1]) and all(part.sha1 for part in parts):
        digests = [part.sha1[i : i + 20] for part in parts for i in range(0, len(part.sha1), 20)]
        return etag_from_block_digests(digests)
    return multipart_md5(parts)


def multipart_md5(parts: list[Part]) -> str:
    """S3's ETag of a multipart object: the MD5 of the parts' MD5s, then ``-`` and their count; empty
    when a part has no MD5 (written before holdall kept them)."""
    if not all(part.md5 for part in parts):
        return ""
    return f"{hashlib.md5(b''.join(bytes.fromhex(part.md5) for part in parts)).hexdigest()}-{len(parts)}"


def parse_etag_list(body: bytes) -> list[str]:
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError:
        raise BadRequest("the finish body must be part ETags separated by commas") from None
    return [item.strip().strip('"') for item in text.split(",") if item.strip()]

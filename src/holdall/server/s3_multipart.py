"""S3 multipart uploads: create, upload parts numbered 1 to 10,000, complete with the parts to keep,
abort, list parts and list uploads. Uploads are the same rows UFile's multipart uses."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

from holdall import clock
from holdall.auth.principal import Principal
from holdall.errors import BadRequest, NotImplementedHere, RangeNotSatisfiable, UploadNotFound
from holdall.parsing import is_ascii_uint
from holdall.server.admission import body, copy_source
from holdall.server.context import Call
from holdall.server.http import Response
from holdall.server.metadata import user_metadata
from holdall.server.routing import check_key
from holdall.server.s3_auth import Verified
from holdall.server.s3_conditions import check_copy_source
from holdall.server.s3_xml import (
    add_checksums,
    boolean,
    child_text,
    expected,
    fields,
    iso,
    parse_xml,
    s3_etag,
    sent_checksums,
    text,
    xml,
)
from holdall.server.write_refusals import refuse_update, update_refusal
from holdall.service.multipart import MAX_PARTS, MultipartService
from holdall.store.meta.base import MetaStore, Upload

MAX_COMPLETE_BODY = 4 * 1024 * 1024
"""10,000 parts of about 100 bytes of XML each, and room to spare."""
MAX_LISTED = 1000


def _count(raw: str | None, name: str, default: int, high: int) -> int:
    if raw is None or raw == "":
        return default
    if not is_ascii_uint(raw):
        raise BadRequest(f"{name} must be a non-negative integer")
    return min(int(raw), high)


_COPY_RANGE = re.compile(r"bytes=(\d{1,19})-(\d{1,19})")


def _copy_range(header: str, size: int) -> tuple[int, int]:
    """The inclusive byte range x-amz-copy-source-range names (``bytes=first-last``), or the whole object."""
    if not header:
        return 0, size - 1
    matched = _COPY_RANGE.fullmatch(header.strip())
    if matched is None:
        raise BadRequest("x-amz-copy-source-range must be bytes=first-last")
    first, last = int(matched[1]), int(matched[2])
    if first > last or last >= size:
        raise RangeNotSatisfiable(size, f"the copy source has {size} bytes: {header!r} is outside it")
    return first, last


async def _nothing() -> AsyncIterator[bytes]:
    return
    yield b""


class S3Multipart:
    def __init__(self, meta: MetaStore, multipart: MultipartService) -> None:
        self.meta = meta
        self.multipart = multipart

    async def _upload(self, call: Call) -> Upload:
        """The upload ``uploadId`` names, which must be of this very bucket and key."""
        upload = await self.meta.upload(call.request.query.get("uploadId", ""))
        if upload is None or upload.bucket != call.bucket.name or upload.key != call.key:
            raise UploadNotFound("The specified multipart upload does not exist.")
        return upload

    async def create_upload(self, call: Call, principal: Principal) -> Response:
        key = check_key(call.key)
        await refuse_update(self.meta, principal, call.bucket, key)
        mime = call.request.header("content-type") or "binary/octet-stream"
        upload = await self.multipart.initiate(call.bucket.name, key, mime, user_metadata(call.request.headers, "s3"))
        shown = [("Bucket", call.bucket.name), ("Key", key), ("UploadId", upload.id)]
        return xml("InitiateMultipartUploadResult", fields(shown))

    async def upload_part(self, call: Call, principal: Principal, verified: Verified) -> Response:
        request = call.request
        upload = await self._upload(call)
        number = _count(request.query.get("partNumber"), "partNumber", 0, MAX_PARTS + 1)
        if "x-amz-copy-source" in request.headers:
            return await self._copy_part(call, principal, upload, number)
        part = await self.multipart.put_s3_part(
            upload, number, body(principal, request), request.content_length, expected(request, verified.expected)
        )
        etag = Response(200, [(b"etag", f'"{part.md5}"'.encode())])
        return add_checksums(etag, sent_checksums(request) or verified.checksums)

    async def _copy_part(self, call: Call, principal: Principal, upload: Upload, number: int) -> Response:
        """UploadPartCopy: the part is the source object's bytes, or the x-amz-copy-source-range of them."""
        request, objects = call.request, self.multipart.objects
        if "?" in request.header("x-amz-copy-source"):
            raise NotImplementedHere("a copy source with a versionId: holdall keeps no versions")
        src_bucket, src_key = await copy_source(self.meta, principal, request, "x-amz-copy-source")
        async for _ in request.chunks():
            raise BadRequest("a copy request has no body")
        source = await objects.require(src_bucket.name, src_key)
        check_copy_source(request, s3_etag(source), source.modified)
        first, last = _copy_range(request.header("x-amz-copy-source-range"), source.size)
        chunks = objects.read(source, first, last) if last >= first else _nothing()
        part = await self.multipart.put_s3_part(upload, number, chunks, last - first + 1, ())
        shown = f"<ETag>&quot;{part.md5}&quot;</ETag><LastModified>{iso(int(clock.now()))}</LastModified>"
        return xml("CopyPartResult", shown)

    async def complete_upload(self, call: Call, principal: Principal) -> Response:
        upload = await self._upload(call)
        document = parse_xml(await call.request.read(MAX_COMPLETE_BODY))
        listed = []
        for item in document:
            if item.tag.rpartition("}")[2] != "Part":
                continue
            number, etag = child_text(item, "PartNumber"), child_text(item, "ETag")
            if number is None or etag is None or not is_ascii_uint(number.strip(), 5):
                raise BadRequest("each Part needs a PartNumber and an ETag")
            listed.append((int(number), etag.strip()))
        if len(listed) > MAX_PARTS:
            raise BadRequest(f"a multipart upload has at most {MAX_PARTS} parts")
        with update_refusal(principal, upload.key):
            record = await self.multipart.complete_s3(upload, listed, if_absent=principal.deny_update)
        host = call.request.header("host")
        shown = [("Location", f"http://{host}/{call.bucket.name}/{record.key}"), ("Bucket", call.bucket.name)]
        shown += [("Key", record.key), ("ETag", f'"{record.md5}"')]
        return xml("CompleteMultipartUploadResult", fields(shown))

    async def abort_upload(self, call: Call, principal: Principal) -> Response:
        await self.multipart.abort(await self._upload(call))
        return Response(204)

    async def list_parts(self, call: Call, principal: Principal) -> Response:
        upload = await self._upload(call)
        query = call.request.query
        marker = _count(query.get("part-number-marker"), "part-number-marker", 0, MAX_PARTS)
        limit = max(1, _count(query.get("max-parts"), "max-parts", MAX_LISTED, MAX_LISTED))
        parts = await self.multipart.parts(upload, marker, limit + 1)
        truncated = len(parts) > limit
        parts = parts[:limit]
        shown = [("Bucket", upload.bucket), ("Key", upload.key), ("UploadId", upload.id)]
        shown += [("PartNumberMarker", str(marker)), ("MaxParts", str(limit)), ("IsTruncated", boolean(truncated))]
        if truncated:
            shown.append(("NextPartNumberMarker", str(parts[-1].number)))
        listed = "".join(
            f"<Part><PartNumber>{part.number}</PartNumber><LastModified>{iso(upload.created)}</LastModified>"
            f'<ETag>"{part.md5 or part.etag}"</ETag><Size>{part.blob.size}</Size></Part>'
            for part in parts
        )
        return xml("ListPartsResult", fields(shown) + listed)

    async def list_uploads(self, call: Call, principal: Principal) -> Response:
        query = call.request.query
        if query.get("delimiter"):
            raise NotImplementedHere("ListMultipartUploads with a delimiter is not supported")
        prefix, key_marker = query.get("prefix", ""), query.get("key-marker", "")
        id_marker = query.get("upload-id-marker", "") if key_marker else ""
        after = (key_marker, id_marker or ("\U0010ffff" if key_marker else ""))
        limit = max(1, _count(query.get("max-uploads"), "max-uploads", MAX_LISTED, MAX_LISTED))
        uploads = await self.meta.uploads_in(call.bucket.name, prefix, after, limit + 1)
        truncated = len(uploads) > limit
        uploads = uploads[:limit]
        shown = [("Bucket", call.bucket.name), ("KeyMarker", key_marker), ("UploadIdMarker", id_marker)]
        if truncated:
            shown += [("NextKeyMarker", uploads[-1].key), ("NextUploadIdMarker", uploads[-1].id)]
        shown += [("Prefix", prefix), ("MaxUploads", str(limit)), ("IsTruncated", boolean(truncated))]
        listed = "".join(
            f"<Upload><Key>{text(upload.key)}</Key><UploadId>{upload.id}</UploadId>"
            f"<Initiated>{iso(upload.created)}</Initiated><StorageClass>STANDARD</StorageClass></Upload>"
            for upload in uploads
        )
        return xml("ListMultipartUploadsResult", fields(shown) + listed)

"""UFile's object operations (seed 004 §5–12, 20; REFERENCE §1): reads, listings, puts, UploadHit,
copy, rename, restore, storage class, metadata and delete."""

from __future__ import annotations

from email.utils import parsedate_to_datetime

from holdall.auth.principal import Op, Principal
from holdall.errors import BadRequest, FileNotFound
from holdall.parsing import loads_bounded, query_int
from holdall.server.admission import body, check_token, copy_source
from holdall.server.context import Call
from holdall.server.dialects import FAMILY
from holdall.server.http import Response
from holdall.server.metadata import add_user_metadata, user_metadata
from holdall.server.object_reply import ObjectReplies, object_headers
from holdall.server.replies import json_response
from holdall.server.routing import check_key
from holdall.server.write_refusals import refuse_change, refuse_update, update_refusal
from holdall.service.blobsink import content_md5
from holdall.service.objects import MAX_LIST, ObjectService
from holdall.store.meta.base import Listing, MetaStore

STORAGE_CLASSES = ("STANDARD", "IA", "ARCHIVE")


class UFileObjects:
    def __init__(self, meta: MetaStore, objects: ObjectService, replies: ObjectReplies) -> None:
        self.meta = meta
        self.objects = objects
        self.replies = replies

    async def get(self, call: Call, principal: Principal, key: str) -> Response:
        request, bucket = call.request, call.bucket
        record, inline = await self.objects.require_for_read(bucket.name, key)
        response = add_user_metadata(object_headers(record, record.etag), record, FAMILY.get(call.dialect))
        since = request.header("if-modified-since")
        if since:
            try:
                threshold = parsedate_to_datetime(since).timestamp()
            except (TypeError, ValueError, IndexError, OverflowError):
                threshold = None
            if threshold is not None and record.modified <= threshold:
                response.status = 304
                return response
        return await self.replies.fill(response, request, bucket, record, inline)

    async def prefix_file_list(self, call: Call, principal: Principal, key: str) -> Response:
        request, bucket = call.request, call.bucket
        query = request.query
        limit = query_int(query, "limit", 20, 1, MAX_LIST)
        listing = await self.objects.list_prefix(bucket.name, query.get("prefix", ""), query.get("marker", ""), limit)
        return json_response(
            {
                "BucketName": bucket.name,
                "BucketId": bucket.id,
                "NextMarker": listing.next_marker,
                "DataSet": [
                    {
                        "BucketName": bucket.name,
                        "FileName": record.key,
                        "Hash": record.etag,
                        "MimeType": record.mime,
                        "Size": record.size,
                        "CreateTime": record.created,
                        "ModifyTime": record.modified,
                        "StorageClass": record.storage_class,
                    }
                    for record in listing.objects
                ],
            }
        )

    async def list_objects(self, call: Call, principal: Principal, key: str) -> Response:
        request, bucket = call.request, call.bucket
        query = request.query
        prefix, marker, delimiter = query.get("prefix", ""), query.get("marker", ""), query.get("delimiter", "")
        limit = query_int(query, "max-keys", 100, 1, MAX_LIST)
        listing: Listing = await self.objects.list_delimited(bucket.name, prefix, marker, limit, delimiter)
        return json_response(
            {
                "Name": bucket.name,
                "Prefix": prefix,
                "MaxKeys": limit,
                "Delimiter": delimiter,
                "IsTruncated": listing.truncated,
                "NextMarker": listing.next_marker,
                "Contents": [
                    {
                        "Key": record.key,
                        "MimeType": record.mime,
                        "LastModified": record.modified,
                        "CreateTime": record.created,
                        "Etag": record.etag,
                        "Size": str(record.size),
                        "StorageClass": record.storage_class,
                    }
                    for record in listing.objects
                ],
                "CommonPrefixes": [{"Prefix": prefix} for prefix in listing.prefixes],
            }
        )

    async def put(self, call: Call, principal: Principal, key: str) -> Response:
        request, bucket = call.request, call.bucket
        await refuse_update(self.meta, principal, bucket, key)
        chunks = body(principal, request)
        with update_refusal(principal, key):
            record = await self.objects.put(
                bucket,
                key,
                request.header("content-type"),
                chunks,
                declared_size=request.content_length,
                expected=content_md5(request.header("content-md5")),
                if_absent=principal.deny_update,
                user_meta=user_metadata(request.headers, FAMILY.get(call.dialect)),
            )
        return Response(200).header("etag", record.etag)

    async def upload_hit(self, call: Call, principal: Principal, key: str) -> Response:
        request, bucket = call.request, call.bucket
        query = request.query
        etag = query.get("Hash", "")
        size = query_int(query, "FileSize", -1, 0, 2**63 - 1)
        if not etag or size < 0:
            raise BadRequest("UploadHit needs Hash, FileName and FileSize")
        with update_refusal(principal, key):
            record = await self.objects.upload_hit(
                principal.account_id, bucket, key, etag, size, if_absent=principal.deny_update
            )
        if record is None:
            raise FileNotFound("no file with this Hash and FileSize is stored in this account")
        return Response(200).header("etag", record.etag)

    async def copy(self, call: Call, principal: Principal, key: str) -> Response:
        request, bucket = call.request, call.bucket
        await refuse_update(self.meta, principal, bucket, key)
        src_bucket, src_key = await copy_source(self.meta, principal, request, "x-ufile-copy-source")
        async for _ in request.chunks():
            raise BadRequest("a copy request has no body")
        with update_refusal(principal, key):
            record = await self.objects.copy(src_bucket.name, src_key, bucket, key, if_absent=principal.deny_update)
        return Response(200).header("etag", record.etag)

    async def rename(self, call: Call, principal: Principal, key: str) -> Response:
        request, bucket = call.request, call.bucket
        refuse_change(principal, key)  # renaming a key away frees it to be put anew
        new_key = check_key(request.query["newFileName"])
        check_token(principal, request, Op.WRITE, bucket, new_key)
        force = request.query.get("force", "false").lower()
        if force not in ("true", "false"):
            raise BadRequest("force is true or false")
        await self.objects.rename(bucket.name, key, new_key, force == "true")
        return Response(200)

    async def restore(self, call: Call, principal: Principal, key: str) -> Response:
        bucket = call.bucket
        await self.objects.require(bucket.name, key)
        return Response(200)

    async def set_storage_class(self, call: Call, principal: Principal, key: str) -> Response:
        request, bucket = call.request, call.bucket
        refuse_change(principal, key)
        storage_class = request.query["storageClass"].upper()
        if storage_class not in STORAGE_CLASSES:
            raise BadRequest(f"storageClass is one of {', '.join(STORAGE_CLASSES)}")
        await self.objects.set_storage_class(bucket.name, key, storage_class)
        return Response(200)

    async def op_meta(self, call: Call, principal: Principal, key: str) -> Response:
        request, bucket = call.request, call.bucket
        refuse_change(principal, key)
        try:
            body = loads_bounded(await request.read(64 * 1024))
        except (ValueError, UnicodeDecodeError):
            raise BadRequest("opmeta needs a JSON body") from None
        if not isinstance(body, dict) or body.get("op") != "set" or body.get("metak") != "mimetype":
            raise BadRequest('opmeta supports {"op": "set", "metak": "mimetype", "metav": "<type>"} only')
        mime = body.get("metav")
        if not isinstance(mime, str) or not mime or len(mime) > 255 or not mime.isprintable():
            raise BadRequest("metav must be a mime type")
        await self.objects.set_mime(bucket.name, key, mime)
        return Response(200)

    async def delete(self, call: Call, principal: Principal, key: str) -> Response:
        bucket = call.bucket
        try:
            await self.objects.delete(bucket.name, key)
        except FileNotFound:
            pass  # deleting is idempotent: a retried DELETE succeeds
        return Response(204)

"""UFile's multipart uploads (seed 004 §14–15): parts of BlkSize numbered from 0, finished with
their ETags, optionally under a new key."""

from __future__ import annotations

from holdall.auth.principal import Op, Principal
from holdall.errors import BadRequest
from holdall.etag import BLOCK_SIZE
from holdall.parsing import query_int
from holdall.server.admission import check_token
from holdall.server.context import Call
from holdall.server.dialects import FAMILY
from holdall.server.http import Response
from holdall.server.metadata import user_metadata
from holdall.server.replies import json_response
from holdall.server.routing import check_key
from holdall.server.write_refusals import refuse_update, update_refusal
from holdall.service.blobsink import content_md5
from holdall.service.multipart import MultipartService, parse_etag_list
from holdall.store.meta.base import MetaStore

MAX_SMALL_BODY = 1024 * 1024


class UFileMultipart:
    def __init__(self, meta: MetaStore, multipart: MultipartService) -> None:
        self.meta = meta
        self.multipart = multipart

    async def list_parts(self, call: Call, principal: Principal, key: str) -> Response:
        request, bucket = call.request, call.bucket
        query = request.query
        upload = await self.multipart.require(query.get("uploadId", ""), bucket.name)
        check_token(principal, request, Op.LIST, bucket, upload.key)
        limit = query_int(query, "max-parts", 1000, 1, 1000)
        after = query_int(query, "part-number-marker", -1, -1, 10**9)
        parts = await self.multipart.parts(upload, after, limit + 1)
        truncated = len(parts) > limit
        parts = parts[:limit]
        return json_response(
            {
                "RetCode": 0,
                "ErrMsg": "",
                "UploadId": upload.id,
                "Key": upload.key,
                "Status": 0,
                "IsTruncated": truncated,
                "NextPartNumberMarker": parts[-1].number if truncated and parts else -1,
                "Parts": [{"PartNum": part.number, "Etag": part.etag} for part in parts],
            }
        )

    async def initiate(self, call: Call, principal: Principal, key: str) -> Response:
        request, bucket = call.request, call.bucket
        await refuse_update(self.meta, principal, bucket, key)
        upload = await self.multipart.initiate(
            bucket.name, key, request.header("content-type"), user_metadata(request.headers, FAMILY.get(call.dialect))
        )
        return json_response({"UploadId": upload.id, "BlkSize": BLOCK_SIZE, "Bucket": bucket.name, "Key": key})

    async def upload_part(self, call: Call, principal: Principal, key: str) -> Response:
        request, bucket = call.request, call.bucket
        upload = await self.multipart.require(request.query["uploadId"], bucket.name)
        if upload.key != key:
            raise BadRequest(f"upload {upload.id} is for key {upload.key!r}")
        number = query_int(request.query, "partNumber", -1, 0, 10**9)
        if number < 0:
            raise BadRequest("partNumber is required")
        part = await self.multipart.put_part(
            upload,
            number,
            request.chunks(),
            request.content_length,
            content_md5(request.header("content-md5")),
            request.header("content-type"),
        )
        return json_response({"PartNumber": part.number}).header("etag", part.etag)

    async def finish(self, call: Call, principal: Principal, key: str) -> Response:
        request, bucket = call.request, call.bucket
        upload = await self.multipart.require(request.query["uploadId"], bucket.name)
        if upload.key != key:
            raise BadRequest(f"upload {upload.id} is for key {upload.key!r}")
        new_key = request.query.get("newKey") or None
        if new_key is not None:
            check_token(principal, request, Op.WRITE, bucket, check_key(new_key))
        etags = parse_etag_list(await request.read(MAX_SMALL_BODY))
        with update_refusal(principal, new_key or key):
            record = await self.multipart.finish(upload, etags, new_key, if_absent=principal.deny_update)
        return json_response({"Bucket": bucket.name, "Key": record.key, "FileSize": record.size}).header(
            "etag", record.etag
        )

    async def abort(self, call: Call, principal: Principal, key: str) -> Response:
        request, bucket = call.request, call.bucket
        upload = await self.multipart.require(request.query["uploadId"], bucket.name)
        if upload.key != key:
            raise BadRequest(f"upload {upload.id} is for key {upload.key!r}")
        check_token(principal, request, Op.DELETE, bucket, upload.key)
        await self.multipart.abort(upload)
        return Response(200)

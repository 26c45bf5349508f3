"""The UFile / Inspur data plane (seed 004 §5–15, 20, 25; REFERENCE §1).

Requests that are not uploads never reach the upload path: a PUT with ``uploadId``,
``restore``, ``storageClass``, ``newFileName`` or ``X-Ufile-Copy-Source`` is something else.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterator
from email.utils import parsedate_to_datetime
from urllib.parse import quote
from xml.sax.saxutils import escape

from holdall import clock
from holdall.auth.principal import Op, Principal
from holdall.errors import (
    BadRequest,
    BucketNotFound,
    Conflict,
    FileNotFound,
    HoldallError,
)
from holdall.etag import BLOCK_SIZE
from holdall.parsing import is_ascii_uint, loads_bounded
from holdall.server.admission import Admission, body, check_token, copy_source
from holdall.server.authenticate import Authenticator
from holdall.server.context import Call
from holdall.server.dialects import FAMILY, dialect_error
from holdall.server.formdata import FilePart, FormReader, boundary_of
from holdall.server.guard import NOTHING
from holdall.server.http import Request, Response
from holdall.server.metadata import add_user_metadata, user_metadata
from holdall.server.object_reply import ObjectReplies, object_headers
from holdall.server.operations import Scope, resolve
from holdall.server.policy_form import check_form, form_dialect, object_key
from holdall.server.replies import json_response
from holdall.server.routing import Target, check_key
from holdall.service.blobsink import content_md5
from holdall.service.digests import Expected
from holdall.service.multipart import MultipartService, parse_etag_list
from holdall.service.objects import MAX_LIST, ObjectService
from holdall.service.usage import Meter
from holdall.store.meta.base import (
    Bucket,
    Listing,
    MetaStore,
    ObjectRecord,
)

STORAGE_CLASSES = ("STANDARD", "IA", "ARCHIVE")
MAX_SMALL_BODY = 1024 * 1024
_KEY, _FILE_NAME, _PREFIX, _FORM = Scope.KEY, Scope.FILE_NAME, Scope.PREFIX, Scope.FORM
"""Enum members as module constants: a member lookup costs 0.1 µs on every request."""
_NO_SUFFIX = ("",)
Handler = Callable[..., Awaitable[Response]]
"""(request, bucket) for the bucket's own operations, (request, bucket, key) for an object's."""


def _int_param(query: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = query.get(name, "")
    if raw == "":
        return default
    if not is_ascii_uint(raw.removeprefix("-")):
        raise BadRequest(f"{name} must be an integer")
    value = int(raw)
    if not low <= value <= high:
        raise BadRequest(f"{name} must be between {low} and {high}")
    return value


class DataPlane:
    def __init__(
        self,
        meta: MetaStore,
        objects: ObjectService,
        multipart: MultipartService,
        authenticator: Authenticator,
        admission: Admission,
        meter: Meter,
    ) -> None:
        self.meta = meta
        self.objects = objects
        self.multipart = multipart
        self.authn = authenticator
        self.admission = admission
        self.replies = ObjectReplies(objects, meter)
        self._handlers: dict[str, Handler] = {}

    # ----------------------------------------------------------------- dispatch

    async def open(self, request: Request, target: Target, dialect: str) -> Call:
        """The call a request makes: its bucket found and its operation resolved, once."""
        bucket = await self.meta.bucket(target.bucket)
        if bucket is None:
            raise BucketNotFound(f"bucket not exist: {target.bucket!r}")
        operation = resolve(request.method, target.key, request.query, request.headers)
        return Call(request, bucket, target.key, target.virtual_host, dialect, operation)

    async def handle(self, call: Call) -> Response:
        """Runs the one admission every operation passes (signature, coverage, owner, token, quotas,
        metering) on the key its route declares, then its handler."""
        operation = call.operation
        scope = operation.scope
        if scope is _FORM:  # the form's fields, in the body, carry its signature
            return await self.post_file(call)
        handler = self._handlers.get(operation.name)
        if handler is None:
            handler = self._handlers[operation.name] = getattr(self, operation.handler)
        query = call.request.query
        key = ""
        scope_key: str | None = ""
        if scope is _KEY:
            key = scope_key = check_key(call.key)
        elif scope is _FILE_NAME:
            key = scope_key = check_key(query.get("FileName", ""))
        elif scope is _PREFIX:
            scope_key = query.get("prefix", "")
        else:
            scope_key = None  # Scope.LATER: the handler checks the key it touches
        suffixes = ("", operation.signed_suffix(query)) if operation.signed_suffix else _NO_SUFFIX
        principal = await self._authorize(call, key, scope_key=scope_key, suffixes=suffixes)
        return await handler(call, principal, key)

    async def _authorize(self, call: Call, key: str, *, scope_key: str | None, suffixes: tuple[str, ...]) -> Principal:
        """Checks the signature over ``key``, then everything else that may refuse the operation:
        the bucket's owner, the token's rules (on ``scope_key``; None leaves them to the handler,
        which knows the key really touched) and the quotas."""
        public = call.operation.op is Op.READ and call.bucket.type == "public"
        verified = await self.authn.verify(call, key, suffixes=suffixes, allow_anonymous=public)
        return await self.admission.admit(verified, call, scope_key)

    async def _refuse_update(self, principal: Principal, bucket: Bucket, key: str) -> None:
        """Refuses early, before any byte is stored, a token that may not overwrite an existing key."""
        if (
            principal.token is not None
            and principal.deny_update
            and await self.meta.object(bucket.name, key) is not None
        ):
            raise principal.token.update_refused(key)

    # ----------------------------------------------------------------- reads

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
        limit = _int_param(query, "limit", 20, 1, MAX_LIST)
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
        limit = _int_param(query, "max-keys", 100, 1, MAX_LIST)
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

    async def list_parts(self, call: Call, principal: Principal, key: str) -> Response:
        request, bucket = call.request, call.bucket
        query = request.query
        upload = await self.multipart.require(query.get("uploadId", ""), bucket.name)
        check_token(principal, request, Op.LIST, bucket, upload.key)
        limit = _int_param(query, "max-parts", 1000, 1, 1000)
        after = _int_param(query, "part-number-marker", -1, -1, 10**9)
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

    # ----------------------------------------------------------------- writes

    async def put(self, call: Call, principal: Principal, key: str) -> Response:
        request, bucket = call.request, call.bucket
        await self._refuse_update(principal, bucket, key)
        chunks = body(principal, request)
        with _update_refusal(principal, key):
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

    async def post_file(self, call: Call) -> Response:
        request, bucket = call.request, call.bucket
        reader = FormReader(request.chunks(), boundary_of(request.header("content-type")))
        fields, file_part = await reader.fields_then_file()
        if file_part is None:
            raise BadRequest("the form has no file part")
        lowered = {name.lower(): value for name, value in fields.items()}
        dialect = form_dialect(lowered)
        if dialect is not None:
            try:
                return await self.post_policy_form(call.in_dialect(dialect), reader, lowered, file_part)
            except HoldallError as error:  # answered in the dialect the form's fields name
                return dialect_error(error, dialect, request.scope.get("path", "/"))
        key = check_key(fields.get("FileName", ""))
        mime = fields.get("Content-Type") or file_part.content_type
        principal, _ = await self.authn.verify(
            call, key, authorization=fields.get("Authorization", ""), content_type=mime
        )
        await self.admission.admit((principal, NOTHING), call, key)
        await self._refuse_update(principal, bucket, key)
        md5 = content_md5(fields.get("Content-MD5") or request.header("content-md5"))
        record = await self._store_form_file(principal, bucket, key, mime, reader, expected=md5)
        return Response(200).header("etag", record.etag)

    async def _store_form_file(
        self,
        principal: Principal,
        bucket: Bucket,
        key: str,
        mime: str,
        reader: FormReader,
        *,
        expected: tuple[Expected, ...] = (),
        size_range: tuple[int, int] | None = None,
    ) -> ObjectRecord:
        with _update_refusal(principal, key):
            record = await self.objects.put(
                bucket,
                key,
                mime,
                reader.file_chunks(),
                declared_size=None,
                expected=expected,
                if_absent=principal.deny_update,
                size_range=size_range,
            )
        try:
            await reader.finish()
        except HoldallError:
            pass  # the file part was whole; what trails it does not matter
        return record

    async def post_policy_form(
        self, call: Call, reader: FormReader, fields: dict[str, str], file_part: FilePart
    ) -> Response:
        """An OSS V1/V4 or S3 V2/V4 form: policy and signature are checked before the file is read."""
        request, bucket = call.request, call.bucket
        key = check_key(object_key(fields, file_part.filename))
        form = await check_form(call.dialect, fields, bucket.name, key, self.authn.lookup, clock.now())
        principal = await self.admission.admit((form.principal, NOTHING), call, key)
        await self._refuse_update(principal, bucket, key)
        status = fields.get("success_action_status", "204")
        if status not in ("200", "201", "204"):
            status = "204"
        mime = fields.get("content-type") or file_part.content_type
        record = await self._store_form_file(principal, bucket, key, mime, reader, size_range=form.policy.length_range)
        response = Response(int(status))
        if status == "201":
            location = f"http://{request.header('host')}/{quote(key)}"
            body = (
                f'<?xml version="1.0" encoding="UTF-8"?>\n<PostResponse><Location>{escape(location)}</Location>'
                f"<Bucket>{escape(bucket.name)}</Bucket><Key>{escape(key)}</Key>"
                f"<ETag>&quot;{record.etag}&quot;</ETag></PostResponse>"
            )
            response.body = body.encode()
            response.header("content-type", "application/xml")
        return response.header("etag", record.etag)

    async def upload_hit(self, call: Call, principal: Principal, key: str) -> Response:
        request, bucket = call.request, call.bucket
        query = request.query
        etag = query.get("Hash", "")
        size = _int_param(query, "FileSize", -1, 0, 2**63 - 1)
        if not etag or size < 0:
            raise BadRequest("UploadHit needs Hash, FileName and FileSize")
        with _update_refusal(principal, key):
            record = await self.objects.upload_hit(
                principal.account_id, bucket, key, etag, size, if_absent=principal.deny_update
            )
        if record is None:
            raise FileNotFound("no file with this Hash and FileSize is stored in this account")
        return Response(200).header("etag", record.etag)

    async def copy(self, call: Call, principal: Principal, key: str) -> Response:
        request, bucket = call.request, call.bucket
        await self._refuse_update(principal, bucket, key)
        src_bucket, src_key = await copy_source(self.meta, principal, request, "x-ufile-copy-source")
        async for _ in request.chunks():
            raise BadRequest("a copy request has no body")
        with _update_refusal(principal, key):
            record = await self.objects.copy(src_bucket.name, src_key, bucket, key, if_absent=principal.deny_update)
        return Response(200).header("etag", record.etag)

    async def rename(self, call: Call, principal: Principal, key: str) -> Response:
        request, bucket = call.request, call.bucket
        _refuse_change(principal, key)  # renaming a key away frees it to be put anew
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
        _refuse_change(principal, key)
        storage_class = request.query["storageClass"].upper()
        if storage_class not in STORAGE_CLASSES:
            raise BadRequest(f"storageClass is one of {', '.join(STORAGE_CLASSES)}")
        await self.objects.set_storage_class(bucket.name, key, storage_class)
        return Response(200)

    async def op_meta(self, call: Call, principal: Principal, key: str) -> Response:
        request, bucket = call.request, call.bucket
        _refuse_change(principal, key)
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

    # ----------------------------------------------------------------- multipart

    async def initiate(self, call: Call, principal: Principal, key: str) -> Response:
        request, bucket = call.request, call.bucket
        await self._refuse_update(principal, bucket, key)
        upload = await self.multipart.initiate(
            bucket.name, key, request.header("content-type"), user_metadata(request.headers, FAMILY.get(call.dialect))
        )
        return json_response({"UploadId": upload.id, "BlkSize": BLOCK_SIZE, "Bucket": bucket.name, "Key": key})

    async def upload_part(self, call: Call, principal: Principal, key: str) -> Response:
        request, bucket = call.request, call.bucket
        upload = await self.multipart.require(request.query["uploadId"], bucket.name)
        if upload.key != key:
            raise BadRequest(f"upload {upload.id} is for key {upload.key!r}")
        number = _int_param(request.query, "partNumber", -1, 0, 10**9)
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
        with _update_refusal(principal, new_key or key):
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


def _refuse_change(principal: Principal, key: str) -> None:
    """A token that may not update objects may not rename one or change its metadata either."""
    if principal.token is not None and principal.deny_update:
        raise principal.token.update_refused(key)


@contextlib.contextmanager
def _update_refusal(principal: Principal, key: str) -> Iterator[None]:
    """Turns "the key exists" from a write made with ``if_absent`` into the token's refusal."""
    try:
        yield
    except Conflict:
        if principal.token is None:
            raise
        raise principal.token.update_refused(key) from None

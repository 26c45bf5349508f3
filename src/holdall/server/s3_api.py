"""The S3 REST API for requests signed with SigV4 in the Authorization header: buckets, objects and
listings, on the same accounts, buckets, objects, tokens and quotas as UFile's API.

Routes are declared (:data:`SERVICE_ROUTES`, :data:`BUCKET_ROUTES`, :data:`OBJECT_ROUTES`): a
request names an operation by its method, whether a bucket and a key are addressed, and its
sub-resource; a sub-resource no route serves is ``NotImplemented``, never the plain operation.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import quote
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeXml
from defusedxml import DefusedXmlException

from holdall.auth.principal import Op, Principal
from holdall.errors import (
    AccessDenied,
    BadRequest,
    BucketExists,
    BucketNotEmpty,
    BucketNotFound,
    BucketOwned,
    ChecksumMismatch,
    FileNotFound,
    HoldallError,
    InvalidBucketName,
    NameTaken,
    NotEmpty,
    NotFound,
    NotImplementedHere,
    OperationAborted,
    ParameterRefusal,
    PreconditionFailed,
    Refusal,
    TooSoon,
)
from holdall.parsing import is_ascii_uint
from holdall.server.admission import Admission, body, check_token
from holdall.server.authenticate import Authenticator
from holdall.server.context import Call
from holdall.server.http import Request, Response, http_date
from holdall.server.object_reply import ObjectReplies
from holdall.server.operations import Operation
from holdall.server.routing import Target, check_key
from holdall.server.s3_auth import verify_header
from holdall.service.blobsink import content_md5
from holdall.service.buckets import BucketService, resolve_project
from holdall.service.digests import Digests, Expected
from holdall.service.objects import MAX_LIST, ObjectService
from holdall.service.usage import Meter
from holdall.store.meta.base import Bucket, MetaStore, ObjectRecord

S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"
MAX_DELETE_BODY = 1024 * 1024
MAX_DELETE_KEYS = 1000
CANNED_ACLS = {"private": "private", "public-read": "public"}
CHECKSUMS = {"crc32": "crc32", "crc32c": "crc32c", "sha1": "sha1", "sha256": "sha256"}
SUBRESOURCES = frozenset(
    [
        "accelerate",
        "acl",
        "analytics",
        "attributes",
        "cors",
        "delete",
        "encryption",
        "intelligent-tiering",
        "inventory",
        "legal-hold",
        "lifecycle",
        "location",
        "logging",
        "metrics",
        "notification",
        "object-lock",
        "ownershipControls",
        "partNumber",
        "policy",
        "policyStatus",
        "publicAccessBlock",
        "replication",
        "requestPayment",
        "restore",
        "retention",
        "select",
        "tagging",
        "torrent",
        "uploadId",
        "uploads",
        "versionId",
        "versioning",
        "versions",
        "website",
    ]
)
Handler = Callable[["S3Api", Call, Principal], Awaitable[Response]]


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _xml(root: str, body: str, status: int = 200) -> Response:
    document = f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} xmlns="{S3_NS}">{body}</{root}>'
    return Response(status, [(b"content-type", b"application/xml")], document.encode())


def s3_etag(record: ObjectRecord) -> str:
    """The quoted ETag S3 clients check: the MD5 (or the multipart form); objects stored before holdall
    kept MD5s show their UFile ETag instead."""
    return f'"{record.md5 or record.etag}"'


def _route(name: str, op: Op, handler: str, subresource: str = "") -> Operation:
    return Operation(name, op, handler, selector=subresource, query=(subresource,) if subresource else ())


SERVICE_ROUTES = {"GET": [_route("ListBuckets", Op.LIST, "list_buckets")]}
BUCKET_ROUTES = {
    "GET": [
        _route("GetBucketLocation", Op.LIST, "get_bucket_location", "location"),
        _route("ListObjectsV2", Op.LIST, "list_objects_v2", "list-type"),
        _route("ListObjects", Op.LIST, "list_objects"),
    ],
    "HEAD": [_route("HeadBucket", Op.LIST, "head_bucket")],
    "PUT": [_route("CreateBucket", Op.WRITE, "create_bucket")],
    "DELETE": [_route("DeleteBucket", Op.DELETE, "delete_bucket")],
    "POST": [_route("DeleteObjects", Op.DELETE, "delete_objects", "delete")],
}
OBJECT_ROUTES = {
    "GET": [_route("GetObject", Op.READ, "get_object")],
    "HEAD": [_route("HeadObject", Op.READ, "get_object")],
    "PUT": [_route("PutObject", Op.WRITE, "put_object")],
    "DELETE": [_route("DeleteObject", Op.DELETE, "delete_object")],
}


def resolve(method: str, level: dict[str, list[Operation]], request: Request) -> Operation:
    named = [name for name in request.query if name in SUBRESOURCES]
    for operation in level.get(method, []):
        if operation.selector:
            if operation.selector in request.query:
                return operation
        elif not named:
            return operation
    what = f"?{named[0]}" if named else "this method"
    raise NotImplementedHere(f"holdall's S3 API does not implement {method} with {what} here")


def s3_error(error: Refusal) -> HoldallError:
    """A control-plane refusal (from the bucket service) in S3's words."""
    if isinstance(error, NameTaken):
        return BucketExists(error.message)
    if isinstance(error, NotEmpty):
        return BucketNotEmpty(error.message)
    if isinstance(error, NotFound):
        return BucketNotFound(error.message)
    if isinstance(error, TooSoon):
        return OperationAborted(error.message)
    if isinstance(error, ParameterRefusal) and error.name == "BucketName":
        return InvalidBucketName(error.message)
    return BadRequest(error.message)


class S3Api:
    def __init__(
        self,
        meta: MetaStore,
        buckets: BucketService,
        objects: ObjectService,
        authenticator: Authenticator,
        admission: Admission,
        meter: Meter,
        region: str,
    ) -> None:
        self.meta = meta
        self.buckets = buckets
        self.objects = objects
        self.authn = authenticator
        self.admission = admission
        self.replies = ObjectReplies(objects, meter)
        self.region = region

    # ----------------------------------------------------------------- dispatch

    async def handle(self, request: Request, target: Target | None, dialect: str) -> Response:
        principal, expected = await verify_header(request, self.authn.lookup)
        try:
            if target is None:
                resolve(request.method, SERVICE_ROUTES, request)
                return await self.list_buckets(self._account(principal))
            if not target.key and request.method == "PUT":
                resolve(request.method, BUCKET_ROUTES, request)
                return await self.create_bucket(request, self._account(principal), target.bucket)
            bucket = await self.meta.bucket(target.bucket)
            if bucket is None:
                raise BucketNotFound(f"The specified bucket does not exist: {target.bucket!r}")
            level = OBJECT_ROUTES if target.key else BUCKET_ROUTES
            operation = resolve(request.method, level, request)
            call = Call(request, bucket, target.key, target.virtual_host, dialect, operation)
            key = check_key(target.key) if target.key else ""
            scope_key = request.query.get("prefix", "") if operation.op is Op.LIST else key
            admitted = await self.admission.admit((principal, None), call, scope_key)
            if operation.name == "DeleteBucket":
                return await self.delete_bucket(self._account(admitted), bucket)
            if operation.name == "PutObject":
                return await self.put_object(call, admitted, key, expected)
            handler: Handler = getattr(S3Api, operation.handler)
            return await handler(self, call, admitted)
        except Refusal as refusal:
            raise s3_error(refusal) from None

    @staticmethod
    def _account(principal: Principal) -> str:
        if principal.token is not None:
            raise AccessDenied("only an account's own keys may list, create or delete buckets")
        return principal.account_id

    # ----------------------------------------------------------------- buckets

    async def list_buckets(self, account_id: str) -> Response:
        owned = await self.meta.buckets(account_id, None, 0, 10000)
        entries = "".join(
            f"<Bucket><Name>{_text(bucket.name)}</Name><CreationDate>{_iso(bucket.created)}</CreationDate>"
            f"<BucketRegion>{_text(bucket.region)}</BucketRegion></Bucket>"
            for bucket in owned
        )
        owner = f"<Owner><ID>{_text(account_id)}</ID><DisplayName>{_text(account_id)}</DisplayName></Owner>"
        return _xml("ListAllMyBucketsResult", f"{owner}<Buckets>{entries}</Buckets>")

    async def create_bucket(self, request: Request, account_id: str, name: str) -> Response:
        acl = request.header("x-amz-acl", "private")
        if acl not in CANNED_ACLS:
            raise NotImplementedHere(f"x-amz-acl {acl!r}: holdall keeps private and public-read buckets only")
        if any(header.startswith("x-amz-grant-") for header in request.headers):
            raise NotImplementedHere("ACL grants are not supported; use x-amz-acl private or public-read")
        region = _location_constraint(await request.read(64 * 1024)) or self.region
        existing = await self.meta.bucket(name)
        if existing is not None:
            if existing.account_id == account_id:
                raise BucketOwned("Your previous request to create the named bucket succeeded and you already own it.")
            raise BucketExists("The requested bucket name is not available.")
        project = await resolve_project(self.meta, account_id, None)
        await self.buckets.create(account_id, name, CANNED_ACLS[acl], region, project)
        return Response(200, [(b"location", f"/{name}".encode())])

    async def delete_bucket(self, account_id: str, bucket: Bucket) -> Response:
        await self.buckets.delete(account_id, bucket.name)
        return Response(204)

    async def head_bucket(self, call: Call, principal: Principal) -> Response:
        return Response(200, [(b"x-amz-bucket-region", call.bucket.region.encode())])

    async def get_bucket_location(self, call: Call, principal: Principal) -> Response:
        return _xml("LocationConstraint", _text(call.bucket.region))

    # ----------------------------------------------------------------- listings

    async def list_objects(self, call: Call, principal: Principal) -> Response:
        query = call.request.query
        prefix, delimiter, marker = query.get("prefix", ""), query.get("delimiter", ""), query.get("marker", "")
        limit, encode = _max_keys(query), _encoder(query)
        listing = await self.objects.list_delimited(call.bucket.name, prefix, marker, limit, delimiter)
        fields = [("Name", call.bucket.name), ("Prefix", encode(prefix)), ("Marker", encode(marker))]
        fields += [("MaxKeys", str(limit)), ("IsTruncated", _bool(listing.truncated))]
        if delimiter:
            fields.append(("Delimiter", encode(delimiter)))
        if listing.truncated:
            fields.append(("NextMarker", encode(listing.next_marker)))
        if "encoding-type" in query:
            fields.append(("EncodingType", "url"))
        return _xml("ListBucketResult", _fields(fields) + _entries(listing.objects, listing.prefixes, encode))

    async def list_objects_v2(self, call: Call, principal: Principal) -> Response:
        query = call.request.query
        if query.get("list-type") != "2":
            raise BadRequest("list-type must be 2")
        prefix, delimiter = query.get("prefix", ""), query.get("delimiter", "")
        token, start_after = query.get("continuation-token"), query.get("start-after", "")
        marker = _decode_token(token) if token is not None else start_after
        limit, encode = _max_keys(query), _encoder(query)
        listing = await self.objects.list_delimited(call.bucket.name, prefix, marker, limit, delimiter)
        fields = [("Name", call.bucket.name), ("Prefix", encode(prefix))]
        fields += [("KeyCount", str(len(listing.objects) + len(listing.prefixes))), ("MaxKeys", str(limit))]
        if delimiter:
            fields.append(("Delimiter", encode(delimiter)))
        fields.append(("IsTruncated", _bool(listing.truncated)))
        if token is not None:
            fields.append(("ContinuationToken", token))
        if listing.truncated:
            fields.append(("NextContinuationToken", _encode_token(listing.next_marker)))
        if start_after:
            fields.append(("StartAfter", encode(start_after)))
        if "encoding-type" in query:
            fields.append(("EncodingType", "url"))
        return _xml("ListBucketResult", _fields(fields) + _entries(listing.objects, listing.prefixes, encode))

    # ----------------------------------------------------------------- objects

    async def put_object(self, call: Call, principal: Principal, key: str, signed: tuple[Expected, ...]) -> Response:
        request = call.request
        if "x-amz-copy-source" in request.headers:
            raise NotImplementedHere("CopyObject is not supported yet")
        if principal.token is not None and principal.deny_update and await self.meta.object(call.bucket.name, key):
            raise principal.token.update_refused(key)
        expected = signed + content_md5(request.header("content-md5")) + _checksums(request)
        record = await self.objects.put(
            call.bucket,
            key,
            request.header("content-type"),
            body(principal, request),
            declared_size=request.content_length,
            expected=expected,
            if_absent=principal.deny_update,
        )
        response = Response(200, [(b"etag", s3_etag(record).encode())])
        for name in CHECKSUMS:  # verified against the body: they are its checksums
            value = request.headers.get(f"x-amz-checksum-{name}")
            if value is not None:
                response.header(f"x-amz-checksum-{name}", value)
        return response

    async def get_object(self, call: Call, principal: Principal) -> Response:
        request, bucket = call.request, call.bucket
        record, inline = await self.objects.require_for_read(bucket.name, check_key(call.key))
        etag = s3_etag(record)
        response = Response(
            200,
            [
                (b"content-type", record.mime.encode("latin-1", "replace")),
                (b"etag", etag.encode()),
                (b"last-modified", http_date(record.modified)),
                (b"accept-ranges", b"bytes"),
            ],
        )
        if _not_modified(request, etag, record.modified):
            response.status = 304
            return response
        return await self.replies.fill(response, request, bucket, record, inline)

    async def delete_object(self, call: Call, principal: Principal) -> Response:
        try:
            await self.objects.delete(call.bucket.name, check_key(call.key))
        except FileNotFound:
            pass  # S3 answers 204 for a key that is not there
        return Response(204)

    async def delete_objects(self, call: Call, principal: Principal) -> Response:
        request, bucket = call.request, call.bucket
        if "content-md5" not in request.headers and not any(h.startswith("x-amz-checksum-") for h in request.headers):
            raise BadRequest("DeleteObjects needs Content-MD5 or an x-amz-checksum-* header")
        body = await request.read(MAX_DELETE_BODY)
        _check_body(request, body)
        keys, quiet = _delete_request(body)
        deleted, errors = [], []
        for key in keys:
            try:
                check_token(principal, request, Op.DELETE, bucket, check_key(key))
                await self.objects.delete(bucket.name, key)
                deleted.append(key)
            except FileNotFound:
                deleted.append(key)
            except HoldallError as error:
                errors.append((key, error))
        body_xml = "" if quiet else "".join(f"<Deleted><Key>{_text(key)}</Key></Deleted>" for key in deleted)
        body_xml += "".join(
            f"<Error><Key>{_text(key)}</Key><Code>{error.code}</Code><Message>{_text(error.message)}</Message></Error>"
            for key, error in errors
        )
        return _xml("DeleteResult", body_xml)


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _fields(fields: list[tuple[str, str]]) -> str:
    return "".join(f"<{name}>{_text(value)}</{name}>" for name, value in fields)


def _entries(objects: list[ObjectRecord], prefixes: list[str], encode: Callable[[str], str]) -> str:
    contents = "".join(
        f"<Contents><Key>{_text(encode(record.key))}</Key><LastModified>{_iso(record.modified)}</LastModified>"
        f"<ETag>{_text(s3_etag(record))}</ETag><Size>{record.size}</Size>"
        f"<StorageClass>{_text(record.storage_class)}</StorageClass></Contents>"
        for record in objects
    )
    return contents + "".join(f"<CommonPrefixes><Prefix>{_text(encode(p))}</Prefix></CommonPrefixes>" for p in prefixes)


def _max_keys(query: dict[str, str]) -> int:
    raw = query.get("max-keys", "")
    if raw == "":
        return MAX_LIST
    if not is_ascii_uint(raw):
        raise BadRequest("max-keys must be a number")
    return max(1, min(int(raw), MAX_LIST))


def _encoder(query: dict[str, str]) -> Callable[[str], str]:
    kind = query.get("encoding-type")
    if kind is None:
        return lambda value: value
    if kind != "url":
        raise BadRequest("encoding-type must be url")
    return lambda value: quote(value, safe="/")


def _encode_token(marker: str) -> str:
    return base64.urlsafe_b64encode(marker.encode()).decode()


def _decode_token(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode("ascii")).decode()
    except (binascii.Error, UnicodeError, ValueError):
        raise BadRequest("The continuation token provided is incorrect") from None


def _checksums(request: Request) -> tuple[Expected, ...]:
    found = []
    for name, algorithm in CHECKSUMS.items():
        value = request.headers.get(f"x-amz-checksum-{name}")
        if value is None:
            continue
        try:
            digest = base64.b64decode(value, validate=True)
        except binascii.Error:
            raise BadRequest(f"x-amz-checksum-{name} is not base64") from None
        mismatch = ChecksumMismatch(f"The {name.upper()} you specified did not match the calculated checksum.")
        found.append(Expected(algorithm, digest, mismatch))
    return tuple(found)


def _check_body(request: Request, body: bytes) -> None:
    digests = Digests(content_md5(request.header("content-md5")) + _checksums(request))
    digests.update(body)
    digests.check()


def _location_constraint(body: bytes) -> str:
    if not body.strip():
        return ""
    root = _parse_xml(body)
    found = next((element for element in root.iter() if element.tag.endswith("LocationConstraint")), None)
    return (found.text or "").strip() if found is not None else ""


def _parse_xml(body: bytes) -> Element:
    try:
        root: Element = SafeXml.fromstring(body)
    except (SafeXml.ParseError, DefusedXmlException, ValueError):
        raise BadRequest("The XML you provided was not well-formed") from None
    return root


def _delete_request(body: bytes) -> tuple[list[str], bool]:
    root = _parse_xml(body)
    keys = [
        (element.text or "")
        for item in root
        if item.tag.rpartition("}")[2] == "Object"
        for element in item
        if element.tag.rpartition("}")[2] == "Key"
    ]
    if not keys or len(keys) > MAX_DELETE_KEYS:
        raise BadRequest(f"DeleteObjects names 1 to {MAX_DELETE_KEYS} keys")
    quiet = any(e.tag.rpartition("}")[2] == "Quiet" and (e.text or "").strip() == "true" for e in root)
    return keys, quiet


def _not_modified(request: Request, etag: str, modified: int) -> bool:
    """Checks the preconditions: True for 304; PreconditionFailed for 412."""
    if_match, if_none = request.header("if-match"), request.header("if-none-match")
    if if_match and not _etag_listed(if_match, etag):
        raise PreconditionFailed("At least one of the pre-conditions you specified did not hold")
    unmodified_since = _date(request.header("if-unmodified-since"))
    if not if_match and unmodified_since is not None and modified > unmodified_since:
        raise PreconditionFailed("At least one of the pre-conditions you specified did not hold")
    if if_none:
        return _etag_listed(if_none, etag)
    since = _date(request.header("if-modified-since"))
    return since is not None and modified <= since


def _etag_listed(header: str, etag: str) -> bool:
    listed = [item.strip() for item in header.split(",")]
    return "*" in listed or etag in listed or etag.strip('"') in listed


def _date(value: str) -> float | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None

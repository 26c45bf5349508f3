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
from urllib.parse import quote

from holdall.auth.principal import Op, Principal
from holdall.errors import (
    AccessDenied,
    BadRequest,
    BucketExists,
    BucketNotEmpty,
    BucketNotFound,
    BucketOwned,
    FileNotFound,
    HoldallError,
    InvalidBucketName,
    InvalidLocationConstraint,
    NameTaken,
    NotEmpty,
    NotFound,
    NotImplementedHere,
    OperationAborted,
    ParameterRefusal,
    Refusal,
    TooSoon,
)
from holdall.parsing import is_ascii_uint
from holdall.server.access_log import note
from holdall.server.admission import Admission, account_keys_only, body, check_token, copy_source
from holdall.server.authenticate import Authenticator
from holdall.server.context import Call
from holdall.server.dialects import FAMILY
from holdall.server.http import Request, Response
from holdall.server.metadata import add_user_metadata, user_metadata
from holdall.server.object_reply import ObjectReplies, object_headers
from holdall.server.operations import Operation, Scope
from holdall.server.routing import Target, check_key
from holdall.server.s3_auth import HEADER_DIALECTS, Verified, answer, present
from holdall.server.s3_conditions import check_copy_source, not_modified
from holdall.server.s3_cors import S3Cors
from holdall.server.s3_multipart import S3Multipart
from holdall.server.s3_xml import (
    add_checksums,
    boolean,
    check_body,
    child_text,
    expected,
    iso,
    listing_reply,
    parse_xml,
    s3_etag,
    sent_checksums,
    text,
    xml,
)
from holdall.server.write_refusals import refuse_update, update_refusal
from holdall.service.buckets import BucketService, resolve_project
from holdall.service.multipart import MultipartService
from holdall.service.objects import MAX_LIST, ObjectService
from holdall.service.usage import Meter
from holdall.store.meta.base import Listing, MetaStore

MAX_DELETE_BODY = 1024 * 1024
MAX_DELETE_KEYS = 1000
CANNED_ACLS = {"private": "private", "public-read": "public"}
LISTING = ("prefix", "delimiter", "encoding-type", "max-keys")
HARMLESS = frozenset(
    (
        "x-id",
        *(f"X-Amz-{name}" for name in ("Algorithm", "Credential", "Date", "Expires", "SignedHeaders", "Signature")),
        "X-Amz-Security-Token",
        "AWSAccessKeyId",
        "Expires",
        "Signature",
        "x-amz-security-token",
    )
)
"""Query names that pick no route: boto3 names the operation in ``x-id``, presigned URLs carry their
signature."""


def _route(
    name: str, op: Op, handler: str, *subresources: str, params: tuple[str, ...] = (), scope: Scope = Scope.KEY
) -> Operation:
    """``subresources``: the first picks the route; they and ``params`` are the only query names it
    takes: any other is NotImplemented, never ignored. ``scope`` LATER: the handler checks the token."""
    selector = subresources[0] if subresources else ""
    return Operation(name, op, handler, scope, selector=selector, query=(*subresources, *params))


SERVICE_ROUTES = {"GET": [_route("ListBuckets", Op.LIST, "list_buckets")]}
BUCKET_ROUTES = {
    "GET": [
        _route("GetBucketLocation", Op.LIST, "get_bucket_location", "location"),
        _route("GetBucketAcl", Op.LIST, "get_bucket_acl", "acl"),
        _route("GetBucketCors", Op.LIST, "get_bucket_cors", "cors"),
        _route(
            "ListMultipartUploads",
            Op.LIST,
            "list_uploads",
            "uploads",
            params=(*LISTING, "key-marker", "upload-id-marker", "max-uploads"),
        ),
        _route(
            "ListObjectsV2",
            Op.LIST,
            "list_objects_v2",
            "list-type",
            params=(*LISTING, "continuation-token", "start-after", "fetch-owner"),
        ),
        # the tos SDK adds x-tos-bucket-type=hns to every ListObjects; it changes nothing here
        _route("ListObjects", Op.LIST, "list_objects", params=(*LISTING, "marker", "x-tos-bucket-type")),
    ],
    "HEAD": [_route("HeadBucket", Op.LIST, "head_bucket")],
    "PUT": [
        _route("PutBucketAcl", Op.WRITE, "put_bucket_acl", "acl"),
        _route("PutBucketCors", Op.WRITE, "put_bucket_cors", "cors"),
        _route("CreateBucket", Op.WRITE, "create_bucket"),
    ],
    "DELETE": [
        _route("DeleteBucketCors", Op.DELETE, "delete_bucket_cors", "cors"),
        _route("DeleteBucket", Op.DELETE, "delete_bucket"),
    ],
    "POST": [
        _route("DeleteObjects", Op.DELETE, "delete_objects", "delete", params=("encoding-type",), scope=Scope.LATER)
    ],
}
OBJECT_ROUTES = {
    "GET": [
        _route("ListParts", Op.LIST, "list_parts", "uploadId", params=("max-parts", "part-number-marker")),
        _route("GetObject", Op.READ, "get_object"),
    ],
    "HEAD": [_route("HeadObject", Op.READ, "get_object")],
    "PUT": [
        _route("UploadPart", Op.WRITE, "upload_part", "uploadId", "partNumber"),
        # a SigV2 presigned PUT may carry its signed Content-Type in the query (boto3's does)
        _route("PutObject", Op.WRITE, "put_object", params=("content-type",)),
    ],
    "POST": [
        _route("CreateMultipartUpload", Op.WRITE, "create_upload", "uploads"),
        _route("CompleteMultipartUpload", Op.WRITE, "complete_upload", "uploadId"),
    ],
    "DELETE": [
        _route("AbortMultipartUpload", Op.DELETE, "abort_upload", "uploadId"),
        _route("DeleteObject", Op.DELETE, "delete_object"),
    ],
}
CRC64_FAMILIES = frozenset(("oss", "tos"))
"""Dialects whose SDKs check an upload's CRC-64 against the server's (x-oss-hash-crc64ecma)."""
BODY_ROUTES = frozenset(("PutObject", "UploadPart"))
COMMAND_BODIES = frozenset(
    ("CreateBucket", "PutBucketAcl", "PutBucketCors", "DeleteObjects", "CompleteMultipartUpload")
)
"""Routes whose body says what they do: the signature must bind it (``UNSIGNED-PAYLOAD`` with no
signed digest would let a captured request delete other keys or open the bucket to other origins).
CompleteMultipartUpload is let through unbound from the dialects whose SDKs cannot sign it (OSS,
TOS, COS, SigV2, presigned URLs): it is good once, for an upload of that key that is still open."""
UNADMITTED = frozenset(("ListBuckets", "CreateBucket"))
"""Routes with no bucket to admit against, served before the others (an account's own keys only)."""
"""Routes whose handler also takes the digests the signature asks of the body."""


def resolve(method: str, level: dict[str, list[Operation]], request: Request) -> Operation:
    """The route a request names. A query name the route does not take (``?acl`` on an object,
    ``?ACL``, ``?renameObject``) is NotImplemented: it never falls through to the plain operation."""
    names = [name for name in request.query if name not in HARMLESS and not name.startswith("response-")]
    for operation in level.get(method, []):
        if operation.selector and operation.selector not in request.query:
            continue
        unknown = [name for name in names if name not in operation.query]
        if unknown:
            break
        return operation
    else:
        unknown = names
    what = f"?{unknown[0]}" if unknown else "this method"
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
    if isinstance(error, ParameterRefusal) and error.name == "Region":
        return InvalidLocationConstraint(error.message)
    return BadRequest(error.message)


class S3Api:
    def __init__(
        self,
        meta: MetaStore,
        buckets: BucketService,
        objects: ObjectService,
        multipart: MultipartService,
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
        parts = (self, S3Multipart(meta, multipart), S3Cors(meta, buckets))
        self._handlers: dict[str, Callable[..., Awaitable[Response]]] = {
            operation.handler: next(
                getattr(part, operation.handler) for part in parts if hasattr(part, operation.handler)
            )
            for level in (BUCKET_ROUTES, OBJECT_ROUTES)
            for operations in level.values()
            for operation in operations
            if operation.name not in UNADMITTED
        }  # every route's handler, found once: a route without one fails at start, not on a request
        self.region = region

    # ----------------------------------------------------------------- dispatch

    async def handle(self, request: Request, target: Target | None, dialect_name: str) -> Response:
        dialect = HEADER_DIALECTS[dialect_name]
        verified = await dialect.verify(request, target, self.authn.lookup)
        request = present(dialect, request, verified)
        return answer(dialect, await self._dispatch(request, target, dialect_name, verified))

    async def _dispatch(self, request: Request, target: Target | None, dialect: str, verified: Verified) -> Response:
        principal = verified.principal
        try:
            if target is None:
                note(request, resolve(request.method, SERVICE_ROUTES, request).name, principal)
                return await self.list_buckets(account_keys_only(principal))
            operation = resolve(request.method, OBJECT_ROUTES if target.key else BUCKET_ROUTES, request)
            note(request, operation.name, principal)
            if operation.name in COMMAND_BODIES and request.body_pending and not _body_bound(operation, verified):
                raise AccessDenied(
                    f"{operation.name} needs its body signed: a signed x-amz-content-sha256, Content-MD5"
                    " or x-amz-checksum-sha256"
                )
            if operation.name == "CreateBucket":
                return await self.create_bucket(request, account_keys_only(principal), target.bucket)
            bucket = await self.meta.bucket(target.bucket)
            if bucket is None:
                raise BucketNotFound(f"The specified bucket does not exist: {target.bucket!r}")
            call = Call(request, bucket, target.key, target.virtual_host, dialect, operation)
            scope_key: str | None = check_key(target.key) if target.key else request.query.get("prefix", "")
            if operation.scope is Scope.LATER:
                scope_key = None  # the handler checks the token on each key it touches
            admitted = await self.admission.admit((principal, None), call, scope_key)
            handler = self._handlers[operation.handler]
            if operation.name in BODY_ROUTES:
                return await handler(call, admitted, verified)
            return await handler(call, admitted)
        except Refusal as refusal:
            raise s3_error(refusal) from None

    # ----------------------------------------------------------------- buckets

    async def list_buckets(self, account_id: str) -> Response:
        owned = await self.meta.buckets(account_id, None, 0, 10000)
        entries = "".join(
            f"<Bucket><Name>{text(bucket.name)}</Name><CreationDate>{iso(bucket.created)}</CreationDate>"
            f"<BucketRegion>{text(bucket.region)}</BucketRegion></Bucket>"
            for bucket in owned
        )
        owner = f"<Owner><ID>{text(account_id)}</ID><DisplayName>{text(account_id)}</DisplayName></Owner>"
        return xml("ListAllMyBucketsResult", f"{owner}<Buckets>{entries}</Buckets>")

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

    async def delete_bucket(self, call: Call, principal: Principal) -> Response:
        await self.buckets.delete(account_keys_only(principal), call.bucket.name)
        return Response(204)

    async def head_bucket(self, call: Call, principal: Principal) -> Response:
        return Response(200, [(b"x-amz-bucket-region", call.bucket.region.encode())])

    async def get_bucket_acl(self, call: Call, principal: Principal) -> Response:
        owner = text(call.bucket.account_id)
        xsi = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
        grants = (
            f'<Grant><Grantee {xsi} xsi:type="CanonicalUser"><ID>{owner}</ID><DisplayName>{owner}</DisplayName>'
            "</Grantee><Permission>FULL_CONTROL</Permission></Grant>"
        )
        if call.bucket.type == "public":
            grants += (
                f'<Grant><Grantee {xsi} xsi:type="Group"><URI>http://acs.amazonaws.com/groups/global/AllUsers</URI>'
                "</Grantee><Permission>READ</Permission></Grant>"
            )
        body = f"<Owner><ID>{owner}</ID><DisplayName>{owner}</DisplayName></Owner><AccessControlList>{grants}"
        return xml("AccessControlPolicy", body + "</AccessControlList>")

    async def put_bucket_acl(self, call: Call, principal: Principal) -> Response:
        request, account_id = call.request, account_keys_only(principal)
        acl = request.header("x-amz-acl")
        if acl not in CANNED_ACLS or any(header.startswith("x-amz-grant-") for header in request.headers):
            raise NotImplementedHere("PutBucketAcl takes x-amz-acl private or public-read; grants are not supported")
        async for _ in request.chunks():
            raise NotImplementedHere("an ACL document is not supported; use x-amz-acl private or public-read")
        await self.buckets.update(account_id, call.bucket.name, CANNED_ACLS[acl])
        return Response(200)

    async def get_bucket_location(self, call: Call, principal: Principal) -> Response:
        return xml("LocationConstraint", text(call.bucket.region))

    # ----------------------------------------------------------------- listings

    async def _listing(self, call: Call, marker: str) -> tuple[Listing, int, Callable[[str], str]]:
        """The page after ``marker`` that prefix, delimiter and max-keys ask for, its size limit, and
        how names are written (``encoding-type``)."""
        query = call.request.query
        limit, encode = _max_keys(query), _encoder(query)
        prefix, delimiter = query.get("prefix", ""), query.get("delimiter", "")
        if limit == 0:  # max-keys=0: an empty page, as S3 answers it
            return Listing([], [], "", False), 0, encode
        return await self.objects.list_delimited(call.bucket.name, prefix, marker, limit, delimiter), limit, encode

    async def list_objects(self, call: Call, principal: Principal) -> Response:
        query = call.request.query
        prefix, delimiter, marker = query.get("prefix", ""), query.get("delimiter", ""), query.get("marker", "")
        listing, limit, encode = await self._listing(call, marker)
        shown = [("Name", call.bucket.name), ("Prefix", encode(prefix)), ("Marker", encode(marker))]
        shown += [("MaxKeys", str(limit)), ("IsTruncated", boolean(listing.truncated))]
        if delimiter:
            shown.append(("Delimiter", encode(delimiter)))
        if listing.truncated:
            shown.append(("NextMarker", encode(listing.next_marker)))
        if "encoding-type" in query:
            shown.append(("EncodingType", "url"))
        return listing_reply(FAMILY[call.dialect], shown, listing, encode)

    async def list_objects_v2(self, call: Call, principal: Principal) -> Response:
        query = call.request.query
        if query.get("list-type") != "2":
            raise BadRequest("list-type must be 2")
        prefix, delimiter = query.get("prefix", ""), query.get("delimiter", "")
        token, start_after = query.get("continuation-token"), query.get("start-after", "")
        marker = _decode_token(token) if token is not None else start_after
        listing, limit, encode = await self._listing(call, marker)
        shown = [("Name", call.bucket.name), ("Prefix", encode(prefix))]
        shown += [("KeyCount", str(len(listing.objects) + len(listing.prefixes))), ("MaxKeys", str(limit))]
        if delimiter:
            shown.append(("Delimiter", encode(delimiter)))
        shown.append(("IsTruncated", boolean(listing.truncated)))
        if token is not None:
            shown.append(("ContinuationToken", token))
        if listing.truncated:
            shown.append(("NextContinuationToken", _encode_token(listing.next_marker)))
        if start_after:
            shown.append(("StartAfter", encode(start_after)))
        if "encoding-type" in query:
            shown.append(("EncodingType", "url"))
        return listing_reply(FAMILY[call.dialect], shown, listing, encode)

    # ----------------------------------------------------------------- objects

    async def put_object(self, call: Call, principal: Principal, verified: Verified) -> Response:
        request, key = call.request, check_key(call.key)
        await refuse_update(self.meta, principal, call.bucket, key)
        if "x-amz-copy-source" in request.headers:
            return await self.copy_object(call, principal, key)
        wanted = expected(request, verified.expected)
        with update_refusal(principal, key):
            record = await self.objects.put(
                call.bucket,
                key,
                request.header("content-type"),
                body(principal, request),
                declared_size=request.content_length,
                expected=wanted,
                if_absent=principal.deny_update,
                user_meta=user_metadata(request.headers, "s3"),
                checksums=sent_checksums(request) or verified.checksums,
                crc64=FAMILY[call.dialect] in CRC64_FAMILIES,
            )
        return add_checksums(Response(200, [(b"etag", s3_etag(record).encode())]), record.checksums)

    async def copy_object(self, call: Call, principal: Principal, key: str) -> Response:
        request = call.request
        if "?" in request.header("x-amz-copy-source"):
            raise NotImplementedHere("a copy source with a versionId: holdall keeps no versions")
        directive = request.header("x-amz-metadata-directive", "COPY")
        if directive not in ("COPY", "REPLACE"):
            raise BadRequest("x-amz-metadata-directive is COPY or REPLACE")
        src_bucket, src_key = await copy_source(self.meta, principal, request, "x-amz-copy-source")
        if (src_bucket.name, src_key) == (call.bucket.name, key) and directive == "COPY":
            raise BadRequest(
                "This copy request is illegal because it is trying to copy an object to itself"
                " without changing the object's metadata"
            )
        async for _ in request.chunks():
            raise BadRequest("a copy request has no body")
        source = await self.objects.require(src_bucket.name, src_key)
        check_copy_source(request, s3_etag(source), source.modified)
        replace = directive == "REPLACE"
        with update_refusal(principal, key):
            record = await self.objects.copy(
                src_bucket.name,
                src_key,
                call.bucket,
                key,
                if_absent=principal.deny_update,
                mime=request.header("content-type") if replace else None,
                user_meta=user_metadata(request.headers, "s3") if replace else None,
            )
        body = f"<ETag>{text(s3_etag(record))}</ETag><LastModified>{iso(record.modified)}</LastModified>"
        return xml("CopyObjectResult", body)

    async def get_object(self, call: Call, principal: Principal) -> Response:
        request, bucket = call.request, call.bucket
        record, inline = await self.objects.require_for_read(bucket.name, check_key(call.key))
        etag = s3_etag(record)
        response = add_user_metadata(object_headers(record, etag), record, "s3")
        if not_modified(request, etag, record.modified):
            response.status = 304
            return response
        if record.checksums and "range" not in request.headers:
            add_checksums(response, _shown_checksums(record.checksums, request))
        return await self.replies.fill(response, request, bucket, record, inline)

    async def delete_object(self, call: Call, principal: Principal) -> Response:
        try:
            await self.objects.delete(call.bucket.name, check_key(call.key))
        except FileNotFound:
            pass  # S3 answers 204 for a key that is not there
        return Response(204)

    async def delete_objects(self, call: Call, principal: Principal) -> Response:
        request, bucket = call.request, call.bucket
        body = await request.read(MAX_DELETE_BODY)
        check_body(request, body)
        keys, quiet = _delete_request(body)
        deleted, errors = [], []
        for key, version in keys:
            try:
                if version is not None:
                    raise NotImplementedHere("holdall keeps no versions: a VersionId cannot be deleted")
                check_token(principal, request, Op.DELETE, bucket, check_key(key))
                await self.objects.delete(bucket.name, key)
                deleted.append(key)
            except FileNotFound:
                deleted.append(key)
            except HoldallError as error:
                errors.append((key, error))
        encode = _encoder(request.query)
        body_xml = "<EncodingType>url</EncodingType>" if "encoding-type" in request.query else ""
        body_xml += "" if quiet else "".join(f"<Deleted><Key>{text(encode(key))}</Key></Deleted>" for key in deleted)
        body_xml += "".join(
            f"<Error><Key>{text(encode(key))}</Key><Code>{error.code}</Code>"
            f"<Message>{text(error.message)}</Message></Error>"
            for key, error in errors
        )
        return xml("DeleteResult", body_xml)


def _body_bound(operation: Operation, verified: Verified) -> bool:
    """Whether a command body is bound as :data:`COMMAND_BODIES` asks."""
    return verified.body_bound or (operation.name == "CompleteMultipartUpload" and not verified.signs_payloads)


def _shown_checksums(checksums: dict[str, str], request: Request) -> dict[str, str]:
    """What a whole-object read shows: the CRC-64 always (the OSS and TOS SDKs check it when it is
    there), the x-amz-checksum-* values when the client asks (x-amz-checksum-mode ENABLED)."""
    if request.header("x-amz-checksum-mode") == "ENABLED":
        return checksums
    return {name: value for name, value in checksums.items() if name == "crc64ecma"}


def _max_keys(query: dict[str, str]) -> int:
    raw = query.get("max-keys", "")
    if raw == "":
        return MAX_LIST
    if not is_ascii_uint(raw):
        raise BadRequest("max-keys must be a number")
    return min(int(raw), MAX_LIST)


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
        return base64.b64decode(token.encode("ascii"), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeError, ValueError):
        raise BadRequest("The continuation token provided is incorrect") from None


def _location_constraint(body: bytes) -> str:
    if not body.strip():
        return ""
    root = parse_xml(body)
    found = next((element for element in root.iter() if element.tag.endswith("LocationConstraint")), None)
    return (found.text or "").strip() if found is not None else ""


def _delete_request(body: bytes) -> tuple[list[tuple[str, str | None]], bool]:
    """The (key, version id) pairs a DeleteObjects body names, and whether it asks for a quiet reply."""
    root = parse_xml(body)
    named = [
        (child_text(item, "Key") or "", child_text(item, "VersionId"))
        for item in root
        if item.tag.rpartition("}")[2] == "Object"
    ]
    if not named or len(named) > MAX_DELETE_KEYS:
        raise BadRequest(f"DeleteObjects names 1 to {MAX_DELETE_KEYS} keys")
    quiet = (child_text(root, "Quiet") or "").strip() == "true"
    return named, quiet

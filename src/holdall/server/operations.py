"""What a data-plane request does: the declared route table (REFERENCE §1).

Routing decides the operation from the method, whether a key is named, and its selectors (a
sub-resource in the query or a header). Each operation also declares every input that changes
what it does: the query parameters and headers its handler reads beyond the bucket and key. The
guard (:mod:`holdall.server.guard`) refuses any of those a presigned URL's signature does not cover.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum

from holdall.auth.principal import Op
from holdall.auth.ufile import listobjects_suffix
from holdall.errors import BadRequest, MethodNotAllowed
from holdall.server.metadata import ALL_PREFIXES

WRITE_HEADER_PREFIXES = ALL_PREFIXES
"""User metadata headers: they change what a write stores."""
WRITE_HEADERS = (
    "x-ufile-storage-class",
    "x-amz-storage-class",
    "x-oss-storage-class",
    "x-cos-storage-class",
    "x-tos-storage-class",
)


class Scope(Enum):
    """Where the key that the signature and the token's rules are checked on comes from."""

    KEY = "key"
    """The key the path names."""
    PREFIX = "prefix"
    """A listing: the signature covers the bucket, the token's prefixes the ``prefix`` asked for."""
    FILE_NAME = "FileName"
    """The key the ``FileName`` query parameter names (UploadHit)."""
    LATER = "later"
    """The signature covers the bucket; the handler checks the token on the key it really touches."""
    FORM = "form"
    """The handler authenticates from the form's fields, which come in the body."""


@dataclass(frozen=True, slots=True)
class Operation:
    name: str
    op: Op
    handler: str
    """The name of the handler method that serves it (UFile's in ufile_objects, ufile_forms and
    ufile_multipart; S3's in s3_api, s3_multipart and s3_cors)."""
    scope: Scope = Scope.KEY
    signed_suffix: Callable[[Mapping[str, str]], str] | None = None
    """A resource suffix the UFile signature may also cover (the SDK's listobjects signs one)."""
    selector: str = ""
    """The query parameter (or, with ``header``, the header) that picks this operation."""
    query: tuple[str, ...] = ()
    """Query parameters that change what it does, the selector included."""
    headers: tuple[str, ...] = ()
    header_selector: bool = False

    @property
    def changeable(self) -> bool:
        """Whether any input can change it: writes always take metadata headers."""
        return bool(self.query or self.headers) or self.op is Op.WRITE

    def selected(self, query: Mapping[str, str], headers: Mapping[str, str]) -> bool:
        if not self.selector:
            return True
        return self.selector in (headers if self.header_selector else query)

    def inputs(self, query: Mapping[str, str], headers: Mapping[str, str]) -> tuple[list[str], list[str]]:
        """The operation-changing inputs this request carries: query names and header names."""
        names = [name for name in self.headers if name in headers]
        if self.op is Op.WRITE:
            names += [name for name in headers if name in WRITE_HEADERS or name.startswith(WRITE_HEADER_PREFIXES)]
        return [name for name in self.query if name in query], names


def _op(
    name: str,
    op: Op,
    handler: str,
    selector: str = "",
    *more: str,
    header: bool = False,
    scope: Scope = Scope.KEY,
    signed_suffix: Callable[[Mapping[str, str]], str] | None = None,
) -> Operation:
    if header:
        return Operation(name, op, handler, scope, signed_suffix, selector, more, (selector,), header_selector=True)
    return Operation(name, op, handler, scope, signed_suffix, selector, (selector, *more) if selector else more)


LIST_PARTS = _op(
    "ListParts", Op.LIST, "list_parts", "muploadpart", "uploadId", "max-parts", "part-number-marker", scope=Scope.LATER
)
BUCKET_READS = (
    LIST_PARTS,
    _op(
        "ListObjects",
        Op.LIST,
        "list_objects",
        "listobjects",
        "prefix",
        "marker",
        "max-keys",
        "delimiter",
        scope=Scope.PREFIX,
        signed_suffix=listobjects_suffix,
    ),
    _op("PrefixFileList", Op.LIST, "prefix_file_list", "", "prefix", "marker", "limit", scope=Scope.PREFIX),
)
OBJECT_READS = (_op("GetFile", Op.READ, "get"),)
OBJECT_PUTS = (
    _op("UploadPart", Op.WRITE, "upload_part", "uploadId", "partNumber"),
    _op("Rename", Op.WRITE, "rename", "newFileName", "force"),
    _op("Restore", Op.WRITE, "restore", "restore"),
    _op("SetStorageClass", Op.WRITE, "set_storage_class", "storageClass"),
    _op("CopyFile", Op.WRITE, "copy", "x-ufile-copy-source", header=True),
    _op("PutFile", Op.WRITE, "put"),
)
OBJECT_POSTS = (
    _op("InitiateMultipartUpload", Op.WRITE, "initiate", "uploads"),
    _op("FinishMultipartUpload", Op.WRITE, "finish", "uploadId", "newKey"),
    _op("OpMeta", Op.WRITE, "op_meta", "opmeta"),
)
OBJECT_DELETES = (
    _op("AbortMultipartUpload", Op.DELETE, "abort", "uploadId"),
    _op("DeleteFile", Op.DELETE, "delete"),
)
POST_FILE = _op("PostFile", Op.WRITE, "post_file", scope=Scope.FORM)
UPLOAD_HIT = _op("UploadHit", Op.WRITE, "upload_hit", "", "Hash", "FileSize", scope=Scope.FILE_NAME)
UPLOAD_HIT_KEY = "uploadhit"


def _first(table: tuple[Operation, ...], query: Mapping[str, str], headers: Mapping[str, str]) -> Operation:
    return next(operation for operation in table if operation.selected(query, headers))


def resolve(method: str, key: str, query: Mapping[str, str], headers: Mapping[str, str]) -> Operation:
    """The operation a request asks for. A PUT with ``uploadId``, ``newFileName``, ``restore``,
    ``storageClass`` or ``X-Ufile-Copy-Source`` is never an upload."""
    if method in ("GET", "HEAD"):
        if key:
            return OBJECT_READS[0]
        if method == "HEAD":
            raise BadRequest("HEAD needs an object key")
        return _first(BUCKET_READS, query, headers)
    if method == "PUT":
        return _first(OBJECT_PUTS, query, headers)
    if method == "POST":
        if not key:
            return POST_FILE
        if key == UPLOAD_HIT_KEY and ("Hash" in query or "FileName" in query):
            return UPLOAD_HIT
        for operation in OBJECT_POSTS:
            if operation.selected(query, headers):
                return operation
        raise BadRequest("POST to an object needs ?uploads, ?uploadId= or ?opmeta")
    if method == "DELETE":
        return _first(OBJECT_DELETES, query, headers)
    raise MethodNotAllowed(f"{method} is not supported here")

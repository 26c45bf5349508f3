"""A small S3 client: path-style requests signed with SigV4 in the Authorization header, over urllib3.

Signing uses the code the server verifies with (:mod:`holdall.auth.v4`). Every body is bound by the
signature: its SHA-256 goes in ``x-amz-content-sha256``, which the server checks as the body streams.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import unquote, urlsplit
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

import defusedxml.ElementTree as SafeXml
import urllib3
from defusedxml import DefusedXmlException

from holdall.auth import v4
from holdall.auth.encoding import uri_encode

DEFAULT_REGION = "cn-bj"
MAX_REPLY = 8 * 1024 * 1024
"""The most a reply read whole may hold (a listing, an error, a command's answer; a page of 1,000 keys
of 1 KiB is about 1.3 MiB): a server cannot make the client hold more."""
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
IDEMPOTENT = frozenset(("GET", "HEAD", "PUT", "DELETE"))
NOT_FOUND = {
    "object": ("NoSuchKey", "The specified key does not exist."),
    "bucket": ("NoSuchBucket", "The specified bucket does not exist."),
    "upload": ("NoSuchUpload", "The specified multipart upload does not exist."),
}
"""What a 404 with no body (a HEAD's) means, by what the request named."""


class RequestError(Exception):
    """A request that failed: ``code`` is the server's error code, or a name for a local failure."""

    def __init__(self, code: str, message: str, status: int = 0) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


@dataclass(frozen=True, slots=True)
class Body:
    """Bytes to send and their SHA-256 (hashlib releases the GIL on large buffers, so threads hash in
    parallel); with ``md5``, also a signed Content-MD5, which command bodies such as DeleteObjects need."""

    data: bytes
    sha256: str
    md5: str = ""

    @classmethod
    def of(cls, data: bytes, *, md5: bool = False) -> Body:
        return cls(data, hashlib.sha256(data).hexdigest(), hashlib.md5(data).hexdigest() if md5 else "")


EMPTY = Body(b"", EMPTY_SHA256)


@dataclass(frozen=True, slots=True)
class Reply:
    """A reply read whole (at most :data:`MAX_REPLY` bytes)."""

    status: int
    headers: Mapping[str, str]
    data: bytes


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    key: str
    size: int
    etag: str
    modified: float
    content_type: str = ""
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class BucketInfo:
    name: str
    created: float


@dataclass(frozen=True, slots=True)
class Part:
    number: int
    etag: str
    size: int


def _iso_time(value: str) -> float:
    return datetime.strptime(value[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp()


def _child(element: Element, name: str) -> str:
    for child in element:
        if child.tag.rpartition("}")[2] == name:
            return child.text or ""
    return ""


def _children(element: Element, name: str) -> list[Element]:
    return [child for child in element if child.tag.rpartition("}")[2] == name]


def _parse(data: bytes) -> Element:
    try:
        root: Element = SafeXml.fromstring(data)
    except (SafeXml.ParseError, DefusedXmlException, ValueError):
        raise RequestError("InvalidResponse", "the server's reply is not the XML expected") from None
    return root


class S3Client:
    def __init__(
        self,
        endpoint: str,
        access_key: str,
        secret_key: str,
        region: str = DEFAULT_REGION,
        *,
        connections: int = 10,
        connect_timeout: float = 5.0,
        read_timeout: float = 120.0,
        retries: int = 3,
    ) -> None:
        parts = urlsplit(endpoint if "://" in endpoint else f"http://{endpoint}")
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise RequestError("InvalidEndpoint", f"{endpoint!r} is not an http:// or https:// URL")
        self.endpoint = f"{parts.scheme}://{parts.netloc}"
        self.host = parts.netloc
        self.access_key, self.secret_key, self.region = access_key, secret_key, region
        self.retries = retries
        self.pool = urllib3.PoolManager(
            num_pools=4,
            maxsize=connections,
            block=True,
            timeout=urllib3.Timeout(connect=connect_timeout, read=read_timeout),
        )

    # ----------------------------------------------------------------- requests

    def sign(
        self, method: str, path: str, query: Mapping[str, str], headers: Mapping[str, str], payload: str
    ) -> dict[str, str]:
        """``headers`` with ``host``, ``x-amz-date``, ``x-amz-content-sha256`` and the Authorization."""
        timestamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        signed = {name.lower(): value for name, value in headers.items()}
        signed.update({"host": self.host, "x-amz-date": timestamp, "x-amz-content-sha256": payload})
        names = sorted(signed)
        parsed = v4.V4Query(
            dialect=v4.AWS4,
            access_key=self.access_key,
            date=timestamp[:8],
            region=self.region,
            timestamp=timestamp,
            signed_at=0,
            expires=0,
            signed_headers=tuple(names),
            signature="",
            security_token="",
            payload=payload,
        )
        text = v4.string_to_sign(parsed, v4.canonical_request(parsed, method, path, query, signed, names))
        signature = v4.signature(v4.AWS4, self.secret_key, parsed.date, self.region, text)
        signed["authorization"] = (
            f"{v4.AWS4.algorithm} Credential={self.access_key}/{parsed.scope}, "
            f"SignedHeaders={';'.join(names)}, Signature={signature}"
        )
        return signed

    def request(
        self,
        method: str,
        bucket: str = "",
        key: str = "",
        *,
        query: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        body: Body = EMPTY,
        missing: str = "object",
    ) -> Reply:
        """Sends a signed request and reads its reply whole; a reply of 300 or more raises
        :class:`RequestError` with the server's code (``missing`` names what a bare 404 means:
        ``object``, ``bucket`` or ``upload``)."""
        response = self.send(method, bucket, key, query=query, headers=headers, body=body, missing=missing)
        try:
            return Reply(response.status, response.headers, _read_whole(response))
        finally:
            response.release_conn()

    def send(
        self,
        method: str,
        bucket: str = "",
        key: str = "",
        *,
        query: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        body: Body = EMPTY,
        missing: str = "object",
    ) -> urllib3.BaseHTTPResponse:
        """Sends a signed request; the reply's body is left to read (with ``stream()``, as stored: no
        Content-Encoding is decoded) and no redirect is followed: a 3xx is an error like a 4xx."""
        path = f"/{bucket}/{key}" if key else f"/{bucket}" if bucket else "/"
        query = dict(query or {})
        sent = dict(headers or {})
        if body.md5:
            sent["content-md5"] = base64.b64encode(bytes.fromhex(body.md5)).decode()
        signed = self.sign(method, path, query, sent, body.sha256)
        url = self.endpoint + uri_encode(path, keep_slash=True)
        if query:
            url += "?" + "&".join(
                f"{uri_encode(name, keep_slash=False)}={uri_encode(value, keep_slash=False)}"
                for name, value in sorted(query.items())
            )
        retry = urllib3.Retry(
            total=self.retries,
            connect=self.retries,
            read=self.retries if method in IDEMPOTENT else 0,
            status=self.retries if method in IDEMPOTENT else 0,
            other=0,
            allowed_methods=IDEMPOTENT,
            status_forcelist=(500, 502, 503, 504),
            backoff_factor=0.2,
            raise_on_status=False,
        )
        try:
            response = self.pool.request(
                method,
                url,
                body=body.data or None,
                headers=signed,
                retries=retry,
                redirect=False,
                preload_content=False,
                decode_content=False,
            )
        except urllib3.exceptions.MaxRetryError as problem:
            raise RequestError("ConnectionFailed", f"cannot reach {self.endpoint}: {_reason(problem.reason)}") from None
        except urllib3.exceptions.HTTPError as problem:
            raise RequestError("ConnectionFailed", f"{self.endpoint}: {_reason(problem)}") from None
        if response.status >= 300:
            raise _error(response, missing)
        return response

    # ----------------------------------------------------------------- buckets

    def list_buckets(self) -> list[BucketInfo]:
        root = _parse(self.request("GET").data)
        found = []
        for holder in _children(root, "Buckets"):
            for item in _children(holder, "Bucket"):
                found.append(BucketInfo(_child(item, "Name"), _iso_time(_child(item, "CreationDate"))))
        return found

    def make_bucket(self, bucket: str) -> None:
        self.request("PUT", bucket, missing="bucket")

    def remove_bucket(self, bucket: str) -> None:
        self.request("DELETE", bucket, missing="bucket")

    def head_bucket(self, bucket: str) -> str:
        """The bucket's region."""
        return self.request("HEAD", bucket, missing="bucket").headers.get("x-amz-bucket-region", "")

    def list_objects(
        self, bucket: str, prefix: str = "", delimiter: str = "", page: int = 1000
    ) -> Iterator[ObjectInfo | str]:
        """Every object under ``prefix`` in key order, and (with a delimiter) each common prefix as a str."""
        query = {"list-type": "2", "prefix": prefix, "max-keys": str(page), "encoding-type": "url"}
        if delimiter:
            query["delimiter"] = delimiter
        seen: set[str] = set()
        while True:
            root = _parse(self.request("GET", bucket, query=query, missing="bucket").data)
            entries: list[tuple[str, ObjectInfo | str]] = []
            for item in _children(root, "Contents"):
                key, size, etag = unquote(_child(item, "Key")), int(_child(item, "Size")), _child(item, "ETag")
                entries.append((key, ObjectInfo(key, size, etag.strip('"'), _iso_time(_child(item, "LastModified")))))
            for item in _children(root, "CommonPrefixes"):
                name = unquote(_child(item, "Prefix"))
                entries.append((name, name))
            entries.sort(key=lambda entry: entry[0].encode())
            yield from (entry for _, entry in entries)
            token = _child(root, "NextContinuationToken")
            if _child(root, "IsTruncated") != "true" or not token:
                return
            if token in seen:
                raise RequestError("InvalidResponse", "the listing gave the same continuation token twice")
            seen.add(token)
            query["continuation-token"] = token

    def list_uploads(self, bucket: str, prefix: str = "") -> list[tuple[str, str]]:
        """(key, upload id) of unfinished multipart uploads under ``prefix``."""
        query = {"uploads": "", "prefix": prefix}
        found: list[tuple[str, str]] = []
        seen: set[tuple[str, str]] = set()
        while True:
            root = _parse(self.request("GET", bucket, query=query, missing="bucket").data)
            page = [(_child(item, "Key"), _child(item, "UploadId")) for item in _children(root, "Upload")]
            found += page
            if _child(root, "IsTruncated") != "true":
                return found
            if not page or page[-1] in seen:
                raise RequestError("InvalidResponse", "the list of uploads did not move on")
            seen.add(page[-1])
            query["key-marker"], query["upload-id-marker"] = page[-1]

    # ----------------------------------------------------------------- objects

    def head_object(self, bucket: str, key: str) -> ObjectInfo:
        return _info(key, self.request("HEAD", bucket, key))

    def get_object(self, bucket: str, key: str) -> urllib3.BaseHTTPResponse:
        """The streamed reply: read it with ``stream()``, then ``release_conn()``."""
        return self.send("GET", bucket, key)

    def put_object(self, bucket: str, key: str, body: Body, content_type: str = "") -> str:
        headers = {"content-type": content_type} if content_type else {}
        return self.request("PUT", bucket, key, headers=headers, body=body).headers.get("etag", "").strip('"')

    def copy_object(self, src_bucket: str, src_key: str, bucket: str, key: str) -> str:
        source = uri_encode(f"{src_bucket}/{src_key}", keep_slash=True)
        root = _parse(self.request("PUT", bucket, key, headers={"x-amz-copy-source": source}).data)
        return _child(root, "ETag").strip('"')

    def delete_object(self, bucket: str, key: str) -> None:
        self.request("DELETE", bucket, key)

    def delete_objects(self, bucket: str, keys: list[str]) -> list[tuple[str, RequestError]]:
        """Deletes up to 1,000 keys in one request; the keys that could not be deleted, with why."""
        items = "".join(f"<Object><Key>{escape(key)}</Key></Object>" for key in keys)
        document = f"<Delete><Quiet>true</Quiet>{items}</Delete>".encode()
        reply = self.request("POST", bucket, query={"delete": ""}, body=Body.of(document, md5=True), missing="bucket")
        return [
            (_child(item, "Key"), RequestError(_child(item, "Code"), _child(item, "Message")))
            for item in _children(_parse(reply.data), "Error")
        ]

    # ----------------------------------------------------------------- multipart

    def create_upload(self, bucket: str, key: str, content_type: str = "") -> str:
        headers = {"content-type": content_type} if content_type else {}
        reply = self.request("POST", bucket, key, query={"uploads": ""}, headers=headers)
        return _child(_parse(reply.data), "UploadId")

    def upload_part(self, bucket: str, key: str, upload_id: str, number: int, body: Body) -> str:
        query = {"partNumber": str(number), "uploadId": upload_id}
        reply = self.request("PUT", bucket, key, query=query, body=body, missing="upload")
        return reply.headers.get("etag", "").strip('"')

    def list_parts(self, bucket: str, key: str, upload_id: str) -> list[Part]:
        query = {"uploadId": upload_id}
        found: list[Part] = []
        while True:
            root = _parse(self.request("GET", bucket, key, query=query, missing="upload").data)
            found += [
                Part(int(_child(item, "PartNumber")), _child(item, "ETag").strip('"'), int(_child(item, "Size")))
                for item in _children(root, "Part")
            ]
            if _child(root, "IsTruncated") != "true":
                return found
            marker = _child(root, "NextPartNumberMarker")
            if not marker.isdigit() or int(marker) <= int(query.get("part-number-marker", "-1")):
                raise RequestError("InvalidResponse", "the list of parts did not move on")
            query["part-number-marker"] = marker

    def complete_upload(self, bucket: str, key: str, upload_id: str, parts: list[tuple[int, str]]) -> str:
        listed = "".join(f'<Part><PartNumber>{n}</PartNumber><ETag>"{etag}"</ETag></Part>' for n, etag in parts)
        document = f"<CompleteMultipartUpload>{listed}</CompleteMultipartUpload>".encode()
        reply = self.request(
            "POST", bucket, key, query={"uploadId": upload_id}, body=Body.of(document, md5=True), missing="upload"
        )
        root = _parse(reply.data)
        if root.tag.rpartition("}")[2] == "Error":  # S3 may fail a completion in a 200 reply
            raise RequestError(_child(root, "Code"), _child(root, "Message"), 200)
        return _child(root, "ETag").strip('"')

    def abort_upload(self, bucket: str, key: str, upload_id: str) -> None:
        self.request("DELETE", bucket, key, query={"uploadId": upload_id}, missing="upload")


def _reason(problem: BaseException | None) -> str:
    if isinstance(problem, urllib3.exceptions.NewConnectionError):
        return "connection refused" if "refused" in str(problem).lower() else "cannot connect"
    if isinstance(problem, urllib3.exceptions.TimeoutError):
        return "timed out"
    if isinstance(problem, urllib3.exceptions.ResponseError):
        return "the server kept failing"
    return type(problem).__name__ if problem is not None else "unknown error"


def _read_whole(response: urllib3.BaseHTTPResponse) -> bytes:
    chunks, size = [], 0
    for chunk in response.stream(64 * 1024, decode_content=False):
        size += len(chunk)
        if size > MAX_REPLY:
            response.close()
            raise RequestError("InvalidResponse", f"the server's reply runs past {MAX_REPLY} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _error(response: urllib3.BaseHTTPResponse, missing: str) -> RequestError:
    status = response.status
    try:
        data = _read_whole(response) if response.headers.get("content-type", "").endswith("xml") else b""
    finally:
        response.release_conn()
    code = message = ""
    if data:
        try:
            root = _parse(data)
            code, message = _child(root, "Code"), _child(root, "Message")
        except RequestError:
            pass
    if not code and status == 404:
        code, message = NOT_FOUND[missing]
    return RequestError(code or f"HTTP{status}", message or response.reason or f"HTTP status {status}", status)


def _info(key: str, response: Reply) -> ObjectInfo:
    headers = response.headers
    modified = headers.get("last-modified", "")
    metadata = {name[11:]: value for name, value in headers.items() if name.lower().startswith("x-amz-meta-")}
    return ObjectInfo(
        key,
        int(headers.get("content-length", "0")),
        headers.get("etag", "").strip('"'),
        parsedate_to_datetime(modified).timestamp() if modified else 0.0,
        headers.get("content-type", ""),
        metadata,
    )

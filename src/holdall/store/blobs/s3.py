"""Blobs in an S3-compatible service (Ceph RGW, MinIO, SeaweedFS, a cloud bucket), through botocore.

A blob is the object ``<prefix><id[:2]>/<id>``. A writer spools the part it is filling to a
temporary file past 256 KiB, so a stalled upload holds little memory: a blob that fits in one part
is one PUT at commit; a larger one becomes a multipart upload whose parts go out as they fill, so
the body streams through. ``commit`` returns once the service acknowledged the
PUT or the multipart completion, which S3 makes durable before it answers, so the metadata commit
that follows names only durable blobs, as on disk. Reads are ranged GETs, streamed.

The client is botocore (boto3) driven from holdall's I/O threads, which already run blob writes and
reads off the event loop; see NOTES.md for why this one.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, BinaryIO
from urllib.parse import parse_qs, urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from holdall.errors import ServiceUnavailable, no_space_is_storage_full

PART = 8 * 1024 * 1024
"""Bytes of one multipart part (S3 wants at least 5 MiB but for the last)."""
SPOOL_IN_MEMORY = 256 * 1024
_BLOB_ID = re.compile(r"^[0-9a-f]{32}$")
TEMPORARY = "|"


@contextlib.contextmanager
def _reachable() -> Iterator[None]:
    """A blob service that is down or refuses is a 503 the client may retry, not a 500."""
    try:
        yield
    except (BotoCoreError, ClientError) as error:
        code = error.response.get("Error", {}).get("Code", "") if isinstance(error, ClientError) else ""
        if code in ("NoSuchKey", "404"):
            raise OSError(f"a blob is missing from the blob service: {error}") from None
        raise ServiceUnavailable(
            f"the blob service did not answer as expected ({code or type(error).__name__})"
        ) from None


class S3Location:
    def __init__(self, url: str) -> None:
        """``s3://bucket/prefix?endpoint=http://host:port&region=us-east-1``; keys from AWS_ACCESS_KEY_ID
        and AWS_SECRET_ACCESS_KEY (or the other places botocore looks)."""
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise ValueError(f"the blob URL {url!r} is s3://BUCKET/PREFIX?endpoint=…&region=…")
        options = {name: values[-1] for name, values in parse_qs(parts.query).items()}
        self.bucket = parts.netloc
        prefix = parts.path.strip("/")
        self.prefix = f"{prefix}/" if prefix else ""
        self.endpoint = options.get("endpoint") or None
        self.region = options.get("region") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


class S3BlobWriter:
    def __init__(self, store: S3BlobStore) -> None:
        self._store = store
        self.blob_id = uuid.uuid4().hex
        self.size = 0
        self._part = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY, dir=store.volume)  # noqa: SIM115 (closed by commit/abort)
        self._part_size = 0
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []

    def write(self, data: bytes | memoryview) -> None:
        with _reachable(), no_space_is_storage_full("S3 writers' spool (TMPDIR)"):
            self._write(data)

    def _write(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        while view:
            if self._part_size >= PART:  # a full part, and more bytes to come: it is not the last
                self._send_part()
            taken = view[: PART - self._part_size]
            self._part.write(taken)
            self._part_size += len(taken)
            self.size += len(taken)
            view = view[len(taken) :]

    def _rewound(self) -> BinaryIO:
        self._part.seek(0)
        return self._part  # type: ignore[return-value]

    def _send_part(self) -> None:
        client, key = self._store.client, self._store.key(self.blob_id)
        if self._upload_id is None:
            created = client.create_multipart_upload(Bucket=self._store.location.bucket, Key=key)
            self._upload_id = created["UploadId"]
        number = len(self._parts) + 1
        reply = client.upload_part(
            Bucket=self._store.location.bucket,
            Key=key,
            UploadId=self._upload_id,
            PartNumber=number,
            Body=self._rewound(),
            ContentLength=self._part_size,
        )
        self._parts.append({"PartNumber": number, "ETag": reply["ETag"]})
        self._part.seek(0)
        self._part.truncate()
        self._part_size = 0

    def commit(self) -> None:
        """Blocking: call it off the event loop."""
        with _reachable():
            self._commit()

    def _commit(self) -> None:
        client, bucket, key = self._store.client, self._store.location.bucket, self._store.key(self.blob_id)
        try:
            if self._upload_id is None:
                client.put_object(Bucket=bucket, Key=key, Body=self._rewound(), ContentLength=self._part_size)
            else:
                if self._part_size:
                    self._send_part()
                client.complete_multipart_upload(
                    Bucket=bucket, Key=key, UploadId=self._upload_id, MultipartUpload={"Parts": self._parts}
                )
        finally:
            self._part.close()

    def abort(self) -> None:
        self._part.close()
        if self._upload_id is not None:
            upload_id, self._upload_id = self._upload_id, None
            self._store.background.submit(self._store.abort_upload, self._store.key(self.blob_id), upload_id)


class RangeReader:
    """A blob opened for reading: ``seek`` then ``read`` stream one ranged GET."""

    def __init__(self, store: S3BlobStore, blob_id: str) -> None:
        self._store = store
        self._key = store.key(blob_id)
        self._offset = 0
        self._body: Any = None

    def seek(self, offset: int) -> int:
        self.close()
        self._offset = offset
        return offset

    def read(self, size: int = -1) -> bytes:
        with _reachable():
            return self._read(size)

    def _read(self, size: int) -> bytes:
        if self._body is None:
            try:
                reply = self._store.client.get_object(
                    Bucket=self._store.location.bucket, Key=self._key, Range=f"bytes={self._offset}-"
                )
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") == "InvalidRange":
                    return b""  # at or past the end
                raise
            self._body = reply["Body"]
        data: bytes = self._body.read(size if size >= 0 else None)
        self._offset += len(data)
        return data

    def close(self) -> None:
        if self._body is not None:
            self._body.close()
            self._body = None


class S3BlobStore:
    local_reads = False
    """Small reads are network round trips: callers run them off the event loop."""

    def __init__(self, url: str) -> None:
        self.location = S3Location(url)
        self.volume: str | None = tempfile.gettempdir()
        """Where writers spool the part they fill."""
        self.held_locally: int | None = PART
        config = Config(retries={"max_attempts": 5, "mode": "standard"}, max_pool_connections=64)
        self.client = boto3.session.Session().client(
            "s3", endpoint_url=self.location.endpoint, region_name=self.location.region, config=config
        )
        self.background = ThreadPoolExecutor(2, thread_name_prefix="holdall-s3-abort")

    def key(self, blob_id: str) -> str:
        if not _BLOB_ID.match(blob_id):
            raise ValueError(f"not a blob id: {blob_id!r}")
        return f"{self.location.prefix}{blob_id[:2]}/{blob_id}"

    def writer(self) -> S3BlobWriter:
        return S3BlobWriter(self)

    def probe(self) -> None:
        with _reachable():
            self.client.head_bucket(Bucket=self.location.bucket)

    def open(self, blob_id: str) -> BinaryIO:
        return RangeReader(self, blob_id)  # type: ignore[return-value]

    def read(self, blob_id: str, offset: int, length: int) -> bytes:
        """Blocking: a ranged GET."""
        if length <= 0:
            return b""
        with _reachable():
            reply = self.client.get_object(
                Bucket=self.location.bucket, Key=self.key(blob_id), Range=f"bytes={offset}-{offset + length - 1}"
            )
            data: bytes = reply["Body"].read()
        if len(data) != length:
            raise OSError(f"blob {blob_id} is shorter than its manifest says")
        return data

    def delete(self, blob_id: str) -> None:
        with _reachable():
            self.client.delete_object(Bucket=self.location.bucket, Key=self.key(blob_id))

    def scan(self) -> Iterator[tuple[str, float]]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.location.bucket, Prefix=self.location.prefix
        )
        for page in pages:
            for item in page.get("Contents", []):
                blob_id = item["Key"].rsplit("/", 1)[-1]
                if _BLOB_ID.match(blob_id):
                    yield blob_id, item["LastModified"].timestamp()

    def scan_temporary(self) -> Iterator[tuple[str, float]]:
        """Unfinished multipart uploads, named ``<key>|<upload id>``."""
        pages = self.client.get_paginator("list_multipart_uploads").paginate(
            Bucket=self.location.bucket, Prefix=self.location.prefix
        )
        for page in pages:
            for upload in page.get("Uploads", []):
                yield f"{upload['Key']}{TEMPORARY}{upload['UploadId']}", upload["Initiated"].timestamp()

    def delete_temporary(self, name: str) -> None:
        key, sep, upload_id = name.rpartition(TEMPORARY)
        if sep and key.startswith(self.location.prefix):
            self.abort_upload(key, upload_id)

    def abort_upload(self, key: str, upload_id: str) -> None:
        try:
            self.client.abort_multipart_upload(Bucket=self.location.bucket, Key=key, UploadId=upload_id)
        except ClientError:
            pass  # gone already; the sweeper tries any that remain

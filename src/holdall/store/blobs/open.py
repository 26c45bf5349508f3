"""The blob store a URL names: ``file:///srv/blobs`` or ``s3://bucket/prefix?endpoint=http://…&region=…``."""

from __future__ import annotations

from pathlib import Path

from holdall.store.blobs.base import BlobStore


def open_blobs(url: str, default: Path) -> BlobStore:
    """``default`` is the directory used when ``url`` is empty (``<data>/blobs``)."""
    from holdall.store.blobs.file import FileBlobStore

    if not url:
        return FileBlobStore(default)
    scheme, sep, rest = url.partition("://")
    if scheme == "file" and sep and rest.startswith("/"):
        return FileBlobStore(Path(rest))
    if scheme == "s3" and sep:
        from holdall.store.blobs.s3 import S3BlobStore

        return S3BlobStore(url)
    raise ValueError(f"the blob URL {url!r} is file:///PATH or s3://BUCKET/PREFIX?endpoint=…&region=…")

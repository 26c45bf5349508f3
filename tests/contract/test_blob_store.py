"""The blob store contract, run against every backend: files under a directory, and an S3 service."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from holdall.store.blobs.base import BlobStore
from holdall.store.blobs.file import FileBlobStore
from holdall.store.blobs.s3 import PART, S3BlobStore


@pytest.fixture(params=["file", "s3"])
def blobs(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[BlobStore]:
    if request.param == "file":
        yield FileBlobStore(tmp_path / "blobs")
        return
    service = request.getfixturevalue("s3_service")
    for name, value in service.environment().items():
        monkeypatch.setenv(name, value)
    yield S3BlobStore(service.new_location())


def write(blobs: BlobStore, data: bytes, step: int = 192 * 1024) -> str:
    writer = blobs.writer()
    for start in range(0, len(data), step):
        writer.write(data[start : start + step])
    writer.commit()
    assert writer.size == len(data)
    return writer.blob_id


def read_all(blobs: BlobStore, blob_id: str, offset: int = 0) -> bytes:
    handle = blobs.open(blob_id)
    try:
        handle.seek(offset)
        chunks = []
        while chunk := handle.read(1024 * 1024):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        handle.close()


@pytest.mark.parametrize("size", [0, 1, 300 * 1024, 2 * PART + 12345])
def test_a_committed_blob_reads_back_whole_and_by_range(blobs: BlobStore, size: int) -> None:
    data = os.urandom(size)
    blob_id = write(blobs, data)
    assert read_all(blobs, blob_id) == data
    if size:
        middle = size // 2
        assert read_all(blobs, blob_id, middle) == data[middle:]
        length = min(1000, size - middle)
        assert blobs.read(blob_id, middle, length) == data[middle : middle + length]
    assert blob_id in {found for found, _ in blobs.scan()}


def test_an_aborted_write_leaves_nothing(blobs: BlobStore) -> None:
    writer = blobs.writer()
    writer.write(os.urandom(2 * PART + 1))  # far enough for a multipart upload to have begun
    writer.abort()
    assert writer.blob_id not in {found for found, _ in blobs.scan()}


def test_a_deleted_blob_is_gone_and_deleting_twice_is_fine(blobs: BlobStore) -> None:
    blob_id = write(blobs, b"short lived")
    blobs.delete(blob_id)
    blobs.delete(blob_id)
    assert blob_id not in {found for found, _ in blobs.scan()}
    with pytest.raises(Exception):  # noqa: B017 (each backend raises its own not-found)
        blobs.read(blob_id, 0, 1)

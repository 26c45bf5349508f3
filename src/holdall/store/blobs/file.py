"""Blobs as files under ``<root>/<id[:2]>/<id>``, written to ``<root>/tmp`` first.

A write goes: temporary file → bytes → ``fdatasync`` → rename into place → ``fsync`` of the
directory. Ids are random hex, so a key never becomes a path.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from holdall.errors import no_space_is_storage_full

_BLOB_ID = re.compile(r"^[0-9a-f]{32}$")
WRITEBACK_STEP = 8 * 1024 * 1024
_SYNC_FILE_RANGE_WRITE = 2


def _load_sync_file_range() -> Callable[[int, int, int], None] | None:
    """Linux ``sync_file_range(fd, offset, n, SYNC_FILE_RANGE_WRITE)``: starts writeback, no wait."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        function = libc.sync_file_range
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    function.restype = ctypes.c_int

    def start_writeback(fd: int, offset: int, length: int) -> None:
        function(fd, offset, length, _SYNC_FILE_RANGE_WRITE)

    return start_writeback


_start_writeback = _load_sync_file_range()
BLOBS = "blob store"
_FANOUT = [f"{i:02x}" for i in range(256)]


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FileBlobWriter:
    __slots__ = ("_fd", "_flushed", "_store", "_tmp", "blob_id", "size")

    def __init__(self, store: FileBlobStore) -> None:
        self._store = store
        self.blob_id = uuid.uuid4().hex
        self.size = 0
        self._flushed = 0
        self._tmp = store.tmp_dir / self.blob_id
        with no_space_is_storage_full(BLOBS):
            self._fd: int | None = os.open(self._tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)

    def write(self, data: bytes | memoryview) -> None:
        assert self._fd is not None
        view = memoryview(data)
        with no_space_is_storage_full(BLOBS):
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
                self.size += written
        if _start_writeback is not None and self.size - self._flushed >= WRITEBACK_STEP:
            # a large blob streams to disk while it arrives, so the final fdatasync has little left
            _start_writeback(self._fd, self._flushed, self.size - self._flushed)
            self._flushed = self.size

    def commit(self) -> None:
        assert self._fd is not None
        with no_space_is_storage_full(BLOBS):
            try:
                os.fdatasync(self._fd)
            finally:
                os.close(self._fd)
                self._fd = None
            final = self._store.path(self.blob_id)
            os.rename(self._tmp, final)
            _fsync_dir(final.parent)

    def abort(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        try:
            os.unlink(self._tmp)
        except FileNotFoundError:
            pass


class FileBlobStore:
    local_reads = True

    def __init__(self, root: Path) -> None:
        self.root = root
        self.volume: str | None = str(root)
        self.held_locally: int | None = None
        self.tmp_dir = root / "tmp"
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        for name in _FANOUT:
            (root / name).mkdir(exist_ok=True)
        _fsync_dir(root)

    def path(self, blob_id: str) -> Path:
        if not _BLOB_ID.match(blob_id):
            raise ValueError(f"not a blob id: {blob_id!r}")
        return self.root / blob_id[:2] / blob_id

    def writer(self) -> FileBlobWriter:
        return FileBlobWriter(self)

    def probe(self) -> None:
        if not self.tmp_dir.is_dir() or not os.access(self.tmp_dir, os.W_OK | os.X_OK):
            raise OSError(f"{self.tmp_dir} is not a writable directory")

    def open(self, blob_id: str) -> BinaryIO:
        return open(self.path(blob_id), "rb", buffering=0)

    def read(self, blob_id: str, offset: int, length: int) -> bytes:
        fd = os.open(f"{self.root}/{blob_id[:2]}/{blob_id}", os.O_RDONLY | os.O_CLOEXEC)
        try:
            data = os.pread(fd, length, offset)
        finally:
            os.close(fd)
        if len(data) != length:
            raise OSError(f"blob {blob_id} is shorter than its manifest says")
        return data

    def delete(self, blob_id: str) -> None:
        try:
            os.unlink(self.path(blob_id))
        except FileNotFoundError:
            pass

    def scan(self) -> Iterator[tuple[str, float]]:
        for name in _FANOUT:
            with os.scandir(self.root / name) as entries:
                for entry in entries:
                    if _BLOB_ID.match(entry.name):
                        yield entry.name, entry.stat().st_mtime

    def scan_temporary(self) -> Iterator[tuple[str, float]]:
        with os.scandir(self.tmp_dir) as entries:
            for entry in entries:
                yield entry.name, entry.stat().st_mtime

    def delete_temporary(self, name: str) -> None:
        if "/" in name or name in ("", ".", ".."):
            return
        try:
            os.unlink(self.tmp_dir / name)
        except FileNotFoundError:
            pass

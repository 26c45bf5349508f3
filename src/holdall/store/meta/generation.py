"""A counter shared by every process on one data directory, bumped whenever accounts or buckets change.

Each process caches accounts and buckets and drops its cache when the counter moves, so a
bucket made private or an account disabled in one worker takes effect in all of them at once,
while the per-request lookup is one read of a shared memory page.
"""

from __future__ import annotations

import fcntl
import mmap
import os
from pathlib import Path

SIZE = 8


class Generation:
    def __init__(self, path: Path) -> None:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            if os.fstat(fd).st_size < SIZE:
                os.ftruncate(fd, SIZE)
            self._map = mmap.mmap(fd, SIZE)
        finally:
            os.close(fd)
        self._lock_path = path

    def value(self) -> int:
        return int.from_bytes(self._map[:SIZE], "little")

    def bump(self) -> None:
        with open(self._lock_path, "rb") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                self._map[:SIZE] = (self.value() + 1).to_bytes(SIZE, "little")
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def close(self) -> None:
        self._map.close()

"""The blob store interface.

A blob is written once through a :class:`BlobWriter` and becomes visible under its id only when
:meth:`BlobWriter.commit` returns, after its bytes and its name are on disk. Blobs are never
modified; the metadata store counts references and the sweeper deletes unreferenced ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO, Protocol


class BlobWriter(Protocol):
    blob_id: str
    size: int

    def write(self, data: bytes | memoryview) -> None: ...

    def commit(self) -> None:
        """Make the bytes durable and the blob visible (blocking: call it off the event loop)."""

    def abort(self) -> None: ...


class BlobStore(Protocol):
    local_reads: bool
    """Whether :meth:`read` is a local read cheap enough for the event loop (files: yes; S3: no)."""
    volume: str | None
    """The local directory whose volume receives what a writer writes, for the free-space reserve."""
    held_locally: int | None
    """At most how many bytes of one blob a writer keeps on that volume at once; None: the whole blob."""

    def writer(self) -> BlobWriter:
        """A writer for a new blob; makes no network call (the first bytes may be written on the loop)."""
        ...

    def open(self, blob_id: str) -> BinaryIO: ...

    def read(self, blob_id: str, offset: int, length: int) -> bytes:
        """``length`` bytes from ``offset``: for small reads on the event loop."""
        ...

    def delete(self, blob_id: str) -> None: ...

    def scan(self) -> Iterator[tuple[str, float]]:
        """Every committed blob id with its modification time."""
        ...

    def scan_temporary(self) -> Iterator[tuple[str, float]]:
        """Every unfinished write (a path or name) with its modification time."""
        ...

    def delete_temporary(self, name: str) -> None: ...

    def probe(self) -> None:
        """Raises when blobs could not be written or read now (blocking: call it off the event loop)."""
        ...

"""The UFile ETag: urlsafe_base64(uint32_le(blocks) + sha1), blocks of 4 MiB.

One block: the block's SHA1. Several: SHA1 over the concatenated block SHA1s. An empty object
has zero blocks and an empty hash, ``AAAAAA==``, as the Python SDK computes it; UploadHit also
accepts the other SDKs' spelling, :data:`EMPTY_ETAG_ALT`.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from collections.abc import Sequence

BLOCK_SIZE = 4 * 1024 * 1024
EMPTY_ETAG = "AAAAAA=="
EMPTY_ETAG_ALT = "AAAAANo5o-5ea0sNMlW_75VgGJCv2AcJ"


def etag_from_block_digests(digests: Sequence[bytes]) -> str:
    """The ETag of an object whose 4 MiB blocks have these SHA1 digests, in order."""
    if len(digests) > 1:
        digest = hashlib.sha1(b"".join(digests)).digest()
    elif digests:
        digest = digests[0]
    else:
        digest = b""
    return base64.urlsafe_b64encode(struct.pack("<I", len(digests)) + digest).decode()


def etag_of(data: bytes) -> str:
    hasher = ETagHasher()
    hasher.update(data)
    return hasher.etag()


class ETagHasher:
    """Feeds bytes in any chunking; keeps one SHA1 per completed 4 MiB block."""

    __slots__ = ("_block", "_block_fill", "digests")

    def __init__(self) -> None:
        self.digests: list[bytes] = []
        self._block = hashlib.sha1()
        self._block_fill = 0

    def update(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        while view:
            room = BLOCK_SIZE - self._block_fill
            piece = view[:room]
            self._block.update(piece)
            self._block_fill += len(piece)
            view = view[len(piece) :]
            if self._block_fill == BLOCK_SIZE:
                self.digests.append(self._block.digest())
                self._block = hashlib.sha1()
                self._block_fill = 0

    def block_digests(self) -> list[bytes]:
        if self._block_fill:
            return [*self.digests, self._block.digest()]
        return list(self.digests)

    def etag(self) -> str:
        return etag_from_block_digests(self.block_digests())

"""Digests of a body computed while it streams, and the values a client said it would have.

Every stored body gets its MD5 (S3's ETag); a client may also name the SHA-256 it signed
(``x-amz-content-sha256``), a Content-MD5, or an ``x-amz-checksum-*`` value, each checked before
the body is committed.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import crc32c as crc32c_module
import crcmod

from holdall.errors import HoldallError


class Hasher(Protocol):
    def update(self, data: bytes, /) -> None: ...
    def digest(self) -> bytes: ...


class _Crc:
    def __init__(self, function: Callable[[bytes, int], int]) -> None:
        self._function = function
        self._value = 0

    def update(self, data: bytes) -> None:
        self._value = self._function(data, self._value)

    def digest(self) -> bytes:
        return self._value.to_bytes(4, "big")


class _Crc64:
    """CRC-64/ECMA-182, reflected (what OSS and TOS call ``crc64ecma``), through crcmod's C extension."""

    def __init__(self) -> None:
        self._crc = crcmod.Crc(0x142F0E1EBA9EA3693, initCrc=0, rev=True, xorOut=0xFFFFFFFFFFFFFFFF)

    def update(self, data: bytes) -> None:
        self._crc.update(data)

    def digest(self) -> bytes:
        return int(self._crc.crcValue).to_bytes(8, "big")


ALGORITHMS: dict[str, Callable[[], Hasher]] = {
    "md5": hashlib.md5,
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
    "crc32": lambda: _Crc(zlib.crc32),
    "crc32c": lambda: _Crc(crc32c_module.crc32c),
    "crc64ecma": _Crc64,
}


@dataclass(frozen=True, slots=True)
class Expected:
    algorithm: str
    digest: bytes
    error: HoldallError
    """Raised when the body's digest differs."""


class Digests:
    """MD5 always, whatever ``expected`` names and the algorithms ``also`` asks for; updated with every
    chunk, checked at the end."""

    def __init__(self, expected: tuple[Expected, ...] = (), also: tuple[str, ...] = ()) -> None:
        self.expected = expected
        self._hashers: dict[str, Hasher] = {"md5": hashlib.md5()}
        for algorithm in (*(wanted.algorithm for wanted in expected), *also):
            if algorithm not in self._hashers:
                self._hashers[algorithm] = ALGORITHMS[algorithm]()

    def update(self, data: bytes) -> None:
        for hasher in self._hashers.values():
            hasher.update(data)

    def digest(self, algorithm: str) -> bytes:
        return self._hashers[algorithm].digest()

    def computed(self, algorithm: str) -> bytes | None:
        hasher = self._hashers.get(algorithm)
        return hasher.digest() if hasher is not None else None

    def check(self) -> None:
        for wanted in self.expected:
            if self._hashers[wanted.algorithm].digest() != wanted.digest:
                raise wanted.error

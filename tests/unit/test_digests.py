"""Digests computed while a body streams, against published check values and a real client's header."""

from __future__ import annotations

import base64
import hashlib

import pytest

from holdall.errors import ChecksumMismatch
from holdall.service.digests import Digests, Expected
from holdall.service.multipart import multipart_md5
from holdall.store.meta.base import BlobRef, Part


def test_check_values() -> None:
    digests = Digests(tuple(Expected(name, b"", ChecksumMismatch()) for name in ("crc32", "crc32c", "sha256")))
    for piece in (b"1234", b"56789"):
        digests.update(piece)
    assert digests.digest("crc32").hex() == "cbf43926"  # the CRC-32 check value of "123456789"
    assert digests.digest("crc32c").hex() == "e3069283"  # CRC-32C's
    assert digests.digest("md5").hex() == hashlib.md5(b"123456789").hexdigest()


def test_boto3s_crc32_header_for_hello() -> None:
    checked = Digests((Expected("crc32", base64.b64decode("NhCmhg=="), ChecksumMismatch()),))
    checked.update(b"hel")
    checked.update(b"lo")
    checked.check()  # boto3 1.44 sent x-amz-checksum-crc32: NhCmhg== with the body b"hello"


def test_a_wrong_digest_raises_its_error() -> None:
    digests = Digests((Expected("md5", hashlib.md5(b"other").digest(), ChecksumMismatch("no")),))
    digests.update(b"body")
    with pytest.raises(ChecksumMismatch):
        digests.check()


def test_multipart_md5_is_the_md5_of_the_part_md5s() -> None:
    bodies = [b"a" * 10, b"b" * 3]
    parts = [
        Part("u", n, BlobRef(f"{n}", len(body)), "e", b"", hashlib.md5(body).hexdigest())
        for n, body in enumerate(bodies, start=1)
    ]
    joined = hashlib.md5(b"".join(hashlib.md5(body).digest() for body in bodies)).hexdigest()
    assert multipart_md5(parts) == f"{joined}-2"
    parts[0].md5 = ""
    assert multipart_md5(parts) == ""

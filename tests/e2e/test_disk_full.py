"""A full volume: a clean 507 in each dialect's shape, nothing acknowledged lost, recovery once freed.

The server's data directory lives on a 64 MiB tmpfs (the suite runs as root, as CI does).
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from ufile import filemanager
from ufile.auth import Auth

from tests.e2e.helpers import api, call
from tests.e2e.server import ACCESS_KEY, SECRET_KEY, Server
from tests.e2e.test_presigned import oss_url, s3_url, tos_url
from tests.s3 import S3Server

MiB = 1024 * 1024


@pytest.fixture
def volume(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.fail("the disk-full tests mount a tmpfs and need root, as in CI")
    mount = tmp_path / "volume"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def _chunks(size: int, seed: int) -> Iterator[bytes]:
    block = hashlib.sha256(str(seed).encode()).digest() * (64 * 1024 // 32)
    for _ in range(size // len(block)):
        yield block


def _body(size: int, seed: int) -> bytes:
    return b"".join(_chunks(size, seed))


def _fill(path: Path) -> None:
    """Writes ``path`` until the volume refuses another byte."""
    with open(path, "wb", buffering=0) as filler:
        try:
            while True:
                filler.write(b"\0" * MiB)
        except OSError:
            pass
        try:
            while True:
                filler.write(b"\0" * 4096)
        except OSError:
            pass


S3_BLOBS = pytest.mark.skipif(
    os.environ.get("HOLDALL_TEST_BLOBS") == "s3", reason="blobs in an S3 service live on no local volume to reserve"
)


@S3_BLOBS
def test_the_reserve_holds_against_chunked_uploads_and_every_dialect_says_507(volume: Path) -> None:
    server = Server(data=volume / "data").start()
    try:
        assert api(server, "CreateBucket", BucketName="full", Region="cn-bj")["RetCode"] == 0
        stored: list[int] = []
        refused = None
        for seed in range(20):  # 20 × 8 MiB cannot fit in 64 MiB
            reply = call(server, "PUT", "full", f"o{seed}", data=_chunks(8 * MiB, seed))
            if reply.status_code != 200:
                refused = (seed, reply)
                break
            stored.append(seed)
        assert refused is not None, "64 MiB took 160 MiB"
        seed, reply = refused
        assert reply.status_code == 507, reply.text
        assert reply.json()["RetCode"] == -15004 and "reserve" in reply.json()["ErrMsg"], reply.text
        assert 4 <= len(stored) < 8, stored
        assert call(server, "HEAD", "full", f"o{seed}").status_code == 404
        assert not list((volume / "data" / "blobs" / "tmp").iterdir()), "a refused upload left its file"
        free = os.statvfs(volume).f_bavail * os.statvfs(volume).f_frsize
        assert free >= 3 * MiB, f"the default reserve (5 % of 64 MiB) was not kept: {free} bytes free"

        s3 = requests.put(s3_url(server, "PUT", "full", "s3"), data=_body(8 * MiB, 99))
        assert s3.status_code == 507 and "<Code>InsufficientStorage</Code>" in s3.text, s3.text
        oss = requests.put(oss_url(server, "PUT", "full", "oss"), data=_body(8 * MiB, 98))
        assert oss.status_code == 507 and "<Code>InsufficientStorage</Code>" in oss.text, oss.text
        volc = requests.put(tos_url(server, "PUT", "full", "tos"), data=_body(8 * MiB, 97))
        assert volc.status_code == 507 and volc.json()["Code"] == "InsufficientStorage", volc.text
        suffix = f".localhost:{server.port}"
        manager = filemanager.FileManager(ACCESS_KEY, SECRET_KEY, upload_suffix=suffix, download_suffix=suffix)
        ret, resp = manager.putstream("full", "sdk", io.BytesIO(_body(8 * MiB, 7)))
        assert ret is None and resp.status_code == 507 and resp.ret_code == -15004, (resp.status_code, resp.error)

        for seed in stored:
            got = call(server, "GET", "full", f"o{seed}")
            assert got.status_code == 200 and got.content == _body(8 * MiB, seed), seed
        assert call(server, "DELETE", "full", f"o{stored[0]}").status_code in (200, 204)
    finally:
        server.stop()


@S3_BLOBS
def test_a_volume_filled_by_others_answers_507_and_recovers(volume: Path) -> None:
    server = Server(data=volume / "data", extra=["--min-free", "0"]).start()
    try:
        assert api(server, "CreateBucket", BucketName="keep", Region="cn-bj")["RetCode"] == 0
        assert call(server, "PUT", "keep", "big", data=_body(4 * MiB, 1)).status_code == 200
        assert call(server, "PUT", "keep", "small", data=b"kept").status_code == 200
        filler = volume / "filler"
        _fill(filler)

        large = call(server, "PUT", "keep", "large", data=_chunks(2 * MiB, 2))
        assert large.status_code == 507, large.text
        for attempt in range(20):
            small = call(server, "PUT", "keep", f"inline{attempt}", data=b"i" * 20000)
            assert small.status_code in (200, 507), small.text
        created = requests.get(server.url + "/", params=_signed_api("CreateBucket", BucketName="more", Region="cn-bj"))
        assert created.status_code in (200, 507), created.text
        assert created.json()["RetCode"] in (0, 15004), created.text
        deleted = call(server, "DELETE", "keep", "small")
        assert deleted.status_code in (200, 204, 507), deleted.text
        assert call(server, "GET", "keep", "big").content == _body(4 * MiB, 1)

        filler.unlink()
        assert call(server, "PUT", "keep", "after", data=_chunks(2 * MiB, 3)).status_code == 200
        assert call(server, "GET", "keep", "after").content == _body(2 * MiB, 3)
        assert api(server, "CreateBucket", BucketName="later", Region="cn-bj")["RetCode"] == 0
    finally:
        server.stop()
    restarted = Server(data=volume / "data").start()
    try:
        assert call(restarted, "GET", "keep", "big").content == _body(4 * MiB, 1)
        assert call(restarted, "GET", "keep", "after").content == _body(2 * MiB, 3)
    finally:
        restarted.stop()


def _signed_api(action: str, **params: str) -> dict[str, str]:
    query = {"Action": action, "PublicKey": ACCESS_KEY, **params}
    query["Signature"] = Auth(ACCESS_KEY, SECRET_KEY).bucket_signature(query)
    return query


def test_s3_writers_spool_within_the_reserve_of_their_volume(
    volume: Path, tmp_path: Path, s3_service: S3Server
) -> None:
    """With blobs in an S3 service, a writer spools the part it fills (up to 8 MiB) to TMPDIR: that
    volume keeps its reserve, and a body larger than the volume still goes through."""
    spool = volume / "spool"
    spool.mkdir()
    extra = ["--blobs", s3_service.new_location(), "--min-free", "8388608"]
    server = Server(data=tmp_path / "data", extra=extra, env={**s3_service.environment(), "TMPDIR": str(spool)}).start()
    try:
        assert api(server, "CreateBucket", BucketName="spooled", Region="cn-bj")["RetCode"] == 0
        huge = call(server, "PUT", "spooled", "huge", data=_chunks(96 * MiB, 5))
        assert huge.status_code == 200, huge.text
        assert (
            hashlib.sha256(call(server, "GET", "spooled", "huge").content).digest()
            == hashlib.sha256(_body(96 * MiB, 5)).digest()
        )
        assert not list(spool.iterdir()), "a writer left its spool file"

        filler = volume / "filler"
        _fill(filler)
        refused = call(server, "PUT", "spooled", "large", data=_chunks(2 * MiB, 6))
        assert refused.status_code == 507 and "reserve" in refused.json()["ErrMsg"], refused.text
        assert call(server, "HEAD", "spooled", "large").status_code == 404
        assert len(call(server, "GET", "spooled", "huge").content) == 96 * MiB
        filler.unlink()
        assert call(server, "PUT", "spooled", "large", data=_chunks(2 * MiB, 6)).status_code == 200
        assert call(server, "GET", "spooled", "large").content == _body(2 * MiB, 6)
    finally:
        server.stop()

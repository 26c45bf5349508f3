"""Two more real S3 clients on holdall's S3 API: rclone (the Debian package, driven as a subprocess with a
remote made of environment variables) and minio-py, each from a fresh bucket."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, cast

import pytest
from botocore.exceptions import ClientError
from minio import Minio
from minio.commonconfig import CopySource
from minio.deleteobjects import DeleteObject
from minio.error import S3Error

from tests.e2e.server import ACCESS_KEY, SECRET_KEY, Server
from tests.e2e.test_s3_api import s3_client

MiB = 1024 * 1024


def multipart_etag(data: bytes, part_size: int) -> str:
    """The ETag S3 gives an object uploaded in parts of ``part_size``: the MD5 of the parts' MD5s, "-N"."""
    parts = [data[start : start + part_size] for start in range(0, len(data), part_size)]
    digest = hashlib.md5(b"".join(hashlib.md5(part).digest() for part in parts)).hexdigest()
    return f'"{digest}-{len(parts)}"'


# rclone ---------------------------------------------------------------------------------------------------

Rclone = Callable[..., subprocess.CompletedProcess[bytes]]


@pytest.fixture
def rclone(server: Server, tmp_path: Path) -> Rclone:
    """Runs ``rclone`` against the remote ``holdall:``, set up from environment variables only."""
    config = tmp_path / "rclone.conf"
    config.write_text("")  # an empty config of its own: no user config is read
    # No RCLONE_* of the caller's, and no AWS_*: the AWS SDK in rclone fails on AWS_CA_BUNDLE with its transport
    env = {name: value for name, value in os.environ.items() if not name.startswith(("RCLONE_", "AWS_"))}
    env.update({
        "HOME": str(tmp_path),
        "RCLONE_CONFIG_HOLDALL_TYPE": "s3",
        "RCLONE_CONFIG_HOLDALL_PROVIDER": "Other",
        "RCLONE_CONFIG_HOLDALL_ENDPOINT": server.url,
        "RCLONE_CONFIG_HOLDALL_ACCESS_KEY_ID": ACCESS_KEY,
        "RCLONE_CONFIG_HOLDALL_SECRET_ACCESS_KEY": SECRET_KEY,
        "RCLONE_CONFIG_HOLDALL_REGION": "cn-bj",
        "RCLONE_CONFIG_HOLDALL_FORCE_PATH_STYLE": "true",
    })  # fmt: skip

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        command = ["rclone", "--config", str(config), "--retries", "1", "--low-level-retries", "1", *args]
        done = subprocess.run(command, env=env, capture_output=True, timeout=180)
        if check:
            assert done.returncode == 0, (args, done.returncode, done.stderr.decode(errors="replace"))
        return done

    return run


def lsf(rclone: Rclone, remote: str, *flags: str) -> list[str]:
    return sorted(rclone("lsf", "-R", *flags, remote).stdout.decode().splitlines())


def write_tree(root: Path, files: dict[str, bytes]) -> None:
    for relative, data in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(data)


def read_tree(root: Path) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in root.rglob("*") if path.is_file()}


def test_rclone_copy_check_sync_and_purge(rclone: Rclone, server: Server, tmp_path: Path) -> None:
    name = f"rc-{uuid.uuid4().hex[:12]}"
    remote = f"holdall:{name}"
    s3 = s3_client(server)
    big = os.urandom(12 * MiB)
    files = {
        "big.bin": big,
        "small.txt": b"small file\n",
        "empty": b"",
        "with space.txt": b"a name with a space",
        "ünïcødé-名前.txt": "a non-ASCII name, été 名前".encode(),
        "dir/a.txt": b"a" * 1000,
        "dir/nested/deep.bin": os.urandom(70_000),
    }
    local = tmp_path / "local"
    write_tree(local, files)
    parts = ("--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M")

    rclone("mkdir", remote)
    assert s3.head_bucket(Bucket=name)["ResponseMetadata"]["HTTPStatusCode"] == 200
    rclone("copy", str(local), remote, *parts)
    assert lsf(rclone, remote, "--files-only") == sorted(files)
    assert lsf(rclone, remote) == sorted([*files, "dir/", "dir/nested/"])
    head = s3.head_object(Bucket=name, Key="big.bin")
    assert head["ContentLength"] == len(big) and head["ETag"] == multipart_etag(big, 5 * MiB), head["ETag"]
    for key, data in files.items():
        got = s3.get_object(Bucket=name, Key=key)
        assert got["Body"].read() == data, key
    assert rclone("cat", f"{remote}/big.bin").stdout == big

    checked = rclone("check", str(local), remote, check=False)
    report = checked.stderr.decode(errors="replace")
    assert checked.returncode == 0, report
    assert "0 differences found" in report and "could not be checked" not in report, report  # MD5s of all, big too
    (local / "dir" / "a.txt").write_bytes(b"b" * 1000)  # same size: only the hash tells
    changed = rclone("check", str(local), remote, check=False)
    assert changed.returncode != 0 and "1 differences found" in changed.stderr.decode(), changed.stderr.decode()

    (local / "small.txt").unlink()
    (local / "ünïcødé-名前.txt").unlink()
    (local / "dir" / "nested" / "deep.bin").write_bytes(b"rewritten")
    (local / "added.txt").write_bytes(b"new after the copy")
    rclone("sync", str(local), remote, *parts)
    now = read_tree(local)
    assert lsf(rclone, remote, "--files-only") == sorted(now)
    for key, data in now.items():
        assert s3.get_object(Bucket=name, Key=key)["Body"].read() == data, key
    assert rclone("cat", f"{remote}/dir/a.txt").stdout == b"b" * 1000
    assert rclone("check", str(local), remote, check=False).returncode == 0

    down = tmp_path / "down"
    rclone("copy", remote, str(down))
    assert read_tree(down) == now

    rclone("purge", remote)
    with pytest.raises(ClientError) as gone:
        s3.head_bucket(Bucket=name)
    assert gone.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    empty = f"{remote}-empty"
    rclone("mkdir", empty)
    assert f"{name}-empty/" in rclone("lsf", "holdall:").stdout.decode().splitlines()
    rclone("rmdir", empty)
    assert f"{name}-empty/" not in rclone("lsf", "holdall:").stdout.decode().splitlines()


# minio-py -------------------------------------------------------------------------------------------------


@pytest.fixture
def minio(server: Server) -> Minio:
    return Minio(f"127.0.0.1:{server.port}", access_key=ACCESS_KEY, secret_key=SECRET_KEY, secure=False, region="cn-bj")


@pytest.fixture
def bucket(minio: Minio) -> str:
    name = f"mn-{uuid.uuid4().hex[:12]}"
    assert not minio.bucket_exists(name)
    minio.make_bucket(name)
    assert minio.bucket_exists(name)
    return name


class _Stream(io.RawIOBase):
    """A body of known bytes that can only be read forward, as a socket or a pipe."""

    def __init__(self, data: bytes) -> None:
        self.inner = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        return self.inner.read(size)

    def readinto(self, buffer: Any) -> int:
        data = self.inner.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def test_minio_objects_round_trip(minio: Minio, bucket: str, server: Server, tmp_path: Path) -> None:
    small = b"hello from minio-py"
    put = minio.put_object(bucket, "docs/small.txt", io.BytesIO(small), len(small), content_type="text/plain")
    assert put.etag == hashlib.md5(small).hexdigest()
    assert minio.get_object(bucket, "docs/small.txt").read() == small

    big = os.urandom(12 * MiB)
    streamed = minio.put_object(bucket, "docs/big.bin", cast(BinaryIO, _Stream(big)), -1, part_size=5 * MiB)
    assert f'"{streamed.etag}"' == multipart_etag(big, 5 * MiB)
    s3 = s3_client(server)
    assert s3.get_object(Bucket=bucket, Key="docs/big.bin")["Body"].read() == big
    assert not s3.list_multipart_uploads(Bucket=bucket).get("Uploads")

    source = tmp_path / "up.bin"
    source.write_bytes(os.urandom(300_000))
    minio.fput_object(bucket, "files/up.bin", str(source), content_type="application/x-test")
    minio.fget_object(bucket, "files/up.bin", str(tmp_path / "down.bin"))
    assert (tmp_path / "down.bin").read_bytes() == source.read_bytes()

    stat = minio.stat_object(bucket, "files/up.bin")
    assert stat.size == 300_000 and stat.etag == hashlib.md5(source.read_bytes()).hexdigest()
    assert stat.content_type == "application/x-test" and stat.last_modified is not None
    meta: dict[str, str | list[str] | tuple[str]] = {"Owner": "ana", "trip": "lisbon"}
    minio.put_object(bucket, "meta", io.BytesIO(b"m"), 1, metadata=meta)
    described = minio.stat_object(bucket, "meta").metadata
    assert described is not None
    assert described.get("x-amz-meta-owner") == "ana" and described.get("x-amz-meta-trip") == "lisbon", described

    with pytest.raises(S3Error) as missing:
        minio.stat_object(bucket, "nothing")
    assert missing.value.code == "NoSuchKey" and missing.value.response.status == 404


def test_minio_listings_ranges_copies_and_deletes(minio: Minio, bucket: str, server: Server) -> None:
    keys = ["a/1", "a/2", "a/sub/3", "b/4", "top", "sp ace+plus", "ünï/名"]
    for key in keys:
        minio.put_object(bucket, key, io.BytesIO(key.encode()), len(key.encode()))

    top = sorted((item.object_name, item.is_dir) for item in minio.list_objects(bucket))  # objects, then prefixes
    assert top == [("a/", True), ("b/", True), ("sp ace+plus", False), ("top", False), ("ünï/", True)]
    assert sorted(item.object_name for item in minio.list_objects(bucket, prefix="a/")) == ["a/1", "a/2", "a/sub/"]
    every = list(minio.list_objects(bucket, recursive=True))
    assert [item.object_name for item in every] == sorted(keys)
    assert all(item.etag == hashlib.md5(item.object_name.encode()).hexdigest() for item in every)
    assert [item.size for item in every] == [len(key.encode()) for key in sorted(keys)]
    assert [item.object_name for item in minio.list_objects(bucket, prefix="a/", recursive=True)] == [
        "a/1", "a/2", "a/sub/3",
    ]  # fmt: skip
    assert [item.object_name for item in minio.list_objects(bucket, start_after="b/4", recursive=True)] == [
        "sp ace+plus", "top", "ünï/名",
    ]  # fmt: skip

    body = os.urandom(100_000)
    minio.put_object(bucket, "ranged", io.BytesIO(body), len(body))
    part = minio.get_object(bucket, "ranged", offset=1000, length=500)
    assert part.status == 206 and part.read() == body[1000:1500]
    assert part.headers["Content-Range"] == f"bytes 1000-1499/{len(body)}"
    assert minio.get_object(bucket, "ranged", offset=99_000).read() == body[99_000:]

    copied = minio.copy_object(bucket, "copies/ranged", CopySource(bucket, "ranged"))
    assert copied.etag == hashlib.md5(body).hexdigest()
    assert minio.get_object(bucket, "copies/ranged").read() == body
    other = f"{bucket}-to"
    minio.make_bucket(other)
    minio.copy_object(other, "in-other", CopySource(bucket, "sp ace+plus"))
    assert minio.get_object(other, "in-other").read() == b"sp ace+plus"

    everything = [item.object_name for item in minio.list_objects(bucket, recursive=True)]
    errors = list(minio.remove_objects(bucket, [DeleteObject(key) for key in [*everything, "never-was"]]))
    assert errors == []
    assert list(minio.list_objects(bucket, recursive=True)) == []
    minio.remove_bucket(bucket)
    assert not minio.bucket_exists(bucket)
    with pytest.raises(S3Error) as full:
        minio.remove_bucket(other)
    assert full.value.code == "BucketNotEmpty"
    minio.remove_object(other, "in-other")
    minio.remove_bucket(other)
    assert not minio.bucket_exists(other)

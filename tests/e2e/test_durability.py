"""Crashes and shutdowns: what was acknowledged survives, nothing partial ever shows."""

from __future__ import annotations

import hashlib
import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import ufile.bucketmanager as ufile_bucketmanager
from ufile.bucketmanager import BucketManager
from ufile.util import file_etag

from tests.e2e.helpers import signed_headers
from tests.e2e.server import ACCESS_KEY, SECRET_KEY, Server

KiB = 1024


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(data=tmp_path / "data", extra=["--workers", "2"]).start()
    yield srv
    srv.stop(signal.SIGKILL)


def make_bucket(server: Server) -> str:
    saved = ufile_bucketmanager.UCLOUD_API_URL
    ufile_bucketmanager.UCLOUD_API_URL = server.url
    try:
        name = f"d-{uuid.uuid4().hex[:12]}"
        ret, _ = BucketManager(ACCESS_KEY, SECRET_KEY).createbucket(name, "cn-bj", "private")
        assert ret["RetCode"] == 0, ret
        return name
    finally:
        ufile_bucketmanager.UCLOUD_API_URL = saved


def slow_body(data: bytes, pieces: int, seconds: float) -> Iterator[bytes]:
    """``data`` in ``pieces`` pieces spread over about ``seconds``."""
    step = max(1, len(data) // pieces)
    for offset in range(0, len(data), step):
        time.sleep(seconds / pieces)
        yield data[offset : offset + step]


def test_sigkill_during_50_concurrent_uploads(own_server: Server) -> None:
    server = own_server
    bucket = make_bucket(server)
    bodies = {f"crash/{i:02d}": os.urandom((1 + i * 37 % 600) * KiB) for i in range(50)}
    acknowledged: dict[str, str] = {}
    lock = threading.Lock()

    def upload(key: str, data: bytes, seconds: float) -> None:
        headers = signed_headers("PUT", bucket, key, {"Content-Type": "application/octet-stream"})
        try:
            response = requests.put(
                f"{server.bucket_url(bucket)}/{key}", headers=headers, data=slow_body(data, 10, seconds)
            )
        except requests.RequestException:
            return
        if response.status_code == 200:
            with lock:
                acknowledged[key] = response.headers["ETag"]

    threads = [
        threading.Thread(target=upload, args=(key, data, n * 0.03), daemon=True)
        for n, (key, data) in enumerate(bodies.items())
    ]
    for thread in threads:
        thread.start()
    time.sleep(0.75)
    assert server.process is not None
    for pid in [*_children(server.process.pid), server.process.pid]:
        os.kill(pid, signal.SIGKILL)
    server.process.wait()
    for thread in threads:
        thread.join(30)
    with lock:
        acked = dict(acknowledged)
    assert 0 < len(acked) < len(bodies), f"the kill should land mid-way: {len(acked)} acknowledged"

    server.start()
    visible = 0
    for key, data in bodies.items():
        response = requests.get(f"{server.bucket_url(bucket)}/{key}", headers=signed_headers("GET", bucket, key))
        if key in acked:
            assert response.status_code == 200, (key, response.text)
            assert hashlib.sha256(response.content).digest() == hashlib.sha256(data).digest(), key
            assert response.headers["ETag"] == acked[key]
        elif response.status_code == 200:
            # committed in the instant between the commit and the reply: must be whole
            assert response.content == data, f"{key} is visible but not whole"
            visible += 1
        else:
            assert response.status_code == 404, response.text
    assert visible <= 4, f"{visible} unacknowledged uploads are visible"


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == pid:
            out.append(int(entry.name))
    return out


def test_sigterm_lets_inflight_upload_finish(own_server: Server, tmp_path: Path) -> None:
    server = own_server
    bucket = make_bucket(server)
    data = os.urandom(2 * 1024 * KiB)
    result: dict[str, requests.Response] = {}

    def upload() -> None:
        headers = signed_headers("PUT", bucket, "graceful", {"Content-Type": "application/octet-stream"})
        result["r"] = requests.put(
            f"{server.bucket_url(bucket)}/graceful", headers=headers, data=slow_body(data, 20, 1.0)
        )

    thread = threading.Thread(target=upload)
    thread.start()
    time.sleep(0.15)
    assert server.stop(signal.SIGTERM) == 0
    thread.join(30)
    assert result["r"].status_code == 200, result["r"].text
    server.start()
    got = requests.get(f"{server.bucket_url(bucket)}/graceful", headers=signed_headers("GET", bucket, "graceful"))
    assert got.content == data
    src = tmp_path / "g"
    src.write_bytes(data)
    assert got.headers["ETag"] == file_etag(str(src))


def test_new_bucket_cannot_be_deleted_for_20_minutes(own_server: Server) -> None:
    server = own_server
    bucket = make_bucket(server)
    saved = ufile_bucketmanager.UCLOUD_API_URL
    ufile_bucketmanager.UCLOUD_API_URL = server.url
    try:
        manager = BucketManager(ACCESS_KEY, SECRET_KEY)
        ret, _ = manager.deletebucket(bucket)
        assert ret["RetCode"] == 15014, ret
        server.move_clock(20 * 60 + 1)
        ret, _ = manager.deletebucket(bucket)
        assert ret["RetCode"] == 0, ret
    finally:
        ufile_bucketmanager.UCLOUD_API_URL = saved

"""GET /healthz and /readyz: unauthenticated, on the service host, 503 with the reason when a store
cannot answer."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.e2e.helpers import api
from tests.e2e.server import Server
from tests.postgres import PostgresServer


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[Server]:
    server = Server(data=tmp_path / "data").start()
    yield server
    server.stop()


def test_alive_and_ready(server: Server) -> None:
    for path, status in (("/healthz", "ok"), ("/readyz", "ready")):
        reply = requests.get(server.url + path, timeout=10)
        assert reply.status_code == 200 and reply.json() == {"status": status}, reply.text
    assert requests.head(server.url + "/healthz", timeout=10).status_code == 200
    bucket_host = requests.get(f"http://healthz.localhost:{server.port}/readyz", timeout=10)
    assert bucket_host.status_code in (401, 403, 404) and "RetCode" in bucket_host.json()  # an object, not health


def test_health_names_are_no_bucket_names(server: Server) -> None:
    for name in ("healthz", "readyz", "metrics"):
        made = api(server, "CreateBucket", BucketName=name, Region="cn-bj")
        assert made["RetCode"] != 0 and "reserved" in made["Message"], made


@pytest.mark.skipif(os.environ.get("HOLDALL_TEST_BLOBS") == "s3", reason="the blob store here is an S3 service")
def test_not_ready_while_the_blob_directory_is_gone(own_server: Server) -> None:
    assert requests.get(own_server.url + "/readyz", timeout=10).status_code == 200  # a worker has made its folders
    spool = own_server.data / "blobs" / "tmp"
    moved = spool.with_name("tmp-away")
    spool.rename(moved)
    try:
        reply = requests.get(own_server.url + "/readyz", timeout=10)
        assert reply.status_code == 503, reply.text
        assert reply.json()["status"] == "unavailable" and "blob store" in reply.json()["problems"][0]
        assert requests.get(own_server.url + "/healthz", timeout=10).status_code == 200
    finally:
        moved.rename(spool)
    assert requests.get(own_server.url + "/readyz", timeout=10).status_code == 200


def test_not_ready_while_the_metadata_store_is_down(tmp_path: Path) -> None:
    database = PostgresServer().start()
    server = Server(data=tmp_path / "data", extra=["--meta", database.new_database()]).start()
    try:
        assert requests.get(server.url + "/readyz", timeout=10).status_code == 200
        database.halt()
        reply = requests.get(server.url + "/readyz", timeout=30)
        assert reply.status_code == 503, reply.text
        assert reply.json()["status"] == "unavailable" and "metadata store" in reply.json()["problems"][0]
        assert requests.get(server.url + "/healthz", timeout=10).status_code == 200  # alive all the same
        database.resume()
        deadline = time.monotonic() + 30
        while requests.get(server.url + "/readyz", timeout=30).status_code != 200:
            assert time.monotonic() < deadline, "not ready again 30 s after the database came back"
            time.sleep(0.2)
    finally:
        server.stop()
        database.stop()

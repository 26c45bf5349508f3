"""Two gateways over one PostgreSQL database and one blob directory: whatever one does, the other sees.

Write through one and read and list through the other; race multipart finishes and capped-bucket
writes across both; SIGKILL one in the middle of 50 uploads and keep serving from the other.
"""

from __future__ import annotations

import signal
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.e2e.helpers import api, call
from tests.e2e.server import Server
from tests.postgres import PostgresServer

Gateways = tuple[Server, Server]


@pytest.fixture
def gateways(postgres: PostgresServer, tmp_path: Path) -> Iterator[Gateways]:
    meta = ["--meta", postgres.new_database(), "--sweep-interval", "1", "--bucket-delete-delay", "0"]
    first = Server(tmp_path / "data", extra=meta).start()
    second = Server(tmp_path / "data", extra=meta).start()
    yield first, second
    for gateway in (first, second):
        if gateway.process is not None and gateway.process.poll() is None:
            gateway.stop()


def bucket(gateway: Server, **caps: int) -> str:
    name = f"gw-{uuid.uuid4().hex[:10]}"
    assert api(gateway, "CreateBucket", BucketName=name, Region="cn-bj")["RetCode"] == 0
    if caps:
        assert api(gateway, "UpdateBucketQuota", BucketName=name, **caps)["RetCode"] == 0
    return name


def test_what_one_gateway_writes_the_other_reads_and_lists(gateways: Gateways) -> None:
    one, two = gateways
    name = bucket(one)
    for index in range(5):
        assert call(one, "PUT", name, f"dir/k{index}", data=f"body {index}".encode()).status_code == 200
    assert call(two, "GET", name, "dir/k3").content == b"body 3"
    listing = call(two, "GET", name, "", query="list&prefix=dir/&limit=10").json()
    assert [item["FileName"] for item in listing["DataSet"]] == [f"dir/k{i}" for i in range(5)]
    assert call(two, "DELETE", name, "dir/k0").status_code == 204
    assert call(one, "GET", name, "dir/k0").status_code == 404
    assert api(two, "UpdateBucket", BucketName=name, Type="public")["RetCode"] == 0
    # the other gateway's cache follows the change feed (a NOTIFY), milliseconds later, not at once
    deadline = time.monotonic() + 5
    while requests.get(f"{one.bucket_url(name)}/dir/k1").content != b"body 1" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert requests.get(f"{one.bucket_url(name)}/dir/k1").content == b"body 1"


def test_capped_writes_racing_on_both_gateways_stop_at_the_cap(gateways: Gateways) -> None:
    one, two = gateways
    name = bucket(one, MaxObjects=10)

    def put(index: int) -> int:
        return call((one, two)[index % 2], "PUT", name, f"k{index:02d}", data=b"x").status_code

    with ThreadPoolExecutor(12) as pool:
        statuses = list(pool.map(put, range(30)))
    assert statuses.count(200) == 10 and set(statuses) == {200, 403}
    described = api(two, "DescribeBucket", BucketName=name)["DataSet"][0]
    assert described["ObjectCount"] == 10


def test_racing_multipart_finishes_make_one_object(gateways: Gateways) -> None:
    one, two = gateways
    name = bucket(one)
    started = call(one, "POST", name, "big", query="uploads", headers={"Content-Type": "text/plain"}).json()
    upload_id = started["UploadId"]
    part = b"p" * started["BlkSize"]
    etags = []
    for number in range(2):
        reply = call(
            (one, two)[number], "PUT", name, "big", query=f"uploadId={upload_id}&partNumber={number}", data=part
        )
        assert reply.status_code == 200, reply.text
        etags.append(reply.headers["ETag"])
    barrier = threading.Barrier(6)

    def finish(index: int) -> int:
        barrier.wait()
        query = f"uploadId={upload_id}"
        return call((one, two)[index % 2], "POST", name, "big", query=query, data=",".join(etags).encode()).status_code

    with ThreadPoolExecutor(6) as pool:
        statuses = list(pool.map(finish, range(6)))
    assert statuses.count(200) == 1 and set(statuses) <= {200, 404}, statuses
    assert call(two, "GET", name, "big").content == part * 2


def test_a_killed_gateway_loses_no_acknowledged_object(gateways: Gateways) -> None:
    one, two = gateways
    name = bucket(one)
    bodies = {f"obj{index:02d}": uuid.uuid4().bytes * (1000 + index * 997) for index in range(50)}
    acknowledged: set[str] = set()
    killed = threading.Event()

    def upload(key: str) -> None:
        if key == "obj25":
            assert one.process is not None
            one.process.send_signal(signal.SIGKILL)
            killed.set()
        try:
            if call(one, "PUT", name, key, data=bodies[key]).status_code == 200:
                acknowledged.add(key)
        except requests.ConnectionError:
            pass

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(upload, bodies))
    assert killed.is_set() and acknowledged, acknowledged
    assert len(acknowledged) < 50
    listing = call(two, "GET", name, "", query="list&limit=100").json()
    visible = {item["FileName"] for item in listing["DataSet"]}
    assert acknowledged <= visible
    for key in visible:
        assert call(two, "GET", name, key).content == bodies[key], key  # complete, or not there at all


def test_gateways_starting_together_on_a_fresh_database_all_come_up(postgres: PostgresServer, tmp_path: Path) -> None:
    meta = ["--meta", postgres.new_database()]
    servers = [Server(tmp_path / "data", extra=meta) for _ in range(3)]
    with ThreadPoolExecutor(3) as pool:
        started = list(pool.map(Server.start, servers))
    try:
        names = [bucket(gateway) for gateway in started]
        for gateway in started:
            listed = api(gateway, "DescribeBucket", Limit=100)["DataSet"]
            assert set(names) <= {item["BucketName"] for item in listed}
    finally:
        for gateway in started:
            gateway.stop()


def test_a_database_that_goes_away_is_a_503_then_service_resumes(tmp_path: Path) -> None:
    database = PostgresServer().start()
    try:
        gateway = Server(tmp_path / "data", extra=["--meta", database.new_database()]).start()
        try:
            name = bucket(gateway)
            assert call(gateway, "PUT", name, "k", data=b"before").status_code == 200
            database.halt()
            refused = call(gateway, "PUT", name, "k2", data=b"during")
            assert refused.status_code == 503, refused.text
            assert "Traceback" not in refused.text
            database.resume()
            for _ in range(50):
                reply = call(gateway, "GET", name, "k")
                if reply.status_code == 200:
                    break
                time.sleep(0.2)
            assert reply.content == b"before"
        finally:
            gateway.stop()
    finally:
        database.stop()

"""Quotas, prices, usage reports, bucket caps and projects (seed 004 §16–19, 24), on a server of their own
whose usage is flushed every 0.2 s and whose clock the storage test moves."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.e2e.helpers import api, create_account, holdall_cli, signed_headers
from tests.e2e.server import Server

GiB = 1024**3
FLUSHED = 1.0  # seconds: several usage flushes of every worker


@pytest.fixture(scope="module")
def qserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("quotas")
    srv = Server(
        data=root / "data",
        extra=["--bucket-delete-delay", "0", "--usage-flush-interval", "0.2", "--workers", "2"],
    ).start()
    yield srv
    srv.stop()


class Tenant:
    """A fresh account with one bucket, speaking path style to the quota server."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.name = f"q-{uuid.uuid4().hex[:8]}"
        self.keys = create_account(server.data, self.name)
        self.bucket = f"q-{uuid.uuid4().hex[:12]}"
        assert self.api("CreateBucket", BucketName=self.bucket, Region="cn-bj")["RetCode"] == 0

    def api(self, action: str, **params: object) -> Any:
        return api(self.server, action, keys=self.keys, **params)

    def request(
        self, method: str, key: str, data: bytes | None = None, bucket: str | None = None, query: str = ""
    ) -> requests.Response:
        bucket = bucket or self.bucket
        headers = signed_headers(method, bucket, key, {"Content-Type": "application/octet-stream"}, self.keys)
        url = f"{self.server.url}/{bucket}/{key}" + (f"?{query}" if query else "")
        return requests.request(method, url, data=data, headers=headers)

    def grant(self, **amounts: float) -> str:
        args = [f"--{name.replace('_', '-')}={value}" for name, value in amounts.items()]
        return holdall_cli(self.server.data, "quota", "grant", self.name, *args)


def refused_for(response: requests.Response, quota_type: str) -> None:
    assert response.status_code == 403, response.text
    body = response.json()
    assert body["RetCode"] == -15011 and quota_type in body["ErrMsg"], body


def test_no_quota_is_unlimited(qserver: Server) -> None:
    tenant = Tenant(qserver)
    assert tenant.api("GetUFileQuota", QuotaType="request-count") == {
        "RetCode": 0,
        "Action": "GetUFileQuotaResponse",
        "Unlimited": True,
    }
    info = tenant.api("GetUFileQuotaInfo", Region="cn-bj", **{"QuotaType.0": "storage-volume"})
    assert info["DataSet"] == [{"Region": "cn-bj", "Owe": 0, "Storage": {"Unlimited": True}}]
    for _ in range(30):
        assert tenant.request("PUT", "k", b"v").status_code == 200


def test_request_count_runs_out_and_comes_back(qserver: Server) -> None:
    tenant = Tenant(qserver)
    assert "request-count" in tenant.grant(request_count=0.001)  # 10 requests
    assert tenant.request("PUT", "k", b"hello").status_code == 200
    for _ in range(9):
        assert tenant.request("GET", "k").content == b"hello"
    time.sleep(FLUSHED)
    refused_for(tenant.request("GET", "k"), "request-count")
    refused_for(tenant.request("PUT", "k2", b"x"), "request-count")
    info = tenant.api(
        "GetUFileQuotaInfo", Region="cn-bj", **{"QuotaType.0": "request-count", "QuotaType.1": "storage-volume"}
    )
    (item,) = info["DataSet"]
    assert item["Owe"] == 1 and item["RequestCnt"]["Left"] <= 0 and item["Storage"] == {"Unlimited": True}
    assert tenant.api("GetUFileQuota", QuotaType="request-count")["LeftQuota"] <= 0

    bought = tenant.api("BuyUFileQuota", Region="cn-bj", RequestCount=1)
    assert bought["RetCode"] == 0 and bought["Price"] == 1
    assert tenant.request("GET", "k").status_code == 200
    left = tenant.api("GetUFileQuota", QuotaType="request-count")["LeftQuota"]
    assert 0.99 < left <= 1


def test_download_traffic_runs_out_and_comes_back(qserver: Server) -> None:
    tenant = Tenant(qserver)
    tenant.grant(download_traffic=0.001)  # about 1.07 MB
    body = b"d" * (2 * 1024 * 1024)
    assert tenant.request("PUT", "big", body).status_code == 200
    assert tenant.request("GET", "big").content == body  # allowed: the quota was not yet used up
    time.sleep(FLUSHED)
    refused_for(tenant.request("GET", "big"), "download-traffic")
    assert tenant.request("HEAD", "big").status_code == 200  # a HEAD downloads nothing
    assert tenant.request("PUT", "more", b"m").status_code == 200
    (item,) = tenant.api("GetUFileQuotaInfo", Region="cn-bj", **{"QuotaType.0": "download-traffic"})["DataSet"]
    assert item["Owe"] == 1
    assert item["DownloadFlow"]["Left"] == pytest.approx(0.001 - 2 / 1024, abs=1e-6)
    tenant.grant(download_traffic=1)
    assert tenant.request("GET", "big").content == body


def test_prices_and_parameter_errors(qserver: Server) -> None:
    tenant = Tenant(qserver)
    price = tenant.api("GetUFileQuotaPrice", Region="cn-inspur2", StorageVolume=200, DownloadTraffic=5, RequestCount=2)
    assert price == {"RetCode": 0, "Action": "GetUFileQuotaPriceResponse", "Price": 346}
    assert tenant.api("GetUFileQuotaPrice", Region="cn-bj", StorageVolume=150)["RetCode"] == 15017
    assert tenant.api("GetUFileQuotaPrice", Region="cn-bj", StorageVolume=30_000_100)["RetCode"] == 15018
    assert tenant.api("GetUFileQuotaPrice", Region="cn-bj", DownloadTraffic=60_001)["RetCode"] == 15018
    assert tenant.api("GetUFileQuotaPrice", Region="cn-bj", RequestCount=-1)["RetCode"] == 15018
    assert tenant.api("GetUFileQuotaPrice", Region="cn-bj", RequestCount="ten")["RetCode"] == 15017
    assert tenant.api("BuyUFileQuota", Region="cn-bj")["RetCode"] == 15002
    assert tenant.api("GetUFileQuota")["RetCode"] == 15002
    assert tenant.api("GetUFileQuota", QuotaType="disk")["RetCode"] == 15017
    assert tenant.api("GetUFileQuotaInfo", **{"QuotaType.0": "request-count"})["RetCode"] == 15002
    assert tenant.api("GetUFileQuotaInfo", Region="cn-bj")["RetCode"] == 15002
    now = int(time.time())
    assert tenant.api("GetUFileReport", Region="cn-bj", StartTime=now)["RetCode"] == 15002
    assert tenant.api("GetUFileReport", Region="cn-bj", StartTime=now, EndTime=now - 10)["RetCode"] == 15017
    year_apart = tenant.api("GetUFileReport", Region="cn-bj", StartTime=now - 366 * 86400, EndTime=now)
    assert year_apart["RetCode"] == 15018
    message = tenant.api("GetUFileReport", Region="cn-bj", StartTime=now, EndTime=now - 10)["Message"]
    assert message.startswith("参数不合法，请重新输入。")


def test_report_adds_up(qserver: Server) -> None:
    tenant = Tenant(qserver)
    start = int(time.time())
    body = b"r" * 100_000
    assert tenant.request("PUT", "obj", body).status_code == 200
    for _ in range(3):
        assert tenant.request("GET", "obj").content == body
    assert tenant.request("HEAD", "obj").status_code == 200
    assert tenant.request("GET", "").status_code == 200  # a file list
    assert tenant.request("GET", "missing").status_code == 404
    time.sleep(FLUSHED + 0.5)  # storage accrues once a second
    report = tenant.api("GetUFileReport", Region="cn-bj", StartTime=start - 86400, EndTime=int(time.time()))
    rows = report["DataSet"]
    assert [row["Time"] for row in rows] == [(start - 86400) // 86400 * 86400 + day * 86400 for day in range(len(rows))]
    assert len(rows) in (2, 3)
    assert sum(row["RequestCount"] for row in rows) == pytest.approx(7 / 10_000)
    assert sum(row["DownloadTraffic"] for row in rows) == pytest.approx(300_000 / GiB)
    stored = sum(row["StorageVolume"] for row in rows)
    assert 0 < stored < 100_000 * 60 / (GiB * 86400)
    other = Tenant(qserver)
    empty = other.api("GetUFileReport", Region="cn-bj", StartTime=start - 10, EndTime=start + 10)["DataSet"]
    assert all(row["RequestCount"] == row["DownloadTraffic"] == 0 for row in empty)


def test_two_processes_racing_for_a_capped_bucket(qserver: Server) -> None:
    tenant = Tenant(qserver)
    capped = tenant.api("UpdateBucketQuota", BucketName=tenant.bucket, MaxObjects=20)
    assert capped["RetCode"] == 0 and capped["MaxObjects"] == 20
    bytes_bucket = f"q-{uuid.uuid4().hex[:12]}"
    assert tenant.api("CreateBucket", BucketName=bytes_bucket)["RetCode"] == 0
    holdall_cli(qserver.data, "bucket", "limit", bytes_bucket, "--max-bytes", "50000")

    def race(bucket: str, count: int, size: int) -> int:
        racers = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.e2e.fill_bucket",
                    qserver.url,
                    bucket,
                    f"p{n}-",
                    str(count),
                    str(size),
                    *tenant.keys,
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
            for n in range(2)
        ]
        accepted = 0
        for racer in racers:
            out, _ = racer.communicate(timeout=120)
            assert racer.returncode == 0
            accepted += int(out)
        return accepted

    assert race(tenant.bucket, 30, 10) == 20
    assert race(bytes_bucket, 60, 1000) == 50
    described = {
        item["BucketName"]: item for item in tenant.api("DescribeBucket", Limit=10)["DataSet"]
    }  # fmt: skip
    assert described[tenant.bucket]["ObjectCount"] == 20 and described[tenant.bucket]["MaxObjects"] == 20
    assert described[bytes_bucket]["UsedBytes"] == 50_000 and described[bytes_bucket]["MaxBytes"] == 50_000
    listed = tenant.request("GET", "", query="limit=100").json()["DataSet"]
    assert len(listed) == 20
    # deleting makes room again; overwriting with something larger is refused
    listing = tenant.request("GET", "", bucket=bytes_bucket, query="limit=100").json()["DataSet"]
    keys = [item["FileName"] for item in listing]
    assert len(keys) == 50
    assert tenant.request("DELETE", keys[0], bucket=bytes_bucket).status_code == 204
    assert tenant.request("PUT", "again", b"y" * 1000, bucket=bytes_bucket).status_code == 200
    refused_for(tenant.request("PUT", keys[1], b"y" * 1001, bucket=bytes_bucket), "capped at 50000 bytes")
    assert tenant.api("UpdateBucketQuota", BucketName=tenant.bucket)["RetCode"] == 15002
    assert tenant.api("UpdateBucketQuota", BucketName=tenant.bucket, MaxBytes=-1)["RetCode"] == 15018


def test_projects(qserver: Server) -> None:
    tenant = Tenant(qserver)
    out = holdall_cli(qserver.data, "project", "create", tenant.name, "media")
    project_id = out.split()[1]
    assert project_id.startswith("org-")
    assert project_id in holdall_cli(qserver.data, "project", "list", tenant.name)
    in_project = f"q-{uuid.uuid4().hex[:12]}"
    assert tenant.api("CreateBucket", BucketName=in_project, ProjectId=project_id)["RetCode"] == 0
    listed = tenant.api("DescribeBucket", ProjectId=project_id)["DataSet"]
    assert [item["BucketName"] for item in listed] == [in_project]
    default = tenant.api("DescribeBucket", ProjectId="default")["DataSet"]
    assert [item["BucketName"] for item in default] == [tenant.bucket]
    assert tenant.api("CreateBucket", BucketName=f"q-{uuid.uuid4().hex[:12]}", ProjectId="org-nope")["RetCode"] == 15017
    stranger = Tenant(qserver)
    assert stranger.api("DescribeBucket", ProjectId=project_id)["RetCode"] == 15017


def test_storage_volume_accrues_and_runs_out(qserver: Server) -> None:
    """Runs last in this module: it moves the server's clock two days on."""
    tenant = Tenant(qserver)
    tenant.grant(storage_volume=0.001)
    size = 1024 * 1024
    assert tenant.request("PUT", "kept", b"s" * size).status_code == 200
    start = int(time.time())
    time.sleep(FLUSHED)
    try:
        qserver.move_clock(2 * 86400)
        time.sleep(FLUSHED)
        refused_for(tenant.request("PUT", "more", b"x"), "storage-volume")
        assert tenant.request("GET", "kept").status_code == 200
        (item,) = tenant.api("GetUFileQuotaInfo", Region="cn-bj", **{"QuotaType.0": "storage-volume"})["DataSet"]
        two_days = 2 * size / GiB
        assert item["Owe"] == 1 and item["Storage"]["Left"] == pytest.approx(0.001 - two_days, abs=1e-5)
        rows = tenant.api(
            "GetUFileReport", Region="cn-bj", StartTime=start - 10, EndTime=start + 3 * 86400
        )["DataSet"]  # fmt: skip
        assert len(rows) in (4, 5)
        assert sum(row["StorageVolume"] for row in rows) == pytest.approx(two_days, rel=0.01)
        tenant.grant(storage_volume=100)
        assert tenant.request("PUT", "more", b"x").status_code == 200
    finally:
        qserver.move_clock(0)


def test_quota_cli(qserver: Server) -> None:
    tenant = Tenant(qserver)
    assert "no quota set" in holdall_cli(qserver.data, "quota", "show", tenant.name)
    shown = tenant.grant(storage_volume=100, request_count=2)
    assert "storage-volume\t100 GB·day left" in shown and "request-count\t2 ×10,000 requests left" in shown
    assert tenant.api("GetUFileQuota", QuotaType="storage-volume")["LeftQuota"] == pytest.approx(100, abs=0.01)


def test_bucket_and_region_parameter_errors(qserver: Server) -> None:
    tenant = Tenant(qserver)
    name = f"q-{uuid.uuid4().hex[:12]}"
    assert tenant.api("CreateBucket", BucketName=name, Type="secret")["RetCode"] == 15003
    assert tenant.api("CreateBucket", BucketName=name, Region="CN BJ!")["RetCode"] == 15017
    assert tenant.api("CreateBucket", BucketName="A_B")["RetCode"] == 15001
    assert tenant.api("CreateBucket", BucketName=tenant.bucket)["RetCode"] == 15000
    assert tenant.api("UpdateBucket", BucketName=tenant.bucket, Type="open")["RetCode"] == 15003
    assert tenant.api("UpdateBucket", BucketName=name, Type="public")["RetCode"] == 15010
    assert tenant.api("DescribeBucket", Limit=0)["RetCode"] == 15018
    assert tenant.api("DescribeBucket", Offset="x")["RetCode"] == 15017
    assert tenant.api("GetUFileQuotaInfo", Region="cn bj", **{"QuotaType.0": "request-count"})["RetCode"] == 15017

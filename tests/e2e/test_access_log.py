"""--access-log: one JSON line per request, for successes, refusals and errors alike."""

from __future__ import annotations

import json
import time
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from botocore.exceptions import ClientError

from tests.e2e.helpers import api, call
from tests.e2e.server import Server
from tests.e2e.test_s3_api import s3_client


def test_a_line_per_request(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    server = Server(data=tmp_path / "data", extra=["--access-log", str(log), "--workers", "2"]).start()
    try:
        assert api(server, "CreateBucket", BucketName="logged", Region="cn-bj")["RetCode"] == 0
        assert call(server, "PUT", "logged", "a.txt", data=b"12345").status_code == 200
        odd = 'odd "key"\\ \u00e9\t'
        assert call(server, "PUT", "logged", quote(odd), sign_key=odd, data=b"x").status_code == 200
        refused = requests.get(f"{server.url}/logged/a.txt", timeout=10)  # unsigned, private: 401/403
        with pytest.raises(ClientError):
            s3_client(server).get_object(Bucket="logged", Key="none")
        s3_client(server).get_object(Bucket="logged", Key="a.txt")["Body"].read()
    finally:
        server.stop()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and log.read_text().count("\n") < 6:
        time.sleep(0.1)
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    by_key = {(line["operation"], line["status"]): line for line in lines}
    put = next(line for line in lines if line["operation"] == "PutFile" and line["key"] == "a.txt")
    assert put["bucket"] == "logged" and put["key"] == "a.txt" and put["bytes_in"] == 5 and put["account"]
    assert put["dialect"] == "ufile" and put["method"] == "PUT" and put["duration_ms"] >= 0
    refusal = next(line for line in lines if line["status"] == refused.status_code and line["key"] == "a.txt")
    assert refusal["account"] == "" and refusal["bytes_out"] > 0
    assert by_key[("GetObject", 404)]["dialect"] == "s3v4"
    got = by_key[("GetObject", 200)]
    assert got["bytes_out"] == 5 and got["client"] == "127.0.0.1"
    assert len({line["session"] for line in lines}) == len(lines)
    assert any(line["key"] == 'odd "key"\\ \u00e9\t' for line in lines)  # escaped, and read back whole
    assert set(put) == {
        "time", "session", "client", "method", "account", "key_id", "operation", "dialect", "bucket", "key",
        "status", "bytes_in", "bytes_out", "duration_ms",
    }  # fmt: skip

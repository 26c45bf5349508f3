"""--access-log: one JSON line per request, for successes, refusals and errors alike."""

from __future__ import annotations

import json
import os
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


@pytest.mark.skipif(os.environ.get("HOLDALL_TEST_BLOBS") == "s3", reason="the blob store here is an S3 service")
def test_an_unexpected_error_is_logged_with_its_session(tmp_path: Path) -> None:
    """A blob lost from the disk under a stored object: a 500 in the client's dialect naming a session,
    the same session on the access-log line and on the traceback in the error log."""
    log = tmp_path / "access.log"
    server = Server(data=tmp_path / "data", extra=["--access-log", str(log)]).start()
    try:
        s3 = s3_client(server)
        s3.create_bucket(Bucket="lossy")
        s3.put_object(Bucket="lossy", Key="big", Body=b"x" * 100_000)  # past the inline limit: a file
        for blob in (server.data / "blobs").glob("[0-9a-f][0-9a-f]/*"):
            blob.unlink()
        with pytest.raises(ClientError) as failed:
            s3.get_object(Bucket="lossy", Key="big")
        error = failed.value.response
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 500 and error["Error"]["Code"] == "InternalError"
        session = error["ResponseMetadata"]["HTTPHeaders"]["x-sessionid"]
        assert session in error["Error"]["Message"]
        ufile_reply = call(server, "GET", "lossy", "big")
        assert ufile_reply.status_code == 500 and ufile_reply.json()["RetCode"] == -1
    finally:
        server.stop()
    line = next(json.loads(text) for text in log.read_text().splitlines() if json.loads(text)["session"] == session)
    assert (line["status"], line["operation"], line["key"]) == (500, "GetObject", "big")
    assert server.log_path is not None
    errors = server.log_path.read_text()
    assert f"unexpected error, session {session}" in errors
    assert "Traceback (most recent call last)" in errors.split(f"session {session}", 1)[1]

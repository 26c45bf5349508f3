"""The temp and resource buckets belong to the system: no account can squat them, and holdall's
own form-signing token is out of every user's reach."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests
from ufile.auth import Auth

from tests.e2e.helpers import api, create_account
from tests.e2e.server import ACCESS_KEY, SECRET_KEY, Server, meta_args

SYSTEM = ("holdall-temp", "holdall-resources")


def test_a_fresh_server_owns_its_system_buckets(server: Server) -> None:
    for name in SYSTEM:
        found = api(server, "DescribeBucket", BucketName=name)
        assert found["RetCode"] == 0 and found["DataSet"][0]["BucketName"] == name, found


@pytest.mark.parametrize("name", SYSTEM)
def test_no_account_can_create_a_system_bucket(server: Server, name: str) -> None:
    keys = create_account(server.data, f"squatter-{uuid.uuid4().hex[:8]}")
    refused = api(server, "CreateBucket", keys=keys, BucketName=name, Region="cn-bj")
    assert refused["RetCode"] == 15000 and "reserved" in refused["Message"], refused
    root = api(server, "CreateBucket", BucketName=name, Region="cn-bj")
    assert root["RetCode"] == 15000, root


def test_a_squatted_name_stops_the_server(tmp_path: Path) -> None:
    first = Server(data=tmp_path / "data", extra=["--temp-bucket", "holdall-temp-elsewhere"]).start()
    try:
        keys = create_account(first.data, "mallory")
        made = api(first, "CreateBucket", keys=keys, BucketName="holdall-temp", Region="cn-bj")
        assert made["RetCode"] == 0, made
    finally:
        first.stop()
    env = {"HOLDALL_ACCESS_KEY": ACCESS_KEY, "HOLDALL_SECRET_KEY": SECRET_KEY, "PATH": "/usr/bin:/bin"}
    command = [sys.executable, "-m", "holdall", "serve", "--data", str(first.data), *meta_args(first.data)]
    command += ["--listen", "127.0.0.1:1"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "'holdall-temp' belongs to another account" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and "serving" not in done.stdout, done.stdout + done.stderr


def _temp_form(server: Server, name: str) -> Any:
    query = {"Action": "CreateTempFileUploadUrl", "PublicKey": ACCESS_KEY, "FileName": name}
    query["Signature"] = Auth(ACCESS_KEY, SECRET_KEY).bucket_signature(query)
    return requests.get(server.url + "/", params=query).json()


def test_the_form_signer_is_internal(server: Server) -> None:
    form = _temp_form(server, "a.txt")
    assert form["Success"] is True, form
    tokens = api(server, "DescribeUFileToken")["DataSet"]
    assert all(token["PublicKey"] != form["OssAccessKeyId"] for token in tokens), tokens
    token_id = form["OssAccessKeyId"].removeprefix("TOKEN_")
    assert api(server, "DeleteUFileToken", TokenId=token_id)["RetCode"] == 15040
    assert api(server, "UpdateUFileToken", TokenId=token_id, **{"AllowedPrefixes.0": "*"})["RetCode"] == 15040
    assert api(server, "DescribeUFileToken", TokenId=token_id)["RetCode"] == 15040
    named = api(server, "CreateUFileToken", TokenName="holdall-temp-uploads", **{"AllowedOps.0": "TOKEN_ALLOW_READ"})
    assert named["RetCode"] == 15017 and "reserved" in named["Message"], named
    again = _temp_form(server, "b.txt")
    assert again["Success"] is True and again["OssAccessKeyId"] == form["OssAccessKeyId"], again

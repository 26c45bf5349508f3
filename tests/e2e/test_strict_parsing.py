"""Malformed numbers, deep JSON and header-breaking types get a 4xx in the caller's dialect, never a 500."""

from __future__ import annotations

import base64
import json

import pytest
import requests

from holdall.client.presign import presign_url
from tests.e2e.helpers import api, call, signed_headers
from tests.e2e.server import ACCESS_KEY, SECRET_KEY, Server

HUGE = "9" * 5000


@pytest.mark.parametrize("value", ["²", HUGE])
@pytest.mark.parametrize("dialect", ["ufile", "aws4", "aws2", "oss4", "oss1", "tos4", "cos"])
def test_expiry_numbers(server: Server, bucket: str, dialect: str, value: str) -> None:
    url = presign_url("GET", server.url, bucket, "k", ACCESS_KEY, SECRET_KEY, dialect=dialect)
    for name in ("Expires", "X-Amz-Expires", "X-Tos-Expires", "x-oss-expires"):
        url = url.replace(f"{name}=", f"{name}={value}&was-{name}=")
    if dialect == "cos":
        url = url.replace("q-sign-time=", f"q-sign-time={value}%3B{value}&was=")
    response = requests.get(url)
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])


@pytest.mark.parametrize("value", ["bytes=²-", f"bytes=0-{HUGE}", f"bytes={HUGE}-"])
def test_range_numbers(server: Server, bucket: str, value: str) -> None:
    assert call(server, "PUT", bucket, "r.txt", data=b"0123456789").ok
    response = call(server, "GET", bucket, "r.txt", headers={"Range": value})
    assert 400 <= response.status_code < 500, response.text


def test_management_numbers_and_deep_json(server: Server, bucket: str) -> None:
    reply = api(server, "DescribeBucket", Limit="²")
    assert reply["RetCode"] == 15017, reply
    reply = api(server, "DescribeBucket", Offset=HUGE)
    assert reply["RetCode"] == 15017, reply
    reply = api(server, "CreateUFileToken", TokenName="t", **{"AllowedOps.²": "TOKEN_ALLOW_READ"})
    assert reply["RetCode"] == 15017, reply
    reply = api(server, "UpdateBucketCors", BucketName=bucket, CORSRules="[" * 3000)
    assert reply["RetCode"] == 15017, reply


def test_deep_opmeta_and_policy(server: Server, bucket: str) -> None:
    assert call(server, "PUT", bucket, "o.txt", data=b"x").ok
    deep = call(server, "POST", bucket, "o.txt", query="opmeta", data=b"[" * 60_000,
                headers={"Content-Type": "application/json"})  # fmt: skip
    assert deep.status_code == 400, deep.text
    policy = base64.b64encode(b"[" * 50_000).decode()
    form = {"key": "f.txt", "policy": policy, "OSSAccessKeyId": ACCESS_KEY, "Signature": "x"}
    response = requests.post(f"{server.url}/{bucket}/", data=form, files={"file": ("f.txt", b"data")})
    assert 400 <= response.status_code < 500, response.text


def test_control_characters_in_types_are_refused(server: Server, bucket: str) -> None:
    mime = "text/plain\r\nX-Evil: 1"
    signed = signed_headers("POST", bucket, "form.txt", {"Content-Type": mime})
    fields = {"FileName": "form.txt", "Authorization": signed["Authorization"], "Content-Type": mime}
    bad = requests.post(f"{server.url}/{bucket}/", data=fields, files={"file": ("form.txt", b"x", "text/plain")})
    assert bad.status_code == 400 and "control characters" in bad.json()["ErrMsg"], bad.text
    assert call(server, "HEAD", bucket, "form.txt").status_code == 404
    body = json.dumps({"op": "set", "metak": "mimetype", "metav": "a\r\nb"}).encode()
    assert call(server, "PUT", bucket, "t.txt", data=b"x").ok
    meta = call(
        server, "POST", bucket, "t.txt", query="opmeta", data=body, headers={"Content-Type": "application/json"}
    )
    assert meta.status_code == 400, meta.text
    assert call(server, "GET", bucket, "t.txt").content == b"x"

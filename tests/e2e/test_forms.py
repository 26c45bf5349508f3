"""Signed form uploads (POST policies): S3 V4 forms made by boto3, OSS V1 and V4 forms as the OSS docs build them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any

import requests

from tests.e2e.server import ACCESS_KEY, SECRET_KEY, Server
from tests.e2e.test_presigned import s3_client, s3_url, xml_error

FILE = b"form upload contents " * 50


def expiration(seconds: int) -> str:
    return datetime.fromtimestamp(time.time() + seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def policy_b64(conditions: list[Any], seconds: int = 600) -> str:
    return base64.b64encode(json.dumps({"expiration": expiration(seconds), "conditions": conditions}).encode()).decode()


def oss_v1_form(bucket: str, key: str, conditions: list[Any], seconds: int = 600) -> dict[str, str]:
    policy = policy_b64([{"bucket": bucket}, *conditions], seconds)
    signature = base64.b64encode(hmac.new(SECRET_KEY.encode(), policy.encode(), hashlib.sha1).digest()).decode()
    return {"key": key, "OSSAccessKeyId": ACCESS_KEY, "policy": policy, "Signature": signature}


def oss_v4_form(bucket: str, key: str, conditions: list[Any]) -> dict[str, str]:
    now = datetime.now(UTC)
    date, stamp = now.strftime("%Y%m%d"), now.strftime("%Y%m%dT%H%M%SZ")
    credential = f"{ACCESS_KEY}/{date}/cn-hangzhou/oss/aliyun_v4_request"
    fields = {"x-oss-signature-version": "OSS4-HMAC-SHA256", "x-oss-credential": credential, "x-oss-date": stamp}
    policy = policy_b64([{"bucket": bucket}, *[{k: v} for k, v in fields.items()], *conditions])
    signing = ("aliyun_v4" + SECRET_KEY).encode()
    for part in (date, "cn-hangzhou", "oss", "aliyun_v4_request"):
        signing = hmac.new(signing, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(signing, policy.encode(), hashlib.sha256).hexdigest()
    return {"key": key, **fields, "policy": policy, "x-oss-signature": signature}


def post(server: Server, bucket: str, fields: dict[str, str], body: bytes = FILE, name: str = "f.txt") -> Any:
    return requests.post(f"{server.url}/{bucket}/", data=fields, files={"file": (name, body, "text/plain")})


def stored(server: Server, bucket: str, key: str) -> bytes | None:
    reply = requests.get(s3_url(server, "GET", bucket, key))
    return reply.content if reply.status_code == 200 else None


def test_s3_v4_post_policy_from_boto3(server: Server, bucket: str) -> None:
    presigned = s3_client(server).generate_presigned_post(
        bucket,
        "uploads/${filename}",
        Fields={"success_action_status": "201"},
        Conditions=[["content-length-range", 10, 5000], {"success_action_status": "201"}],
        ExpiresIn=600,
    )
    reply = requests.post(presigned["url"], data=presigned["fields"], files={"file": ("song.txt", FILE, "text/plain")})
    assert reply.status_code == 201, reply.text
    root = ET.fromstring(reply.content)
    assert root.findtext("Key") == "uploads/song.txt" and root.findtext("Bucket") == bucket
    assert reply.headers["ETag"]
    assert stored(server, bucket, "uploads/song.txt") == FILE

    too_big = requests.post(presigned["url"], data=presigned["fields"], files={"file": ("big.txt", b"x" * 5001)})
    assert too_big.status_code == 400 and xml_error(too_big)["Code"] == "EntityTooLarge"
    too_small = requests.post(presigned["url"], data=presigned["fields"], files={"file": ("small.txt", b"x")})
    assert too_small.status_code == 400 and xml_error(too_small)["Code"] == "EntityTooSmall"
    assert stored(server, bucket, "uploads/big.txt") is None and stored(server, bucket, "uploads/small.txt") is None

    forged = dict(presigned["fields"], key="elsewhere/${filename}")
    breach = requests.post(presigned["url"], data=forged, files={"file": ("x.txt", FILE)})
    assert breach.status_code == 403
    error = xml_error(breach)
    assert error["Code"] == "AccessDenied" and error["Message"].startswith("Invalid according to Policy")
    assert stored(server, bucket, "elsewhere/x.txt") is None

    tampered = dict(presigned["fields"], policy=policy_b64([["starts-with", "$key", ""]]))
    assert xml_error(requests.post(presigned["url"], data=tampered, files={"file": ("t", FILE)}))["Code"] == (
        "SignatureDoesNotMatch"
    )


def test_oss_v1_form_and_expiry(server: Server, bucket: str) -> None:
    fields = oss_v1_form(bucket, "temp/${filename}", [["starts-with", "$key", "temp/"], ["eq", "$x-oss-meta-a", "1"]])
    fields["x-oss-meta-a"] = "1"
    reply = post(server, bucket, fields)
    assert reply.status_code == 204, reply.text
    assert stored(server, bucket, "temp/f.txt") == FILE
    fields["success_action_status"] = "200"
    assert post(server, bucket, fields, name="g.txt").status_code == 200
    wrong_meta = dict(fields, **{"x-oss-meta-a": "2"})
    assert xml_error(post(server, bucket, wrong_meta, name="h.txt"))["Code"] == "AccessDenied"
    other_bucket = oss_v1_form("some-other-bucket", "temp/x", [])
    assert "bucket" in xml_error(post(server, bucket, other_bucket))["Message"]
    try:
        server.move_clock(601)
        expired = post(server, bucket, fields, name="late.txt")
        assert expired.status_code == 403 and "Policy expired" in xml_error(expired)["Message"]
    finally:
        server.move_clock(0)
    assert stored(server, bucket, "temp/h.txt") is None and stored(server, bucket, "temp/late.txt") is None


def test_oss_v4_form(server: Server, bucket: str) -> None:
    fields = oss_v4_form(bucket, "v4/${filename}", [["content-length-range", 1, 100_000]])
    assert post(server, bucket, fields, name="a.bin").status_code == 204
    assert stored(server, bucket, "v4/a.bin") == FILE
    fields["x-oss-signature"] = "0" * 64
    assert xml_error(post(server, bucket, fields, name="b.bin"))["Code"] == "SignatureDoesNotMatch"

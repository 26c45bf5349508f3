"""Presigned URLs made by the vendors' own SDKs (REFERENCE §3), used with plain HTTP against holdall."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from typing import Any

import boto3
import botocore.config
import oss2
import pytest
import requests
import tos
from qcloud_cos import CosConfig, CosS3Client

from tests.e2e.helpers import api, call, numbered
from tests.e2e.server import ACCESS_KEY, SECRET_KEY, Server

KEY = "dir/a b+c~(1).txt"
BODY = b"presigned upload body\n" * 100
ROOT = (ACCESS_KEY, SECRET_KEY)


def s3_client(server: Server, keys: tuple[str, str] = ROOT, version: str | None = "s3v4") -> Any:
    options: dict[str, Any] = {"s3": {"addressing_style": "path"}}
    if version:
        options["signature_version"] = version
    return boto3.client(
        "s3",
        endpoint_url=server.url,
        aws_access_key_id=keys[0],
        aws_secret_access_key=keys[1],
        region_name="us-east-1",
        config=botocore.config.Config(**options),
    )


def s3_url(server: Server, method: str, bucket: str, key: str, *, version: str | None = "s3v4", expires: int = 600,
           keys: tuple[str, str] = ROOT, **params: str) -> str:  # fmt: skip
    client = s3_client(server, keys, version)
    operation = {"PUT": "put_object", "GET": "get_object", "HEAD": "head_object", "DELETE": "delete_object"}[method]
    url: str = client.generate_presigned_url(
        operation, Params={"Bucket": bucket, "Key": key, **params}, ExpiresIn=expires
    )
    return url


def oss_url(server: Server, method: str, bucket: str, key: str, *, v4: bool = True, expires: int = 600,
            keys: tuple[str, str] = ROOT, headers: dict[str, str] | None = None) -> str:  # fmt: skip
    auth = oss2.AuthV4(*keys) if v4 else oss2.Auth(*keys)
    url: str = oss2.Bucket(auth, server.url, bucket, region="cn-hangzhou").sign_url(
        method, key, expires, headers=headers or {}
    )
    return url


def tos_url(server: Server, method: str, bucket: str, key: str, *, expires: int = 600,
            keys: tuple[str, str] = ROOT) -> str:  # fmt: skip
    client = tos.TosClientV2(keys[0], keys[1], server.url, "cn-beijing")
    kind = {"PUT": tos.HttpMethodType.Http_Method_Put, "GET": tos.HttpMethodType.Http_Method_Get,
            "DELETE": tos.HttpMethodType.Http_Method_Delete}[method]  # fmt: skip
    url: str = client.pre_signed_url(kind, bucket, key, expires).signed_url
    return url


def cos_url(server: Server, method: str, bucket: str, key: str, *, expires: int = 600,
            keys: tuple[str, str] = ROOT, params: dict[str, str] | None = None,
            sign_host: bool | None = None) -> str:  # fmt: skip
    config = CosConfig(
        Region="ap-guangzhou", SecretId=keys[0], SecretKey=keys[1], Endpoint=f"127.0.0.1:{server.port}", Scheme="http"
    )
    url: str = CosS3Client(config).get_presigned_url(
        Method=method, Bucket=bucket, Key=key, Expired=expires, Params=params or {}, SignHost=sign_host
    )
    return url


def xml_error(response: requests.Response) -> dict[str, str]:
    assert response.headers["Content-Type"] == "application/xml", response.text
    root = ET.fromstring(response.content)
    assert root.tag == "Error"
    return {child.tag: child.text or "" for child in root}


def round_trip(put_url: str, get_url: str, headers: dict[str, str] | None = None) -> None:
    put = requests.put(put_url, data=BODY, headers=headers or {})
    assert put.status_code == 200, put.text
    assert put.headers["ETag"]
    got = requests.get(get_url)
    assert got.status_code == 200 and got.content == BODY
    again = requests.put(put_url, data=BODY, headers=headers or {})
    assert again.status_code == 200  # reusable until it expires


def test_aws_sigv4(server: Server, bucket: str) -> None:
    round_trip(s3_url(server, "PUT", bucket, KEY), s3_url(server, "GET", bucket, KEY))
    typed = s3_url(server, "PUT", bucket, "typed.txt", ContentType="text/plain")
    assert requests.put(typed, data=b"t", headers={"Content-Type": "text/plain"}).status_code == 200
    wrong = requests.put(typed, data=b"t", headers={"Content-Type": "image/png"})
    assert wrong.status_code == 403
    error = xml_error(wrong)
    assert error["Code"] == "SignatureDoesNotMatch"
    assert error["StringToSign"].startswith("AWS4-HMAC-SHA256\n")
    assert "content-type:image/png" in error["CanonicalRequest"]
    assert requests.head(s3_url(server, "HEAD", bucket, KEY)).headers["Content-Length"] == str(len(BODY))
    assert requests.delete(s3_url(server, "DELETE", bucket, KEY)).status_code == 204
    missing = requests.get(s3_url(server, "GET", bucket, KEY))
    assert missing.status_code == 404 and xml_error(missing)["Code"] == "NoSuchKey"


def test_aws_v2_default_of_boto3(server: Server, bucket: str) -> None:
    put = s3_url(server, "PUT", bucket, KEY, version=None)
    assert "AWSAccessKeyId=" in put and "Signature=" in put
    round_trip(put, s3_url(server, "GET", bucket, KEY, version=None))
    typed = s3_url(server, "PUT", bucket, "typed", version=None, ContentType="text/plain")
    assert requests.put(typed, data=b"x", headers={"Content-Type": "text/plain"}).status_code == 200
    assert requests.put(typed, data=b"x").status_code == 200  # the type travels in the query too
    assert xml_error(requests.put(typed, data=b"x", headers={"Content-Type": "a/b"}))["Code"] == "SignatureDoesNotMatch"
    too_long = requests.get(s3_url(server, "GET", bucket, KEY, version=None, expires=8 * 86400))
    assert too_long.status_code == 400 and xml_error(too_long)["Code"] == "AuthorizationQueryParametersError"


def test_oss_v4_and_v1(server: Server, bucket: str) -> None:
    for v4 in (True, False):
        key = f"oss-{v4}/{KEY}"
        round_trip(oss_url(server, "PUT", bucket, key, v4=v4), oss_url(server, "GET", bucket, key, v4=v4))
        typed = oss_url(server, "PUT", bucket, key, v4=v4, headers={"Content-Type": "text/plain"})
        assert requests.put(typed, data=b"x", headers={"Content-Type": "text/plain"}).status_code == 200
        # a browser adds the File's type to a URL signed without one: the error says so
        bare = oss_url(server, "PUT", bucket, key, v4=v4)
        browser = requests.put(bare, data=b"x", headers={"Content-Type": "image/png"})
        assert browser.status_code == 403
        error = xml_error(browser)
        assert error["Code"] == "SignatureDoesNotMatch" and "Content-Type: image/png" in error["Message"]
    unsigned = oss_url(server, "PUT", bucket, "unsigned-header")
    extra = requests.put(unsigned, data=b"x", headers={"x-oss-meta-sneaky": "1"})
    assert extra.status_code == 403 and xml_error(extra)["Code"] == "SignatureDoesNotMatch"
    too_long = requests.get(oss_url(server, "GET", bucket, KEY, v4=False, expires=8 * 86400))
    assert too_long.status_code == 400 and xml_error(too_long)["Code"] == "AuthorizationQueryParametersError"


def test_tos_v4_virtual_host(server: Server, bucket: str) -> None:
    put = tos_url(server, "PUT", bucket, KEY)
    assert put.startswith(f"http://{bucket}.127.0.0.1:{server.port}/")
    round_trip(put, tos_url(server, "GET", bucket, KEY))
    tampered = put.replace("X-Tos-Expires=600", "X-Tos-Expires=601")
    reply = requests.put(tampered, data=b"x")
    assert reply.status_code == 403 and reply.headers["Content-Type"] == "application/json"
    body = reply.json()
    assert body["Code"] == "SignatureDoesNotMatch" and {"Message", "RequestId", "HostId", "EC"} <= set(body)
    assert "X-Tos-Expires=601" in body["CanonicalRequest"]
    week = requests.get(tos_url(server, "GET", bucket, KEY, expires=700_000))
    assert week.status_code == 400 and week.json()["Code"] == "AuthorizationQueryParametersError"


def test_cos_q_sign(server: Server, bucket: str) -> None:
    put = cos_url(server, "PUT", bucket, KEY)
    round_trip(put, cos_url(server, "GET", bucket, KEY))
    tampered = put.replace(f"/{KEY.split('/')[0]}/", "/other/")
    reply = requests.put(tampered, data=b"x")
    assert reply.status_code == 403 and xml_error(reply)["Code"] == "SignatureDoesNotMatch"
    unknown_token = requests.get(cos_url(server, "GET", bucket, KEY, params={"x-cos-security-token": "nope"}))
    assert unknown_token.status_code == 403 and xml_error(unknown_token)["Code"] == "AccessDenied"


def test_expiry_by_moving_the_clock(server: Server, bucket: str) -> None:
    urls = {
        "s3": s3_url(server, "GET", bucket, "clock"),
        "s3v2": s3_url(server, "GET", bucket, "clock", version=None),
        "oss4": oss_url(server, "GET", bucket, "clock"),
        "oss1": oss_url(server, "GET", bucket, "clock", v4=False),
        "tos": tos_url(server, "GET", bucket, "clock"),
        "cos": cos_url(server, "GET", bucket, "clock"),
    }
    assert requests.put(s3_url(server, "PUT", bucket, "clock"), data=b"tick").status_code == 200
    for url in urls.values():
        assert requests.get(url).content == b"tick"
    try:
        server.move_clock(700)
        for name, url in urls.items():
            reply = requests.get(url)
            assert reply.status_code == 403, name
            if name == "tos":
                assert reply.json()["Message"] == "Request has expired"
            else:
                assert xml_error(reply)["Message"] == "Request has expired", name
    finally:
        server.move_clock(0)


def test_tampered_and_unknown(server: Server, bucket: str) -> None:
    url = s3_url(server, "PUT", bucket, "tamper")
    signature = url.rsplit("X-Amz-Signature=", 1)[1]
    flipped = url.replace(signature, ("0" if signature[0] != "0" else "1") + signature[1:])
    assert xml_error(requests.put(flipped, data=b"x"))["Code"] == "SignatureDoesNotMatch"
    elsewhere = url.replace("/tamper?", "/other?")
    assert xml_error(requests.put(elsewhere, data=b"x"))["Code"] == "SignatureDoesNotMatch"
    dotted = url.replace("/tamper?", "/x/%2E%2E/tamper?")
    assert requests.put(dotted, data=b"x").status_code == 403
    encoded_slash = url.replace("/tamper?", "/x%2Ftamper?")
    assert xml_error(requests.put(encoded_slash, data=b"x"))["Code"] == "SignatureDoesNotMatch"
    stranger = s3_url(server, "PUT", bucket, "tamper", keys=("NOSUCHKEY", "secret"))
    assert xml_error(requests.put(stranger, data=b"x"))["Code"] == "InvalidAccessKeyId"
    broken = url.replace("X-Amz-Credential=", "X-Amz-Credential=x")
    broken = broken.replace("%2Fs3%2F", "%2Fec2%2F")
    assert xml_error(requests.put(broken, data=b"x"))["Code"] == "AuthorizationQueryParametersError"
    for key in ("tamper", "other", "x/tamper"):  # none of the refused requests stored a thing
        assert requests.get(s3_url(server, "GET", bucket, key)).status_code == 404, key
    assert call(server, "GET", bucket, "x/%2E%2E/tamper", sign_key="x/../tamper").status_code == 404


@pytest.mark.parametrize("dialect", ["s3", "s3v2", "oss4", "oss1", "tos", "cos"])
def test_token_keys_in_every_dialect(server: Server, bucket: str, dialect: str) -> None:
    reply = api(
        server,
        "CreateUFileToken",
        TokenName=f"dialect-{dialect}",
        **numbered("AllowedOps", ["TOKEN_ALLOW_WRITE", "TOKEN_ALLOW_READ"]),
        **numbered("AllowedPrefixes", ["inbox/"]),
        **numbered("AllowedBuckets", [bucket]),
    )
    keys = (reply["UFileTokenSet"]["PublicKey"], reply["UFileTokenSet"]["PrivateKey"])
    make = {
        "s3": lambda key: s3_url(server, "PUT", bucket, key, keys=keys),
        "s3v2": lambda key: s3_url(server, "PUT", bucket, key, keys=keys, version=None),
        "oss4": lambda key: oss_url(server, "PUT", bucket, key, keys=keys),
        "oss1": lambda key: oss_url(server, "PUT", bucket, key, keys=keys, v4=False),
        "tos": lambda key: tos_url(server, "PUT", bucket, key, keys=keys),
        "cos": lambda key: cos_url(server, "PUT", bucket, key, keys=keys),
    }[dialect]
    inside = f"inbox/{uuid.uuid4().hex}"
    assert requests.put(make(inside), data=b"mine").status_code == 200
    outside = requests.put(make("outbox/x"), data=b"no")
    assert outside.status_code == 403
    message = outside.json()["Message"] if dialect == "tos" else xml_error(outside)["Message"]
    assert "AllowedPrefixes" in message

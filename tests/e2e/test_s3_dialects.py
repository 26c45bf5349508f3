"""The other clouds' S3-shaped SDKs, header-signed, on holdall's S3 API: oss2 (OSS V1 and V4) and
cos-python-sdk-v5, with the same objects UFile and boto3 see."""

from __future__ import annotations

import hashlib
import os
import uuid
from typing import Any

import oss2
import pytest
import tos
from qcloud_cos import CosConfig, CosS3Client
from qcloud_cos.cos_exception import CosServiceError

from tests.e2e.helpers import call
from tests.e2e.server import ACCESS_KEY, SECRET_KEY, Server
from tests.e2e.test_s3_api import s3_client


@pytest.fixture
def name(server: Server) -> str:
    made = f"d-{uuid.uuid4().hex[:12]}"
    s3_client(server).create_bucket(Bucket=made)
    return made


@pytest.mark.parametrize("version", ["v1", "v4"])
def test_oss2_objects_listings_and_multipart(server: Server, name: str, version: str) -> None:
    auth = oss2.AuthV4(ACCESS_KEY, SECRET_KEY) if version == "v4" else oss2.Auth(ACCESS_KEY, SECRET_KEY)
    bucket = oss2.Bucket(auth, server.url, name, region="cn-bj")
    put = bucket.put_object("docs/a b.txt", b"hello oss", headers={"x-oss-meta-owner": "ana"})
    assert put.status == 200 and put.etag.lower() == hashlib.md5(b"hello oss").hexdigest() and put.crc
    got = bucket.get_object("docs/a b.txt")
    assert got.read() == b"hello oss" and got.headers["x-oss-meta-owner"] == "ana"
    assert bucket.get_object("docs/a b.txt", byte_range=(1, 4)).read() == b"ello"
    bucket.put_object("docs/sub/c", b"c")
    listed = bucket.list_objects(prefix="docs/", delimiter="/")
    assert [item.key for item in listed.object_list] == ["docs/a b.txt"] and listed.prefix_list == ["docs/sub/"]
    paged = oss2.ObjectIterator(bucket, prefix="docs/", max_keys=1)
    assert [item.key for item in paged] == ["docs/a b.txt", "docs/sub/c"]

    data = os.urandom(6 * 1024 * 1024)
    upload_id = bucket.init_multipart_upload("big").upload_id
    parts = [
        oss2.models.PartInfo(number, bucket.upload_part("big", upload_id, number, chunk).etag)
        for number, chunk in ((1, data[: 5 * 1024 * 1024]), (2, data[5 * 1024 * 1024 :]))
    ]
    assert bucket.complete_multipart_upload("big", upload_id, parts).status == 200
    assert bucket.get_object("big").read() == data
    assert call(server, "GET", name, "big").content == data  # UFile reads what oss2 wrote

    deleted = bucket.batch_delete_objects(["docs/a b.txt", "docs/sub/c"])
    assert sorted(deleted.deleted_keys) == ["docs/a b.txt", "docs/sub/c"]
    with pytest.raises(oss2.exceptions.NoSuchKey) as missing:
        bucket.get_object("docs/a b.txt")
    assert missing.value.status == 404 and missing.value.request_id
    wrong = oss2.Bucket(oss2.Auth(ACCESS_KEY, "not-the-secret"), server.url, name, region="cn-bj")
    with pytest.raises(oss2.exceptions.SignatureDoesNotMatch):
        wrong.get_object("big")


def test_an_unsigned_amz_header_does_not_ride_along_an_oss_request(server: Server, name: str) -> None:
    """OSS signs x-oss-* headers; an x-amz-* one added to a signed OSS request is not read at all."""
    bucket = oss2.Bucket(oss2.Auth(ACCESS_KEY, SECRET_KEY), server.url, name, region="cn-bj")
    bucket.put_object("secret", b"not to be copied")
    bucket.put_object("plain", b"plain", headers={"x-amz-copy-source": f"/{name}/secret", "x-amz-meta-x": "1"})
    got = bucket.get_object("plain")
    assert got.read() == b"plain" and "x-oss-meta-x" not in got.headers


def cos_client(server: Server) -> CosS3Client:
    config = CosConfig(
        Region="cn-bj", SecretId=ACCESS_KEY, SecretKey=SECRET_KEY, Endpoint=f"127.0.0.1:{server.port}", Scheme="http"
    )
    return CosS3Client(config)


def test_cos_sdk_lists_in_xml(server: Server, name: str) -> None:
    client = cos_client(server)
    for key in ("a/1", "a/2", "b", "c d"):
        client.put_object(Bucket=name, Key=key, Body=key.encode(), Metadata={"x-cos-meta-k": "v"})
    listed: dict[str, Any] = client.list_objects(Bucket=name, Delimiter="/")
    assert [item["Key"] for item in listed["Contents"]] == ["b", "c d"]
    assert [item["Prefix"] for item in listed["CommonPrefixes"]] == ["a/"]
    assert listed["Contents"][0]["ETag"] == f'"{hashlib.md5(b"b").hexdigest()}"'
    page = client.list_objects(Bucket=name, MaxKeys=2)
    assert page["IsTruncated"] == "true" and len(page["Contents"]) == 2
    head = client.head_object(Bucket=name, Key="c d")
    assert head["x-cos-meta-k"] == "v"
    assert client.get_object(Bucket=name, Key="c d")["Body"].get_raw_stream().read() == b"c d"
    with pytest.raises(CosServiceError) as missing:
        client.get_object(Bucket=name, Key="none")
    assert missing.value.get_status_code() == 404 and missing.value.get_error_code() == "NoSuchKey"


def test_tos_sdk_puts_gets_and_lists(server: Server, name: str) -> None:
    """The tos SDK checks every upload's CRC-64 against x-tos-hash-crc64ecma and reads JSON listings."""
    client = tos.TosClientV2(ACCESS_KEY, SECRET_KEY, server.url, "cn-beijing")
    put = client.put_object(name, "a/b c.txt", content=b"hello tos", meta={"k": "v"})
    assert put.etag.strip('"') == hashlib.md5(b"hello tos").hexdigest() and put.hash_crc64_ecma
    got = client.get_object(name, "a/b c.txt")
    assert got.read() == b"hello tos" and got.meta == {"k": "v"}
    for key in ("a/d/e", "f"):
        client.put_object(name, key, content=key.encode())
    assert [item.key for item in client.list_objects(name, prefix="a/").contents] == ["a/b c.txt", "a/d/e"]
    grouped = client.list_objects_type2(name, delimiter="/")
    assert [item.key for item in grouped.contents] == ["f"]
    assert [item.prefix for item in grouped.common_prefixes] == ["a/"]
    assert grouped.contents[0].hash_crc64_ecma and grouped.contents[0].size == 1
    paged = client.list_objects_type2(name, max_keys=2)
    assert paged.is_truncated and paged.next_continuation_token and len(paged.contents) == 2
    rest = client.list_objects_type2(name, max_keys=2, continuation_token=paged.next_continuation_token)
    assert [item.key for item in rest.contents] == ["f"] and not rest.is_truncated
    with pytest.raises(tos.exceptions.TosServerError) as missing:
        client.get_object(name, "none")
    assert missing.value.status_code == 404 and missing.value.code == "NoSuchKey"
    wrong = tos.TosClientV2(ACCESS_KEY, "not-the-secret", server.url, "cn-beijing")
    with pytest.raises(tos.exceptions.TosServerError) as refused:
        wrong.get_object(name, "f")
    assert refused.value.code == "SignatureDoesNotMatch"

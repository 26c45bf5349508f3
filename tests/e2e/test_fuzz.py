"""Random requests, signed and unsigned, against a real server: never a 5xx, always RetCode JSON."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import quote

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ufile.auth import Auth

from tests.e2e.helpers import create_account, signed_headers
from tests.e2e.server import Server

QUERY_NAMES = [
    "list", "listobjects", "muploadpart", "uploads", "uploadId", "partNumber", "newFileName", "force", "restore",
    "storageClass", "opmeta", "Hash", "FileName", "FileSize", "prefix", "marker", "limit", "max-keys", "delimiter",
    "newKey", "UCloudPublicKey", "Expires", "Signature", "part-number-marker", "max-parts",
    "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Signature",
    "X-Amz-Security-Token", "x-oss-signature-version", "x-oss-credential", "x-oss-date", "x-oss-expires",
    "x-oss-signature", "x-oss-additional-headers", "X-Tos-Algorithm", "X-Tos-Credential", "X-Tos-Date",
    "X-Tos-Expires", "X-Tos-SignedHeaders", "X-Tos-Signature", "OSSAccessKeyId", "AWSAccessKeyId",
    "q-sign-algorithm", "q-ak", "q-sign-time", "q-key-time", "q-header-list", "q-url-param-list", "q-signature",
    "x-cos-security-token",
]  # fmt: skip
HEADER_NAMES = [
    "Range", "Content-MD5", "If-Modified-Since", "Content-Type", "X-Ufile-Copy-Source", "Date", "Origin",
    "Access-Control-Request-Method", "Access-Control-Request-Headers", "Authorization",
]  # fmt: skip
text = st.text(st.characters(blacklist_categories=["Cs"]), max_size=30)
SPECIAL_VALUES = [
    "", "0", "-1", "true", "IA", "AWS4-HMAC-SHA256", "OSS4-HMAC-SHA256", "TOS4-HMAC-SHA256", "sha1",
    "20260101T000000Z", "a/20260101/r/s3/aws4_request", "x/20260101/r/oss/aliyun_v4_request", "host", "1;9999999999",
]  # fmt: skip
values = st.one_of(text, st.integers(-(2**70), 2**70).map(str), st.sampled_from(SPECIAL_VALUES))
SPECIAL_HEADERS = [
    "bytes=0-", "bytes=-0", "bytes=5-1", "multipart/form-data; boundary=x", "application/json",
    "AWS4-HMAC-SHA256", "OSS4-HMAC-SHA256", "TOS4-HMAC-SHA256", "sha1", "1;2", "a/20260101/r/s3/aws4_request",
    "q-sign-algorithm=sha1&q-ak=x&q-sign-time=1;2", "http://127.0.0.1:1", "PUT",
]  # fmt: skip
header_values = st.one_of(
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40).map(str.lstrip),
    st.sampled_from(SPECIAL_HEADERS),
)


@settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    method=st.sampled_from(["GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS", "PATCH"]),
    key=st.one_of(text, st.sampled_from(["", "uploadhit", "a/b", "../x"])),
    query=st.dictionaries(st.sampled_from(QUERY_NAMES), values, max_size=4),
    headers=st.dictionaries(st.sampled_from(HEADER_NAMES), header_values, max_size=3),
    body=st.one_of(st.binary(max_size=200), st.sampled_from([b"--x\r\n", b'{"op":"set","metak":"mimetype"}'])),
    sign=st.booleans(),
    virtual_host=st.booleans(),
)
def test_random_data_plane_requests(
    server: Server,
    bucket: str,
    method: str,
    key: str,
    query: dict[str, str],
    headers: dict[str, str],
    body: bytes,
    sign: bool,
    virtual_host: bool,
) -> None:
    if sign:
        headers = signed_headers(method, bucket, key, headers)
    path = quote(key.encode("utf-8", "surrogatepass"), safe="/")
    base = server.bucket_url(bucket) if virtual_host else f"{server.url}/{bucket}"
    response = requests.request(method, f"{base}/{path}", params=query, headers=headers, data=body, timeout=30)
    assert response.status_code < 500, (response.status_code, response.text)
    if response.status_code >= 400 and method != "HEAD":
        assert_error_shape(response)


@pytest.fixture(scope="module")
def fuzz_keys(server: Server) -> tuple[str, str]:
    """An account of its own: random calls may buy it quotas that would limit the other tests."""
    return create_account(server.data, f"fuzz-{uuid.uuid4().hex[:8]}")


def assert_error_shape(response: requests.Response) -> None:
    """UFile's RetCode JSON, TOS's {Code, Message} JSON, or the S3/OSS/COS <Error> XML."""
    kind = response.headers["Content-Type"]
    if kind == "application/xml":
        root = ET.fromstring(response.content)
        assert root.tag == "Error" and root.findtext("Code") and root.findtext("Message") is not None
        return
    assert kind == "application/json", response.text
    body = set(response.json())
    assert {"RetCode", "ErrMsg"} <= body or {"Code", "Message", "RequestId", "EC"} <= body, response.text


ACTIONS = [
    "CreateBucket",
    "DescribeBucket",
    "UpdateBucket",
    "DeleteBucket",
    "UpdateBucketQuota",
    "CreateUFileToken",
    "UpdateUFileToken",
    "DeleteUFileToken",
    "DescribeUFileToken",
    "GetUFileQuota",
    "GetUFileQuotaInfo",
    "GetUFileQuotaPrice",
    "BuyUFileQuota",
    "GetUFileReport",
    "UpdateBucketCors",
    "CreateTempFileUploadUrl",
    "CreateCosToken",
    "GetResourceUploadUrl",
    "Nope",
]
CONTROL_ACTIONS = ("CreateTempFileUploadUrl", "CreateCosToken", "GetResourceUploadUrl")
PARAMS = [
    "BucketName",
    "Name",
    "Type",
    "Region",
    "ProjectId",
    "Offset",
    "Limit",
    "MaxBytes",
    "MaxObjects",
    "TokenId",
    "TokenName",
    "AllowedOps.0",
    "AllowedOps.x",
    "AllowedPrefixes.0",
    "AllowedBuckets.0",
    "ExpireTime",
    "WhiteIPList.0",
    "BlackIPList.1",
    "QuotaType",
    "QuotaType.0",
    "StorageVolume",
    "DownloadTraffic",
    "RequestCount",
    "StartTime",
    "EndTime",
    "FileName",
    "Version",
    "ApplicationId",
    "PkgName",
    "OptType",
    "TimeVersion",
    "SourceChannel",
    "CORSRules",
]


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    action=st.sampled_from(ACTIONS),
    params=st.dictionaries(
        st.sampled_from(PARAMS),
        values,
        max_size=5,
    ),
)
def test_random_management_calls(
    server: Server, fuzz_keys: tuple[str, str], action: str, params: dict[str, str]
) -> None:
    query: dict[str, Any] = {"Action": action, **params}
    query["Signature"] = Auth(*fuzz_keys).bucket_signature(query)
    response = requests.get(f"{server.url}/", params=query, timeout=30)
    assert response.status_code < 500 and response.headers["Content-Type"] == "application/json", response.text
    body = response.json()
    if action in CONTROL_ACTIONS:  # each in its own cloud's envelope (REFERENCE §5)
        assert {"Code", "RequestId"} <= set(body) or "Response" in body or "ResponseMetadata" in body, body
    else:
        assert response.status_code == 200 and isinstance(body["RetCode"], int), body

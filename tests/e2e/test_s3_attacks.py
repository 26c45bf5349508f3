"""Captured S3-shaped requests that try to do more than they signed, and malformed ones that must get a
clear refusal rather than a 500 (the attack review of the S3 dialects)."""

from __future__ import annotations

import base64
import hashlib
import uuid
from datetime import UTC, datetime
from email.utils import formatdate
from typing import Any

import boto3
import pytest
import requests
import tos
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from qcloud_cos import CosConfig
from qcloud_cos.cos_auth import CosS3Auth

from holdall.auth import ufile
from tests.e2e.server import ACCESS_KEY, SECRET_KEY, Server
from tests.e2e.test_s3_api import s3_client


@pytest.fixture
def s3(server: Server) -> Any:
    return s3_client(server)


@pytest.fixture
def name(s3: Any) -> str:
    made = f"x-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=made)
    return made


def test_tos_command_bodies_need_a_signed_digest(server: Server, s3: Any, name: str) -> None:
    """The tos SDK signs UNSIGNED-PAYLOAD and no Content-MD5: a captured batch delete could name any keys."""
    s3.put_object(Bucket=name, Key="keep", Body=b"k")
    client = tos.TosClientV2(ACCESS_KEY, SECRET_KEY, server.url, "cn-beijing")
    with pytest.raises(tos.exceptions.TosServerError) as refused:
        client.delete_multi_objects(name, [tos.models2.ObjectTobeDeleted(key="keep")])
    assert refused.value.status_code == 403 and refused.value.code == "AccessDenied"
    assert s3.get_object(Bucket=name, Key="keep")["Body"].read() == b"k"


def cos_request(server: Server, method: str, bucket: str, key: str, body: bytes = b"") -> requests.PreparedRequest:
    config = CosConfig(Region="cn-bj", SecretId=ACCESS_KEY, SecretKey=SECRET_KEY, Endpoint=f"127.0.0.1:{server.port}")
    url = f"http://{bucket}.127.0.0.1:{server.port}/{key}"
    return requests.Request(method, url, data=body, auth=CosS3Auth(config, key)).prepare()


def test_a_cos_header_signature_covers_the_whole_query(server: Server, s3: Any, name: str) -> None:
    upload = s3.create_multipart_upload(Bucket=name, Key="note")["UploadId"]
    signed = cos_request(server, "PUT", name, "note", b"hello")
    assert requests.Session().send(signed).status_code == 200
    for query in (f"?partNumber=1&uploadId={upload}", "?acl"):
        moved = signed.copy()
        moved.url = signed.url + query  # type: ignore[operator]
        reply = requests.Session().send(moved)
        assert reply.status_code == 403 and "not signed" in reply.text, reply.text
    assert "Parts" not in s3.list_parts(Bucket=name, Key="note", UploadId=upload)
    delete = cos_request(server, "DELETE", name, "note")
    delete.url = delete.url + f"?uploadId={upload}"  # type: ignore[operator]
    assert requests.Session().send(delete).status_code == 403
    assert s3.list_multipart_uploads(Bucket=name)["Uploads"][0]["UploadId"] == upload


def test_a_sigv2_or_oss_signature_cannot_be_relabelled_as_ufile(server: Server, s3: Any, name: str) -> None:
    """The three sign the same HMAC-SHA1 string; a dated UFile header signature is held to what it signs."""
    s3.put_object(Bucket=name, Key="secret", Body=b"TOP SECRET")
    s3.put_object(Bucket=name, Key="important", Body=b"important")
    date = formatdate(usegmt=True)
    signature = ufile.sign(SECRET_KEY, f"PUT\n\n\n{date}\n/{name}/doc")  # what oss2 and SigV2 send for PUT /doc
    headers = {"Authorization": f"UCloud {ACCESS_KEY}:{signature}", "Date": date}
    url = f"{server.url}/{name}/doc"
    renamed = requests.put(url + "?newFileName=important&force=true", headers=headers, data=b"doc")
    assert renamed.status_code == 403, renamed.text
    copied = requests.put(url, headers={**headers, "X-Ufile-Copy-Source": f"/{name}/secret"})
    assert copied.status_code == 403, copied.text
    assert s3.get_object(Bucket=name, Key="important")["Body"].read() == b"important"
    assert requests.put(url, headers=headers, data=b"doc").status_code == 200  # what it did sign


def test_an_oss_v1_key_with_a_question_mark_cannot_imitate_a_sub_resource(server: Server, name: str) -> None:
    date = formatdate(usegmt=True)
    signature = ufile.sign(SECRET_KEY, f"PUT\n\n\n{date}\n/{name}/k?acl")
    headers = {"Authorization": f"OSS {ACCESS_KEY}:{signature}", "Date": date}
    reply = requests.put(f"{server.url}/{name}/k%3Facl", headers=headers, data=b"<html>")
    assert reply.status_code == 403 and "OSS V4" in reply.text, reply.text


def signed(server: Server, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> Any:
    """A request signed by botocore's SigV4 with the x-amz-content-sha256 given (the body's by default)."""
    sent = {"x-amz-content-sha256": hashlib.sha256(body).hexdigest(), **(headers or {})}
    request = AWSRequest(method, f"{server.url}{path}", data=body, headers=sent)
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "s3", "cn-bj").add_auth(request)
    return requests.request(method, request.url, data=body, headers=dict(request.headers))


def test_malformed_signatures_and_numbers_are_refused_not_crashed(server: Server, name: str) -> None:
    now = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    credential = f"{ACCESS_KEY}/{now[:8]}/cn-bj/oss/aliyun_v4_request"
    oss4 = {"Authorization": f"OSS4-HMAC-SHA256 Credential={credential},Signature=\xe9", "x-oss-date": now}
    reply = requests.get(f"{server.url}/{name}/k", headers={k: v.encode("latin-1") for k, v in oss4.items()})
    assert reply.status_code == 403, reply.text
    body = (
        "<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod>"
        f"<MaxAgeSeconds>{'9' * 5000}</MaxAgeSeconds></CORSRule></CORSConfiguration>"
    ).encode()
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    assert signed(server, "PUT", f"/{name}?cors", body, {"Content-MD5": md5}).status_code == 400
    chunked = {
        "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "content-encoding": "aws-chunked",
        "x-amz-decoded-content-length": "9" * 5000,
    }
    lied = signed(server, "PUT", f"/{name}/c", b"0;chunk-signature=x\r\n\r\n", chunked)
    assert lied.status_code == 400 and "x-amz-decoded-content-length" in lied.text, lied.text


def test_an_empty_last_part_is_a_part(s3: Any, name: str) -> None:
    upload = s3.create_multipart_upload(Bucket=name, Key="e")["UploadId"]
    first = s3.upload_part(Bucket=name, Key="e", UploadId=upload, PartNumber=1, Body=b"x" * (5 * 1024 * 1024))
    empty = s3.upload_part(Bucket=name, Key="e", UploadId=upload, PartNumber=2, Body=b"")
    assert empty["ETag"] == f'"{hashlib.md5(b"").hexdigest()}"'
    parts = [{"PartNumber": 1, "ETag": first["ETag"]}, {"PartNumber": 2, "ETag": empty["ETag"]}]
    s3.complete_multipart_upload(Bucket=name, Key="e", UploadId=upload, MultipartUpload={"Parts": parts})
    assert s3.head_object(Bucket=name, Key="e")["ContentLength"] == 5 * 1024 * 1024


def test_an_undecodable_query_is_refused_in_the_clients_dialect(server: Server, name: str) -> None:
    for path in (f"/{name}?prefix=%ff", f"/{name}?prefix=a&prefix=b", "/?x=%ff"):
        reply = signed(server, "GET", path)
        assert reply.status_code == 400 and reply.text.startswith("<?xml"), reply.text
        assert "<Code>" in reply.text


def test_tokens_and_temporary_keys_keep_their_scope_through_s3(server: Server, s3: Any, name: str) -> None:
    from botocore.exceptions import ClientError

    from tests.e2e.test_cos_token import cos_token
    from tests.e2e.test_tokens import keys_of, make_token

    s3.put_object(Bucket=name, Key="b/secret", Body=b"secret")
    token = make_token(
        server, ops=["TOKEN_ALLOW_READ", "TOKEN_ALLOW_WRITE", "TOKEN_ALLOW_LIST"], AllowedPrefixes=["a/"]
    )
    scoped = s3_client(server, keys_of(token))
    scoped.put_object(Bucket=name, Key="a/mine", Body=b"mine")
    assert scoped.get_object(Bucket=name, Key="a/mine")["Body"].read() == b"mine"
    assert [item["Key"] for item in scoped.list_objects_v2(Bucket=name, Prefix="a/")["Contents"]] == ["a/mine"]
    for attempt in (
        lambda: scoped.get_object(Bucket=name, Key="b/secret"),
        lambda: scoped.put_object(Bucket=name, Key="b/other", Body=b"x"),
        lambda: scoped.list_objects_v2(Bucket=name, Prefix="b/"),
        lambda: scoped.copy_object(Bucket=name, Key="a/copy", CopySource={"Bucket": name, "Key": "b/secret"}),
        lambda: scoped.list_buckets(),
    ):
        with pytest.raises(ClientError) as refused:
            attempt()
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403

    bucket = f"app-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    grant = cos_token(server, ApplicationId=bucket, PkgName="tool.jar", OptType=1, TimeVersion="v1")["Result"]
    temporary = boto3.client(
        "s3", endpoint_url=server.url, region_name="cn-bj", aws_access_key_id=grant["TmpSecretId"],
        aws_secret_access_key=grant["TmpSecretKey"], aws_session_token=grant["SessionToken"],
        config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}),
    )  # fmt: skip
    temporary.put_object(Bucket=bucket, Key=grant["FullPath"], Body=b"jar")
    assert s3.get_object(Bucket=bucket, Key=grant["FullPath"])["Body"].read() == b"jar"
    with pytest.raises(ClientError) as elsewhere:
        temporary.put_object(Bucket=bucket, Key="packages/other.jar", Body=b"x")
    assert elsewhere.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403

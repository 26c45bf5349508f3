"""Seed 002: CreateCosToken issues a temporary key for one package, used through cos-python-sdk-v5."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import requests
from qcloud_cos import CosConfig, CosS3Client
from qcloud_cos.cos_exception import CosServiceError
from ufile.auth import Auth
from ufile.bucketmanager import BucketManager

from tests.e2e.helpers import create_account
from tests.e2e.server import ACCESS_KEY, SECRET_KEY, Server


def cos_token(server: Server, keys: tuple[str, str] = (ACCESS_KEY, SECRET_KEY), **params: object) -> Any:
    query = {"Action": "CreateCosToken", "PublicKey": keys[0], **{k: str(v) for k, v in params.items()}}
    query["Signature"] = Auth(*keys).bucket_signature(query)
    reply = requests.get(server.url + "/", params=query)
    assert reply.status_code == 200 and reply.headers["Content-Type"] == "application/json", reply.text
    body = reply.json()
    assert set(body) == {"Response"} and body["Response"]["RequestId"]
    return body["Response"]


def cos_client(server: Server, result: dict[str, str]) -> CosS3Client:
    config = CosConfig(
        Region=result["Region"],
        SecretId=result["TmpSecretId"],
        SecretKey=result["TmpSecretKey"],
        Token=result["SessionToken"],
        Endpoint=f"127.0.0.1:{server.port}",
        Scheme="http",
    )
    return CosS3Client(config)


def refused(call: Any, code: str = "AccessDenied") -> str:
    with pytest.raises(CosServiceError) as caught:
        call()
    assert caught.value.get_status_code() == 403 and caught.value.get_error_code() == code
    message: str = caught.value.get_error_msg()
    return message


@pytest.fixture
def application(bucket_manager: BucketManager) -> str:
    name = f"app-{uuid.uuid4().hex[:10]}"
    assert bucket_manager.createbucket(name, "cn-bj", "private")[0]["RetCode"] == 0
    return name


def test_upload_then_query_a_package(server: Server, application: str, tmp_path: Path) -> None:
    upload = cos_token(server, ApplicationId=application, PkgName="service.jar", OptType=1, TimeVersion="v7")
    result = upload["Result"]
    assert set(result) == {
        "RequestId", "Bucket", "Region", "TmpSecretId", "TmpSecretKey", "SessionToken", "StartTime", "ExpiredTime",
        "FullPath",
    }  # fmt: skip
    assert result["Bucket"] == application and result["FullPath"] == "packages/v7/service.jar"
    assert int(result["ExpiredTime"]) - int(result["StartTime"]) == 1800
    writer = cos_client(server, result)
    reply = writer.put_object(Bucket=application, Body=b"jar bytes" * 1000, Key=result["FullPath"])
    assert reply["ETag"]
    assert "AllowedPrefixes" in refused(lambda: writer.put_object(Bucket=application, Body=b"x", Key="packages/other"))
    assert "AllowedOps" in refused(lambda: writer.get_object(Bucket=application, Key=result["FullPath"]))

    query = cos_token(server, ApplicationId=application, PkgName="service.jar", OptType=2, TimeVersion="v7")["Result"]
    reader = cos_client(server, query)
    got = reader.get_object(Bucket=application, Key=query["FullPath"])["Body"].get_raw_stream().read()
    assert got == b"jar bytes" * 1000
    assert reader.head_object(Bucket=application, Key=query["FullPath"])["Content-Length"] == str(len(got))
    assert "AllowedOps" in refused(lambda: reader.put_object(Bucket=application, Body=b"x", Key=query["FullPath"]))
    url = reader.get_presigned_url(
        Method="GET", Bucket=application, Key=query["FullPath"], Params={"x-cos-security-token": query["SessionToken"]}
    )
    assert requests.get(url).content == got

    forged = dict(query, SessionToken="not-the-token")
    refused(lambda: cos_client(server, forged).get_object(Bucket=application, Key=query["FullPath"]))
    try:
        server.move_clock(1801)
        assert "ExpireTime" in refused(lambda: reader.get_object(Bucket=application, Key=query["FullPath"]))
    finally:
        server.move_clock(0)


def test_errors_in_tencent_shape(server: Server, application: str, data_dir: Path) -> None:
    def error(**params: object) -> str:
        response = cos_token(server, **params)
        assert set(response) == {"Error", "RequestId"}, response
        code: str = response["Error"]["Code"]
        assert response["Error"]["Message"]
        return code

    assert error(ApplicationId=application, OptType=1) == "MissingParameter"
    assert error(ApplicationId=application, PkgName="a.jar") == "MissingParameter"
    assert error(ApplicationId=application, PkgName="a.jar", OptType=3) == "InvalidParameterValue"
    assert error(ApplicationId=application, PkgName="../a.jar", OptType=1) == "InvalidParameterValue"
    assert error(ApplicationId="no-such-app-here", PkgName="a.jar", OptType=1) == "ResourceNotFound.MicroserviceOffline"
    stranger = create_account(data_dir, f"cos-{uuid.uuid4().hex[:8]}")
    mine = cos_token(server, stranger, ApplicationId=application, PkgName="a.jar", OptType=1)
    assert mine["Error"]["Code"] == "UnauthorizedOperation.UnauthorizedOperation"
    bad = cos_token(server, (ACCESS_KEY, "wrong-secret"), ApplicationId=application, PkgName="a.jar", OptType=1)
    assert bad["Error"]["Code"] == "AuthFailure.SignatureFailure"


def test_at_most_20_a_second(server: Server, data_dir: Path) -> None:
    keys = create_account(data_dir, f"rate-{uuid.uuid4().hex[:8]}")
    name = f"app-{uuid.uuid4().hex[:10]}"
    assert BucketManager(*keys).createbucket(name, "cn-bj", "private")[0]["RetCode"] == 0
    codes = [
        cos_token(server, keys, ApplicationId=name, PkgName="p.jar", OptType=1).get("Error", {}).get("Code")
        for _ in range(30)
    ]
    assert codes.count(None) >= 20 and "RequestLimitExceeded" in codes
    assert set(codes) <= {None, "RequestLimitExceeded"}

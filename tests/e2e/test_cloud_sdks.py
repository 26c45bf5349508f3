"""The clouds' own SDKs call the control actions unchanged: only the endpoint and the keys point at holdall.

Alibaba's ``alibabacloud_hbr20170908`` (ACS3-HMAC-SHA256 and RPC), Tencent's
``tencentcloud-sdk-python-tem`` (TC3 over POST/JSON and GET, and the legacy HmacSHA1/HmacSHA256
parameter signature) and Volcengine's ``volcengine`` VmsService and ``volcenginesdk-vms``. Each
completes its seed's flow, and each refusal raises that SDK's own exception with the cloud's code.
"""

from __future__ import annotations

import ast
import hashlib
import json
import random
import socket
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest
import requests
import volcenginesdkcore
import volcenginesdkvms
from alibabacloud_hbr20170908 import models as hbr_models
from alibabacloud_hbr20170908.client import Client as HbrClient
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_tea_openapi.models import Config as AlibabaConfig
from alibabacloud_tea_openapi.utils import Utils as AlibabaUtils
from tencentcloud.common import credential as tencent_credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.tem.v20210701 import models as tem_models
from tencentcloud.tem.v20210701.tem_client import TemClient
from volcengine.vms.VmsService import VmsService
from volcenginesdkcore.interceptor.interceptors import request as volc_request
from volcenginesdkcore.rest import ApiException

from holdall.auth import volcengine
from holdall.client import sign_call
from tests.e2e.helpers import api, create_account, holdall_cli
from tests.e2e.server import ACCESS_KEY, SECRET_KEY, Server
from tests.e2e.test_cos_token import application, cos_client, refused
from tests.e2e.test_presigned import s3_url
from tests.e2e.test_upload_actions import form_fields

__all__ = ["application"]
Keys = tuple[str, str]
ID3 = b"ID3\x04\x00\x00\x00\x00\x00\x00"
MP3_FRAME = b"\xff\xfb\x90\x64" + bytes(413)  # MPEG-1 Layer III, 128 kbit/s, 44.1 kHz: 417 bytes a frame
MP3 = ID3 + MP3_FRAME * 8
TENCENT_MODES = [("POST", "TC3-HMAC-SHA256"), ("GET", "TC3-HMAC-SHA256"), ("POST", "HmacSHA256"), ("GET", "HmacSHA1")]


# ----------------------------------------------------------------------------- the clients, as a user writes them


def alibaba(server: Server, keys: Keys = (ACCESS_KEY, SECRET_KEY), mode: str = "") -> HbrClient:
    config = AlibabaConfig(
        access_key_id=keys[0], access_key_secret=keys[1], endpoint=f"127.0.0.1:{server.port}", protocol="http"
    )
    if mode:
        config.signature_algorithm = mode
    return HbrClient(config)


def temp_upload_url(client: HbrClient, name: str) -> dict[str, Any]:
    reply = client.create_temp_file_upload_url(hbr_models.CreateTempFileUploadUrlRequest(file_name=name))
    assert reply.status_code == 200
    body: dict[str, Any] = reply.body.to_map()
    return body


def tencent(
    server: Server, keys: Keys = (ACCESS_KEY, SECRET_KEY), method: str = "POST", sign: str = "TC3-HMAC-SHA256",
    token: str | None = None,
) -> TemClient:  # fmt: skip
    http = HttpProfile(endpoint=f"127.0.0.1:{server.port}", protocol="http", reqMethod=method)
    credential = tencent_credential.Credential(keys[0], keys[1], token)
    return TemClient(credential, "ap-guangzhou", ClientProfile(httpProfile=http, signMethod=sign))


def cos_token(client: TemClient, application: str, package: str, opt_type: int = 1) -> dict[str, Any]:
    request = tem_models.CreateCosTokenRequest()
    request.ApplicationId, request.PkgName, request.OptType, request.TimeVersion = application, package, opt_type, "v1"
    result: dict[str, Any] = json.loads(client.CreateCosToken(request).to_json_string())["Result"]
    return result


def volcengine_old(server: Server, keys: Keys = (ACCESS_KEY, SECRET_KEY)) -> VmsService:
    service = VmsService()
    service.set_host(f"127.0.0.1:{server.port}")
    service.set_scheme("http")
    service.set_ak(keys[0])
    service.set_sk(keys[1])
    return service


def volcengine_new(server: Server, keys: Keys = (ACCESS_KEY, SECRET_KEY)) -> volcenginesdkvms.VMSApi:
    config = volcenginesdkcore.Configuration()
    config.ak, config.sk, config.region = keys[0], keys[1], "cn-beijing"
    config.host, config.scheme = f"127.0.0.1:{server.port}", "http"
    return volcenginesdkvms.VMSApi(volcenginesdkcore.ApiClient(config))


def resource_url_old(service: VmsService, name: str) -> str:
    reply = service.get_resource_upload_url({"FileName": name})
    assert "Error" not in reply["ResponseMetadata"], reply
    url: str = reply["Result"]["UploadUrl"]
    return url


def resource_url_new(client: volcenginesdkvms.VMSApi, name: str) -> str:
    url: str = client.get_resource_upload_url(volcenginesdkvms.GetResourceUploadUrlRequest(file_name=name)).upload_url
    return url


# ----------------------------------------------------------------------------- how each SDK reports a refusal


def alibaba_code(call: Callable[[], object]) -> tuple[int, str]:
    with pytest.raises(ClientException) as caught:
        call()
    return caught.value.status_code, caught.value.code


def tencent_code(call: Callable[[], object]) -> str:
    with pytest.raises(TencentCloudSDKException) as caught:
        call()
    assert caught.value.get_request_id()
    return caught.value.get_code()


def volcengine_old_code(call: Callable[[], object]) -> str:
    with pytest.raises(Exception) as caught:
        call()
    text = str(caught.value)  # the SDK raises Exception(str(raw body bytes))
    body = json.loads(ast.literal_eval(text).decode() if text.startswith("b'") else text)
    error = body["ResponseMetadata"]["Error"]
    assert set(error) == {"Code", "CodeN", "Message"}
    code: str = error["Code"]
    return code


def volcengine_new_code(call: Callable[[], object]) -> tuple[int, str, int]:
    with pytest.raises(ApiException) as caught:
        call()
    error = json.loads(caught.value.body)["ResponseMetadata"]["Error"]
    return caught.value.status, error["Code"], error["CodeN"]


@pytest.fixture
def moved_clock(server: Server) -> Iterator[Callable[[float], None]]:
    yield server.move_clock
    server.move_clock(0)


def _name(suffix: str) -> str:
    return f"{uuid.uuid4().hex[:10]}{suffix}"


# ----------------------------------------------------------------------------- Alibaba


@pytest.mark.parametrize("mode", ["", "v2"], ids=["acs3", "rpc"])
def test_alibaba_sdk_temp_file_form_upload(server: Server, mode: str) -> None:
    form = temp_upload_url(alibaba(server, mode=mode), "file list ü.txt")
    assert form["Success"] is True and form["Code"] == "200" and form["TempFileKey"].endswith("/file list ü.txt")
    fields = form_fields(form)
    body = f"uploaded through {mode or 'acs3'}".encode()
    url = f"http://{form['BucketName']}.{form['Endpoint']}/"
    upload = requests.post(url, data=fields, files={"file": ("file list ü.txt", body, "text/plain")})
    assert upload.status_code == 200, upload.text
    assert requests.get(s3_url(server, "GET", form["BucketName"], form["TempFileKey"])).content == body


@pytest.mark.parametrize("mode", ["", "v2"], ids=["acs3", "rpc"])
def test_alibaba_sdk_errors(server: Server, data_dir: Any, moved_clock: Callable[[float], None], mode: str) -> None:
    def code(keys: Keys = (ACCESS_KEY, SECRET_KEY)) -> tuple[int, str]:
        return alibaba_code(lambda: temp_upload_url(alibaba(server, keys, mode), "a.txt"))

    assert code((ACCESS_KEY, "wrong-secret")) == (400, "SignatureDoesNotMatch")
    assert code(("HANOSUCHKEY000000000", SECRET_KEY)) == (404, "InvalidAccessKeyId.NotFound")
    token = api(server, "CreateUFileToken", TokenName=_name(""), **{"AllowedOps.0": "TOKEN_ALLOW_READ"})
    token_keys = (token["UFileTokenSet"]["PublicKey"], token["UFileTokenSet"]["PrivateKey"])
    assert code(token_keys) == (403, "Forbidden.RAM")
    api(server, "DeleteUFileToken", TokenId=token["TokenId"])
    stranger = create_account(data_dir, _name("-ali"))
    assert temp_upload_url(alibaba(server, stranger, mode), "theirs.txt")["Success"] is True
    moved_clock(-905)  # a request 905 s ahead: a slow request eats into the margin, so leave some
    assert code() == (400, "InvalidTimeStamp.Expired")
    moved_clock(600)
    assert temp_upload_url(alibaba(server, mode=mode), "within-skew.txt")["Success"] is True


@pytest.mark.parametrize("mode", ["", "v2"], ids=["acs3", "rpc"])
def test_alibaba_sdk_nonce_is_used_once(server: Server, monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    nonce = uuid.uuid4().hex
    monkeypatch.setattr(AlibabaUtils, "get_nonce", staticmethod(lambda: nonce))
    client = alibaba(server, mode=mode)
    assert temp_upload_url(client, "first.txt")["Success"] is True
    assert alibaba_code(lambda: temp_upload_url(client, "second.txt")) == (400, "SignatureNonceUsed")


# ----------------------------------------------------------------------------- Tencent


@pytest.mark.parametrize(("method", "sign"), TENCENT_MODES)
def test_tencent_sdk_cos_token_then_cos_upload(server: Server, application: str, method: str, sign: str) -> None:
    result = cos_token(tencent(server, method=method, sign=sign), application, f"{method.lower()}-{sign}.jar")
    assert result["Bucket"] == application and result["FullPath"] == f"packages/v1/{method.lower()}-{sign}.jar"
    writer = cos_client(server, result)
    assert writer.put_object(Bucket=application, Body=b"jar bytes", Key=result["FullPath"])["ETag"]
    assert "AllowedPrefixes" in refused(lambda: writer.put_object(Bucket=application, Body=b"x", Key="packages/x"))
    package = result["FullPath"].split("/")[-1]
    reader = cos_client(server, cos_token(tencent(server, method=method, sign=sign), application, package, 2))
    got = reader.get_object(Bucket=application, Key=result["FullPath"])["Body"].get_raw_stream().read()
    assert got == b"jar bytes"


@pytest.mark.parametrize(("method", "sign"), TENCENT_MODES)
def test_tencent_sdk_errors(
    server: Server, application: str, moved_clock: Callable[[float], None], method: str, sign: str
) -> None:
    def code(keys: Keys = (ACCESS_KEY, SECRET_KEY), token: str | None = None) -> str:
        return tencent_code(lambda: cos_token(tencent(server, keys, method, sign, token), application, "e.jar"))

    assert code((ACCESS_KEY, "wrong-secret")) == "AuthFailure.SignatureFailure"
    assert code(("HANOSUCHKEY000000000", SECRET_KEY)) == "AuthFailure.SecretIdNotFound"
    temp = cos_token(tencent(server), application, "t.jar")
    temp_keys = (temp["TmpSecretId"], temp["TmpSecretKey"])
    assert code(temp_keys, temp["SessionToken"]) == "AuthFailure.UnauthorizedOperation"
    assert code(temp_keys) == "AuthFailure.UnauthorizedOperation"
    assert tencent_code(lambda: cos_token(tencent(server, method=method, sign=sign), "no-such-app-x", "a.jar")) == (
        "ResourceNotFound.MicroserviceOffline"
    )
    moved_clock(301)
    assert code() == "AuthFailure.SignatureExpire"
    moved_clock(-240)
    assert cos_token(tencent(server, method=method, sign=sign), application, "skew.jar")["FullPath"]


@pytest.mark.parametrize(("method", "sign"), [("POST", "HmacSHA256"), ("GET", "HmacSHA1")])
def test_tencent_sdk_nonce_is_used_once(
    server: Server, application: str, monkeypatch: pytest.MonkeyPatch, method: str, sign: str
) -> None:
    nonce = random.randrange(1, 2**62)
    monkeypatch.setattr(random, "randint", lambda low, high: nonce)
    client = tencent(server, method=method, sign=sign)
    assert cos_token(client, application, "first.jar")["FullPath"]
    assert tencent_code(lambda: cos_token(client, application, "second.jar")) == "AuthFailure.SignatureExpire"


def test_tencent_errors_are_json_exactly(server: Server, application: str) -> None:
    reply = requests.post(
        server.url + "/",
        data=b"{}",
        headers={"Content-Type": "application/json", "X-TC-Action": "CreateCosToken", "X-TC-Version": "2021-07-01"},
    )
    assert reply.status_code == 200 and reply.headers["Content-Type"] == "application/json"
    assert reply.json()["Response"]["Error"]["Code"] == "AuthFailure.InvalidAuthorization"
    wrong = tencent(server)
    wrong._apiVersion = "2018-01-01"
    assert tencent_code(lambda: cos_token(wrong, application, "v.jar")) == "NoSuchVersion"
    unknown = tencent(server)
    assert tencent_code(lambda: unknown.call_json("CreateBucket", {"BucketName": "x"})) == "InvalidAction"


# ----------------------------------------------------------------------------- Volcengine


def test_volcengine_sdks_resource_url_then_mp3_upload(server: Server) -> None:
    for make_url in (lambda name: resource_url_old(volcengine_old(server), name),
                     lambda name: resource_url_new(volcengine_new(server), name)):  # fmt: skip
        name = _name(".mp3")
        url = make_url(name)
        assert "X-Tos-Algorithm=TOS4-HMAC-SHA256" in url and "X-Tos-Expires=600" in url
        assert make_url(name) == url
        put = requests.put(url, data=MP3)
        assert put.status_code == 200, put.text
        key = unquote(urlsplit(url).path[1:])
        assert requests.get(s3_url(server, "GET", "holdall-resources", key)).content == MP3


def test_volcengine_sdk_errors(server: Server, data_dir: Any, moved_clock: Callable[[float], None]) -> None:
    def old(keys: Keys = (ACCESS_KEY, SECRET_KEY)) -> str:
        return volcengine_old_code(lambda: resource_url_old(volcengine_old(server, keys), _name(".mp3")))

    def new(keys: Keys = (ACCESS_KEY, SECRET_KEY)) -> tuple[int, str, int]:
        return volcengine_new_code(lambda: resource_url_new(volcengine_new(server, keys), _name(".mp3")))

    assert old((ACCESS_KEY, "wrong-secret")) == "SignatureDoesNotMatch"
    assert new((ACCESS_KEY, "wrong-secret")) == (401, "SignatureDoesNotMatch", 100010)
    assert old(("HANOSUCHKEY000000000", SECRET_KEY)) == "InvalidAccessKey"
    assert new(("HANOSUCHKEY000000000", SECRET_KEY)) == (401, "InvalidAccessKey", 100009)
    token = api(server, "CreateUFileToken", TokenName=_name(""), **{"AllowedOps.0": "TOKEN_ALLOW_READ"})
    token_keys = (token["UFileTokenSet"]["PublicKey"], token["UFileTokenSet"]["PrivateKey"])
    assert new(token_keys) == (403, "AccessDenied", 100013)
    api(server, "DeleteUFileToken", TokenId=token["TokenId"])
    moved_clock(901)
    assert old() == "InvalidTimestamp"
    assert new() == (400, "InvalidTimestamp", 100006)


def test_volcengine_sdk_invocation_is_used_once(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    fixed = uuid.uuid4()
    monkeypatch.setattr(volc_request.uuid, "uuid4", lambda: fixed)
    client = volcengine_new(server)
    assert resource_url_new(client, _name(".mp3"))
    assert volcengine_new_code(lambda: resource_url_new(client, _name(".mp3"))) == (400, "InvalidTimestamp", 100006)


def test_seed_003_example_request(server: Server) -> None:
    """The request of seed 003's own example: content-type is sent but not signed, region cn-beijing."""
    body = json.dumps({"FileName": _name(".mp3")}).encode()
    now = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    host = f"127.0.0.1:{server.port}"
    headers = {
        "host": host,
        "content-type": "application/json; charset=UTF-8",
        "x-date": now,
        "x-content-sha256": hashlib.sha256(body).hexdigest(),
    }
    signed = ("host", "x-content-sha256", "x-date")
    query = {"Action": "GetResourceUploadUrl", "Version": "2022-01-01"}
    canonical = volcengine.canonical_request("POST", "/", query.items(), headers, signed, headers["x-content-sha256"])
    scope = f"{now[:8]}/cn-beijing/vms/request"
    to_sign = volcengine.string_to_sign(now, scope, canonical)
    signature = volcengine.signature(SECRET_KEY, now[:8], "cn-beijing", "vms", to_sign)
    headers["authorization"] = volcengine.authorization(ACCESS_KEY, scope, signed, signature)
    reply = requests.post(f"{server.url}/?Action=GetResourceUploadUrl&Version=2022-01-01", data=body, headers=headers)
    assert reply.status_code == 200, reply.text
    assert reply.json()["ResponseMetadata"]["Service"] == "vms"
    assert requests.put(reply.json()["Result"]["UploadUrl"], data=MP3).status_code == 200
    other_host = {**headers, "host": f"localhost:{server.port}"}
    moved = requests.post(
        f"{server.url}/?Action=GetResourceUploadUrl&Version=2022-01-01", data=body, headers=other_host
    )
    assert moved.status_code == 401 and moved.json()["ResponseMetadata"]["Error"]["Code"] == "SignatureDoesNotMatch"


# ----------------------------------------------------------------------------- malformed calls, in each cloud's shape

ACS3_HEADERS = {"x-acs-action": "CreateTempFileUploadUrl", "x-acs-version": "2017-09-08"}
ACS3_AUTH = "ACS3-HMAC-SHA256 Credential=HATESTROOTACCESSKEY0,SignedHeaders=host;x-acs-date,Signature=00"
TC3_HEADERS = {"X-TC-Action": "CreateCosToken", "X-TC-Version": "2021-07-01", "Content-Type": "application/json"}
TC3_AUTH = "TC3-HMAC-SHA256 Credential=HATESTROOTACCESSKEY0/2026-01-01/tem/tc3_request, SignedHeaders=content-type;host, Signature=00"
VOLC_QUERY = "?Action=GetResourceUploadUrl&Version=2022-01-01"
VOLC_AUTH = "HMAC-SHA256 Credential=HATESTROOTACCESSKEY0/20260101/cn-beijing/vms/request, SignedHeaders=host;x-date, Signature=00"
RPC = "?Action=CreateTempFileUploadUrl&Version=2017-09-08&AccessKeyId=HATESTROOTACCESSKEY0&SignatureNonce=1&Signature=x"
LEGACY = "?Action=CreateCosToken&Version=2021-07-01&SecretId=HATESTROOTACCESSKEY0&Nonce=1&Timestamp=1&Signature=x"
MALFORMED = [
    ("alibaba", "", {**ACS3_HEADERS}, b"", (400, "IncompleteSignature")),
    ("alibaba", "", {**ACS3_HEADERS, "Authorization": "ACS3-HMAC-SHA256 nonsense"}, b"", (400, "IncompleteSignature")),
    ("alibaba", "", {**ACS3_HEADERS, "Authorization": "ACS3-HMAC-SM3 Credential=a"}, b"", (400, "InvalidSignatureMethod")),
    ("alibaba", "", {**ACS3_HEADERS, "Authorization": ACS3_AUTH, "x-acs-date": "yesterday", "x-acs-signature-nonce": "n",
                     "x-acs-content-sha256": hashlib.sha256(b"").hexdigest()}, b"", (400, "IncompleteSignature")),
    ("alibaba", "", {**ACS3_HEADERS, "x-acs-version": "2020-01-01"}, b"", (400, "InvalidVersion")),
    ("alibaba", "", {**ACS3_HEADERS, "x-acs-action": "CreateCosToken"}, b"", (404, "InvalidAction.NotFound")),
    ("alibaba", "?FileName=a&FileName=b", {**ACS3_HEADERS}, b"", (400, "InvalidParameter")),
    ("alibaba", RPC + "&SignatureMethod=HMAC-SHA256&Timestamp=2026-01-01T00:00:00Z", {}, b"", (400, "InvalidSignatureMethod")),
    ("alibaba", RPC + "&SignatureMethod=HMAC-SHA1&Timestamp=soon", {}, b"", (400, "InvalidTimeStamp.Format")),
    ("alibaba", "", {**ACS3_HEADERS, "Content-Type": "application/json"}, b"x" * 70000, (400, "InvalidParameter")),
    ("tencent", "", {**TC3_HEADERS, "Authorization": "TC3-HMAC-SHA256 Credential=x"}, b"{}", "AuthFailure.InvalidAuthorization"),
    ("tencent", "", {**TC3_HEADERS, "Authorization": TC3_AUTH, "X-TC-Timestamp": "abc"}, b"{}", "AuthFailure.InvalidAuthorization"),
    ("tencent", "", {**TC3_HEADERS, "Authorization": TC3_AUTH, "X-TC-Timestamp": "1"}, b"{}", "AuthFailure.SignatureExpire"),
    ("tencent", "", {**TC3_HEADERS}, b"[1, 2", "InvalidParameterValue"),
    ("tencent", "", {**TC3_HEADERS}, b'{"OptType": {"a": 1}}', "InvalidParameterValue"),
    ("tencent", "", {**TC3_HEADERS, "X-TC-Action": "GetResourceUploadUrl"}, b"{}", "InvalidAction"),
    ("tencent", LEGACY + "&SignatureMethod=HmacMD5", {}, b"", "AuthFailure.InvalidAuthorization"),
    ("tencent", LEGACY, {}, b"", "AuthFailure.SignatureExpire"),
    ("volcengine", VOLC_QUERY, {"X-Date": "20260101T000000Z"}, b"", (401, "MissingAuthenticationToken", 100003)),
    ("volcengine", VOLC_QUERY, {"Authorization": "HMAC-SHA256 Credential=a/b"}, b"", (400, "InvalidAuthorization", 100024)),
    ("volcengine", VOLC_QUERY, {"Authorization": VOLC_AUTH, "X-Date": "today"}, b"", (400, "InvalidTimestamp", 100006)),
    ("volcengine", VOLC_QUERY, {"Authorization": VOLC_AUTH, "X-Date": "20260101T000000Z"}, b"", (400, "InvalidTimestamp", 100006)),
    ("volcengine", "?Action=GetResourceUploadUrl&Version=1", {"Authorization": VOLC_AUTH}, b"", (404, "InvalidActionOrVersion", 100008)),
]  # fmt: skip


@pytest.mark.parametrize(("cloud", "query", "headers", "body", "expected"), MALFORMED)
def test_malformed_calls_get_the_clouds_code(
    server: Server, cloud: str, query: str, headers: dict[str, str], body: bytes, expected: object
) -> None:
    reply = requests.post(server.url + "/" + query, data=body, headers=headers)
    assert reply.headers["Content-Type"] == "application/json", reply.text
    document = reply.json()
    if cloud == "alibaba":
        assert set(document) == {"RequestId", "Code", "Message"}, document
        assert (reply.status_code, document["Code"]) == expected, document
    elif cloud == "tencent":
        assert reply.status_code == 200 and set(document["Response"]) == {"Error", "RequestId"}, document
        assert document["Response"]["Error"]["Code"] == expected, document
    else:
        error = document["ResponseMetadata"]["Error"]
        assert (reply.status_code, error["Code"], error["CodeN"]) == expected, document


def test_a_disabled_accounts_keys_are_refused_by_every_sdk(server: Server, data_dir: Any) -> None:
    name = _name("-off")
    keys = create_account(data_dir, name)
    assert temp_upload_url(alibaba(server, keys), "before.txt")["Success"] is True
    holdall_cli(data_dir, "account", "disable", name)
    assert alibaba_code(lambda: temp_upload_url(alibaba(server, keys), "after.txt")) == (
        400,
        "InvalidAccessKeyId.Inactive",
    )
    assert tencent_code(lambda: cos_token(tencent(server, keys), "any-app", "a.jar")) == (
        "AuthFailure.UnauthorizedOperation"
    )
    assert volcengine_new_code(lambda: resource_url_new(volcengine_new(server, keys), _name(".mp3"))) == (
        403,
        "AccessDenied",
        100013,
    )


SIGNED_CALLS = [
    ("ufile", "CreateTempFileUploadUrl", {"FileName": "u.txt"}, "", ""),
    ("acs3", "CreateTempFileUploadUrl", {"FileName": "a dir ü~*.txt"}, "2017-09-08", ""),
    ("alibaba-rpc", "CreateTempFileUploadUrl", {"FileName": "a+b ü.txt"}, "2017-09-08", ""),
    ("tc3", "CreateCosToken", {"PkgName": "t.jar", "OptType": 1}, "2021-07-01", "tem"),
    ("tencent-legacy", "CreateCosToken", {"PkgName": "l.jar", "OptType": 2}, "2021-07-01", "tem"),
    ("volcengine", "GetResourceUploadUrl", {"FileName": "v.mp3"}, "2022-01-01", "vms"),
]


@pytest.mark.parametrize(("scheme", "action", "params", "version", "service"), SIGNED_CALLS)
def test_holdalls_own_signer_speaks_every_scheme(
    server: Server, application: str, scheme: str, action: str, params: dict[str, Any], version: str, service: str
) -> None:
    if action == "CreateCosToken":
        params = {"ApplicationId": application, **params}
    if action == "GetResourceUploadUrl":
        params = {"FileName": _name(".mp3")}
    call = sign_call(scheme, server.url, ACCESS_KEY, SECRET_KEY, action, params, version=version, service=service)
    reply = requests.request(call.method, call.url, headers=call.headers, data=call.body)
    document = reply.json()
    assert reply.status_code == 200, document
    assert "Error" not in document.get("Response", {}) and "Error" not in document.get("ResponseMetadata", {})
    assert document.get("Success") is True or "Result" in document or "Result" in document.get("Response", {})
    if scheme in ("acs3", "alibaba-rpc", "tencent-legacy"):
        again = requests.request(call.method, call.url, headers=call.headers, data=call.body)
        code = again.json().get("Code") or again.json()["Response"]["Error"]["Code"]
        assert code in ("SignatureNonceUsed", "AuthFailure.SignatureExpire")


# ----------------------------------------------------------------------------- re-cut signatures and unreadable calls


def test_a_ufile_signed_call_cannot_fold_a_parameter_into_a_value(server: Server, bucket: str) -> None:
    """Name+value concatenation: ``TokenName=t`` and ``WhiteIPList.0=ip`` sign like ``TokenName=tWhiteIPList.0ip``."""
    name = _name("")
    signed = sign_call(
        "ufile", server.url, ACCESS_KEY, SECRET_KEY, "CreateUFileToken",
        {"TokenName": name, "AllowedOps.0": "TOKEN_ALLOW_READ", "WhiteIPList.0": "10.9.9.9"},
    )  # fmt: skip
    query = dict(parse_qsl(urlsplit(signed.url).query))
    del query["WhiteIPList.0"]
    query["TokenName"] = f"{name}WhiteIPList.010.9.9.9"
    reply = requests.get(server.url + "/", params=query).json()
    assert reply["RetCode"] == 15017 and "WhiteIPList." in reply["Message"], reply
    application = {"ApplicationId": bucket, "PkgName": "p.jar", "OptType": 1, "TimeVersion": "v1"}
    signed = sign_call("ufile", server.url, ACCESS_KEY, SECRET_KEY, "CreateCosToken", application, version="2021-07-01")
    query = dict(parse_qsl(urlsplit(signed.url).query))
    query["TimeVersion"] = "v1Version" + query.pop("Version")
    error = requests.get(server.url + "/", params=query).json()["Response"]["Error"]
    assert error["Code"] == "InvalidParameterValue" and "Version" in error["Message"], error


def test_a_tencent_legacy_value_cannot_swallow_the_next_parameter(server: Server, application: str) -> None:
    call = sign_call(
        "tencent-legacy", server.url, ACCESS_KEY, SECRET_KEY, "CreateCosToken",
        {"ApplicationId": application, "PkgName": "e.jar", "OptType": 1}, version="2021-07-01", service="tem",
    )  # fmt: skip
    form = dict(parse_qsl(call.body.decode()))
    form["PkgName"] += "&Region=" + form.pop("Region")  # the same legacy string to sign
    reply = requests.post(call.url, data=form).json()["Response"]
    assert reply["Error"]["Code"] == "InvalidParameterValue" and "&" in reply["Error"]["Message"], reply


UNREADABLE = [
    ("tencent", "", {"Content-Type": "application/x-www-form-urlencoded"}, b"SecretId=a&PkgName=%ff&Nonce=1"),
    ("alibaba", "", {"Content-Type": "application/x-www-form-urlencoded"}, b"AccessKeyId=a&FileName=x&FileName=y"),
    ("tencent", "?SecretId=a&PkgName=%ff", {}, b""),
    ("alibaba", "", {**ACS3_HEADERS, "Content-Type": "application/json"}, b'{"FileName": "\\ud800"}'),
    ("tencent", "", {**TC3_HEADERS, "Authorization": TC3_AUTH, "X-TC-Timestamp": "999999999999"}, b"{}"),
    ("volcengine", VOLC_QUERY, {"Authorization": VOLC_AUTH, "Content-Type": "application/json"}, b'{"FileName": "\\udfff"}'),
]  # fmt: skip


@pytest.mark.parametrize(("cloud", "query", "headers", "body"), UNREADABLE)
def test_unreadable_calls_answer_in_the_signers_envelope(
    server: Server, cloud: str, query: str, headers: dict[str, str], body: bytes
) -> None:
    reply = requests.post(server.url + "/" + query, data=body, headers=headers)
    assert reply.headers["Content-Type"] == "application/json" and reply.status_code < 500, reply.text
    document = reply.json()
    if cloud == "alibaba":
        assert reply.status_code == 400 and set(document) == {"RequestId", "Code", "Message"}, document
    elif cloud == "tencent":
        assert reply.status_code == 200 and "InternalError" not in document["Response"]["Error"]["Code"], document
    else:
        assert "InternalError" not in document["ResponseMetadata"]["Error"]["Code"], document


def test_an_oversized_body_is_refused_before_it_is_read(server: Server) -> None:
    head = (
        f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nx-acs-action: CreateTempFileUploadUrl\r\n"
        "x-acs-version: 2017-09-08\r\nContent-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n{}"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(head)
        reply = sock.recv(65536)
    assert reply.startswith(b"HTTP/1.1 400") and b'"Code": "InvalidParameter"' in reply, reply

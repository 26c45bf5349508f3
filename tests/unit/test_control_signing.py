"""holdall's Alibaba, Tencent and Volcengine OpenAPI signing code against the signers inside their SDKs."""

from __future__ import annotations

import hashlib
import hmac
from types import SimpleNamespace

import pytest
from alibabacloud_tea_openapi.utils import Utils as AlibabaUtils
from hypothesis import given
from hypothesis import strategies as st
from tencentcloud.common.sign import Sign as TencentSign
from volcengine.auth.MetaData import MetaData
from volcengine.auth.SignerV4 import SignerV4

from holdall.auth import alibaba, tencent, volcengine
from holdall.errors import MalformedSignature, UnsupportedSignatureMethod
from holdall.server import envelopes
from holdall.server.http import BodyIncomplete

SECRET = "secret/example+key"
text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30)
params = st.dictionaries(st.from_regex(r"[A-Za-z][A-Za-z0-9.]{0,15}", fullmatch=True), text, max_size=6)


@given(params)
def test_alibaba_rpc_matches_tea_openapi(values: dict[str, str]) -> None:
    expected = AlibabaUtils.get_rpcsignature(values, "POST", SECRET)
    assert alibaba.rpc_signature(SECRET, alibaba.rpc_string_to_sign("POST", values)) == expected


@given(params)
def test_alibaba_acs3_matches_tea_openapi(query: dict[str, str]) -> None:
    headers = {
        "host": "127.0.0.1:9000",
        "x-acs-action": "CreateTempFileUploadUrl",
        "x-acs-date": "2026-01-01T00:00:00Z",
    }
    payload = hashlib.sha256(b"").hexdigest()
    request = SimpleNamespace(pathname="/", query=query, headers=headers, method="POST")
    expected = AlibabaUtils.get_authorization(request, alibaba.ACS3, payload, "AK", SECRET)
    signed = tuple(sorted(headers))
    canonical = alibaba.acs3_canonical_request("POST", "/", query.items(), headers, signed, payload)
    signature = alibaba.acs3_signature(SECRET, alibaba.acs3_string_to_sign(canonical))
    assert alibaba.acs3_authorization("AK", signed, signature) == expected
    assert alibaba.parse_acs3_authorization(expected) == alibaba.Acs3Credential("AK", signed, signature)


def test_tencent_tc3_and_legacy_match_the_sdk() -> None:
    to_sign = "TC3-HMAC-SHA256\n1700000000\n2023-11-14/tem/tc3_request\nabc"
    assert tencent.tc3_signature(SECRET, "2023-11-14", "tem", to_sign) == TencentSign.sign_tc3(
        SECRET, "2023-11-14", "tem", to_sign
    )
    values = {"Action": "CreateCosToken", "Nonce": "7", "PkgName": "a b/ü", "SecretId": "AK", "Signature": "x"}
    string = tencent.legacy_string_to_sign("GET", "127.0.0.1:9000", "/", values)
    assert string == "GET127.0.0.1:9000/?Action=CreateCosToken&Nonce=7&PkgName=a b/ü&SecretId=AK"
    for method in ("HmacSHA1", "HmacSHA256"):
        assert tencent.legacy_signature(SECRET, method, string) == TencentSign.sign(SECRET, string, method)
    with pytest.raises(UnsupportedSignatureMethod):
        tencent.legacy_signature(SECRET, "HmacMD5", string)


@given(params, st.sampled_from(["127.0.0.1:9000", "example.com:80", "example.com:443", "[::1]:8080"]))
def test_volcengine_matches_the_sdk(query: dict[str, str], host: str) -> None:
    body = b'{"FileName": "a.mp3"}'
    request = SimpleNamespace(
        method="POST",
        path="/",
        query=query,
        body=body,
        headers={"Host": host, "Content-Type": "application/json", "X-Date": "20260101T000000Z"},
    )
    meta = MetaData()
    expected = SignerV4.hashed_canonical_request_v4(request, meta)
    headers = {name.lower(): value for name, value in request.headers.items()}
    signed = tuple(meta.signed_headers.split(";"))
    canonical = volcengine.canonical_request(
        "POST", "/", query.items(), headers, signed, hashlib.sha256(body).hexdigest()
    )
    assert hashlib.sha256(canonical.encode()).hexdigest() == expected
    key = SignerV4.get_signing_secret_key_v4(SECRET, "20260101", "cn-beijing", "vms")
    to_sign = volcengine.string_to_sign("20260101T000000Z", "20260101/cn-beijing/vms/request", canonical)
    assert volcengine.signature(SECRET, "20260101", "cn-beijing", "vms", to_sign) == (
        hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    )


@pytest.mark.parametrize(
    "value",
    [
        "",
        "HMAC-SHA256",
        "HMAC-SHA256 Credential=a/b/c/d/request",
        "HMAC-SHA256 Credential=a/20260101/r/vms/request, SignedHeaders=x-date;host, Signature=00",
        "HMAC-SHA256 Credential=a/20260101/r/vms/request, SignedHeaders=host, Signature=00",
        "HMAC-SHA256 Credential=a/20260101/r/vms/request, SignedHeaders=host;x-date, Signature=00, Extra=1",
        "HMAC-SHA256 Credential=a/20260101/r/vms/other, SignedHeaders=host;x-date, Signature=00",
    ],
)
def test_malformed_volcengine_authorization_is_refused(value: str) -> None:
    with pytest.raises((MalformedSignature, UnsupportedSignatureMethod)):
        volcengine.parse_authorization(value)


@pytest.mark.parametrize(
    "value",
    [
        "TC3-HMAC-SHA256 Credential=a/2026-01-01/tem/tc3_request, SignedHeaders=host, Signature=00",
        "TC3-HMAC-SHA256 Credential=a/2026-01-01/tem, SignedHeaders=content-type;host, Signature=00",
        "TC3-HMAC-SHA256 Credential=a/2026-01-01/tem/tc3_request, SignedHeaders=host;content-type, Signature=00",
        "TC3-HMAC-SHA256 Credential=a/2026-01-01/tem/tc3_request, Signature=00",
    ],
)
def test_malformed_tc3_authorization_is_refused(value: str) -> None:
    with pytest.raises(MalformedSignature):
        tencent.parse_tc3_authorization(value)


def test_every_envelope_answers_any_error() -> None:
    for table in (envelopes.ALIBABA, envelopes.TENCENT, envelopes.VOLCENGINE, envelopes.UFILE):
        assert envelopes.lookup(table, BodyIncomplete()).status < 500
        assert envelopes.lookup(table, KeyError("x")) == table[-1][1]

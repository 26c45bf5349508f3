"""The pure signing code of every dialect against the vendors' SDKs, and the parsers against anything."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qsl, unquote, urlsplit

import boto3
import botocore.config
import oss2
import pytest
import tos
from hypothesis import given
from hypothesis import strategies as st
from qcloud_cos import CosConfig, CosS3Client

from holdall.auth import cos, policy, v1, v4
from holdall.client import presign_url
from holdall.service.cors import CorsRuleError, parse_rules
from holdall.service.formats import sniff

AK, SK = "AKIDEXAMPLE", "secret/example+key"
HOST = "127.0.0.1:9000"


def split(url: str) -> tuple[str, str, dict[str, str]]:
    parts = urlsplit(url)
    return parts.netloc, unquote(parts.path), dict(parse_qsl(parts.query, keep_blank_values=True))


def v4_recomputed(dialect: v4.V4Dialect, url: str, method: str, uri: str, headers: dict[str, str]) -> tuple[str, str]:
    host, _, query = split(url)
    parsed = v4.parse_query(dialect, query)
    names = v4.header_names(parsed, headers)
    canonical = v4.canonical_request(parsed, method, uri, query, headers, names)
    text = v4.string_to_sign(parsed, canonical)
    return v4.signature(dialect, SK, parsed.date, parsed.region, text), parsed.signature


def test_aws_sigv4_matches_botocore() -> None:
    client = boto3.client(
        "s3", endpoint_url=f"http://{HOST}", aws_access_key_id=AK, aws_secret_access_key=SK, region_name="us-west-2",
        config=botocore.config.Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )  # fmt: skip
    url = client.generate_presigned_url(
        "put_object", Params={"Bucket": "bkt", "Key": "a b/c+d~é.txt", "ContentType": "text/plain"}, ExpiresIn=60
    )
    computed, claimed = v4_recomputed(
        v4.AWS4, url, "PUT", "/bkt/a b/c+d~é.txt", {"host": HOST, "content-type": "text/plain"}
    )
    assert computed == claimed


def test_oss_v4_matches_oss2() -> None:
    url = oss2.Bucket(oss2.AuthV4(AK, SK), f"http://{HOST}", "bkt", region="cn-hangzhou").sign_url(
        "PUT", "dir/a b.txt", 60, headers={"Content-Type": "image/png", "x-oss-meta-a": "1"}
    )
    headers = {"host": HOST, "content-type": "image/png", "x-oss-meta-a": "1"}
    computed, claimed = v4_recomputed(v4.OSS4, url, "PUT", "/bkt/dir/a b.txt", headers)
    assert computed == claimed


def test_tos_v4_matches_tos() -> None:
    url = (
        tos.TosClientV2(AK, SK, f"http://{HOST}", "cn-beijing")
        .pre_signed_url(tos.HttpMethodType.Http_Method_Get, "bkt", "x/y z.wav", 60)
        .signed_url
    )
    computed, claimed = v4_recomputed(v4.TOS4, url, "GET", "/x/y z.wav", {"host": f"bkt.{HOST}"})
    assert computed == claimed


def test_oss_v1_matches_oss2() -> None:
    url = oss2.Bucket(oss2.Auth(AK, SK), f"http://{HOST}", "bkt").sign_url("GET", "k/é", 60)
    _, _, query = split(url)
    parsed = v1.parse_query(v1.OSS1, query)
    text = v1.string_to_sign(parsed, "GET", v1.canonical_resource(v1.OSS1, "/bkt/k/é", query), {}, content_type="")
    assert v1.signature(SK, text) == parsed.signature


def test_cos_matches_the_cos_sdk() -> None:
    config = CosConfig(Region="ap-guangzhou", SecretId=AK, SecretKey=SK, Endpoint=HOST, Scheme="http")
    url = CosS3Client(config).get_presigned_url(Method="PUT", Bucket="bkt-1250000000", Key="a b/c.txt", Expired=60)
    host, _, query = split(url)
    parsed = cos.parse_query(query, {})
    text = cos.string_to_sign(parsed, cos.http_string(parsed, "PUT", "/a b/c.txt", query, {"host": host}))
    assert cos.signature(SK, parsed.key_time, text) == parsed.signature


def test_local_presign_round_trips_through_the_verifier() -> None:
    for dialect in (v4.AWS4, v4.OSS4, v4.TOS4):
        url = presign_url("PUT", f"http://{HOST}", "bkt", "k e/y", AK, SK, dialect=dialect.name, virtual_host=True)
        host, _, _ = split(url)
        uri = "/bkt/k e/y" if dialect is v4.OSS4 else "/k e/y"
        computed, claimed = v4_recomputed(dialect, url, "PUT", uri, {"host": host})
        assert computed == claimed, dialect.name


def test_policy_parse_and_check() -> None:
    document = {
        "expiration": "2030-01-01T00:00:00.000Z",
        "conditions": [{"bucket": "b"}, ["starts-with", "$key", "up/"], ["content-length-range", 1, 10]],
    }
    parsed = policy.parse(base64.b64encode(json.dumps(document).encode()).decode())
    assert parsed.length_range == (1, 10)
    policy.check(parsed, {"bucket": "b", "key": "up/x"}, now=0)
    for fields, now in (({"bucket": "b", "key": "down/x"}, 0), ({"bucket": "c", "key": "up/x"}, 0), ({}, 2e9)):
        with pytest.raises(policy.PolicyError):
            policy.check(parsed, fields, now)


@given(st.one_of(st.text(max_size=200), st.binary(max_size=200).map(lambda b: base64.b64encode(b).decode())))
def test_policy_parser_only_ever_raises_policy_error(text: str) -> None:
    try:
        policy.parse(text)
    except policy.PolicyError:
        pass


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=15), children, max_size=4),
    max_leaves=20,
)


@given(json_values)
def test_cors_rules_parser_only_ever_raises_its_error(document: object) -> None:
    try:
        parse_rules(json.dumps(document))
    except CorsRuleError:
        pass


def test_file_signatures() -> None:
    assert sniff(b"RIFF\x00\x00\x00\x00WAVEfmt ", ("wav",))
    assert sniff(b"ID3\x04" + bytes(8), ("mp3",)) and sniff(b"\xff\xfb\x90\x00" + bytes(8), ("mp3",))
    assert not sniff(b"RIFF\x00\x00\x00\x00AVI LIST", ("wav", "mp3"))
    assert not sniff(b"<html>hello</html>", ("wav", "mp3"))

"""Tokens (seed 004 §21–23): the ufile SDK signing with a token's key pair, allowed and refused by each rule."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests
from ufile import filemanager
from ufile.bucketmanager import BucketManager

from tests.e2e.helpers import api, call, create_account, holdall_cli, numbered
from tests.e2e.server import Server

ALL_OPS = ["TOKEN_ALLOW_READ", "TOKEN_ALLOW_WRITE", "TOKEN_ALLOW_DELETE", "TOKEN_ALLOW_LIST"]


def make_token(server: Server, *, ops: list[str], keys: tuple[str, str] | None = None, **params: Any) -> dict[str, Any]:
    extra = {**numbered("AllowedOps", ops)}
    for name in ("AllowedPrefixes", "AllowedBuckets", "WhiteIPList", "BlackIPList"):
        if name in params:
            extra.update(numbered(name, params.pop(name)))
    reply = api(server, "CreateUFileToken", **({"keys": keys} if keys else {}), TokenName="t", **extra, **params)
    assert reply["RetCode"] == 0, reply
    token: dict[str, Any] = reply["UFileTokenSet"]
    assert token["TokenId"] == reply["TokenId"] and token["PublicKey"] == f"TOKEN_{reply['TokenId']}"
    return token


def files_of(token: dict[str, Any]) -> filemanager.FileManager:
    return filemanager.FileManager(token["PublicKey"], token["PrivateKey"])


def keys_of(token: dict[str, Any]) -> tuple[str, str]:
    return token["PublicKey"], token["PrivateKey"]


def refused(resp: Any, rule: str) -> None:
    assert resp.status_code == 403, (resp.status_code, resp.error)
    assert rule in resp.error, resp.error


@pytest.fixture
def local_file(tmp_path: Path) -> Path:
    path = tmp_path / "f.txt"
    path.write_bytes(b"token test contents")
    return path


def test_create_describe_update_delete(server: Server, bucket: str) -> None:
    expire = int(time.time()) + 3600
    token = make_token(
        server,
        ops=["TOKEN_ALLOW_READ", "TOKEN_ALLOW_WRITE"],
        AllowedPrefixes=["test/test", "test1/test1"],
        AllowedBuckets=[bucket],
        ExpireTime=expire,
        Region="cn-bj",
    )
    described = api(server, "DescribeUFileToken", TokenId=token["TokenId"], Region="cn-bj")
    assert described["RetCode"] == 0
    (item,) = described["DataSet"]
    for field in ("TokenId", "TokenName", "PublicKey", "PrivateKey", "CreateTime", "ModifyTime"):
        assert item[field] == token[field]
    assert item["AllowedOps"] == ["TOKEN_ALLOW_READ", "TOKEN_ALLOW_WRITE"]
    assert item["AllowedPrefixes"] == ["test/test", "test1/test1"]
    assert item["AllowedBuckets"] == [bucket]
    assert item["ExpireTime"] == expire and item["Region"] == "cn-bj"
    every = api(server, "DescribeUFileToken")["DataSet"]
    assert token["TokenId"] in {t["TokenId"] for t in every}

    update = {"TokenId": token["TokenId"], "TokenName": "renamed", **numbered("AllowedOps", ["TOKEN_ALLOW_LIST"])}
    assert api(server, "UpdateUFileToken", **update) == {"RetCode": 0, "Action": "UpdateUFileTokenResponse"}
    (item,) = api(server, "DescribeUFileToken", TokenId=token["TokenId"])["DataSet"]
    assert item["TokenName"] == "renamed" and item["AllowedOps"] == ["TOKEN_ALLOW_LIST"]
    assert item["AllowedPrefixes"] == ["test/test", "test1/test1"]  # not given: unchanged

    assert api(server, "DeleteUFileToken", TokenId=token["TokenId"], Region="cn-bj")["RetCode"] == 0
    for action in ("DescribeUFileToken", "UpdateUFileToken", "DeleteUFileToken"):
        assert api(server, action, TokenId=token["TokenId"])["RetCode"] == 15040
    ret, resp = files_of(token).getfilelist(bucket)
    assert resp.status_code == 403  # a deleted token's keys stop working


def test_parameter_errors(server: Server, bucket: str) -> None:
    ops = numbered("AllowedOps", ["TOKEN_ALLOW_READ"])
    assert api(server, "CreateUFileToken", **ops)["RetCode"] == 15002
    assert api(server, "CreateUFileToken", TokenName="t")["RetCode"] == 15002
    bad_op = api(server, "CreateUFileToken", TokenName="t", **numbered("AllowedOps", ["TOKEN_ALLOW_ALL"]))
    assert bad_op["RetCode"] == 15017 and "TOKEN_ALLOW_ALL" in bad_op["Message"]
    no_bucket = api(server, "CreateUFileToken", TokenName="t", **ops, **numbered("AllowedBuckets", ["nope-nope"]))
    assert no_bucket["RetCode"] == 15039
    past = api(server, "CreateUFileToken", TokenName="t", **ops, ExpireTime=int(time.time()) - 10)
    assert past["RetCode"] == 15018
    not_int = api(server, "CreateUFileToken", TokenName="t", **ops, ExpireTime="soon")
    assert not_int["RetCode"] == 15017
    bad_ip = api(server, "CreateUFileToken", TokenName="t", **ops, **numbered("WhiteIPList", ["300.1.1.1"]))
    assert bad_ip["RetCode"] == 15017
    bad_project = api(server, "CreateUFileToken", TokenName="t", **ops, ProjectId="org-missing")
    assert bad_project["RetCode"] == 15017
    assert api(server, "UpdateUFileToken")["RetCode"] == 15002


def test_allowed_ops(server: Server, bucket: str, local_file: Path) -> None:
    reader = files_of(make_token(server, ops=["TOKEN_ALLOW_READ"]))
    writer = files_of(make_token(server, ops=["TOKEN_ALLOW_WRITE"]))
    deleter = files_of(make_token(server, ops=["TOKEN_ALLOW_DELETE"]))
    lister = files_of(make_token(server, ops=["TOKEN_ALLOW_LIST"]))

    ret, resp = writer.putfile(bucket, "ops/a.txt", str(local_file))
    assert resp.status_code == 200, resp.error
    ret, resp = reader.putfile(bucket, "ops/b.txt", str(local_file))
    refused(resp, "AllowedOps")

    out = local_file.parent / "out"
    ret, resp = reader.download_file(bucket, "ops/a.txt", str(out))
    assert resp.status_code == 200 and out.read_bytes() == local_file.read_bytes()
    url = reader.private_download_url(bucket, "ops/a.txt", expires=300)
    assert requests.get(url).content == local_file.read_bytes()
    ret, resp = reader.head_file(bucket, "ops/a.txt")
    assert resp.status_code == 200
    ret, resp = writer.download_file(bucket, "ops/a.txt", str(out))
    refused(resp, "AllowedOps")
    assert requests.get(writer.private_download_url(bucket, "ops/a.txt", expires=300)).status_code == 403

    ret, resp = lister.getfilelist(bucket, prefix="ops/")
    assert resp.status_code == 200 and [f["FileName"] for f in ret["DataSet"]] == ["ops/a.txt"]
    ret, resp = lister.listobjects(bucket, prefix="ops/", marker="", maxkeys=10, delimiter="/")
    assert resp.status_code == 200
    ret, resp = reader.getfilelist(bucket)
    refused(resp, "AllowedOps")

    ret, resp = writer.deletefile(bucket, "ops/a.txt")
    refused(resp, "AllowedOps")
    ret, resp = deleter.deletefile(bucket, "ops/a.txt")
    assert resp.status_code == 204
    ret, resp = reader.head_file(bucket, "ops/a.txt")
    assert resp.status_code == 404

    none = files_of(make_token(server, ops=["TOKEN_ALLOW_NONE"]))
    ret, resp = none.getfilelist(bucket)
    refused(resp, "AllowedOps")


def test_allowed_prefixes_on_the_decoded_key(server: Server, bucket: str, local_file: Path) -> None:
    token = make_token(server, ops=ALL_OPS, AllowedPrefixes=["uploads/", "logs/2026-"])
    files = files_of(token)
    assert files.putfile(bucket, "uploads/ok.txt", str(local_file))[1].status_code == 200
    assert files.putfile(bucket, "logs/2026-11.txt", str(local_file))[1].status_code == 200
    ret, resp = files.putfile(bucket, "secrets/no.txt", str(local_file))
    refused(resp, "AllowedPrefixes")
    ret, resp = files.putfile(bucket, "logs/2025.txt", str(local_file))
    refused(resp, "AllowedPrefixes")
    # an encoded slash is decoded before the rule: "uploads%2Fx" is the key "uploads/x", inside the prefix
    assert call(server, "PUT", bucket, "uploads%2Fenc", sign_key="uploads/enc", data=b"1", keys=keys_of(token)).ok
    # "x/../uploads/y" is a name, not a path: it does not start with "uploads/"
    outside = call(
        server, "PUT", bucket, "x/%2E%2E/uploads/y", sign_key="x/../uploads/y", data=b"1", keys=keys_of(token)
    )
    assert outside.status_code == 403 and "AllowedPrefixes" in outside.json()["ErrMsg"]

    url = files.private_download_url(bucket, "secrets/no.txt", expires=300)
    reply = requests.get(url)
    assert reply.status_code == 403 and "AllowedPrefixes" in reply.json()["ErrMsg"]
    ret, resp = files.getfilelist(bucket, prefix="uploads/")
    assert resp.status_code == 200
    ret, resp = files.getfilelist(bucket)
    refused(resp, "AllowedPrefixes")

    star = files_of(make_token(server, ops=ALL_OPS, AllowedPrefixes=["*"]))
    assert star.putfile(bucket, "anything/at/all", str(local_file))[1].status_code == 200


def test_allowed_buckets(server: Server, bucket: str, bucket_manager: BucketManager, local_file: Path) -> None:
    other = f"t-{uuid.uuid4().hex[:12]}"
    assert bucket_manager.createbucket(other, "cn-bj", "private")[0]["RetCode"] == 0
    files = files_of(make_token(server, ops=ALL_OPS, AllowedBuckets=[bucket]))
    assert files.putfile(bucket, "b.txt", str(local_file))[1].status_code == 200
    ret, resp = files.putfile(other, "b.txt", str(local_file))
    refused(resp, "AllowedBuckets")
    # copying out of a bucket the token may not read is refused too
    assert call(server, "PUT", other, "src", data=b"secret").ok
    copy = call(
        server,
        "PUT",
        bucket,
        "stolen",
        headers={"X-Ufile-Copy-Source": f"/{other}/src"},
        keys=keys_of(make_token(server, ops=ALL_OPS, AllowedBuckets=[bucket])),
    )
    assert copy.status_code == 403 and "AllowedBuckets" in copy.json()["ErrMsg"]


def test_deny_update(server: Server, bucket: str, local_file: Path) -> None:
    token = make_token(server, ops=["TOKEN_ALLOW_WRITE", "TOKEN_ALLOW_READ", "TOKEN_DENY_UPDATE"])
    files, keys = files_of(token), keys_of(token)
    assert files.putfile(bucket, "once.txt", str(local_file))[1].status_code == 200
    ret, resp = files.putfile(bucket, "once.txt", str(local_file))
    refused(resp, "TOKEN_DENY_UPDATE")
    ret, resp = files.putstream(bucket, "once.txt", local_file.open("rb"))
    refused(resp, "TOKEN_DENY_UPDATE")
    assert call(server, "PUT", bucket, "other.txt", data=b"x").ok
    copy = call(server, "PUT", bucket, "once.txt", headers={"X-Ufile-Copy-Source": f"/{bucket}/other.txt"}, keys=keys)
    assert copy.status_code == 403 and "TOKEN_DENY_UPDATE" in copy.json()["ErrMsg"]
    rename = call(server, "PUT", bucket, "other.txt", query="newFileName=once.txt&force=true", keys=keys)
    assert rename.status_code == 403 and "TOKEN_DENY_UPDATE" in rename.json()["ErrMsg"]
    assert call(server, "GET", bucket, "once.txt").content == local_file.read_bytes()
    away = call(server, "PUT", bucket, "once.txt", query="newFileName=fresh.txt", keys=keys)
    assert away.status_code == 403 and "TOKEN_DENY_UPDATE" in away.json()["ErrMsg"]
    body = b'{"op":"set","metak":"mimetype","metav":"a/b"}'
    json_type = {"Content-Type": "application/json"}
    opmeta = call(server, "POST", bucket, "once.txt", query="opmeta", keys=keys, headers=json_type, data=body)
    assert opmeta.status_code == 403 and "TOKEN_DENY_UPDATE" in opmeta.json()["ErrMsg"]
    storage = call(server, "PUT", bucket, "once.txt", query="storageClass=IA", keys=keys)
    assert storage.status_code == 403 and "TOKEN_DENY_UPDATE" in storage.json()["ErrMsg"]
    assert call(server, "HEAD", bucket, "once.txt").headers["Content-Type"] != "a/b"
    plain = files_of(make_token(server, ops=["TOKEN_ALLOW_WRITE"]))
    assert plain.putfile(bucket, "once.txt", str(local_file))[1].status_code == 200


def test_expire_time_by_moving_the_clock(server: Server, bucket: str, local_file: Path) -> None:
    token = make_token(server, ops=ALL_OPS, ExpireTime=int(time.time()) + 60)
    files = files_of(token)
    assert files.putfile(bucket, "exp.txt", str(local_file))[1].status_code == 200
    try:
        server.move_clock(120)
        ret, resp = files.putfile(bucket, "exp.txt", str(local_file))
        refused(resp, "ExpireTime")
        ret, resp = files.head_file(bucket, "exp.txt")
        assert resp.status_code == 403
        update = {"TokenId": token["TokenId"], "ExpireTime": int(time.time()) + 3600}
        assert api(server, "UpdateUFileToken", **update)["RetCode"] == 0
        assert files.putfile(bucket, "exp.txt", str(local_file))[1].status_code == 200
    finally:
        server.move_clock(0)


def test_ip_lists(server: Server, bucket: str, local_file: Path) -> None:
    white_elsewhere = files_of(make_token(server, ops=ALL_OPS, WhiteIPList=["10.0.0.0/8"]))
    refused(white_elsewhere.putfile(bucket, "ip.txt", str(local_file))[1], "WhiteIPList")
    white_here = files_of(make_token(server, ops=ALL_OPS, WhiteIPList=["10.0.0.0/8", "127.0.0.1"]))
    assert white_here.putfile(bucket, "ip.txt", str(local_file))[1].status_code == 200
    black_here = files_of(make_token(server, ops=ALL_OPS, BlackIPList=["127.0.0.0/8"]))
    refused(black_here.putfile(bucket, "ip.txt", str(local_file))[1], "BlackIPList")


def test_token_limit_and_disabled_account(server: Server, bucket: str, data_dir: Path, local_file: Path) -> None:
    keys = create_account(data_dir, f"tok-{uuid.uuid4().hex[:8]}")
    mine = f"t-{uuid.uuid4().hex[:12]}"
    assert BucketManager(*keys).createbucket(mine, "cn-bj", "private")[0]["RetCode"] == 0
    tokens = [make_token(server, ops=ALL_OPS, keys=keys) for _ in range(50)]
    over = api(server, "CreateUFileToken", keys=keys, TokenName="t", **numbered("AllowedOps", ALL_OPS))
    assert over["RetCode"] == 15038
    assert len(api(server, "DescribeUFileToken", keys=keys)["DataSet"]) == 50
    # a token of one account has no power over another account's bucket, nor its tokens
    ret, resp = files_of(tokens[0]).putfile(mine, "x", str(local_file))
    assert resp.status_code == 200
    assert api(server, "DescribeUFileToken", TokenId=tokens[0]["TokenId"])["RetCode"] == 15040
    ret, resp = files_of(tokens[0]).putfile(bucket, "x", str(local_file))
    assert resp.status_code == 403  # root's bucket
    # tokens cannot sign management calls
    assert api(server, "DescribeBucket", keys=keys_of(tokens[0]))["RetCode"] == 15037
    name = next(
        line.split("\t")[0] for line in holdall_cli(data_dir, "account", "list").splitlines() if keys[0] in line
    )
    holdall_cli(data_dir, "account", "disable", name)
    ret, resp = files_of(tokens[1]).putfile(mine, "y", str(local_file))
    assert resp.status_code == 403  # the account's tokens stop with it

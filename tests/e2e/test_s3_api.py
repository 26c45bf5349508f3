"""The S3 API through boto3 and awscli, signed with SigV4 in the Authorization header, on the same
buckets and objects as the UFile API."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import subprocess
import sys
import time
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError
from ufile.util import file_etag

from tests.e2e.helpers import api, call, create_account
from tests.e2e.server import ACCESS_KEY, SECRET_KEY, Server


def s3_client(server: Server, keys: tuple[str, str] = (ACCESS_KEY, SECRET_KEY), **config: Any) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=server.url,
        aws_access_key_id=keys[0],
        aws_secret_access_key=keys[1],
        region_name="cn-bj",
        config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}, **config),
    )


@pytest.fixture
def s3(server: Server) -> Any:
    return s3_client(server)


@pytest.fixture
def name() -> str:
    return f"s3-{uuid.uuid4().hex[:12]}"


def code_of(error: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    return error.value.response["Error"]["Code"], error.value.response["ResponseMetadata"]["HTTPStatusCode"]


def test_buckets_are_made_listed_and_deleted(s3: Any, server: Server, name: str) -> None:
    s3.create_bucket(Bucket=name)
    assert name in [bucket["Name"] for bucket in s3.list_buckets()["Buckets"]]
    assert s3.head_bucket(Bucket=name)["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] == "cn-bj"
    with pytest.raises(ClientError) as owned:
        s3.create_bucket(Bucket=name)
    assert code_of(owned) == ("BucketAlreadyOwnedByYou", 409)
    other = create_account(server.data, f"other-{uuid.uuid4().hex[:8]}")
    with pytest.raises(ClientError) as taken:
        s3_client(server, other).create_bucket(Bucket=name)
    assert code_of(taken) == ("BucketAlreadyExists", 409)
    s3.put_object(Bucket=name, Key="k", Body=b"x")
    with pytest.raises(ClientError) as full:
        s3.delete_bucket(Bucket=name)
    assert code_of(full) == ("BucketNotEmpty", 409)
    s3.delete_object(Bucket=name, Key="k")
    s3.delete_bucket(Bucket=name)
    with pytest.raises(ClientError) as gone:
        s3.head_bucket(Bucket=name)
    assert code_of(gone) == ("404", 404)
    with pytest.raises(ClientError) as missing:
        s3.list_objects_v2(Bucket=name)
    assert code_of(missing) == ("NoSuchBucket", 404)


def test_a_public_read_bucket_is_public_to_ufile_too(s3: Any, server: Server, name: str) -> None:
    s3.create_bucket(Bucket=name, ACL="public-read")
    s3.put_object(Bucket=name, Key="open.txt", Body=b"for all")
    assert requests.get(f"{server.url}/{name}/open.txt").content == b"for all"
    found = api(server, "DescribeBucket", BucketName=name)["DataSet"][0]
    assert found["Type"] == "public"
    with pytest.raises(ClientError) as grant:
        s3.create_bucket(Bucket=name + "-x", GrantRead="id=someone")
    assert code_of(grant) == ("NotImplemented", 501)


def test_objects_round_trip_with_md5_etags(s3: Any, name: str) -> None:
    s3.create_bucket(Bucket=name)
    body = os.urandom(300_000)
    put = s3.put_object(Bucket=name, Key="dir/file.bin", Body=body, ContentType="application/x-test")
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    got = s3.get_object(Bucket=name, Key="dir/file.bin")
    assert got["Body"].read() == body
    assert got["ETag"] == put["ETag"] and got["ContentType"] == "application/x-test"
    head = s3.head_object(Bucket=name, Key="dir/file.bin")
    assert head["ContentLength"] == len(body) and head["ETag"] == put["ETag"]
    ranged = s3.get_object(Bucket=name, Key="dir/file.bin", Range="bytes=100-199")
    assert ranged["Body"].read() == body[100:200] and ranged["ContentRange"] == f"bytes 100-199/{len(body)}"
    with pytest.raises(ClientError) as beyond:
        s3.get_object(Bucket=name, Key="dir/file.bin", Range=f"bytes={len(body)}-")
    assert code_of(beyond) == ("InvalidRange", 416)
    with pytest.raises(ClientError) as missing:
        s3.get_object(Bucket=name, Key="nothing")
    assert code_of(missing) == ("NoSuchKey", 404)
    s3.delete_object(Bucket=name, Key="dir/file.bin")
    s3.delete_object(Bucket=name, Key="dir/file.bin")  # a second delete is a 204 too


def test_conditional_reads(s3: Any, name: str) -> None:
    s3.create_bucket(Bucket=name)
    etag = s3.put_object(Bucket=name, Key="c", Body=b"conditional")["ETag"]
    assert s3.get_object(Bucket=name, Key="c", IfMatch=etag)["Body"].read() == b"conditional"
    with pytest.raises(ClientError) as failed:
        s3.get_object(Bucket=name, Key="c", IfMatch='"0123"')
    assert code_of(failed) == ("PreconditionFailed", 412)
    with pytest.raises(ClientError) as unchanged:
        s3.get_object(Bucket=name, Key="c", IfNoneMatch=etag)
    assert code_of(unchanged) == ("304", 304)
    modified = s3.head_object(Bucket=name, Key="c")["LastModified"]
    with pytest.raises(ClientError) as not_since:
        s3.get_object(Bucket=name, Key="c", IfModifiedSince=modified)
    assert code_of(not_since) == ("304", 304)


def test_a_body_that_is_not_what_was_signed_is_refused(server: Server, name: str, s3: Any) -> None:
    s3.create_bucket(Bucket=name)
    client = s3_client(server)

    def swap_body(request: Any, **_: Any) -> None:
        request.body = b"tampered"  # after signing: the signed SHA-256 is of the original

    client.meta.events.register("before-send.s3.PutObject", swap_body)
    with pytest.raises(ClientError) as refused:
        client.put_object(Bucket=name, Key="t", Body=b"original")
    assert code_of(refused) == ("XAmzContentSHA256Mismatch", 400)
    with pytest.raises(ClientError):
        s3.head_object(Bucket=name, Key="t")


def test_a_wrong_checksum_is_refused(server: Server, name: str, s3: Any) -> None:
    s3.create_bucket(Bucket=name)
    for algorithm in ("SHA256", "SHA1", "CRC32"):
        put = s3.put_object(Bucket=name, Key=f"sum-{algorithm}", Body=b"hello", ChecksumAlgorithm=algorithm)
        assert put[f"Checksum{algorithm}"], put

    def wrong_crc(request: Any, **_: Any) -> None:
        request.headers.replace_header("x-amz-checksum-crc32", "AAAAAA==")

    client = s3_client(server)
    client.meta.events.register("before-sign.s3.PutObject", wrong_crc)
    with pytest.raises(ClientError) as refused:
        client.put_object(Bucket=name, Key="bad", Body=b"hello")
    assert code_of(refused) == ("BadDigest", 400)


def test_listings_page_like_s3(s3: Any, name: str) -> None:
    s3.create_bucket(Bucket=name)
    keys = [f"a/{i:02d}" for i in range(7)] + ["b/x", "b/y", "top", "sp ace+plus"]
    for key in keys:
        s3.put_object(Bucket=name, Key=key, Body=key.encode())
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=name, PaginationConfig={"PageSize": 3})
    assert [item["Key"] for page in pages for item in page.get("Contents", [])] == sorted(keys)
    grouped = s3.list_objects_v2(Bucket=name, Delimiter="/")
    assert [p["Prefix"] for p in grouped["CommonPrefixes"]] == ["a/", "b/"]
    assert [item["Key"] for item in grouped["Contents"]] == ["sp ace+plus", "top"]
    after = s3.list_objects_v2(Bucket=name, Prefix="a/", StartAfter="a/04")
    assert [item["Key"] for item in after["Contents"]] == ["a/05", "a/06"]
    v1 = s3.get_paginator("list_objects").paginate(Bucket=name, PaginationConfig={"PageSize": 4})
    assert [item["Key"] for page in v1 for item in page.get("Contents", [])] == sorted(keys)
    empty = s3.list_objects_v2(Bucket=name, MaxKeys=0)
    assert empty["KeyCount"] == 0 and "Contents" not in empty and not empty["IsTruncated"]
    first = s3.list_objects_v2(Bucket=name, MaxKeys=2)
    assert first["IsTruncated"] and first["KeyCount"] == 2
    entry = first["Contents"][0]
    assert entry["ETag"] == f'"{hashlib.md5(entry["Key"].encode()).hexdigest()}"' and entry["Size"] == 4


def test_delete_objects_in_one_call(s3: Any, name: str) -> None:
    s3.create_bucket(Bucket=name)
    for key in ("one", "two", "three"):
        s3.put_object(Bucket=name, Key=key, Body=b"x")
    reply = s3.delete_objects(Bucket=name, Delete={"Objects": [{"Key": "one"}, {"Key": "two"}, {"Key": "none"}]})
    assert sorted(item["Key"] for item in reply["Deleted"]) == ["none", "one", "two"]
    assert [item["Key"] for item in s3.list_objects_v2(Bucket=name)["Contents"]] == ["three"]


def test_ufile_and_s3_see_the_same_objects(s3: Any, server: Server, name: str) -> None:
    s3.create_bucket(Bucket=name)
    body = os.urandom(50_000)
    s3.put_object(Bucket=name, Key="from-s3", Body=body)
    assert call(server, "GET", name, "from-s3").content == body
    assert call(server, "PUT", name, "from-ufile", data=body[::-1]).status_code == 200
    got = s3.get_object(Bucket=name, Key="from-ufile")
    assert got["Body"].read() == body[::-1] and got["ETag"] == f'"{hashlib.md5(body[::-1]).hexdigest()}"'


def test_signatures_and_scope(server: Server, name: str, s3: Any) -> None:
    s3.create_bucket(Bucket=name)
    with pytest.raises(ClientError) as wrong:
        s3_client(server, (ACCESS_KEY, "not-the-secret")).list_buckets()
    assert code_of(wrong) == ("SignatureDoesNotMatch", 403)
    detail = wrong.value.response["Error"]
    assert detail["CanonicalRequest"].startswith("GET\n/\n\nhost:") and detail["StringToSign"].startswith("AWS4-")
    with pytest.raises(ClientError) as unknown:
        s3_client(server, ("HANOSUCHKEY000000000", "x")).list_buckets()
    assert code_of(unknown) == ("InvalidAccessKeyId", 403)
    other = create_account(server.data, f"other-{uuid.uuid4().hex[:8]}")
    with pytest.raises(ClientError) as foreign:
        s3_client(server, other).put_object(Bucket=name, Key="k", Body=b"x")
    assert code_of(foreign) == ("AccessDenied", 403)
    with pytest.raises(ClientError) as unsupported:
        s3.get_bucket_tagging(Bucket=name)
    assert code_of(unsupported) == ("NotImplemented", 501)
    s3.put_object(Bucket=name, Key="kept", Body=b"kept")
    with pytest.raises(ClientError):
        s3.put_object_acl(Bucket=name, Key="kept", ACL="public-read")
    assert s3.get_object(Bucket=name, Key="kept")["Body"].read() == b"kept"  # ?acl never overwrote it


def test_a_skewed_clock_is_refused(server: Server, s3: Any) -> None:
    try:
        server.move_clock(901)
        with pytest.raises(ClientError) as ahead:
            s3.list_buckets()
        assert code_of(ahead) == ("RequestTimeTooSkewed", 403)
        server.move_clock(-600)
        assert s3.list_buckets()["ResponseMetadata"]["HTTPStatusCode"] == 200
    finally:
        server.move_clock(0)


@pytest.fixture
def aws(server: Server, tmp_path: Path) -> Iterator[Any]:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_DEFAULT_REGION": "cn-bj",
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
    }

    def run(*args: str) -> str:
        command = [sys.executable, "-m", "awscli", "--endpoint-url", server.url, *args]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    yield run


def test_awscli_cp_ls_rm(aws: Any, tmp_path: Path, name: str) -> None:
    source = tmp_path / "up.bin"
    source.write_bytes(os.urandom(20 * 1024 * 1024))  # above awscli's 8 MiB threshold: a multipart upload
    aws("s3", "mb", f"s3://{name}")
    aws("s3", "cp", str(source), f"s3://{name}/dir/up.bin")
    assert "up.bin" in aws("s3", "ls", f"s3://{name}/dir/")
    aws("s3", "cp", f"s3://{name}/dir/up.bin", str(tmp_path / "down.bin"))
    assert (tmp_path / "down.bin").read_bytes() == source.read_bytes()
    listed = json.loads(aws("s3api", "list-objects-v2", "--bucket", name))
    assert [item["Key"] for item in listed["Contents"]] == ["dir/up.bin"]
    tree = tmp_path / "tree"
    for relative in ("a.txt", "sub/b.txt", "sub/deeper/c.txt"):
        (tree / relative).parent.mkdir(parents=True, exist_ok=True)
        (tree / relative).write_text(relative)
        written = time.time() - 60  # holdall keeps whole seconds: a file synced the second it was written looks newer
        os.utime(tree / relative, (written, written))
    aws("s3", "sync", str(tree), f"s3://{name}/tree")
    aws("s3", "sync", f"s3://{name}/tree", str(tmp_path / "copy"))
    assert (tmp_path / "copy" / "sub" / "deeper" / "c.txt").read_text() == "sub/deeper/c.txt"
    assert aws("s3", "sync", str(tree), f"s3://{name}/tree").strip() == ""  # nothing changed, nothing sent
    aws("s3", "rm", "--recursive", f"s3://{name}/")
    aws("s3", "rb", f"s3://{name}")


def test_multipart_with_boto3_transfers(s3: Any, server: Server, name: str, tmp_path: Path) -> None:
    from boto3.s3.transfer import TransferConfig

    s3.create_bucket(Bucket=name)
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(21 * 1024 * 1024))
    config = TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=8 * 1024 * 1024, max_concurrency=4)
    s3.upload_file(str(source), name, "big.bin", Config=config)
    head = s3.head_object(Bucket=name, Key="big.bin")
    assert head["ContentLength"] == source.stat().st_size and head["ETag"].endswith('-3"'), head["ETag"]
    s3.download_file(name, "big.bin", str(tmp_path / "back.bin"), Config=config)
    assert (tmp_path / "back.bin").read_bytes() == source.read_bytes()
    assert not s3.list_multipart_uploads(Bucket=name).get("Uploads")
    through_ufile = call(server, "GET", name, "big.bin")  # 8 MiB parts are whole 4 MiB blocks: UFile's ETag holds
    assert through_ufile.content == source.read_bytes()
    assert through_ufile.headers["ETag"] == file_etag(str(source))


def test_multipart_rules(s3: Any, server: Server, name: str) -> None:
    s3.create_bucket(Bucket=name)
    upload = s3.create_multipart_upload(Bucket=name, Key="m", ContentType="text/x-parts")["UploadId"]
    listed = s3.list_multipart_uploads(Bucket=name)["Uploads"]
    assert [(item["Key"], item["UploadId"]) for item in listed] == [("m", upload)]
    small = s3.upload_part(Bucket=name, Key="m", UploadId=upload, PartNumber=1, Body=b"a" * 1000)["ETag"]
    last = s3.upload_part(Bucket=name, Key="m", UploadId=upload, PartNumber=2, Body=b"b" * 10)["ETag"]
    parts = s3.list_parts(Bucket=name, Key="m", UploadId=upload)["Parts"]
    assert [(p["PartNumber"], p["Size"], p["ETag"]) for p in parts] == [(1, 1000, small), (2, 10, last)]
    with pytest.raises(ClientError) as too_small:
        s3.complete_multipart_upload(
            Bucket=name, Key="m", UploadId=upload,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": small}, {"PartNumber": 2, "ETag": last}]},
        )  # fmt: skip
    assert code_of(too_small) == ("EntityTooSmall", 400)
    with pytest.raises(ClientError) as wrong:
        s3.complete_multipart_upload(
            Bucket=name, Key="m", UploadId=upload, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": last}]}
        )
    assert code_of(wrong) == ("InvalidPart", 400)
    with pytest.raises(ClientError) as order:
        s3.complete_multipart_upload(
            Bucket=name, Key="m", UploadId=upload,
            MultipartUpload={"Parts": [{"PartNumber": 2, "ETag": last}, {"PartNumber": 1, "ETag": small}]},
        )  # fmt: skip
    assert code_of(order) == ("InvalidPartOrder", 400)
    with pytest.raises(ClientError) as number:
        s3.upload_part(Bucket=name, Key="m", UploadId=upload, PartNumber=10001, Body=b"x")
    assert code_of(number)[1] == 400
    done = s3.complete_multipart_upload(
        Bucket=name, Key="m", UploadId=upload, MultipartUpload={"Parts": [{"PartNumber": 2, "ETag": last}]}
    )  # part 1 is left out, and released
    got = s3.get_object(Bucket=name, Key="m")
    assert got["Body"].read() == b"b" * 10 and got["ContentType"] == "text/x-parts" and got["ETag"] == done["ETag"]
    usage = api(server, "DescribeBucket", BucketName=name)["DataSet"][0]
    assert (usage["UsedBytes"], usage["ObjectCount"]) == (10, 1), usage
    with pytest.raises(ClientError) as gone:
        s3.list_parts(Bucket=name, Key="m", UploadId=upload)
    assert code_of(gone) == ("NoSuchUpload", 404)
    aborted = s3.create_multipart_upload(Bucket=name, Key="a")["UploadId"]
    s3.upload_part(Bucket=name, Key="a", UploadId=aborted, PartNumber=1, Body=b"z" * 100)
    with pytest.raises(ClientError) as other_key:
        s3.upload_part(Bucket=name, Key="elsewhere", UploadId=aborted, PartNumber=1, Body=b"z")
    assert code_of(other_key) == ("NoSuchUpload", 404)
    s3.abort_multipart_upload(Bucket=name, Key="a", UploadId=aborted)
    assert not s3.list_multipart_uploads(Bucket=name).get("Uploads")
    usage = api(server, "DescribeBucket", BucketName=name)["DataSet"][0]
    assert usage["UsedBytes"] == 10, usage


def test_a_ufile_multipart_object_reads_through_s3(s3: Any, server: Server, name: str, tmp_path: Path) -> None:
    from ufile import multipartuploadufile

    s3.create_bucket(Bucket=name)
    source = tmp_path / "ufile-big.bin"
    source.write_bytes(os.urandom(9 * 1024 * 1024))
    uploader = multipartuploadufile.MultipartUploadUFile(ACCESS_KEY, SECRET_KEY)
    ret, resp = uploader.uploadfile(name, "via-ufile", str(source))
    assert resp.status_code == 200, resp.error
    got = s3.get_object(Bucket=name, Key="via-ufile")
    assert got["Body"].read() == source.read_bytes() and got["ETag"].endswith('-3"')


def test_copy_object(s3: Any, server: Server, name: str) -> None:
    s3.create_bucket(Bucket=name)
    s3.create_bucket(Bucket=name + "-to")
    etag = s3.put_object(Bucket=name, Key="src/a b.txt", Body=b"copied bytes", ContentType="text/plain")["ETag"]
    copied = s3.copy_object(Bucket=name + "-to", Key="dst", CopySource={"Bucket": name, "Key": "src/a b.txt"})
    assert copied["CopyObjectResult"]["ETag"] == etag
    got = s3.get_object(Bucket=name + "-to", Key="dst")
    assert got["Body"].read() == b"copied bytes" and got["ContentType"] == "text/plain"
    s3.copy_object(
        Bucket=name, Key="src/a b.txt", CopySource={"Bucket": name, "Key": "src/a b.txt"},
        MetadataDirective="REPLACE", ContentType="application/x-renamed",
    )  # fmt: skip
    assert s3.head_object(Bucket=name, Key="src/a b.txt")["ContentType"] == "application/x-renamed"
    with pytest.raises(ClientError) as itself:
        s3.copy_object(Bucket=name, Key="src/a b.txt", CopySource={"Bucket": name, "Key": "src/a b.txt"})
    assert code_of(itself) == ("InvalidArgument", 400)
    with pytest.raises(ClientError) as missing:
        s3.copy_object(Bucket=name, Key="x", CopySource={"Bucket": name, "Key": "nothing"})
    assert code_of(missing) == ("NoSuchKey", 404)
    other = s3_client(server, create_account(server.data, f"other-{uuid.uuid4().hex[:8]}"))
    theirs = f"theirs-{uuid.uuid4().hex[:8]}"
    other.create_bucket(Bucket=theirs)
    with pytest.raises(ClientError) as foreign:
        other.copy_object(Bucket=theirs, Key="stolen", CopySource={"Bucket": name, "Key": "src/a b.txt"})
    assert code_of(foreign) == ("AccessDenied", 403)
    assert call(server, "GET", name + "-to", "dst").content == b"copied bytes"


def test_virtual_host_addressing(server: Server, name: str) -> None:
    client = boto3.client(
        "s3",
        endpoint_url=f"http://localhost:{server.port}",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name="cn-bj",
        config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "virtual"}),
    )
    client.create_bucket(Bucket=name)
    client.put_object(Bucket=name, Key="v/h.txt", Body=b"virtual")
    assert client.get_object(Bucket=name, Key="v/h.txt")["Body"].read() == b"virtual"
    assert [item["Key"] for item in client.list_objects_v2(Bucket=name, Prefix="v/")["Contents"]] == ["v/h.txt"]
    client.delete_object(Bucket=name, Key="v/h.txt")
    client.delete_bucket(Bucket=name)


def test_canned_bucket_acls(s3: Any, server: Server, name: str) -> None:
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="o", Body=b"acl")
    assert [g["Permission"] for g in s3.get_bucket_acl(Bucket=name)["Grants"]] == ["FULL_CONTROL"]
    assert requests.get(f"{server.url}/{name}/o").status_code in (401, 403)
    s3.put_bucket_acl(Bucket=name, ACL="public-read")
    grants = s3.get_bucket_acl(Bucket=name)["Grants"]
    assert any(g["Grantee"].get("URI", "").endswith("AllUsers") and g["Permission"] == "READ" for g in grants)
    assert requests.get(f"{server.url}/{name}/o").content == b"acl"
    with pytest.raises(ClientError) as grant:
        s3.put_bucket_acl(Bucket=name, GrantRead="id=someone")
    assert code_of(grant) == ("NotImplemented", 501)
    s3.put_bucket_acl(Bucket=name, ACL="private")
    assert requests.get(f"{server.url}/{name}/o").status_code in (401, 403)


def _after_signing(client: Any, event: str, headers: dict[str, str]) -> None:
    def add(request: Any, **_: Any) -> None:
        for name, value in headers.items():
            request.headers[name] = value

    client.meta.events.register(f"before-send.s3.{event}", add)


def _signed_query(client: Any, event: str, query: str) -> None:
    def extend(request: Any, **_: Any) -> None:
        request.url += ("&" if "?" in request.url else "?") + query

    client.meta.events.register(f"before-sign.s3.{event}", extend)


def test_unsigned_amz_headers_are_refused(server: Server, s3: Any, name: str) -> None:
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="secret", Body=b"private bytes")
    public = name + "-pub"
    s3.create_bucket(Bucket=public, ACL="public-read")
    replayed = s3_client(server)
    _after_signing(replayed, "PutObject", {"x-amz-copy-source": f"/{name}/secret"})
    with pytest.raises(ClientError) as copy:
        replayed.put_object(Bucket=public, Key="leak", Body=b"")
    assert code_of(copy) == ("AccessDenied", 403) and "not signed" in copy.value.response["Error"]["Message"]
    assert requests.get(f"{server.url}/{public}/leak").status_code == 404
    made_public = s3_client(server)
    _after_signing(made_public, "CreateBucket", {"x-amz-acl": "public-read"})
    with pytest.raises(ClientError) as acl:
        made_public.create_bucket(Bucket=name + "-acl")
    assert code_of(acl) == ("AccessDenied", 403)


@pytest.mark.parametrize("query", ["ACL", "Tagging", "renameObject", "partnumber=1&uploadid=abc", "versionId=v1"])
def test_an_unserved_query_never_reaches_the_plain_operation(server: Server, s3: Any, name: str, query: str) -> None:
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="victim", Body=b"victim-data")
    client = s3_client(server)
    _signed_query(client, "PutObject", query)
    _signed_query(client, "DeleteObject", query)
    with pytest.raises(ClientError) as put:
        client.put_object(Bucket=name, Key="victim", Body=b"<overwritten/>")
    assert code_of(put) == ("NotImplemented", 501)
    with pytest.raises(ClientError) as delete:
        client.delete_object(Bucket=name, Key="victim")
    assert code_of(delete) == ("NotImplemented", 501)
    assert s3.get_object(Bucket=name, Key="victim")["Body"].read() == b"victim-data"


def test_bad_bucket_and_listing_input(s3: Any, name: str) -> None:
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="kept", Body=b"k")
    reply = s3.delete_objects(Bucket=name, Delete={"Objects": [{"Key": "kept", "VersionId": "3HL4kq"}]})
    assert reply["Errors"][0]["Code"] == "NotImplemented" and not reply.get("Deleted")
    assert s3.get_object(Bucket=name, Key="kept")["Body"].read() == b"k"
    with pytest.raises(ClientError) as region:
        s3.create_bucket(Bucket=name + "-r", CreateBucketConfiguration={"LocationConstraint": "a\r\nX-Injected: yes"})
    assert code_of(region) == ("InvalidLocationConstraint", 400)
    with pytest.raises(ClientError) as token:
        s3.list_objects_v2(Bucket=name, ContinuationToken="!")
    assert code_of(token)[1] == 400


def test_a_command_body_must_be_signed(server: Server, s3: Any, name: str) -> None:
    import base64

    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    class UnsignedPayload(S3SigV4Auth):
        def _should_sha256_sign_payload(self, request: Any) -> bool:
            return False  # x-amz-content-sha256: UNSIGNED-PAYLOAD, as over HTTPS

    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="keep", Body=b"k")
    body = b"<Delete><Object><Key>keep</Key></Object></Delete>"
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    request = AWSRequest("POST", f"{server.url}/{name}?delete", data=body)
    UnsignedPayload(Credentials(ACCESS_KEY, SECRET_KEY), "s3", "cn-bj").add_auth(request)
    assert request.headers["X-Amz-Content-SHA256"] == "UNSIGNED-PAYLOAD"
    reply = requests.post(request.url, data=body, headers={**request.headers, "Content-MD5": md5})
    assert reply.status_code == 403 and "<Code>AccessDenied</Code>" in reply.text, reply.text  # MD5 unsigned
    assert s3.get_object(Bucket=name, Key="keep")["Body"].read() == b"k"
    bound = AWSRequest("POST", f"{server.url}/{name}?delete", data=body, headers={"Content-MD5": md5})
    UnsignedPayload(Credentials(ACCESS_KEY, SECRET_KEY), "s3", "cn-bj").add_auth(bound)
    other = b"<Delete><Object><Key>kept</Key></Object></Delete>"
    replayed = requests.post(bound.url, data=other, headers=dict(bound.headers))
    assert replayed.status_code == 400 and "BadDigest" in replayed.text  # the signed MD5 binds the body
    assert requests.post(bound.url, data=body, headers=dict(bound.headers)).status_code == 200
    s3.put_object(Bucket=name, Key="unsigned-ok", Body=b"data may go unsigned")  # object bodies still may


def test_user_metadata_and_checksums_are_kept(s3: Any, server: Server, name: str, tmp_path: Path) -> None:
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="m", Body=b"hello", Metadata={"Owner": "ana", "trip": "lisbon"})
    head = s3.head_object(Bucket=name, Key="m")
    assert head["Metadata"] == {"owner": "ana", "trip": "lisbon"}
    s3.put_object(Bucket=name, Key="summed", Body=b"hello", ChecksumAlgorithm="SHA256")
    checked = s3.get_object(Bucket=name, Key="summed", ChecksumMode="ENABLED")
    assert checked["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(b"hello").digest()).decode()
    assert checked["Body"].read() == b"hello"
    assert "ChecksumSHA256" not in s3.get_object(Bucket=name, Key="summed", Range="bytes=1-2")

    copied = s3.copy_object(Bucket=name, Key="kept", CopySource={"Bucket": name, "Key": "m"})
    assert copied["CopyObjectResult"]["ETag"]
    assert s3.head_object(Bucket=name, Key="kept")["Metadata"] == {"owner": "ana", "trip": "lisbon"}
    s3.copy_object(
        Bucket=name, Key="replaced", CopySource={"Bucket": name, "Key": "m"},
        MetadataDirective="REPLACE", Metadata={"new": "1"},
    )  # fmt: skip
    assert s3.head_object(Bucket=name, Key="replaced")["Metadata"] == {"new": "1"}

    big = tmp_path / "big"
    big.write_bytes(os.urandom(9 * 1024 * 1024))
    s3.upload_file(str(big), name, "big", ExtraArgs={"Metadata": {"kind": "parts"}})
    assert s3.head_object(Bucket=name, Key="big")["Metadata"] == {"kind": "parts"}

    with pytest.raises(ClientError) as too_large:
        s3.put_object(Bucket=name, Key="fat", Body=b"x", Metadata={"a": "b" * 2100})
    assert code_of(too_large) == ("MetadataTooLarge", 400)
    assert "Contents" not in s3.list_objects_v2(Bucket=name, Prefix="fat")

    put = call(server, "PUT", name, "from-ufile", data=b"u", headers={"X-Ufile-Meta-Colour": "blue"})
    assert put.status_code == 200
    assert s3.head_object(Bucket=name, Key="from-ufile")["Metadata"] == {"colour": "blue"}
    assert call(server, "GET", name, "m").headers["X-Ufile-Meta-Owner"] == "ana"


def test_sigv2_header_signatures(server: Server, name: str, tmp_path: Path) -> None:
    v2 = s3_client(server, signature_version="s3")
    v2.create_bucket(Bucket=name)
    v2.put_object(Bucket=name, Key="two/a b+c.txt", Body=b"signed the old way", Metadata={"m": "1"})
    got = v2.get_object(Bucket=name, Key="two/a b+c.txt")
    assert got["Body"].read() == b"signed the old way" and got["Metadata"] == {"m": "1"}
    assert [item["Key"] for item in v2.list_objects(Bucket=name, Prefix="two/")["Contents"]] == ["two/a b+c.txt"]
    big = tmp_path / "big"
    big.write_bytes(os.urandom(11 * 1024 * 1024))
    v2.upload_file(str(big), name, "big")
    v2.download_file(name, "big", str(tmp_path / "back"))
    assert (tmp_path / "back").read_bytes() == big.read_bytes()
    # SigV2 signs no payload hash: a batch delete must send a digest it signs (a CRC32 binds nothing)
    with pytest.raises(ClientError) as unbound:
        v2.delete_objects(Bucket=name, Delete={"Objects": [{"Key": "big"}]})
    assert code_of(unbound) == ("AccessDenied", 403)
    v2.delete_objects(Bucket=name, Delete={"Objects": [{"Key": "big"}]}, ChecksumAlgorithm="SHA256")
    assert "Contents" not in v2.list_objects(Bucket=name, Prefix="big")
    wrong = s3_client(server, (ACCESS_KEY, "not-the-secret"), signature_version="s3")
    with pytest.raises(ClientError) as refused:
        wrong.get_object(Bucket=name, Key="two/a b+c.txt")
    assert code_of(refused) == ("SignatureDoesNotMatch", 403)


def test_boto3_trailing_checksums_in_aws_chunked_bodies(
    server: Server, name: str, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """boto3 frames a streaming upload as STREAMING-UNSIGNED-PAYLOAD-TRAILER with the checksum after the
    bytes; it does so over TLS only, so the test tells it the endpoint is https."""
    from urllib.parse import urlparse

    import botocore.httpchecksum

    s3.create_bucket(Bucket=name)
    monkeypatch.setattr(botocore.httpchecksum, "urlparse", lambda url: urlparse(url.replace("http:", "https:", 1)))
    sent: list[dict[str, str]] = []
    client = s3_client(server)
    client.meta.events.register(
        "before-send.s3.*", lambda request, **_: sent.append({k.lower(): v for k, v in request.headers.items()})
    )
    body = os.urandom(300_000)
    put = client.put_object(Bucket=name, Key="trailed", Body=io.BytesIO(body), ChecksumAlgorithm="CRC32")
    framing = sent[-1]["x-amz-content-sha256"]
    assert framing in ("STREAMING-UNSIGNED-PAYLOAD-TRAILER", b"STREAMING-UNSIGNED-PAYLOAD-TRAILER"), sent[-1]
    crc = base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()
    assert put["ChecksumCRC32"] == crc
    got = client.get_object(Bucket=name, Key="trailed", ChecksumMode="ENABLED")
    assert got["Body"].read() == body and got["ChecksumCRC32"] == crc

    def corrupt(request: Any, **_: Any) -> None:
        request.body = _Corrupting(request.body)

    client.meta.events.register("before-send.s3.PutObject", corrupt)
    with pytest.raises(ClientError) as refused:
        client.put_object(Bucket=name, Key="corrupt", Body=io.BytesIO(body), ChecksumAlgorithm="CRC32")
    assert code_of(refused) == ("BadDigest", 400)
    assert "Contents" not in s3.list_objects_v2(Bucket=name, Prefix="corrupt")


class _Corrupting:
    """A request body one byte of which changes on its way out (after the client's checksum was taken)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.changed = False

    def read(self, amount: int = -1) -> bytes:
        data = self.inner.read(amount)
        if not self.changed and len(data) > 100:
            self.changed = True
            data = data[:50] + bytes([data[50] ^ 1]) + data[51:]
        return data  # type: ignore[no-any-return]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_signed_aws_chunked_bodies(server: Server, name: str, s3: Any) -> None:
    """STREAMING-AWS4-HMAC-SHA256-PAYLOAD: the request signed by botocore's SigV4, each chunk then
    signed from it (the chunk signer matches AWS's published example, tests/unit/test_aws_chunked.py)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    from holdall.auth import v4
    from holdall.server.aws_chunked import ChunkSigner

    s3.create_bucket(Bucket=name)
    data = os.urandom(200_000)

    def send(key: str, tamper: bool = False) -> requests.Response:
        url = f"{server.url}/{name}/{key}"
        request = AWSRequest("PUT", url, headers={
            "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "content-encoding": "aws-chunked",
            "x-amz-decoded-content-length": str(len(data)),
        })  # fmt: skip
        SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "s3", "cn-bj").add_auth(request)
        stamp = request.headers["x-amz-date"]
        seed = request.headers["Authorization"].rpartition("Signature=")[2]
        signer = ChunkSigner(
            v4.signing_key(v4.AWS4, SECRET_KEY, stamp[:8], "cn-bj"), stamp, f"{stamp[:8]}/cn-bj/s3/aws4_request", seed
        )
        framed, previous = b"", seed
        for piece in (data[:65536], data[65536:131072], data[131072:], b""):
            previous = signer.sign("PAYLOAD", previous, hashlib.sha256(piece).hexdigest())
            framed += f"{len(piece):x};chunk-signature={previous}\r\n".encode() + piece + b"\r\n"
        if tamper:
            framed = framed.replace(data[70000:70010], bytes(10), 1)
        return requests.put(url, data=framed, headers=dict(request.headers))

    stored = send("chunked")
    assert stored.status_code == 200, stored.text
    assert stored.headers["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    assert s3.get_object(Bucket=name, Key="chunked")["Body"].read() == data
    refused = send("tampered", tamper=True)
    assert refused.status_code == 403 and "<Code>SignatureDoesNotMatch</Code>" in refused.text
    assert "Contents" not in s3.list_objects_v2(Bucket=name, Prefix="tampered")


def test_bucket_cors_through_s3(s3: Any, server: Server, name: str) -> None:
    s3.create_bucket(Bucket=name)
    with pytest.raises(ClientError) as none:
        s3.get_bucket_cors(Bucket=name)
    assert code_of(none) == ("NoSuchCORSConfiguration", 404)
    rule = {
        "AllowedOrigins": ["https://app.example"], "AllowedMethods": ["PUT", "GET"],
        "AllowedHeaders": ["content-type", "x-amz-*"], "ExposeHeaders": ["x-amz-meta-owner"], "MaxAgeSeconds": 600,
    }  # fmt: skip
    s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": [rule]})
    assert s3.get_bucket_cors(Bucket=name)["CORSRules"] == [rule]
    ask = {"Origin": "https://app.example", "Access-Control-Request-Method": "PUT"}
    allowed = requests.options(
        f"{server.url}/{name}/k", headers={**ask, "Access-Control-Request-Headers": "x-amz-date"}
    )
    assert allowed.status_code == 200 and allowed.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert allowed.headers["Access-Control-Max-Age"] == "600"
    assert api(server, "DescribeBucket", BucketName=name)["DataSet"][0]["CORSRules"] == [rule]  # UFile sees them
    with pytest.raises(ClientError) as bad:
        s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": [{**rule, "AllowedMethods": ["PATCH"]}]})
    assert code_of(bad)[1] == 400
    s3.delete_bucket_cors(Bucket=name)
    assert requests.options(f"{server.url}/{name}/k", headers=ask).status_code == 403


def test_upload_part_copy_and_conditional_copies(s3: Any, name: str) -> None:
    s3.create_bucket(Bucket=name)
    data = os.urandom(12 * 1024 * 1024 + 5)
    source = s3.put_object(Bucket=name, Key="source", Body=data, Metadata={"from": "source"})
    s3.copy({"Bucket": name, "Key": "source"}, name, "managed")  # boto3's managed copy: UploadPartCopy ranges
    copied = s3.head_object(Bucket=name, Key="managed")
    assert copied["ETag"].endswith('-2"') and copied["ContentLength"] == len(data)
    assert s3.get_object(Bucket=name, Key="managed")["Body"].read() == data

    upload = s3.create_multipart_upload(Bucket=name, Key="ranged")["UploadId"]
    first = s3.upload_part_copy(
        Bucket=name, Key="ranged", UploadId=upload, PartNumber=1,
        CopySource={"Bucket": name, "Key": "source"}, CopySourceRange="bytes=0-5242879",
    )["CopyPartResult"]  # fmt: skip
    assert first["ETag"] == f'"{hashlib.md5(data[:5242880]).hexdigest()}"'
    second = s3.upload_part(Bucket=name, Key="ranged", UploadId=upload, PartNumber=2, Body=b"tail")
    with pytest.raises(ClientError) as outside:
        s3.upload_part_copy(
            Bucket=name, Key="ranged", UploadId=upload, PartNumber=3,
            CopySource={"Bucket": name, "Key": "source"}, CopySourceRange=f"bytes=0-{len(data)}",
        )  # fmt: skip
    assert code_of(outside) == ("InvalidRange", 416)
    parts = [{"PartNumber": 1, "ETag": first["ETag"]}, {"PartNumber": 2, "ETag": second["ETag"]}]
    s3.complete_multipart_upload(Bucket=name, Key="ranged", UploadId=upload, MultipartUpload={"Parts": parts})
    assert s3.get_object(Bucket=name, Key="ranged")["Body"].read() == data[:5242880] + b"tail"

    def copy(**conditions: Any) -> Any:
        return s3.copy_object(Bucket=name, Key="dst", CopySource={"Bucket": name, "Key": "source"}, **conditions)

    assert copy(CopySourceIfMatch=source["ETag"])["CopyObjectResult"]["ETag"] == source["ETag"]
    past, future = "Thu, 01 Jan 2015 00:00:00 GMT", "Fri, 01 Jan 2100 00:00:00 GMT"
    for conditions in (
        {"CopySourceIfMatch": '"0000"'},
        {"CopySourceIfNoneMatch": source["ETag"]},
        {"CopySourceIfModifiedSince": future},
        {"CopySourceIfUnmodifiedSince": past},
    ):
        with pytest.raises(ClientError) as failed:
            copy(**conditions)
        assert code_of(failed) == ("PreconditionFailed", 412), conditions
    assert copy(CopySourceIfModifiedSince=past, CopySourceIfUnmodifiedSince=future)["CopyObjectResult"]["ETag"]


def test_presigned_s3_urls_get_the_s3_api(s3: Any, server: Server, name: str) -> None:
    """Presigned listings sign /bucket as boto3 writes it, and a browser can upload in parts through
    presigned UploadPart URLs (what S3 multipart uploaders in web pages do)."""
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="a/1", Body=b"one")
    for version in ("s3v4", "s3"):
        signer = s3_client(server, signature_version=version)
        listing = signer.generate_presigned_url("list_objects_v2", Params={"Bucket": name, "Prefix": "a/"})
        listed = requests.get(listing)
        assert listed.status_code == 200 and "<Key>a/1</Key>" in listed.text, listed.text
        assert requests.head(signer.generate_presigned_url("head_bucket", Params={"Bucket": name})).status_code == 200
    upload = s3.create_multipart_upload(Bucket=name, Key="big")["UploadId"]
    data = os.urandom(6 * 1024 * 1024)
    etags = []
    for number, chunk in ((1, data[: 5 * 1024 * 1024]), (2, data[5 * 1024 * 1024 :])):
        params = {"Bucket": name, "Key": "big", "UploadId": upload, "PartNumber": number}
        put = requests.put(s3.generate_presigned_url("upload_part", Params=params), data=chunk)
        assert put.status_code == 200 and put.headers["ETag"] == f'"{hashlib.md5(chunk).hexdigest()}"'
        etags.append({"PartNumber": number, "ETag": put.headers["ETag"]})
    s3.complete_multipart_upload(Bucket=name, Key="big", UploadId=upload, MultipartUpload={"Parts": etags})
    assert s3.get_object(Bucket=name, Key="big")["Body"].read() == data
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": name, "Key": "one"})
    stored = requests.put(put_url, data=b"presigned")
    assert stored.headers["ETag"] == f'"{hashlib.md5(b"presigned").hexdigest()}"'


def test_expect_100_continue(s3: Any, name: str, tmp_path: Path) -> None:
    """curl sends Expect: 100-continue before a large body: the body follows the interim reply, and a
    refusal comes before it is sent at all."""
    s3.create_bucket(Bucket=name)
    body = tmp_path / "two-mib"
    body.write_bytes(os.urandom(2 * 1024 * 1024))
    url = s3.generate_presigned_url("put_object", Params={"Bucket": name, "Key": "big"})

    def curl(target: str) -> tuple[str, str]:
        done = subprocess.run(
            ["curl", "-sS", "-v", "-T", str(body), "-o", "/dev/null", "-w", "%{http_code}", target],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        return done.stdout, done.stderr

    status, trace = curl(url)
    assert status == "200" and "Expect: 100-continue" in trace and "100 Continue" in trace, trace
    assert s3.get_object(Bucket=name, Key="big")["Body"].read() == body.read_bytes()
    status, trace = curl(url.replace("Signature=", "Signature=0"))
    assert status == "403" and "100 Continue" not in trace, trace

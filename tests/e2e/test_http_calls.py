"""The calls and errors the SDK does not cover, over plain HTTP (signed by the SDK's signer)."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import time
import uuid
from email.utils import formatdate
from pathlib import Path

import boto3
import requests
from ufile import filemanager
from ufile.bucketmanager import BucketManager
from ufile.util import file_etag

from holdall.store.blobs.s3 import S3Location
from tests.e2e.helpers import call, count_rows, create_account, holdall_cli, raw_request, signed_headers
from tests.e2e.server import ACCESS_KEY, BLOB_URLS, SECRET_KEY, Server, blobs_env

MiB = 1024 * 1024


def put(server: Server, bucket: str, key: str, data: bytes, **headers: str) -> requests.Response:
    return call(server, "PUT", bucket, key, data=data, headers={"Content-Type": "text/plain", **headers})


def get(server: Server, bucket: str, key: str, **headers: str) -> requests.Response:
    return call(server, "GET", bucket, key, headers=headers)


def assert_error(response: requests.Response, status: int, ret_code: int | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["X-SessionId"]
    body = response.json()
    assert isinstance(body["ErrMsg"], str) and body["ErrMsg"]
    if ret_code is not None:
        assert body["RetCode"] == ret_code, body


def s3_keys() -> dict[str, str]:
    return {
        "aws_access_key_id": blobs_env["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": blobs_env["AWS_SECRET_ACCESS_KEY"],
    }


def blob_files(server: Server) -> set[str]:
    """The blobs the server stores outside its metadata: files under its data directory, or objects
    under its S3 prefix."""
    location = BLOB_URLS.get(server.data)
    if location is None:
        return {p.name for p in (server.data / "blobs").glob("??/*")}
    where = S3Location(location)
    client = boto3.client("s3", endpoint_url=where.endpoint, region_name=where.region, **s3_keys())
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=where.bucket, Prefix=where.prefix)
    return {item["Key"].rsplit("/", 1)[-1] for page in pages for item in page.get("Contents", [])}


# ----------------------------------------------------------------- uploads and reads


def blob_rows(server: Server) -> int:
    return count_rows(server.data, "blobs")


def test_content_md5_hex_and_base64(server: Server, bucket: str) -> None:
    data = b"md5 me" * 10000
    digest = hashlib.md5(data).digest()
    assert put(server, bucket, "hex", data, **{"Content-MD5": digest.hex()}).status_code == 200
    assert put(server, bucket, "b64", data, **{"Content-MD5": base64.b64encode(digest).decode()}).status_code == 200
    before = blob_files(server)
    wrong = put(server, bucket, "bad", data, **{"Content-MD5": hashlib.md5(b"other").hexdigest()})
    assert_error(wrong, 400, -15036)
    assert_error(get(server, bucket, "bad"), 404, -148654)
    assert not (blob_files(server) - before)
    assert_error(put(server, bucket, "junk", data, **{"Content-MD5": "not-an-md5"}), 400)


def test_path_style_and_traversal_key_is_just_a_name(server: Server, bucket: str) -> None:
    key = "../../etc/passwd"
    headers = signed_headers("PUT", bucket, key, {"Content-Type": "text/plain"})
    response = requests.put(f"{server.url}/{bucket}/..%2F..%2Fetc%2Fpasswd", headers=headers, data=b"not root")
    assert response.status_code == 200, response.text
    got = requests.get(f"{server.url}/{bucket}/..%2F..%2Fetc%2Fpasswd", headers=signed_headers("GET", bucket, key))
    assert got.content == b"not root"
    assert not (server.data.parent / "etc").exists()
    listing = requests.get(
        f"{server.url}/{bucket}/?list", headers=signed_headers("GET", bucket, "", {"Content-Length": "0"})
    )
    assert [item["FileName"] for item in listing.json()["DataSet"]] == [key]


def test_plus_in_path_stays_plus(server: Server, bucket: str) -> None:
    assert put(server, bucket, "a+b c", b"plus").status_code == 200
    listing = call(server, "GET", bucket, "", query="list")
    assert [item["FileName"] for item in listing.json()["DataSet"]] == ["a+b c"]


def test_bad_keys(server: Server, bucket: str) -> None:
    assert_error(call(server, "PUT", bucket, "nul%00key", sign_key="nul\x00key", data=b"x"), 400)
    long_key = "k" * 1025
    assert_error(call(server, "PUT", bucket, long_key, data=b"x"), 400)
    assert call(server, "PUT", bucket, "k" * 1024, data=b"x").status_code == 200
    bad_utf8 = requests.put(f"{server.url}/{bucket}/%ff%fe", data=b"x")
    assert_error(bad_utf8, 400)
    bad_query = requests.get(f"{server.bucket_url(bucket)}/?list&prefix=%ff")
    assert_error(bad_query, 400)


def test_empty_object(server: Server, bucket: str, tmp_path: Path) -> None:
    response = put(server, bucket, "empty", b"")
    assert response.status_code == 200
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert response.headers["ETag"] == file_etag(str(empty)) == "AAAAAA=="
    got = get(server, bucket, "empty")
    assert got.status_code == 200 and got.content == b""
    assert_error(get(server, bucket, "empty", Range="bytes=0-0"), 416)


def test_ranges_304_and_416(server: Server, bucket: str) -> None:
    data = bytes(range(100))
    put(server, bucket, "r", data)
    tail = get(server, bucket, "r", Range="bytes=-10")
    assert tail.status_code == 206 and tail.content == data[-10:]
    assert tail.headers["Content-Range"] == "bytes 90-99/100"
    open_end = get(server, bucket, "r", Range="bytes=95-")
    assert open_end.content == data[95:]
    clamped = get(server, bucket, "r", Range="bytes=50-1000")
    assert clamped.content == data[50:] and clamped.headers["Content-Range"] == "bytes 50-99/100"
    beyond = get(server, bucket, "r", Range="bytes=100-200")
    assert_error(beyond, 416)
    assert beyond.headers["Content-Range"] == "bytes */100"
    assert_error(get(server, bucket, "r", Range="bytes=abc"), 400)
    assert_error(get(server, bucket, "r", Range="bytes=9-3"), 400)
    assert_error(get(server, bucket, "r", Range="bytes=0-1,5-6"), 416)
    modified = get(server, bucket, "r").headers["Last-Modified"]
    assert get(server, bucket, "r", **{"If-Modified-Since": modified}).status_code == 304
    past = formatdate(time.time() - 3600, usegmt=True)
    assert get(server, bucket, "r", **{"If-Modified-Since": past}).status_code == 200
    assert get(server, bucket, "r", **{"If-Modified-Since": "garbage"}).status_code == 200


def test_truncated_body_creates_nothing(server: Server, bucket: str) -> None:
    key = "truncated"
    headers = signed_headers("PUT", bucket, key, {"Content-Type": "text/plain"})
    head = (
        f"PUT /{key} HTTP/1.1\r\nHost: {bucket}.localhost:{server.port}\r\n"
        f"Authorization: {headers['Authorization']}\r\nContent-Type: text/plain\r\n"
        f"Content-Length: 100000\r\n\r\n"
    ).encode()
    raw_request(server, head + b"x" * 5000)
    time.sleep(0.3)
    assert_error(get(server, bucket, key), 404, -148654)
    chunked = (
        f"PUT /{key} HTTP/1.1\r\nHost: {bucket}.localhost:{server.port}\r\n"
        f"Authorization: {headers['Authorization']}\r\nContent-Type: text/plain\r\n"
        f"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
    ).encode()
    raw_request(server, chunked)
    time.sleep(0.3)
    assert_error(get(server, bucket, key), 404, -148654)


def test_uploadhit_same_account_only(server: Server, bucket: str, bucket_manager, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = os.urandom(9 * MiB)
    src = tmp_path / "hit.bin"
    src.write_bytes(data)
    etag = file_etag(str(src))
    query = f"Hash={etag}&FileName=copy/hit.bin&FileSize={len(data)}"
    miss = call(server, "POST", bucket, "uploadhit", query=query, sign_key="copy/hit.bin")
    assert_error(miss, 404)
    assert put(server, bucket, "orig/hit.bin", data).headers["ETag"] == etag
    hit = call(server, "POST", bucket, "uploadhit", query=query, sign_key="copy/hit.bin")
    assert hit.status_code == 200, hit.text
    assert get(server, bucket, "copy/hit.bin").content == data
    wrong_size = f"Hash={etag}&FileName=copy/x&FileSize={len(data) - 1}"
    assert_error(call(server, "POST", bucket, "uploadhit", query=wrong_size, sign_key="copy/x"), 404)

    # another account that knows the hash cannot link the first account's bytes
    other_keys = create_account(server.data, f"other-{uuid.uuid4().hex[:8]}")
    other_bucket = f"o-{uuid.uuid4().hex[:12]}"
    ret, _ = BucketManager(*other_keys).createbucket(other_bucket, "cn-bj", "private")
    assert ret["RetCode"] == 0
    stolen = call(server, "POST", other_bucket, "uploadhit", query=query, sign_key="copy/hit.bin", keys=other_keys)
    assert_error(stolen, 404)
    # and may not touch the first account's bucket at all
    assert_error(call(server, "GET", bucket, "orig/hit.bin", keys=other_keys), 403)


def test_rename(server: Server, bucket: str) -> None:
    put(server, bucket, "old", b"1")
    put(server, bucket, "taken", b"2")
    conflict = call(server, "PUT", bucket, "old", query="newFileName=taken&force=false")
    assert_error(conflict, 406)
    moved = call(server, "PUT", bucket, "old", query="newFileName=new%20name&force=false")
    assert moved.status_code == 200, moved.text
    assert get(server, bucket, "new name").content == b"1"
    assert_error(get(server, bucket, "old"), 404)
    forced = call(server, "PUT", bucket, "new%20name", sign_key="new name", query="newFileName=taken&force=true")
    assert forced.status_code == 200, forced.text
    assert get(server, bucket, "taken").content == b"1"
    assert_error(call(server, "PUT", bucket, "missing", query="newFileName=x"), 404)


def test_copy_errors(server: Server, bucket: str) -> None:
    missing = call(server, "PUT", bucket, "dst", headers={"X-Ufile-Copy-Source": f"/{bucket}/nope"})
    assert_error(missing, 404, -148654)
    no_bucket = call(server, "PUT", bucket, "dst", headers={"X-Ufile-Copy-Source": "/no-such-bucket-x/k"})
    assert_error(no_bucket, 404, -30010)


def test_opmeta_errors(server: Server, bucket: str) -> None:
    put(server, bucket, "m", b"x")
    json_type = {"Content-Type": "application/json"}
    bad_json = call(server, "POST", bucket, "m", query="opmeta", headers=json_type, data=b"{not json")
    assert_error(bad_json, 400)
    wrong_op = call(server, "POST", bucket, "m", query="opmeta", headers=json_type, data=b'{"op": "delete"}')
    assert_error(wrong_op, 400)
    missing = call(
        server, "POST", bucket, "gone", query="opmeta", headers=json_type,
        data=b'{"op": "set", "metak": "mimetype", "metav": "a/b"}',
    )  # fmt: skip
    assert_error(missing, 404)


def test_auth_errors(server: Server, bucket: str) -> None:
    put(server, bucket, "secret", b"s")
    assert_error(requests.get(f"{server.bucket_url(bucket)}/secret"), 401, -148643)
    wrong = signed_headers("GET", bucket, "secret", keys=(ACCESS_KEY, "wrong-secret"))
    assert_error(requests.get(f"{server.bucket_url(bucket)}/secret", headers=wrong), 403, -148643)
    unknown = signed_headers("GET", bucket, "secret", keys=("NOSUCHKEY", SECRET_KEY))
    assert_error(requests.get(f"{server.bucket_url(bucket)}/secret", headers=unknown), 403)
    garbled = {"Authorization": "UCloud no-colon-here"}
    assert_error(requests.get(f"{server.bucket_url(bucket)}/secret", headers=garbled), 403)
    inspur = signed_headers("GET", bucket, "secret")
    inspur["Authorization"] = inspur["Authorization"].replace("UCloud ", "Inspur ", 1)
    assert requests.get(f"{server.bucket_url(bucket)}/secret", headers=inspur).content == b"s"
    other_key = signed_headers("GET", bucket, "other")
    assert_error(requests.get(f"{server.bucket_url(bucket)}/secret", headers=other_key), 403)
    assert_error(requests.get(f"{server.bucket_url('no-such-bucket-y')}/k"), 404, -30010)


def test_presigned_put_and_expiry(server: Server, bucket: str) -> None:
    files = filemanager.FileManager(ACCESS_KEY, SECRET_KEY)
    put(server, bucket, "exp", b"soon gone")
    url = files.private_download_url(bucket, "exp", expires=120)
    assert requests.get(url).content == b"soon gone"
    server.move_clock(121)
    try:
        assert_error(requests.get(url), 403)
    finally:
        server.move_clock(0)
    assert requests.get(url).content == b"soon gone"
    week = files.private_download_url(bucket, "exp", expires=8 * 24 * 3600)
    assert_error(requests.get(week), 403)
    # a presigned PUT: the verb and the Content-Type are signed
    expires = str(int(time.time()) + 60)
    signer = files
    text_headers = {"Content-Type": "text/plain", "Expires": expires}
    signature = signer.signature(bucket, "via-url", "put", text_headers)
    query = {"UCloudPublicKey": ACCESS_KEY, "Expires": expires, "Signature": signature}
    target = f"{server.bucket_url(bucket)}/via-url"
    ok = requests.put(target, params=query, data=b"put by url", headers={"Content-Type": "text/plain"})
    assert ok.status_code == 200, ok.text
    assert_error(requests.get(target, params=query, headers={"Content-Type": "text/plain"}), 403)
    assert_error(requests.put(target, params=query, data=b"x", headers={"Content-Type": "image/png"}), 403)


def test_malformed_forms(server: Server, bucket: str) -> None:
    url = server.bucket_url(bucket) + "/"
    assert_error(requests.post(url, data=b"x", headers={"Content-Type": "text/plain"}), 400)
    assert_error(requests.post(url, data=b"x", headers={"Content-Type": "multipart/form-data"}), 400)
    no_end = b'--b\r\nContent-Disposition: form-data; name="FileName"\r\n\r\nk'
    assert_error(requests.post(url, data=no_end, headers={"Content-Type": "multipart/form-data; boundary=b"}), 400)
    auth = signed_headers("POST", bucket, "form-key", {"Content-Type": "text/plain"})["Authorization"]
    truncated = (
        b'--b\r\nContent-Disposition: form-data; name="FileName"\r\n\r\nform-key\r\n'
        b'--b\r\nContent-Disposition: form-data; name="Authorization"\r\n\r\n' + auth.encode() + b"\r\n"
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="f"\r\nContent-Type: text/plain\r\n\r\n'
        b"half of the file and no closing boundary"
    )
    response = requests.post(url, data=truncated, headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert_error(response, 400)
    assert_error(get(server, bucket, "form-key"), 404)
    whole = truncated + b"\r\n--b--\r\n"
    response = requests.post(url, data=whole, headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert response.status_code == 200, response.text
    assert get(server, bucket, "form-key").content == b"half of the file and no closing boundary"
    forged = whole.replace(b"form-key", b"other-key", 1)
    response = requests.post(url, data=forged, headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert_error(response, 403)


def test_management_errors(server: Server) -> None:
    assert requests.get(f"{server.url}/?Action=DescribeBucket").json()["RetCode"] == 15037
    unknown = requests.get(f"{server.url}/?Action=NoSuchAction").json()
    assert unknown["RetCode"] == 15017 and unknown["Action"] == "NoSuchActionResponse"
    bare = requests.get(f"{server.url}/")
    assert_error(bare, 400)


def test_delete_is_idempotent_and_sweeps_blobs(server: Server, bucket: str) -> None:
    put(server, bucket, "sweep-me", os.urandom(100_000))
    put(server, bucket, "sweep-me-too", os.urandom(1000))  # small: kept inline in the metadata store
    files, rows = blob_files(server), blob_rows(server)
    for key in ("sweep-me", "sweep-me-too"):
        assert call(server, "DELETE", bucket, key).status_code == 204
        assert call(server, "DELETE", bucket, key).status_code == 204
    deadline = time.time() + 10
    while time.time() < deadline and (len(blob_files(server)) >= len(files) or blob_rows(server) > rows - 2):
        time.sleep(0.2)
    assert len(blob_files(server)) == len(files) - 1
    assert blob_rows(server) <= rows - 2


def test_curl_upload_with_expect_100_continue(server: Server, bucket: str, tmp_path: Path) -> None:
    data = os.urandom(3 * MiB)
    src = tmp_path / "curl.bin"
    src.write_bytes(data)
    headers = signed_headers("PUT", bucket, "curl.bin", {"Content-Type": "application/octet-stream"})
    command = ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-T", str(src), "-H", "Expect: 100-continue"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    command.append(f"{server.url}/{bucket}/curl.bin")
    assert subprocess.run(command, capture_output=True, text=True, check=True).stdout == "200"
    assert get(server, bucket, "curl.bin").content == data


def test_pipelined_requests_answer_in_order(server: Server, bucket: str) -> None:
    put(server, bucket, "one", b"first")
    put(server, bucket, "two", b"second!")
    requests_ = b""
    for key in ("one", "two", "one"):
        auth = signed_headers("GET", bucket, key)["Authorization"]
        requests_ += f"GET /{bucket}/{key} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {auth}\r\n\r\n".encode()
    last = b"HEAD /x HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    reply = raw_request(server, requests_ + last, half_close=False)
    assert reply.count(b"HTTP/1.1 200 OK") == 3
    assert reply.count(b"HTTP/1.1 ") == 4  # and the HEAD's 404 last
    assert reply.index(b"\r\n\r\nfirst") < reply.index(b"\r\n\r\nsecond!") < reply.rindex(b"\r\n\r\nfirst")


def test_bucket_type_and_account_changes_reach_every_worker_at_once(server: Server, bucket_manager) -> None:  # type: ignore[no-untyped-def]
    name = f"flip-{uuid.uuid4().hex[:10]}"
    assert bucket_manager.createbucket(name, "cn-bj", "private")[0]["RetCode"] == 0
    put(server, name, "k", b"v")
    url = f"{server.bucket_url(name)}/k"

    def statuses() -> set[int]:
        return {requests.get(url, headers={"Connection": "close"}).status_code for _ in range(20)}

    assert statuses() == {401}
    assert bucket_manager.updatebucket(name, "public")[0]["RetCode"] == 0
    assert statuses() == {200}
    assert bucket_manager.updatebucket(name, "private")[0]["RetCode"] == 0
    assert statuses() == {401}

    keys = create_account(server.data, f"gone-{uuid.uuid4().hex[:8]}")
    other = BucketManager(*keys)
    assert other.describebucket()[0]["RetCode"] == 0
    mine = f"acct-{uuid.uuid4().hex[:10]}"
    assert other.createbucket(mine, "cn-bj", "private")[0]["RetCode"] == 0
    assert call(server, "PUT", mine, "x", data=b"1", keys=keys).status_code == 200
    name_of_account = None
    listing = holdall_cli(server.data, "account", "list")
    for line in listing.splitlines():
        if keys[0] in line:
            name_of_account = line.split("\t")[0]
    assert name_of_account
    holdall_cli(server.data, "account", "disable", name_of_account)
    refused = {
        call(server, "GET", mine, "x", keys=keys, headers={"Connection": "close"}).status_code for _ in range(10)
    }
    assert refused == {403}
    assert other.describebucket()[0]["RetCode"] == 15037


def test_reads_see_every_acknowledged_overwrite_in_every_worker(server: Server, bucket: str) -> None:
    for round_ in range(15):
        body = f"version {round_}".encode()
        assert put(server, bucket, "hot", body).status_code == 200
        seen = {get(server, bucket, "hot", Connection="close").content for _ in range(6)}
        assert seen == {body}
    assert call(server, "DELETE", bucket, "hot").status_code == 204
    assert {get(server, bucket, "hot", Connection="close").status_code for _ in range(6)} == {404}

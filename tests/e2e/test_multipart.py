"""Multipart rules over plain HTTP: part sizes, finish checks, newKey, abort and expiry."""

from __future__ import annotations

import os
import time

import requests

from tests.e2e.helpers import call
from tests.e2e.server import Server
from tests.e2e.test_http_calls import assert_error, blob_files, get, put

MiB = 1024 * 1024
BLOCK = 4 * MiB


def initiate(server: Server, bucket: str, key: str) -> str:
    response = call(server, "POST", bucket, key, query="uploads", headers={"Content-Type": "text/plain"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["BlkSize"] == BLOCK and body["Bucket"] == bucket and body["Key"] == key
    upload_id: str = body["UploadId"]
    return upload_id


def part(server: Server, bucket: str, key: str, upload_id: str, number: int, data: bytes) -> requests.Response:
    return call(
        server, "PUT", bucket, key, query=f"uploadId={upload_id}&partNumber={number}",
        headers={"Content-Type": "application/x-part"}, data=data,
    )  # fmt: skip


def finish(
    server: Server, bucket: str, key: str, upload_id: str, etags: list[str], extra: str = ""
) -> requests.Response:
    return call(
        server, "POST", bucket, key, query=f"uploadId={upload_id}{extra}",
        headers={"Content-Type": "text/plain"}, data=",".join(etags).encode(),
    )  # fmt: skip


def list_parts(server: Server, bucket: str, upload_id: str) -> requests.Response:
    return call(server, "GET", bucket, "", query=f"muploadpart&uploadId={upload_id}")


def test_part_rules(server: Server, bucket: str) -> None:
    upload_id = initiate(server, bucket, "rules")
    assert_error(part(server, bucket, "rules", upload_id, 0, b"x" * (BLOCK + 1)), 413)
    assert_error(part(server, bucket, "rules", upload_id, -1, b"x"), 400)
    assert_error(part(server, bucket, "rules", "no-such-upload", 0, b"x"), 404)
    assert_error(part(server, bucket, "other-key", upload_id, 0, b"x"), 400)
    short = part(server, bucket, "rules", upload_id, 0, b"s" * 1000)
    tail = part(server, bucket, "rules", upload_id, 1, b"t" * 10)
    assert short.status_code == tail.status_code == 200
    assert short.json() == {"PartNumber": 0}
    etags = [short.headers["ETag"], tail.headers["ETag"]]
    assert_error(finish(server, bucket, "rules", upload_id, etags), 400)  # part 0 is not a whole block
    full = part(server, bucket, "rules", upload_id, 0, b"f" * BLOCK)
    assert full.status_code == 200
    etags[0] = full.headers["ETag"]
    assert_error(finish(server, bucket, "rules", upload_id, etags[:1]), 400)  # lists too few parts
    assert_error(finish(server, bucket, "rules", upload_id, [etags[1], etags[0]]), 400)  # wrong order
    done = finish(server, bucket, "rules", upload_id, [f'"{e}"' for e in etags])
    assert done.status_code == 200, done.text
    assert done.json() == {"Bucket": bucket, "Key": "rules", "FileSize": BLOCK + 10}
    got = get(server, bucket, "rules")
    assert got.content == b"f" * BLOCK + b"t" * 10
    assert got.headers["ETag"] == done.headers["ETag"]
    assert got.headers["Content-Type"] == "application/x-part"
    assert_error(finish(server, bucket, "rules", upload_id, etags), 404)


def test_missing_part_refused(server: Server, bucket: str) -> None:
    upload_id = initiate(server, bucket, "gap")
    first = part(server, bucket, "gap", upload_id, 0, b"a" * BLOCK)
    third = part(server, bucket, "gap", upload_id, 2, b"c")
    response = finish(server, bucket, "gap", upload_id, [first.headers["ETag"], third.headers["ETag"]])
    assert_error(response, 400)
    assert "missing" in response.json()["ErrMsg"]


def test_finish_with_new_key_when_taken(server: Server, bucket: str) -> None:
    upload_id = initiate(server, bucket, "wanted")
    etag = part(server, bucket, "wanted", upload_id, 0, b"multipart").headers["ETag"]
    put(server, bucket, "wanted", b"someone else was faster")
    done = finish(server, bucket, "wanted", upload_id, [etag], "&newKey=fallback")
    assert done.status_code == 200, done.text
    assert done.json()["Key"] == "fallback"
    assert get(server, bucket, "wanted").content == b"someone else was faster"
    assert get(server, bucket, "fallback").content == b"multipart"


def test_abort_deletes_parts(server: Server, bucket: str) -> None:
    upload_id = initiate(server, bucket, "aborted")
    before = blob_files(server)
    part(server, bucket, "aborted", upload_id, 0, os.urandom(BLOCK))
    part(server, bucket, "aborted", upload_id, 1, os.urandom(100))
    listed = list_parts(server, bucket, upload_id).json()
    assert listed["RetCode"] == 0 and listed["Key"] == "aborted" and listed["Status"] == 0
    assert [p["PartNum"] for p in listed["Parts"]] == [0, 1]
    assert call(server, "DELETE", bucket, "aborted", query=f"uploadId={upload_id}").status_code == 200
    assert_error(list_parts(server, bucket, upload_id), 404)
    assert_error(part(server, bucket, "aborted", upload_id, 2, b"late"), 404)
    deadline = time.time() + 10
    while time.time() < deadline and blob_files(server) - before:
        time.sleep(0.2)
    assert not blob_files(server) - before


def test_list_parts_pages(server: Server, bucket: str) -> None:
    upload_id = initiate(server, bucket, "paged")
    for number in range(3):
        part(server, bucket, "paged", upload_id, number, b"p" * BLOCK)
    page = call(server, "GET", bucket, "", query=f"muploadpart&uploadId={upload_id}&max-parts=2").json()
    assert [p["PartNum"] for p in page["Parts"]] == [0, 1] and page["IsTruncated"] is True
    rest = call(
        server, "GET", bucket, "", query=f"muploadpart&uploadId={upload_id}&max-parts=2&part-number-marker=1"
    ).json()
    assert [p["PartNum"] for p in rest["Parts"]] == [2] and rest["IsTruncated"] is False


def test_unfinished_uploads_expire(server: Server, bucket: str) -> None:
    upload_id = initiate(server, bucket, "forgotten")
    part(server, bucket, "forgotten", upload_id, 0, b"left behind")
    server.move_clock(8 * 24 * 3600)
    try:
        deadline = time.time() + 10
        while time.time() < deadline and list_parts(server, bucket, upload_id).status_code == 200:
            time.sleep(0.2)
    finally:
        server.move_clock(0)
    assert_error(list_parts(server, bucket, upload_id), 404)

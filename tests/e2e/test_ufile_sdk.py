"""The real ufile SDK (PyPI ufile==3.2.11) against a real holdall server."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest
import requests
from ufile import config as ufile_config
from ufile import filemanager, multipartuploadufile
from ufile.util import file_etag

from tests.e2e.server import ACCESS_KEY, SECRET_KEY, Server

MiB = 1024 * 1024


@pytest.fixture
def files() -> filemanager.FileManager:
    return filemanager.FileManager(ACCESS_KEY, SECRET_KEY)


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_putfile_then_download_byte_exact(files: filemanager.FileManager, bucket: str, tmp_path: Path) -> None:
    data = os.urandom(300_000)
    src = write(tmp_path / "photo.jpg", data)
    ret, resp = files.putfile(bucket, "dir/photo.jpg", str(src))
    assert resp.status_code == 200, resp
    assert resp.etag == file_etag(str(src))
    out = tmp_path / "out"
    ret, resp = files.download_file(bucket, "dir/photo.jpg", str(out))
    assert resp.status_code == 200, resp
    assert out.read_bytes() == data
    ret, resp = files.head_file(bucket, "dir/photo.jpg")
    assert resp.status_code == 200
    assert resp.content_type == "image/jpeg"
    assert int(resp.content_length) == len(data)
    assert files.compare_file_etag(bucket, "dir/photo.jpg", str(src))


def test_putfile_with_md5(files: filemanager.FileManager, bucket: str, tmp_path: Path) -> None:
    src = write(tmp_path / "a.txt", b"checked by md5\n")
    ufile_config.set_default(md5=True)
    try:
        ret, resp = files.putfile(bucket, "a.txt", str(src))
    finally:
        ufile_config.set_default(md5=False)
    assert resp.status_code == 200, resp


def test_putstream_with_and_without_length(files: filemanager.FileManager, bucket: str, tmp_path: Path) -> None:
    data = os.urandom(5 * MiB + 17)
    ret, resp = files.putstream(bucket, "stream/sized", io.BytesIO(data), mime_type="application/x-test")
    assert resp.status_code == 200, resp

    def generate() -> object:
        for offset in range(0, len(data), 70_000):
            yield data[offset : offset + 70_000]

    ret, resp = files.putstream(bucket, "stream/chunked", generate())
    assert resp.status_code == 200, resp
    for key in ("stream/sized", "stream/chunked"):
        out = tmp_path / key.replace("/", "_")
        ret, resp = files.download_file(bucket, key, str(out))
        assert resp.status_code == 200
        assert hashlib.sha256(out.read_bytes()).digest() == hashlib.sha256(data).digest()
    ret, resp = files.head_file(bucket, "stream/sized")
    assert resp.content_type == "application/x-test"
    assert resp.etag == file_etag(str(tmp_path / "stream_sized"))


def test_postfile(files: filemanager.FileManager, bucket: str, tmp_path: Path) -> None:
    data = b"--not-a-boundary\r\n" + os.urandom(100_000) + b"\r\n--"
    src = write(tmp_path / "form.bin", data)
    ret, resp = files.postfile(bucket, "posted/form.bin", str(src))
    assert resp.status_code == 200, resp
    out = tmp_path / "out"
    ret, resp = files.download_file(bucket, "posted/form.bin", str(out))
    assert out.read_bytes() == data


def test_download_with_range(files: filemanager.FileManager, bucket: str, tmp_path: Path) -> None:
    data = bytes(range(256)) * 40
    files.putstream(bucket, "ranged", io.BytesIO(data))
    out = tmp_path / "part"
    ret, resp = files.download_file(bucket, "ranged", str(out), content_range=(10, 99))
    assert resp.status_code == 206
    assert resp.content_range == (10, 99)
    assert out.read_bytes() == data[10:100]


def test_private_download_url(files: filemanager.FileManager, bucket: str, server: Server) -> None:
    files.putstream(bucket, "private/url.txt", io.BytesIO(b"presigned"))
    url = files.private_download_url(bucket, "private/url.txt", expires=60)
    assert requests.get(url).content == b"presigned"
    head = files.private_head_url(bucket, "private/url.txt", expires=60)
    assert requests.head(head).status_code == 200
    assert requests.get(url.replace("Signature=", "Signature=x")).status_code == 403
    assert requests.get(server.bucket_url(bucket) + "/private/url.txt").status_code == 401


def test_public_bucket_reads_without_signature(files: filemanager.FileManager, bucket_manager, server: Server) -> None:  # type: ignore[no-untyped-def]
    import uuid

    name = f"pub-{uuid.uuid4().hex[:10]}"
    ret, resp = bucket_manager.createbucket(name, "cn-bj", "public")
    assert ret["RetCode"] == 0
    files.putstream(name, "open.txt", io.BytesIO(b"for everyone"))
    assert requests.get(files.public_download_url(name, "open.txt")).content == b"for everyone"
    assert requests.put(server.bucket_url(name) + "/open.txt", data=b"x").status_code == 401


def test_deletefile(files: filemanager.FileManager, bucket: str) -> None:
    files.putstream(bucket, "doomed", io.BytesIO(b"bye"))
    ret, resp = files.deletefile(bucket, "doomed")
    assert resp.status_code == 204
    ret, resp = files.head_file(bucket, "doomed")
    assert resp.status_code == 404
    ret, resp = files.download_file(bucket, "doomed", "/dev/null")
    assert resp.status_code == 404
    assert resp.ret_code == -148654
    assert resp.x_session_id


def test_getfilelist_pages_with_marker(files: filemanager.FileManager, bucket: str) -> None:
    names = [*sorted(f"list/{i:03d}" for i in range(25)), "other/x"]
    for name in names:
        files.putstream(bucket, name, io.BytesIO(name.encode()))
    ret, resp = files.getfilelist(bucket, prefix="list/", limit=10)
    assert resp.status_code == 200
    seen = [item["FileName"] for item in ret["DataSet"]]
    assert ret["NextMarker"] == "list/009"
    while ret["NextMarker"]:
        ret, resp = files.getfilelist(bucket, prefix="list/", marker=ret["NextMarker"], limit=10)
        seen += [item["FileName"] for item in ret["DataSet"]]
    assert seen == names[:-1]
    item = ret["DataSet"][0]
    assert set(item) >= {"BucketName", "FileName", "Hash", "MimeType", "Size", "CreateTime", "ModifyTime"}


def test_listobjects_with_delimiter(files: filemanager.FileManager, bucket: str) -> None:
    for name in ("a/1", "a/2", "b/c/3", "top1", "top2"):
        files.putstream(bucket, name, io.BytesIO(b"x"))
    ret, resp = files.listobjects(bucket, prefix="", marker="", maxkeys=100, delimiter="/")
    assert resp.status_code == 200, resp
    assert [item["Key"] for item in ret["Contents"]] == ["top1", "top2"]
    assert [item["Prefix"] for item in ret["CommonPrefixes"]] == ["a/", "b/"]
    assert ret["Contents"][0]["Size"] == "1"
    ret, resp = files.listobjects(bucket, prefix="", marker="", maxkeys=2, delimiter="/")
    assert ret["IsTruncated"] is True
    assert [item["Prefix"] for item in ret["CommonPrefixes"]] == ["a/", "b/"]
    ret, resp = files.listobjects(bucket, prefix="", marker=ret["NextMarker"], maxkeys=2, delimiter="/")
    assert [item["Key"] for item in ret["Contents"]] == ["top1", "top2"]
    assert ret["CommonPrefixes"] == [] and ret["IsTruncated"] is False


def test_multipart_upload_20_mib(bucket: str, tmp_path: Path, files: filemanager.FileManager) -> None:
    data = os.urandom(20 * MiB + 12345)
    src = write(tmp_path / "big.bin", data)
    uploader = multipartuploadufile.MultipartUploadUFile(ACCESS_KEY, SECRET_KEY)
    ret, resp = uploader.uploadfile(bucket, "big/file.bin", str(src))
    assert resp.status_code == 200, resp
    assert ret["FileSize"] == len(data)
    assert resp.etag == file_etag(str(src))
    out = tmp_path / "out.bin"
    ret, resp = files.download_file(bucket, "big/file.bin", str(out))
    assert out.read_bytes() == data
    assert files.compare_file_etag(bucket, "big/file.bin", str(src))
    ret, resp = files.download_file(bucket, "big/file.bin", str(out), content_range=(4 * MiB - 5, 8 * MiB + 5))
    assert out.read_bytes() == data[4 * MiB - 5 : 8 * MiB + 6]


def test_multipart_resume_through_listparts(
    bucket: str, tmp_path: Path, files: filemanager.FileManager, server: Server
) -> None:
    data = os.urandom(10 * MiB + 1)
    src = write(tmp_path / "resume.bin", data)
    uploader = multipartuploadufile.MultipartUploadUFile(ACCESS_KEY, SECRET_KEY)
    ret, resp = uploader.init_multipart_upload(bucket, "resumed.bin")
    assert resp.status_code == 200
    upload_id, block = ret["UploadId"], ret["BlkSize"]
    assert block == 4 * MiB
    # part 0 goes up, signed by the SDK, then the client "crashes"
    headers = {"Content-Type": "application/octet-stream"}
    headers["Authorization"] = uploader.authorization("put", bucket, "resumed.bin", headers)
    part0 = requests.put(
        f"{server.bucket_url(bucket)}/resumed.bin?uploadId={upload_id}&partNumber=0",
        headers=headers,
        data=data[:block],
    )
    assert part0.status_code == 200 and part0.json() == {"PartNumber": 0}
    lister = multipartuploadufile.MultipartUploadUFile(ACCESS_KEY, SECRET_KEY)
    ret, resp = lister.get_multi_upload_part(bucket, upload_id)
    assert resp.status_code == 200, resp
    parts = ret["Parts"]
    assert [p["PartNum"] for p in parts] == [0]
    resumer = multipartuploadufile.MultipartUploadUFile(ACCESS_KEY, SECRET_KEY)
    with open(src, "rb") as stream:
        stream.seek(len(parts) * block)
        ret, resp = resumer.resumeuploadstream(
            bucket=bucket, key="resumed.bin", uploadid=upload_id, blocksize=block,
            etaglist=[p["Etag"] for p in parts], stream=stream, pausepartnumber=len(parts),
            mime_type="application/octet-stream",
        )  # fmt: skip
    assert resp.status_code == 200, resp
    out = tmp_path / "out"
    files.download_file(bucket, "resumed.bin", str(out))
    assert out.read_bytes() == data


def test_copy_and_opmeta(files: filemanager.FileManager, bucket: str, tmp_path: Path) -> None:
    files.putstream(bucket, "orig inal+name.txt", io.BytesIO(b"copy me"), mime_type="text/plain")
    ret, resp = files.copy(bucket, "copied.txt", bucket, "orig inal+name.txt")
    assert resp.status_code == 200, resp
    out = tmp_path / "out"
    files.download_file(bucket, "copied.txt", str(out))
    assert out.read_bytes() == b"copy me"
    ret, resp = files.opMeta(bucket, "copied.txt", "mimetype", "application/x-copied")
    assert resp.status_code == 200, resp
    ret, resp = files.head_file(bucket, "copied.txt")
    assert resp.content_type == "application/x-copied"
    ret, resp = files.head_file(bucket, "orig inal+name.txt")
    assert resp.content_type == "text/plain"


def test_restore_and_storage_class(files: filemanager.FileManager, bucket: str) -> None:
    files.putstream(bucket, "cold", io.BytesIO(b"brr"))
    ret, resp = files.class_switch_file(bucket, "cold", "IA")
    assert resp.status_code == 200, resp
    ret, resp = files.restore_file(bucket, "cold")
    assert resp.status_code == 200, resp
    ret, resp = files.listobjects(bucket, prefix="", marker="", maxkeys=10, delimiter="")
    assert ret["Contents"][0]["StorageClass"] == "IA"
    ret, resp = files.head_file(bucket, "cold")
    assert int(resp.content_length) == 3


def test_bucket_manager_lifecycle(bucket_manager, server: Server) -> None:  # type: ignore[no-untyped-def]
    import uuid

    name = f"bm-{uuid.uuid4().hex[:10]}"
    ret, resp = bucket_manager.createbucket(name, "cn-sh2", "private")
    assert ret["RetCode"] == 0 and ret["BucketName"] == name and ret["BucketId"].startswith("oss-")
    ret, resp = bucket_manager.createbucket(name, "cn-sh2", "private")
    assert ret["RetCode"] == 15000
    ret, resp = bucket_manager.createbucket("Bad_Name", "cn-sh2", "private")
    assert ret["RetCode"] == 15001
    ret, resp = bucket_manager.describebucket(name)
    assert ret["RetCode"] == 0 and ret["Action"] == "DescribeBucketResponse"
    (item,) = ret["DataSet"]
    assert item["Type"] == "private" and item["Region"] == "cn-sh2"
    assert item["Domain"]["Src"] == [f"{name}.localhost:{server.port}"]
    ret, resp = bucket_manager.updatebucket(name, "public")
    assert ret["RetCode"] == 0
    ret, resp = bucket_manager.describebucket(name)
    assert ret["DataSet"][0]["Type"] == "public"
    ret, resp = bucket_manager.describebucket(offset=0, limit=1000)
    assert name in [b["BucketName"] for b in ret["DataSet"]]
    files = filemanager.FileManager(ACCESS_KEY, SECRET_KEY)
    files.putstream(name, "keep", io.BytesIO(b"x"))
    ret, resp = bucket_manager.deletebucket(name)
    assert ret["RetCode"] == 15023
    files.deletefile(name, "keep")
    ret, resp = bucket_manager.deletebucket(name)
    assert ret["RetCode"] == 0
    ret, resp = bucket_manager.describebucket(name)
    assert ret["RetCode"] == 15010

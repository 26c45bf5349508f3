"""A signature allows exactly what it signed: unsigned inputs, moved signatures, replays on other
buckets and token escapes are refused (issue 7, classes 1–3)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from email.utils import formatdate
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from holdall.auth import ufile, v4
from holdall.client.presign import presign_url
from tests.e2e.helpers import api, call
from tests.e2e.server import ACCESS_KEY, SECRET_KEY, Server
from tests.e2e.test_presigned import cos_url, oss_url, s3_url, tos_url
from tests.e2e.test_tokens import keys_of, make_token

DIALECTS = ("ufile", "aws4", "aws2", "oss4", "oss1", "tos4", "cos")
SIGNED_HEADER_PREFIX = {"aws2": "x-amz-", "oss1": "x-oss-", "oss4": "x-oss-"}
"""Headers these dialects sign whether or not the URL's maker sent them: adding one is a mismatch."""


def put_url(server: Server, dialect: str, bucket: str, key: str, method: str = "PUT") -> str:
    """A URL made by the vendor's own SDK where there is one."""
    if dialect == "aws4":
        return s3_url(server, method, bucket, key)
    if dialect == "aws2":
        return s3_url(server, method, bucket, key, version=None)
    if dialect in ("oss4", "oss1"):
        return oss_url(server, method, bucket, key, v4=dialect == "oss4")
    if dialect == "tos4":
        return tos_url(server, method, bucket, key)
    if dialect == "cos":
        return cos_url(server, method, bucket, key)
    return presign_url(method, server.url, bucket, key, ACCESS_KEY, SECRET_KEY)


def _connect(url: str) -> tuple[str, dict[str, str]]:
    """TOS and COS URLs name <bucket>.127.0.0.1: connect to loopback and send that Host."""
    parts = urlsplit(url)
    return parts._replace(netloc=f"127.0.0.1:{parts.port}").geturl(), {"Host": parts.netloc}


def _refused(response: requests.Response, name: str) -> None:
    """Refused for the input itself, or (where the dialect signs every query parameter) as a mismatch."""
    assert response.status_code == 403, (response.status_code, response.text)
    assert name in response.text or "SignatureDoesNotMatch" in response.text, response.text


def _named(response: requests.Response, name: str) -> None:
    """Refused, naming the unsigned input: no dialect here signs these headers, so it is never a mismatch."""
    assert response.status_code == 403, (response.status_code, response.text)
    assert name in response.text and "SignatureDoesNotMatch" not in response.text, response.text


@pytest.mark.parametrize("dialect", ["aws4", "aws2"])
def test_presigned_s3_urls_take_no_unsigned_input(server: Server, bucket: str, dialect: str) -> None:
    """Presigned S3 URLs are served by the S3 API: other APIs' headers mean nothing there, an unsigned
    x-amz-* header is refused, and a query the URL did not sign cannot pick another operation."""
    assert call(server, "PUT", bucket, "private.txt", data=b"secret").ok
    assert call(server, "PUT", bucket, "index.html", data=b"home").ok
    target = put_url(server, dialect, bucket, "pub/avatar.png")
    ignored = requests.put(target, headers={"X-Ufile-Copy-Source": f"/{bucket}/private.txt"}, data=b"own")
    assert ignored.status_code == 200 and call(server, "GET", bucket, "pub/avatar.png").content == b"own"
    for header in ("x-amz-copy-source", "x-amz-meta-owner", "x-amz-storage-class"):
        added = requests.put(target, headers={header: f"/{bucket}/private.txt"}, data=b"x")
        assert added.status_code == 403, added.text
        assert (header in added.text) if dialect == "aws4" else "SignatureDoesNotMatch" in added.text
    assert call(server, "GET", bucket, "pub/avatar.png").content == b"own"
    renamed = requests.put(target + "&newFileName=index.html&force=true", data=b"x")
    assert renamed.status_code in (403, 501), renamed.text
    assert call(server, "GET", bucket, "index.html").content == b"home"
    upload = call(server, "POST", bucket, "big.bin", query="uploads").json()["UploadId"]
    deleter = put_url(server, dialect, bucket, "big.bin", "DELETE")
    assert requests.delete(deleter + f"&uploadId={upload}").status_code == 403
    assert call(server, "GET", bucket, "", query=f"muploadpart&uploadId={upload}").ok


@pytest.mark.parametrize("dialect", [dialect for dialect in DIALECTS if dialect not in ("aws4", "aws2")])
def test_unsigned_copy_source_rename_and_abort_are_refused(server: Server, bucket: str, dialect: str) -> None:
    assert call(server, "PUT", bucket, "private.txt", data=b"secret").ok
    assert call(server, "PUT", bucket, "index.html", data=b"home").ok
    target, plain = _connect(put_url(server, dialect, bucket, "pub/avatar.png"))
    copy = requests.put(target, headers={**plain, "X-Ufile-Copy-Source": f"/{bucket}/private.txt"})
    _named(copy, "x-ufile-copy-source")
    assert call(server, "HEAD", bucket, "pub/avatar.png").status_code == 404
    for header in ("x-ufile-meta-owner", "x-amz-meta-owner", "x-oss-storage-class", "x-ufile-storage-class"):
        added = requests.put(target, headers={**plain, header: "IA"}, data=b"x")
        if header.startswith(SIGNED_HEADER_PREFIX.get(dialect, "-")):
            assert added.status_code == 403 and "SignatureDoesNotMatch" in added.text, added.text
        else:
            _named(added, header)
    assert call(server, "HEAD", bucket, "pub/avatar.png").status_code == 404
    rename = requests.put(target + "&newFileName=index.html&force=true", headers=plain, data=b"x")
    _refused(rename, "newFileName")
    assert call(server, "GET", bucket, "index.html").content == b"home"
    upload = call(server, "POST", bucket, "big.bin", query="uploads").json()["UploadId"]
    assert call(server, "PUT", bucket, "big.bin", query=f"uploadId={upload}&partNumber=0", data=b"p").ok
    deleter, plain_delete = _connect(put_url(server, dialect, bucket, "big.bin", "DELETE"))
    _refused(requests.delete(deleter + f"&uploadId={upload}", headers=plain_delete), "uploadId")
    parts = call(server, "GET", bucket, "", query=f"muploadpart&uploadId={upload}").json()
    assert [part["PartNum"] for part in parts["Parts"]] == [0], parts
    assert requests.put(target, headers=plain, data=b"avatar").status_code == 200
    assert call(server, "GET", bucket, "pub/avatar.png").content == b"avatar"


def _ufile_header_call(server: Server, bucket: str, key: str, signature: str, date: str) -> requests.Response:
    headers = {"Authorization": f"UCloud {ACCESS_KEY}:{signature}", "Date": date}
    return requests.get(f"{server.url}/{bucket}/{key}", headers=headers)


def test_expired_signatures_moved_into_headers_are_refused(server: Server, bucket: str) -> None:
    assert call(server, "PUT", bucket, "k.txt", data=b"data").ok
    expires = int(time.time()) - 3600
    text = ufile.string_to_sign("GET", bucket, "k.txt", date=str(expires))
    moved = _ufile_header_call(server, bucket, "k.txt", ufile.sign(SECRET_KEY, text), str(expires))
    assert moved.status_code == 403 and "HTTP date" in moved.json()["ErrMsg"], moved.text
    oss_v1 = parse_qs(urlsplit(oss_url(server, "GET", bucket, "k.txt", v4=False)).query)
    moved = _ufile_header_call(server, bucket, "k.txt", oss_v1["Signature"][0], oss_v1["Expires"][0])
    assert moved.status_code == 403 and "HTTP date" in moved.json()["ErrMsg"], moved.text
    aws_v2 = parse_qs(urlsplit(s3_url(server, "GET", bucket, "k.txt", version=None)).query)
    moved = _ufile_header_call(server, bucket, "k.txt", aws_v2["Signature"][0], aws_v2["Expires"][0])
    assert moved.status_code == 403 and "HTTP date" in moved.json()["ErrMsg"], moved.text
    stale = formatdate(time.time() - 1200, usegmt=True)
    text = ufile.string_to_sign("GET", bucket, "k.txt", date=stale)
    skewed = _ufile_header_call(server, bucket, "k.txt", ufile.sign(SECRET_KEY, text), stale)
    assert skewed.status_code == 403 and "server's clock" in skewed.json()["ErrMsg"], skewed.text
    now = formatdate(time.time(), usegmt=True)
    text = ufile.string_to_sign("GET", bucket, "k.txt", date=now)
    assert _ufile_header_call(server, bucket, "k.txt", ufile.sign(SECRET_KEY, text), now).content == b"data"


def test_cross_bucket_replays_are_refused(server: Server, bucket: str) -> None:
    other = f"{bucket}-b"
    assert api(server, "CreateBucket", BucketName=other, Region="cn-bj")["RetCode"] == 0
    for name in (bucket, other):
        assert call(server, "PUT", name, "k.txt", data=name.encode()).ok
    url = presign_url("GET", server.url, bucket, "k.txt", ACCESS_KEY, SECRET_KEY, dialect="cos")
    assert requests.get(url).content == bucket.encode()
    replayed = requests.get(url.replace(f"/{bucket}/", f"/{other}/"))
    assert replayed.status_code == 403 and "SignatureDoesNotMatch" in replayed.text, replayed.text
    hosted = presign_url("GET", server.url, bucket, "k.txt", ACCESS_KEY, SECRET_KEY, dialect="cos", virtual_host=True)
    target, plain = _connect(hosted)
    assert requests.get(target, headers=plain).content == bucket.encode()
    sdk_hostless = cos_url(server, "GET", bucket, "k.txt", sign_host=False)  # the SDK's SignHost=False
    assert "host" not in parse_qs(urlsplit(sdk_hostless).query).get("q-header-list", [""])[0], sdk_hostless
    hostless_target, _ = _connect(sdk_hostless)
    for name in (bucket, other):
        refused = requests.get(hostless_target, headers={"Host": f"{name}.127.0.0.1:{server.port}"})
        assert refused.status_code == 403 and "must include host" in refused.text, refused.text
    for name in (bucket, other):
        refused = requests.get(_v4_url_without_host(server, name, "k.txt"), headers={"X-Probe": "1"})
        assert refused.status_code == 400 and "must include host" in refused.text, refused.text


def _v4_url_without_host(server: Server, bucket: str, key: str) -> str:
    """A correctly signed V4 URL on a bucket host whose signature covers a header, but not host."""
    now = time.time()
    timestamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%dT%H%M%SZ")
    date = timestamp[:8]
    query = {
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
        "X-Amz-Credential": f"{ACCESS_KEY}/{date}/cn-bj/s3/aws4_request",
        "X-Amz-Date": timestamp,
        "X-Amz-Expires": "600",
        "X-Amz-SignedHeaders": "x-probe",
    }
    parsed = v4.V4Query(v4.AWS4, ACCESS_KEY, date, "cn-bj", timestamp, now, 600, ("x-probe",), "", "")
    canonical = v4.canonical_request(parsed, "GET", f"/{key}", query, {"x-probe": "1"}, ["x-probe"])
    query["X-Amz-Signature"] = v4.signature(v4.AWS4, SECRET_KEY, date, "cn-bj", v4.string_to_sign(parsed, canonical))
    return f"{server.bucket_url(bucket)}/{key}?{urlencode(query)}"


def test_token_scope_follows_the_upload(server: Server, bucket: str) -> None:
    token = make_token(server, ops=["TOKEN_ALLOW_WRITE", "TOKEN_ALLOW_DELETE", "TOKEN_ALLOW_LIST"],
                       AllowedPrefixes=["up/"])  # fmt: skip
    keys = keys_of(token)
    private = call(server, "POST", bucket, "private/big.bin", query="uploads").json()["UploadId"]
    escape = call(server, "DELETE", bucket, "up/x", query=f"uploadId={private}", keys=keys)
    assert escape.status_code in (400, 403), escape.text
    assert call(server, "GET", bucket, "", query=f"muploadpart&uploadId={private}").ok
    own = call(server, "POST", bucket, "up/mine.bin", query="uploads", keys=keys).json()["UploadId"]
    listed = call(server, "GET", bucket, "", query=f"muploadpart&uploadId={own}", keys=keys)
    assert listed.ok and listed.json()["Key"] == "up/mine.bin", listed.text
    refused = call(server, "GET", bucket, "", query=f"muploadpart&uploadId={private}", keys=keys)
    assert refused.status_code == 403 and "AllowedPrefixes" in refused.json()["ErrMsg"], refused.text

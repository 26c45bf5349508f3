"""URLs signed locally by ``holdall presign`` and :func:`holdall.client.presign_url`, in every dialect."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
import requests
from ufile.bucketmanager import BucketManager

from holdall.client import DIALECTS, presign_url
from tests.e2e.server import ACCESS_KEY, SECRET_KEY, Server
from tests.e2e.test_cos_token import cos_token


def cli_presign(server: Server, *args: str) -> str:
    command = [
        sys.executable, "-m", "holdall", "presign", *args, "--endpoint", server.url,
        "--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY,
    ]  # fmt: skip
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("virtual_host", [False, True])
def test_cli_urls_in_every_dialect(server: Server, bucket: str, dialect: str, virtual_host: bool) -> None:
    key = f"local/{dialect} file+{uuid.uuid4().hex[:6]}.txt"
    where = ["--virtual-host"] if virtual_host else []
    if virtual_host and dialect not in ("tos4", "cos"):
        where += ["--endpoint", f"http://localhost:{server.port}"]
    put = cli_presign(server, "PUT", f"{bucket}/{key}", "--dialect", dialect, "--expires", "300", *where)
    get = cli_presign(server, "GET", f"{bucket}/{key}", "--dialect", dialect, *where)
    assert requests.put(put, data=b"signed here").status_code == 200, requests.put(put, data=b"x").text
    assert requests.get(get).content == b"signed here"
    elsewhere = requests.put(put.replace("/local/", "/other/", 1), data=b"x")
    assert elsewhere.status_code == 403


def test_signed_headers_must_be_sent(server: Server, bucket: str) -> None:
    for dialect in ("aws4", "oss4", "oss1", "ufile"):
        url = cli_presign(
            server, "PUT", f"{bucket}/typed-{dialect}", "--dialect", dialect, "--header", "Content-Type: text/csv"
        )
        assert requests.put(url, data=b"a,b", headers={"Content-Type": "text/csv"}).status_code == 200, dialect
        assert requests.put(url, data=b"a,b", headers={"Content-Type": "text/plain"}).status_code == 403, dialect


def test_cli_refuses_what_it_cannot_sign(server: Server, bucket: str) -> None:
    for args in (["PUT", "no-key-here"], ["PUT", f"{bucket}/k", "--expires", "700000"]):
        out = subprocess.run(
            [sys.executable, "-m", "holdall", "presign", *args, "--access-key", "a", "--secret-key", "b"],
            capture_output=True, text=True,
        )  # fmt: skip
        assert out.returncode != 0 and out.stderr.startswith("holdall: ")


@pytest.mark.parametrize("dialect", ["ufile", "aws4", "oss4", "tos4", "oss1", "aws2", "cos"])
def test_temporary_keys_in_every_dialect(server: Server, bucket_manager: BucketManager, dialect: str) -> None:
    application = f"app-{uuid.uuid4().hex[:10]}"
    assert bucket_manager.createbucket(application, "cn-bj", "private")[0]["RetCode"] == 0
    result = cos_token(server, ApplicationId=application, PkgName="pkg.zip", OptType=1)["Result"]
    virtual = dialect in ("tos4", "cos")

    def url(key: str, token: str) -> str:
        return presign_url(
            "PUT", server.url, application, key, result["TmpSecretId"], result["TmpSecretKey"],
            dialect=dialect, security_token=token, virtual_host=virtual, expires=300,
        )  # fmt: skip

    assert requests.put(url(result["FullPath"], result["SessionToken"]), data=b"zip").status_code == 200
    assert requests.put(url("packages/other.zip", result["SessionToken"]), data=b"zip").status_code == 403
    # the dots are percent-encoded so that the client sends them as they were signed: the key
    # "x/../packages/pkg.zip" then arrives whole, and the temporary key's scope refuses it
    dotted = url(f"x/../{result['FullPath']}", result["SessionToken"]).replace("/x/../", "/x/%2E%2E/")
    refused = requests.put(dotted, data=b"zip")
    assert refused.status_code == 403 and "AllowedPrefixes" in refused.text
    assert requests.put(url(result["FullPath"], "wrong-token"), data=b"zip").status_code == 403
    assert requests.put(url(result["FullPath"], ""), data=b"zip").status_code == 403

"""Browsers: CORS rules, preflights answered without authentication, and headless chromium uploading a File
through a presigned PUT URL and a signed form, reading back the ETag."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from tests.e2e.helpers import api, holdall_cli
from tests.e2e.server import Server
from tests.e2e.test_presigned import s3_client, s3_url

PAGE_ORIGIN = "http://127.0.0.1"
RULES = [
    {
        "AllowedOrigins": ["http://127.0.0.1:*"],
        "AllowedMethods": ["GET", "PUT", "POST", "HEAD"],
        "AllowedHeaders": ["*"],
        "ExposeHeaders": ["Last-Modified"],
        "MaxAgeSeconds": 600,
    }
]


def set_rules(server: Server, bucket: str, rules: object) -> dict[str, object]:
    reply: dict[str, object] = api(server, "UpdateBucketCors", BucketName=bucket, CORSRules=json.dumps(rules))
    return reply


def preflight(
    server: Server, bucket: str, origin: str, method: str = "PUT", headers: str = "content-type"
) -> requests.Response:
    return requests.options(
        f"{server.url}/{bucket}/k",
        headers={"Origin": origin, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": headers},
    )


def test_rules_preflight_and_headers_on_every_response(server: Server, bucket: str) -> None:
    assert preflight(server, bucket, "http://127.0.0.1:8000").status_code == 403  # no rules yet
    assert set_rules(server, bucket, RULES)["RetCode"] == 0
    allowed = preflight(server, bucket, "http://127.0.0.1:8000")
    assert allowed.status_code == 200
    assert allowed.headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:8000"
    assert "PUT" in allowed.headers["Access-Control-Allow-Methods"]
    assert allowed.headers["Access-Control-Allow-Headers"] == "content-type"
    assert allowed.headers["Access-Control-Max-Age"] == "600" and "Origin" in allowed.headers["Vary"]
    refused = preflight(server, bucket, "https://evil.example")
    assert refused.status_code == 403 and "Access-Control-Allow-Origin" not in refused.headers
    assert preflight(server, bucket, "http://127.0.0.1:8000", method="DELETE").status_code == 403

    origin = {"Origin": "http://127.0.0.1:8000"}
    assert requests.put(s3_url(server, "PUT", bucket, "c.txt"), data=b"cors", headers=origin).status_code == 200
    got = requests.get(s3_url(server, "GET", bucket, "c.txt"), headers=origin)
    assert got.headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:8000"
    exposed = got.headers["Access-Control-Expose-Headers"]
    assert "ETag" in exposed and "X-SessionId" in exposed and "Last-Modified" in exposed
    error = requests.get(s3_url(server, "GET", bucket, "missing"), headers=origin)
    assert error.status_code == 404 and error.headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:8000"
    unsigned = requests.get(f"{server.url}/{bucket}/c.txt", headers=origin)
    assert unsigned.status_code == 401 and "ETag" in unsigned.headers["Access-Control-Expose-Headers"]
    stranger = requests.get(s3_url(server, "GET", bucket, "c.txt"), headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in stranger.headers

    assert set_rules(server, bucket, [{"AllowedOrigins": ["*"]}])["RetCode"] == 15017
    assert set_rules(server, bucket, [{"AllowedOrigins": ["*"], "AllowedMethods": ["PATCH"]}])["RetCode"] == 15017
    described = api(server, "DescribeBucket", BucketName=bucket)["DataSet"][0]["CORSRules"]
    assert described[0]["AllowedOrigins"] == ["http://127.0.0.1:*"]
    holdall_cli(server.data, "bucket", "cors", bucket, "[]")
    assert preflight(server, bucket, "http://127.0.0.1:8000").status_code == 403


PAGE = """<!doctype html><html><body><div id="result">pending</div><script>
(async () => {
  const out = {};
  try {
    const file = new File(["hello from chromium"], "hello.txt", {type: "text/plain"});
    const put = await fetch(PUT_URL, {method: "PUT", body: file});
    out.put = [put.status, put.headers.get("ETag")];
    const form = new FormData();
    for (const [name, value] of Object.entries(FIELDS)) form.append(name, value);
    form.append("file", file);
    const post = await fetch(POST_URL, {method: "POST", body: form});
    out.post = [post.status, post.headers.get("ETag")];
    const bad = await fetch(PUT_URL.replace("X-Amz-Signature=", "X-Amz-Signature=0"), {method: "PUT", body: file});
    out.bad = [bad.status, (await bad.text()).includes("SignatureDoesNotMatch"), bad.headers.get("x-amz-request-id")];
  } catch (error) {
    out.error = String(error);
  }
  document.getElementById("result").textContent = JSON.stringify(out);
})();
</script></body></html>"""


@pytest.fixture
def page_server() -> Iterator[tuple[ThreadingHTTPServer, dict[str, bytes]]]:
    pages: dict[str, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path, b"")
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd, pages
    httpd.shutdown()


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("Debian's chromium is not installed; scripts/test installs it")
    return found


def test_headless_chromium_uploads_a_file(
    server: Server, bucket: str, page_server: tuple[ThreadingHTTPServer, dict[str, bytes]], tmp_path: Path
) -> None:
    httpd, pages = page_server
    assert set_rules(server, bucket, RULES)["RetCode"] == 0
    put_url = s3_url(server, "PUT", bucket, "browser/put.txt", ContentType="text/plain")
    post = s3_client(server).generate_presigned_post(
        bucket, "browser/${filename}", Fields={"success_action_status": "201"},
        Conditions=[{"success_action_status": "201"}, ["content-length-range", 1, 1000]],
    )  # fmt: skip
    script = (
        PAGE.replace("PUT_URL", json.dumps(put_url))
        .replace("POST_URL", json.dumps(post["url"]))
        .replace("FIELDS", json.dumps(post["fields"]))
    )
    pages["/upload.html"] = script.encode()
    page = f"http://127.0.0.1:{httpd.server_address[1]}/upload.html"
    out = subprocess.run(
        [
            chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=20000", "--dump-dom", page,
        ],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    found = re.search(r'<div id="result">(.*?)</div>', out.stdout)
    assert found, out.stdout + out.stderr[-2000:]
    result = json.loads(html.unescape(found.group(1)))
    assert "error" not in result, result
    head = requests.head(s3_url(server, "HEAD", bucket, "browser/put.txt"))
    assert result["put"] == [200, head.headers["ETag"]]
    stored = requests.head(s3_url(server, "HEAD", bucket, "browser/hello.txt"))
    assert result["post"] == [201, stored.headers["ETag"]]
    assert requests.get(s3_url(server, "GET", bucket, "browser/hello.txt")).content == b"hello from chromium"
    assert result["bad"][0] == 403 and result["bad"][1] is True and result["bad"][2]

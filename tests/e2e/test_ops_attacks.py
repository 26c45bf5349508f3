"""Attacks on what b63af41 added: ``/metrics``, ``/healthz`` and ``/readyz``, the access log, and the object
verbs of the command line facing a hostile server.

The server side runs against real ``holdall serve`` processes. The command line runs as users run it
(``python -m holdall``), against a small fake S3 server made here with ``http.server``: it stands for a
malicious or compromised server and answers whatever each test needs. A test whose docstring starts
"Was:" guards a hole this review found, since fixed: its text tells how the code then failed.
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import json
import os
import pty
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import pytest
import requests
from botocore.exceptions import ClientError
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.helpers import api, call, raw_request, signed_headers
from tests.e2e.server import ACCESS_KEY, SECRET_KEY, Server, free_port
from tests.e2e.test_s3_api import s3_client

MiB = 1024 * 1024
CLI_TIMEOUT = 30
LOOP_TIMEOUT = 5
"""A listing that never ends must be given up well within this."""

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


# ----------------------------------------------------------------- helpers: the real server


@pytest.fixture(scope="module")
def ops(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("ops-attacks")
    srv = Server(data=root / "data", extra=["--workers", "2", "--access-log", str(root / "access.log")]).start()
    yield srv
    srv.stop()


def access_log(server: Server) -> Path:
    return server.data.parent / "access.log"


def raw(server: Server, payload: bytes) -> bytes:
    """Sends bytes as they are on a fresh connection and returns the whole reply."""
    return raw_request(server, payload, half_close=False)


def head(target: str, *headers: str, method: str = "GET", host: str = "127.0.0.1") -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}", *headers, "Connection: close", "", ""]
    return "\r\n".join(lines).encode("latin-1")


def status_of(reply: bytes) -> int:
    return int(reply.split(b" ", 2)[1])


def is_metrics(reply: bytes) -> bool:
    return b"# HELP holdall_" in reply


def scrape(server: Server, token: str = "") -> tuple[str, Samples]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    reply = requests.get(f"{server.url}/metrics", headers=headers, timeout=10)
    assert reply.status_code == 200, reply.text
    samples = {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(reply.text)
        for sample in family.samples
    }
    return reply.text, samples


def total(samples: Samples, name: str, **labels: str) -> float:
    wanted = set(labels.items())
    return sum(value for (found, pairs), value in samples.items() if found == name and wanted <= pairs)


def scrape_until(server: Server, done: Callable[[Samples], bool], timeout: float = 10) -> Samples:
    """Workers flush once a second: scrape until every worker's counts are in."""
    deadline = time.monotonic() + timeout
    while True:
        _, samples = scrape(server)
        if done(samples) or time.monotonic() > deadline:
            return samples
        time.sleep(0.2)


def log_lines(server: Server, marker: str, count: int, timeout: float = 10) -> list[str]:
    """The access log's lines (split at newlines only) that name ``marker``; a line is written once its
    reply has gone, so wait for ``count`` of them."""
    deadline = time.monotonic() + timeout
    while True:
        text = access_log(server).read_bytes().decode("utf-8")
        found = [line for line in text.split("\n") if marker in line]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def make_bucket(server: Server, name: str) -> str:
    assert api(server, "CreateBucket", BucketName=name, Region="cn-bj")["RetCode"] == 0
    return name


# ----------------------------------------------------------------- helpers: the fake hostile server

Handler = Callable[[http.server.BaseHTTPRequestHandler, str, str, dict[str, str]], None]


class Hostile:
    """A fake S3 endpoint on a free port; ``handler(request, method, path, query)`` answers every request."""

    def __init__(self, handler: Handler) -> None:
        self.pushed = 0
        """Body bytes the fake managed to hand to the client's connection (see :meth:`push`)."""

        class Answer(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                if length:
                    self.rfile.read(length)
                parts = urlsplit(self.path)
                handler(self, self.command, unquote(parts.path), dict(parse_qsl(parts.query, keep_blank_values=True)))

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = answer

        class Quiet(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # the client hanging up on a hostile reply is what the tests want

        self.server = Quiet(("127.0.0.1", 0), Answer)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def push(self, request: http.server.BaseHTTPRequestHandler, data: bytes, *, chunked: bool = False) -> None:
        """Writes a body part, counting what the client's connection took."""
        try:
            request.wfile.write(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)
            request.wfile.flush()
        except OSError:
            raise ConnectionError from None
        self.pushed += len(data)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hostile() -> Iterator[Callable[[Handler], Hostile]]:
    made: list[Hostile] = []

    def make(handler: Handler) -> Hostile:
        made.append(Hostile(handler))
        return made[-1]

    yield make
    for fake in made:
        fake.close()


def reply(
    request: http.server.BaseHTTPRequestHandler,
    status: int,
    body: bytes = b"",
    headers: tuple[tuple[str, str], ...] = (),
) -> None:
    request.send_response(status)
    for name, value in headers:
        request.send_header(name, value)
    if not any(name.lower() in ("content-length", "transfer-encoding") for name, _ in headers):
        request.send_header("Content-Length", str(len(body)))
    request.end_headers()
    if request.command != "HEAD":
        request.wfile.write(body)


XML = (("Content-Type", "application/xml"),)


def listing(entries: list[tuple[str, int, str]], *, truncated: bool = False, token: str = "") -> bytes:
    """A ListObjectsV2 page with ``encoding-type=url`` keys: (key, size, etag) each."""
    items = "".join(
        f"<Contents><Key>{quote(key, safe='/')}</Key><Size>{size}</Size><ETag>&quot;{etag}&quot;</ETag>"
        f"<LastModified>2024-01-01T00:00:00.000Z</LastModified></Contents>"
        for key, size, etag in entries
    )
    more = f"<NextContinuationToken>{token}</NextContinuationToken>" if token else ""
    flag = "true" if truncated else "false"
    return f"<ListBucketResult><IsTruncated>{flag}</IsTruncated>{more}{items}</ListBucketResult>".encode()


class Cli:
    """``python -m holdall`` with its own config and cache directories."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.config, self.cache = home / "config", home / "cache"
        removed = ("HOLDALL_ACCESS_KEY", "HOLDALL_SECRET_KEY", "HOLDALL_DATA", "HOLDALL_METRICS_TOKEN")
        self.env = {name: value for name, value in os.environ.items() if name not in removed}
        self.env.update(XDG_CONFIG_HOME=str(self.config), XDG_CACHE_HOME=str(self.cache))

    def alias(self, name: str, url: str, access: str = "AK", secret: str = "SK") -> None:
        """Written straight into the config file, as ``alias set`` would."""
        path = self.config / "holdall" / "config.toml"
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        text = path.read_text() if path.exists() else ""
        path.write_text(text + f'[aliases.{name}]\nurl = "{url}"\naccess_key = "{access}"\nsecret_key = "{secret}"\n')

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "holdall", *args]

    def run(self, *args: str, timeout: float = CLI_TIMEOUT, **options: Any) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            self.command(*args),
            env={**self.env, **options.pop("env", {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.home,
            **options,
        )
        assert "Traceback" not in done.stderr, done.stderr
        return done

    def ends(self, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
        """Runs a verb that must give up by itself within ``timeout`` seconds."""
        try:
            return self.run(*args, timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"holdall {' '.join(args)} was still running after {timeout} s")

    def peak_rss(self, *args: str) -> tuple[subprocess.CompletedProcess[str], int]:
        """Runs a verb and returns its peak resident memory, bytes."""
        probe = (
            "import resource, subprocess, sys\n"
            "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
            "sys.stderr.write(done.stderr)\n"
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", probe, *self.command(*args)],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT,
            cwd=self.home,
        )
        return done, int(done.stdout.split()[-1]) * 1024

    def in_terminal(self, *args: str, timeout: float = CLI_TIMEOUT) -> bytes:
        """Runs a verb with a terminal for its standard output and error; returns what the terminal got."""
        control, terminal = pty.openpty()
        process = subprocess.Popen(
            self.command(*args), stdin=terminal, stdout=terminal, stderr=terminal, env=self.env, cwd=self.home
        )
        os.close(terminal)
        received = b""
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                ready, _, _ = select.select([control], [], [], 0.2)
                if ready:
                    try:
                        chunk = os.read(control, 65536)
                    except OSError:
                        break
                    if not chunk:
                        break
                    received += chunk
                elif process.poll() is not None:
                    break
        finally:
            os.close(control)
            process.kill()
            process.wait()
        return received


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    home = tmp_path / "home"
    home.mkdir()
    return Cli(home)


def tree(root: Path) -> set[str]:
    return {str(path.relative_to(root)) for path in root.rglob("*")}


# ================================================================= 1. /metrics, /healthz, /readyz


def test_service_paths_answer_only_unsigned_gets_on_the_service_host(ops: Server) -> None:
    """What must not reach /metrics or /healthz: a bucket host, a query, a signature, another method."""
    assert is_metrics(raw(ops, head("/metrics")))
    s3 = s3_client(ops)
    for name in ("metrics", "healthz", "readyz"):  # no bucket can take the names the service answers on
        assert api(ops, "CreateBucket", BucketName=name, Region="cn-bj")["RetCode"] != 0
        with pytest.raises(ClientError):
            s3.create_bucket(Bucket=name)
    aws = "Authorization: AWS4-HMAC-SHA256 Credential=HATESTROOTACCESSKEY0/20240101/cn-bj/s3/aws4_request, x"
    refused = [
        head("/metrics", host=f"metrics.localhost:{ops.port}"),
        head("/", host=f"metrics.localhost:{ops.port}"),
        head("/metrics", host=f"somebucket.localhost:{ops.port}"),
        head("/metrics", host=f"somebucket.127.0.0.1:{ops.port}"),
        head("/metrics?x-id=1"),
        head("/metrics?X-Amz-Algorithm=AWS4-HMAC-SHA256"),
        head("/metrics", aws),
        head("/metrics", "Authorization: UCloud HATESTROOTACCESSKEY0:c2ln"),
        head("/metrics", "Authorization: Basic bWV0cmljczo="),
        head("/metrics", method="DELETE"),
        head("/metrics", "Content-Length: 0", method="PUT"),
        head("/metrics", "Content-Length: 0", method="POST"),
        head("/metrics", method="PROPFIND"),
        head("/metrics/x"),
        head("http://127.0.0.1/metrics", host=f"somebucket.localhost:{ops.port}"),  # Host decides, not the URI
    ]
    for payload in refused:
        answer = raw(ops, payload)
        assert not is_metrics(answer), payload
        assert status_of(answer) != 500, (payload, answer)
    health = [
        head("/healthz", host=f"healthz.localhost:{ops.port}"),
        head("/healthz", host=f"somebucket.localhost:{ops.port}"),
        head("/healthz", aws),
        head("/healthz?Action=x"),
        head("/readyz", "Authorization: Bearer x"),
        head("/healthz", method="DELETE"),
    ]
    for payload in health:
        answer = raw(ops, payload)
        assert b'"status": "ok"' not in answer and b'"status": "ready"' not in answer, payload
        assert status_of(answer) != 500, (payload, answer)


def test_the_metrics_token_is_compared_whole(tmp_path: Path) -> None:
    token = "tok-0123456789abcdef"
    server = Server(data=tmp_path / "data", env={"HOLDALL_METRICS_TOKEN": token}).start()
    try:
        expected = {
            f"Bearer {token}": 200,
            f"bearer {token}": 200,
            f"Bearer {token[:-1]}": 401,
            f"Bearer {token}x": 401,
            f"Bearer x{token}": 401,
            f"Bearer {token.upper()}": 401,
            f"Bearer {token}, Bearer x": 401,
            f"Bearer {token}\xe9": 401,
        }
        for authorization, status in expected.items():
            answer = raw(server, head("/metrics", f"Authorization: {authorization}"))
            assert status_of(answer) == status, (authorization, answer[:200])
            assert (status == 200) == is_metrics(answer)
            assert token.encode() not in answer
        for authorization in ("", "Bearer  ", f"Basic {token}", f"Token {token}", token):
            answer = raw(server, head("/metrics", *([f"Authorization: {authorization}"] if authorization else [])))
            assert not is_metrics(answer) and status_of(answer) in (401, 403, 404), (authorization, answer[:200])
        assert status_of(raw(server, head("/metrics", method="HEAD"))) == 401
        assert status_of(raw(server, head("/healthz"))) == 200
    finally:
        server.stop()
    assert "Traceback" not in (server.log_path.read_text() if server.log_path else "")


JUNK = [
    head("/zzattack1/k", method="PROPFIND"),
    head("/zzattack2/k", method="MKCOL"),
    head("/?Action=zzattack3&PublicKey=x&Signature=y"),
    head("/?Action=zzattack4&Version=2017-03-12&AccessKeyId=x&Signature=y&SignatureMethod=HMAC-SHA1"),
    head("/?Action=zzattack5", "Authorization: TC3-HMAC-SHA256 Credential=x/y", "X-TC-Action: zzattack5"),
    head("/", "Content-Type: application/json", "X-TC-Action: zzattack6", "Content-Length: 0", method="POST"),
    head("/b/k?zzattack7", "Authorization: AWS4-HMAC-SHA256 Credential=zzattack7/20240101/cn-bj/s3/aws4_request"),
    head("/b?zzattack8=1&uploads", "Authorization: AWS zzattack8:c2ln"),
    head("/b/k?X-Amz-Algorithm=zzattack9"),
    head("/b/k?q-sign-algorithm=zzattack10"),
    head("/b/k", "Authorization: zzattack11 whatever"),
    head("/b/k", "Authorization: q-sign-algorithm=zzattack12"),
    head("/b/k", "Authorization: UCloud zzattack13:c2ln"),
    head("/b/k?Action=zzattack14&response-zzattack14=1"),
    head("/zzattack15", "Origin: http://zzattack15", "Access-Control-Request-Method: ZZATTACK15", method="OPTIONS"),
    head("/%ED%A0%80zzattack16"),
    b"GET /\xff\xfezzattack17 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    head("/metrics?zzattack18"),
    head("/k", host="zzattack19.localhost"),
    head("/b/k?uploadId=zzattack20&partNumber=zzattack20", method="DELETE"),
    head("/b/k?zzattack21", "Content-Length: 0", method="POST"),
    head("/b/k?OSSAccessKeyId=zzattack22&Expires=1&Signature=x"),
    head("/b/k?AWSAccessKeyId=zzattack23&Expires=1&Signature=x"),
    head("/b/k?X-Tos-Algorithm=zzattack24"),
    head("/b/k?x-oss-signature-version=zzattack25"),
]


def test_no_request_puts_its_own_text_in_a_label(ops: Server) -> None:
    """Label values are a closed set: unknown actions, sub-resources, dialects, methods and paths all
    land on fixed names, so a flood of junk cannot grow the series (memory and disk) without bound."""
    _, before = scrape(ops)
    series_before = len(before)
    for payload in JUNK:
        status = status_of(raw(ops, payload))
        assert status != 500, payload
    for round_ in range(40):  # the same junk with ever new text: the series must not follow
        raw(ops, head(f"/?Action=zzattack{round_}x&PublicKey=x&Signature=y"))
        raw(ops, head(f"/b/k?zzattack{round_}y", "Authorization: AWS4-HMAC-SHA256 Credential=x"))
    time.sleep(1.2)  # every worker's flush
    text, samples = scrape(ops)
    assert "zzattack" not in text.lower()
    labels = {(name, value) for (_, pairs) in samples for name, value in pairs}
    for name, value in labels:
        assert re.fullmatch(r"[A-Za-z0-9_.+\-]{1,40}", value), (name, value)
    operations = {value for name, value in labels if name == "operation"}
    assert len(operations) < 60, operations
    assert len(samples) - series_before < 300, len(samples) - series_before
    assert total(samples, "holdall_requests_total", status="500") == 0
    started = time.perf_counter()
    for _ in range(20):
        scrape(ops)
    assert (time.perf_counter() - started) / 20 < 0.1, "a scrape should cost milliseconds"
    assert "Traceback" not in (ops.log_path.read_text() if ops.log_path else "")


def _download_and_hang_up(server: Server, bucket: str, key: str, keep: int) -> None:
    signed = signed_headers("GET", bucket, key)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head(f"/{bucket}/{key}", f"Authorization: {signed['Authorization']}"))
        received = 0
        while received < keep:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += len(chunk)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST


def test_requests_in_flight_come_back_after_clients_hang_up(ops: Server) -> None:
    bucket = make_bucket(ops, "inflight")
    assert call(ops, "PUT", bucket, "big", data=os.urandom(8 * MiB)).status_code == 200
    for _ in range(3):
        _download_and_hang_up(ops, bucket, "big", 64 * 1024)
    for _ in range(3):  # a body cut short
        signed = signed_headers("PUT", bucket, "half")
        with socket.create_connection(("127.0.0.1", ops.port), timeout=10) as sock:
            authorization = f"Authorization: {signed['Authorization']}"
            sock.sendall(head(f"/{bucket}/half", authorization, "Content-Length: 1000000") + b"x" * 1000)
            time.sleep(0.05)
    for _ in range(3):  # a head cut short
        with socket.create_connection(("127.0.0.1", ops.port), timeout=10) as sock:
            sock.sendall(b"GET /inflight/big HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            time.sleep(0.02)
    samples = scrape_until(ops, lambda found: total(found, "holdall_requests_in_flight") == 1)
    assert total(samples, "holdall_requests_in_flight") == 1  # the scrape itself


def test_sent_bytes_count_what_a_client_that_hung_up_received(ops: Server) -> None:
    """Was: a download the client abandons after 64 KiB is counted as its whole length in
    holdall_sent_bytes_total and in the access log's bytes_out (app.py: ``sent`` is the reply's declared
    length), so anyone who may read one object can inflate the egress figures at will."""
    size = 48 * MiB
    bucket = make_bucket(ops, "egress")
    assert call(ops, "PUT", bucket, "big", data=os.urandom(size)).status_code == 200
    time.sleep(1.2)  # every worker's flush
    _, before = scrape(ops)
    count = total(before, "holdall_requests_total", operation="GetFile")
    sent = total(before, "holdall_sent_bytes_total", operation="GetFile")
    for _ in range(3):
        _download_and_hang_up(ops, bucket, "big", 64 * 1024)
    after = scrape_until(ops, lambda found: total(found, "holdall_requests_total", operation="GetFile") >= count + 3)
    assert total(after, "holdall_requests_total", operation="GetFile") == count + 3
    lines = [json.loads(line) for line in log_lines(ops, '"bucket":"egress"', 4)]
    logged = [line["bytes_out"] for line in lines if line["operation"] == "GetFile"]
    # What the socket buffers took before the hang-up is a few MiB at most; 20 MiB of 48 is generous
    assert all(out < 20 * MiB for out in logged), logged
    assert total(after, "holdall_sent_bytes_total", operation="GetFile") - sent < 3 * 20 * MiB


# ================================================================= 2. the access log


def test_access_log_lines_survive_control_characters_and_bad_encodings(ops: Server) -> None:
    """Held: control characters, quotes and backslashes are escaped; a lone surrogate (%ED%A0%80) or
    bytes that are not UTF-8 are refused and logged without the key; a 16 KB key is one whole line."""
    bucket = make_bucket(ops, "ctl")
    odd = "ctlmark-" + "".join(chr(code) for code in range(1, 32)) + '\x7f"\\\x1b[2J/é'
    assert call(ops, "PUT", bucket, quote(odd), sign_key=odd, data=b"x").status_code == 200
    raw(ops, head(f"/{bucket}/ctlmark-%00nul"))
    raw(ops, head(f"/{bucket}/ctlmark-%ED%A0%80surrogate"))
    raw(ops, head(f"/{bucket}/ctlmark-%C0%AFoverlong"))
    raw(ops, b"GET /ctl/ctlmark-\xff\xfe HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    long_key = "ctlmark-long-" + "%01" * 5000
    raw(ops, head(f"/{bucket}/{long_key}"))
    time.sleep(0.3)
    text = access_log(ops).read_bytes().decode("utf-8")  # the file is UTF-8 throughout
    lines = [json.loads(line) for line in text.split("\n") if line]  # each line one JSON object
    keys = [line["key"] for line in lines if line["bucket"] == bucket]
    assert odd in keys
    assert "ctlmark-\x00nul" in keys
    assert "ctlmark-long-" + "\x01" * 5000 in keys
    assert sum(1 for line in lines if line["bucket"] == bucket) >= 3
    assert not any("\ud800" in key or "\ufffd" in key for key in keys)


def test_access_log_lines_do_not_split_at_unicode_line_separators(ops: Server) -> None:
    """Was: json's encode_basestring escapes only U+0000-U+001F, so U+2028, U+2029 and U+0085 from a key
    (or from a Host header's latin-1 byte 0x85) go into the log raw. Every reader that splits lines the
    Unicode way (str.splitlines, as tests/e2e/test_access_log.py reads the log, and many log shippers)
    sees a line broken in two, neither half JSON (access_log.py: the line is ``_text`` of each field)."""
    bucket = make_bucket(ops, "seps")
    raw(ops, head(f"/{bucket}/sepmark-a%E2%80%A8b%E2%80%A9c%C2%85d"))
    raw(ops, b"GET /sepmark-host HTTP/1.1\r\nHost: x\x85y.localhost\r\nConnection: close\r\n\r\n")
    assert len(log_lines(ops, "sepmark", 2)) >= 2
    text = access_log(ops).read_bytes().decode("utf-8")
    for line in text.splitlines():
        if line:
            json.loads(line)  # a half line is no JSON


def test_stdout_access_log_lines_do_not_interleave_between_workers(tmp_path: Path) -> None:
    """Was: with ``--access-log -`` the workers share one pipe, and a write larger than PIPE_BUF (4 KiB)
    to a pipe is not atomic: when the reader falls behind (journald or docker under load), two workers'
    long lines are cut into each other. Any client picks the length with a 5 KB path (the key is logged
    before it is checked). access_log.py: one ``os.write`` per line, its result not even checked."""
    port = free_port()
    env = {**os.environ, "HOLDALL_ACCESS_KEY": ACCESS_KEY, "HOLDALL_SECRET_KEY": SECRET_KEY}
    command = [
        sys.executable, "-m", "holdall", "serve", "--data", str(tmp_path / "data"),
        "--listen", f"127.0.0.1:{port}", "--workers", "2", "--access-log", "-",
    ]  # fmt: skip
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    chunks: list[bytes] = []

    def read_slowly() -> None:
        assert process.stdout is not None
        while chunk := os.read(process.stdout.fileno(), 997):
            chunks.append(chunk)
            time.sleep(0.0005)

    reader = threading.Thread(target=read_slowly)
    reader.start()
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert time.monotonic() < deadline and process.poll() is None
                time.sleep(0.05)

        def request(index: int) -> None:
            payload = head(f"/b/{chr(65 + index % 26) * 6000}")
            with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
                sock.sendall(payload)
                while sock.recv(65536):
                    pass

        with ThreadPoolExecutor(16) as pool:
            list(pool.map(request, range(80)))
        time.sleep(0.5)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
        reader.join(10)
    lines = [line for line in b"".join(chunks).split(b"\n") if b'"session"' in line]
    broken = []
    for line in lines:
        try:
            json.loads(line)
        except ValueError:
            broken.append(line[:80])
    assert not broken, f"{len(broken)} of {len(lines)} lines are not JSON: {broken[:3]}"
    assert len(lines) == 80


# ================================================================= 3. the command line facing a hostile server

ESCAPES = [
    "pre/../../escaped1",
    "pre/a/../../escaped2",
    "pre/a/../../../escaped3",
    "pre//escaped4",
    "pre/./escaped5",
    "pre/..",
    "pre/.",
    "pre/a\x00b",
    "pre/a/\x00/..",
    "/tmp/escaped6",
    "pre/%2e%2e/%2e%2e/escaped7",  # listed literally: the client un-escapes it to pre/../../escaped7
]


def test_recursive_download_keeps_listed_keys_below_the_target(cli: Cli, hostile: Any) -> None:
    """Held: keys that would land outside the target are refused, a symlink at a file's place is replaced
    (its target untouched), a 300-byte name fails alone, and the good key arrives."""
    data = b"hostile bytes"
    etag = hashlib.md5(data).hexdigest()
    keys = [*ESCAPES, "pre/" + "n" * 300, "pre/ok", "pre/deep/ok", "pre/filelink", "pre/..\\..\\backslash"]

    def answer(request: Any, method: str, path: str, query: dict[str, str]) -> None:
        if method == "GET" and "list-type" in query:
            entries = [(key, len(data), etag) for key in keys]
            body = listing(entries).replace(b"%252e", b"%2e")  # the last ESCAPES key, unescaped once
            return reply(request, 200, body, XML)
        return reply(request, 200, data, (("ETag", f'"{etag}"'),))

    fake = hostile(answer)
    cli.alias("evil", fake.url)
    outside = cli.home / "outside"
    outside.mkdir()
    (outside / "secret").write_text("original")
    target = cli.home / "work" / "dir"
    target.mkdir(parents=True)
    (target / "filelink").symlink_to(outside / "secret")
    done = cli.run("cp", "--recursive", "--json", "evil/b/pre", "work/dir")
    assert done.returncode == 1
    results = [json.loads(line) for line in done.stdout.splitlines()]
    assert 3 <= sum(1 for line in results if line["status"] == "success") <= 5, results
    written = tree(cli.home / "work")
    assert {"dir", "dir/ok", "dir/deep", "dir/deep/ok", "dir/filelink"} <= written
    assert written <= {"dir", "dir/ok", "dir/deep", "dir/deep/ok", "dir/filelink", "dir/..\\..\\backslash"}
    assert (target / "ok").read_bytes() == data
    if (target / "filelink").is_symlink():  # refused rather than replaced: either way the target stays
        assert (target / "filelink").resolve() == outside / "secret"
    else:
        assert (target / "filelink").read_bytes() == data
    assert (outside / "secret").read_text() == "original" and tree(outside) == {"secret"}
    assert not list(cli.home.parent.rglob("escaped*")) and not Path("/tmp/escaped6").exists()


def test_recursive_download_does_not_follow_a_symlink_planted_in_the_target(cli: Cli, hostile: Any) -> None:
    """Was: whoever can plant a symlink in the target directory (a shared download folder) and name a
    key in the bucket gets that key written wherever the link points: ``dir/link -> ~`` and a key
    ``pre/link/.bashrc`` replace the user's ~/.bashrc. object_commands.py ``_download``: mkdir(parents)
    and transfer.download_file's temporary file and rename all go through the link."""
    data = b"echo owned\n"
    etag = hashlib.md5(data).hexdigest()

    def answer(request: Any, method: str, path: str, query: dict[str, str]) -> None:
        if method == "GET" and "list-type" in query:
            return reply(request, 200, listing([("pre/link/.bashrc", len(data), etag)]), XML)
        return reply(request, 200, data, (("ETag", f'"{etag}"'),))

    fake = hostile(answer)
    cli.alias("evil", fake.url)
    victim_home = cli.home / "victim"
    victim_home.mkdir()
    (victim_home / ".bashrc").write_text("# mine\n")
    target = cli.home / "shared" / "downloads"
    target.mkdir(parents=True)
    (target / "link").symlink_to(victim_home)
    cli.run("cp", "--recursive", "evil/b/pre", "shared/downloads")
    assert (victim_home / ".bashrc").read_text() == "# mine\n"
    assert tree(victim_home) == {".bashrc"}


def test_a_listing_that_repeats_its_token_is_given_up(cli: Cli, hostile: Any) -> None:
    """Was: ListObjectsV2 pages that say IsTruncated=true with the same NextContinuationToken (and
    ListMultipartUploads pages that never move their markers) are followed for ever: ``ls``, ``cp -r``,
    ``rm -r`` and ``rb --force`` hang (s3.py list_objects / list_uploads / list_parts loop while the
    server says "more"). botocore's paginators refuse a token seen twice."""
    pages = {"objects": 0, "uploads": 0}

    def answer(request: Any, method: str, path: str, query: dict[str, str]) -> None:
        if method == "GET" and "list-type" in query:
            pages["objects"] += 1
            return reply(request, 200, listing([], truncated=True, token="again"), XML)
        if method == "GET" and "uploads" in query:
            pages["uploads"] += 1
            upload = "<Upload><Key>k</Key><UploadId>u</UploadId></Upload>"
            body = f"<ListMultipartUploadsResult><IsTruncated>true</IsTruncated>{upload}</ListMultipartUploadsResult>"
            return reply(request, 200, body.encode(), XML)
        return reply(request, 204)

    fake = hostile(answer)
    cli.alias("evil", fake.url)
    done = cli.ends("ls", "evil/b", timeout=LOOP_TIMEOUT)
    assert done.returncode == 1 and pages["objects"] < 100, pages
    done = cli.ends("rb", "--force", "evil/b", timeout=LOOP_TIMEOUT)
    assert done.returncode == 1 and pages["uploads"] < 100, pages


@pytest.mark.parametrize("encoding", ["plain", "gzip"])
def test_a_huge_listing_reply_is_not_read_whole(cli: Cli, hostile: Any, encoding: str) -> None:
    """Was: a listing reply is read whole into memory before it is parsed (s3.py ``request(...).data``,
    preload_content), with no bound: an endless reply exhausts memory. And urllib3 decodes a
    Content-Encoding the client never asked for, so 128 KiB of gzip on the wire become 128 MiB in the
    client. A page is 1,000 keys of at most 1,024 bytes: a few MiB at most."""
    size = 128 * MiB
    bomb = gzip.compress(b"<ListBucketResult>" + b" " * size, 9)

    def answer(request: Any, method: str, path: str, query: dict[str, str]) -> None:
        if method != "GET":
            return reply(request, 404)
        if encoding == "gzip":
            return reply(request, 200, bomb, (*XML, ("Content-Encoding", "gzip")))
        request.send_response(200)
        request.send_header("Content-Type", "application/xml")
        request.send_header("Content-Length", str(size))
        request.end_headers()
        block = b" " * MiB
        try:
            fake.push(request, b"<ListBucketResult>" + block[18:])
            while fake.pushed < size:
                fake.push(request, block)
        except ConnectionError:
            pass

    fake = hostile(answer)
    cli.alias("evil", fake.url)
    done, peak = cli.peak_rss("ls", "evil/b")
    assert "Traceback" not in done.stderr
    assert fake.pushed < size // 2, f"the client took {fake.pushed // MiB} MiB of a listing"
    assert peak < 100 * MiB, f"the client grew to {peak // MiB} MiB for one listing page"


def test_a_download_with_no_length_stops_at_the_listed_size(cli: Cli, hostile: Any) -> None:
    """Was: a chunked reply (no Content-Length) to a GET is written to disk to its end and only then
    refused ("received N bytes of -1", transfer.download_file): an endless body fills the disk. The
    listing said 5 bytes; the client should stop past that (or refuse a reply with no length)."""
    size = 64 * MiB

    def answer(request: Any, method: str, path: str, query: dict[str, str]) -> None:
        if method == "GET" and "list-type" in query:
            return reply(request, 200, listing([("pre/f", 5, "0" * 32 + "-2")]), XML)
        if method != "GET":
            return reply(request, 200, b"", (("Content-Length", "5"), ("ETag", '"x-2"')))
        request.send_response(200)
        request.send_header("Transfer-Encoding", "chunked")
        request.send_header("ETag", '"abc-2"')
        request.end_headers()
        try:
            while fake.pushed < size:
                fake.push(request, b"z" * MiB, chunked=True)
            request.wfile.write(b"0\r\n\r\n")
        except (ConnectionError, OSError):
            pass

    fake = hostile(answer)
    cli.alias("evil", fake.url)
    done = cli.run("cp", "--recursive", "evil/b/pre", "dir")
    assert done.returncode == 1
    assert not (cli.home / "dir" / "f").exists()
    assert fake.pushed < size // 2, f"the client wrote {fake.pushed // MiB} MiB for a 5-byte object"


def test_an_object_stored_gzip_encoded_downloads_as_stored(cli: Cli, hostile: Any) -> None:
    """Was: urllib3 decodes Content-Encoding on the way in (transfer.download_file and ``cat`` read
    ``response.stream()`` with decode_content on): an object stored with Content-Encoding: gzip (S3 keeps
    and returns that header) cannot be copied (its decoded length is not its Content-Length), ``cat``
    prints bytes that are not the object's, and a hostile server's 256 KiB become 256 MiB on disk
    before the length check refuses them."""
    stored = gzip.compress(b"the object's own bytes " * 1000)
    etag = hashlib.md5(stored).hexdigest()

    def answer(request: Any, method: str, path: str, query: dict[str, str]) -> None:
        headers = (("ETag", f'"{etag}"'), ("Content-Encoding", "gzip"), ("Content-Type", "text/plain"))
        return reply(request, 200, stored, headers)

    fake = hostile(answer)
    cli.alias("evil", fake.url)
    done = cli.run("cp", "evil/b/k.gz", "k.gz")
    assert done.returncode == 0, done.stderr
    assert (cli.home / "k.gz").read_bytes() == stored
    done = subprocess.run(cli.command("cat", "evil/b/k.gz"), env=cli.env, capture_output=True, timeout=CLI_TIMEOUT)
    assert done.stdout == stored


def test_a_redirect_does_not_send_the_client_to_another_host(cli: Cli, hostile: Any) -> None:
    """Was: urllib3's PoolManager follows redirects by default (s3.py ``request``: no ``redirect=False``,
    the Retry has no ``redirect=0``), across hosts and for every method: a 307 makes ``cp`` re-send the
    user's file in a PUT to any address the server names (an internal service, from inside the user's
    network) and report the copy done, and makes ``cat``/``cp`` fetch an internal URL (cloud metadata at
    169.254.169.254) and print or save its reply as the object. An S3 client follows no redirect."""
    elsewhere: list[tuple[str, str, int]] = []

    def internal(request: Any, method: str, path: str, query: dict[str, str]) -> None:
        elsewhere.append((method, path, int(request.headers.get("content-length") or 0)))
        return reply(request, 200, b"internal service reply", (("Content-Type", "text/plain"),))

    inside = hostile(internal)

    def answer(request: Any, method: str, path: str, query: dict[str, str]) -> None:
        return reply(request, 307, b"", (("Location", f"http://localhost:{inside.port}/latest/meta-data/iam"),))

    fake = hostile(answer)
    cli.alias("evil", fake.url)
    (cli.home / "mine.txt").write_text("the user's file")
    uploaded = cli.run("cp", "mine.txt", "evil/b/k")
    printed = subprocess.run(cli.command("cat", "evil/b/k"), env=cli.env, capture_output=True, timeout=CLI_TIMEOUT)
    assert elsewhere == [], elsewhere
    assert uploaded.returncode == 1 and printed.returncode == 1
    assert b"internal service reply" not in printed.stdout


def test_a_reply_that_lies_is_refused_and_leaves_nothing(cli: Cli, hostile: Any) -> None:
    """Held: an MD5 ETag the bytes do not match, a body shorter than its Content-Length, an XML bomb
    and an external entity are refused; the file already at the target is untouched and no temporary
    file is left."""
    mode = {"now": ""}
    data = b"the real bytes"

    def answer(request: Any, method: str, path: str, query: dict[str, str]) -> None:
        now = mode["now"]
        if method == "HEAD":
            return reply(request, 200, b"", (("Content-Length", str(len(data))), ("ETag", '"x"')))
        if now == "etag":
            return reply(request, 200, data, (("ETag", f'"{hashlib.md5(b"other").hexdigest()}"'),))
        if now == "short":
            request.send_response(200)
            request.send_header("Content-Length", "1000")
            request.end_headers()
            request.wfile.write(data)
            request.close_connection = True
            return None
        entity = (
            '<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
            '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>'
            if now == "bomb"
            else '<!DOCTYPE l [<!ENTITY d SYSTEM "file:///etc/passwd">]>'
        )
        body = f"<?xml version='1.0'?>{entity}<ListBucketResult><Contents><Key>&d;</Key><Size>1</Size>"
        return reply(request, 200, (body + "</Contents></ListBucketResult>").encode(), XML)

    fake = hostile(answer)
    cli.alias("evil", fake.url)
    (cli.home / "kept").write_text("mine")
    for now, code in (("etag", "BadDigest"), ("short", "ConnectionFailed")):
        mode["now"] = now
        done = cli.run("cp", "--json", "evil/b/k", "kept")
        assert done.returncode == 1 and json.loads(done.stdout)["code"] == code, done.stdout
        assert (cli.home / "kept").read_text() == "mine"
        assert not list(cli.home.glob(".kept.*")), list(cli.home.iterdir())
    for now in ("bomb", "entity"):
        mode["now"] = now
        for verb in (["ls", "evil/b"], ["cp", "-r", "evil/b", "tree"]):
            done = cli.run(*verb, "--json")
            assert done.returncode == 1 and json.loads(done.stdout)["code"] == "InvalidResponse", done.stdout
            assert "root:" not in done.stdout
    assert not (cli.home / "tree").exists()


def test_server_text_reaches_the_terminal_without_escape_sequences(cli: Cli, hostile: Any) -> None:
    """Was: keys (un-escaped from a url-encoded listing) and the reason phrase of an error reply go to the
    terminal as they are: ESC sequences clear the screen, retitle the window or hide lines (rich strips
    BEL/BS/CR but not ESC). Any tenant can store such a key on a holdall server (check_key refuses only
    NUL), so ``holdall ls`` of a shared bucket is enough. object_commands.py Session.success/failure."""

    def answer(request: Any, method: str, path: str, query: dict[str, str]) -> None:
        if method == "GET" and "list-type" in query:
            key = "report\x1b[2J\x1b]0;OWNED\x07.txt"
            return reply(request, 200, listing([(key, 1, "0" * 32)]), XML)
        request.send_response(403, "Forbidden \x1b[2J\x1b]0;OWNED\x07")
        request.send_header("Content-Length", "0")
        request.end_headers()
        return None

    fake = hostile(answer)
    cli.alias("evil", fake.url)
    listed = cli.in_terminal("ls", "evil/b")
    assert b"report" in listed
    assert b"\x1b[2J" not in listed and b"\x1b]0;" not in listed, listed
    refused = cli.in_terminal("stat", "evil/b/k")
    assert b"Forbidden" in refused
    assert b"\x1b[2J" not in refused and b"\x1b]0;" not in refused, refused


def test_the_resume_state_cannot_redirect_an_upload(cli: Cli, ops: Server) -> None:
    """Held: a state file naming another key's upload (and an odd part size) is only a hint: the server
    ties an upload id to its bucket and key, ListParts answers NoSuchUpload, and the copy starts over
    and stores the right bytes under the right key."""
    s3 = s3_client(ops)
    s3.create_bucket(Bucket="resume")
    other = s3.create_multipart_upload(Bucket="resume", Key="other")["UploadId"]
    source = cli.home / "big.bin"
    source.write_bytes(os.urandom(20 * MiB))
    stat = source.stat()
    identity = [ops.url, "resume", "victim", str(source.resolve()), stat.st_size, stat.st_mtime_ns]
    uploads = cli.cache / "holdall" / "uploads"
    uploads.mkdir(parents=True, mode=0o700)
    state = uploads / f"{hashlib.sha256(json.dumps(identity).encode()).hexdigest()[:32]}.json"
    state.write_text(json.dumps({"upload_id": other, "part_size": 5 * MiB + 1}))
    cli.alias("real", ops.url, ACCESS_KEY, SECRET_KEY)
    done = cli.run("cp", "big.bin", "real/resume/victim")
    assert done.returncode == 0, done.stderr
    body = s3.get_object(Bucket="resume", Key="victim")["Body"].read()
    assert body == source.read_bytes()
    assert not state.exists()
    assert [item["Key"] for item in s3.list_objects_v2(Bucket="resume")["Contents"]] == ["victim"]
    assert s3.list_parts(Bucket="resume", Key="other", UploadId=other)["UploadId"] == other


def test_resume_state_and_alias_files_are_private(cli: Cli, hostile: Any) -> None:
    """Held, even under umask 000: the alias file is 0600 in a 0700 directory, the uploads directory
    is 0700; ``alias set`` and ``alias ls`` never print the secret."""

    def answer(request: Any, method: str, path: str, query: dict[str, str]) -> None:
        if method == "POST" and "uploads" in query:
            body = b"<InitiateMultipartUploadResult><UploadId>u-1</UploadId></InitiateMultipartUploadResult>"
            return reply(request, 200, body, XML)
        body = b"<Error><Code>AccessDenied</Code><Message>no</Message></Error>"
        return reply(request, 403, body, XML)

    fake = hostile(answer)
    secret = "S3CR3T-never-shown-0123456789"
    loose = {"preexec_fn": lambda: os.umask(0)}
    for extra in ([], ["--json"]):
        done = cli.run("alias", "set", *extra, "evil", fake.url, "AKIDEVIL", secret, **loose)
        assert done.returncode == 0 and secret not in done.stdout + done.stderr
    for extra in ([], ["--json"]):
        done = cli.run("alias", "ls", *extra)
        assert "AKIDEVIL" in done.stdout and secret not in done.stdout + done.stderr
    config = cli.config / "holdall"
    assert (config / "config.toml").stat().st_mode & 0o777 == 0o600
    assert config.stat().st_mode & 0o777 == 0o700
    (cli.home / "big.bin").write_bytes(b"\0" * (17 * MiB))
    done = cli.run("cp", "big.bin", "evil/b/k", **loose)
    assert done.returncode == 1 and secret not in done.stdout + done.stderr
    uploads = cli.cache / "holdall" / "uploads"
    assert uploads.stat().st_mode & 0o777 == 0o700
    (state,) = uploads.iterdir()
    assert state.stat().st_mode & 0o022 == 0 or uploads.stat().st_mode & 0o077 == 0


SECRETS = ["a'b", "$(touch pwned1)", "`touch pwned2`", "x\ny", "'; touch pwned3; '", "-n", "\\", "!*?~#", " lead"]


def test_credentials_export_quotes_every_secret_for_eval(cli: Cli) -> None:
    for secret in SECRETS:
        exported = cli.run(
            "credentials", "--export", env={"HOLDALL_ACCESS_KEY": "AK$(id)", "HOLDALL_SECRET_KEY": secret}
        ).stdout
        done = subprocess.run(
            ["sh", "-c", 'eval "$1"; printf "%s|%s" "$HOLDALL_ACCESS_KEY" "$HOLDALL_SECRET_KEY"', "sh", exported],
            capture_output=True,
            text=True,
            cwd=cli.home,
            env={"PATH": os.environ["PATH"]},
            timeout=10,
        )
        assert done.stdout == f"AK$(id)|{secret}", (secret, exported, done.stdout)
    assert not list(cli.home.glob("pwned*"))


def test_a_dead_hostile_server_costs_a_bounded_wait(cli: Cli) -> None:
    """Held: a port that refuses connections fails fast with one line, no traceback."""
    cli.alias("gone", f"http://127.0.0.1:{free_port()}")
    started = time.monotonic()
    done = cli.run("ls", "--json", "gone/b")
    assert done.returncode == 1 and json.loads(done.stdout)["code"] == "ConnectionFailed"
    assert time.monotonic() - started < 15

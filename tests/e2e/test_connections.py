"""Connection resources: slow heads and idle sockets are cut off, oversized heads refused unbuffered,
descriptors and upload slots cannot run out, and an abandoned download stops being read and charged."""

from __future__ import annotations

import re
import socket
import time
from pathlib import Path

from holdall.service.quotas import GB
from tests.e2e.helpers import api, call, signed_headers
from tests.e2e.server import Server


def test_the_soft_file_limit_is_raised_to_the_hard_one(tmp_path: Path) -> None:
    server = Server(data=tmp_path / "data", file_limit=(256, 4096)).start()
    try:
        assert server.process is not None
        limits = Path(f"/proc/{server.process.pid}/limits").read_text()
        found = re.search(r"Max open files\s+(\d+)\s+(\d+)", limits)
        assert found is not None, limits
        assert (int(found.group(1)), int(found.group(2))) == (4096, 4096), limits
    finally:
        server.stop()


def _connect(server: Server) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=10)


def _closed_by_server(sock: socket.socket, within: float) -> bool:
    """Whether the server ends the connection within ``within`` seconds (whatever it says first)."""
    sock.settimeout(within)
    deadline = time.monotonic() + within
    try:
        while time.monotonic() < deadline:
            if not sock.recv(65536):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False
    return False


def _rss_kib(pid: int) -> int:
    found = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    assert found is not None
    return int(found.group(1))


def _upload_head(server: Server, bucket: str, key: str, length: int) -> bytes:
    headers = signed_headers("PUT", bucket, key, {"Content-Type": "application/octet-stream"})
    head = f"PUT /{bucket}/{key} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nContent-Length: {length}\r\n"
    return (head + "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n").encode()


def test_slow_heads_and_idle_keepalives_are_cut_off(tmp_path: Path) -> None:
    server = Server(data=tmp_path / "data", extra=["--head-timeout", "2", "--keepalive-timeout", "1"]).start()
    try:
        trickling = [_connect(server) for _ in range(200)]
        for sock in trickling:
            sock.sendall(b"GET /x/y HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        started = time.monotonic()
        while time.monotonic() - started < 1.5:  # a header line now and then, never the end of the head
            for sock in trickling:
                sock.sendall(b"X-Slow: 1\r\n")
            assert api(server, "DescribeBucket")["RetCode"] == 0  # a working client gets in meanwhile
            time.sleep(0.3)
        still_open = [sock for sock in trickling if not _closed_by_server(sock, 1.5)]
        waited = time.monotonic() - started
        assert not still_open, f"{len(still_open)} of 200 slow heads still open after {waited:.1f} s"
        silent = _connect(server)
        assert _closed_by_server(silent, 3.0), "a connection that never sent a byte outlived the head timeout"
        kept = _connect(server)
        kept.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert kept.recv(65536).startswith(b"HTTP/1.1 ")
        assert _closed_by_server(kept, 2.5), "an idle kept-alive connection outlived the keep-alive timeout"
        for sock in [*trickling, silent, kept]:
            sock.close()
    finally:
        server.stop()


def test_pipelined_requests_are_all_answered(tmp_path: Path) -> None:
    server = Server(data=tmp_path / "data").start()
    try:
        request = b"GET /nobucket/k HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        with _connect(server) as sock:
            sock.sendall(request * 3)
            replies = b""
            while replies.count(b"HTTP/1.1 404 ") < 3:
                chunk = sock.recv(65536)
                assert chunk, replies
                replies += chunk
    finally:
        server.stop()


def test_idle_connections_make_room_under_a_low_descriptor_limit(tmp_path: Path) -> None:
    server = Server(data=tmp_path / "data", file_limit=(256, 256)).start()
    try:
        idle = [_connect(server) for _ in range(1100)]
        time.sleep(0.5)
        for attempt in range(3):
            assert api(server, "DescribeBucket")["RetCode"] == 0, attempt
            assert call(server, "PUT", "nobucket", "k", data=b"x").status_code == 404
        closed = sum(_closed_by_server(sock, 0.01) for sock in idle)
        assert closed >= 1100 - 256, f"only {closed} of 1100 idle connections were closed to make room"
        for sock in idle:
            sock.close()
    finally:
        server.stop()


def test_beyond_the_connection_cap_a_newcomer_gets_503(tmp_path: Path) -> None:
    server = Server(data=tmp_path / "data", extra=["--max-connections", "4"]).start()
    try:
        assert api(server, "CreateBucket", BucketName="slow", Region="cn-bj")["RetCode"] == 0
        busy = []
        for index in range(4):
            sock = _connect(server)
            sock.sendall(_upload_head(server, "slow", f"k{index}", 1000) + b"partial")
            busy.append(sock)
        time.sleep(0.3)
        with _connect(server) as newcomer:
            newcomer.sendall(b"GET /slow/k0 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            reply = newcomer.recv(65536)
        assert reply.startswith(b"HTTP/1.1 503 "), reply[:200]
        assert b"Retry-After: 1" in reply
        for sock in busy:
            sock.close()
        time.sleep(0.3)
        assert api(server, "DescribeBucket")["RetCode"] == 0
    finally:
        server.stop()


def test_an_oversized_head_is_refused_without_being_buffered(tmp_path: Path) -> None:
    server = Server(data=tmp_path / "data").start()
    try:
        assert server.process is not None
        lines = "".join(f"X-Pad-{index}: {'p' * 90}\r\n" for index in range(200))
        with _connect(server) as sock:
            sock.sendall(f"GET /a/b HTTP/1.1\r\nHost: 127.0.0.1\r\n{lines}\r\n".encode())
            assert sock.recv(65536).startswith(b"HTTP/1.1 431 ")
        fitting = "".join(f"X-Pad-{index}: {'p' * 90}\r\n" for index in range(150))
        with _connect(server) as sock:
            sock.sendall(f"GET /a/b HTTP/1.1\r\nHost: 127.0.0.1\r\n{fitting}\r\n".encode())
            assert not sock.recv(65536).startswith(b"HTTP/1.1 431 ")
        before = _rss_kib(server.process.pid)
        sent = 0
        with _connect(server) as sock:
            sock.sendall(b"GET /a/b HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Huge: ")
            try:
                while sent < 96 * 1024 * 1024:
                    sock.sendall(b"h" * 1024 * 1024)
                    sent += 1024 * 1024
            except (BrokenPipeError, ConnectionResetError):
                pass
        grown = _rss_kib(server.process.pid) - before
        assert sent < 8 * 1024 * 1024, f"the server took {sent} bytes of one header before refusing it"
        assert grown < 4096, f"resident memory grew by {grown} KiB for a refused head"
        assert api(server, "DescribeBucket")["RetCode"] == 0
    finally:
        server.stop()


def test_stalled_uploads_hold_little_memory_and_are_capped(tmp_path: Path) -> None:
    server = Server(data=tmp_path / "data", extra=["--max-uploads", "50"]).start()
    try:
        assert server.process is not None
        pid = server.process.pid
        assert api(server, "CreateBucket", BucketName="stall", Region="cn-bj")["RetCode"] == 0
        stalled: list[socket.socket] = []

        def stall(count: int) -> None:
            for _ in range(count):
                sock = _connect(server)
                sock.sendall(_upload_head(server, "stall", f"k{len(stalled)}", 4 << 20) + b"s" * ((1 << 20) - 4096))
                stalled.append(sock)
            time.sleep(1.0)

        stall(10)  # the first ones also warm up threads and allocator arenas
        before = _rss_kib(pid)
        stall(40)
        each = (_rss_kib(pid) - before) / 40
        # buffers are < 192 KiB + 64 KiB; resident memory adds allocator slack (a 1 MiB step pinned ~1.1 MiB)
        assert each < 512, f"a stalled upload that sent 1 MiB pins {each:.0f} KiB"
        refused = call(server, "PUT", "stall", "one-more", data=b"x" * 100)
        assert refused.status_code == 503, refused.text
        assert "uploads" in refused.json()["ErrMsg"]
        for sock in stalled:
            sock.close()
        time.sleep(0.5)
        assert call(server, "PUT", "stall", "one-more", data=b"x" * 100).status_code == 200
        assert not any(call(server, "HEAD", "stall", f"k{index}").ok for index in range(50))
    finally:
        server.stop()


def _read_chars(pid: int) -> int:
    found = re.search(r"rchar: (\d+)", Path(f"/proc/{pid}/io").read_text())
    assert found is not None
    return int(found.group(1))


def test_an_abandoned_download_stops_reading(tmp_path: Path) -> None:
    server = Server(data=tmp_path / "data", extra=["--workers", "1"]).start()
    try:
        assert server.process is not None
        assert api(server, "CreateBucket", BucketName="big", Region="cn-bj")["RetCode"] == 0
        size = 64 * 1024 * 1024
        assert call(server, "PUT", "big", "blob.bin", data=b"z" * size).ok
        before = _read_chars(server.process.pid)
        headers = signed_headers("GET", "big", "blob.bin")
        head = f"GET /big/blob.bin HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.sendall(head.encode())
            assert sock.recv(64)
        time.sleep(1.5)
        read = _read_chars(server.process.pid) - before
        assert read < size // 4, f"the server read {read} bytes of a {size}-byte object nobody downloads"
        time.sleep(1.5)  # the usage meter flushes every second
        now = int(time.time())
        rows = api(server, "GetUFileReport", Region="cn-bj", StartTime=now - 86400, EndTime=now + 86400)["DataSet"]
        charged = sum(row["DownloadTraffic"] for row in rows) * GB
        assert 0 < charged < size // 4, f"{charged:.0f} bytes charged for a download abandoned after 64 bytes"
    finally:
        server.stop()

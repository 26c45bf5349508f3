"""Connection resources: the descriptor limit is lifted, and an abandoned download stops being read."""

from __future__ import annotations

import re
import socket
import time
from pathlib import Path

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
    finally:
        server.stop()

"""Starting and stopping a real ``holdall serve`` process for the end-to-end tests."""

from __future__ import annotations

import os
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ACCESS_KEY = "HATESTROOTACCESSKEY0"
SECRET_KEY = "holdall-test-root-secret-key"
new_metadata_url: Callable[[], str] | None = None
"""Set when the suite runs on PostgreSQL: a fresh database for each data directory."""
new_blobs_url: Callable[[], str] | None = None
"""Set when the suite runs on S3: a prefix of its own for each data directory."""
blobs_env: dict[str, str] = {}
_META_URLS: dict[Path, str] = {}
BLOB_URLS: dict[Path, str] = {}


def meta_args(data: Path) -> list[str]:
    """``--meta URL`` of a data directory's own database, when the suite runs on PostgreSQL."""
    if new_metadata_url is None:
        return []
    if data not in _META_URLS:
        _META_URLS[data] = new_metadata_url()
    return ["--meta", _META_URLS[data]]


def blob_args(data: Path) -> list[str]:
    """``--blobs URL`` of a data directory's own prefix, when the suite runs on S3."""
    if new_blobs_url is None:
        return []
    if data not in BLOB_URLS:
        BLOB_URLS[data] = new_blobs_url()
    return ["--blobs", BLOB_URLS[data]]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    data: Path
    port: int = field(default_factory=free_port)
    extra: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    file_limit: tuple[int, int] | None = None
    """(soft, hard) RLIMIT_NOFILE for the server process, else the test's own."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def clock_file(self) -> Path:
        return self.data.parent / f"clock-{self.port}"

    def bucket_url(self, bucket: str) -> str:
        return f"http://{bucket}.localhost:{self.port}"

    def start(self) -> Server:
        self.clock_file.write_text("0")
        env = {
            **os.environ,
            "HOLDALL_ACCESS_KEY": ACCESS_KEY,
            "HOLDALL_SECRET_KEY": SECRET_KEY,
            **blobs_env,
            **self.env,
        }
        self.log_path = self.data.parent / f"server-{self.port}.log"
        command = [
            sys.executable, "-m", "holdall", "serve",
            "--data", str(self.data),
            "--listen", f"127.0.0.1:{self.port}",
            "--clock-file", str(self.clock_file),
            *meta_args(self.data),
            *blob_args(self.data),
            *self.extra,
        ]  # fmt: skip
        with open(self.log_path, "ab") as log:
            limit = self.file_limit
            preexec = None if limit is None else lambda: resource.setrlimit(resource.RLIMIT_NOFILE, limit)
            self.process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=preexec)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"holdall exited with {self.process.returncode}: {self.log_path.read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("holdall did not start listening within 30 s")

    def move_clock(self, seconds: float) -> None:
        self.clock_file.write_text(str(seconds))

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

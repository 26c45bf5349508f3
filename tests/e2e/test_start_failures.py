"""Mistakes at start fail in one line, before anything is created or printed."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from tests.e2e.server import free_port


def serve(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "holdall", "serve", *args], capture_output=True, text=True, timeout=timeout
    )


def test_a_port_in_use_fails_before_anything_is_made(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        done = serve("--data", str(tmp_path / "data"), "--listen", f"127.0.0.1:{port}")
    assert done.returncode != 0
    assert done.stderr.strip().count("\n") == 0 and f"127.0.0.1:{port}" in done.stderr, done.stderr
    assert done.stdout == "" and not (tmp_path / "data").exists()


def test_data_naming_a_file_is_one_line(tmp_path: Path) -> None:
    file = tmp_path / "not-a-dir"
    file.write_text("x")
    done = serve("--data", str(file), "--listen", f"127.0.0.1:{free_port()}")
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert done.stderr.strip().count("\n") == 0 and "is a file" in done.stderr, done.stderr


def test_the_first_start_says_where_the_root_keys_are(tmp_path: Path) -> None:
    env = {name: value for name, value in os.environ.items() if not name.startswith("HOLDALL_")}
    command = [sys.executable, "-m", "holdall", "serve", "--data", str(tmp_path / "data")]
    process = subprocess.Popen(
        [*command, "--listen", f"127.0.0.1:{free_port()}"], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        shown = [process.stdout.readline() for _ in range(4)]
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    kept = (tmp_path / "data" / "root-credentials.json").resolve()
    assert kept.exists() and f"kept in {kept} (mode 0600)" in shown[0], shown
    assert shown[1].startswith("  HOLDALL_ACCESS_KEY=") and shown[3].startswith("holdall: serving"), shown


def test_version() -> None:
    done = subprocess.run([sys.executable, "-m", "holdall", "--version"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and done.stdout.startswith("holdall ") and done.stdout.split()[1][0].isdigit()


def test_hosts_lines_for_every_bucket(tmp_path: Path) -> None:
    from tests.e2e.helpers import api, holdall_cli
    from tests.e2e.server import Server

    server = Server(data=tmp_path / "data").start()
    try:
        for name in ("photos", "docs"):
            assert api(server, "CreateBucket", BucketName=name, Region="cn-bj")["RetCode"] == 0
    finally:
        server.stop()
    printed = holdall_cli(server.data, "hosts", "later").splitlines()
    assert "127.0.0.1\tphotos.localhost photos.127.0.0.1" in printed
    assert "127.0.0.1\tdocs.localhost docs.127.0.0.1" in printed
    assert "127.0.0.1\tlater.localhost later.127.0.0.1" in printed
    hosts_file = tmp_path / "hosts"
    hosts_file.write_text("127.0.0.1\tlocalhost\n")
    for _ in range(2):
        holdall_cli(server.data, "hosts", "--write", "--hosts-file", str(hosts_file))
    written = hosts_file.read_text()
    assert written.startswith("127.0.0.1\tlocalhost\n") and written.count("photos.localhost") == 1

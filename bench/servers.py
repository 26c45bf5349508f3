"""What the hand-run benchmarks share: holdall, nginx and moto on loopback, and wrk loading them.

``bench/run.py`` and ``bench/s3.py`` import it as ``servers``: a script run as ``python bench/X.py``
has ``bench/`` on ``sys.path``. Each server is a context manager that starts it on a free port of
127.0.0.1, waits until it listens (or fails with the tail of its log if it exits first) and stops it
on the way out, also on an error or Ctrl-C.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

ACCESS, SECRET = "HABENCHACCESSKEY0000", "holdall-bench-secret"
"""holdall's keys: the UFile public and private key and the S3 access and secret key alike."""
VENV_BIN = Path(sys.executable).parent
STOP_GRACE_S = 60
WRK_GRACE_S = 60
"""How long wrk may take past its ``-d`` before it is killed."""
LOG_TAIL_CHARS = 3000


@dataclass(frozen=True)
class Running:
    process: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_port(port: int, process: subprocess.Popen[bytes], log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log.read_text()[-LOG_TAIL_CHARS:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port} after {timeout} s:\n{log.read_text()[-LOG_TAIL_CHARS:]}")


def stop(process: subprocess.Popen[Any], sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(sig)
    try:
        process.wait(STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def started(
    command: Sequence[str],
    port: int,
    log: Path,
    *,
    env: Mapping[str, str] | None = None,
    errors_to_terminal: bool = False,
    stop_signal: int = signal.SIGTERM,
) -> Iterator[Running]:
    """Runs ``command``, which listens on ``port``, with its stdout in ``log`` (stderr too, unless to the terminal)."""
    with log.open("wb") as out:
        stderr = None if errors_to_terminal else subprocess.STDOUT
        process = subprocess.Popen(command, env=env, stdout=out, stderr=stderr)
    try:
        wait_port(port, process, log)
        yield Running(process, port)
    finally:
        stop(process, stop_signal)


@contextmanager
def running_holdall(
    work: Path, workers: int, options: Sequence[str] = (), *, errors_to_terminal: bool = False
) -> Iterator[Running]:
    """``holdall serve`` of ``work/holdall`` with the bench keys; several may serve that one store."""
    port = free_port()
    env = {**os.environ, "HOLDALL_ACCESS_KEY": ACCESS, "HOLDALL_SECRET_KEY": SECRET}
    command = [sys.executable, "-m", "holdall", "serve", "--data", str(work / "holdall"),
               "--listen", f"127.0.0.1:{port}", "--workers", str(workers), *options]  # fmt: skip
    log = work / f"holdall-{port}.log"
    with started(command, port, log, env=env, errors_to_terminal=errors_to_terminal) as holdall:
        yield holdall


def nginx_conf(prefix: Path, workers: int, port: int) -> str:
    """Static files from ``prefix/www``, PUT through WebDAV (any size, folders made as needed), no fsync."""
    temp = "\n".join(
        f"  {kind}_temp_path {prefix}/{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""
{"user root;" if os.geteuid() == 0 else ""}
worker_processes {workers};
daemon off;
pid {prefix}/nginx.pid;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  sendfile on;
  tcp_nopush on;
  client_max_body_size 0;
{temp}
  server {{
    listen 127.0.0.1:{port};
    root {prefix}/www;
    location / {{ dav_methods PUT; create_full_put_path on; }}
  }}
}}
"""


@contextmanager
def running_nginx(work: Path, workers: int) -> Iterator[Running]:
    port, prefix = free_port(), work / "nginx"
    (prefix / "www").mkdir(parents=True)
    conf = prefix / "nginx.conf"
    conf.write_text(nginx_conf(prefix, workers, port))
    command = ["nginx", "-p", f"{prefix}/", "-c", str(conf), "-e", "stderr"]
    with started(command, port, prefix / "error.log", stop_signal=signal.SIGQUIT) as nginx:
        yield nginx


@contextmanager
def running_moto(work: Path) -> Iterator[Running]:
    port = free_port()
    moto = shutil.which("moto_server", path=str(VENV_BIN)) or "moto_server"
    with started([moto, "-H", "127.0.0.1", "-p", str(port)], port, work / "moto.log") as moto_server:
        yield moto_server


def s3_client(url: str, access: str, secret: str, region: str) -> Any:
    """boto3 S3 client: path-style addresses, SigV4, no retries."""
    config = Config(s3={"addressing_style": "path"}, signature_version="s3v4", retries={"max_attempts": 1})
    return boto3.client(
        "s3", endpoint_url=url, aws_access_key_id=access, aws_secret_access_key=secret, region_name=region,
        config=config,
    )  # fmt: skip


@dataclass(frozen=True)
class WrkTotals:
    """What one or more wrk processes, run side by side, measured together."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int

    @property
    def req_s(self) -> float:
        return self.requests / self.seconds


def wrk(
    urls: Sequence[str],
    script: Path,
    script_args: Sequence[str],
    *,
    threads: int,
    connections: int,
    seconds: int,
    request_timeout_s: int,
) -> WrkTotals:
    """Loads each of ``urls`` with its own wrk at the same time; ``script`` prints a ``WRK_JSON`` line."""
    commands = [
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", f"{request_timeout_s}s",
         "-s", str(script), url, "--", *script_args]
        for url in urls
    ]  # fmt: skip
    runs = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for command in commands]
    deadline = time.monotonic() + seconds + WRK_GRACE_S
    try:
        outputs = [wrk_output(run, deadline) for run in runs]
    finally:
        for run in runs:
            stop(run, signal.SIGKILL)
    return wrk_totals([wrk_json(output) for output in outputs])


def wrk_output(run: subprocess.Popen[str], deadline: float) -> str:
    output = run.communicate(timeout=max(deadline - time.monotonic(), 0))[0]
    if run.returncode:
        raise subprocess.CalledProcessError(run.returncode, run.args, output)
    return output


def wrk_json(output: str) -> dict[str, int]:
    line = next(line for line in output.splitlines() if line.startswith("WRK_JSON "))
    stats: dict[str, int] = json.loads(line.removeprefix("WRK_JSON "))
    return stats


def wrk_totals(stats: Sequence[Mapping[str, int]]) -> WrkTotals:
    return WrkTotals(
        requests=sum(stat["requests"] for stat in stats),
        seconds=max(stat["duration_us"] for stat in stats) / 1e6,
        p50_ms=max(stat["p50_us"] for stat in stats) / 1000,
        p99_ms=max(stat["p99_us"] for stat in stats) / 1000,
        errors=sum(stat["status_errors"] + stat["socket_errors"] for stat in stats),
    )

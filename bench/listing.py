"""Listing a bucket of 1,000,000 keys: p50 and p99 of a page of 1,000, with and without a delimiter.

Run by hand: ``.venv/bin/python bench/listing.py [--keys N] [--rounds R]``. Keys are
``dirNNN/subN/fileNNNNNNNN.bin`` (100 dirs × 10 subs), written straight into a fresh SQLite store;
each shape is then listed ``--rounds`` times through a real ``holdall serve`` with the ufile SDK.
"""

from __future__ import annotations

import argparse
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import ufile.bucketmanager
from ufile import config, filemanager

ACCESS, SECRET = "HABENCHACCESSKEY0000", "holdall-bench-secret"
BUCKET = "listing"
_resolve = socket.getaddrinfo


def _localhost(host: object, *args: object, **kwargs: object) -> object:
    """``<bucket>.localhost`` resolves to loopback here, as it does in browsers (glibc does not)."""
    name = "127.0.0.1" if isinstance(host, str) and host.endswith(".localhost") else host
    return _resolve(name, *args, **kwargs)  # type: ignore[arg-type]


socket.getaddrinfo = _localhost  # type: ignore[assignment]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def serve(data: Path, port: int, meta: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "HOLDALL_ACCESS_KEY": ACCESS, "HOLDALL_SECRET_KEY": SECRET}
    command = [sys.executable, "-m", "holdall", "serve", "--data", str(data), "--listen", f"127.0.0.1:{port}"]
    command += ["--meta", meta] if meta else []
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("holdall did not start")


def key_of(index: int) -> str:
    return f"dir{index // 10000:03d}/sub{index // 1000 % 10}/file{index:08d}.bin"


def fill_postgres(dsn: str, count: int) -> None:
    import psycopg

    now = int(time.time())
    with psycopg.connect(dsn) as conn, conn.cursor() as cursor:
        columns = "bucket, key, size, etag, mime, storage_class, created, modified, manifest"
        with cursor.copy(f"COPY objects({columns}) FROM STDIN") as copy:
            for i in range(count):
                copy.write_row((BUCKET, key_of(i), 1, "AAAAAA==", "application/octet-stream", "STANDARD", now, now, ""))
        cursor.execute("UPDATE buckets SET object_count = %s, used_bytes = %s WHERE name = %s", (count, count, BUCKET))
        cursor.execute("ANALYZE objects")


def fill(data: Path, count: int) -> None:
    conn = sqlite3.connect(data / "meta.sqlite3")
    now = int(time.time())
    mime = "application/octet-stream"
    rows = ((BUCKET, key_of(i), 1, "AAAAAA==", mime, "STANDARD", now, now, "") for i in range(count))
    with conn:
        conn.executemany(
            "INSERT INTO objects(bucket, key, size, etag, mime, storage_class, created, modified, manifest)"
            " VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        conn.execute("UPDATE buckets SET object_count = ?, used_bytes = ? WHERE name = ?", (count, count, BUCKET))
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--meta", default="sqlite", help="sqlite, or postgresql (a throwaway server)")
    args = parser.parse_args()
    if args.meta == "postgresql":
        sys.path.insert(0, str(Path(__file__).parent.parent))
        from tests.postgres import PostgresServer

        database = PostgresServer().start()
        try:
            measure(args, database.new_database())
        finally:
            database.stop()
    else:
        measure(args, "")


def measure(args: argparse.Namespace, meta: str) -> None:
    with tempfile.TemporaryDirectory() as work:
        data = Path(work) / "data"
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        process = serve(data, port, meta)
        ufile.bucketmanager.UCLOUD_API_URL = url
        assert ufile.bucketmanager.BucketManager(ACCESS, SECRET).createbucket(BUCKET, "cn-bj")[0]["RetCode"] == 0
        process.terminate()
        process.wait(30)
        started = time.monotonic()
        fill_postgres(meta, args.keys) if meta else fill(data, args.keys)
        print(f"{args.keys:,} keys written in {time.monotonic() - started:.1f} s")
        process = serve(data, port, meta)
        config.set_default(uploadsuffix=f".localhost:{port}", downloadsuffix=f".localhost:{port}")
        manager = filemanager.FileManager(ACCESS, SECRET)
        middle = key_of(args.keys // 2)
        shapes = {
            "flat page of 1,000 from the middle": dict(marker=middle),
            "prefix=dir050/ delimiter=/ (10 prefixes)": dict(prefix="dir050/", delimiter="/"),
            "delimiter=/ at the root (100 prefixes)": dict(delimiter="/"),
            "prefix=dir050/sub5/ delimiter=/ (1,000 keys)": dict(prefix="dir050/sub5/", delimiter="/"),
        }
        try:
            for name, params in shapes.items():
                times = []
                for _ in range(args.rounds):
                    began = time.perf_counter()
                    query = {"prefix": "", "marker": "", "delimiter": "", **params}
                    ret, info = manager.listobjects(BUCKET, maxkeys=1000, **query)
                    times.append((time.perf_counter() - began) * 1000)
                    assert info.status_code == 200, info
                entries = len(ret["Contents"]) + len(ret.get("CommonPrefixes") or [])
                p50 = statistics.median(times)
                p99 = statistics.quantiles(times, n=100)[98]
                print(f"{name:48} {entries:5} entries  p50 {p50:7.1f} ms  p99 {p99:7.1f} ms")
        finally:
            process.terminate()
            process.wait(30)


if __name__ == "__main__":
    main()

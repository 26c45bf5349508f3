"""``holdall cp`` of a large file up and down, and ``curl -T`` of it through a presigned URL (one stream,
no client hashing), next to ``curl -T`` and ``curl -o`` of the same file to nginx (WebDAV PUT, sendfile
GET), on loopback. Run by hand:

    .venv-test/bin/python bench/cp.py [--size-mib 1024] [--repeat 3] [--workers 1]
    .venv-test/bin/python bench/cp.py --sweep [--size-mib 256]

``--sweep`` instead times uploads in-process over part sizes and parallelism (and one single PUT),
which is how the defaults of ``holdall.client.transfer`` were picked. Needs nginx (``apt-get install
nginx-light``) and curl.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from servers import ACCESS, SECRET, running_holdall, running_nginx

from holdall.client import presign_url, transfer
from holdall.client.s3 import S3Client

MiB = 1024 * 1024
TIMEOUT_S = 900


def make_file(path: Path, size: int) -> Path:
    with open(path, "wb") as out:
        for start in range(0, size, 16 * MiB):
            out.write(os.urandom(min(16 * MiB, size - start)))
    return path


def timed(runs: int, action: Callable[[], object]) -> list[float]:
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        seconds.append(time.perf_counter() - started)
    return seconds


def run(command: list[str], env: dict[str, str] | None = None) -> None:
    subprocess.run(command, env=env, check=True, timeout=TIMEOUT_S, stdout=subprocess.DEVNULL)


def digest(path: Path) -> str:
    with open(path, "rb") as source:
        return hashlib.file_digest(source, "sha256").hexdigest()


def line(name: str, size: int, seconds: list[float]) -> str:
    best, median = min(seconds), statistics.median(seconds)
    return f"{name:<34} best {best:6.2f} s {size / MiB / best:7.0f} MiB/s   median {median:6.2f} s"


def side_by_side(work: Path, source: Path, repeat: int, workers: int) -> None:
    size = source.stat().st_size
    holdall = [sys.executable, "-m", "holdall"]
    env = {**os.environ, "XDG_CONFIG_HOME": str(work / "config"), "XDG_CACHE_HOME": str(work / "cache")}
    rows = []
    with running_holdall(work, workers) as server:
        run([*holdall, "alias", "set", "bench", server.url, ACCESS, SECRET], env)
        run([*holdall, "mb", "bench/cpbench"], env)
        up = [*holdall, "cp", str(source), "bench/cpbench/f"]
        rows.append(line("holdall cp up", size, timed(repeat, lambda: run(up, env))))
        down = work / "down-holdall"
        back = [*holdall, "cp", "bench/cpbench/f", str(down)]
        rows.append(line("holdall cp down", size, timed(repeat, lambda: run(back, env))))
        assert digest(down) == digest(source)
        presigned = presign_url("PUT", server.url, "cpbench", "g", ACCESS, SECRET, expires=3600)
        curl_put = ["curl", "-sfT", str(source), presigned]
        rows.append(line("curl -T (holdall presigned PUT)", size, timed(repeat, lambda: run(curl_put))))
    with running_nginx(work, workers) as nginx:
        url = f"{nginx.url}/bench/f"
        rows.append(line("curl -T (nginx PUT)", size, timed(repeat, lambda: run(["curl", "-sfT", str(source), url]))))
        down = work / "down-nginx"
        rows.append(line("curl -o (nginx GET)", size, timed(repeat, lambda: run(["curl", "-sfo", str(down), url]))))
        assert digest(down) == digest(source)
    print(
        f"{size / MiB:.0f} MiB, best and median of {repeat}, {workers} worker(s) each (holdall fsyncs, nginx does not)"
    )
    print("\n".join(rows))


def sweep(work: Path, source: Path, repeat: int, workers: int) -> None:
    """Upload times by part size and parallelism, in this process (no CLI start-up)."""
    size = source.stat().st_size
    with running_holdall(work, workers, ["--blob-grace", "0", "--sweep-interval", "1"]) as server:
        client = S3Client(server.url, ACCESS, SECRET, connections=16)
        client.make_bucket("sweep")

        def single() -> object:
            return transfer.upload_file(client, source, "sweep", "f", threshold=size)

        print(line("single PUT", size, timed(repeat, single)), flush=True)
        for part_mib in (8, 16, 32, 64):
            for parallel in (1, 2, 4, 8):

                def parts(part: int = part_mib * MiB, parallel: int = parallel) -> object:
                    return transfer.upload_file(
                        client, source, "sweep", "f", threshold=0, part_size=part, parallel=parallel
                    )

                print(line(f"parts of {part_mib} MiB, {parallel} at a time", size, timed(repeat, parts)), flush=True)
        down = work / "down"
        print(line("download", size, timed(repeat, lambda: transfer.download_file(client, "sweep", "f", down))))
        for small_mib in (8, 16, 24, 32, 48, 64):
            small = make_file(work / "small.bin", small_mib * MiB)
            for name, threshold in (("single PUT", small_mib * MiB), ("default parts", 0)):

                def upload(small: Path = small, threshold: int = threshold) -> object:
                    return transfer.upload_file(client, small, "sweep", "small", threshold=threshold)

                print(line(f"{small_mib} MiB, {name}", small_mib * MiB, timed(repeat * 3, upload)), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=None, help="file size (default 1024, 256 with --sweep)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1, help="holdall and nginx worker processes (default 1)")
    parser.add_argument("--sweep", action="store_true", help="time part sizes and parallelism instead")
    args = parser.parse_args()
    size = (args.size_mib or (256 if args.sweep else 1024)) * MiB
    with tempfile.TemporaryDirectory(prefix="holdall-bench-cp-") as temporary:
        work = Path(temporary)
        source = make_file(work / "source.bin", size)
        (sweep if args.sweep else side_by_side)(work, source, args.repeat, args.workers)


if __name__ == "__main__":
    main()

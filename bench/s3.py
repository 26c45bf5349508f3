"""S3 through presigned URLs and awscli, side by side: holdall, nginx (static GET, dav PUT) and moto.

Run by hand (never in CI)::

    apt-get install -y wrk nginx
    .venv/bin/python bench/s3.py            # about 4 minutes; --quick for a smoke run of under one

All three servers listen on 127.0.0.1 for the whole run and are stopped at its end (also on Ctrl-C
or an error). Each case runs on the three servers one after the other, so a change in the machine's
speed hits them alike. The cases:

1. GET and PUT of 1 KiB objects through SigV4 presigned URLs (boto3 ``generate_presigned_url`` for
   holdall and moto, the plain URL for nginx), driven by wrk through ``s3.lua`` for ``--duration``
   seconds each: requests/s, p50 and p99 latency. PUTs cycle through 256 presigned keys.
2. PUT and GET of 64 MiB through presigned URLs with ``curl -T FILE URL`` and ``curl -o /dev/null
   URL``, ``--reps`` times each, interleaved: median MB/s (curl's own ``time_total``).
3. A 1 GiB file: ``aws s3 cp`` up and down against holdall (multipart, awscli's defaults: 8 MiB
   parts, 10 at a time), next to ``curl -T`` / ``curl -o`` of the same file to nginx, and to holdall
   through presigned URLs; wall seconds and MB/s. The download lands in the work directory and is
   compared with the upload. ``aws s3 ls`` of the object shows what awscli's start-up adds.

MB is 10^6 bytes. holdall ``fdatasync``s every upload before it replies; nginx and moto do not.
The work directory (data of all three servers, the test files) is a temporary one under
``$BENCH_DIR`` (default: the system's), removed at the end.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from servers import ACCESS, SECRET, VENV_BIN, running_holdall, running_moto, running_nginx, s3_client, wrk

HERE = Path(__file__).parent
KiB, MiB, GiB = 1024, 1024 * 1024, 1024 * 1024 * 1024
BUCKET = "bench"
PUT_KEYS = 256
"""Presigned 1 KiB PUT targets per server, cycled by ``s3.lua`` (overwrites after the first lap)."""


def random_file(path: Path, size: int) -> Path:
    with path.open("wb") as out:
        for offset in range(0, size, 8 * MiB):
            out.write(os.urandom(min(8 * MiB, size - offset)))
    return path


class Steal:
    """Share of the machine's CPU time that the hypervisor took (``steal`` in ``/proc/stat``)."""

    def __init__(self) -> None:
        self.start = self._read()

    @staticmethod
    def _read() -> list[int]:
        return [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]

    def percent(self) -> float:
        spent = [now - then for now, then in zip(self._read(), self.start, strict=True)]
        return 100 * spent[7] / max(sum(spent), 1)


# ----------------------------------------------------------------- servers


@dataclass
class Server:
    name: str
    url: str
    sign: Callable[[str, str], str]
    """(method, key) → the URL to send: SigV4-presigned for holdall and moto, plain for nginx."""


def presigner(client: Any) -> Callable[[str, str], str]:
    def sign(method: str, key: str) -> str:
        operation = {"GET": "get_object", "PUT": "put_object"}[method]
        url: str = client.generate_presigned_url(operation, Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=7200)
        return url

    return sign


@contextmanager
def holdall_server(work: Path, workers: int) -> Iterator[Server]:
    with running_holdall(work, workers) as holdall:
        client = s3_client(holdall.url, ACCESS, SECRET, "cn-bj")
        client.create_bucket(Bucket=BUCKET)
        yield Server("holdall", holdall.url, presigner(client))


@contextmanager
def nginx_server(work: Path, workers: int) -> Iterator[Server]:
    with running_nginx(work, workers) as nginx:
        yield Server("nginx", nginx.url, lambda method, key: f"{nginx.url}/{BUCKET}/{key}")


@contextmanager
def moto_server(work: Path, workers: int) -> Iterator[Server]:
    with running_moto(work) as moto:
        client = s3_client(moto.url, "bench", "bench", "us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield Server("moto", moto.url, presigner(client))


SERVERS = {"holdall": holdall_server, "nginx": nginx_server, "moto": moto_server}


# ----------------------------------------------------------------- clients


def target_of(url: str) -> str:
    """``path?query`` of an ``http://host:port/path?query`` URL."""
    return "/" + url.split("/", 3)[3]


def run_wrk(
    server: Server, method: str, urls: list[str], body: Path | None, args: argparse.Namespace
) -> dict[str, float]:
    targets = args.work / f"{server.name}-{method}.targets"
    targets.write_text("".join(target_of(url) + "\n" for url in urls))
    load = wrk(
        [server.url], HERE / "s3.lua", [method, str(targets), str(args.threads), str(body or "")],
        threads=args.threads, connections=args.connections, seconds=args.duration, request_timeout_s=10,
    )  # fmt: skip
    return {"req_s": load.req_s, "p50_ms": load.p50_ms, "p99_ms": load.p99_ms, "errors": load.errors}


def curl(*arguments: str, timeout: float) -> float:
    """Runs curl (failing on an HTTP error) and returns its ``time_total`` in seconds."""
    command = ["curl", "-sS", "--fail", "--noproxy", "*", "--max-time", str(timeout), "-w", "%{time_total}", *arguments]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout + 10)
    if done.returncode:
        raise RuntimeError(f"curl {' '.join(arguments)} failed ({done.returncode}): {done.stderr.strip()}")
    return float(done.stdout)


def curl_put(path: Path, url: str, timeout: float = 300) -> float:
    return curl("-T", str(path), "-o", "/dev/null", url, timeout=timeout)


def curl_get(url: str, into: Path | str = "/dev/null", timeout: float = 300) -> float:
    return curl("-o", str(into), url, timeout=timeout)


def aws_s3(server: Server, work: Path, *arguments: str) -> float:
    """Wall seconds of ``aws s3 ARGUMENTS`` (including awscli's start-up) against ``server``."""
    config = work / "aws-config"
    config.write_text("[default]\nregion = cn-bj\ns3 =\n  addressing_style = path\n")
    env = {
        **os.environ, "AWS_ACCESS_KEY_ID": ACCESS, "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_DEFAULT_REGION": "cn-bj",
        "AWS_CONFIG_FILE": str(config), "AWS_SHARED_CREDENTIALS_FILE": str(work / "no-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true", "NO_PROXY": "*",
    }  # fmt: skip
    command = [str(VENV_BIN / "aws"), "s3", *arguments, "--endpoint-url", server.url]
    if arguments[0] == "cp":
        command.append("--only-show-errors")  # no progress lines
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    if done.returncode:
        raise RuntimeError(f"aws s3 {' '.join(arguments)} failed ({done.returncode}): {done.stderr.strip()}")
    return time.perf_counter() - start


def settle() -> None:
    """Lets the previous case's writeback finish before the next case starts."""
    os.sync()
    time.sleep(2)


# ----------------------------------------------------------------- cases


def small_objects(servers: list[Server], args: argparse.Namespace) -> dict[str, dict[str, dict[str, float]]]:
    body = random_file(args.work / "body-1KiB", KiB)
    table: dict[str, dict[str, dict[str, float]]] = {}
    for server in servers:
        curl_put(body, server.sign("PUT", "small/get"))
    for method in ("GET", "PUT"):
        for server in servers:
            if method == "GET":
                urls = [server.sign("GET", "small/get")]
            else:
                urls = [server.sign("PUT", f"small/put-{i}") for i in range(PUT_KEYS)]
            settle()
            steal = Steal()
            result = run_wrk(server, method, urls, body if method == "PUT" else None, args)
            result["steal"] = steal.percent()
            table.setdefault(f"{method} 1 KiB", {})[server.name] = result
            print(
                f"{server.name:8} {method} 1 KiB {result['req_s']:9.0f} req/s  p50 {result['p50_ms']:7.2f} ms"
                f"  p99 {result['p99_ms']:8.2f} ms  errors {result['errors']:.0f}  steal {result['steal']:4.1f} %",
                flush=True,
            )
    return table


def big_objects(servers: list[Server], args: argparse.Namespace) -> dict[str, dict[str, list[float]]]:
    size = args.big_mib * MiB
    body = random_file(args.work / "body-big", size)
    table: dict[str, dict[str, list[float]]] = {}
    for method in ("PUT", "GET"):
        for rep in range(args.reps):
            for server in servers:
                settle()
                url = server.sign(method, "big")
                seconds = curl_put(body, url) if method == "PUT" else curl_get(url)
                speed = size / seconds / 1e6
                table.setdefault(f"{method} {args.big_mib} MiB", {}).setdefault(server.name, []).append(speed)
                print(f"{server.name:8} {method} {args.big_mib} MiB #{rep + 1}  {speed:8.1f} MB/s", flush=True)
    return table


def huge_file(servers: dict[str, Server], args: argparse.Namespace) -> list[tuple[str, str, str, float]]:
    size, work = args.huge_mib * MiB, args.work
    source, copy = random_file(work / "huge-up", size), work / "huge-down"
    holdall, nginx = servers.get("holdall"), servers.get("nginx")
    runs: list[tuple[str, str, str, Callable[[], float]]] = []
    remote = f"s3://{BUCKET}/huge-aws"
    if holdall:
        runs += [
            ("up", "holdall", "aws s3 cp", lambda: aws_s3(holdall, work, "cp", str(source), remote)),
            ("up", "holdall", "curl -T (presigned)", lambda: curl_put(source, holdall.sign("PUT", "huge-curl"))),
        ]
    if nginx:
        runs += [("up", "nginx", "curl -T", lambda: curl_put(source, nginx.sign("PUT", "huge")))]
    if holdall:
        runs += [
            ("down", "holdall", "aws s3 cp", lambda: aws_s3(holdall, work, "cp", remote, str(copy))),
            ("down", "holdall", "curl -o (presigned)", lambda: curl_get(holdall.sign("GET", "huge-curl"), copy)),
        ]
    if nginx:
        runs += [("down", "nginx", "curl -o", lambda: curl_get(nginx.sign("GET", "huge"), copy))]
    if holdall:
        runs += [("—", "holdall", "aws s3 ls (start-up)", lambda: aws_s3(holdall, work, "ls", remote))]
    results = []
    for direction, name, client, transfer in runs:
        settle()
        seconds = transfer()
        if direction == "down":
            if not filecmp.cmp(source, copy, shallow=False):
                raise RuntimeError(f"{name}'s {client} download differs from the upload")
            copy.unlink()
        results.append((direction, name, client, seconds))
        speed = f"{size / seconds / 1e6:8.1f} MB/s" if direction != "—" else ""
        print(f"{name:8} {direction:4} {args.huge_mib} MiB {client:20} {seconds:7.2f} s {speed}", flush=True)
    return results


# ----------------------------------------------------------------- report


def ratios(row: dict[str, float], name: str) -> str:
    return " | ".join(f"{row[name] / row[ref]:.2f}" if ref in row and ref != name else "" for ref in ("nginx", "moto"))


def report(small: dict[str, dict[str, dict[str, float]]], big: dict[str, dict[str, list[float]]],
           huge: list[tuple[str, str, str, float]], args: argparse.Namespace) -> None:  # fmt: skip
    print(f"\n1 KiB objects, wrk -t{args.threads} -c{args.connections} -d{args.duration}s, presigned URLs")
    print("\n| case | server | req/s | p50 ms | p99 ms | errors | steal % | × nginx | × moto |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for case, row in small.items():
        rates = {name: result["req_s"] for name, result in row.items()}
        for name, r in row.items():
            print(
                f"| {case} | {name} | {r['req_s']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['errors']:.0f} "
                f"| {r['steal']:.1f} | {ratios(rates, name)} |"
            )
    print(f"\n{args.big_mib} MiB objects, curl, presigned URLs, {args.reps} runs each")
    print("\n| case | server | MB/s median | min–max | × nginx | × moto |")
    print("|---|---|---:|---:|---:|---:|")
    for case, speeds in big.items():
        medians = {name: statistics.median(values) for name, values in speeds.items()}
        for name, values in speeds.items():
            print(
                f"| {case} | {name} | {medians[name]:.0f} | {min(values):.0f}–{max(values):.0f} "
                f"| {ratios(medians, name)} |"
            )
    print(f"\n{args.huge_mib} MiB file, one transfer each")
    print("\n| direction | server | client | seconds | MB/s |")
    print("|---|---|---|---:|---:|")
    for direction, name, client, seconds in huge:
        speed = f"{args.huge_mib * MiB / seconds / 1e6:.0f}" if direction != "—" else ""
        print(f"| {direction} | {name} | {client} | {seconds:.2f} | {speed} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 s, 8 MiB × 2, 64 MiB file")
    parser.add_argument("--duration", type=int, help="seconds per wrk run (default 10)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections (default 8)")
    parser.add_argument("--reps", type=int, help="curl transfers per server and direction (default 5)")
    parser.add_argument("--big-mib", type=int, help="size of the curl objects, MiB (default 64)")
    parser.add_argument("--huge-mib", type=int, help="size of the aws s3 cp file, MiB (default 1024)")
    parser.add_argument("--workers", type=int, default=2, help="holdall and nginx worker processes (default 2)")
    parser.add_argument("--servers", default="holdall,nginx,moto")
    args = parser.parse_args()
    quick = {"duration": 2, "reps": 2, "big_mib": 8, "huge_mib": 64}
    full = {"duration": 10, "reps": 5, "big_mib": 64, "huge_mib": 1024}
    for name, value in (quick if args.quick else full).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    for tool in ("wrk", "nginx", "curl"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is missing: apt-get install -y wrk nginx curl")
    steal = Steal()
    with tempfile.TemporaryDirectory(prefix="holdall-s3-bench-", dir=os.environ.get("BENCH_DIR")) as tmp:
        args.work = Path(tmp)
        with ExitStack() as stack:
            servers = [stack.enter_context(SERVERS[name](args.work, args.workers)) for name in args.servers.split(",")]
            small = small_objects(servers, args)
            big = big_objects(servers, args)
            huge = huge_file({server.name: server for server in servers}, args)
    report(small, big, huge, args)
    print(f"\nCPU stolen by the host over the whole run: {steal.percent():.1f} %")


if __name__ == "__main__":
    main()

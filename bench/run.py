"""Side-by-side load: holdall, nginx (sendfile, dav PUT) and moto, driven by wrk on loopback.

Run by hand (never in CI)::

    .venv/bin/pip install -e '.[bench]'        # moto[server], boto3
    apt-get install wrk nginx-light
    .venv/bin/python bench/run.py --duration 10

Every server gets pre-generated signed request targets (presigned URLs for holdall and moto) that
``walk.lua`` walks round robin. For each of GET/PUT × 1 KiB/64 MiB it prints requests/s, MB/s of
payload, latency, the peak RSS of the server's processes together and the CPU time per request of
holdall's processes and of PostgreSQL's (on a machine whose CPU is shared, this is steadier than
requests/s), then the ratios.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests
from servers import ACCESS, SECRET, running_holdall, running_moto, running_nginx, s3_client, wrk

from holdall.auth import ufile

HERE = Path(__file__).parent
KiB, MiB = 1024, 1024 * 1024
SIZES = {"1KiB": KiB, "64MiB": 64 * MiB}
TARGETS = 2000


def process_tree(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    tree, frontier = [root], [root]
    while frontier:
        current = frontier.pop()
        children = [pid for pid, parent in parents.items() if parent == current]
        tree += children
        frontier += children
    return tree


def memory_bytes(pids: list[int]) -> tuple[int, int]:
    """Summed RSS (shared pages counted in every process) and PSS (shared pages split) of ``pids``."""
    rss = pss = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1]) * 1024
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1]) * 1024
        except OSError:
            pass
    return rss, pss


TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds() -> dict[str, float]:
    """CPU time (user + system) so far of the holdall processes and of the PostgreSQL processes."""
    spent = {"holdall": 0.0, "postgres": 0.0}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        name = stat.split("(", 1)[1].rsplit(")", 1)[0]
        kind = "postgres" if name == "postgres" else "holdall" if b"holdall\0serve" in command else None
        if kind:
            fields = stat.rsplit(")", 1)[1].split()
            spent[kind] += (int(fields[11]) + int(fields[12])) / TICKS
    return spent


class PeakRss:
    def __init__(self, root: int) -> None:
        self.root = root
        self.peak = 0
        self.peak_pss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        pids = process_tree(self.root)
        while not self._stop.is_set():
            rss, pss = memory_bytes(pids)
            self.peak = max(self.peak, rss)
            self.peak_pss = max(self.peak_pss, pss)
            time.sleep(0.05)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class Target:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    get_targets: Callable[[str], list[str]]
    put_targets: Callable[[str], list[str]]
    content_type: str = "application/octet-stream"
    results: dict[str, dict[str, float]] = field(default_factory=dict)
    more_ports: list[int] = field(default_factory=list)
    """Further gateways serving the same store: wrk drives each with its share of the connections."""


# ----------------------------------------------------------------- servers


META_URL = ""
"""``--meta`` for holdall: empty for SQLite in its data directory."""
GATEWAYS = 1


@contextmanager
def holdall_server(work: Path, workers: int) -> Iterator[Target]:
    options = ["--max-object-size", str(1 << 30), *(["--meta", META_URL] if META_URL else [])]
    with ExitStack() as stack:
        gateways = [
            stack.enter_context(running_holdall(work, workers, options, errors_to_terminal=True))
            for _ in range(GATEWAYS)
        ]
        port = gateways[0].port
        params = {"Action": "CreateBucket", "BucketName": "bench", "Type": "private", "PublicKey": ACCESS}
        params["Signature"] = ufile.api_signature(params, SECRET)
        assert requests.get(f"http://127.0.0.1:{port}/", params=params).json()["RetCode"] == 0
        expires = int(time.time()) + 3 * 3600
        ctype = "application/octet-stream"

        def signed(method: str, key: str) -> str:
            mime = ctype if method == "PUT" else ""
            query = ufile.presign_query(ACCESS, SECRET, method, "bench", key, expires, content_type=mime)
            encoded = "&".join(f"{k}={requests.utils.quote(v, safe='')}" for k, v in query.items())
            return f"/bench/{key}?{encoded}"

        def upload(size: str) -> None:
            target = signed("PUT", f"get-{size}")
            response = requests.put(f"http://127.0.0.1:{port}{target}", data=os.urandom(SIZES[size]),
                                    headers={"Content-Type": ctype})  # fmt: skip
            response.raise_for_status()

        def gets(size: str) -> list[str]:
            upload(size)
            return [signed("GET", f"get-{size}")]

        def puts(size: str) -> list[str]:
            return [signed("PUT", f"put-{size}/{i}") for i in range(TARGETS)]

        name = "holdall" if GATEWAYS == 1 else f"holdall×{GATEWAYS}"
        more_ports = [gateway.port for gateway in gateways[1:]]
        yield Target(name, port, gateways[0].process, gets, puts, ctype, more_ports=more_ports)


@contextmanager
def nginx_server(work: Path, workers: int) -> Iterator[Target]:
    with running_nginx(work, workers) as nginx:

        def gets(size: str) -> list[str]:
            requests.put(f"{nginx.url}/bench/get-{size}", data=os.urandom(SIZES[size])).raise_for_status()
            return [f"/bench/get-{size}"]

        def puts(size: str) -> list[str]:
            return [f"/bench/put-{size}/{i}" for i in range(TARGETS)]

        yield Target("nginx", nginx.port, nginx.process, gets, puts)


@contextmanager
def moto_server(work: Path, workers: int) -> Iterator[Target]:
    with running_moto(work) as moto:
        client = s3_client(moto.url, "bench", "bench", "us-east-1")
        client.create_bucket(Bucket="bench")

        def strip(url: str) -> str:
            return url.split(f"127.0.0.1:{moto.port}", 1)[1]

        def gets(size: str) -> list[str]:
            client.put_object(Bucket="bench", Key=f"get-{size}", Body=os.urandom(SIZES[size]))
            params = {"Bucket": "bench", "Key": f"get-{size}"}
            return [strip(client.generate_presigned_url("get_object", Params=params, ExpiresIn=10800))]

        def puts(size: str) -> list[str]:
            return [
                strip(
                    client.generate_presigned_url(
                        "put_object", Params={"Bucket": "bench", "Key": f"put-{size}/{i}"}, ExpiresIn=10800
                    )
                )
                for i in range(TARGETS)
            ]

        yield Target("moto", moto.port, moto.process, gets, puts)


# ----------------------------------------------------------------- load


def run_wrk(
    target: Target, method: str, size: str, targets: list[str], args: argparse.Namespace, work: Path
) -> dict[str, float]:
    targets_file = work / f"{target.name}-{method}-{size}.targets"
    targets_file.write_text("\n".join(targets) + "\n")
    body_file = ""
    if method == "PUT":
        body_path = work / f"body-{size}"
        if not body_path.exists():
            body_path.write_bytes(os.urandom(SIZES[size]))
        body_file = str(body_path)
    ports = [target.port, *target.more_ports]
    connections = max(1, (args.connections if SIZES[size] < MiB else args.big_connections) // len(ports))
    script_args = [method, str(targets_file), body_file, target.content_type if method == "PUT" else ""]
    before = cpu_seconds()
    with PeakRss(target.process.pid) as rss:
        load = wrk(
            [f"http://127.0.0.1:{port}" for port in ports], HERE / "walk.lua", script_args,
            threads=args.threads, connections=connections, seconds=args.duration, request_timeout_s=60,
        )  # fmt: skip
    after = cpu_seconds()
    return {
        "req_s": load.req_s,
        "mb_s": load.requests * SIZES[size] / load.seconds / 1e6,
        "p50_ms": load.p50_ms,
        "p99_ms": load.p99_ms,
        "errors": load.errors,
        "rss_mb": rss.peak / 1e6,
        "pss_mb": rss.peak_pss / 1e6,
        "cpu_ms": (after["holdall"] - before["holdall"]) * 1000 / max(load.requests, 1),
        "db_cpu_ms": (after["postgres"] - before["postgres"]) * 1000 / max(load.requests, 1),
    }


SERVERS = {"holdall": holdall_server, "nginx": nginx_server, "moto": moto_server}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10, help="seconds per run (default 10)")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (default 1)")
    parser.add_argument("--connections", type=int, default=16, help="connections for 1 KiB runs (default 16)")
    parser.add_argument("--big-connections", type=int, default=4, help="connections for 64 MiB runs (default 4)")
    parser.add_argument("--workers", type=int, default=2, help="holdall and nginx worker processes (default 2)")
    parser.add_argument("--servers", default="holdall,nginx,moto")
    parser.add_argument("--cases", default="GET-1KiB,PUT-1KiB,GET-64MiB,PUT-64MiB")
    parser.add_argument(
        "--meta", default="sqlite", help="holdall's metadata: sqlite, postgresql (a throwaway server), or a URL"
    )
    parser.add_argument(
        "--gateways", type=int, default=1, help="holdall gateways on one store (needs --meta postgresql)"
    )
    args = parser.parse_args()
    global GATEWAYS
    GATEWAYS = args.gateways
    with metadata(args.meta):
        run(args)


@contextmanager
def metadata(choice: str) -> Iterator[None]:
    """Points holdall at its metadata store; ``postgresql`` starts one from the machine's binaries."""
    global META_URL
    if choice != "postgresql":
        META_URL = "" if choice == "sqlite" else choice
        yield
        return
    sys.path.insert(0, str(HERE.parent))
    from tests.postgres import PostgresServer

    server = PostgresServer().start()
    try:
        META_URL = server.new_database()
        yield
    finally:
        server.stop()


def run(args: argparse.Namespace) -> None:
    cases = [tuple(case.split("-", 1)) for case in args.cases.split(",")]
    table: dict[str, dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="holdall-bench-", dir=os.environ.get("BENCH_DIR")) as tmp:
        work = Path(tmp)
        for name in args.servers.split(","):
            with SERVERS[name](work, args.workers) as target:
                for method, size in cases:
                    os.sync()  # let the previous case's writeback finish before this one starts
                    time.sleep(2)
                    targets = target.get_targets(size) if method == "GET" else target.put_targets(size)
                    result = run_wrk(target, method, size, targets, args, work)
                    table.setdefault(f"{method} {size}", {})[name] = result
                    print(
                        f"{name:8} {method:4} {size:6} {result['req_s']:10.0f} req/s {result['mb_s']:9.1f} MB/s"
                        f"  p50 {result['p50_ms']:7.2f} ms  p99 {result['p99_ms']:8.2f} ms"
                        f"  errors {result['errors']:5.0f}  peak RSS {result['rss_mb']:6.1f} MB"
                        f" PSS {result['pss_mb']:6.1f} MB  CPU/req {result['cpu_ms']:.3f} ms"
                        f" + PostgreSQL {result['db_cpu_ms']:.3f} ms",
                        flush=True,
                    )
    print()
    print("| case | server | req/s | MB/s | p99 ms | errors | peak RSS MB | peak PSS MB | × nginx | × moto |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for case, row in table.items():
        for name, result in row.items():
            ratios = []
            for ref in ("nginx", "moto"):
                ratios.append(f"{result['req_s'] / row[ref]['req_s']:.2f}" if ref in row and name != ref else "")
            print(
                f"| {case} | {name} | {result['req_s']:.0f} | {result['mb_s']:.1f} | {result['p99_ms']:.1f} "
                f"| {result['errors']:.0f} | {result['rss_mb']:.1f} | {result['pss_mb']:.1f} "
                f"| {ratios[0]} | {ratios[1]} |"
            )


if __name__ == "__main__":
    main()

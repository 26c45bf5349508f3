"""CPU cost of one signed 1 KiB GET inside holdall's ASGI app, without a socket or uvicorn.

Run by hand: ``.venv/bin/python bench/inprocess.py [--profile] [--access-log FILE]``. Calls the app
5,000 times per round, eight rounds, and prints the best round's time per request; ``--profile``
then prints a cProfile of one more round, sorted by cumulative time; ``--access-log`` measures with
the access log written to FILE.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from holdall.auth import ufile
from holdall.config import Settings
from holdall.data_dir import prepare_data_dir
from holdall.metrics import TALLY
from holdall.server.app import HoldallApp

ACCESS, SECRET = "HABENCHACCESSKEY0000", "holdall-bench-secret"
ROUND = 5000


async def call(
    app: HoldallApp, method: str, path: str, query: bytes = b"", headers: Any = (), body: bytes = b""
) -> Any:
    scope = {
        "type": "http", "method": method, "path": path, "raw_path": path.encode(), "query_string": query,
        "headers": [(b"host", b"127.0.0.1:9000"), *headers], "client": ("127.0.0.1", 1234),
    }  # fmt: skip
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    messages: list[Any] = []

    async def send(message: Any) -> None:
        messages.append(message)

    await app(scope, receive, send)
    return messages


def prepare(access_log: str = "off") -> Settings:
    """A fresh data directory with the bench's root keys, made before any event loop runs."""
    os.environ["HOLDALL_ACCESS_KEY"], os.environ["HOLDALL_SECRET_KEY"] = ACCESS, SECRET
    settings = Settings(data_dir=Path(tempfile.mkdtemp()) / "data", sweep_interval=0, access_log=access_log)
    prepare_data_dir(settings)
    return settings


async def main(settings: Settings, profile: bool) -> None:
    app = HoldallApp(settings)
    app.startup()
    params = {"Action": "CreateBucket", "BucketName": "bench", "PublicKey": ACCESS}
    params["Signature"] = ufile.api_signature(params, SECRET)
    await call(app, "GET", "/", urlencode(params).encode())
    expires = int(time.time()) + 3600
    put = ufile.presign_query(ACCESS, SECRET, "PUT", "bench", "k", expires)
    await call(app, "PUT", "/bench/k", urlencode(put).encode(), [(b"content-length", b"1024")], b"a" * 1024)
    get = urlencode(ufile.presign_query(ACCESS, SECRET, "GET", "bench", "k", expires)).encode()
    assert (await call(app, "GET", "/bench/k", get))[0]["status"] == 200
    best = float("inf")
    for _ in range(8):
        start = time.perf_counter()
        for _ in range(ROUND):
            await call(app, "GET", "/bench/k", get)
        best = min(best, time.perf_counter() - start)
    print(f"{best / ROUND * 1e6:.1f} µs per GET (best of 8 rounds of {ROUND})")
    served = len(TALLY.served)
    start = time.perf_counter()
    TALLY.take()  # what the once-a-second metrics flush adds, folded out of the timed rounds
    print(f"{(time.perf_counter() - start) / max(served, 1) * 1e6:.2f} µs per request to fold the metrics")
    if profile:
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(ROUND):
            await call(app, "GET", "/bench/k", get)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--access-log", default="off", help="write the access log there (a file) while measuring")
    args = parser.parse_args()
    asyncio.run(main(prepare(args.access_log), args.profile))

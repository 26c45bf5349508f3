"""Which S3 client holdall's blob store should drive: botocore from threads, aiobotocore, or obstore.

Run by hand, in a virtual environment of its own (aiobotocore pins botocore, which boto3 in holdall's
own environment may not accept)::

    python3 -m venv /tmp/s3venv && /tmp/s3venv/bin/pip install boto3 obstore aiobotocore 'moto[server]'
    /tmp/s3venv/bin/python bench/s3_clients.py

It starts moto on loopback and, for each client, PUTs and GETs 200 objects of 1 KiB and 4 of 64 MiB,
printing wall time and the client process's own CPU time per operation. moto is slow itself, so the
wall time mostly measures moto; the CPU time is what the client would cost a holdall worker.
"""

# ruff: noqa: B023 -- each measured lambda runs at once, inside the loop iteration that made it
from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable

import boto3
from aiobotocore.session import get_session
from obstore.store import S3Store

ACCESS, SECRET, REGION, BUCKET = "bench-access", "bench-secret", "us-east-1", "bench"
SMALL, LARGE = os.urandom(1024), os.urandom(64 * 1024 * 1024)
COUNTS = {"1KiB": 200, "64MiB": 4}


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(300):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.1):
                break
        except OSError:
            time.sleep(0.05)
    return server, f"http://127.0.0.1:{port}"


def measure(name: str, case: str, run: Callable[[], None]) -> None:
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    count = COUNTS[case.split()[1]]
    print(f"{name:22} {case:10} wall {wall / count * 1000:8.2f} ms/op   client CPU {cpu / count * 1000:7.2f} ms/op")


def botocore_client(endpoint: str) -> None:
    client = boto3.client(
        "s3", endpoint_url=endpoint, region_name=REGION, aws_access_key_id=ACCESS, aws_secret_access_key=SECRET
    )
    client.create_bucket(Bucket=BUCKET)
    for size, body in (("1KiB", SMALL), ("64MiB", LARGE)):
        keys = [f"boto/{size}/{i}" for i in range(COUNTS[size])]
        measure(
            "botocore (threads)",
            f"PUT {size}",
            lambda: [client.put_object(Bucket=BUCKET, Key=k, Body=body) for k in keys],
        )
        measure(
            "botocore (threads)",
            f"GET {size}",
            lambda: [client.get_object(Bucket=BUCKET, Key=k)["Body"].read() for k in keys],
        )


def aiobotocore_client(endpoint: str) -> None:
    async def main() -> None:
        session = get_session()
        async with session.create_client(
            "s3", endpoint_url=endpoint, region_name=REGION, aws_access_key_id=ACCESS, aws_secret_access_key=SECRET
        ) as client:
            for size, body in (("1KiB", SMALL), ("64MiB", LARGE)):
                keys = [f"aio/{size}/{i}" for i in range(COUNTS[size])]

                async def puts() -> None:
                    for key in keys:
                        await client.put_object(Bucket=BUCKET, Key=key, Body=body)

                async def gets() -> None:
                    for key in keys:
                        reply = await client.get_object(Bucket=BUCKET, Key=key)
                        async with reply["Body"] as stream:
                            await stream.read()

                for label, job in (("PUT", puts), ("GET", gets)):
                    wall, cpu = time.perf_counter(), time.process_time()
                    await job()
                    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                    count = COUNTS[size]
                    print(
                        f"{'aiobotocore':22} {label + ' ' + size:10} wall {wall / count * 1000:8.2f} ms/op"
                        f"   client CPU {cpu / count * 1000:7.2f} ms/op"
                    )

    asyncio.run(main())


def obstore_client(endpoint: str) -> None:
    store = S3Store(
        BUCKET,
        endpoint=endpoint,
        region=REGION,
        access_key_id=ACCESS,
        secret_access_key=SECRET,
        client_options={"allow_http": True},
    )
    import obstore

    for size, body in (("1KiB", SMALL), ("64MiB", LARGE)):
        keys = [f"obs/{size}/{i}" for i in range(COUNTS[size])]
        measure("obstore", f"PUT {size}", lambda: [obstore.put(store, k, body) for k in keys])
        measure("obstore", f"GET {size}", lambda: [obstore.get(store, k).bytes() for k in keys])


def main() -> None:
    server, endpoint = start_moto()
    try:
        botocore_client(endpoint)
        aiobotocore_client(endpoint)
        obstore_client(endpoint)
    finally:
        server.terminate()
        server.wait(30)


if __name__ == "__main__":
    main()

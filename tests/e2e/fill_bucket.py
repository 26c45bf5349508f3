"""One of the processes racing to fill a capped bucket: ``python -m tests.e2e.fill_bucket URL BUCKET PREFIX COUNT
SIZE PUBLIC PRIVATE`` uploads COUNT objects from 8 threads, path style, and prints how many were accepted."""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor

import requests
from ufile.baseufile import BaseUFile


def main() -> None:
    url, bucket, prefix, count, size, public, private = sys.argv[1:8]
    signer = BaseUFile(public, private)
    body = b"x" * int(size)

    def upload(index: int) -> int:
        key = f"{prefix}{index:04d}"
        headers = {"Content-Type": "application/octet-stream"}
        headers["Authorization"] = signer.authorization("put", bucket, key, headers)
        reply = requests.put(f"{url}/{bucket}/{key}", data=body, headers=headers)
        if reply.status_code == 200:
            return 1
        assert reply.status_code == 403 and reply.json()["RetCode"] == -15011, reply.text
        return 0

    with ThreadPoolExecutor(8) as pool:
        print(sum(pool.map(upload, range(int(count)))))


if __name__ == "__main__":
    main()

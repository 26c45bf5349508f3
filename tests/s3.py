"""A throwaway S3 service for the tests: ``moto[server]`` on a free port of 127.0.0.1."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid

import boto3

from tests.e2e.server import free_port

ACCESS, SECRET, REGION = "testing-access-key", "testing-secret-key", "us-east-1"
BUCKET = "holdall-blobs"


class S3Server:
    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> S3Server:
        command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.05)
        self.client().create_bucket(Bucket=BUCKET)
        return self

    def client(self):  # type: ignore[no-untyped-def]
        return boto3.client(
            "s3", endpoint_url=self.endpoint, region_name=REGION, aws_access_key_id=ACCESS, aws_secret_access_key=SECRET
        )

    def new_location(self) -> str:
        """A blob URL of a prefix of its own."""
        return f"s3://{BUCKET}/{uuid.uuid4().hex[:12]}?endpoint={self.endpoint}&region={REGION}"

    def environment(self) -> dict[str, str]:
        return {"AWS_ACCESS_KEY_ID": ACCESS, "AWS_SECRET_ACCESS_KEY": SECRET}

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(30)

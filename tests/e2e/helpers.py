"""Plain-HTTP helpers; requests are signed by the ufile SDK's own signer."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import requests
from ufile.auth import Auth
from ufile.baseufile import BaseUFile

from tests.e2e.server import _META_URLS, ACCESS_KEY, SECRET_KEY, Server, meta_args


def signed_headers(
    method: str,
    bucket: str,
    key: str,
    headers: dict[str, str] | None = None,
    keys: tuple[str, str] = (ACCESS_KEY, SECRET_KEY),
) -> dict[str, str]:
    out = dict(headers or {})
    out["Authorization"] = BaseUFile(*keys).authorization(method.lower(), bucket, key, out)
    return out


def call(
    server: Server,
    method: str,
    bucket: str,
    key: str,
    *,
    query: str = "",
    headers: dict[str, str] | None = None,
    data: bytes | None = None,
    sign_key: str | None = None,
    keys: tuple[str, str] = (ACCESS_KEY, SECRET_KEY),
) -> requests.Response:
    """A signed request to ``<bucket>.localhost``; ``sign_key`` overrides the key that is signed."""
    signed = signed_headers(method, bucket, key if sign_key is None else sign_key, headers, keys)
    url = f"{server.bucket_url(bucket)}/{key}" + (f"?{query}" if query else "")
    return requests.request(method, url, headers=signed, data=data)


def raw_request(server: Server, payload: bytes, half_close: bool = True) -> bytes:
    """Sends bytes as they are and returns whatever comes back before the server closes.

    ``half_close`` ends the sending side first, as a client that gives up on its body does.
    """
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(payload)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


def holdall_cli(data_dir: Path, *args: str) -> str:
    """Runs ``holdall <args> --data <data_dir>`` and returns what it printed."""
    command = [sys.executable, "-m", "holdall", *args, "--data", str(data_dir), *meta_args(data_dir)]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def create_account(data_dir: Path, name: str) -> tuple[str, str]:
    out = holdall_cli(data_dir, "account", "create", name)
    fields = {}
    for line in out.splitlines():
        name, sep, value = line.partition(":")
        if sep:
            fields[name.strip()] = value.strip()
    return fields["public key"], fields["private key"]


def api(server: Server, action: str, keys: tuple[str, str] = (ACCESS_KEY, SECRET_KEY), **params: object) -> Any:
    """A management call signed by the SDK's own signer; returns the JSON reply."""
    query = {"Action": action, "PublicKey": keys[0], **{name: str(value) for name, value in params.items()}}
    query["Signature"] = Auth(*keys).bucket_signature(query)
    response = requests.get(server.url + "/", params=query)
    assert response.status_code == 200, response.text
    assert response.json()["Action"] == f"{action}Response"
    return response.json()


def numbered(name: str, values: list[str]) -> dict[str, str]:
    """``AllowedOps=[a, b]`` → ``{"AllowedOps.0": a, "AllowedOps.1": b}``."""
    return {f"{name}.{index}": value for index, value in enumerate(values)}


def count_rows(data_dir: Path, table: str) -> int:
    """Rows of a metadata table, read from whichever store the server of ``data_dir`` uses."""
    if data_dir in _META_URLS:
        import psycopg

        with psycopg.connect(_META_URLS[data_dir]) as conn:
            row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    else:
        with sqlite3.connect(f"file:{data_dir / 'meta.sqlite3'}?mode=ro", uri=True) as conn:
            row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    assert row is not None
    return int(row[0])

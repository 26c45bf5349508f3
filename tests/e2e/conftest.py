from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import ufile.bucketmanager
from ufile import config as ufile_config
from ufile.bucketmanager import BucketManager

from tests.e2e.server import ACCESS_KEY, SECRET_KEY, Server

_real_getaddrinfo = socket.getaddrinfo


def _getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    if isinstance(host, str) and (host.endswith(".localhost") or host.endswith(".127.0.0.1")):
        host = "127.0.0.1"
    return _real_getaddrinfo(host, *args, **kwargs)


socket.getaddrinfo = _getaddrinfo  # *.localhost and <bucket>.127.0.0.1 resolve to loopback here


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("holdall")
    srv = Server(
        data=root / "data",
        extra=["--bucket-delete-delay", "0", "--sweep-interval", "1", "--blob-grace", "1", "--workers", "2"],
    ).start()
    ufile_config.set_default(uploadsuffix=f".localhost:{srv.port}", downloadsuffix=f".localhost:{srv.port}")
    ufile.bucketmanager.UCLOUD_API_URL = srv.url
    yield srv
    srv.stop()


@pytest.fixture
def bucket_manager(server: Server) -> BucketManager:
    return BucketManager(ACCESS_KEY, SECRET_KEY)


@pytest.fixture
def bucket(bucket_manager: BucketManager) -> str:
    name = f"t-{uuid.uuid4().hex[:12]}"
    ret, resp = bucket_manager.createbucket(name, "cn-bj", "private")
    assert resp.status_code == 200 and ret["RetCode"] == 0, ret
    return name


@pytest.fixture
def data_dir(server: Server) -> Path:
    return server.data

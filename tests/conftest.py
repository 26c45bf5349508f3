"""Fixtures every kind of test may use: a PostgreSQL server, started once per run when a test asks."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.e2e import server as e2e_server
from tests.postgres import PostgresServer
from tests.s3 import S3Server


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3_service() -> Iterator[S3Server]:
    server = S3Server().start()
    yield server
    server.stop()


@pytest.fixture(scope="session", autouse=True)
def backends(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """``HOLDALL_TEST_META=postgresql`` runs every server of the suite on PostgreSQL, a database each;
    ``HOLDALL_TEST_BLOBS=s3`` keeps their blobs in an S3 service, a prefix each."""
    meta = os.environ.get("HOLDALL_TEST_META", "sqlite")
    blobs = os.environ.get("HOLDALL_TEST_BLOBS", "file")
    if meta == "postgresql":
        e2e_server.new_metadata_url = request.getfixturevalue("postgres").new_database
    if blobs == "s3":
        service = request.getfixturevalue("s3_service")
        e2e_server.new_blobs_url = service.new_location
        e2e_server.blobs_env.update(service.environment())
    yield meta, blobs
    e2e_server.new_metadata_url = None
    e2e_server.new_blobs_url = None
    e2e_server.blobs_env.clear()

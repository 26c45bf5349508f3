"""Fixtures every kind of test may use: a PostgreSQL server, started once per run when a test asks."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.e2e import server as e2e_server
from tests.postgres import PostgresServer


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session", autouse=True)
def metadata_backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """``HOLDALL_TEST_META=postgresql`` runs every server of the suite on PostgreSQL, a database each."""
    backend = os.environ.get("HOLDALL_TEST_META", "sqlite")
    if backend == "postgresql":
        e2e_server.new_metadata_url = request.getfixturevalue("postgres").new_database
    yield backend
    e2e_server.new_metadata_url = None

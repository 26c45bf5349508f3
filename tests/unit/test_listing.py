"""Delimited listings over a real SQLite store, paged to the end, against a model of what they must return."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from holdall.service.objects import ObjectService
from holdall.store.meta.sqlite import SqliteMetaStore

keys = st.sets(st.text("ab/é", min_size=1, max_size=6), max_size=40)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SqliteMetaStore, Path]]:
    path = tmp_path_factory.mktemp("listing") / "meta.sqlite3"
    meta = SqliteMetaStore(path)
    yield meta, path
    meta.close()


def expected(names: set[str], prefix: str, delimiter: str) -> list[str]:
    entries: list[str] = []
    for name in sorted(names):
        if not name.startswith(prefix):
            continue
        cut = name.find(delimiter, len(prefix)) if delimiter else -1
        entry = name[: cut + len(delimiter)] if cut >= 0 else name
        if not entries or entries[-1] != entry:
            entries.append(entry)
    return entries


@settings(max_examples=300, deadline=None)
@given(keys, st.text("ab/", max_size=2), st.sampled_from(["", "/", "a", "b/"]), st.integers(1, 5))
def test_pages_of_a_delimited_listing_add_up(
    store: tuple[SqliteMetaStore, Path], names: set[str], prefix: str, delimiter: str, limit: int
) -> None:
    meta, path = store
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM objects")
        conn.executemany(
            "INSERT INTO objects(bucket, key, size, etag, mime, storage_class, created, modified, manifest)"
            " VALUES('b', ?, 0, '', '', 'STANDARD', 0, 0, '')",
            [(name,) for name in names],
        )
    service = ObjectService.__new__(ObjectService)
    service.meta = meta
    got: list[str] = []
    marker = ""
    for _ in range(len(names) + 2):
        page = asyncio.run(service.list_delimited("b", prefix, marker, limit, delimiter))
        assert len(page.objects) + len(page.prefixes) <= limit
        got += sorted([record.key for record in page.objects] + page.prefixes)
        if not page.truncated:
            break
        marker = page.next_marker
    assert got == expected(names, prefix, delimiter)

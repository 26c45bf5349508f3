"""The metadata store a URL names: ``sqlite:///path/to/meta.sqlite3`` or ``postgresql://user@host/db``."""

from __future__ import annotations

from pathlib import Path

from holdall.store.meta.sql import SqlMetaStore

SCHEMES = ("sqlite", "postgresql", "postgres")


def open_meta(url: str) -> SqlMetaStore:
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in SCHEMES:
        raise ValueError(f"the metadata URL {url!r} is sqlite:///PATH or postgresql://…")
    if scheme == "sqlite":
        if not rest.startswith("/"):
            raise ValueError("a sqlite URL names an absolute path: sqlite:///var/lib/holdall/meta.sqlite3")
        from holdall.store.meta.sqlite import SqliteMetaStore

        return SqliteMetaStore(Path(rest))
    from holdall.store.meta.postgres import PostgresMetaStore

    return PostgresMetaStore(url)

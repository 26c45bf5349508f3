"""What a SQL backend gives the shared metadata store: a connection shape, reads, writes, a change feed.

The rules of :mod:`holdall.store.meta.sql` are written once, as SQL with ``?`` placeholders run
against a :class:`Conn`; SQLite runs them as they are, PostgreSQL through an adapter. Each backend
decides how a write transaction is isolated and says there why that keeps every rule atomic.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol, TypeVar

T = TypeVar("T")
Row = tuple[Any, ...]
CACHE_LIMIT = 10000


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def __iter__(self) -> Any: ...


class Conn(Protocol):
    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Cursor: ...
    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Any: ...


Transaction = Callable[[Conn], T]


class SqlPlumbing:
    """The backend's side. Subclasses implement the reads, the writes and the change feed."""

    UNIQUE_VIOLATION: tuple[type[BaseException], ...] = ()
    """What the driver raises when an insert breaks a unique key."""

    def __init__(self) -> None:
        self._cache_generation = -1
        self._caches: list[dict[Any, Any]] = []

    async def _one(self, sql: str, parameters: Sequence[Any] = ()) -> Any:
        raise NotImplementedError

    async def _all(self, sql: str, parameters: Sequence[Any] = ()) -> list[Any]:
        raise NotImplementedError

    async def _read_with(self, fn: Transaction[T]) -> T:
        """Runs ``fn`` on one reading connection: several queries for one round trip off the loop."""
        raise NotImplementedError

    async def _write(self, fn: Transaction[T]) -> T:
        """Runs ``fn`` in one write transaction and returns once it committed durably."""
        raise NotImplementedError

    def write_sync(self, fn: Transaction[T]) -> T:
        """The same, from a thread that runs no event loop (the admin commands)."""
        raise NotImplementedError

    def generation(self) -> int:
        raise NotImplementedError

    def bump_generation(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def _serialize(self, conn: Conn, *scopes: str, shared: str = "") -> None:
        """Makes the rest of this write transaction run alone among those naming any of ``scopes``
        (``bucket:<name>``, ``object:<bucket>/<key>``, ``account:<id>``, a job's name), taken in one
        step in the order given. ``shared`` is taken first, in its shared form: writers sharing a scope
        run side by side, and one that serializes on it waits for them all (and they for it). A backend
        whose writes already run one at a time needs nothing here."""

    @staticmethod
    def key_scopes(bucket: str, *keys: str) -> list[str]:
        """The scopes of the writers of these object keys, in the order every writer takes them (after
        any bucket scope): no two writers wait for each other crosswise."""
        return [f"object:{bucket}/{key}" for key in sorted(set(keys))]

    def new_cache(self) -> dict[Any, Any]:
        """A per-process cache of configuration, emptied whenever any process changes it."""
        cache: dict[Any, Any] = {}
        self._caches.append(cache)
        return cache

    def _cache_valid(self) -> None:
        current = self.generation()
        if current != self._cache_generation or sum(map(len, self._caches)) > CACHE_LIMIT:
            for cache in self._caches:
                cache.clear()
            self._cache_generation = current

    async def _write_config(self, fn: Transaction[T]) -> T:
        """A write that changes accounts, buckets, tokens or quotas: every process drops its caches."""
        try:
            return await self._write(fn)
        finally:
            self.bump_generation()

    def _write_config_sync(self, fn: Transaction[T]) -> T:
        try:
            return self.write_sync(fn)
        finally:
            self.bump_generation()

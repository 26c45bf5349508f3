"""Plumbing of the SQLite metadata store: WAL mode, one writer thread with group commit, reads inline.

Reads run on the caller's thread through a connection of that thread: in WAL mode they never
wait for the writer. Writes are closures queued to one writer thread, which runs everything
queued so far in one transaction, each closure inside its own savepoint, and commits once with
``synchronous=FULL``; only then are the waiting coroutines answered. Several server processes
share the file: they queue on one file lock before SQLite's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import queue
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from holdall.errors import StorageFull
from holdall.store.meta.generation import Generation
from holdall.store.meta.sqlite_schema import migrate

T = TypeVar("T")
CACHE_LIMIT = 10000

Job = tuple[Callable[[sqlite3.Connection], Any], "asyncio.Future[Any] | None", "queue.Queue[Any] | None"]


def _domain_error(error: BaseException) -> BaseException:
    """SQLITE_FULL is the volume filling up, which callers know as :class:`StorageFull`."""
    if isinstance(error, sqlite3.Error) and getattr(error, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_FULL:
        return StorageFull("no space left on the volume of the metadata store")
    return error


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
    conn.execute("PRAGMA busy_timeout = 30000")
    conn.execute("PRAGMA synchronous = FULL")
    return conn


class SqliteBase:
    def __init__(self, path: Path) -> None:
        self.path = path
        setup = connect(path)
        setup.execute("PRAGMA journal_mode = WAL")
        migrate(setup)
        setup.close()
        self._local = threading.local()
        self._generation = Generation(path.with_suffix(".generation"))
        self._cache_generation = -1
        self._caches: list[dict[Any, Any]] = []
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._writer = threading.Thread(target=self._write_loop, name="holdall-meta-writer", daemon=True)
        self._writer.start()

    # ----------------------------------------------------------------- plumbing

    @property
    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path)
            conn.execute("PRAGMA mmap_size = 268435456")  # pages are read from the page cache, not read()
            self._local.conn = conn
        return conn

    def _write_loop(self) -> None:
        conn = connect(self.path)
        lock = os.open(self.path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        while True:
            first = self._queue.get()
            if first is None:
                break
            batch = [first]
            while len(batch) < 256:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    self._queue.put(None)
                    break
                batch.append(job)
            # Writers of every process queue on this lock, which hands over at once; SQLite's own
            # busy handler would sleep for milliseconds between retries.
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                self._run_batch(conn, batch)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        conn.close()
        os.close(lock)

    def _run_batch(self, conn: sqlite3.Connection, batch: list[Job]) -> None:
        outcomes: list[tuple[bool, Any]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for fn, _, _ in batch:
                conn.execute("SAVEPOINT job")
                try:
                    outcomes.append((True, fn(conn)))
                    conn.execute("RELEASE job")
                except BaseException as exc:  # handed to the waiting caller
                    conn.execute("ROLLBACK TO job")
                    conn.execute("RELEASE job")
                    outcomes.append((False, _domain_error(exc)))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):  # a failed rollback must not end the writer
                    conn.execute("ROLLBACK")
            outcomes = [(False, _domain_error(exc))] * len(batch)
        for (ok, value), (_, future, reply) in zip(outcomes, batch, strict=True):
            if reply is not None:
                reply.put((ok, value))
            elif future is not None:
                future.get_loop().call_soon_threadsafe(_resolve, future, ok, value)

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put((fn, future, None))
        return await future

    def write_sync(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Runs one write and waits for its commit, from a thread that has no event loop."""
        reply: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=1)
        self._queue.put((fn, None, reply))
        ok, value = reply.get()
        if not ok:
            raise value
        result: T = value
        return result

    def new_cache(self) -> dict[Any, Any]:
        """A per-process cache of configuration, emptied whenever any process changes it."""
        cache: dict[Any, Any] = {}
        self._caches.append(cache)
        return cache

    def _cache_valid(self) -> None:
        current = self._generation.value()
        if current != self._cache_generation or sum(map(len, self._caches)) > CACHE_LIMIT:
            for cache in self._caches:
                cache.clear()
            self._cache_generation = current

    def generation(self) -> int:
        return self._generation.value()

    def bump_generation(self) -> None:
        self._generation.bump()

    async def _write_config(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """A write that changes accounts or buckets: every process drops its cache once it commits."""
        try:
            return await self._write(fn)
        finally:
            self._generation.bump()

    def _write_config_sync(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return self.write_sync(fn)
        finally:
            self._generation.bump()

    def close(self) -> None:
        self._queue.put(None)
        self._writer.join(timeout=30)
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
        self._generation.close()


def _resolve(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.cancelled():
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)

"""The metadata store on SQLite: WAL mode, one writer thread with group commit, reads inline.

Reads run on the caller's thread through a connection of that thread: in WAL mode they never
wait for the writer. Writes are closures queued to one writer thread, which runs everything
queued so far in one transaction, each closure inside its own savepoint, and commits once with
``synchronous=FULL``; only then are the waiting coroutines answered. Several server processes
share the file: they queue on one file lock before SQLite's own. Because every write of every
process runs alone, each rule's check and change in one transaction is atomic as it stands.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import queue
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from time import perf_counter
from typing import Any, TypeVar

from holdall.errors import StorageFull
from holdall.metrics import TALLY, timed_store
from holdall.store.meta.base import ObjectRecord
from holdall.store.meta.generation import Generation
from holdall.store.meta.sql import SqlMetaStore
from holdall.store.meta.sql_plumbing import Transaction
from holdall.store.meta.sql_rows import INLINE_DATA, OBJECT_FOR_READ, object_record
from holdall.store.meta.sqlite_schema import migrate

T = TypeVar("T")
READ_CACHE_BYTES = 8 * 1024 * 1024
"""About how much one reading thread remembers of objects it read, inline bytes included."""

Job = tuple[Transaction[Any], "asyncio.Future[Any] | None", "queue.Queue[Any] | None"]


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


class SqliteMetaStore(SqlMetaStore):
    UNIQUE_VIOLATION = (sqlite3.IntegrityError,)

    def __init__(self, path: Path) -> None:
        self.path = path
        setup = connect(path)
        setup.execute("PRAGMA journal_mode = WAL")
        migrate(setup)
        setup.close()
        self._local = threading.local()
        self._generation = Generation(path.with_suffix(".generation"))
        super().__init__()
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

    async def _write(self, fn: Transaction[T]) -> T:
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put((fn, future, None))
        return await timed_store("write", future)

    def write_sync(self, fn: Transaction[T]) -> T:
        """Runs one write and waits for its commit, from a thread that has no event loop."""
        reply: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=1)
        self._queue.put((fn, None, reply))
        ok, value = reply.get()
        if not ok:
            raise value
        result: T = value
        return result

    async def _one(self, sql: str, parameters: Sequence[Any] = ()) -> Any:
        started = perf_counter()
        row = self._reader.execute(sql, parameters).fetchone()
        TALLY.store_call("read", perf_counter() - started)
        return row

    async def _all(self, sql: str, parameters: Sequence[Any] = ()) -> list[Any]:
        started = perf_counter()
        rows = self._reader.execute(sql, parameters).fetchall()
        TALLY.store_call("read", perf_counter() - started)
        return rows

    async def _read_with(self, fn: Transaction[T]) -> T:
        started = perf_counter()
        try:
            return fn(self._reader)
        finally:
            TALLY.store_call("read", perf_counter() - started)

    async def object_for_read(self, bucket: str, key: str) -> tuple[ObjectRecord, bytes | None] | None:
        """Remembered per reading thread until any connection commits anything (``PRAGMA data_version``
        moves), so repeated reads of an unchanged store skip the query and the decoding."""
        conn = self._reader
        local = self._local
        version = conn.execute("PRAGMA data_version").fetchone()[0]
        cache: dict[tuple[str, str], tuple[ObjectRecord, bytes | None]] | None = getattr(local, "reads", None)
        if cache is None or local.read_version != version or local.read_bytes > READ_CACHE_BYTES:
            cache = local.reads = {}
            local.read_version = version
            local.read_bytes = 0
        found = cache.get((bucket, key))
        if found is not None:
            return found
        started = perf_counter()
        row = conn.execute(OBJECT_FOR_READ, (bucket, key)).fetchone()
        TALLY.store_call("read", perf_counter() - started)
        if row is None:
            return None
        found = cache[(bucket, key)] = (object_record(row), row[INLINE_DATA])
        local.read_bytes += 512 + len(key) + (len(row[INLINE_DATA]) if row[INLINE_DATA] else 0)
        return found

    def generation(self) -> int:
        return self._generation.value()

    def bump_generation(self) -> None:
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

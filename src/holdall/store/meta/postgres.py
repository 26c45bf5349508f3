"""The metadata store on PostgreSQL (psycopg 3 and psycopg_pool), for many gateways at once.

Reads and writes run on pooled connections in a thread pool, off the event loop. Writes are READ
COMMITTED transactions; each check-then-act rule of :mod:`holdall.store.meta.sql` first takes a
transaction-scoped advisory lock on what it guards (``bucket:<name>`` for caps, ``if_absent``,
empty-bucket deletes and multipart finishes; ``account:<id>`` for the token limit, 20 a second and
the live upload URLs; ``storage-accrual``), so those of all gateways run one at a time and each sees
the others' commits, as on SQLite. Writers to an uncapped bucket hold its lock in the shared form
(``pg_advisory_xact_lock_shared``), which a bucket delete or a cap change waits for, and they count
into shards of its counters (``bucket_usage``) side by side. A shared advisory lock lives in the lock
manager's memory; the row lock ``FOR SHARE`` it replaced wrote the bucket's row (and WAL) for every
write and made a multixact of the concurrent ones. Each write that reads an object row and writes it
back holds ``object:<bucket>/<key>``, taken with the bucket's in one statement. Unique names, nonces
and leases need no lock: one ``INSERT … ON CONFLICT`` each. SERIALIZABLE with retry was measured
first: every PUT to a bucket updated its counters row, so concurrent PUTs aborted each other (1 KiB
PUT 702/s, p99 0.9 s, retries exhausted). A deadlock is retried. The caches of
accounts, buckets, tokens and quotas follow a change feed: a config write sends
``NOTIFY holdall_config`` in its own transaction; every gateway's listener thread counts the
notifications (a cache may lag a commit elsewhere by the notification's trip, milliseconds).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
from psycopg import errors
from psycopg_pool import ConnectionPool, PoolTimeout

from holdall.errors import BadRequest, ServiceUnavailable
from holdall.metrics import timed_store
from holdall.store.meta.postgres_schema import migrate
from holdall.store.meta.sql import SqlMetaStore
from holdall.store.meta.sql_plumbing import Conn, Cursor, T, Transaction

log = logging.getLogger("holdall.postgres")
CHANNEL = "holdall_config"
RETRIES = 20
POOL_SIZE = 8
RETRYABLE = (errors.SerializationFailure, errors.DeadlockDetected)


@functools.lru_cache(maxsize=1024)
def _placeholders(sql: str) -> str:
    """The shared SQL's ``?`` placeholders in psycopg's ``%s`` form."""
    return sql.replace("%", "%%").replace("?", "%s")


@contextlib.contextmanager
def _reachable() -> Iterator[None]:
    """A database that is down or a pool that is exhausted is a 503 the client may retry, not a 500."""
    try:
        yield
    except RETRYABLE:
        raise  # the write is run again
    except psycopg.DataError as error:  # a NUL byte, or a value the column cannot hold
        raise BadRequest(f"the request holds a value the metadata store cannot keep: {error}") from None
    except (psycopg.OperationalError, PoolTimeout) as error:
        log.warning("the metadata store is unreachable: %s", error)
        raise ServiceUnavailable("the metadata store is unreachable; retry shortly") from None


def _notifying(fn: Transaction[T], conn: Conn) -> T:
    result = fn(conn)
    conn.execute(f"NOTIFY {CHANNEL}")
    return result


class PgConn:
    """A psycopg connection with the shape :class:`holdall.store.meta.sql_plumbing.Conn` describes."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Cursor:
        return self._conn.execute(_placeholders(sql), tuple(parameters))

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Any:
        with self._conn.cursor() as cursor:
            cursor.executemany(_placeholders(sql), [tuple(row) for row in parameters])


class PostgresMetaStore(SqlMetaStore):
    UNIQUE_VIOLATION = (errors.UniqueViolation,)

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        with psycopg.connect(dsn, autocommit=True) as setup:
            migrate(setup)
        self._pool = ConnectionPool(dsn, min_size=1, max_size=POOL_SIZE, open=True, kwargs={"autocommit": True})
        self._executor = ThreadPoolExecutor(POOL_SIZE, thread_name_prefix="holdall-pg")
        self._bumps = itertools.count(1)
        self._generation = 0
        self._stop = threading.Event()
        self._listening = threading.Event()
        self._listener = threading.Thread(target=self._listen, name="holdall-pg-listen", daemon=True)
        self._listener.start()
        self._listening.wait(10)
        super().__init__()

    # ----------------------------------------------------------------- change feed

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.dsn, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._generation = next(self._bumps)  # whatever happened while not listening is forgotten
                    self._listening.set()
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=0.5):
                            self._generation = next(self._bumps)
            except Exception as error:  # whatever it was, the feed must go on: caches depend on it
                log.warning("the change feed's connection failed (%s); reconnecting", error)
                self._generation = next(self._bumps)
                self._stop.wait(1)

    def generation(self) -> int:
        return self._generation

    def bump_generation(self) -> None:
        self._generation = next(self._bumps)
        with self._pool.connection() as conn:
            conn.execute(f"NOTIFY {CHANNEL}")

    async def _write_config(self, fn: Transaction[T]) -> T:
        """The notification is sent in the write's own transaction, so it goes out when that commits."""
        try:
            return await self._write(functools.partial(_notifying, fn))
        finally:
            self._generation = next(self._bumps)

    def _write_config_sync(self, fn: Transaction[T]) -> T:
        try:
            return self.write_sync(functools.partial(_notifying, fn))
        finally:
            self._generation = next(self._bumps)

    # ----------------------------------------------------------------- reads and writes

    def _read_now(self, sql: str, parameters: Sequence[Any], one: bool) -> Any:
        with _reachable(), self._pool.connection() as conn:
            cursor = PgConn(conn).execute(sql, parameters)
            return cursor.fetchone() if one else cursor.fetchall()

    async def _one(self, sql: str, parameters: Sequence[Any] = ()) -> Any:
        loop = asyncio.get_running_loop()
        return await timed_store("read", loop.run_in_executor(self._executor, self._read_now, sql, parameters, True))

    async def _all(self, sql: str, parameters: Sequence[Any] = ()) -> list[Any]:
        loop = asyncio.get_running_loop()
        rows: list[Any] = await timed_store(
            "read", loop.run_in_executor(self._executor, self._read_now, sql, parameters, False)
        )
        return rows

    def _read_with_now(self, fn: Transaction[T]) -> T:
        with _reachable(), self._pool.connection() as conn:
            return fn(PgConn(conn))

    async def _read_with(self, fn: Transaction[T]) -> T:
        return await timed_store(
            "read", asyncio.get_running_loop().run_in_executor(self._executor, self._read_with_now, fn)
        )

    def write_sync(self, fn: Transaction[T]) -> T:
        for attempt in range(RETRIES):
            try:
                with _reachable(), self._pool.connection() as conn, conn.transaction():
                    return fn(PgConn(conn))
            except RETRYABLE:
                time.sleep(min(0.001 * 2**attempt, 0.1))
        raise ServiceUnavailable(f"a write met {RETRIES} deadlocks in a row; retry shortly")

    def _serialize(self, conn: Conn, *scopes: str, shared: str = "") -> None:
        calls = ["pg_advisory_xact_lock(hashtextextended(?, 0))"] * len(scopes)
        if shared:
            calls.insert(0, "pg_advisory_xact_lock_shared(hashtextextended(?, 0))")
        conn.execute(f"SELECT {', '.join(calls)}", [shared, *scopes] if shared else scopes)

    async def _write(self, fn: Transaction[T]) -> T:
        return await timed_store(
            "write", asyncio.get_running_loop().run_in_executor(self._executor, self.write_sync, fn)
        )

    def close(self) -> None:
        self._stop.set()
        self._listener.join(timeout=5)
        self._executor.shutdown(wait=True)
        self._pool.close()

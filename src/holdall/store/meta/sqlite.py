"""The metadata store on SQLite: WAL mode, one writer thread with group commit, reads inline.

Reads run on the caller's thread through a connection of that thread: in WAL mode they never
wait for the writer. Writes are closures queued to one writer thread, which runs everything
queued so far in one transaction, each closure inside its own savepoint, and commits once with
``synchronous=FULL``; only then are the waiting coroutines answered. Several server processes
share the file: SQLite's lock and ``busy_timeout`` order their writers.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from holdall.errors import (
    ApiError,
    BucketNotFound,
    Conflict,
    FileNotFound,
    HoldallError,
    RenameConflict,
    UploadNotFound,
)
from holdall.store.blobs.base import is_inline
from holdall.store.meta.base import (
    Account,
    BlobRef,
    Bucket,
    FinishBuilder,
    ObjectRecord,
    Part,
    Upload,
    decode_manifest,
    encode_manifest,
    prefix_upper_bound,
)
from holdall.store.meta.generation import Generation

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts(
    id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, public_key TEXT NOT NULL UNIQUE,
    private_key TEXT NOT NULL, disabled INTEGER NOT NULL DEFAULT 0, created INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS buckets(
    name TEXT PRIMARY KEY, id TEXT NOT NULL UNIQUE, account_id TEXT NOT NULL,
    project_id TEXT NOT NULL, type TEXT NOT NULL, region TEXT NOT NULL,
    created INTEGER NOT NULL, modified INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS buckets_account ON buckets(account_id, created);
CREATE TABLE IF NOT EXISTS blobs(
    id TEXT PRIMARY KEY, size INTEGER NOT NULL, refs INTEGER NOT NULL, released REAL, data BLOB);
CREATE INDEX IF NOT EXISTS blobs_released ON blobs(released) WHERE refs <= 0;
CREATE TABLE IF NOT EXISTS objects(
    bucket TEXT NOT NULL, key TEXT NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL,
    mime TEXT NOT NULL, storage_class TEXT NOT NULL, created INTEGER NOT NULL,
    modified INTEGER NOT NULL, manifest TEXT NOT NULL, inline_blob TEXT,
    PRIMARY KEY(bucket, key)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS objects_etag ON objects(etag, size);
CREATE TABLE IF NOT EXISTS uploads(
    id TEXT PRIMARY KEY, bucket TEXT NOT NULL, key TEXT NOT NULL, mime TEXT NOT NULL,
    created INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS uploads_bucket ON uploads(bucket);
CREATE INDEX IF NOT EXISTS uploads_created ON uploads(created);
CREATE TABLE IF NOT EXISTS parts(
    upload_id TEXT NOT NULL, number INTEGER NOT NULL, blob_id TEXT NOT NULL, size INTEGER NOT NULL,
    etag TEXT NOT NULL, sha1 BLOB NOT NULL, PRIMARY KEY(upload_id, number)) WITHOUT ROWID;
"""

CACHE_LIMIT = 10000
_OBJECT_COLUMNS = "bucket, key, size, etag, mime, created, modified, manifest, storage_class"
_OBJECT_COLUMNS_O = ", ".join("o." + column.strip() for column in _OBJECT_COLUMNS.split(","))
_BUCKET_COLUMNS = "name, id, account_id, project_id, type, region, created, modified"

Job = tuple[Callable[[sqlite3.Connection], Any], "asyncio.Future[Any] | None", "queue.Queue[Any] | None"]


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
    conn.execute("PRAGMA busy_timeout = 30000")
    conn.execute("PRAGMA synchronous = FULL")
    return conn


def _object(row: tuple[Any, ...]) -> ObjectRecord:
    return ObjectRecord(
        bucket=row[0],
        key=row[1],
        size=row[2],
        etag=row[3],
        mime=row[4],
        created=row[5],
        modified=row[6],
        manifest=decode_manifest(row[7]),
        storage_class=row[8],
    )


def _account(row: tuple[Any, ...]) -> Account:
    return Account(row[0], row[1], row[2], row[3], bool(row[4]), row[5])


def _insert_inline(conn: sqlite3.Connection, inline: dict[str, bytes] | None) -> None:
    if inline:
        conn.executemany(
            "INSERT INTO blobs(id, size, refs, data) VALUES(?, ?, 0, ?)",
            [(blob_id, len(data), data) for blob_id, data in inline.items()],
        )


def _retain(conn: sqlite3.Connection, refs: list[BlobRef]) -> None:
    conn.executemany(
        "INSERT INTO blobs(id, size, refs) VALUES(?, ?, 1)"
        " ON CONFLICT(id) DO UPDATE SET refs = refs + 1, released = NULL",
        [(ref.blob_id, ref.size) for ref in refs],
    )


def _release(conn: sqlite3.Connection, refs: list[BlobRef]) -> None:
    now = time.time()
    conn.executemany(
        "UPDATE blobs SET refs = refs - 1, released = CASE WHEN refs - 1 <= 0 THEN ? ELSE NULL END WHERE id = ?",
        [(now, ref.blob_id) for ref in refs],
    )


def _current(conn: sqlite3.Connection, bucket: str, key: str) -> ObjectRecord | None:
    row = conn.execute(f"SELECT {_OBJECT_COLUMNS} FROM objects WHERE bucket = ? AND key = ?", (bucket, key)).fetchone()
    return _object(row) if row else None


def _require_bucket(conn: sqlite3.Connection, bucket: str) -> None:
    if conn.execute("SELECT 1 FROM buckets WHERE name = ?", (bucket,)).fetchone() is None:
        raise BucketNotFound(f"bucket not exist: {bucket!r}")


def _store_object(conn: sqlite3.Connection, record: ObjectRecord) -> None:
    """Writes ``record`` over whatever the key held, releasing the old object's blobs."""
    _require_bucket(conn, record.bucket)
    old = _current(conn, record.bucket, record.key)
    single = record.manifest[0].blob_id if len(record.manifest) == 1 else ""
    conn.execute(
        f"INSERT OR REPLACE INTO objects({_OBJECT_COLUMNS}, inline_blob) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            record.bucket,
            record.key,
            record.size,
            record.etag,
            record.mime,
            record.created,
            record.modified,
            encode_manifest(record.manifest),
            record.storage_class,
            single if is_inline(single) else None,
        ),
    )
    if old is not None:
        _release(conn, old.manifest)


class SqliteMetaStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        setup = _connect(path)
        setup.execute("PRAGMA journal_mode = WAL")
        setup.executescript(SCHEMA)
        setup.close()
        self._local = threading.local()
        self._generation = Generation(path.with_suffix(".generation"))
        self._cache_generation = -1
        self._buckets: dict[str, Bucket] = {}
        self._accounts: dict[str, Account] = {}
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._writer = threading.Thread(target=self._write_loop, name="holdall-meta-writer", daemon=True)
        self._writer.start()

    # ----------------------------------------------------------------- plumbing

    @property
    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = _connect(self.path)
            conn.execute("PRAGMA mmap_size = 268435456")  # pages are read from the page cache, not read()
            self._local.conn = conn
        return conn

    def _write_loop(self) -> None:
        conn = _connect(self.path)
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
                    outcomes.append((False, exc))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            outcomes = [(False, exc)] * len(batch)
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

    def _cache_valid(self) -> None:
        current = self._generation.value()
        if current != self._cache_generation or len(self._buckets) + len(self._accounts) > CACHE_LIMIT:
            self._buckets = {}
            self._accounts = {}
            self._cache_generation = current

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

    # ----------------------------------------------------------------- accounts

    def account_by_public_key(self, public_key: str) -> Account | None:
        self._cache_valid()
        account = self._accounts.get(public_key)
        if account is None:
            row = self._reader.execute(
                "SELECT id, name, public_key, private_key, disabled, created FROM accounts WHERE public_key = ?",
                (public_key,),
            ).fetchone()
            if row is None:
                return None
            account = self._accounts[public_key] = _account(row)
        return account

    def account_by_name(self, name: str) -> Account | None:
        row = self._reader.execute(
            "SELECT id, name, public_key, private_key, disabled, created FROM accounts WHERE name = ?", (name,)
        ).fetchone()
        return _account(row) if row else None

    def _insert_account(self, conn: sqlite3.Connection, account: Account) -> None:
        conn.execute(
            "INSERT INTO accounts(id, name, public_key, private_key, disabled, created) VALUES(?, ?, ?, ?, ?, ?)",
            (account.id, account.name, account.public_key, account.private_key, int(account.disabled), account.created),
        )

    async def create_account(self, account: Account) -> None:
        await self._write_config(lambda conn: self._insert_account(conn, account))

    def create_account_sync(self, account: Account) -> None:
        self._write_config_sync(lambda conn: self._insert_account(conn, account))

    def accounts(self) -> list[Account]:
        return [
            _account(row)
            for row in self._reader.execute(
                "SELECT id, name, public_key, private_key, disabled, created FROM accounts ORDER BY created, name"
            )
        ]

    def set_account_disabled_sync(self, name: str, disabled: bool) -> bool:
        def update(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute("UPDATE accounts SET disabled = ? WHERE name = ?", (int(disabled), name))
            return cursor.rowcount > 0

        return self._write_config_sync(update)

    def set_account_keys_sync(self, name: str, public_key: str, private_key: str) -> None:
        self._write_config_sync(
            lambda conn: conn.execute(
                "UPDATE accounts SET public_key = ?, private_key = ? WHERE name = ?", (public_key, private_key, name)
            )
        )

    # ----------------------------------------------------------------- buckets

    def bucket(self, name: str) -> Bucket | None:
        self._cache_valid()
        bucket = self._buckets.get(name)
        if bucket is None:
            row = self._reader.execute(f"SELECT {_BUCKET_COLUMNS} FROM buckets WHERE name = ?", (name,)).fetchone()
            if row is None:
                return None
            bucket = self._buckets[name] = Bucket(*row)
        return bucket

    def buckets(self, account_id: str, project_id: str | None, offset: int, limit: int) -> list[Bucket]:
        sql = f"SELECT {_BUCKET_COLUMNS} FROM buckets WHERE account_id = ?"
        args: list[Any] = [account_id]
        if project_id is not None:
            sql += " AND project_id = ?"
            args.append(project_id)
        sql += " ORDER BY created, name LIMIT ? OFFSET ?"
        args += [limit, offset]
        return [Bucket(*row) for row in self._reader.execute(sql, args)]

    async def create_bucket(self, bucket: Bucket) -> None:
        def insert(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(
                    f"INSERT INTO buckets({_BUCKET_COLUMNS}) VALUES(?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        bucket.name,
                        bucket.id,
                        bucket.account_id,
                        bucket.project_id,
                        bucket.type,
                        bucket.region,
                        bucket.created,
                        bucket.modified,
                    ),
                )
            except sqlite3.IntegrityError:
                raise ApiError(15000, f"bucket {bucket.name!r} already exists") from None

        await self._write_config(insert)

    async def update_bucket_type(self, name: str, type_: str, modified: int) -> None:
        await self._write_config(
            lambda conn: conn.execute(
                "UPDATE buckets SET type = ?, modified = ? WHERE name = ?", (type_, modified, name)
            )
        )

    async def delete_bucket(self, name: str) -> None:
        def delete(conn: sqlite3.Connection) -> None:
            if conn.execute("SELECT 1 FROM objects WHERE bucket = ? LIMIT 1", (name,)).fetchone():
                raise ApiError(15023, f"bucket {name!r} still holds objects")
            if conn.execute("SELECT 1 FROM uploads WHERE bucket = ? LIMIT 1", (name,)).fetchone():
                raise ApiError(15023, f"bucket {name!r} has unfinished multipart uploads")
            conn.execute("DELETE FROM buckets WHERE name = ?", (name,))

        await self._write_config(delete)

    # ----------------------------------------------------------------- objects

    def object(self, bucket: str, key: str) -> ObjectRecord | None:
        return _current(self._reader, bucket, key)

    def object_for_read(self, bucket: str, key: str) -> tuple[ObjectRecord, bytes | None] | None:
        row = self._reader.execute(
            f"SELECT {_OBJECT_COLUMNS_O}, b.data FROM objects o LEFT JOIN blobs b ON b.id = o.inline_blob"
            " WHERE o.bucket = ? AND o.key = ?",
            (bucket, key),
        ).fetchone()
        return (_object(row), row[9]) if row else None

    def objects(self, bucket: str, prefix: str, after: str, limit: int, at_least: str = "") -> list[ObjectRecord]:
        sql = f"SELECT {_OBJECT_COLUMNS} FROM objects WHERE bucket = ? AND key > ? AND key >= ?"
        args: list[Any] = [bucket, after, max(prefix, at_least)]
        upper = prefix_upper_bound(prefix)
        if upper is not None:
            sql += " AND key < ?"
            args.append(upper)
        sql += " ORDER BY key LIMIT ?"
        args.append(limit)
        return [_object(row) for row in self._reader.execute(sql, args)]

    def object_by_etag(self, account_id: str, etags: list[str], size: int) -> ObjectRecord | None:
        marks = ", ".join("?" for _ in etags)
        row = self._reader.execute(
            f"SELECT {_OBJECT_COLUMNS_O}"
            f" FROM objects o JOIN buckets b ON b.name = o.bucket"
            f" WHERE o.etag IN ({marks}) AND o.size = ? AND b.account_id = ? LIMIT 1",
            [*etags, size, account_id],
        ).fetchone()
        return _object(row) if row else None

    async def put_object(
        self, record: ObjectRecord, *, if_absent: bool = False, inline: dict[str, bytes] | None = None
    ) -> None:
        def put(conn: sqlite3.Connection) -> None:
            if if_absent and _current(conn, record.bucket, record.key) is not None:
                raise Conflict(f"key {record.key!r} already exists")
            _insert_inline(conn, inline)
            _retain(conn, record.manifest)
            _store_object(conn, record)

        await self._write(put)

    async def delete_object(self, bucket: str, key: str) -> bool:
        def delete(conn: sqlite3.Connection) -> bool:
            old = _current(conn, bucket, key)
            if old is None:
                return False
            conn.execute("DELETE FROM objects WHERE bucket = ? AND key = ?", (bucket, key))
            _release(conn, old.manifest)
            return True

        return await self._write(delete)

    async def rename_object(self, bucket: str, key: str, new_key: str, force: bool, now: int) -> None:
        def rename(conn: sqlite3.Connection) -> None:
            source = _current(conn, bucket, key)
            if source is None:
                raise _missing(key)
            if new_key == key:
                return
            if not force and _current(conn, bucket, new_key) is not None:
                raise RenameConflict(f"{new_key!r} already exists; pass force=true to replace it")
            conn.execute("DELETE FROM objects WHERE bucket = ? AND key = ?", (bucket, key))
            source.key = new_key
            source.modified = now
            _store_object(conn, source)

        await self._write(rename)

    async def update_object(
        self, bucket: str, key: str, *, mime: str | None = None, storage_class: str | None = None
    ) -> None:
        def update(conn: sqlite3.Connection) -> None:
            cursor = conn.execute(
                "UPDATE objects SET mime = coalesce(?, mime), storage_class = coalesce(?, storage_class)"
                " WHERE bucket = ? AND key = ?",
                (mime, storage_class, bucket, key),
            )
            if cursor.rowcount == 0:
                raise _missing(key)

        await self._write(update)

    # ----------------------------------------------------------------- multipart uploads

    def upload(self, upload_id: str) -> Upload | None:
        row = self._reader.execute(
            "SELECT id, bucket, key, mime, created FROM uploads WHERE id = ?", (upload_id,)
        ).fetchone()
        return Upload(*row) if row else None

    def parts(self, upload_id: str, after: int, limit: int) -> list[Part]:
        return [
            Part(upload_id, row[0], BlobRef(row[1], row[2]), row[3], row[4])
            for row in self._reader.execute(
                "SELECT number, blob_id, size, etag, sha1 FROM parts WHERE upload_id = ? AND number > ?"
                " ORDER BY number LIMIT ?",
                (upload_id, after, limit),
            )
        ]

    async def create_upload(self, upload: Upload) -> None:
        def create(conn: sqlite3.Connection) -> None:
            _require_bucket(conn, upload.bucket)
            conn.execute(
                "INSERT INTO uploads(id, bucket, key, mime, created) VALUES(?, ?, ?, ?, ?)",
                (upload.id, upload.bucket, upload.key, upload.mime, upload.created),
            )

        await self._write(create)

    async def put_part(self, part: Part, mime: str | None = None, *, inline: dict[str, bytes] | None = None) -> None:
        def put(conn: sqlite3.Connection) -> None:
            if not conn.execute("SELECT 1 FROM uploads WHERE id = ?", (part.upload_id,)).fetchone():
                raise UploadNotFound()
            if mime:
                conn.execute("UPDATE uploads SET mime = ? WHERE id = ?", (mime, part.upload_id))
            old = conn.execute(
                "SELECT blob_id, size FROM parts WHERE upload_id = ? AND number = ?", (part.upload_id, part.number)
            ).fetchone()
            _insert_inline(conn, inline)
            _retain(conn, [part.blob])
            conn.execute(
                "INSERT OR REPLACE INTO parts(upload_id, number, blob_id, size, etag, sha1) VALUES(?, ?, ?, ?, ?, ?)",
                (part.upload_id, part.number, part.blob.blob_id, part.blob.size, part.etag, part.sha1),
            )
            if old is not None:
                _release(conn, [BlobRef(old[0], old[1])])

        await self._write(put)

    async def finish_upload(self, upload_id: str, new_key: str | None, build: FinishBuilder) -> ObjectRecord:
        def finish(conn: sqlite3.Connection) -> ObjectRecord:
            row = conn.execute(
                "SELECT id, bucket, key, mime, created FROM uploads WHERE id = ?", (upload_id,)
            ).fetchone()
            if row is None:
                raise UploadNotFound()
            upload = Upload(*row)
            parts = [
                Part(upload_id, r[0], BlobRef(r[1], r[2]), r[3], r[4])
                for r in conn.execute(
                    "SELECT number, blob_id, size, etag, sha1 FROM parts WHERE upload_id = ? ORDER BY number",
                    (upload_id,),
                )
            ]
            key = upload.key
            if new_key and _current(conn, upload.bucket, key) is not None:
                key = new_key
            record = build(upload, parts, key)
            _store_object(conn, record)  # the parts' references pass to the object
            conn.execute("DELETE FROM parts WHERE upload_id = ?", (upload_id,))
            conn.execute("DELETE FROM uploads WHERE id = ?", (upload_id,))
            return record

        return await self._write(finish)

    async def abort_upload(self, upload_id: str) -> None:
        def abort(conn: sqlite3.Connection) -> None:
            if not conn.execute("SELECT 1 FROM uploads WHERE id = ?", (upload_id,)).fetchone():
                raise UploadNotFound()
            refs = [
                BlobRef(r[0], r[1])
                for r in conn.execute("SELECT blob_id, size FROM parts WHERE upload_id = ?", (upload_id,))
            ]
            _release(conn, refs)
            conn.execute("DELETE FROM parts WHERE upload_id = ?", (upload_id,))
            conn.execute("DELETE FROM uploads WHERE id = ?", (upload_id,))

        await self._write(abort)

    def uploads_created_before(self, before: int, limit: int) -> list[str]:
        return [
            row[0]
            for row in self._reader.execute(
                "SELECT id FROM uploads WHERE created < ? ORDER BY created LIMIT ?", (before, limit)
            )
        ]

    # ----------------------------------------------------------------- blob garbage

    def released_blobs(self, before: float, limit: int) -> list[str]:
        return [
            row[0]
            for row in self._reader.execute(
                "SELECT id FROM blobs WHERE refs <= 0 AND released < ? LIMIT ?", (before, limit)
            )
        ]

    def inline_data(self, blob_id: str) -> bytes | None:
        row = self._reader.execute("SELECT data FROM blobs WHERE id = ?", (blob_id,)).fetchone()
        return row[0] if row else None

    def blob_known(self, blob_id: str) -> bool:
        return self._reader.execute("SELECT 1 FROM blobs WHERE id = ?", (blob_id,)).fetchone() is not None

    async def forget_blobs(self, blob_ids: list[str]) -> list[str]:
        """Drops the rows of blobs still unreferenced; returns the ids whose files may go."""

        def forget(conn: sqlite3.Connection) -> list[str]:
            gone = []
            for blob_id in blob_ids:
                cursor = conn.execute("DELETE FROM blobs WHERE id = ? AND refs <= 0", (blob_id,))
                if cursor.rowcount:
                    gone.append(blob_id)
            return gone

        return await self._write(forget)

    async def release_blobs(self, refs: list[BlobRef]) -> None:
        await self._write(lambda conn: _release(conn, refs))


def _resolve(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.cancelled():
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


def _missing(key: str) -> HoldallError:
    return FileNotFound(f"file not exist: {key!r}")

"""The metadata store in SQL, for every SQL backend: accounts, buckets, objects and multipart uploads.

Every bucket keeps the bytes and the number of objects it holds, changed in the same transaction
as the objects themselves, so that a bucket's caps hold however many writers race for them.
"""

from __future__ import annotations

from typing import Any

from holdall.errors import (
    Conflict,
    NameTaken,
    NotEmpty,
    RenameConflict,
    UploadNotFound,
)
from holdall.store.meta import sql_rows as rows
from holdall.store.meta.base import (
    Account,
    BlobRef,
    Bucket,
    BucketUsage,
    FinishBuilder,
    Listing,
    ObjectRecord,
    Part,
    Token,
    Upload,
    encode_attrs,
    prefix_upper_bound,
)
from holdall.store.meta.sql_ledger import SqlLedger
from holdall.store.meta.sql_plumbing import Conn


class SqlMetaStore(SqlLedger):
    def __init__(self) -> None:
        super().__init__()
        self._buckets: dict[str, Bucket] = self.new_cache()
        self._accounts: dict[str, Account] = self.new_cache()
        self._accounts_by_id: dict[str, Account] = self.new_cache()

    async def probe(self) -> None:
        await self._one("SELECT 1")

    # ----------------------------------------------------------------- accounts

    async def _load_account(self, cache: dict[str, Account], column: str, value: str) -> Account | None:
        generation = self.generation()
        row = await self._one(f"SELECT {rows.ACCOUNT_COLUMNS} FROM accounts WHERE {column} = ?", (value,))
        if row is None:
            return None
        account = rows.account_record(row)
        if self.generation() == generation:  # no change was announced while the row was on its way
            cache[value] = account
        return account

    async def account_by_public_key(self, public_key: str) -> Account | None:
        self._cache_valid()
        return self._accounts.get(public_key) or await self._load_account(self._accounts, "public_key", public_key)

    async def account_by_id(self, account_id: str) -> Account | None:
        self._cache_valid()
        return self._accounts_by_id.get(account_id) or await self._load_account(self._accounts_by_id, "id", account_id)

    async def account_by_name(self, name: str) -> Account | None:
        row = await self._one(f"SELECT {rows.ACCOUNT_COLUMNS} FROM accounts WHERE name = ?", (name,))
        return rows.account_record(row) if row else None

    async def credential(self, public_key: str) -> tuple[Account, Token | None] | None:
        """The account a public key signs for, and the token when it is a token's key."""
        self._cache_valid()
        account = self._accounts.get(public_key) or await self._load_account(self._accounts, "public_key", public_key)
        if account is not None:
            return account, None
        token = await self.token_by_public_key(public_key)
        if token is None:
            return None
        account = await self.account_by_id(token.account_id)
        return (account, token) if account is not None else None

    def _insert_account(self, conn: Conn, account: Account) -> None:
        conn.execute(
            "INSERT INTO accounts(id, name, public_key, private_key, disabled, created) VALUES(?, ?, ?, ?, ?, ?)",
            (account.id, account.name, account.public_key, account.private_key, int(account.disabled), account.created),
        )

    async def create_account(self, account: Account) -> None:
        await self._write_config(lambda conn: self._insert_account(conn, account))

    def create_account_sync(self, account: Account) -> None:
        self._write_config_sync(lambda conn: self._insert_account(conn, account))

    async def accounts(self) -> list[Account]:
        return [
            rows.account_record(row)
            for row in await self._all(f"SELECT {rows.ACCOUNT_COLUMNS} FROM accounts ORDER BY created, name")
        ]

    def set_account_disabled_sync(self, name: str, disabled: bool) -> bool:
        def update(conn: Conn) -> bool:
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

    async def bucket(self, name: str) -> Bucket | None:
        self._cache_valid()
        bucket = self._buckets.get(name)
        if bucket is None:
            generation = self.generation()
            row = await self._one(f"SELECT {rows.BUCKET_COLUMNS} FROM buckets WHERE name = ?", (name,))
            if row is None:
                return None
            bucket = Bucket(*row)
            if self.generation() == generation:  # no change was announced while the row was on its way
                self._buckets[name] = bucket
        return bucket

    async def buckets(self, account_id: str, project_id: str | None, offset: int, limit: int) -> list[Bucket]:
        sql = f"SELECT {rows.BUCKET_COLUMNS} FROM buckets WHERE account_id = ?"
        args: list[Any] = [account_id]
        if project_id is not None:
            sql += " AND project_id = ?"
            args.append(project_id)
        sql += " ORDER BY created, name LIMIT ? OFFSET ?"
        args += [limit, offset]
        return [Bucket(*row) for row in await self._all(sql, args)]

    def _insert_bucket(self, conn: Conn, bucket: Bucket) -> None:
        try:
            conn.execute(
                f"INSERT INTO buckets({rows.BUCKET_COLUMNS}) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    bucket.name,
                    bucket.id,
                    bucket.account_id,
                    bucket.project_id,
                    bucket.type,
                    bucket.region,
                    bucket.created,
                    bucket.modified,
                    bucket.max_bytes,
                    bucket.max_objects,
                    bucket.cors,
                ),
            )
        except self.UNIQUE_VIOLATION:
            raise NameTaken(f"bucket {bucket.name!r} already exists") from None

    async def create_bucket(self, bucket: Bucket) -> None:
        await self._write_config(lambda conn: self._insert_bucket(conn, bucket))

    def create_bucket_sync(self, bucket: Bucket) -> None:
        self._write_config_sync(lambda conn: self._insert_bucket(conn, bucket))

    async def update_bucket_type(self, name: str, type_: str, modified: int) -> None:
        await self._write_config(
            lambda conn: conn.execute(
                "UPDATE buckets SET type = ?, modified = ? WHERE name = ?", (type_, modified, name)
            )
        )

    async def bucket_usage(self, name: str) -> BucketUsage:
        row = await self._one(rows.USAGE, (name,))
        return BucketUsage(int(row[0]), int(row[1])) if row else BucketUsage(0, 0)

    def _set_caps(self, conn: Conn, name: str, max_bytes: int, max_objects: int) -> None:
        # writes that read the old caps hold the bucket's scope shared: they finish first, the next see these
        self._serialize(conn, f"bucket:{name}")
        conn.execute("UPDATE buckets SET max_bytes = ?, max_objects = ? WHERE name = ?", (max_bytes, max_objects, name))

    async def set_bucket_caps(self, name: str, max_bytes: int, max_objects: int) -> None:
        await self._write_config(lambda conn: self._set_caps(conn, name, max_bytes, max_objects))

    def set_bucket_caps_sync(self, name: str, max_bytes: int, max_objects: int) -> None:
        self._write_config_sync(lambda conn: self._set_caps(conn, name, max_bytes, max_objects))

    def _set_cors(self, conn: Conn, name: str, rules: str) -> None:
        conn.execute("UPDATE buckets SET cors = ? WHERE name = ?", (rules, name))

    async def set_bucket_cors(self, name: str, rules: str) -> None:
        await self._write_config(lambda conn: self._set_cors(conn, name, rules))

    def set_bucket_cors_sync(self, name: str, rules: str) -> None:
        self._write_config_sync(lambda conn: self._set_cors(conn, name, rules))

    async def delete_bucket(self, name: str) -> None:
        def delete(conn: Conn) -> None:
            # No write into it slips between the check and the delete: every writer holds the bucket's
            # scope, shared or alone, until it commits.
            self._serialize(conn, f"bucket:{name}")
            if conn.execute("SELECT 1 FROM objects WHERE bucket = ? LIMIT 1", (name,)).fetchone():
                raise NotEmpty(f"bucket {name!r} still holds objects")
            if conn.execute("SELECT 1 FROM uploads WHERE bucket = ? LIMIT 1", (name,)).fetchone():
                raise NotEmpty(f"bucket {name!r} has unfinished multipart uploads")
            conn.execute("DELETE FROM buckets WHERE name = ?", (name,))
            conn.execute("DELETE FROM bucket_usage WHERE bucket = ?", (name,))

        await self._write_config(delete)

    # ----------------------------------------------------------------- objects

    async def object(self, bucket: str, key: str) -> ObjectRecord | None:
        row = await self._one(f"SELECT {rows.OBJECT_COLUMNS} FROM objects WHERE bucket = ? AND key = ?", (bucket, key))
        return rows.object_record(row) if row else None

    async def object_for_read(self, bucket: str, key: str) -> tuple[ObjectRecord, bytes | None] | None:
        row = await self._one(rows.OBJECT_FOR_READ, (bucket, key))
        return (rows.object_record(row), row[rows.INLINE_DATA]) if row else None

    async def objects(self, bucket: str, prefix: str, after: str, limit: int, at_least: str = "") -> list[ObjectRecord]:
        sql, args = rows.objects_query(bucket, prefix, after, limit, at_least)
        return [rows.object_record(row) for row in await self._all(sql, args)]

    async def list_delimited(self, bucket: str, prefix: str, marker: str, limit: int, delimiter: str) -> Listing:
        return await self._read_with(lambda conn: rows.walk_delimited(conn, bucket, prefix, marker, limit, delimiter))

    async def object_by_etag(self, account_id: str, etags: list[str], size: int) -> ObjectRecord | None:
        marks = ", ".join("?" for _ in etags)
        row = await self._one(
            f"SELECT {rows.OBJECT_COLUMNS_O}"
            f" FROM objects o JOIN buckets b ON b.name = o.bucket"
            f" WHERE o.etag IN ({marks}) AND o.size = ? AND b.account_id = ? LIMIT 1",
            [*etags, size, account_id],
        )
        return rows.object_record(row) if row else None

    async def put_object(
        self,
        record: ObjectRecord,
        *,
        bucket_id: str,
        now: float,
        if_absent: bool = False,
        inline: dict[str, bytes] | None = None,
    ) -> None:
        known = await self.bucket(record.bucket)
        capped = known is not None and bool(known.max_bytes or known.max_objects)

        def put(conn: Conn) -> None:
            # A cap must see every earlier write to the bucket: writers to a capped bucket run alone.
            # The key's scope keeps the old row read below current until this commits.
            scope = f"bucket:{record.bucket}"
            keys = self.key_scopes(record.bucket, record.key)
            if capped:
                self._serialize(conn, scope, *keys)
            else:
                self._serialize(conn, *keys, shared=scope)
            caps = rows.require_bucket(conn, record.bucket, bucket_id)
            if any(caps) and not capped:  # capped since this process read the bucket; a deadlock is retried
                self._serialize(conn, scope)
            if if_absent and rows.current(conn, record.bucket, record.key) is not None:
                raise Conflict(f"key {record.key!r} already exists")
            rows.retain(conn, record.manifest, inline)
            rows.store_object(conn, record, now, bucket_id, caps)

        await self._write(put)

    async def delete_object(self, bucket: str, key: str, *, now: float) -> bool:
        def delete(conn: Conn) -> bool:
            self._serialize(conn, *self.key_scopes(bucket, key))
            old = rows.current(conn, bucket, key)
            if old is None:
                return False
            conn.execute("DELETE FROM objects WHERE bucket = ? AND key = ?", (bucket, key))
            rows.adjust_bucket(conn, bucket, -old.size, -1)
            rows.release(conn, old.manifest, now)
            return True

        return await self._write(delete)

    async def rename_object(self, bucket: str, key: str, new_key: str, force: bool, now: int) -> None:
        def rename(conn: Conn) -> None:
            self._serialize(conn, *self.key_scopes(bucket, key, new_key))
            source = rows.current(conn, bucket, key)
            if source is None:
                raise rows.missing_object(key)
            if new_key == key:
                return
            if not force and rows.current(conn, bucket, new_key) is not None:
                raise RenameConflict(f"{new_key!r} already exists; pass force=true to replace it")
            conn.execute("DELETE FROM objects WHERE bucket = ? AND key = ?", (bucket, key))
            rows.adjust_bucket(conn, bucket, -source.size, -1)
            source.key = new_key
            source.modified = now
            rows.store_object(conn, source, now)

        await self._write(rename)

    async def update_object(
        self, bucket: str, key: str, *, mime: str | None = None, storage_class: str | None = None
    ) -> None:
        def update(conn: Conn) -> None:
            cursor = conn.execute(
                "UPDATE objects SET mime = coalesce(?, mime), storage_class = coalesce(?, storage_class)"
                " WHERE bucket = ? AND key = ?",
                (mime, storage_class, bucket, key),
            )
            if cursor.rowcount == 0:
                raise rows.missing_object(key)

        await self._write(update)

    # ----------------------------------------------------------------- multipart uploads

    async def upload(self, upload_id: str) -> Upload | None:
        row = await self._one(f"SELECT {rows.UPLOAD_COLUMNS} FROM uploads WHERE id = ?", (upload_id,))
        return rows.upload_record(row) if row else None

    async def parts(self, upload_id: str, after: int, limit: int) -> list[Part]:
        return [
            Part(upload_id, row[0], BlobRef(row[1], row[2]), row[3], row[4], row[5])
            for row in await self._all(
                "SELECT number, blob_id, size, etag, sha1, md5 FROM parts WHERE upload_id = ? AND number > ?"
                " ORDER BY number LIMIT ?",
                (upload_id, after, limit),
            )
        ]

    async def create_upload(self, upload: Upload) -> None:
        def create(conn: Conn) -> None:
            self._serialize(conn, shared=f"bucket:{upload.bucket}")  # a bucket delete waits for it
            rows.require_bucket(conn, upload.bucket)
            conn.execute(
                f"INSERT INTO uploads({rows.UPLOAD_COLUMNS}) VALUES(?, ?, ?, ?, ?, ?)",
                (upload.id, upload.bucket, upload.key, upload.mime, upload.created, encode_attrs(upload.user_meta)),
            )

        await self._write(create)

    async def put_part(
        self, part: Part, mime: str | None = None, *, now: float, inline: dict[str, bytes] | None = None
    ) -> None:
        def put(conn: Conn) -> None:
            upload = self._locked_upload(conn, part.upload_id)
            if mime:
                conn.execute("UPDATE uploads SET mime = ? WHERE id = ?", (mime, part.upload_id))
            old = conn.execute(
                "SELECT blob_id, size FROM parts WHERE upload_id = ? AND number = ?", (part.upload_id, part.number)
            ).fetchone()
            rows.retain(conn, [part.blob], inline)
            conn.execute(
                "INSERT INTO parts(upload_id, number, blob_id, size, etag, sha1, md5) VALUES(?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(upload_id, number) DO UPDATE SET blob_id = excluded.blob_id, size = excluded.size,"
                " etag = excluded.etag, sha1 = excluded.sha1, md5 = excluded.md5",
                (part.upload_id, part.number, part.blob.blob_id, part.blob.size, part.etag, part.sha1, part.md5),
            )
            rows.adjust_bucket(conn, upload[0], part.blob.size - (old[1] if old else 0), 0)
            if old is not None:
                rows.release(conn, [BlobRef(old[0], old[1])], now)

        await self._write(put)

    async def finish_upload(
        self, upload_id: str, new_key: str | None, build: FinishBuilder, *, now: float, if_absent: bool = False
    ) -> ObjectRecord:
        def finish(conn: Conn) -> ObjectRecord:
            self._locked_upload(conn, upload_id)  # of racing finishes, the first wins; the rest find none
            row = conn.execute(f"SELECT {rows.UPLOAD_COLUMNS} FROM uploads WHERE id = ?", (upload_id,)).fetchone()
            if row is None:
                raise UploadNotFound()
            upload = rows.upload_record(row)
            parts = [
                Part(upload_id, r[0], BlobRef(r[1], r[2]), r[3], r[4], r[5])
                for r in conn.execute(
                    "SELECT number, blob_id, size, etag, sha1, md5 FROM parts WHERE upload_id = ? ORDER BY number",
                    (upload_id,),
                )
            ]
            self._serialize(conn, *self.key_scopes(upload.bucket, upload.key, *([new_key] if new_key else [])))
            key = upload.key
            if new_key and rows.current(conn, upload.bucket, key) is not None:
                key = new_key
            record = build(upload, parts, key)
            if if_absent and rows.current(conn, upload.bucket, key) is not None:
                raise Conflict(f"key {key!r} already exists")
            conn.execute("DELETE FROM parts WHERE upload_id = ?", (upload_id,))
            conn.execute("DELETE FROM uploads WHERE id = ?", (upload_id,))
            rows.adjust_bucket(conn, upload.bucket, -sum(part.blob.size for part in parts), 0)
            rows.store_object(conn, record, now)  # the parts' references pass to the object
            named = {ref.blob_id for ref in record.manifest}
            rows.release(conn, [part.blob for part in parts if part.blob.blob_id not in named], now)
            return record

        return await self._write(finish)

    def _locked_upload(self, conn: Conn, upload_id: str) -> tuple[str]:
        """The upload's bucket, with the bucket's writes serialized; UploadNotFound when it is gone."""
        row = conn.execute("SELECT bucket FROM uploads WHERE id = ?", (upload_id,)).fetchone()
        if row is None:
            raise UploadNotFound()
        self._serialize(conn, f"bucket:{row[0]}")
        row = conn.execute("SELECT bucket FROM uploads WHERE id = ?", (upload_id,)).fetchone()
        if row is None:
            raise UploadNotFound()
        return (str(row[0]),)

    async def abort_upload(self, upload_id: str, *, now: float) -> None:
        def abort(conn: Conn) -> None:
            upload = self._locked_upload(conn, upload_id)
            refs = [
                BlobRef(r[0], r[1])
                for r in conn.execute("SELECT blob_id, size FROM parts WHERE upload_id = ?", (upload_id,))
            ]
            rows.release(conn, refs, now)
            rows.adjust_bucket(conn, upload[0], -sum(ref.size for ref in refs), 0)
            conn.execute("DELETE FROM parts WHERE upload_id = ?", (upload_id,))
            conn.execute("DELETE FROM uploads WHERE id = ?", (upload_id,))

        await self._write(abort)

    async def uploads_in(self, bucket: str, prefix: str, after: tuple[str, str], limit: int) -> list[Upload]:
        sql = f"SELECT {rows.UPLOAD_COLUMNS} FROM uploads WHERE bucket = ? AND key >= ?"
        args: list[object] = [bucket, prefix]
        upper = prefix_upper_bound(prefix)
        if upper is not None:
            sql += " AND key < ?"
            args.append(upper)
        sql += " AND (key > ? OR (key = ? AND id > ?)) ORDER BY key, id LIMIT ?"
        found = await self._all(sql, [*args, after[0], after[0], after[1], limit])
        return [rows.upload_record(row) for row in found]

    async def uploads_created_before(self, before: int, limit: int) -> list[str]:
        return [
            row[0]
            for row in await self._all(
                "SELECT id FROM uploads WHERE created < ? ORDER BY created LIMIT ?", (before, limit)
            )
        ]

    # ----------------------------------------------------------------- blob garbage

    async def released_blobs(self, before: float, limit: int) -> list[str]:
        return [
            row[0]
            for row in await self._all("SELECT id FROM blobs WHERE refs <= 0 AND released < ? LIMIT ?", (before, limit))
        ]

    async def inline_data(self, blob_id: str) -> bytes | None:
        row = await self._one("SELECT data FROM blobs WHERE id = ?", (blob_id,))
        return row[0] if row else None

    async def blob_known(self, blob_id: str) -> bool:
        return await self._one("SELECT 1 FROM blobs WHERE id = ?", (blob_id,)) is not None

    async def note_pending_blob(self, blob_id: str, now: float) -> None:
        await self._write(
            lambda conn: conn.execute("INSERT INTO pending_blobs(id, created) VALUES(?, ?)", (blob_id, now))
        )

    async def stale_pending_blobs(self, before: float, limit: int) -> list[str]:
        found = await self._all(
            "SELECT id FROM pending_blobs WHERE created < ? ORDER BY created LIMIT ?", (before, limit)
        )
        return [row[0] for row in found]

    async def forget_pending_blobs(self, blob_ids: list[str]) -> list[str]:
        def forget(conn: Conn) -> list[str]:
            unnamed = []
            for blob_id in blob_ids:
                conn.execute("DELETE FROM pending_blobs WHERE id = ?", (blob_id,))
                if conn.execute("SELECT 1 FROM blobs WHERE id = ?", (blob_id,)).fetchone() is None:
                    unnamed.append(blob_id)
            return unnamed

        return await self._write(forget)

    async def forget_blobs(self, blob_ids: list[str]) -> list[str]:
        """Drops the rows of blobs still unreferenced; returns the ids whose files may go."""

        def forget(conn: Conn) -> list[str]:
            gone = []
            for blob_id in blob_ids:
                cursor = conn.execute("DELETE FROM blobs WHERE id = ? AND refs <= 0", (blob_id,))
                if cursor.rowcount:
                    gone.append(blob_id)
            return gone

        return await self._write(forget)

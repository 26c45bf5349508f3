"""The statements of the SQL metadata store, over one transaction's connection: decoding rows, blob
references, bucket counters and caps, writing an object over a key, and walking a listing.
Written once with ``?`` placeholders; :mod:`holdall.store.meta.sql` composes them into operations."""

from __future__ import annotations

import random
from typing import Any

from holdall.errors import BucketNotFound, CapExceeded, FileNotFound, HoldallError
from holdall.store.blobs.composite import is_inline
from holdall.store.meta.base import (
    Account,
    BlobRef,
    Listing,
    ObjectRecord,
    Upload,
    decode_attrs,
    decode_manifest,
    encode_attrs,
    encode_manifest,
    prefix_upper_bound,
)
from holdall.store.meta.sql_plumbing import Conn

OBJECT_COLUMNS = "bucket, key, size, etag, mime, created, modified, manifest, storage_class, md5, attrs"
OBJECT_COLUMNS_O = ", ".join("o." + column.strip() for column in OBJECT_COLUMNS.split(","))
BUCKET_COLUMNS = "name, id, account_id, project_id, type, region, created, modified, max_bytes, max_objects, cors"
ACCOUNT_COLUMNS = "id, name, public_key, private_key, disabled, created"
FIRST_FETCH = 8
MAX_FETCH = 1001
USAGE = (
    "SELECT CAST(coalesce(sum(used_bytes), 0) AS BIGINT), CAST(coalesce(sum(object_count), 0) AS BIGINT)"
    " FROM bucket_usage WHERE bucket = ?"
)
INLINE_DATA = 11
"""Where OBJECT_FOR_READ puts an inline blob's bytes."""
OBJECT_FOR_READ = (
    f"SELECT {OBJECT_COLUMNS_O}, b.data FROM objects o LEFT JOIN blobs b ON b.id = o.inline_blob"
    " WHERE o.bucket = ? AND o.key = ?"
)


def object_record(row: tuple[Any, ...]) -> ObjectRecord:
    user_meta, checksums = decode_attrs(row[10])
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
        md5=row[9],
        user_meta=user_meta,
        checksums=checksums,
    )


UPLOAD_COLUMNS = "id, bucket, key, mime, created, attrs"


def upload_record(row: tuple[Any, ...]) -> Upload:
    return Upload(row[0], row[1], row[2], row[3], row[4], decode_attrs(row[5])[0])


def account_record(row: tuple[Any, ...]) -> Account:
    return Account(row[0], row[1], row[2], row[3], bool(row[4]), row[5])


REFERENCE_AGAIN = "UPDATE blobs SET refs = refs + 1, released = NULL WHERE id = ?"


def retain(conn: Conn, refs: list[BlobRef], inline: dict[str, bytes] | None = None) -> None:
    """References each blob once more. An inline blob is new, with its bytes in ``inline``; another
    blob no row names yet must still be announced (its ``pending_blobs`` record is claimed here);
    any other must still have its row, so a copy can never name bytes the sweeper has forgotten and
    is deleting: that raises FileNotFound."""
    fresh = dict(inline or {})
    for ref in refs:
        data = fresh.pop(ref.blob_id, None)
        if data is not None:
            conn.execute("INSERT INTO blobs(id, size, refs, data) VALUES(?, ?, 1, ?)", (ref.blob_id, len(data), data))
        elif conn.execute("DELETE FROM pending_blobs WHERE id = ?", (ref.blob_id,)).rowcount:
            conn.execute(
                "INSERT INTO blobs(id, size, refs) VALUES(?, ?, 1)"
                " ON CONFLICT(id) DO UPDATE SET refs = blobs.refs + 1, released = NULL",
                (ref.blob_id, ref.size),
            )
        elif not conn.execute(REFERENCE_AGAIN, (ref.blob_id,)).rowcount:
            raise FileNotFound(f"the bytes of blob {ref.blob_id} were deleted while the request ran")
    if fresh:
        raise ValueError(f"inline blobs that no reference names: {sorted(fresh)}")


def release(conn: Conn, refs: list[BlobRef], now: float) -> None:
    conn.executemany(
        "UPDATE blobs SET refs = refs - 1, released = CASE WHEN refs - 1 <= 0 THEN ? ELSE NULL END WHERE id = ?",
        [(now, ref.blob_id) for ref in refs],
    )


def current(conn: Conn, bucket: str, key: str) -> ObjectRecord | None:
    row = conn.execute(f"SELECT {OBJECT_COLUMNS} FROM objects WHERE bucket = ? AND key = ?", (bucket, key)).fetchone()
    return object_record(row) if row else None


SHARDS = 16
"""Rows a bucket's counters are spread over; a write that must check a cap counts into shard 0."""


def require_bucket(conn: Conn, bucket: str, bucket_id: str | None = None) -> tuple[int, int]:
    """The bucket's caps (max bytes, max objects), once it is known to exist and, when ``bucket_id`` is
    given, to be still that very bucket."""
    row = conn.execute("SELECT id, max_bytes, max_objects FROM buckets WHERE name = ?", (bucket,)).fetchone()
    if row is None or (bucket_id is not None and row[0] != bucket_id):
        raise BucketNotFound(f"bucket not exist: {bucket!r} (deleted while the request ran)")
    return int(row[1]), int(row[2])


def grows_capped(caps: tuple[int, int], added_bytes: int, added_objects: int) -> bool:
    """Whether a change grows something the bucket caps (then writers to it must run one at a time)."""
    return bool((added_bytes > 0 and caps[0]) or (added_objects > 0 and caps[1]))


def adjust_bucket(
    conn: Conn, bucket: str, added_bytes: int, added_objects: int, caps: tuple[int, int] | None = None
) -> None:
    """Counts bytes and objects into (or out of) ``bucket``; refuses growth beyond its caps (read here
    unless given). A growth that a cap limits runs with the bucket's writers serialized (its caller saw
    to that)."""
    if not added_bytes and not added_objects:
        return
    if caps is None:
        row = conn.execute("SELECT max_bytes, max_objects FROM buckets WHERE name = ?", (bucket,)).fetchone()
        caps = (int(row[0]), int(row[1])) if row else (0, 0)
    capped = grows_capped(caps, added_bytes, added_objects)
    shard = 0 if capped else random.randrange(SHARDS)
    conn.execute(
        "INSERT INTO bucket_usage(bucket, shard, used_bytes, object_count) VALUES(?, ?, ?, ?)"
        " ON CONFLICT(bucket, shard) DO UPDATE SET used_bytes = bucket_usage.used_bytes + excluded.used_bytes,"
        " object_count = bucket_usage.object_count + excluded.object_count",
        (bucket, shard, added_bytes, added_objects),
    )
    if not capped:
        return
    row = conn.execute(USAGE, (bucket,)).fetchone()
    used, count = int(row[0] or 0), int(row[1] or 0)
    max_bytes, max_objects = caps
    if added_bytes > 0 and max_bytes and used > max_bytes:
        raise CapExceeded(
            f"bucket {bucket!r} is capped at {max_bytes} bytes; it holds {used - added_bytes}"
            f" and this write adds {added_bytes}"
        )
    if added_objects > 0 and max_objects and count > max_objects:
        raise CapExceeded(f"bucket {bucket!r} is capped at {max_objects} objects and holds {count - added_objects}")


def store_object(
    conn: Conn, record: ObjectRecord, now: float, bucket_id: str | None = None, caps: tuple[int, int] | None = None
) -> None:
    """Writes ``record`` over whatever the key held, releasing the old object's blobs. ``caps`` given:
    the caller checked the bucket already (and read its caps)."""
    if caps is None:
        caps = require_bucket(conn, record.bucket, bucket_id)
    old = current(conn, record.bucket, record.key)
    if old is None:
        adjust_bucket(conn, record.bucket, record.size, 1, caps)
    else:
        adjust_bucket(conn, record.bucket, record.size - old.size, 0, caps)
    single = record.manifest[0].blob_id if len(record.manifest) == 1 else ""
    conn.execute(
        f"INSERT INTO objects({OBJECT_COLUMNS}, inline_blob) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT(bucket, key) DO UPDATE SET size = excluded.size, etag = excluded.etag, mime = excluded.mime,"
        " created = excluded.created, modified = excluded.modified, manifest = excluded.manifest,"
        " storage_class = excluded.storage_class, md5 = excluded.md5, attrs = excluded.attrs,"
        " inline_blob = excluded.inline_blob",
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
            record.md5,
            encode_attrs(record.user_meta, record.checksums),
            single if is_inline(single) else None,
        ),
    )
    if old is not None:
        release(conn, old.manifest, now)


def objects_query(bucket: str, prefix: str, after: str, limit: int, at_least: str) -> tuple[str, list[Any]]:
    low = max(prefix, at_least)
    # one lower bound, so that the planner seeks to it (given two, SQLite may range over the looser one)
    if after >= low:
        sql = f"SELECT {OBJECT_COLUMNS} FROM objects WHERE bucket = ? AND key > ?"
        args: list[Any] = [bucket, after]
    else:
        sql = f"SELECT {OBJECT_COLUMNS} FROM objects WHERE bucket = ? AND key >= ?"
        args = [bucket, low]
    upper = prefix_upper_bound(prefix)
    if upper is not None:
        sql += " AND key < ?"
        args.append(upper)
    return sql + " ORDER BY key LIMIT ?", [*args, limit]


def object_rows(conn: Conn, bucket: str, prefix: str, after: str, limit: int, at_least: str = "") -> list[ObjectRecord]:
    sql, args = objects_query(bucket, prefix, after, limit, at_least)
    return [object_record(row) for row in conn.execute(sql, args).fetchall()]


def walk_delimited(conn: Conn, bucket: str, prefix: str, marker: str, limit: int, delimiter: str) -> Listing:
    """Reads 8 rows at first and after each common prefix it skips, doubling over runs of plain keys,
    so a listing costs what it returns (one connection, many short queries)."""
    objects: list[ObjectRecord] = []
    prefixes: list[str] = []
    after, at_least, last = marker, "", ""
    rolled = marker.find(delimiter, len(prefix)) if marker.startswith(prefix) else -1
    if rolled >= 0:  # the marker lies inside a common prefix already listed: skip past it
        bound = prefix_upper_bound(marker[: rolled + len(delimiter)])
        if bound is None:
            return Listing([], [], "", False)
        at_least = bound
    fetch = FIRST_FETCH
    while len(objects) + len(prefixes) < limit:
        wanted = limit - len(objects) - len(prefixes) + 1
        rows = object_rows(conn, bucket, prefix, after, min(fetch, wanted), at_least)
        if not rows:
            return Listing(objects, prefixes, "", False)
        fetch = min(fetch * 2, MAX_FETCH)
        for row in rows:
            if len(objects) + len(prefixes) >= limit:
                return Listing(objects, prefixes, last, True)
            cut = row.key.find(delimiter, len(prefix))
            if cut < 0:
                objects.append(row)
                last = after = row.key
                continue
            common = row.key[: cut + len(delimiter)]
            prefixes.append(common)
            last = after = common
            bound = prefix_upper_bound(common)
            if bound is None:
                return Listing(objects, prefixes, "", False)
            at_least = bound
            fetch = FIRST_FETCH  # past a common prefix: its next rows are likely skipped as well
            break
    more = bool(object_rows(conn, bucket, prefix, after, 1, at_least))
    return Listing(objects, prefixes, last if more else "", more)


def missing_object(key: str) -> HoldallError:
    return FileNotFound(f"file not exist: {key!r}")

"""The SQLite schema, as numbered steps: a data directory of any age is brought up to date at open."""

from __future__ import annotations

import sqlite3

STEPS: tuple[str, ...] = (
    # 1: objects, buckets, accounts, multipart uploads, blobs
    """
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
""",
    # 2: projects, tokens, quotas, usage; per-bucket counters and caps
    """
ALTER TABLE buckets ADD COLUMN max_bytes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE buckets ADD COLUMN max_objects INTEGER NOT NULL DEFAULT 0;
ALTER TABLE buckets ADD COLUMN used_bytes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE buckets ADD COLUMN object_count INTEGER NOT NULL DEFAULT 0;
UPDATE buckets SET
    used_bytes = (SELECT coalesce(sum(size), 0) FROM objects WHERE bucket = buckets.name)
        + (SELECT coalesce(sum(p.size), 0) FROM parts p JOIN uploads u ON u.id = p.upload_id
           WHERE u.bucket = buckets.name),
    object_count = (SELECT count(*) FROM objects WHERE bucket = buckets.name);
CREATE TABLE projects(
    id TEXT PRIMARY KEY, account_id TEXT NOT NULL, name TEXT NOT NULL, created INTEGER NOT NULL);
CREATE INDEX projects_account ON projects(account_id);
CREATE TABLE tokens(
    id TEXT PRIMARY KEY, account_id TEXT NOT NULL, name TEXT NOT NULL,
    public_key TEXT NOT NULL UNIQUE, private_key TEXT NOT NULL, spec TEXT NOT NULL,
    expire_time INTEGER NOT NULL, region TEXT NOT NULL, project_id TEXT NOT NULL,
    created INTEGER NOT NULL, modified INTEGER NOT NULL);
CREATE INDEX tokens_account ON tokens(account_id, created);
CREATE TABLE quotas(
    account_id TEXT NOT NULL, region TEXT NOT NULL, type TEXT NOT NULL, remaining REAL NOT NULL,
    PRIMARY KEY(account_id, region, type)) WITHOUT ROWID;
CREATE TABLE usage(
    account_id TEXT NOT NULL, region TEXT NOT NULL, day INTEGER NOT NULL,
    storage_byte_seconds REAL NOT NULL DEFAULT 0, download_bytes INTEGER NOT NULL DEFAULT 0,
    requests INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(account_id, region, day)) WITHOUT ROWID;
CREATE TABLE settings(name TEXT PRIMARY KEY, value REAL NOT NULL);
""",
    # 3: temporary credentials (seed 002) and one-shot upload URLs (seed 003)
    """
CREATE TABLE temp_credentials(
    access_key TEXT PRIMARY KEY, secret TEXT NOT NULL, session_token TEXT NOT NULL,
    account_id TEXT NOT NULL, bucket TEXT NOT NULL, key TEXT NOT NULL, ops TEXT NOT NULL,
    created REAL NOT NULL, expire_time INTEGER NOT NULL, formats TEXT NOT NULL DEFAULT '');
CREATE INDEX temp_credentials_account ON temp_credentials(account_id, created);
CREATE INDEX temp_credentials_expiry ON temp_credentials(expire_time);
CREATE TABLE upload_urls(
    account_id TEXT NOT NULL, name TEXT NOT NULL, url TEXT NOT NULL, expire_time INTEGER NOT NULL,
    PRIMARY KEY(account_id, name)) WITHOUT ROWID;
""",
    # 4: CORS rules of buckets
    """
ALTER TABLE buckets ADD COLUMN cors TEXT NOT NULL DEFAULT '';
""",
    # 5: signature nonces of the clouds' management calls, remembered while their timestamp is fresh
    """
CREATE TABLE nonces(nonce TEXT PRIMARY KEY, expire_time INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX nonces_expiry ON nonces(expire_time);
""",
    # 6: leases of background jobs, so that one gateway at a time runs each
    """
CREATE TABLE leases(name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires REAL NOT NULL) WITHOUT ROWID;
""",
    # 7: bucket counters in shards, so writers on many gateways do not queue on one row
    """
CREATE TABLE bucket_usage(
    bucket TEXT NOT NULL, shard INTEGER NOT NULL, used_bytes INTEGER NOT NULL DEFAULT 0,
    object_count INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(bucket, shard)) WITHOUT ROWID;
INSERT INTO bucket_usage(bucket, shard, used_bytes, object_count)
    SELECT name, 0, used_bytes, object_count FROM buckets;
""",
    # 8: blobs being written and not yet named by any row, so the sweeper finds leftovers without listing
    """
CREATE TABLE pending_blobs(id TEXT PRIMARY KEY, created REAL NOT NULL) WITHOUT ROWID;
CREATE INDEX pending_blobs_created ON pending_blobs(created);
""",  # 9: the MD5 of every object and part, S3's ETag
    """
ALTER TABLE objects ADD COLUMN md5 TEXT NOT NULL DEFAULT '';
ALTER TABLE parts ADD COLUMN md5 TEXT NOT NULL DEFAULT '';
""",  # 10: user metadata and checksums of objects, and the metadata an unfinished upload will give its object
    """
ALTER TABLE objects ADD COLUMN attrs TEXT NOT NULL DEFAULT '';
ALTER TABLE uploads ADD COLUMN attrs TEXT NOT NULL DEFAULT '';
""",
)


def migrate(conn: sqlite3.Connection) -> None:
    """Runs the steps this database has not had yet, in one transaction; an up-to-date one costs a read."""
    if conn.execute("PRAGMA user_version").fetchone()[0] == len(STEPS):
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        version: int = conn.execute("PRAGMA user_version").fetchone()[0]
        for number, step in enumerate(STEPS[version:], start=version + 1):
            for statement in step.split(";\n"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise

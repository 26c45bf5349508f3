"""The PostgreSQL schema, as numbered steps run at start under an advisory lock, so that gateways
starting together apply each step once. Names and keys are ``COLLATE "C"``: they sort by code point,
which is UTF-8 byte order, exactly as on SQLite, so listings and markers agree on both."""

from __future__ import annotations

from typing import Any

import psycopg

MIGRATION_LOCK = 0x686F6C6461_6C6C  # "holdall"
STEPS: tuple[str, ...] = (
    # 1: everything the SQLite schema holds after its step 5
    """
CREATE TABLE accounts(
    id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, public_key TEXT NOT NULL UNIQUE,
    private_key TEXT NOT NULL, disabled INTEGER NOT NULL DEFAULT 0, created BIGINT NOT NULL);
CREATE TABLE buckets(
    name TEXT COLLATE "C" PRIMARY KEY, id TEXT NOT NULL UNIQUE, account_id TEXT NOT NULL,
    project_id TEXT NOT NULL, type TEXT NOT NULL, region TEXT NOT NULL,
    created BIGINT NOT NULL, modified BIGINT NOT NULL,
    max_bytes BIGINT NOT NULL DEFAULT 0, max_objects BIGINT NOT NULL DEFAULT 0,
    used_bytes BIGINT NOT NULL DEFAULT 0, object_count BIGINT NOT NULL DEFAULT 0,
    cors TEXT NOT NULL DEFAULT '');
CREATE INDEX buckets_account ON buckets(account_id, created);
CREATE TABLE blobs(
    id TEXT PRIMARY KEY, size BIGINT NOT NULL, refs BIGINT NOT NULL, released DOUBLE PRECISION, data BYTEA);
CREATE INDEX blobs_released ON blobs(released) WHERE refs <= 0;
CREATE TABLE objects(
    bucket TEXT COLLATE "C" NOT NULL, key TEXT COLLATE "C" NOT NULL, size BIGINT NOT NULL, etag TEXT NOT NULL,
    mime TEXT NOT NULL, storage_class TEXT NOT NULL, created BIGINT NOT NULL,
    modified BIGINT NOT NULL, manifest TEXT NOT NULL, inline_blob TEXT,
    PRIMARY KEY(bucket, key));
CREATE INDEX objects_etag ON objects(etag, size);
CREATE TABLE uploads(
    id TEXT PRIMARY KEY, bucket TEXT COLLATE "C" NOT NULL, key TEXT COLLATE "C" NOT NULL, mime TEXT NOT NULL,
    created BIGINT NOT NULL);
CREATE INDEX uploads_bucket ON uploads(bucket);
CREATE INDEX uploads_created ON uploads(created);
CREATE TABLE parts(
    upload_id TEXT NOT NULL, number BIGINT NOT NULL, blob_id TEXT NOT NULL, size BIGINT NOT NULL,
    etag TEXT NOT NULL, sha1 BYTEA NOT NULL, PRIMARY KEY(upload_id, number));
CREATE TABLE projects(
    id TEXT PRIMARY KEY, account_id TEXT NOT NULL, name TEXT NOT NULL, created BIGINT NOT NULL);
CREATE INDEX projects_account ON projects(account_id);
CREATE TABLE tokens(
    id TEXT PRIMARY KEY, account_id TEXT NOT NULL, name TEXT NOT NULL,
    public_key TEXT NOT NULL UNIQUE, private_key TEXT NOT NULL, spec TEXT NOT NULL,
    expire_time BIGINT NOT NULL, region TEXT NOT NULL, project_id TEXT NOT NULL,
    created BIGINT NOT NULL, modified BIGINT NOT NULL);
CREATE INDEX tokens_account ON tokens(account_id, created);
CREATE TABLE quotas(
    account_id TEXT NOT NULL, region TEXT NOT NULL, type TEXT NOT NULL, remaining DOUBLE PRECISION NOT NULL,
    PRIMARY KEY(account_id, region, type));
CREATE TABLE usage(
    account_id TEXT NOT NULL, region TEXT NOT NULL, day BIGINT NOT NULL,
    storage_byte_seconds DOUBLE PRECISION NOT NULL DEFAULT 0, download_bytes BIGINT NOT NULL DEFAULT 0,
    requests BIGINT NOT NULL DEFAULT 0, PRIMARY KEY(account_id, region, day));
CREATE TABLE settings(name TEXT PRIMARY KEY, value DOUBLE PRECISION NOT NULL);
CREATE TABLE temp_credentials(
    access_key TEXT PRIMARY KEY, secret TEXT NOT NULL, session_token TEXT NOT NULL,
    account_id TEXT NOT NULL, bucket TEXT NOT NULL, key TEXT NOT NULL, ops TEXT NOT NULL,
    created DOUBLE PRECISION NOT NULL, expire_time BIGINT NOT NULL, formats TEXT NOT NULL DEFAULT '');
CREATE INDEX temp_credentials_account ON temp_credentials(account_id, created);
CREATE INDEX temp_credentials_expiry ON temp_credentials(expire_time);
CREATE TABLE upload_urls(
    account_id TEXT NOT NULL, name TEXT NOT NULL, url TEXT NOT NULL, expire_time BIGINT NOT NULL,
    PRIMARY KEY(account_id, name));
CREATE TABLE nonces(nonce TEXT PRIMARY KEY, expire_time BIGINT NOT NULL);
CREATE INDEX nonces_expiry ON nonces(expire_time);
""",
    # 2: leases of background jobs, so that one gateway at a time runs each
    """
CREATE TABLE leases(name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires DOUBLE PRECISION NOT NULL);
""",
    # 3: bucket counters in shards, so writers on many gateways do not queue on one row
    """
CREATE TABLE bucket_usage(
    bucket TEXT COLLATE "C" NOT NULL, shard INTEGER NOT NULL, used_bytes BIGINT NOT NULL DEFAULT 0,
    object_count BIGINT NOT NULL DEFAULT 0, PRIMARY KEY(bucket, shard));
INSERT INTO bucket_usage(bucket, shard, used_bytes, object_count)
    SELECT name, 0, used_bytes, object_count FROM buckets;
""",
    # 4: blobs being written and not yet named by any row, so the sweeper finds leftovers without listing
    """
CREATE TABLE pending_blobs(id TEXT PRIMARY KEY, created DOUBLE PRECISION NOT NULL);
CREATE INDEX pending_blobs_created ON pending_blobs(created);
""",  # 5: the MD5 of every object and part, S3's ETag
    """
ALTER TABLE objects ADD COLUMN md5 TEXT NOT NULL DEFAULT '';
ALTER TABLE parts ADD COLUMN md5 TEXT NOT NULL DEFAULT '';
""",  # 6: user metadata and checksums of objects, and the metadata an unfinished upload will give its object
    """
ALTER TABLE objects ADD COLUMN attrs TEXT NOT NULL DEFAULT '';
ALTER TABLE uploads ADD COLUMN attrs TEXT NOT NULL DEFAULT '';
""",
)


def migrate(conn: psycopg.Connection[tuple[Any, ...]]) -> None:
    """Runs the steps this database has not had yet, each gateway in turn (an advisory lock)."""
    conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL)")
        row = conn.execute("SELECT version FROM schema_version").fetchone()
        version = int(row[0]) if row else 0
        for number, step in enumerate(STEPS[version:], start=version + 1):
            with conn.transaction():
                conn.execute(step.encode())
                if number == 1:
                    conn.execute("INSERT INTO schema_version(version) VALUES(1)")
                else:
                    conn.execute("UPDATE schema_version SET version = %s", (number,))
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))

"""A data directory made ready to serve: its folder, its root account and key pair, its system
buckets; and the metadata store opened for a command that runs no event loop of its own."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Coroutine
from typing import Any, TypeVar

from holdall.config import Settings
from holdall.errors import NameTaken
from holdall.keys import CREDENTIALS_FILE, ROOT_ACCOUNT, root_key_pair
from holdall.service.buckets import DEFAULT_PROJECT, new_bucket_id
from holdall.store.meta.base import Account, Bucket
from holdall.store.meta.open import open_meta
from holdall.store.meta.sql import SqlMetaStore

T = TypeVar("T")


def run_read(coroutine: Coroutine[Any, Any, T]) -> T:
    """A read of the metadata store, from a command that runs no event loop of its own."""
    return asyncio.run(coroutine)


def open_store(url: str) -> SqlMetaStore:
    try:
        return open_meta(url)
    except Exception as error:  # a server that is down, a wrong password, a path that is no directory
        raise SystemExit(f"holdall: cannot open the metadata store {_redacted(url)}: {error}".strip()) from None


def _redacted(url: str) -> str:
    """The URL without a password it may carry."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    return f"{scheme}{sep}{credentials.partition(':')[0]}{at}{host}" if at else url


def prepare_data_dir(settings: Settings) -> None:
    """Creates the data directory and the root account; prints a newly generated key pair once.

    Everything holdall writes is readable by its own user only: the metadata holds private keys.
    """
    os.umask(0o077)
    if settings.data_dir.exists() and not settings.data_dir.is_dir():
        raise SystemExit(f"holdall: --data {settings.data_dir} is a file; it must name a directory")
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as problem:
        raise SystemExit(f"holdall: cannot create the data directory {settings.data_dir}: {problem.strerror}") from None
    for path in (settings.data_dir, *settings.data_dir.glob("meta.*")):
        path.chmod(0o700 if path.is_dir() else 0o600)
    try:
        pair, generated = root_key_pair(settings.data_dir)
    except (OSError, ValueError) as problem:
        raise SystemExit(f"holdall: cannot read the root key pair: {problem}") from None
    meta = open_store(settings.meta_target)
    try:
        root = run_read(meta.account_by_name(ROOT_ACCOUNT))
        if root is None:
            root = Account(uuid.uuid4().hex, ROOT_ACCOUNT, pair.public_key, pair.private_key, False, int(time.time()))
            try:
                meta.create_account_sync(root)
            except meta.UNIQUE_VIOLATION:  # another gateway, starting at the same time, made it
                found = run_read(meta.account_by_name(ROOT_ACCOUNT))
                if found is None:
                    raise SystemExit("holdall: another account holds the root key pair's access key") from None
                root = found
        if (root.public_key, root.private_key) != (pair.public_key, pair.private_key):
            meta.set_account_keys_sync(ROOT_ACCOUNT, pair.public_key, pair.private_key)
        _claim_system_buckets(meta, settings, root.id)
    finally:
        meta.close()
    if generated:
        kept = settings.data_dir / CREDENTIALS_FILE
        print(f"holdall: generated the root key pair, kept in {kept} (mode 0600); shown only this once:")
        print(f"  HOLDALL_ACCESS_KEY={pair.public_key}")
        print(f"  HOLDALL_SECRET_KEY={pair.private_key}", flush=True)


def _claim_system_buckets(meta: SqlMetaStore, settings: Settings, root_id: str) -> None:
    """The temp and resource buckets exist from the start and belong to root; if another account
    holds one of the names, temporary uploads would land in its bucket, so the server does not start."""
    for name in settings.system_buckets:
        bucket = run_read(meta.bucket(name))
        if bucket is None:
            now = int(time.time())
            made = Bucket(name, new_bucket_id(), root_id, DEFAULT_PROJECT, "private", settings.region, now, now)
            try:
                meta.create_bucket_sync(made)
                continue
            except NameTaken:  # another gateway, starting at the same time, made it
                bucket = run_read(meta.bucket(name))
        if bucket is None or bucket.account_id != root_id:
            raise SystemExit(
                f"holdall: bucket {name!r} belongs to another account, but holdall keeps it for temporary"
                f" uploads; remove that bucket, or start with --temp-bucket/--resource-bucket naming free ones"
            )

"""The ``holdall`` command."""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from pathlib import Path

from holdall.config import GiB, Settings
from holdall.keys import new_key_pair, root_key_pair
from holdall.store.meta.base import Account
from holdall.store.meta.sqlite import SqliteMetaStore

ROOT_ACCOUNT = "root"


def _listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError("expected HOST:PORT, for example 127.0.0.1:9000")
    return host or "127.0.0.1", int(port)


def _seconds(value: str) -> int:
    if not value.isdigit():
        raise argparse.ArgumentTypeError("expected a number of seconds")
    return int(value)


def _inline_limit(value: str) -> int:
    if not value.isdigit() or int(value) > 1024 * 1024:
        raise argparse.ArgumentTypeError("expected a number of bytes up to 1048576")
    return int(value)


def prepare_data_dir(settings: Settings) -> None:
    """Creates the data directory and the root account; prints a newly generated key pair once.

    Everything holdall writes is readable by its own user only: the metadata holds private keys.
    """
    os.umask(0o077)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    for path in (settings.data_dir, *settings.data_dir.glob("meta.*")):
        path.chmod(0o700 if path.is_dir() else 0o600)
    pair, generated = root_key_pair(settings.data_dir)
    meta = SqliteMetaStore(settings.meta_path)
    try:
        root = meta.account_by_name(ROOT_ACCOUNT)
        if root is None:
            meta.create_account_sync(
                Account(uuid.uuid4().hex, ROOT_ACCOUNT, pair.public_key, pair.private_key, False, int(time.time()))
            )
        elif (root.public_key, root.private_key) != (pair.public_key, pair.private_key):
            meta.set_account_keys_sync(ROOT_ACCOUNT, pair.public_key, pair.private_key)
    finally:
        meta.close()
    if generated:
        print("holdall: generated the root key pair (kept in the data directory, shown only this once)")
        print(f"  HOLDALL_ACCESS_KEY={pair.public_key}")
        print(f"  HOLDALL_SECRET_KEY={pair.private_key}", flush=True)


def serve(args: argparse.Namespace) -> None:
    from holdall.server import supervisor

    host, port = args.listen
    settings = Settings(
        data_dir=Path(args.data).resolve(),
        host=host,
        port=port,
        domain=args.domain.lower(),
        workers=args.workers,
        region=args.region,
        bucket_delete_delay=args.bucket_delete_delay,
        upload_max_age=args.upload_max_age,
        blob_grace=args.blob_grace,
        sweep_interval=args.sweep_interval,
        max_object_size=args.max_object_size,
        inline_limit=args.inline_limit,
        clock_file=Path(args.clock_file).resolve() if args.clock_file else None,
    )
    prepare_data_dir(settings)
    print(
        f"holdall: serving {settings.data_dir} on http://{host}:{port}"
        f" (bucket hosts: <bucket>.{settings.public_host_suffix})",
        flush=True,
    )
    supervisor.serve(settings, args.log_level, args.graceful_timeout)


def _open_meta(data: str) -> SqliteMetaStore:
    settings = Settings(data_dir=Path(data).resolve())
    if not settings.meta_path.exists():
        raise SystemExit(f"holdall: no data directory at {settings.data_dir}; run holdall serve first")
    return SqliteMetaStore(settings.meta_path)


def account_create(args: argparse.Namespace) -> None:
    meta = _open_meta(args.data)
    try:
        if meta.account_by_name(args.name) is not None:
            raise SystemExit(f"holdall: account {args.name!r} exists already")
        pair = new_key_pair()
        meta.create_account_sync(
            Account(uuid.uuid4().hex, args.name, pair.public_key, pair.private_key, False, int(time.time()))
        )
    finally:
        meta.close()
    print(f"account {args.name}")
    print(f"  public key:  {pair.public_key}")
    print(f"  private key: {pair.private_key}")


def account_list(args: argparse.Namespace) -> None:
    meta = _open_meta(args.data)
    try:
        for account in meta.accounts():
            state = "disabled" if account.disabled else "active"
            print(f"{account.name}\t{account.public_key}\t{state}")
    finally:
        meta.close()


def account_disable(args: argparse.Namespace) -> None:
    meta = _open_meta(args.data)
    try:
        if not meta.set_account_disabled_sync(args.name, not args.enable):
            raise SystemExit(f"holdall: no account {args.name!r}")
    finally:
        meta.close()
    print(f"account {args.name} {'enabled' if args.enable else 'disabled'}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="holdall", description="A self-hosted object store.")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("serve", help="run the server")
    run.add_argument("--data", default="holdall-data", help="data directory (default ./holdall-data)")
    run.add_argument("--listen", type=_listen, default=("127.0.0.1", 9000), help="HOST:PORT (default 127.0.0.1:9000)")
    run.add_argument("--domain", default="localhost", help="<bucket>.<domain> is a bucket host (default localhost)")
    run.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    run.add_argument("--region", default="cn-bj", help="region of buckets created without one")
    run.add_argument(
        "--bucket-delete-delay", type=_seconds, default=1200, help="seconds before a new bucket may be deleted"
    )
    run.add_argument(
        "--upload-max-age",
        type=_seconds,
        default=7 * 86400,
        help="seconds before unfinished multipart uploads are removed",
    )
    run.add_argument(
        "--blob-grace", type=_seconds, default=3600, help="seconds an unreferenced blob is kept before deletion"
    )
    run.add_argument("--sweep-interval", type=_seconds, default=60, help="seconds between background sweeps (0: never)")
    run.add_argument("--max-object-size", type=int, default=5 * GiB, help="largest single upload, bytes")
    run.add_argument(
        "--inline-limit",
        type=_inline_limit,
        default=32 * 1024,
        help="objects up to this size (at most 1 MiB) live in the metadata store",
    )
    run.add_argument("--graceful-timeout", type=int, default=30, help="seconds in-flight requests get on SIGTERM")
    run.add_argument("--clock-file", default=None, help="file holding seconds to add to the clock (for tests)")
    run.add_argument("--log-level", default="warning", choices=["critical", "error", "warning", "info", "debug"])
    run.set_defaults(func=serve)

    account = commands.add_parser("account", help="manage accounts").add_subparsers(dest="action", required=True)
    create = account.add_parser("create", help="create an account and print its key pair")
    create.add_argument("name")
    create.set_defaults(func=account_create)
    listing = account.add_parser("list", help="list accounts")
    listing.set_defaults(func=account_list)
    disable = account.add_parser("disable", help="disable an account: its keys stop working at once")
    disable.add_argument("name")
    disable.add_argument("--enable", action="store_true", help="enable it again")
    disable.set_defaults(func=account_disable)
    for sub in (create, listing, disable):
        sub.add_argument("--data", default="holdall-data", help="data directory (default ./holdall-data)")

    args = parser.parse_args(argv)
    try:
        args.func(args)
    except KeyboardInterrupt:
        sys.exit(130)

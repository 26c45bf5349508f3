"""The ``holdall`` command."""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import importlib.util
import json
import os
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from holdall.client.presign import DIALECTS, presign_url
from holdall.config import GiB, Settings
from holdall.data_dir import open_store, prepare_data_dir
from holdall.data_dir import run_read as _read
from holdall.hosts import host_lines, with_block
from holdall.keys import ACCESS_ENV, CREDENTIALS_FILE, SECRET_ENV, new_key_pair
from holdall.parsing import is_ascii_uint
from holdall.service.buckets import DEFAULT_PROJECT, new_project_id
from holdall.service.cors import CorsRuleError, dump_rules, parse_rules
from holdall.service.formats import SIGNATURES
from holdall.service.quotas import UNIT_NAMES, to_raw, to_units
from holdall.store.meta.base import DOWNLOAD_TRAFFIC, REQUEST_COUNT, STORAGE_VOLUME, Account, Bucket, Project
from holdall.store.meta.sql import SqlMetaStore


def _listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not is_ascii_uint(port, 5) or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError("expected HOST:PORT, for example 127.0.0.1:9000")
    return host or "127.0.0.1", int(port)


def _seconds(value: str) -> int:
    if not is_ascii_uint(value):
        raise argparse.ArgumentTypeError("expected a number of seconds")
    return int(value)


def _positive_seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds < 86400:
        raise argparse.ArgumentTypeError("expected a number of seconds between 0 and 86400")
    return seconds


def _count(value: str) -> int:
    if not is_ascii_uint(value, 12):
        raise argparse.ArgumentTypeError("expected a whole number")
    return int(value)


def _reserve(value: str) -> tuple[int | None, float | None]:
    """``BYTES`` or ``PERCENT%`` of the volume."""
    if value.endswith("%") and is_ascii_uint(value[:-1].replace(".", "", 1), 6) and float(value[:-1]) < 100:
        return None, float(value[:-1])
    if is_ascii_uint(value, 18):
        return int(value), None
    raise argparse.ArgumentTypeError("expected a number of bytes or a percentage such as 5%")


def _access_log(value: str) -> str:
    if value in ("off", "-"):
        return value
    path = Path(value).resolve()
    writable = os.access(path, os.W_OK) if path.exists() else os.access(path.parent, os.W_OK | os.X_OK)
    if path.is_dir() or not writable:
        raise argparse.ArgumentTypeError(f"cannot append to {path}")
    return str(path)


META_HELP = "metadata store: sqlite:///PATH or postgresql://USER@HOST/DB (default: SQLite in --data)"


def _meta_url(value: str) -> str:
    scheme = value.partition("://")[0]
    if value and scheme not in ("sqlite", "postgresql", "postgres"):
        raise argparse.ArgumentTypeError("sqlite:///PATH or postgresql://USER@HOST/DB")
    if scheme in ("postgresql", "postgres") and importlib.util.find_spec("psycopg_pool") is None:
        raise argparse.ArgumentTypeError("PostgreSQL needs its driver: pip install '.[postgres]' in holdall's checkout")
    return value


def _blobs_url(value: str) -> str:
    scheme, sep, rest = value.partition("://")
    if value and not (sep and ((scheme == "s3" and rest) or (scheme == "file" and rest.startswith("/")))):
        raise argparse.ArgumentTypeError("file:///PATH or s3://BUCKET/PREFIX?endpoint=URL&region=R")
    if scheme == "s3" and importlib.util.find_spec("boto3") is None:
        raise argparse.ArgumentTypeError("S3 blobs need boto3: pip install '.[s3]' in holdall's checkout")
    return value


def _inline_limit(value: str) -> int:
    if not is_ascii_uint(value) or int(value) > 1024 * 1024:
        raise argparse.ArgumentTypeError("expected a number of bytes up to 1048576")
    return int(value)


def serve(args: argparse.Namespace) -> None:
    from holdall.server import supervisor

    host, port = args.listen
    settings = Settings(
        data_dir=Path(args.data).resolve(),
        meta_url=args.meta,
        blobs_url=args.blobs,
        host=host,
        port=port,
        domain=args.domain.lower(),
        access_log=args.access_log,
        workers=args.workers,
        region=args.region,
        bucket_delete_delay=args.bucket_delete_delay,
        upload_max_age=args.upload_max_age,
        blob_grace=args.blob_grace,
        sweep_interval=args.sweep_interval,
        max_object_size=args.max_object_size,
        inline_limit=args.inline_limit,
        min_free_bytes=args.min_free[0],
        min_free_percent=args.min_free[1],
        head_timeout=args.head_timeout,
        keepalive_timeout=args.keepalive_timeout,
        max_head_bytes=max(1024, args.max_head_bytes),
        max_connections=args.max_connections,
        max_uploads=max(1, args.max_uploads),
        clock_file=Path(args.clock_file).resolve() if args.clock_file else None,
        max_tokens=args.max_tokens,
        usage_flush_interval=args.usage_flush_interval,
        price_storage_volume=args.price_storage_volume,
        price_download_traffic=args.price_download_traffic,
        price_request_count=args.price_request_count,
        cos_token_lifetime=args.cos_token_lifetime,
        temp_bucket=args.temp_bucket,
        temp_upload_lifetime=args.temp_upload_lifetime,
        temp_file_max_age=args.temp_file_max_age,
        resource_bucket=args.resource_bucket,
        resource_formats=tuple(kind.strip().lower() for kind in args.resource_formats.split(",") if kind.strip()),
        resource_url_lifetime=args.resource_url_lifetime,
        resource_pending_max=args.resource_pending_max,
    )
    unknown = [kind for kind in settings.resource_formats if kind not in SIGNATURES]
    if unknown or not settings.resource_formats:
        raise SystemExit(f"holdall: --resource-formats takes a list of {', '.join(SIGNATURES)}")
    listening = supervisor.listen(settings)  # a port in use fails before anything is created or printed
    prepare_data_dir(settings)
    print(
        f"holdall: serving {settings.data_dir} on http://{host}:{port}"
        f" (bucket hosts: <bucket>.{settings.public_host_suffix})",
        flush=True,
    )
    supervisor.serve(settings, args.log_level, args.graceful_timeout, listening)


@contextlib.contextmanager
def _opened_meta(args: argparse.Namespace) -> Iterator[SqlMetaStore]:
    meta = _open_meta(args.data, args.meta)
    try:
        yield meta
    finally:
        meta.close()


def _open_meta(data: str, meta_url: str) -> SqlMetaStore:
    settings = Settings(data_dir=Path(data).resolve(), meta_url=meta_url)
    if not meta_url and not settings.meta_path.exists():
        raise SystemExit(f"holdall: no data directory at {settings.data_dir}; run holdall serve first")
    return open_store(settings.meta_target)


def account_create(args: argparse.Namespace) -> None:
    with _opened_meta(args) as meta:
        if _read(meta.account_by_name(args.name)) is not None:
            raise SystemExit(f"holdall: account {args.name!r} exists already")
        pair = new_key_pair()
        meta.create_account_sync(
            Account(uuid.uuid4().hex, args.name, pair.public_key, pair.private_key, False, int(time.time()))
        )
    print(f"account {args.name}")
    print(f"  public key:  {pair.public_key}")
    print(f"  private key: {pair.private_key}")


def account_list(args: argparse.Namespace) -> None:
    with _opened_meta(args) as meta:
        for account in _read(meta.accounts()):
            state = "disabled" if account.disabled else "active"
            print(f"{account.name}\t{account.public_key}\t{state}")


def hosts(args: argparse.Namespace) -> None:
    """Prints (or, with --write, puts into the hosts file) one line per bucket host."""
    with _opened_meta(args) as meta:
        names = [bucket.name for account in _read(meta.accounts()) for bucket in _all_buckets(meta, account.id)]
    names += args.names
    lines = host_lines(names, args.domain.lower(), args.address)
    if not args.write:
        print("\n".join(lines))
        return
    path = Path(args.hosts_file)
    try:
        text = path.read_text() if path.exists() else ""
        path.write_text(with_block(text, lines))
    except OSError as problem:
        raise SystemExit(
            f"holdall: cannot write {path}: {problem.strerror} (run it as root, or print the lines)"
        ) from None
    print(f"holdall: {len(lines)} bucket host(s) in {path}")


def _all_buckets(meta: SqlMetaStore, account_id: str) -> list[Bucket]:
    found: list[Bucket] = []
    while page := _read(meta.buckets(account_id, None, len(found), 1000)):
        found += page
    return found


def account_disable(args: argparse.Namespace) -> None:
    with _opened_meta(args) as meta:
        if not meta.set_account_disabled_sync(args.name, not args.enable):
            raise SystemExit(f"holdall: no account {args.name!r}")
    print(f"account {args.name} {'enabled' if args.enable else 'disabled'}")


def _account(meta: SqlMetaStore, name: str) -> Account:
    account = _read(meta.account_by_name(name))
    if account is None:
        raise SystemExit(f"holdall: no account {name!r}")
    return account


def quota_grant(args: argparse.Namespace) -> None:
    amounts = {
        STORAGE_VOLUME: args.storage_volume,
        DOWNLOAD_TRAFFIC: args.download_traffic,
        REQUEST_COUNT: args.request_count,
    }
    given = {quota_type: to_raw(quota_type, units) for quota_type, units in amounts.items() if units}
    if not given:
        raise SystemExit("holdall: give --storage-volume, --download-traffic or --request-count")
    with _opened_meta(args) as meta:
        account = _account(meta, args.account)
        meta.add_quota_sync(account.id, args.region, given)
    quota_show(args)


def quota_show(args: argparse.Namespace) -> None:
    with _opened_meta(args) as meta:
        found = _read(meta.quotas(_account(meta, args.account).id))
    if not found:
        print(f"account {args.account}: no quota set, unlimited")
    for (region, quota_type), raw in sorted(found.items()):
        print(f"{args.account}\t{region}\t{quota_type}\t{to_units(quota_type, raw):.6g} {UNIT_NAMES[quota_type]} left")


def bucket_limit(args: argparse.Namespace) -> None:
    with _opened_meta(args) as meta:
        bucket = _read(meta.bucket(args.name))
        if bucket is None:
            raise SystemExit(f"holdall: no bucket {args.name!r}")
        max_bytes = bucket.max_bytes if args.max_bytes is None else args.max_bytes
        max_objects = bucket.max_objects if args.max_objects is None else args.max_objects
        meta.set_bucket_caps_sync(bucket.name, max_bytes, max_objects)
    print(f"bucket {args.name}: at most {max_bytes or 'any number of'} bytes, {max_objects or 'any number of'} objects")


def bucket_cors(args: argparse.Namespace) -> None:
    try:
        rules = parse_rules(args.rules)
    except CorsRuleError as problem:
        raise SystemExit(f"holdall: {problem}") from None
    with _opened_meta(args) as meta:
        if _read(meta.bucket(args.name)) is None:
            raise SystemExit(f"holdall: no bucket {args.name!r}")
        meta.set_bucket_cors_sync(args.name, dump_rules(rules) if rules else "")
    print(f"bucket {args.name}: {len(rules)} CORS rule(s)")


def project_create(args: argparse.Namespace) -> None:
    with _opened_meta(args) as meta:
        account = _account(meta, args.account)
        project = Project(new_project_id(), account.id, args.name, int(time.time()))
        meta.create_project_sync(project)
    print(f"project {project.id} ({args.name}) of account {args.account}")


def project_list(args: argparse.Namespace) -> None:
    with _opened_meta(args) as meta:
        projects = _read(meta.projects(_account(meta, args.account).id))
    print(f"{DEFAULT_PROJECT}\t(the default project)")
    for project in projects:
        print(f"{project.id}\t{project.name}")


def _signing_keys(args: argparse.Namespace) -> tuple[str, str]:
    if args.access_key and args.secret_key:
        return args.access_key, args.secret_key
    access, secret = os.environ.get(ACCESS_ENV), os.environ.get(SECRET_ENV)
    if access and secret:
        return access, secret
    stored = Path(args.data) / CREDENTIALS_FILE
    if stored.exists():
        pair = json.loads(stored.read_text())
        return pair["public_key"], pair["private_key"]
    raise SystemExit(
        f"holdall: give --access-key and --secret-key, set {ACCESS_ENV} and {SECRET_ENV}, or point --data at a server's"
    )


def presign(args: argparse.Namespace) -> None:
    bucket, sep, key = args.target.lstrip("/").partition("/")
    if not sep or not bucket or not key:
        raise SystemExit("holdall: name the object as BUCKET/KEY")
    headers = {}
    for item in args.header:
        name, sep, value = item.partition(":")
        if not sep or not name.strip():
            raise SystemExit(f"holdall: --header takes 'Name: value', not {item!r}")
        headers[name.strip()] = value.strip()
    access, secret = _signing_keys(args)
    try:
        url = presign_url(
            args.method.upper(),
            args.endpoint,
            bucket,
            key,
            access,
            secret,
            expires=args.expires,
            dialect=args.dialect,
            headers=headers,
            region=args.region,
            security_token=args.security_token,
            virtual_host=args.virtual_host,
        )
    except ValueError as problem:
        raise SystemExit(f"holdall: {problem}") from None
    print(url)


def _add_presign_command(commands: Any) -> None:
    sign = commands.add_parser("presign", help="print a presigned URL, signed locally with no network call")
    sign.add_argument("method", help="GET, PUT, HEAD, DELETE or POST")
    sign.add_argument("target", help="BUCKET/KEY")
    sign.add_argument("--expires", type=int, default=3600, help="seconds the URL lives, at most 604800 (default 3600)")
    sign.add_argument("--dialect", default="ufile", choices=DIALECTS, help="signature dialect (default ufile)")
    sign.add_argument("--header", action="append", default=[], help="'Name: value' to sign; the request must send it")
    sign.add_argument("--endpoint", default="http://127.0.0.1:9000", help="the server (default http://127.0.0.1:9000)")
    sign.add_argument("--virtual-host", action="store_true", help="put the bucket in the host name")
    sign.add_argument("--region", default="cn-bj", help="region of the V4 credential scope (default cn-bj)")
    sign.add_argument("--access-key", default="", help="signing key; default: the environment or the data directory")
    sign.add_argument("--secret-key", default="")
    sign.add_argument("--security-token", default="", help="session token of a temporary key")
    sign.add_argument("--data", default="holdall-data", help="data directory whose root key signs by default")
    sign.set_defaults(func=presign)


def _add_admin_commands(commands: Any) -> list[argparse.ArgumentParser]:
    quota = commands.add_parser("quota", help="grant and show quotas").add_subparsers(dest="action", required=True)
    grant = quota.add_parser("grant", help="add quota to an account in a region")
    grant.add_argument("account")
    grant.add_argument("--region", default="cn-bj")
    grant.add_argument("--storage-volume", type=float, default=0, help="GB·day")
    grant.add_argument("--download-traffic", type=float, default=0, help="GB")
    grant.add_argument("--request-count", type=float, default=0, help="units of 10,000 requests")
    grant.set_defaults(func=quota_grant)
    show = quota.add_parser("show", help="show what an account has left")
    show.add_argument("account")
    show.set_defaults(func=quota_show)

    bucket = commands.add_parser("bucket", help="bucket caps").add_subparsers(dest="action", required=True)
    limit = bucket.add_parser("limit", help="cap a bucket's bytes and object count (0: no cap)")
    limit.add_argument("name")
    limit.add_argument("--max-bytes", type=int, default=None)
    limit.add_argument("--max-objects", type=int, default=None)
    limit.set_defaults(func=bucket_limit)
    cors = bucket.add_parser("cors", help="replace a bucket's CORS rules")
    cors.add_argument("name")
    cors.add_argument(
        "rules", help='JSON: [{"AllowedOrigins": ["https://app.example"], "AllowedMethods": ["PUT"], ...}]; [] clears'
    )
    cors.set_defaults(func=bucket_cors)

    project = commands.add_parser("project", help="projects of an account").add_subparsers(dest="action", required=True)
    create = project.add_parser("create", help="create a project and print its ProjectId")
    create.add_argument("account")
    create.add_argument("name")
    create.set_defaults(func=project_create)
    listing = project.add_parser("list", help="list an account's projects")
    listing.add_argument("account")
    listing.set_defaults(func=project_list)
    return [grant, show, limit, cors, create, listing]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="holdall", description="A self-hosted object store.")
    parser.add_argument("--version", action="version", version=f"holdall {importlib.metadata.version('holdall')}")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("serve", help="run the server")
    run.add_argument("--data", default="holdall-data", help="data directory (default ./holdall-data)")
    run.add_argument("--meta", default="", type=_meta_url, help=META_HELP)
    run.add_argument(
        "--blobs",
        default="",
        type=_blobs_url,
        help="blob store: file:///PATH or s3://BUCKET/PREFIX?endpoint=URL&region=R, keys from AWS_ACCESS_KEY_ID and"
        " AWS_SECRET_ACCESS_KEY (default: files under --data)",
    )
    run.add_argument("--listen", type=_listen, default=("127.0.0.1", 9000), help="HOST:PORT (default 127.0.0.1:9000)")
    run.add_argument("--domain", default="localhost", help="<bucket>.<domain> is a bucket host (default localhost)")
    run.add_argument(
        "--access-log",
        default="off",
        type=_access_log,
        help="a JSON line per request: FILE, - (standard output) or off",
    )
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
    run.add_argument(
        "--min-free",
        type=_reserve,
        default=(None, None),
        help="disk space writes leave free, BYTES or PERCENT%% of the volume (default: 5%%, at most 256 MiB)",
    )
    run.add_argument(
        "--head-timeout", type=_positive_seconds, default=10.0, help="seconds a request head may take (default 10)"
    )
    run.add_argument(
        "--keepalive-timeout",
        type=_positive_seconds,
        default=5.0,
        help="seconds an idle kept-alive connection stays open (default 5)",
    )
    run.add_argument(
        "--max-head-bytes", type=_count, default=16384, help="request line and headers, bytes (default 16384)"
    )
    run.add_argument(
        "--max-connections",
        type=_count,
        default=0,
        help="connections per worker (default: half of the open-files limit less 64)",
    )
    run.add_argument("--max-uploads", type=_count, default=256, help="uploads a worker streams at once (default 256)")
    run.add_argument("--graceful-timeout", type=int, default=30, help="seconds in-flight requests get on SIGTERM")
    run.add_argument("--clock-file", default=None, help="file holding seconds to add to the clock (for tests)")
    run.add_argument("--max-tokens", type=int, default=50, help="tokens an account may hold (default 50)")
    run.add_argument(
        "--usage-flush-interval", type=float, default=1.0, help="seconds between writes of usage counts (default 1)"
    )
    run.add_argument("--price-storage-volume", type=float, default=0.72, help="fen per GB·day")
    run.add_argument("--price-download-traffic", type=float, default=40.0, help="fen per GB")
    run.add_argument("--price-request-count", type=float, default=1.0, help="fen per 10,000 requests")
    run.add_argument(
        "--cos-token-lifetime", type=_seconds, default=1800, help="seconds a CreateCosToken key lives (default 1800)"
    )
    run.add_argument("--temp-bucket", default="holdall-temp", help="system bucket of CreateTempFileUploadUrl")
    run.add_argument(
        "--temp-upload-lifetime", type=_seconds, default=900, help="seconds a temporary upload form lives (default 900)"
    )
    run.add_argument(
        "--temp-file-max-age", type=_seconds, default=86400, help="seconds a temporary file is kept (default 86400)"
    )
    run.add_argument("--resource-bucket", default="holdall-resources", help="system bucket of GetResourceUploadUrl")
    run.add_argument("--resource-formats", default="mp3,wav", help="formats GetResourceUploadUrl accepts (mp3,wav)")
    run.add_argument(
        "--resource-pending-max", type=int, default=1000, help="live resource upload URLs per account (default 1000)"
    )
    run.add_argument(
        "--resource-url-lifetime", type=_seconds, default=600, help="seconds a resource upload URL lives (default 600)"
    )
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
    _add_presign_command(commands)
    hosts_command = commands.add_parser("hosts", help="print the /etc/hosts lines that make bucket hosts resolve")
    hosts_command.add_argument("names", nargs="*", help="bucket names to add besides the buckets that exist")
    hosts_command.add_argument("--domain", default="localhost", help="the serve --domain (default localhost)")
    hosts_command.add_argument("--address", default="127.0.0.1", help="the address they resolve to (default 127.0.0.1)")
    hosts_command.add_argument("--write", action="store_true", help="put them into the hosts file instead")
    hosts_command.add_argument(
        "--hosts-file", default="/etc/hosts", help="the file --write changes (default /etc/hosts)"
    )
    hosts_command.set_defaults(func=hosts)
    for sub in (create, listing, disable, hosts_command, *_add_admin_commands(commands)):
        sub.add_argument("--data", default="holdall-data", help="data directory (default ./holdall-data)")
        sub.add_argument("--meta", default="", type=_meta_url, help=META_HELP)

    args = parser.parse_args(argv)
    try:
        args.func(args)
    except KeyboardInterrupt:
        sys.exit(130)

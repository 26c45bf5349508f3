"""The command line's administration: accounts, quotas, bucket caps and CORS, projects, bucket hosts."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import click

from holdall.config import Settings
from holdall.data_dir import open_store
from holdall.data_dir import run_read as _read
from holdall.hosts import host_lines, with_block
from holdall.keys import new_key_pair
from holdall.options import STORE_FLAGS, with_settings
from holdall.service.buckets import DEFAULT_PROJECT, new_project_id
from holdall.service.cors import CorsRuleError, dump_rules, parse_rules
from holdall.service.quotas import UNIT_NAMES, to_raw, to_units
from holdall.store.meta.base import DOWNLOAD_TRAFFIC, REQUEST_COUNT, STORAGE_VOLUME, Account, Bucket, Project
from holdall.store.meta.sql import SqlMetaStore

with_store = with_settings(STORE_FLAGS)


@contextlib.contextmanager
def _opened_meta(settings: Settings) -> Iterator[SqlMetaStore]:
    if not settings.meta_url and not settings.meta_path.exists():
        raise SystemExit(f"holdall: no data directory at {settings.data_dir}; run holdall serve first")
    meta = open_store(settings.meta_target)
    try:
        yield meta
    finally:
        meta.close()


def _account(meta: SqlMetaStore, name: str) -> Account:
    account = _read(meta.account_by_name(name))
    if account is None:
        raise SystemExit(f"holdall: no account {name!r}")
    return account


def _all_buckets(meta: SqlMetaStore, account_id: str) -> list[Bucket]:
    found: list[Bucket] = []
    while page := _read(meta.buckets(account_id, None, len(found), 1000)):
        found += page
    return found


@click.group("account")
def accounts() -> None:
    """Manage accounts."""


@accounts.command("create")
@click.argument("name")
@with_store
def account_create(settings: Settings, name: str) -> None:
    """Create an account and print its key pair."""
    with _opened_meta(settings) as meta:
        if _read(meta.account_by_name(name)) is not None:
            raise SystemExit(f"holdall: account {name!r} exists already")
        pair = new_key_pair()
        meta.create_account_sync(
            Account(uuid.uuid4().hex, name, pair.public_key, pair.private_key, False, int(time.time()))
        )
    print(f"account {name}")
    print(f"  public key:  {pair.public_key}")
    print(f"  private key: {pair.private_key}")


@accounts.command("list")
@with_store
def account_list(settings: Settings) -> None:
    """List accounts."""
    with _opened_meta(settings) as meta:
        for account in _read(meta.accounts()):
            state = "disabled" if account.disabled else "active"
            print(f"{account.name}\t{account.public_key}\t{state}")


@accounts.command("disable")
@click.argument("name")
@click.option("--enable", is_flag=True, help="enable it again")
@with_store
def account_disable(settings: Settings, name: str, enable: bool) -> None:
    """Disable an account: its keys stop working at once."""
    with _opened_meta(settings) as meta:
        if not meta.set_account_disabled_sync(name, not enable):
            raise SystemExit(f"holdall: no account {name!r}")
    print(f"account {name} {'enabled' if enable else 'disabled'}")


@click.group("quota")
def quotas() -> None:
    """Grant and show quotas."""


@quotas.command("grant")
@click.argument("account")
@click.option("--region", default="cn-bj", show_default=True, help="where the quota is spent")
@click.option("--storage-volume", type=float, default=0, help="GB·day")
@click.option("--download-traffic", type=float, default=0, help="GB")
@click.option("--request-count", type=float, default=0, help="units of 10,000 requests")
@with_store
def quota_grant(
    settings: Settings, account: str, region: str, storage_volume: float, download_traffic: float, request_count: float
) -> None:
    """Add quota to an account in a region."""
    amounts = {STORAGE_VOLUME: storage_volume, DOWNLOAD_TRAFFIC: download_traffic, REQUEST_COUNT: request_count}
    given = {quota_type: to_raw(quota_type, units) for quota_type, units in amounts.items() if units}
    if not given:
        raise SystemExit("holdall: give --storage-volume, --download-traffic or --request-count")
    with _opened_meta(settings) as meta:
        meta.add_quota_sync(_account(meta, account).id, region, given)
    _show_quota(settings, account)


@quotas.command("show")
@click.argument("account")
@with_store
def quota_show(settings: Settings, account: str) -> None:
    """Show what an account has left."""
    _show_quota(settings, account)


def _show_quota(settings: Settings, account: str) -> None:
    with _opened_meta(settings) as meta:
        found = _read(meta.quotas(_account(meta, account).id))
    if not found:
        print(f"account {account}: no quota set, unlimited")
    for (region, quota_type), raw in sorted(found.items()):
        print(f"{account}\t{region}\t{quota_type}\t{to_units(quota_type, raw):.6g} {UNIT_NAMES[quota_type]} left")


@click.group("bucket")
def buckets() -> None:
    """Bucket caps and CORS rules."""


@buckets.command("limit")
@click.argument("name")
@click.option("--max-bytes", type=int, default=None)
@click.option("--max-objects", type=int, default=None)
@with_store
def bucket_limit(settings: Settings, name: str, max_bytes: int | None, max_objects: int | None) -> None:
    """Cap a bucket's bytes and object count (0: no cap)."""
    with _opened_meta(settings) as meta:
        bucket = _read(meta.bucket(name))
        if bucket is None:
            raise SystemExit(f"holdall: no bucket {name!r}")
        max_bytes = bucket.max_bytes if max_bytes is None else max_bytes
        max_objects = bucket.max_objects if max_objects is None else max_objects
        meta.set_bucket_caps_sync(bucket.name, max_bytes, max_objects)
    print(f"bucket {name}: at most {max_bytes or 'any number of'} bytes, {max_objects or 'any number of'} objects")


@buckets.command("cors")
@click.argument("name")
@click.argument("rules")
@with_store
def bucket_cors(settings: Settings, name: str, rules: str) -> None:
    """Replace a bucket's CORS rules with RULES, in JSON:
    [{"AllowedOrigins": ["https://app.example"], "AllowedMethods": ["PUT"], ...}]; [] clears them."""
    try:
        parsed = parse_rules(rules)
    except CorsRuleError as problem:
        raise SystemExit(f"holdall: {problem}") from None
    with _opened_meta(settings) as meta:
        if _read(meta.bucket(name)) is None:
            raise SystemExit(f"holdall: no bucket {name!r}")
        meta.set_bucket_cors_sync(name, dump_rules(parsed) if parsed else "")
    print(f"bucket {name}: {len(parsed)} CORS rule(s)")


@click.group("project")
def projects() -> None:
    """Projects of an account."""


@projects.command("create")
@click.argument("account")
@click.argument("name")
@with_store
def project_create(settings: Settings, account: str, name: str) -> None:
    """Create a project and print its ProjectId."""
    with _opened_meta(settings) as meta:
        project = Project(new_project_id(), _account(meta, account).id, name, int(time.time()))
        meta.create_project_sync(project)
    print(f"project {project.id} ({name}) of account {account}")


@projects.command("list")
@click.argument("account")
@with_store
def project_list(settings: Settings, account: str) -> None:
    """List an account's projects."""
    with _opened_meta(settings) as meta:
        found = _read(meta.projects(_account(meta, account).id))
    print(f"{DEFAULT_PROJECT}\t(the default project)")
    for project in found:
        print(f"{project.id}\t{project.name}")


@click.command("hosts")
@click.argument("names", nargs=-1)
@click.option("--domain", default="localhost", show_default=True, help="the serve --domain")
@click.option("--address", default="127.0.0.1", show_default=True, help="the address they resolve to")
@click.option("--write", is_flag=True, help="put them into the hosts file instead")
@click.option("--hosts-file", default="/etc/hosts", show_default=True, help="the file --write changes")
@with_store
def hosts(settings: Settings, names: tuple[str, ...], domain: str, address: str, write: bool, hosts_file: str) -> None:
    """Print the /etc/hosts lines that make bucket hosts resolve.

    One line for each bucket that exists and for each of NAMES."""
    with _opened_meta(settings) as meta:
        found = [bucket.name for account in _read(meta.accounts()) for bucket in _all_buckets(meta, account.id)]
    lines = host_lines([*found, *names], domain.lower(), address)
    if not write:
        print("\n".join(lines))
        return
    path = Path(hosts_file)
    try:
        text = path.read_text() if path.exists() else ""
        path.write_text(with_block(text, lines))
    except OSError as problem:
        raise SystemExit(
            f"holdall: cannot write {path}: {problem.strerror} (run it as root, or print the lines)"
        ) from None
    print(f"holdall: {len(lines)} bucket host(s) in {path}")


def register(group: click.Group) -> None:
    """Add the administration commands to the main ``holdall`` group."""
    for command in (accounts, quotas, buckets, projects, hosts):
        group.add_command(command)

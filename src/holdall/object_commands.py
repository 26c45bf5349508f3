"""The command line's object verbs: aliases, buckets, listings, copies, removal, and the root keys.

Remote paths read ``ALIAS/BUCKET/KEY``. Every verb takes ``--json``: one JSON object a line on
standard output, results and errors alike.
"""

from __future__ import annotations

import os
import shlex
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import click

from holdall.cli_session import EXIT_CODES, Failure, Remote, Session, attempt, one_line, verb
from holdall.client import aliases, transfer
from holdall.client.aliases import Alias, AliasError
from holdall.client.s3 import DEFAULT_REGION, ObjectInfo, RequestError, S3Client

DELETE_BATCH = 1000


def _size(count: int) -> str:
    if count < 1024:
        return f"{count} B"
    value, units = count / 1024, ["KiB", "MiB", "GiB", "TiB"]
    while value >= 1024 and len(units) > 1:
        value, units = value / 1024, units[1:]
    return f"{value:.1f} {units[0]}"


def _time(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _folder(key: str) -> str:
    return key if not key or key.endswith("/") else key + "/"


def _head(client: S3Client, remote: Remote) -> ObjectInfo:
    """The object's HEAD; a 404 says whether the bucket or the key is missing."""
    try:
        return client.head_object(remote.bucket, remote.key)
    except RequestError as problem:
        if problem.status == 404:
            client.head_bucket(remote.bucket)
        raise


# ----------------------------------------------------------------- aliases and keys


@click.group("alias", epilog=EXIT_CODES)
def alias_group() -> None:
    """Name servers and the keys to use there.

    Aliases are kept in $XDG_CONFIG_HOME/holdall/config.toml (mode 0600). The alias local is
    http://127.0.0.1:9000 with the root keys from HOLDALL_ACCESS_KEY and HOLDALL_SECRET_KEY, or else
    from the data directory (--data of alias ls and of the verbs that reach a server), unless set
    otherwise here.
    """


@verb("set", remote=False)
@click.argument("name")
@click.argument("url")
@click.argument("access_key")
@click.argument("secret_key", required=False)
@click.option("--region", default=DEFAULT_REGION, show_default=True, help="Region to sign requests for.")
def alias_set(session: Session, name: str, url: str, access_key: str, secret_key: str | None, region: str) -> None:
    """Add or replace an alias: NAME for the server at URL.

    Without SECRET_KEY, it is asked for on a terminal (not echoed) or read as a line of standard
    input, so it stays out of the shell's history and the process list."""
    if secret_key is None:
        secret_key = _secret_from_input()
    try:
        alias = Alias(aliases.check_name(name), aliases.check_url(url), access_key, secret_key, region)
    except ValueError as problem:
        raise click.UsageError(str(problem)) from None
    with attempt(f"alias set {name}"):
        known = aliases.load()
        known[name] = alias
        path = aliases.save(known)
    session.success(f"Added {name} ({alias.url}) to {path}.", alias=name, url=alias.url, region=region)


def _secret_from_input() -> str:
    if sys.stdin.isatty():
        secret: str = click.prompt("Secret key", hide_input=True, err=True)
        return secret
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise click.UsageError("give SECRET_KEY, or a line of standard input holding it")
    return line


@verb("ls")
def alias_list(session: Session) -> None:
    """List the aliases, local included."""
    with attempt("alias ls"):
        known = aliases.load()
    if aliases.LOCAL not in known:
        try:
            access = aliases.resolve(aliases.LOCAL, session.data).access_key
        except AliasError:
            access = ""
        known[aliases.LOCAL] = Alias(aliases.LOCAL, aliases.LOCAL_URL, access, "")
    for alias in sorted(known.values(), key=lambda alias: alias.name):
        shown = alias.access_key or "(no keys found)"
        session.success(
            f"{alias.name}\t{alias.url}\t{shown}\t{alias.region}",
            alias=alias.name,
            url=alias.url,
            accessKey=alias.access_key,
            region=alias.region,
        )


@verb("rm", remote=False)
@click.argument("name")
def alias_remove(session: Session, name: str) -> None:
    """Remove an alias (local then means this machine's server again)."""
    with attempt(f"alias rm {name}"):
        known = aliases.load()
        if known.pop(name, None) is None:
            raise AliasError(f"no alias {name!r} in {aliases.config_path()}")
        aliases.save(known)
    session.success(f"Removed {name}.", alias=name)


@verb("credentials")
@click.option("--export", is_flag=True, help="Print shell lines that set HOLDALL_ACCESS_KEY and HOLDALL_SECRET_KEY.")
def credentials(session: Session, export: bool) -> None:
    """Show the root keys again.

    They come from HOLDALL_ACCESS_KEY and HOLDALL_SECRET_KEY, or else from the data directory's
    credentials file, as holdall serve takes them.

    eval "$(holdall credentials --export)" puts them in the environment.
    """
    with attempt("credentials"):
        access, secret, source = aliases.root_keys(session.data)
    if export and not session.as_json:
        print(f"export HOLDALL_ACCESS_KEY={shlex.quote(access)}\nexport HOLDALL_SECRET_KEY={shlex.quote(secret)}")
        return
    text = f"access key: {access}\nsecret key: {secret}\n(from {source})"
    session.success(text, accessKey=access, secretKey=secret, source=source)


# ----------------------------------------------------------------- buckets


@verb("mb")
@click.argument("target")
@click.option("--ignore-existing", is_flag=True, help="Succeed when the bucket is yours already.")
def make_bucket(session: Session, target: str, ignore_existing: bool) -> None:
    """Make a bucket: ALIAS/BUCKET."""
    remote = session.remote(target, "mb", key=False)
    with attempt(f"mb {remote}"):
        try:
            session.client(remote.alias).make_bucket(remote.bucket)
        except RequestError as problem:
            if not (ignore_existing and problem.code == "BucketAlreadyOwnedByYou"):
                raise
    session.success(f"Made bucket {remote}.", bucket=str(remote))


@verb("rb")
@click.argument("target")
@click.option("--force", is_flag=True, help="Remove its objects and unfinished uploads first.")
def remove_bucket(session: Session, target: str, force: bool) -> None:
    """Remove a bucket: ALIAS/BUCKET.

    The bucket must be empty, unless --force is given.
    """
    remote = session.remote(target, "rb", key=False)
    with attempt(f"rb {remote}"):
        client = session.client(remote.alias)
        if force:
            _remove_under(session, client, remote)
            for key, upload_id in client.list_uploads(remote.bucket):
                client.abort_upload(remote.bucket, key, upload_id)
        if not session.failed:
            client.remove_bucket(remote.bucket)
    if session.failed:
        return
    session.success(f"Removed bucket {remote}.", bucket=str(remote))


# ----------------------------------------------------------------- listings


@verb("ls")
@click.argument("target")
@click.option("--recursive", "-r", is_flag=True, help="Every key below, not one level.")
def list_command(session: Session, target: str, recursive: bool) -> None:
    """List buckets or objects.

    ALIAS lists its buckets; ALIAS/BUCKET[/PREFIX] lists the objects one level deep, with the folders
    below as PRE, or with --recursive every key below.
    """
    remote = session.remote(target, "ls", bucket=False)
    with attempt(f"ls {remote}"):
        client = session.client(remote.alias)
        if not remote.bucket:
            for bucket in client.list_buckets():
                session.success(
                    f"[{_time(bucket.created)}] {'':>10}  {one_line(bucket.name)}/",
                    type="bucket",
                    key=bucket.name,
                    lastModified=_iso(bucket.created),
                )
            return
        shown_from = remote.key.rfind("/") + 1
        for entry in client.list_objects(remote.bucket, remote.key, "" if recursive else "/"):
            if isinstance(entry, str):
                session.success(f"{'':25} {'PRE':>10}  {one_line(entry[shown_from:])}", type="folder", key=entry)
                continue
            session.success(
                f"[{_time(entry.modified)}] {_size(entry.size):>10}  {one_line(entry.key[shown_from:])}",
                type="file",
                key=entry.key,
                size=entry.size,
                etag=entry.etag,
                lastModified=_iso(entry.modified),
            )


@verb("stat")
@click.argument("target")
def stat_command(session: Session, target: str) -> None:
    """Show an object or a bucket.

    ALIAS/BUCKET/KEY shows the object's size, ETag, type, last modified time and user metadata;
    ALIAS/BUCKET shows the bucket's region.
    """
    remote = session.remote(target, "stat")
    with attempt(f"stat {remote}"):
        client = session.client(remote.alias)
        if not remote.key:
            region = client.head_bucket(remote.bucket)
            session.success(f"Bucket  : {remote.bucket}\nRegion  : {region}", type="bucket", name=remote.bucket)
            return
        info = _head(client, remote)
    lines = [
        f"Name      : {info.key}",
        f"Size      : {_size(info.size)} ({info.size} bytes)",
        f"ETag      : {info.etag}",
        f"Type      : {info.content_type}",
        f"Modified  : {_time(info.modified)}",
        *(["Metadata  :"] if info.metadata else []),
        *(f"  {name}: {value}" for name, value in sorted(info.metadata.items())),
    ]
    session.success(
        "\n".join(lines),
        type="object",
        key=info.key,
        size=info.size,
        etag=info.etag,
        contentType=info.content_type,
        lastModified=_iso(info.modified),
        metadata=info.metadata,
    )


@verb("cat")
@click.argument("target")
def cat_command(session: Session, target: str) -> None:
    """Write an object to standard output: ALIAS/BUCKET/KEY."""
    remote = session.remote(target, "cat", key=True)
    with attempt(f"cat {remote}"):
        client = session.client(remote.alias)
        try:
            response = client.get_object(remote.bucket, remote.key)
        except RequestError as problem:
            if problem.code == "NoSuchKey":
                client.head_bucket(remote.bucket)
            raise
        try:
            for chunk in response.stream(transfer.READ_CHUNK, decode_content=False):
                sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()
        finally:
            response.release_conn()


# ----------------------------------------------------------------- removal


@verb("rm")
@click.argument("target")
@click.option("--recursive", "-r", is_flag=True, help="Remove every key below ALIAS/BUCKET[/PREFIX].")
def remove_command(session: Session, target: str, recursive: bool) -> None:
    """Remove objects.

    Removes ALIAS/BUCKET/KEY, or with --recursive every object below ALIAS/BUCKET[/PREFIX] (the prefix
    taken as a folder), 1,000 a request.
    """
    remote = session.remote(target, "rm", key=None if recursive else True)
    with attempt(f"rm {remote}"):
        client = session.client(remote.alias)
        if recursive:
            _remove_under(session, client, remote)
            return
        _head(client, remote)
        client.delete_object(remote.bucket, remote.key)
    session.success(f"Removed {remote}.", key=str(remote))


def _remove_under(session: Session, client: S3Client, remote: Remote) -> None:
    """Deletes every key below the prefix (as a folder), 1,000 a request."""
    prefix = _folder(remote.key)
    with attempt(f"rm {remote.child(prefix)}"):
        keys = [entry.key for entry in client.list_objects(remote.bucket, prefix) if isinstance(entry, ObjectInfo)]
        for start in range(0, len(keys), DELETE_BATCH):
            batch = keys[start : start + DELETE_BATCH]
            refused = dict(client.delete_objects(remote.bucket, batch))
            for key in batch:
                if key in refused:
                    session.failure(Failure(f"rm {remote.child(key)}", refused[key].code, refused[key].message))
                else:
                    session.success(f"Removed {remote.child(key)}.", key=str(remote.child(key)))


# ----------------------------------------------------------------- copies


@dataclass(frozen=True, slots=True)
class Job:
    source: str
    target: str
    size: int
    run: Callable[[transfer.Progress], transfer.Copied]


@verb("cp")
@click.argument("source")
@click.argument("target")
@click.option("--recursive", "-r", is_flag=True, help="Copy a directory tree, or every key below a prefix.")
def copy_command(session: Session, source: str, target: str, recursive: bool) -> None:
    """Copy files and objects.

    Copies a file to an object, an object to a file, or an object to an object on the same server.
    A TARGET ending in / (or an existing directory) is a folder: the source's name is added. With
    --recursive, the files below SOURCE (or the keys below the prefix SOURCE) go below TARGET, their
    names joined with /. Large files go up in parts, several at a time; an interrupted upload of the
    same file to the same key resumes where it stopped.
    """
    from_remote, to_remote = session.is_remote(source), session.is_remote(target)
    if not from_remote and not to_remote:
        raise click.UsageError("cp copies to or from ALIAS/BUCKET/KEY; one of SOURCE and TARGET must be remote")
    with attempt(f"cp {source}"):
        if not from_remote:
            jobs = _uploads(session, Path(source), session.remote(target, "cp"), recursive)
        elif not to_remote:
            jobs = _downloads(session, session.remote(source, "cp"), target, recursive)
        else:
            jobs = _copies(session, session.remote(source, "cp"), session.remote(target, "cp"), recursive)
    _run(session, jobs)


def _uploads(session: Session, source: Path, target: Remote, recursive: bool) -> list[Job]:
    client = session.client(target.alias)
    if source.is_dir():
        if not recursive:
            raise click.UsageError(f"{source} is a directory: give --recursive")
        prefix = _folder(target.key)
        pairs = [(path, prefix + relative) for path, relative in transfer.local_tree(source)]
    else:
        key = target.key if target.key and not target.key.endswith("/") else target.key + source.name
        pairs = [(source, key)]
    jobs = []
    for path, key in pairs:
        remote = target.child(key)
        try:
            key.encode()
        except UnicodeEncodeError:
            session.failure(Failure(f"cp {path}", "InvalidName", "the file name is not UTF-8"))
            continue
        jobs.append(_upload(client, path, remote))
    return jobs


def _upload(client: S3Client, path: Path, target: Remote) -> Job:
    def run(progress: transfer.Progress) -> transfer.Copied:
        return transfer.upload_file(client, path, target.bucket, target.key, progress=progress)

    return Job(str(path), str(target), path.stat().st_size, run)


def _downloads(session: Session, source: Remote, target: str, recursive: bool) -> list[Job]:
    client = session.client(source.alias)
    folder = Path(target)
    if recursive:
        prefix = _folder(source.key)
        listed = [item for item in client.list_objects(source.bucket, prefix) if isinstance(item, ObjectInfo)]
        jobs = []
        for info in listed:
            relative = info.key[len(prefix) :]
            if relative.endswith("/") and info.size == 0:
                continue  # a folder marker
            try:
                path = transfer.local_path(folder, relative)
            except ValueError as problem:
                session.failure(Failure(f"cp {source.child(info.key)}", "InvalidName", str(problem)))
                continue
            jobs.append(_download(client, source.child(info.key), path, info.size, folder))
        if listed or not source.key:
            return jobs
    if not source.key or source.key.endswith("/"):
        raise click.UsageError(f"{source} names no object: give ALIAS/BUCKET/KEY, or --recursive")
    info = _head(client, source)
    if folder.is_dir() or target.endswith(os.sep):
        folder = folder / source.key.rpartition("/")[2]
    return [_download(client, source, folder, info.size, folder.parent)]


def _download(client: S3Client, source: Remote, path: Path, size: int, below: Path) -> Job:
    """``path`` is written below the folder ``below``, through no link under it."""

    def run(progress: transfer.Progress) -> transfer.Copied:
        return transfer.download_file(client, source.bucket, source.key, path, below=below, progress=progress)

    return Job(str(source), str(path), size, run)


def _copies(session: Session, source: Remote, target: Remote, recursive: bool) -> list[Job]:
    if session.alias(source.alias).url != session.alias(target.alias).url:
        raise RequestError("NotImplemented", "copies between two servers are not supported; copy through a file")
    client = session.client(source.alias)
    if recursive:
        prefix, into = _folder(source.key), _folder(target.key)
        listed = [item for item in client.list_objects(source.bucket, prefix) if isinstance(item, ObjectInfo)]
        pairs = [(info.key, into + info.key[len(prefix) :], info.size) for info in listed]
    else:
        info = _head(client, source)
        key = target.key if target.key and not target.key.endswith("/") else target.key + info.key.rpartition("/")[2]
        pairs = [(info.key, key, info.size)]

    def job(src_key: str, key: str, size: int) -> Job:
        def run(progress: transfer.Progress) -> transfer.Copied:
            etag = client.copy_object(source.bucket, src_key, target.bucket, key)
            progress(size)
            return transfer.Copied(size, etag)

        return Job(str(source.child(src_key)), str(target.child(key)), size, run)

    return [job(*pair) for pair in pairs]


def _run(session: Session, jobs: list[Job]) -> None:
    """Small copies several at a time, then large ones one by one (each sends its parts in parallel)."""
    small = [job for job in jobs if job.size <= transfer.THRESHOLD]
    large = [job for job in jobs if job.size > transfer.THRESHOLD]
    with session.progress(sum(job.size for job in jobs)) as progress:
        pool = ThreadPoolExecutor(transfer.PARALLEL)
        try:
            futures = {pool.submit(_copy, job, progress): job for job in small}
            for future in as_completed(futures):
                _report(session, futures[future], future.result())
        finally:
            pool.shutdown(cancel_futures=True)  # on Ctrl-C, no new copy starts
        for job in large:
            _report(session, job, _copy(job, progress))


def _copy(job: Job, progress: transfer.Progress) -> tuple[transfer.Copied, float] | Failure:
    started = time.monotonic()
    try:
        with attempt(f"cp {job.source} {job.target}"):
            copied = job.run(progress)
    except Failure as failure:
        return failure
    return copied, time.monotonic() - started


def _report(session: Session, job: Job, outcome: tuple[transfer.Copied, float] | Failure) -> None:
    if isinstance(outcome, Failure):
        session.failure(outcome)
        return
    copied, seconds = outcome
    reused = f", {copied.reused} of {copied.parts} parts were already there" if copied.reused else ""
    session.success(
        f"{job.source} -> {job.target}: {_size(copied.size)} in {seconds:.1f} s{reused}",
        source=job.source,
        target=job.target,
        size=copied.size,
        etag=copied.etag,
        parts=copied.parts,
        partsReused=copied.reused,
        seconds=round(seconds, 3),
    )


COMMANDS = (
    alias_group,
    make_bucket,
    remove_bucket,
    list_command,
    copy_command,
    remove_command,
    cat_command,
    stat_command,
    credentials,
)
for _command in (alias_set, alias_list, alias_remove):
    alias_group.add_command(_command)


def register(group: click.Group) -> None:
    """Add the object verbs to the main ``holdall`` group."""
    for command in COMMANDS:
        group.add_command(command)

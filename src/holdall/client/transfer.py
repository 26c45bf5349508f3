"""Copies between files and objects: single PUTs for small files, parallel multipart uploads that resume
after an interruption, and downloads that appear under their name only once complete and checked."""

from __future__ import annotations

import contextlib
import hashlib
import json
import mimetypes
import os
import secrets
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import urllib3

from holdall.client.s3 import Body, Part, RequestError, S3Client

MiB = 1024 * 1024
MIN_PART = 5 * MiB
BLOCK = 4 * MiB
"""Parts are whole 4 MiB blocks, so the server derives the object's UFile ETag from the parts' own."""
MAX_PARTS = 10_000
PART_SIZE = 16 * MiB
THRESHOLD = PART_SIZE
"""Files up to this size go in one PUT; larger ones in parts."""
PARALLEL = 4
"""Measured with ``bench/cp.py --sweep`` against a local server on 2 cores: 256 MiB go up at 236 MiB/s
in parts of 16 MiB sent 4 at a time, 198 two at a time, 152 one at a time, 166 in a single PUT; 8 at a
time gain 5 % for twice the memory; 8, 32 and 64 MiB parts are as fast, so 16 MiB keeps resumes
fine-grained with 64 MiB in flight. A 24 MiB file goes up in 0.13 s in parts against 0.15 s in one
PUT; at 16 MiB (one part) the PUT is a little faster (0.09 s against 0.10)."""
READ_CHUNK = MiB

Progress = Callable[[int], None]


def no_progress(count: int) -> None:
    pass


@dataclass(frozen=True, slots=True)
class Copied:
    size: int
    etag: str
    parts: int = 0
    """Parts of a multipart upload (0 for a single request)."""
    reused: int = 0
    """Parts a resumed upload found already stored and did not send again."""


def part_size_for(size: int, wanted: int = PART_SIZE) -> int:
    """``wanted``, raised to fit ``size`` in 10,000 parts and to at least 5 MiB, in whole 4 MiB blocks."""
    least = max(wanted, MIN_PART, -(-size // MAX_PARTS))
    return -(-least // BLOCK) * BLOCK


def multipart_etag(md5s: list[str]) -> str:
    return hashlib.md5(b"".join(bytes.fromhex(md5) for md5 in md5s)).hexdigest() + f"-{len(md5s)}"


def uploads_dir() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "holdall" / "uploads"


@dataclass(frozen=True, slots=True)
class _State:
    """What an interrupted upload needs to resume, kept in a file named by its destination and source."""

    path: Path
    upload_id: str = ""
    part_size: int = 0

    @classmethod
    def find(cls, client: S3Client, bucket: str, key: str, source: Path, stat: os.stat_result) -> _State:
        identity = [client.endpoint, bucket, key, str(source.resolve()), stat.st_size, stat.st_mtime_ns]
        name = hashlib.sha256(json.dumps(identity).encode()).hexdigest()[:32]
        path = uploads_dir() / f"{name}.json"
        try:
            saved = json.loads(path.read_text())
            upload_id, part_size = str(saved["upload_id"]), int(saved["part_size"])
        except (OSError, ValueError, KeyError, TypeError):
            return cls(path)
        return cls(path, upload_id, part_size) if upload_id and part_size >= MIN_PART else cls(path)

    def save(self, **described: object) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = self.path.with_suffix(f".{secrets.token_hex(4)}.tmp")
        temporary.write_text(json.dumps({"upload_id": self.upload_id, "part_size": self.part_size, **described}))
        os.replace(temporary, self.path)

    def forget(self) -> None:
        self.path.unlink(missing_ok=True)


def upload_file(
    client: S3Client,
    source: Path,
    bucket: str,
    key: str,
    *,
    progress: Progress = no_progress,
    threshold: int = THRESHOLD,
    part_size: int = PART_SIZE,
    parallel: int = PARALLEL,
) -> Copied:
    """Copies a file to ``bucket/key``: in one PUT up to ``threshold`` bytes, else in parts sent
    ``parallel`` at a time, resuming an upload of the same file that was interrupted."""
    stat = source.stat()
    content_type = mimetypes.guess_type(source.name)[0] or ""
    if stat.st_size <= threshold:
        body = Body.of(source.read_bytes())
        if len(body.data) != stat.st_size:
            raise RequestError("SourceChanged", f"{source} changed while it was read")
        etag = client.put_object(bucket, key, body, content_type)
        progress(stat.st_size)
        return Copied(stat.st_size, etag)
    state = _State.find(client, bucket, key, source, stat)
    try:
        return _multipart(client, source, stat, bucket, key, state, content_type, progress, part_size, parallel)
    except RequestError as problem:
        if problem.code != "NoSuchUpload" or not state.upload_id:
            raise
    state.forget()  # the saved upload was aborted or swept meanwhile: start over
    fresh = _State(state.path)
    return _multipart(client, source, stat, bucket, key, fresh, content_type, progress, part_size, parallel)


def _multipart(
    client: S3Client,
    source: Path,
    stat: os.stat_result,
    bucket: str,
    key: str,
    state: _State,
    content_type: str,
    progress: Progress,
    part_size: int,
    parallel: int,
) -> Copied:
    stored: dict[int, Part] = {}
    if state.upload_id:
        stored = {part.number: part for part in client.list_parts(bucket, key, state.upload_id)}
    else:
        upload_id = client.create_upload(bucket, key, content_type)
        state = _State(state.path, upload_id, part_size_for(stat.st_size, part_size))
        state.save(bucket=bucket, key=key, source=str(source.resolve()), size=stat.st_size)
    size, upload_id = stat.st_size, state.upload_id
    count = max(1, -(-size // state.part_size))

    def send(fd: int, number: int) -> tuple[str, bool]:
        offset = (number - 1) * state.part_size
        data = os.pread(fd, min(state.part_size, size - offset), offset)
        known = stored.get(number)
        if known is not None and known.size == len(data) and known.etag == hashlib.md5(data).hexdigest():
            progress(len(data))
            return known.etag, True
        etag = client.upload_part(bucket, key, upload_id, number, Body.of(data))
        progress(len(data))
        return etag, False

    fd = os.open(source, os.O_RDONLY)
    pool = ThreadPoolExecutor(parallel, thread_name_prefix="part")
    try:
        futures: list[Future[tuple[str, bool]]] = [pool.submit(send, fd, n) for n in range(1, count + 1)]
        results = [future.result() for future in futures]
    finally:
        pool.shutdown(cancel_futures=True)
        os.close(fd)
    now = source.stat()
    if (now.st_size, now.st_mtime_ns) != (stat.st_size, stat.st_mtime_ns):
        raise RequestError("SourceChanged", f"{source} changed while it was copied")
    etags = [etag for etag, _ in results]
    etag = client.complete_upload(bucket, key, upload_id, list(enumerate(etags, 1)))
    state.forget()
    if etag != multipart_etag(etags):
        raise RequestError(
            "BadDigest", f"the server made ETag {etag} of parts whose ETags make {multipart_etag(etags)}"
        )
    return Copied(size, etag, count, sum(reused for _, reused in results))


def download_file(
    client: S3Client,
    bucket: str,
    key: str,
    target: Path,
    *,
    below: Path | None = None,
    progress: Progress = no_progress,
) -> Copied:
    """Copies ``bucket/key`` to ``target`` through a temporary file beside it, renamed into place once
    the byte count (and the MD5, when the ETag is one) is checked. The folders between ``below`` (by
    default the target's own folder) and the target are made as needed and never followed as links.
    The bytes are saved as stored: a Content-Encoding is not decoded."""
    below = below or target.parent
    folder = open_folder(below, target.relative_to(below).parent.parts)
    temporary = f".{target.name}.{secrets.token_hex(4)}.holdall"
    try:
        response = client.get_object(bucket, key)
        try:
            size, etag = _length(response.headers.get("content-length", "")), response.headers.get("etag", "")
            etag = etag.strip('"')
            md5 = hashlib.md5() if len(etag) == 32 else None
            received = 0
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            with open(os.open(temporary, flags, 0o666, dir_fd=folder), "wb") as out:
                for chunk in response.stream(READ_CHUNK, decode_content=False):
                    received += len(chunk)
                    if received > size:
                        raise RequestError("IncompleteBody", f"the server sent more than the {size} bytes it named")
                    out.write(chunk)
                    if md5 is not None:
                        md5.update(chunk)
                    progress(len(chunk))
            if received != size:
                raise RequestError("IncompleteBody", f"received {received} bytes of {size}")
            if md5 is not None and md5.hexdigest() != etag:
                raise RequestError("BadDigest", f"the bytes received have MD5 {md5.hexdigest()}, not the ETag {etag}")
            os.replace(temporary, target.name, src_dir_fd=folder, dst_dir_fd=folder)
            return Copied(size, etag)
        except urllib3.exceptions.HTTPError as problem:
            raise RequestError("ConnectionFailed", f"the download broke off: {type(problem).__name__}") from None
        finally:
            response.release_conn()
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary, dir_fd=folder)
        os.close(folder)


def _length(value: str) -> int:
    if not value.isascii() or not value.isdigit():
        raise RequestError("InvalidResponse", "the server's reply names no length; holdall downloads need one")
    return int(value)


def open_folder(root: Path, below: tuple[str, ...]) -> int:
    """A descriptor of the folder ``root``/``below``, its parts below ``root`` made as needed and never
    followed as symbolic links (one planted in a shared download folder could point a write anywhere)."""
    root.mkdir(parents=True, exist_ok=True)
    folder = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for depth, part in enumerate(below, 1):
            with contextlib.suppress(FileExistsError):
                os.mkdir(part, 0o777, dir_fd=folder)
            try:
                inner = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=folder)
            except OSError:
                where = root.joinpath(*below[:depth])
                problem = f"{where} is a link or not a folder: nothing is written through it"
                raise RequestError("UnsafePath", problem) from None
            os.close(folder)
            folder = inner
        return folder
    except BaseException:
        os.close(folder)
        raise


def local_tree(root: Path) -> list[tuple[Path, str]]:
    """Every file under ``root`` (links to directories are not followed) with its path below ``root``
    written with ``/``, in name order."""
    found = []
    for folder, folders, files in os.walk(root):
        folders.sort()
        for name in sorted(files):
            path = Path(folder, name)
            if path.is_file():
                found.append((path, path.relative_to(root).as_posix()))
    return found


def local_path(root: Path, relative: str) -> Path:
    """Where the object named ``relative`` below a copied prefix goes under ``root``; ValueError for a
    name that would land outside it or cannot be a file name."""
    parts = relative.split("/")
    if any(part in ("", ".", "..") or "\0" in part for part in parts):
        raise ValueError(f"{relative!r} cannot be a path below {root}")
    return root.joinpath(*parts)

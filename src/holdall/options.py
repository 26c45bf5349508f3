"""The ``holdall serve`` flags, described once: parsed into :class:`Settings`, shown by ``--help``,
and rendered as the README's options table (``python -m holdall.options --write-readme``)."""

from __future__ import annotations

import functools
import importlib.util
import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import click

from holdall.config import DEFAULT_RESERVE, Settings
from holdall.parsing import is_ascii_uint
from holdall.service.formats import SIGNATURES

LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
README = Path(__file__).resolve().parents[2] / "README.md"
TABLE_START = "<!-- options-table:start -->"
TABLE_END = "<!-- options-table:end -->"
REGENERATE = "python -m holdall.options --write-readme"


def _listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not is_ascii_uint(port, 5) or not 0 < int(port) < 65536:
        raise click.BadParameter("expected HOST:PORT, for example 127.0.0.1:9000")
    return host or "127.0.0.1", int(port)


def _seconds(value: str) -> int:
    if not is_ascii_uint(value):
        raise click.BadParameter("expected a number of seconds")
    return int(value)


def _positive_seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds < 86400:
        raise click.BadParameter("expected a number of seconds between 0 and 86400")
    return seconds


def _count(value: str) -> int:
    if not is_ascii_uint(value, 12):
        raise click.BadParameter("expected a whole number")
    return int(value)


def _at_least(low: int) -> Callable[[str], int]:
    """A whole number; one below ``low`` counts as ``low``."""

    def parse(value: str) -> int:
        return max(low, _count(value))

    return parse


def _fen(value: str) -> float:
    try:
        price = float(value)
    except ValueError:
        price = -1.0
    if not (price >= 0 and math.isfinite(price)):
        raise click.BadParameter("expected a price in fen, such as 0.72")
    return price


def _reserve(value: str) -> tuple[int | None, float | None]:
    """``BYTES`` or ``PERCENT%`` of the volume."""
    if value.endswith("%") and is_ascii_uint(value[:-1].replace(".", "", 1), 6) and float(value[:-1]) < 100:
        return None, float(value[:-1])
    if is_ascii_uint(value, 18):
        return int(value), None
    raise click.BadParameter("expected a number of bytes or a percentage such as 5%")


def _access_log(value: str) -> str:
    if value in ("off", "-"):
        return value
    path = Path(value).resolve()
    writable = os.access(path, os.W_OK) if path.exists() else os.access(path.parent, os.W_OK | os.X_OK)
    if path.is_dir() or not writable:
        raise click.BadParameter(f"cannot append to {path}")
    return str(path)


_BEARER_TOKEN = re.compile(r"[A-Za-z0-9._~+/-]{16,256}=*")


def _metrics_token(value: str) -> str:
    """A bearer token as HTTP writes one (RFC 6750): an Authorization header could carry no other."""
    if not _BEARER_TOKEN.fullmatch(value):
        raise click.BadParameter("expected 16 to 256 letters, digits and . _ ~ + / - (a bearer token)")
    return value


def _meta_url(value: str) -> str:
    scheme = value.partition("://")[0]
    if value and scheme not in ("sqlite", "postgresql", "postgres"):
        raise click.BadParameter("expected sqlite:///PATH or postgresql://USER@HOST/DB")
    if scheme in ("postgresql", "postgres") and importlib.util.find_spec("psycopg_pool") is None:
        raise click.BadParameter("PostgreSQL needs its driver: pip install '.[postgres]' in holdall's checkout")
    return value


def _blobs_url(value: str) -> str:
    scheme, sep, rest = value.partition("://")
    if value and not (sep and ((scheme == "s3" and rest) or (scheme == "file" and rest.startswith("/")))):
        raise click.BadParameter("expected file:///PATH or s3://BUCKET/PREFIX?endpoint=URL&region=R")
    if scheme == "s3" and importlib.util.find_spec("boto3") is None:
        raise click.BadParameter("S3 blobs need boto3: pip install '.[s3]' in holdall's checkout")
    return value


def _inline_limit(value: str) -> int:
    if not is_ascii_uint(value) or int(value) > 1024 * 1024:
        raise click.BadParameter("expected a number of bytes up to 1048576")
    return int(value)


def _resource_formats(value: str) -> tuple[str, ...]:
    kinds = tuple(kind.strip().lower() for kind in value.split(",") if kind.strip())
    if not kinds or any(kind not in SIGNATURES for kind in kinds):
        raise click.BadParameter(f"expected a comma-separated list of {', '.join(SIGNATURES)}")
    return kinds


def _log_level(value: str) -> str:
    if value.lower() not in LOG_LEVELS:
        raise click.BadParameter(f"expected one of {', '.join(LOG_LEVELS)}")
    return value.lower()


def _resolved(value: str) -> Path:
    return Path(value).resolve()


def _bytes(size: int) -> str:
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size and size % scale == 0:
            return f"{size // scale} {unit}"
    return str(size)


def _plain(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return f"{value:g}" if isinstance(value, float) else str(value)


_DEFAULTS = Settings()


@dataclass(frozen=True)
class Flag:
    """One option: what it sets in :class:`Settings`, how it reads, what it means."""

    name: str
    metavar: str
    help: str
    """Markdown for the README; ``--help`` shows it without the backticks and link targets."""
    fields: tuple[str, ...]
    """The Settings fields it sets; ``parse`` returns a tuple of their values when there are several."""
    parse: Callable[[str], Any] = str
    default: str | Callable[[Any], str] = _plain
    """How the default reads: a text, or a function of the Settings default(s)."""
    envvar: str | None = None
    hidden: bool = False

    @property
    def key(self) -> str:
        return self.name.removeprefix("--").replace("-", "_")

    @property
    def default_text(self) -> str:
        if isinstance(self.default, str):
            return self.default
        values = tuple(getattr(_DEFAULTS, name) for name in self.fields)
        return self.default(values if len(values) > 1 else values[0])

    def assigned(self, value: Any) -> dict[str, Any]:
        return dict(zip(self.fields, value if len(self.fields) > 1 else (value,), strict=True))

    def option(self) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        notes = f"default: {plain_text(self.default_text)}"
        if self.envvar:
            notes = f"env var: {self.envvar}; {notes}"
        return click.option(
            self.name,
            self.key,
            metavar=self.metavar,
            type=self.parse,
            default=None,
            help=f"{plain_text(self.help)}  [{notes}]",  # as click shows a default it holds itself
            envvar=self.envvar,
            hidden=self.hidden,
        )


DATA = Flag("--data", "DIR", "data directory: SQLite metadata, blobs and the root key pair", ("data_dir",), Path)
META = Flag(
    "--meta",
    "URL",
    "metadata store: `sqlite:///PATH` or `postgresql://USER@HOST/DB`"
    " (see [Running several gateways](#running-several-gateways))",
    ("meta_url",),
    _meta_url,
    "SQLite in `--data`",
)
STORE_FLAGS = (DATA, META)
"""What a command that opens the metadata store takes."""

SERVE_FLAGS = (
    DATA,
    Flag(
        "--blobs",
        "URL",
        "blob store: `file:///PATH` or `s3://BUCKET/PREFIX?endpoint=URL&region=R`, with keys from"
        " `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`",
        ("blobs_url",),
        _blobs_url,
        "files in `--data`",
    ),
    META,
    Flag("--listen", "HOST:PORT", "where to listen", ("host", "port"), _listen, lambda where: "{}:{}".format(*where)),
    Flag("--domain", "DOMAIN", "`<bucket>.<domain>` is a bucket host", ("domain",), str.lower),
    Flag("--workers", "N", "worker processes", ("workers",), _count),
    Flag(
        "--access-log",
        "FILE|-|off",
        "a JSON line per request (time, session, client, account, key id, operation, dialect, bucket, key, status,"
        " bytes in and out, duration) to FILE or standard output (`-`)",
        ("access_log",),
        _access_log,
    ),
    Flag(
        "--metrics-token",
        "TOKEN",
        "a bearer token `GET /metrics` asks for; a token on a command line shows in `ps`, so prefer the"
        " environment variable",
        ("metrics_token",),
        _metrics_token,
        default="none (the metrics are open to anyone who can connect)",
        envvar="HOLDALL_METRICS_TOKEN",
    ),
    Flag("--region", "REGION", "region of buckets created without one", ("region",)),
    Flag(
        "--bucket-delete-delay",
        "S",
        "a bucket younger than this many seconds cannot be deleted (15014)",
        ("bucket_delete_delay",),
        _seconds,
    ),
    Flag(
        "--upload-max-age",
        "S",
        "seconds after which unfinished multipart uploads are removed",
        ("upload_max_age",),
        _seconds,
    ),
    Flag("--blob-grace", "S", "seconds an unreferenced blob is kept before deletion", ("blob_grace",), _seconds),
    Flag("--sweep-interval", "S", "seconds between background sweeps (0: never)", ("sweep_interval",), _seconds),
    Flag("--max-object-size", "BYTES", "largest single upload", ("max_object_size",), _count, _bytes),
    Flag(
        "--inline-limit",
        "BYTES",
        "objects up to this size (at most 1 MiB) live in the metadata store",
        ("inline_limit",),
        _inline_limit,
        _bytes,
    ),
    Flag(
        "--min-free",
        "BYTES|PERCENT%",
        "disk space uploads leave free on the data volume (507 beyond)",
        ("min_free_bytes", "min_free_percent"),
        _reserve,
        f"5 %, at most {_bytes(DEFAULT_RESERVE)}",
    ),
    Flag(
        "--head-timeout",
        "S",
        "seconds a request line and headers may take to arrive",
        ("head_timeout",),
        _positive_seconds,
    ),
    Flag(
        "--keepalive-timeout",
        "S",
        "seconds an idle kept-alive connection stays open",
        ("keepalive_timeout",),
        _positive_seconds,
    ),
    Flag(
        "--max-head-bytes",
        "BYTES",
        "request line and headers together, at least 1024 (431 beyond)",
        ("max_head_bytes",),
        _at_least(1024),
        _bytes,
    ),
    Flag(
        "--max-connections",
        "N",
        "connections per worker (0: the default); idle ones are closed first to make room, then 503",
        ("max_connections",),
        _count,
        "(open-files limit − 64) / 2",
    ),
    Flag(
        "--max-uploads",
        "N",
        "request bodies one worker streams at once, at least 1 (503 beyond)",
        ("max_uploads",),
        _at_least(1),
    ),
    Flag(
        "--graceful-timeout",
        "S",
        "on SIGTERM, in-flight requests get this many seconds to finish",
        ("graceful_timeout",),
        _seconds,
    ),
    Flag(
        "--log-level",
        "LEVEL",
        f"server log level: {', '.join(LOG_LEVELS[:-1])} or {LOG_LEVELS[-1]}",
        ("log_level",),
        _log_level,
    ),
    Flag("--max-tokens", "N", "tokens one account may hold", ("max_tokens",), _count),
    Flag(
        "--usage-flush-interval",
        "S",
        "seconds between writes of usage counts",
        ("usage_flush_interval",),
        _positive_seconds,
    ),
    Flag("--price-storage-volume", "FEN", "fen per GB·day", ("price_storage_volume",), _fen),
    Flag("--price-download-traffic", "FEN", "fen per GB", ("price_download_traffic",), _fen),
    Flag("--price-request-count", "FEN", "fen per 10,000 requests", ("price_request_count",), _fen),
    Flag("--cos-token-lifetime", "S", "seconds a CreateCosToken key lives", ("cos_token_lifetime",), _seconds),
    Flag("--temp-bucket", "NAME", "system bucket of CreateTempFileUploadUrl", ("temp_bucket",)),
    Flag(
        "--temp-upload-lifetime",
        "S",
        "seconds a temporary upload form lives",
        ("temp_upload_lifetime",),
        _seconds,
    ),
    Flag("--temp-file-max-age", "S", "seconds a temporary file is kept", ("temp_file_max_age",), _seconds),
    Flag("--resource-bucket", "NAME", "system bucket of GetResourceUploadUrl", ("resource_bucket",)),
    Flag(
        "--resource-formats",
        "LIST",
        f"formats GetResourceUploadUrl accepts, a comma-separated list of {', '.join(SIGNATURES)}",
        ("resource_formats",),
        _resource_formats,
    ),
    Flag(
        "--resource-pending-max",
        "N",
        "live resource upload URLs per account (QuotaExceeded beyond)",
        ("resource_pending_max",),
        _count,
    ),
    Flag(
        "--resource-url-lifetime",
        "S",
        "seconds a resource upload URL lives",
        ("resource_url_lifetime",),
        _seconds,
    ),
    Flag(
        "--clock-file",
        "FILE",
        "file holding seconds to add to the clock (for tests)",
        ("clock_file",),
        _resolved,
        hidden=True,
    ),
)
NOT_FLAGS = frozenset({"body_timeout", "cos_token_rate"})
"""Settings fields no flag sets."""


def plain_text(markdown: str) -> str:
    """The help as a terminal shows it: no backticks, links reduced to their text."""
    return re.sub(r"\[([^]]*)\]\([^)]*\)", r"\1", markdown).replace("`", "")


def with_settings(flags: Sequence[Flag]) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Gives a command the flags' options and hands it, instead of them, the Settings they make."""

    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(command)
        def run(**params: Any) -> None:
            given = {flag.key: params.pop(flag.key) for flag in flags}
            command(settings_from(flags, given), **params)

        decorated: Callable[..., None] = run
        for flag in reversed(flags):
            decorated = flag.option()(decorated)
        return decorated

    return decorate


def settings_from(flags: Sequence[Flag], given: Mapping[str, Any]) -> Settings:
    """Settings with what the flags were given; Settings' own defaults for the rest."""
    values: dict[str, Any] = {}
    for flag in flags:
        if given.get(flag.key) is not None:
            values.update(flag.assigned(given[flag.key]))
    settings = Settings(**values)
    return replace(settings, data_dir=settings.data_dir.resolve())


def markdown_table(flags: Sequence[Flag] = SERVE_FLAGS) -> str:
    rows = [
        f"<!-- generated from src/holdall/options.py by `{REGENERATE}` -->",
        "| option | default | meaning |",
        "|---|---|---|",
    ]
    for flag in flags:
        if flag.hidden:
            continue
        option = f"`{flag.name} {flag.metavar}`" + (f", env var `{flag.envvar}`" if flag.envvar else "")
        cells = (option, flag.default_text, flag.help)
        rows.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(rows)


def with_table(readme: str, table: str) -> str:
    """The README with ``table`` between the markers."""
    before, start, rest = readme.partition(TABLE_START)
    _, end, after = rest.partition(TABLE_END)
    if not (start and end):
        raise ValueError(f"the README has no {TABLE_START} … {TABLE_END} markers")
    return f"{before}{TABLE_START}\n{table}\n{TABLE_END}{after}"


@click.command()
@click.option("--write-readme", is_flag=True, help="put the table into README.md instead of printing it")
@click.option("--readme", type=click.Path(dir_okay=False, path_type=Path), default=README, show_default=True)
def _main(write_readme: bool, readme: Path) -> None:
    """Print the README's table of `holdall serve` options."""
    if not write_readme:
        click.echo(markdown_table())
        return
    try:
        readme.write_text(with_table(readme.read_text(), markdown_table()))
    except ValueError as problem:
        raise SystemExit(f"holdall.options: {readme}: {problem}") from None
    click.echo(f"holdall.options: the options table in {readme} is up to date")


if __name__ == "__main__":
    _main()

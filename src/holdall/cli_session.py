"""What every object verb shares: a session (how results are shown, the clients by alias), remote
paths, failures in one line or one JSON object, and the ``verb`` decorator that gives each command
``--json``, ``--data`` and its exit status."""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from holdall.client import aliases, transfer
from holdall.client.aliases import Alias, AliasError
from holdall.client.s3 import RequestError, S3Client

if TYPE_CHECKING:
    from rich.console import Console

EXIT_CODES = (
    "Exit status: 0 success; 1 an operation failed (not found, refused, a server error, the server"
    " unreachable); 2 a usage error."
)

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def shown(text: str) -> str:
    """Text as printed for a person: control characters a server's key or reply may hold (a terminal
    would act on an escape sequence) written as ``\\xNN``; --json output escapes them itself."""
    return _CONTROL.sub(lambda found: f"\\x{ord(found.group()):02x}", text)


def one_line(text: str) -> str:
    """A name a server listed, kept to its one line of a listing: a newline or tab in it is written as
    ``\\x0a`` or ``\\x09``, so a key cannot make ``ls`` show entries that are not there."""
    return text.replace("\n", "\\x0a").replace("\t", "\\x09")


class Failure(Exception):
    """An operation that failed: what was attempted, and the code and message that say why."""

    def __init__(self, what: str, code: str, message: str) -> None:
        super().__init__(f"{what}: {code}: {message}")
        self.what, self.code, self.message = what, code, message


@contextlib.contextmanager
def attempt(what: str) -> Iterator[None]:
    """Turns the errors of a request, an alias or a local file into a :class:`Failure` of ``what``."""
    try:
        yield
    except RequestError as problem:
        raise Failure(what, problem.code, problem.message) from None
    except AliasError as problem:
        raise Failure(what, problem.code, str(problem)) from None
    except BrokenPipeError:
        raise  # the reader went away: no error to report
    except OSError as problem:
        code = errno.errorcode.get(problem.errno or 0, "OSError")
        named = f": {problem.filename}" if problem.filename else ""
        raise Failure(what, code, f"{problem.strerror or problem}{named}") from None


@dataclass(frozen=True, slots=True)
class Remote:
    alias: str
    bucket: str
    key: str

    def __str__(self) -> str:
        return "/".join(part for part in (self.alias, self.bucket, self.key) if part)

    def child(self, key: str) -> Remote:
        return Remote(self.alias, self.bucket, key)


class Session:
    """One invocation: how results are shown, the data directory of ``local``, and clients by alias."""

    def __init__(self, as_json: bool, data: str) -> None:
        self.as_json = as_json
        self.data = Path(data)
        self.failed = False
        self.console: Console | None = None
        if sys.stdout.isatty() and not as_json:
            from rich.console import Console  # rich only for a terminal: it costs a start-up

            self.console = Console(highlight=False, soft_wrap=True)
        self._clients: dict[str, S3Client] = {}

    def alias(self, name: str) -> Alias:
        return aliases.resolve(name, self.data)

    def client(self, name: str) -> S3Client:
        if name not in self._clients:
            alias = self.alias(name)
            self._clients[name] = S3Client(alias.url, alias.access_key, alias.secret_key, alias.region)
        return self._clients[name]

    def remote(self, text: str, what: str, *, bucket: bool = True, key: bool | None = None) -> Remote:
        """``ALIAS/BUCKET/KEY`` with the parts a verb needs (``key``: True must, False must not, None may)."""
        alias, _, rest = text.partition("/")
        name, _, path = rest.partition("/")
        shape = "ALIAS" + ("/BUCKET" if bucket else "[/BUCKET]") + {True: "/KEY", False: "", None: "[/KEY]"}[key]
        if not alias or ((bucket or path) and not name) or (key and not path) or (key is False and path):
            raise click.UsageError(f"{what} takes {shape}, not {text!r}")
        return Remote(alias, name, path)

    def is_remote(self, text: str) -> bool:
        with attempt(text):
            return aliases.is_alias(text.partition("/")[0])

    def success(self, text: str, **fields: Any) -> None:
        if self.as_json:
            print(json.dumps({"status": "success", **fields}, ensure_ascii=False), flush=True)
        elif self.console is not None:
            self.console.print(shown(text), markup=False, highlight=False)
        else:
            print(shown(text), flush=True)

    def failure(self, failure: Failure) -> None:
        self.failed = True
        if self.as_json:
            fields = {"status": "error", "error": failure.what, "code": failure.code, "message": failure.message}
            print(json.dumps(fields, ensure_ascii=False), flush=True)
        else:
            print(shown(f"holdall: {failure}"), file=sys.stderr, flush=True)

    @contextlib.contextmanager
    def progress(self, total: int) -> Iterator[transfer.Progress]:
        if self.console is None:
            yield transfer.no_progress
            return
        from rich import progress as bars

        columns = (bars.TextColumn("copying"), bars.BarColumn(), bars.DownloadColumn(binary_units=True))
        with bars.Progress(
            *columns, bars.TransferSpeedColumn(), bars.TimeRemainingColumn(), console=self.console, transient=True
        ) as bar:
            task = bar.add_task("copy", total=total)
            yield functools.partial(bar.advance, task)


def verb(name: str, *, remote: bool = True) -> Callable[[Callable[..., None]], click.Command]:
    """A command that takes ``--json`` (and ``--data`` when it reaches a server), reports a
    :class:`Failure` as an error and exits 1 when any operation failed."""

    def make(function: Callable[..., None]) -> click.Command:
        @functools.wraps(function)
        def run(as_json: bool, data: str = aliases.DEFAULT_DATA, **arguments: Any) -> NoReturn:
            session = Session(as_json, data)
            try:
                function(session, **arguments)
            except Failure as failure:
                session.failure(failure)
            except click.UsageError as problem:
                if not as_json:
                    raise
                print(json.dumps({"status": "error", "error": name, "code": "UsageError", "message": str(problem)}))
                sys.exit(2)
            except BrokenPipeError:
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
                sys.exit(1)
            except Exception as problem:  # a bug or a surprise still reads as one line, not a traceback
                session.failure(Failure(name, type(problem).__name__, str(problem)))
            sys.exit(1 if session.failed else 0)

        run = click.option("--json", "as_json", is_flag=True, help="One JSON object a line, errors included.")(run)
        if remote:
            run = click.option(
                "--data",
                envvar=aliases.DATA_ENV,
                default=aliases.DEFAULT_DATA,
                show_default=True,
                help=f"The local server's data directory, which holds its root keys (or {aliases.DATA_ENV}).",
            )(run)
        return click.command(name, epilog=EXIT_CODES)(run)

    return make

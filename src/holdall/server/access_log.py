"""One JSON line per request (``--access-log FILE|-|off``): when, who, what, how it ended.

The line's fields are gathered as the request goes: the app knows the client, the bucket, the key
and the reply; the admission every operation passes knows the operation and whom it acts for, and
notes them in the request's :data:`OUTCOME` (a context variable: each request runs in its own task),
which the metrics read too.
Lines are written by hand, every string through json's own escaping (``json.dumps`` of a dict
costs 5 µs a line). Workers append whole lines with one ``write`` each (``O_APPEND``), so lines from several workers
never interleave. Off by default.
"""

from __future__ import annotations

import itertools
import os
import time
from contextvars import ContextVar
from dataclasses import dataclass
from json.encoder import encode_basestring as _text

from holdall.auth.principal import Principal
from holdall.server.http import Request, Response

OFF = "off"
STDOUT = "-"


@dataclass(slots=True)
class Outcome:
    number: int
    started: float
    operation: str = ""
    account: str = ""
    key_id: str = ""
    """The access key a token or temporary key signed with; empty for an account's own keys."""

    @property
    def session(self) -> str:
        """The request's id in the access log and the error log: the worker's pid and a counter."""
        return f"{os.getpid():x}-{self.number:x}"


OUTCOME: ContextVar[Outcome | None] = ContextVar("holdall_outcome", default=None)


def note_operation(operation: str) -> None:
    """Names the current request's operation, for a request that has no principal to note."""
    outcome = OUTCOME.get()
    if outcome is not None:
        outcome.operation = operation


def note(operation: str, principal: Principal) -> None:
    """Records the operation and whom it acts for in the current request's access-log line, if any."""
    outcome = OUTCOME.get()
    if outcome is not None:
        outcome.operation = operation
        outcome.account = principal.account_id
        outcome.key_id = principal.public_key if principal.token is not None else ""


class AccessLog:
    def __init__(self, target: str) -> None:
        self.enabled = target != OFF
        self._fd = -1
        if target == STDOUT:
            self._fd = 1
        elif self.enabled:
            self._fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self._ids = itertools.count()
        self._second, self._stamp = -1, ""

    def begin(self) -> Outcome:
        """A new request's outcome, made current (the metrics read its operation, log or not)."""
        outcome = Outcome(next(self._ids), time.time())
        OUTCOME.set(outcome)
        return outcome

    def write(
        self,
        outcome: Outcome,
        request: Request | None,
        client: str,
        place: tuple[str, str],
        dialect: str,
        response: Response,
        sent: int,
    ) -> None:
        bucket, key = place
        text = _text
        line = (
            f'{{"time":"{self._time(outcome.started)}","session":"{outcome.session}","client":{text(client)},'
            f'"method":{text(request.method if request is not None else "")},"account":{text(outcome.account)},'
            f'"key_id":{text(outcome.key_id)},"operation":{text(outcome.operation)},"dialect":{text(dialect)},'
            f'"bucket":{text(bucket)},"key":{text(key)},"status":{response.status},'
            f'"bytes_in":{request.received if request is not None else 0},'
            f'"bytes_out":{sent},'
            f'"duration_ms":{(time.time() - outcome.started) * 1000:.3f}}}\n'
        )
        data = line.encode()
        try:
            os.write(self._fd, data)
        except OSError:
            pass  # a full disk or a closed stdout must not fail the request

    def _time(self, moment: float) -> str:
        """The line's time, formatted once a second (strftime costs a microsecond)."""
        second = int(moment)
        if second != self._second:
            self._second, self._stamp = second, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second))
        return self._stamp

    def close(self) -> None:
        if self._fd > 2:
            os.close(self._fd)

"""One JSON line per request (``--access-log FILE|-|off``): when, who, what, how it ended.

The line's fields are gathered as the request goes: the app knows the client, the bucket, the key
and the reply; the admission every operation passes knows the operation and whom it acts for, and
notes them in the request's :class:`~holdall.server.http.Outcome`, which the metrics read too.
Lines are written by hand, every string through json's own escaping (``json.dumps`` of a dict
costs 5 µs a line). Workers append whole lines with one ``write`` each (``O_APPEND``), so lines
from several workers never interleave. Off by default.
"""

from __future__ import annotations

import os
import select
import stat
import time
from json.encoder import encode_basestring_ascii as _text

from holdall.auth.principal import Principal
from holdall.server.http import Outcome, Request, Response

OFF = "off"
STDOUT = "-"


def note(request: Request, operation: str, principal: Principal) -> None:
    """Records the operation and whom it acts for in the request's outcome."""
    outcome = request.outcome
    outcome.operation = operation
    outcome.account = principal.account_id
    outcome.key_id = principal.public_key if principal.token is not None else ""


def note_operation(request: Request, operation: str) -> None:
    """Names the request's operation, for a request that has no principal to note."""
    request.outcome.operation = operation


class AccessLog:
    def __init__(self, target: str) -> None:
        self.enabled = target != OFF
        self._fd = -1
        if target == STDOUT:
            self._fd = 1
        elif self.enabled:
            self._fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self._limit = 0
        """Bytes a line may have: a pipe (standard output into a log collector) takes a write whole only
        up to PIPE_BUF, so longer lines from several workers could interleave; a file takes any."""
        if self.enabled and not stat.S_ISREG(os.fstat(self._fd).st_mode):
            self._limit = select.PIPE_BUF
        self._second, self._stamp = -1, ""

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
        head = (
            f'{{"time":"{self._time(outcome.started)}","session":"{outcome.session}","client":{text(client)},'
            f'"method":{text(request.method if request is not None else "")},"account":{text(outcome.account)},'
            f'"key_id":{text(outcome.key_id)},"operation":{text(outcome.operation)},"dialect":{text(dialect)},'
            f'"bucket":{text(bucket)},"key":'
        )
        tail = (
            f',"status":{response.status},"bytes_in":{request.received if request is not None else 0},'
            f'"bytes_out":{sent},"duration_ms":{(time.time() - outcome.started) * 1000:.3f}}}\n'
        )
        written = text(key)
        if self._limit and len(head) + len(written) + len(tail) > self._limit:
            tail = ',"truncated":true' + tail
            written = _fitted(key, self._limit - len(head) - len(tail))
        data = (head + written + tail).encode()
        try:
            while data:
                data = data[os.write(self._fd, data) :]
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


def _fitted(key: str, room: int) -> str:
    """The key as a JSON string (ASCII, escaped) of at most ``room`` characters, cut short as needed."""
    key = key[: max(room, 2)]
    written = _text(key)
    while len(written) > max(room, 2):
        key = key[: len(key) * room // len(written)]
        written = _text(key)
    return written

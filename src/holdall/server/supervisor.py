"""Runs the server: in this process for one worker, or as forked workers sharing one socket.

Forking (rather than spawning fresh interpreters) shares the imported code between workers and
needs no helper processes, which keeps the memory of the whole server small. SIGTERM and SIGINT
are passed on to the workers, which finish their in-flight requests before exiting; a worker
that dies on its own is replaced.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import resource
import signal
import socket
import sys
import time
from dataclasses import dataclass
from typing import Any

import uvicorn

from holdall.config import Settings
from holdall.server import metrics
from holdall.server.app import HoldallApp
from holdall.server.connections import ConnectionLimits, guarded_protocol

PR_SET_PDEATHSIG = 1


def uvicorn_config(settings: Settings, log_level: str, graceful_timeout: int, file_limit: int) -> uvicorn.Config:
    limits = ConnectionLimits(settings.head_timeout, settings.max_head_bytes, settings.max_connections)
    return uvicorn.Config(
        HoldallApp(settings),
        loop="uvloop",
        http=guarded_protocol(limits, file_limit),
        ws="none",
        lifespan="on",
        timeout_keep_alive=settings.keepalive_timeout,  # type: ignore[arg-type]
        access_log=False,
        log_level=log_level,
        timeout_graceful_shutdown=graceful_timeout,
        server_header=False,
        proxy_headers=False,
    )


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise SystemExit(f"holdall: cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _end_with_parent() -> None:
    """Linux: a worker gets SIGTERM (and shuts down gracefully) if the supervisor dies."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


STARTUP_FAILED = 3
"""A worker's exit code when the app could not start (its store unreachable, its code broken)."""


def _run_worker(config: uvicorn.Config, sock: socket.socket) -> None:
    server = uvicorn.Server(config)
    server.run(sockets=[sock])
    if not server.started:
        raise SystemExit(STARTUP_FAILED)


def raise_file_limit() -> int:
    """Lifts the soft limit on open files to the hard one: each connection holds a descriptor."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            return soft
    return hard


@dataclass(frozen=True, slots=True)
class Listening:
    sock: socket.socket
    file_limit: int


def listen(settings: Settings) -> Listening:
    """The raised file limit and the bound socket: done first, so that a port in use fails the start
    before anything is created (and the port opens only once the limit holds)."""
    file_limit = raise_file_limit()
    return Listening(bind(settings.host, settings.port), file_limit)


def serve(settings: Settings, log_level: str, graceful_timeout: int, listening: Listening | None = None) -> None:
    listening = listening or listen(settings)
    sock, file_limit = listening.sock, listening.file_limit
    metrics.prepare_directory(metrics.directory_of(settings.data_dir, settings.host, settings.port))
    config = uvicorn_config(settings, log_level, graceful_timeout, file_limit)
    if settings.workers <= 1:
        _run_worker(config, sock)
        return
    workers: dict[int, int] = {}
    stopping = failed = False

    def spawn(slot: int) -> None:
        pid = os.fork()
        if pid == 0:
            _end_with_parent()
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            code = 0
            try:
                _run_worker(config, sock)
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else 1
            except BaseException:
                code = 1
            finally:
                sys.stdout.flush()
                os._exit(code)
        workers[pid] = slot

    def forward(signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True
        for pid in workers:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for slot in range(settings.workers):
        spawn(slot)
    while workers:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        metrics.worker_exited(pid)
        if os.WIFEXITED(status) and os.WEXITSTATUS(status) == STARTUP_FAILED and not stopping:
            workers.pop(pid, None)
            forward(signal.SIGTERM, None)  # a worker that cannot start will not start the next time either
            failed = True
        elif pid in workers and not stopping:
            slot = workers.pop(pid)
            time.sleep(0.5)
            spawn(slot)
        else:
            workers.pop(pid, None)
    sock.close()
    if failed:
        raise SystemExit("holdall: a worker could not start; see the log above")

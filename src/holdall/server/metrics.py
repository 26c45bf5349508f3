"""``GET /metrics`` in the Prometheus text format, summed over every worker.

Each worker flushes its :class:`~holdall.metrics.Tally` once a second into prometheus-client's
multiprocess values (a memory-mapped file per process in one directory); a scrape, whichever worker
answers it, first flushes its own counts and then reads every worker's files. The directory is
emptied when the server starts, and a worker that exits has its live gauges removed.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import re
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from holdall.metrics import REQUEST_BOUNDS, STORE_BOUNDS, TALLY, Histogram, Tally
from holdall.server.http import Response

log = logging.getLogger("holdall.metrics")
DIRECTORY_ENV = "PROMETHEUS_MULTIPROC_DIR"
FLUSH_INTERVAL = 1.0
TEXT_FORMAT = b"text/plain; version=0.0.4; charset=utf-8"
OPERATION = ["operation", "dialect"]


def directory_of(data_dir: Path, host: str, port: int) -> Path:
    """Where a server's workers keep their values: one directory per listening address, so gateways
    sharing a data directory keep theirs apart (no two can listen on one address)."""
    return data_dir / "run" / re.sub(r"[^A-Za-z0-9.-]", "_", f"metrics-{host}-{port}")


def prepare_directory(path: Path) -> None:
    """An empty directory for this server's workers, named in the environment they inherit: it must be
    set before prometheus-client is first imported, which decides then whether values are shared."""
    shutil.rmtree(path, ignore_errors=True)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.mkdir(mode=0o700)
    os.environ[DIRECTORY_ENV] = str(path)


def worker_exited(pid: int) -> None:
    """Drops the in-flight gauge of a worker that is gone; its counters stay in the sums."""
    if DIRECTORY_ENV in os.environ:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


class Exporter:
    def __init__(self, token: str) -> None:
        if DIRECTORY_ENV not in os.environ:  # an app run without the supervisor (a benchmark)
            prepare_directory(Path(tempfile.mkdtemp(prefix="holdall-metrics-")))
        import prometheus_client
        from prometheus_client import multiprocess, values

        if not getattr(values.ValueClass, "_multiprocess", False):
            raise RuntimeError(f"prometheus_client was imported before {DIRECTORY_ENV} was set")
        self.token = token.encode()
        self.registry = prometheus_client.CollectorRegistry()
        multiprocess.MultiProcessCollector(self.registry)  # type: ignore[no-untyped-call]
        self._render = prometheus_client.generate_latest
        # Metrics made with no registry: the multiprocess collector reads every worker's values instead.
        counter, histogram = prometheus_client.Counter, prometheus_client.Histogram
        self.requests = counter("holdall_requests", "Requests answered", [*OPERATION, "status"], registry=None)
        self.received = counter("holdall_received_bytes", "Request body bytes", OPERATION, registry=None)
        self.sent = counter("holdall_sent_bytes", "Reply body bytes", OPERATION, registry=None)
        self.durations = histogram(
            "holdall_request_duration_seconds",
            "Time from a request's head to its reply's last byte",
            ["operation"],
            buckets=REQUEST_BOUNDS,
            registry=None,
        )
        self.store = histogram(
            "holdall_metadata_store_seconds",
            "Metadata store calls (a write waits for its commit)",
            ["kind"],
            buckets=STORE_BOUNDS,
            registry=None,
        )
        self.swept = counter("holdall_sweeper_removed", "What background sweeps removed", ["kind"], registry=None)
        self.refusals = counter("holdall_limit_refusals", "Requests refused by a limit", ["limit"], registry=None)
        self.in_flight = prometheus_client.Gauge(
            "holdall_requests_in_flight", "Requests being served", multiprocess_mode="livesum", registry=None
        )

    def flush(self, tally: Tally = TALLY) -> None:
        taken = tally.take()
        for (operation, dialect, status), entry in taken.requests.items():
            self.requests.labels(operation, dialect, str(status)).inc(entry.count)
            if entry.received:
                self.received.labels(operation, dialect).inc(entry.received)
            if entry.sent:
                self.sent.labels(operation, dialect).inc(entry.sent)
            _add(self.durations.labels(operation), entry.durations)
        for kind, counts in taken.store.items():
            _add(self.store.labels(kind), counts)
        for kind, count in taken.swept.items():
            self.swept.labels(kind).inc(count)
        for limit, count in taken.refusals.items():
            self.refusals.labels(limit).inc(count)
        self.in_flight.set(taken.in_flight)

    async def run_forever(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_INTERVAL)
            try:
                self.flush()
            except Exception:  # a full disk under the values' files: the counts taken are lost, not the task
                log.exception("the metrics flush failed; trying again in %g s", FLUSH_INTERVAL)

    def allows(self, authorization: str) -> bool:
        if not self.token:
            return True
        scheme, _, given = authorization.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), self.token)

    async def answer(self, authorization: str, executor: ThreadPoolExecutor) -> Response:
        if not self.allows(authorization):
            return Response(
                401,
                [(b"content-type", b"text/plain"), (b"www-authenticate", b'Bearer realm="holdall metrics"')],
                b"GET /metrics needs the bearer token given to holdall serve --metrics-token\n",
            )
        self.flush()
        text = await asyncio.get_running_loop().run_in_executor(executor, self._render, self.registry)
        return Response(200, [(b"content-type", TEXT_FORMAT)], text)


def _add(child: Any, histogram: Histogram) -> None:
    """Adds a flushed histogram to a prometheus-client one: its per-bucket values (not cumulative, as
    ``observe`` keeps them) and its sum. prometheus-client has no public call that adds counts."""
    for index, count in enumerate(histogram.counts):
        if count:
            child._buckets[index].inc(count)
    child._sum.inc(histogram.total)

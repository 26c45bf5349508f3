"""What a worker counts while it serves, in plain numbers; :mod:`holdall.server.metrics` hands them
to prometheus-client once a second.

A request is recorded by appending one tuple to a list (``Tally.served``), folded into counts by
operation, dialect and status when the counts are taken; a prometheus-client value in its
multiprocess mode takes a lock and writes a memory map on every change (about 5 µs a request), so
the request path never touches one. Folding a second's requests at once keeps the counts' dict and
entries in the cache: updating them as each request ends cost 1.4 µs a request, the append 0.2 µs
(``bench/inprocess.py``). Everything here runs on the worker's event loop thread.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Awaitable
from time import perf_counter
from typing import TypeVar

T = TypeVar("T")

REQUEST_BOUNDS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
"""Request durations, seconds: from a cached GET to a large upload."""
STORE_BOUNDS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)
"""Metadata-store calls, seconds: from a page-cache read to a commit waiting on the disk."""


class Histogram:
    """Counts per bucket (the last one past every bound) and the sum, since the last flush."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.total = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect_left(self.bounds, seconds)] += 1
        self.total += seconds


class Requests:
    """Requests of one operation, dialect and status: how many, their bytes and their durations."""

    __slots__ = ("count", "durations", "received", "sent")

    def __init__(self) -> None:
        self.count = self.received = self.sent = 0
        self.durations = Histogram(REQUEST_BOUNDS)


class Tally:
    """One worker's counts since the last :meth:`take`, and what it serves right now."""

    __slots__ = ("in_flight", "refusals", "requests", "served", "store", "swept")

    def __init__(self) -> None:
        self.in_flight = 0
        self._reset()

    def _reset(self) -> None:
        self.served: list[tuple[str, str, int, int, int, float]] = []
        """Requests not yet folded: operation, dialect, status, bytes in, bytes out, seconds."""
        self.requests: dict[tuple[str, str, int], Requests] = {}
        self.store: dict[str, Histogram] = {}
        self.swept: dict[str, int] = {}
        self.refusals: dict[str, int] = {}

    def _fold(self) -> None:
        requests = self.requests
        for operation, dialect, status, received, sent, seconds in self.served:
            entry = requests.get((operation, dialect, status))
            if entry is None:
                entry = requests[operation, dialect, status] = Requests()
            entry.count += 1
            entry.received += received
            entry.sent += sent
            entry.durations.observe(seconds)
        self.served = []

    def store_call(self, kind: str, seconds: float) -> None:
        """A metadata-store ``read`` or ``write`` (a write waits for its commit)."""
        histogram = self.store.get(kind)
        if histogram is None:
            histogram = self.store[kind] = Histogram(STORE_BOUNDS)
        histogram.observe(seconds)

    def sweep(self, removed: dict[str, int]) -> None:
        """What one sweep removed, by kind (``uploads``, ``blobs``, …); ``sweeps`` counts the sweeps."""
        self.swept["sweeps"] = self.swept.get("sweeps", 0) + 1
        for kind, count in removed.items():
            self.swept[kind] = self.swept.get(kind, 0) + count

    def refusal(self, limit: str) -> None:
        """A request refused by a limit (``quota``, ``bucket_cap``, ``upload_urls``, ``rate``,
        ``upload_slots``: an error's ``limit``); an error that names none is no refusal."""
        if limit:
            self.refusals[limit] = self.refusals.get(limit, 0) + 1

    def take(self) -> Tally:
        """The counts so far, handed over; counting starts again from zero."""
        self._fold()
        taken = Tally.__new__(Tally)
        taken.in_flight, taken.served = self.in_flight, []
        taken.requests, taken.store, taken.swept, taken.refusals = self.requests, self.store, self.swept, self.refusals
        self._reset()
        return taken


TALLY = Tally()
"""This process's counts."""


async def timed_store(kind: str, pending: Awaitable[T]) -> T:
    """Awaits a metadata-store call and counts how long it took."""
    started = perf_counter()
    try:
        return await pending
    finally:
        TALLY.store_call(kind, perf_counter() - started)

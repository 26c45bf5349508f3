"""Liveness and readiness, for load balancers and orchestrators: ``GET /healthz`` answers while the
process serves; ``GET /readyz`` also asks the metadata and blob stores, and is 503 with the reason
when either cannot answer. Both are unauthenticated and served on the service host only."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from holdall.server.http import Response
from holdall.server.replies import json_response
from holdall.store.blobs.base import BlobStore
from holdall.store.meta.base import MetaStore

PATHS = frozenset(("healthz", "readyz"))
"""Names no bucket may take (the path-style ``/healthz`` would be its listing)."""
PROBE_TIMEOUT = 5.0


async def answer(name: str, meta: MetaStore, blobs: BlobStore, executor: ThreadPoolExecutor) -> Response:
    """``healthz``: the process serves; ``readyz``: the stores answer too."""
    if name == "healthz":
        return json_response({"status": "ok"})
    return await _ready(meta, blobs, executor)


async def _ready(meta: MetaStore, blobs: BlobStore, executor: ThreadPoolExecutor) -> Response:
    problems = []
    loop = asyncio.get_running_loop()
    probes = {"metadata store": meta.probe(), "blob store": loop.run_in_executor(executor, blobs.probe)}
    for name, probe in probes.items():
        try:
            await asyncio.wait_for(probe, PROBE_TIMEOUT)
        except TimeoutError:
            problems.append(f"{name}: no answer in {PROBE_TIMEOUT:g} s")
        except Exception as error:  # a probe reports whatever keeps the store from answering
            problems.append(f"{name}: {error}")
    if problems:
        return json_response({"status": "unavailable", "problems": problems}, 503)
    return json_response({"status": "ready"})

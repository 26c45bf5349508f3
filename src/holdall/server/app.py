"""The ASGI application: one per worker process, stores opened at lifespan startup."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from holdall import clock
from holdall.config import Settings
from holdall.errors import BadRequest, HoldallError, InternalError, StorageFull
from holdall.metrics import TALLY
from holdall.server import health
from holdall.server.access_log import OFF, AccessLog, note_operation
from holdall.server.admission import Admission
from holdall.server.authenticate import Authenticator
from holdall.server.context import Call
from holdall.server.control_api import VOLCENGINE_VERSION, ControlApi
from holdall.server.control_auth import ControlAuthenticator
from holdall.server.control_request import is_management_call
from holdall.server.cors import Cors
from holdall.server.dialects import detect, detect_unread, dialect_error
from holdall.server.envelopes import envelopes
from holdall.server.http import (
    UFILE,
    Outcome,
    Receive,
    Request,
    Response,
    Scope,
    Send,
    decode_headers,
    send_response,
)
from holdall.server.management import ManagementApi
from holdall.server.metrics import Exporter
from holdall.server.routing import Target, route
from holdall.server.s3_api import S3Api
from holdall.server.s3_auth import HEADER_DIALECTS
from holdall.server.ufile_accounting_api import AccountingApi
from holdall.server.ufile_api import BucketApi, ufile_specs
from holdall.server.ufile_data import DataPlane
from holdall.service.buckets import BucketService
from holdall.service.lifecycle import Sweeper
from holdall.service.multipart import MultipartService
from holdall.service.objects import ObjectService
from holdall.service.quotas import PriceTable, QuotaBook
from holdall.service.tempaccess import TempAccess
from holdall.service.tokens import TokenService
from holdall.service.usage import Meter
from holdall.store.blobs.base import BlobStore
from holdall.store.blobs.composite import CompositeBlobs
from holdall.store.blobs.open import open_blobs
from holdall.store.meta.open import open_meta
from holdall.store.meta.sql import SqlMetaStore

log = logging.getLogger("holdall.server")
METRICS = "metrics"
UNNAMED = "Unknown"
"""The operation of a request refused before it was known (an unreadable head, a wrong host)."""


@dataclass(slots=True)
class Components:
    meta: SqlMetaStore
    blobs: BlobStore
    executor: ThreadPoolExecutor
    data: DataPlane
    s3: S3Api
    api: ManagementApi
    sweeper: Sweeper
    meter: Meter
    cors: Cors
    exporter: Exporter
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


def build(settings: Settings) -> Components:
    clock.use_clock_file(settings.clock_file)
    meta = open_meta(settings.meta_target)
    blobs = open_blobs(settings.blobs_url, settings.blob_dir)
    executor = ThreadPoolExecutor(max_workers=32, thread_name_prefix="holdall-io")
    composite = CompositeBlobs(meta, blobs, executor)
    objects = ObjectService(settings, meta, composite, executor)
    buckets = BucketService(settings, meta)
    book = QuotaBook(meta)
    meter = Meter(meta, book, settings.usage_flush_interval)
    prices = PriceTable(settings.price_storage_volume, settings.price_download_traffic, settings.price_request_count)
    accounting = AccountingApi(meta, TokenService(settings, meta), book, prices, settings.region)
    ufile_actions = {**BucketApi(meta, buckets, settings.region).actions(), **accounting.actions()}
    specs = [*ufile_specs(ufile_actions), *ControlApi(TempAccess(settings, meta)).specs()]
    authenticator, admission, multipart = Authenticator(meta), Admission(book, meter), MultipartService(objects)
    return Components(
        meta=meta,
        blobs=blobs,
        executor=executor,
        data=DataPlane(meta, objects, multipart, authenticator, admission, meter),
        s3=S3Api(meta, buckets, objects, multipart, authenticator, admission, meter, settings.region),
        api=ManagementApi(specs, ControlAuthenticator(meta), envelopes(settings.region, VOLCENGINE_VERSION)),
        sweeper=Sweeper(settings, meta, composite, executor),
        meter=meter,
        cors=Cors(meta, settings.domain),
        exporter=Exporter(settings.metrics_token),
    )


class HoldallApp:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.parts: Components | None = None
        self.access = AccessLog(OFF)

    @property
    def cors(self) -> Cors:
        assert self.parts is not None
        return self.parts.cors

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self.http(scope, receive, send)
        elif kind == "lifespan":
            await self.lifespan(receive, send)

    async def lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    self.startup()
                except Exception as exc:
                    log.exception("startup failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def startup(self) -> None:
        self.parts = build(self.settings)
        self.access = AccessLog(self.settings.access_log)
        loop = asyncio.get_running_loop()
        if self.settings.sweep_interval > 0:
            self.parts.tasks.append(loop.create_task(self.parts.sweeper.run_forever()))
        self.parts.tasks.append(loop.create_task(self.parts.meter.run_forever()))
        self.parts.tasks.append(loop.create_task(self.parts.exporter.run_forever()))

    async def shutdown(self) -> None:
        if self.parts is None:
            return
        for task in self.parts.tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        try:
            await self.parts.meter.flush()
        except StorageFull as error:
            log.error("the last usage flush failed: %s", error.message)
        except Exception:
            log.exception("the last usage flush failed")
        self.parts.exporter.flush()
        self.parts.executor.shutdown(wait=True)
        self.parts.meta.close()
        self.access.close()

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        head_only = scope["method"] == "HEAD"
        request: Request | None = None
        dialect = UFILE
        call: Call | None = None
        target: Target | None = None
        s3_target: Target | None = None
        outcome = Outcome(time.time())
        sent = 0
        tally = TALLY
        tally.in_flight += 1
        try:
            try:
                request = Request(scope, receive, self.settings.body_timeout, outcome)
                if request.query or "authorization" in request.headers:
                    dialect = detect(request.query, request.headers)
                parts = self.parts
                assert parts is not None
                if request.method == "OPTIONS":
                    outcome.operation = "Preflight"
                    response = await self.cors.preflight(request)
                else:
                    target = route(request.header("host"), request.raw_path, self.settings.domain)
                    if target is not None and not target.key and _is_service_path(request, target):
                        response = await self.service_path(request, target.bucket)
                    elif dialect in HEADER_DIALECTS:
                        s3_target = target
                        response = await parts.s3.handle(request, target, dialect)
                    elif target is not None:
                        call = await parts.data.open(request, target, dialect)
                        response = await parts.data.handle(call)
                    else:
                        response = await self.root(request)
            except HoldallError as error:
                if request is None:
                    dialect = detect_unread(scope.get("query_string", b""), decode_headers(scope))
                if request is None and dialect == UFILE and self.parts is not None and self._is_root(scope):
                    response = self.parts.api.early_error(scope, error)
                else:
                    response = dialect_error(error, dialect, scope.get("path", "/"))
            except Exception:
                sid = outcome.session
                log.exception("unexpected error, session %s", sid)
                failure = InternalError(f"internal error, session {sid}")
                response = dialect_error(failure, dialect, scope.get("path", "/"))
                response.headers = [(name, value) for name, value in response.headers if name != b"x-sessionid"]
                response.header("x-sessionid", sid)
            if request is not None and "origin" in request.headers:
                await self._decorate(request, call, s3_target, response)
            if request is not None and request.body_pending:
                response.header("connection", "close")  # the unread body would be taken for the next request
            try:
                sent = await send_response(send, response, head_only, receive)
            except OSError:
                pass  # the client hung up while the reply was going out
        finally:
            tally.in_flight -= 1
        if call is not None and not outcome.operation:  # refused before its admission
            outcome.operation = call.operation.name
        received = request.received if request is not None else 0
        seconds = time.time() - outcome.started
        tally.served.append((outcome.operation or UNNAMED, dialect, response.status, received, sent, seconds))
        if self.access.enabled:
            client = scope.get("client")
            place = (target.bucket, target.key) if target is not None else ("", "")
            self.access.write(outcome, request, str(client[0]) if client else "", place, dialect, response, sent)

    async def _decorate(
        self, request: Request, call: Call | None, s3_target: Target | None, response: Response
    ) -> None:
        """Adds the bucket's CORS headers to a reply, refusals included, so a page can read them."""
        if call is not None:
            self.cors.decorate(call.bucket, call.request, response)
        elif s3_target is not None and self.parts is not None:
            try:
                bucket = await self.parts.meta.bucket(s3_target.bucket)
            except HoldallError:
                return
            if bucket is not None:
                self.cors.decorate(bucket, request, response)

    def _is_root(self, scope: Scope) -> bool:
        """Whether a request that could not be read was addressed to the management API."""
        host = next((value.decode("latin-1") for name, value in scope["headers"] if name.lower() == b"host"), "")
        try:
            return route(host, scope.get("raw_path") or b"/", self.settings.domain) is None
        except HoldallError:
            return False

    async def service_path(self, request: Request, name: str) -> Response:
        """``/healthz``, ``/readyz`` and ``/metrics``."""
        assert self.parts is not None
        if name == METRICS:
            note_operation(request, "Metrics")
            return await self.parts.exporter.answer(request.header("authorization"), self.parts.executor)
        note_operation(request, "Health" if name == "healthz" else "Ready")
        return await health.answer(name, self.parts.meta, self.parts.blobs, self.parts.executor)

    async def root(self, request: Request) -> Response:
        """The service root outside the S3 API: the management API."""
        assert self.parts is not None
        if request.method in ("GET", "POST") and is_management_call(request):
            return await self.parts.api.handle(request)
        raise BadRequest("name a bucket: use <bucket>.<domain> as the host or /<bucket>/<key> as the path")


def _is_service_path(request: Request, target: Target) -> bool:
    """``GET /healthz``, ``/readyz`` or ``/metrics`` (a target without a key) on the service host, not a
    bucket host, with no query and no signature (``/metrics`` may carry a bearer token)."""
    if target.virtual_host or request.method not in ("GET", "HEAD") or request.query:
        return False
    authorization = request.header("authorization")
    if target.bucket == METRICS:
        return not authorization or authorization[:7].lower() == "bearer "
    return target.bucket in health.PATHS and not authorization

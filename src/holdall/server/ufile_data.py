"""The UFile / Inspur data plane (seed 004 §5–15, 20, 25; REFERENCE §1): which operation a request
is, and the one admission every operation passes before its handler runs.

Requests that are not uploads never reach the upload path: a PUT with ``uploadId``,
``restore``, ``storageClass``, ``newFileName`` or ``X-Ufile-Copy-Source`` is something else.
The handlers live by what they do: :mod:`~holdall.server.ufile_objects`,
:mod:`~holdall.server.ufile_forms` and :mod:`~holdall.server.ufile_multipart`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from holdall.auth.principal import Op, Principal
from holdall.errors import BucketNotFound
from holdall.server.admission import Admission
from holdall.server.authenticate import Authenticator
from holdall.server.context import Call
from holdall.server.http import Request, Response
from holdall.server.object_reply import ObjectReplies
from holdall.server.operations import Scope, resolve
from holdall.server.routing import Target, check_key
from holdall.server.ufile_forms import UFileForms
from holdall.server.ufile_multipart import UFileMultipart
from holdall.server.ufile_objects import UFileObjects
from holdall.service.multipart import MultipartService
from holdall.service.objects import ObjectService
from holdall.service.usage import Meter
from holdall.store.meta.base import MetaStore

_KEY, _FILE_NAME, _PREFIX, _FORM = Scope.KEY, Scope.FILE_NAME, Scope.PREFIX, Scope.FORM
"""Enum members as module constants: a member lookup costs 0.1 µs on every request."""
_NO_SUFFIX = ("",)
Handler = Callable[..., Awaitable[Response]]
"""(call, principal, key): the key the operation's scope names ("" for the bucket's own operations)."""


class DataPlane:
    def __init__(
        self,
        meta: MetaStore,
        objects: ObjectService,
        multipart: MultipartService,
        authenticator: Authenticator,
        admission: Admission,
        meter: Meter,
    ) -> None:
        self.meta = meta
        self.objects = objects
        self.multipart = multipart
        self.authn = authenticator
        self.admission = admission
        self.forms = UFileForms(meta, objects, authenticator, admission)
        self._parts = (
            UFileObjects(meta, objects, ObjectReplies(objects, meter)),
            self.forms,
            UFileMultipart(meta, multipart),
        )
        self._handlers: dict[str, Handler] = {}

    # ----------------------------------------------------------------- dispatch

    async def open(self, request: Request, target: Target, dialect: str) -> Call:
        """The call a request makes: its bucket found and its operation resolved, once."""
        bucket = await self.meta.bucket(target.bucket)
        if bucket is None:
            raise BucketNotFound(f"bucket not exist: {target.bucket!r}")
        operation = resolve(request.method, target.key, request.query, request.headers)
        return Call(request, bucket, target.key, target.virtual_host, dialect, operation)

    async def handle(self, call: Call) -> Response:
        """Runs the one admission every operation passes (signature, coverage, owner, token, quotas,
        metering) on the key its route declares, then its handler."""
        operation = call.operation
        scope = operation.scope
        if scope is _FORM:  # the form's fields, in the body, carry its signature
            return await self.forms.post_file(call)
        handler = self._handlers.get(operation.name)
        if handler is None:
            handler = self._handlers[operation.name] = next(
                getattr(part, operation.handler) for part in self._parts if hasattr(part, operation.handler)
            )
        query = call.request.query
        key = ""
        scope_key: str | None = ""
        if scope is _KEY:
            key = scope_key = check_key(call.key)
        elif scope is _FILE_NAME:
            key = scope_key = check_key(query.get("FileName", ""))
        elif scope is _PREFIX:
            scope_key = query.get("prefix", "")
        else:
            scope_key = None  # Scope.LATER: the handler checks the key it touches
        suffixes = ("", operation.signed_suffix(query)) if operation.signed_suffix else _NO_SUFFIX
        principal = await self._authorize(call, key, scope_key=scope_key, suffixes=suffixes)
        return await handler(call, principal, key)

    async def _authorize(self, call: Call, key: str, *, scope_key: str | None, suffixes: tuple[str, ...]) -> Principal:
        """Checks the signature over ``key``, then everything else that may refuse the operation:
        the bucket's owner, the token's rules (on ``scope_key``; None leaves them to the handler,
        which knows the key really touched) and the quotas."""
        public = call.operation.op is Op.READ and call.bucket.type == "public"
        verified = await self.authn.verify(call, key, suffixes=suffixes, allow_anonymous=public)
        return await self.admission.admit(verified, call, scope_key)

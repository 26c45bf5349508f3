"""The management API on the service root: ``GET /`` or ``POST /``, in UFile's form or a cloud SDK's.

One path for every call: read it (:mod:`control_request`), find its action in the table, check
the version, verify the signature (:mod:`control_auth`), check the parameters against the
action's schema, run the service call, and answer in the envelope of the cloud that signed it (a
UFile-signed call gets its action's envelope).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable

from holdall.errors import (
    HoldallError,
    InvalidParameter,
    MissingParameter,
    Refusal,
    UnknownAction,
    UnsupportedVersion,
)
from holdall.metrics import TALLY
from holdall.server.access_log import note_operation
from holdall.server.actions import ActionSpec
from holdall.server.control_auth import ControlAuthenticator
from holdall.server.control_request import (
    COMMON_PARAMS,
    Cloud,
    ControlCall,
    Scheme,
    UnreadableCall,
    cloud_of_headers,
    loose_names,
    read_call,
)
from holdall.server.dialects import dialect_error
from holdall.server.envelopes import Envelope, InternalFailure
from holdall.server.http import UFILE, Request, Response, Scope, decode_headers

log = logging.getLogger("holdall.management")
PASSED_TO_UFILE_ACTIONS = frozenset(("Region", "ProjectId"))
NO_COMMON: frozenset[str] = frozenset()


class ManagementApi:
    def __init__(self, specs: Iterable[ActionSpec], auth: ControlAuthenticator, envelopes: dict[str, Envelope]) -> None:
        self.table = {spec.name: spec for spec in specs}
        self.auth = auth
        self.envelopes = envelopes

    def envelope_for(self, cloud: Cloud, spec: ActionSpec | None) -> Envelope:
        if cloud is Cloud.UFILE and spec is not None:
            return self.envelopes[spec.cloud]
        return self.envelopes[cloud.value]

    def early_error(self, scope: Scope, error: HoldallError) -> Response:
        """The reply to a call that could not even be read, in the envelope its headers suggest."""
        cloud = cloud_of_headers(decode_headers(scope), dict.fromkeys(loose_names(scope["query_string"])))
        if cloud is Cloud.UFILE:
            return dialect_error(error, UFILE)
        return self.envelopes[cloud.value].error("", str(uuid.uuid4()), InvalidParameter("query", error.message))

    async def handle(self, request: Request) -> Response:
        request_id = str(uuid.uuid4())
        envelope = self.envelopes[cloud_of_headers(request.headers, request.query).value]
        action = request.query.get("Action", "")
        try:
            call = await read_call(request)
            action = call.action
            spec = self.table.get(call.action)
            envelope = self.envelope_for(call.cloud, spec)
            spec = self._spec(call, spec)
            note_operation(request, spec.name)
            names = {param.name[:-1] if param.is_list else param.name for param in spec.params}
            names |= COMMON_PARAMS[call.scheme]
            account_id = await self.auth.verify(call, spec.service, names - {"Signature"})
            passed = PASSED_TO_UFILE_ACTIONS if spec.cloud == "ufile" else NO_COMMON
            args = spec.parse(call.params, COMMON_PARAMS[call.scheme], passed)
            return envelope.success(spec.name, request_id, await spec.run(account_id, args))
        except UnreadableCall as error:
            return self.envelopes[error.cloud.value].error(action, request_id, error)
        except HoldallError as error:
            TALLY.refusal(error.limit)
            return envelope.error(action, request_id, error)
        except Refusal as error:
            return envelope.error(action, request_id, error)
        except Exception:
            log.exception("%s failed, session %s", action or "a management call", request_id)
            return envelope.error(action, request_id, InternalFailure(request_id))

    def _spec(self, call: ControlCall, spec: ActionSpec | None) -> ActionSpec:
        if spec is None or (call.cloud is not Cloud.UFILE and spec.cloud != call.cloud.value):
            where = "" if call.cloud is Cloud.UFILE else f" signed the {call.cloud.value} way"
            raise UnknownAction(f"holdall has no action {call.action!r}{where}.")
        if not call.version and (call.scheme is not Scheme.UFILE or spec.version_required):
            raise MissingParameter("Version", f"The request names no Version; {spec.name}'s is {spec.version}.")
        if call.version and call.version != spec.version:
            wanted = spec.version or "none"
            raise UnsupportedVersion(f"{spec.name} has the version {wanted}, not {call.version!r}.")
        return spec

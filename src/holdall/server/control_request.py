"""A management call as each cloud's SDK sends it, read into one shape (REFERENCE §6).

The action comes from the query ``Action``, the header ``x-acs-action`` or ``X-TC-Action``; the
parameters from the query, a form body or a JSON body (numbers and booleans keep their type); the
version from ``Version``, ``x-acs-version`` or ``X-TC-Version``. Which cloud signed the call is told
by its Authorization scheme, its headers or its signature parameters, and it shapes every reply.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any
from urllib.parse import unquote_plus

from holdall.auth import alibaba, tencent
from holdall.errors import EntityTooLarge, HoldallError, InvalidParameter, MissingParameter
from holdall.server.http import Request, parse_query

MAX_BODY = 64 * 1024
Value = str | int | float | bool


class Cloud(Enum):
    UFILE = "ufile"
    ALIBABA = "alibaba"
    TENCENT = "tencent"
    VOLCENGINE = "volcengine"


class Scheme(Enum):
    UFILE = "ufile"
    ACS3 = "acs3"
    ALIBABA_RPC = "alibaba-rpc"
    TC3 = "tc3"
    TENCENT_LEGACY = "tencent-legacy"
    VOLCENGINE = "volcengine"


CLOUD_OF = {
    Scheme.UFILE: Cloud.UFILE,
    Scheme.ACS3: Cloud.ALIBABA,
    Scheme.ALIBABA_RPC: Cloud.ALIBABA,
    Scheme.TC3: Cloud.TENCENT,
    Scheme.TENCENT_LEGACY: Cloud.TENCENT,
    Scheme.VOLCENGINE: Cloud.VOLCENGINE,
}


@dataclass(frozen=True, slots=True)
class ControlCall:
    scheme: Scheme
    action: str
    version: str
    params: dict[str, Value]
    """Every parameter the call carries, signature parameters included."""
    method: str
    host: str
    headers: Mapping[str, str]
    raw_query: str
    query: Mapping[str, str]
    body: bytes
    repeated_headers: frozenset[str] = frozenset()

    @property
    def cloud(self) -> Cloud:
        return CLOUD_OF[self.scheme]


def scheme_of(headers: Mapping[str, str], names: Mapping[str, Any]) -> Scheme:
    """Which signature a call carries, from its Authorization scheme, headers and parameter names."""
    authorization = headers.get("authorization", "")
    scheme = authorization.strip().partition(" ")[0]
    if scheme.startswith("ACS3-"):
        return Scheme.ACS3
    if scheme.startswith("TC3-"):
        return Scheme.TC3
    if scheme == "HMAC-SHA256" or "x-date" in headers:
        return Scheme.VOLCENGINE
    if "SignatureNonce" in names or "AccessKeyId" in names:
        return Scheme.ALIBABA_RPC
    if "SecretId" in names:
        return Scheme.TENCENT_LEGACY
    if "x-acs-action" in headers or "x-acs-version" in headers:
        return Scheme.ACS3
    if "x-tc-action" in headers or "x-tc-version" in headers:
        return Scheme.TC3
    return Scheme.UFILE


class UnreadableCall(InvalidParameter):
    """A call whose body could not be read; ``cloud`` is who seems to have signed it."""

    def __init__(self, message: str, cloud: Cloud) -> None:
        super().__init__("body", message)
        self.cloud = cloud


def loose_names(raw: bytes) -> set[str]:
    """The parameter names of a query or form that may not parse, as well as they can be read."""
    return {unquote_plus(item.partition("=")[0], errors="replace") for item in raw.decode("latin-1").split("&")}


def _body_names(body: bytes) -> set[str]:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return loose_names(body)
    return {str(name) for name in document} if isinstance(document, dict) else set()


def _unreadable(request: Request, body: bytes, message: str) -> UnreadableCall:
    names = _body_names(body) | set(request.query)
    return UnreadableCall(message, CLOUD_OF[scheme_of(request.headers, dict.fromkeys(names))])


def cloud_of_headers(headers: Mapping[str, str], query: Mapping[str, Any]) -> Cloud:
    return CLOUD_OF[scheme_of(headers, query)]


def _unique_names(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        raise ValueError("a name is given twice")
    return document


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _json_params(body: bytes) -> dict[str, Value]:
    try:
        document = json.loads(body, object_pairs_hook=_unique_names)
    except (ValueError, RecursionError):
        raise InvalidParameter("body", "The request body is not valid JSON, or names a parameter twice.") from None
    if not isinstance(document, dict):
        raise InvalidParameter("body", "The request body is a JSON object of parameters.")
    params: dict[str, Value] = {}
    for name, value in document.items():
        if value is None:
            continue
        if not _encodable(name) or (isinstance(value, str) and not _encodable(value)):
            raise InvalidParameter(name, "The request body holds a string that is not valid Unicode.")
        if not isinstance(value, str | int | float | bool):
            raise InvalidParameter(name, f"The parameter {name} is a string, a number or a boolean.")
        params[name] = value
    return params


def _body_params(content_type: str, body: bytes) -> dict[str, Value]:
    media = content_type.partition(";")[0].strip().lower()
    if not body.strip():
        return {}
    if media == "application/json":
        return _json_params(body)
    if media in ("application/x-www-form-urlencoded", ""):
        try:
            return dict(parse_query(body))
        except HoldallError as error:
            raise InvalidParameter("body", f"The form body is malformed: {error.message}") from None
    raise InvalidParameter("Content-Type", f"The body is JSON or a form, not {media!r}.")


async def read_call(request: Request) -> ControlCall:
    """The call ``request`` makes; raises a :class:`Refusal` when it is malformed."""
    body = b""
    if request.method == "POST":
        if (request.content_length or 0) > MAX_BODY:
            raise _unreadable(request, b"", f"A management call's body holds at most {MAX_BODY} bytes.")
        try:
            body = await request.read(MAX_BODY)
        except EntityTooLarge:
            raise _unreadable(request, b"", f"A management call's body holds at most {MAX_BODY} bytes.") from None
    params: dict[str, Value] = dict(request.query)
    try:
        from_body = _body_params(request.header("content-type"), body)
    except InvalidParameter as error:
        raise _unreadable(request, body, error.message) from None
    for name, value in from_body.items():
        if name in params:
            raise InvalidParameter(name, f"The parameter {name} is given twice.")
        params[name] = value
    headers = request.headers
    scheme = scheme_of(headers, params)
    action = _one_of(params, headers, "Action", ("x-acs-action", "x-tc-action"))
    if not action:
        raise MissingParameter("Action", "The request names no Action.")
    version = _one_of(params, headers, "Version", ("x-acs-version", "x-tc-version"))
    raw_query = request.scope["query_string"].decode("latin-1")
    counts = Counter(name.lower() for name, _ in request.scope["headers"])
    repeated = frozenset(name.decode("latin-1") for name, count in counts.items() if count > 1)
    return ControlCall(
        scheme,
        action,
        version,
        params,
        request.method,
        headers.get("host", ""),
        headers,
        raw_query,
        request.query,
        body,
        repeated,
    )


def _one_of(params: Mapping[str, Value], headers: Mapping[str, str], name: str, header_names: tuple[str, ...]) -> str:
    """A value given as a parameter or a header; both may be given, then they must agree."""
    found = {str(params[name])} if name in params else set()
    found.update(headers[header] for header in header_names if header in headers)
    if len(found) > 1:
        raise InvalidParameter(name, f"The {name} parameter and header disagree: {sorted(found)}.")
    return found.pop() if found else ""


COMMON_PARAMS = {
    Scheme.UFILE: frozenset(("Action", "PublicKey", "Signature", "Region", "ProjectId", "Version")),
    Scheme.ACS3: frozenset(("Action", "Version", "RegionId")),
    Scheme.ALIBABA_RPC: alibaba.RPC_COMMON_PARAMS,
    Scheme.TC3: frozenset(("Action", "Version", "Region")),
    Scheme.TENCENT_LEGACY: tencent.LEGACY_COMMON_PARAMS,
    Scheme.VOLCENGINE: frozenset(("Action", "Version")),
}
"""Parameters a scheme adds to every call; the rest must be the action's own."""


def is_management_call(request: Request) -> bool:
    """Whether a request to the service root is a management call rather than a stray one."""
    headers = request.headers
    if "Action" in request.query or "x-acs-action" in headers or "x-tc-action" in headers:
        return True
    if headers.get("authorization", "").partition(" ")[0] in (alibaba.ACS3, tencent.TC3, "HMAC-SHA256"):
        return True
    media = headers.get("content-type", "").partition(";")[0].strip().lower()
    return request.method == "POST" and media in ("application/x-www-form-urlencoded", "application/json")

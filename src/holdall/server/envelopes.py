"""The reply envelopes of the management API, one per cloud, each with one table of its error codes.

Services raise domain errors (:class:`Refusal` and the :class:`HoldallError` kinds) that carry no
cloud's code; an envelope finds the first row of its table the error is an instance of. Where each
SDK looks for an error (REFERENCE §6):

- Alibaba: HTTP 4xx/5xx with ``{RequestId, Code, Message}``; a 200 is a success whatever it says.
- Tencent: HTTP 200 with ``Content-Type: application/json`` exactly and ``Response.Error``.
- Volcengine: ``ResponseMetadata.Error {Code, CodeN, Message}`` with the cloud's HTTP status.
- UFile: HTTP 200 with the seed's ``RetCode`` and message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from holdall.errors import (
    AlreadyUsed,
    AuthRefusal,
    BucketNotFound,
    DisabledAccount,
    HoldallError,
    InvalidParameter,
    LimitReached,
    MalformedSignature,
    MalformedTimestamp,
    MissingCredentials,
    MissingParameter,
    NameTaken,
    NonceReused,
    NotAccountKey,
    NotEmpty,
    NotFound,
    NotOwner,
    OutOfRange,
    ParameterRefusal,
    QuotaExceeded,
    RateLimited,
    ServiceUnavailable,
    StaleTimestamp,
    StorageFull,
    TooSoon,
    UnknownAccessKey,
    UnknownAction,
    UnknownParameter,
    UnsupportedSignatureMethod,
    UnsupportedVersion,
    WrongSignature,
)
from holdall.server.http import Response
from holdall.server.replies import json_response

Payload = dict[str, Any]
UFILE_API_MESSAGES: dict[int, str] = {
    15000: "存储空间域名全局唯一，请更换名称。",
    15001: "空间名称不符合规范，请重新输入。",
    15002: "缺少必选参数，请重新输入。",
    15003: '"Type" 参数错误，请重新输入。',
    15004: "服务目前不可用，我们正在努力恢复中，请稍后重试。",
    15010: "请求空间不存在，请重新输入。",
    15011: "您的配额不足，如需更大配额，请联系客户经理。",
    15012: "内部错误，请联系技术支持或提交工单。",
    15014: "新建空间 20 分钟之内不可删除，请稍后重试。",
    15017: "参数不合法，请重新输入。",
    15019: "账号余额不足。",
    15018: "参数超出范围，请重新输入。",
    15023: "空间不为空，不可删除。",
    15037: "没有操作权限",
    15038: "令牌数量达到上限",
    15039: "存储空间不存在",
    15040: "没有找到令牌",
}
ALIBABA_SUCCESS = {"Success": True, "Code": "200", "Message": "successful"}


@dataclass(frozen=True, slots=True)
class Code:
    code: str
    status: int = 400
    number: int = 0
    """Volcengine's CodeN; UFile's RetCode."""


Table = tuple[tuple[type[Exception], Code], ...]
"""Rows in order, the first that matches wins; the last row (internal failure) catches the rest."""


class InternalFailure(Exception):
    """What an envelope answers for an error nobody expected (logged with its traceback)."""

    def __init__(self, session: str) -> None:
        super().__init__(f"The request has failed due to an internal error; session {session}.")
        self.message = str(self)


def _message(error: Exception) -> str:
    return str(getattr(error, "message", "") or error)


def lookup(table: Table, error: Exception) -> Code:
    if table is UFILE:
        for (kind, parameter), number in UFILE_BY_PARAMETER.items():
            if type(error) is kind and getattr(error, "name", "") == parameter:
                return Code("", 200, number)
    for kind, code in table:
        if isinstance(error, kind):
            return code
    return table[-1][1]


ALIBABA: Table = (
    (MissingParameter, Code("MissingParameter")),
    (UnknownParameter, Code("InvalidParameter")),
    (InvalidParameter, Code("InvalidParameter")),
    (UnknownAction, Code("InvalidAction.NotFound", 404)),
    (UnsupportedVersion, Code("InvalidVersion")),
    (MalformedTimestamp, Code("InvalidTimeStamp.Format")),
    (MissingCredentials, Code("IncompleteSignature")),
    (MalformedSignature, Code("IncompleteSignature")),
    (UnsupportedSignatureMethod, Code("InvalidSignatureMethod")),
    (WrongSignature, Code("SignatureDoesNotMatch")),
    (UnknownAccessKey, Code("InvalidAccessKeyId.NotFound", 404)),
    (DisabledAccount, Code("InvalidAccessKeyId.Inactive")),
    (StaleTimestamp, Code("InvalidTimeStamp.Expired")),
    (NonceReused, Code("SignatureNonceUsed")),
    (NotAccountKey, Code("Forbidden.RAM", 403)),
    (NotFound, Code("InvalidParameter", 404)),
    (NotOwner, Code("Forbidden", 403)),
    (AlreadyUsed, Code("InvalidParameter")),
    (RateLimited, Code("Throttling.User")),
    (QuotaExceeded, Code("QuotaExceeded", 403)),
    (StorageFull, Code("ServiceUnavailable", 503)),
    (ServiceUnavailable, Code("ServiceUnavailable", 503)),
    (HoldallError, Code("InvalidParameter")),
    (InternalFailure, Code("InternalError", 500)),
)

TENCENT: Table = (
    (MissingParameter, Code("MissingParameter")),
    (UnknownParameter, Code("UnknownParameter")),
    (InvalidParameter, Code("InvalidParameterValue")),
    (UnknownAction, Code("InvalidAction")),
    (UnsupportedVersion, Code("NoSuchVersion")),
    (MissingCredentials, Code("AuthFailure.InvalidAuthorization")),
    (MalformedSignature, Code("AuthFailure.InvalidAuthorization")),
    (UnsupportedSignatureMethod, Code("AuthFailure.InvalidAuthorization")),
    (WrongSignature, Code("AuthFailure.SignatureFailure")),
    (UnknownAccessKey, Code("AuthFailure.SecretIdNotFound")),
    (DisabledAccount, Code("AuthFailure.UnauthorizedOperation")),
    (StaleTimestamp, Code("AuthFailure.SignatureExpire")),
    (NonceReused, Code("AuthFailure.SignatureExpire")),
    (NotAccountKey, Code("AuthFailure.UnauthorizedOperation")),
    (NotFound, Code("ResourceNotFound.MicroserviceOffline")),
    (NotOwner, Code("UnauthorizedOperation.UnauthorizedOperation")),
    (AlreadyUsed, Code("InvalidParameterValue")),
    (RateLimited, Code("RequestLimitExceeded")),
    (QuotaExceeded, Code("LimitExceeded")),
    (StorageFull, Code("ResourceInsufficient")),
    (ServiceUnavailable, Code("ServiceUnavailable")),
    (HoldallError, Code("InvalidParameter")),
    (InternalFailure, Code("InternalError.DefaultInternalError")),
)

VOLCENGINE: Table = (
    (MissingParameter, Code("MissingParameter", 400, 100002)),
    (InvalidParameter, Code("InvalidParameter")),
    (UnknownParameter, Code("InvalidParameter")),
    (UnknownAction, Code("InvalidActionOrVersion", 404, 100008)),
    (UnsupportedVersion, Code("InvalidActionOrVersion", 404, 100008)),
    (MissingCredentials, Code("MissingAuthenticationToken", 401, 100003)),
    (MalformedTimestamp, Code("InvalidTimestamp", 400, 100006)),
    (MalformedSignature, Code("InvalidAuthorization", 400, 100024)),
    (UnsupportedSignatureMethod, Code("InvalidAuthorization", 400, 100024)),
    (WrongSignature, Code("SignatureDoesNotMatch", 401, 100010)),
    (UnknownAccessKey, Code("InvalidAccessKey", 401, 100009)),
    (DisabledAccount, Code("AccessDenied", 403, 100013)),
    (StaleTimestamp, Code("InvalidTimestamp", 400, 100006)),
    (NonceReused, Code("InvalidTimestamp", 400, 100006)),
    (NotAccountKey, Code("AccessDenied", 403, 100013)),
    (NotFound, Code("InvalidParameter")),
    (NotOwner, Code("AccessDenied", 403, 100013)),
    (AlreadyUsed, Code("IdempotentParameterMismatch")),
    (RateLimited, Code("FlowLimitExceeded", 429, 100018)),
    (QuotaExceeded, Code("QuotaExceeded")),
    (StorageFull, Code("ServiceUnavailable", 503)),
    (ServiceUnavailable, Code("ServiceUnavailable", 503)),
    (HoldallError, Code("InvalidParameter")),
    (InternalFailure, Code("InternalError", 500, 100014)),
)

UFILE: Table = (
    (MissingParameter, Code("", 200, 15002)),
    (MissingCredentials, Code("", 200, 15037)),
    (OutOfRange, Code("", 200, 15018)),
    (ParameterRefusal, Code("", 200, 15017)),
    (UnknownAction, Code("", 200, 15017)),
    (UnsupportedVersion, Code("", 200, 15017)),
    (AuthRefusal, Code("", 200, 15037)),
    (BucketNotFound, Code("", 200, 15010)),
    (NotFound, Code("", 200, 15010)),
    (NotOwner, Code("", 200, 15037)),
    (AlreadyUsed, Code("", 200, 15017)),
    (NameTaken, Code("", 200, 15000)),
    (NotEmpty, Code("", 200, 15023)),
    (TooSoon, Code("", 200, 15014)),
    (LimitReached, Code("", 200, 15038)),
    (QuotaExceeded, Code("", 200, 15011)),
    (RateLimited, Code("", 200, 15005)),
    (StorageFull, Code("", 507, 15004)),
    (ServiceUnavailable, Code("", 503, 15004)),
    (HoldallError, Code("", 200, 15017)),
    (InternalFailure, Code("", 500, 15012)),
)
UFILE_BY_PARAMETER = {
    (InvalidParameter, "BucketName"): 15001,
    (InvalidParameter, "Type"): 15003,
    (NotFound, "AllowedBuckets"): 15039,
    (NotFound, "TokenId"): 15040,
    (NotFound, "ProjectId"): 15017,
}
"""Where the seed gives a refusal about one parameter a code of its own."""


@dataclass(frozen=True, slots=True)
class Envelope:
    name: str
    table: Table
    wrap: Callable[[str, str, Payload], Payload]
    """(action, request id, result) → the reply body of a success."""
    render: Callable[[str, str, Code, str], Response]
    """(action, request id, code, message) → the reply of a failure."""

    def success(self, action: str, request_id: str, result: Payload) -> Response:
        return json_response(self.wrap(action, request_id, result))

    def error(self, action: str, request_id: str, error: Exception) -> Response:
        return self.render(action, request_id, lookup(self.table, error), _message(error))


def volcengine_metadata(action: str, version: str, request_id: str, region: str) -> Payload:
    return {"RequestId": request_id, "Action": action, "Version": version, "Service": "vms", "Region": region}


def _alibaba_error(action: str, request_id: str, code: Code, message: str) -> Response:
    return json_response({"RequestId": request_id, "Code": code.code, "Message": message}, code.status)


def _tencent_error(action: str, request_id: str, code: Code, message: str) -> Response:
    return json_response({"Response": {"Error": {"Code": code.code, "Message": message}, "RequestId": request_id}})


def _tencent_result(request_id: str, result: Payload) -> Payload:
    """Tencent's ``Result`` objects carry the request id too, as CreateCosToken's does."""
    inner = result.get("Result")
    if isinstance(inner, dict):
        result = {**result, "Result": {"RequestId": request_id, **inner}}
    return {"RequestId": request_id, **result}


def _ufile_error(action: str, request_id: str, code: Code, message: str) -> Response:
    text = f"{UFILE_API_MESSAGES.get(code.number, '操作失败，请稍后重试。')} ({message})"
    return json_response({"RetCode": code.number, "Action": f"{action}Response", "Message": text}, code.status)


def envelopes(region: str, volcengine_version: str) -> dict[str, Envelope]:
    def volcengine_error(action: str, request_id: str, code: Code, message: str) -> Response:
        metadata = volcengine_metadata(action, volcengine_version, request_id, region)
        metadata["Error"] = {"Code": code.code, "CodeN": code.number, "Message": message}
        return json_response({"ResponseMetadata": metadata}, code.status)

    return {
        "alibaba": Envelope(
            "alibaba",
            ALIBABA,
            lambda action, rid, result: {"RequestId": rid, **ALIBABA_SUCCESS, **result},
            _alibaba_error,
        ),
        "tencent": Envelope(
            "tencent", TENCENT, lambda action, rid, result: {"Response": _tencent_result(rid, result)}, _tencent_error
        ),
        "volcengine": Envelope(
            "volcengine",
            VOLCENGINE,
            lambda action, rid, result: {
                "ResponseMetadata": volcengine_metadata(action, volcengine_version, rid, region),
                "Result": result,
            },
            volcengine_error,
        ),
        "ufile": Envelope(
            "ufile",
            UFILE,
            lambda action, rid, result: {"RetCode": 0, "Action": f"{action}Response", **result},
            _ufile_error,
        ),
    }

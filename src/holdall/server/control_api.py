"""The control actions of seeds 000, 002 and 003, each answered in its own cloud's envelope.

They are called like every management action (``GET /?Action=…&PublicKey=&Signature=``), but
their replies and errors take the shape the clouds' own clients expect (REFERENCE §5): Alibaba's
flat ``{RequestId, Success, Code, Message, …}`` for CreateTempFileUploadUrl, Tencent's
``{"Response": {…}}`` for CreateCosToken, Volcengine's ``{"ResponseMetadata", "Result"}`` for
GetResourceUploadUrl.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from holdall.config import Settings
from holdall.errors import ApiError, QuotaExceeded, RateLimited, StorageFull
from holdall.parsing import is_ascii_uint
from holdall.server.action_params import undeclared
from holdall.server.http import Response
from holdall.server.replies import json_response
from holdall.service.tempaccess import AlreadyUploaded, NameRefused, NoApplication, NotYourApplication, TempAccess

log = logging.getLogger("holdall.control")
VOLCENGINE_VERSION = "2022-01-01"
INTERNAL_ERRORS = {
    "CreateTempFileUploadUrl": "InternalError",
    "CreateCosToken": "InternalError.DefaultInternalError",
    "GetResourceUploadUrl": "InternalError",
}
Authenticate = Callable[[dict[str, str]], str]


@dataclass(slots=True)
class ControlError(Exception):
    code: str
    message: str
    status: int = 400


def _tencent_error(error: ControlError, request_id: str) -> Response:
    """Tencent's API answers errors with HTTP 200 and an ``Error`` in the body, which its SDKs look for."""
    payload = {"Response": {"Error": {"Code": error.code, "Message": error.message}, "RequestId": request_id}}
    return json_response(payload)


def _pkg_part(params: dict[str, str], name: str, *, required: bool) -> str:
    value = params.get(name, "")
    if not value:
        if required:
            raise ControlError("MissingParameter", f"The request is missing a required parameter `{name}`.")
        return ""
    if value in (".", "..") or "/" in value or "\0" in value or len(value.encode()) > 255:
        raise ControlError("InvalidParameterValue", f"`{name}` must be 1 to 255 bytes without '/' and not '.' or '..'.")
    return value


@dataclass(frozen=True, slots=True)
class Envelope:
    auth_code: str
    render_error: Callable[[str, ControlError, str], Response]
    unknown_parameter_code: str = "InvalidParameter"
    unavailable_code: str = "ServiceUnavailable"


def _alibaba_error(action: str, error: ControlError, request_id: str) -> Response:
    payload = {"RequestId": request_id, "Success": False, "Code": error.code, "Message": error.message}
    return json_response(payload, error.status)


def _volcengine_metadata(action: str, request_id: str, region: str) -> dict[str, Any]:
    return {
        "RequestId": request_id,
        "Action": action,
        "Version": VOLCENGINE_VERSION,
        "Service": "vms",
        "Region": region,
    }


class ControlApi:
    def __init__(self, settings: Settings, temp: TempAccess) -> None:
        self.settings = settings
        self.temp = temp
        alibaba = Envelope("SignatureDoesNotMatch", _alibaba_error)
        tencent = Envelope(
            "AuthFailure.SignatureFailure",
            lambda _, error, rid: _tencent_error(error, rid),
            "UnknownParameter",
            "ResourceInsufficient",
        )
        volcengine = Envelope("InvalidAuthorization", self._volcengine_error)
        self.actions: dict[str, tuple[Callable[[str, dict[str, str], str], Awaitable[Response]], Envelope]] = {
            "CreateTempFileUploadUrl": (self.create_temp_file_upload_url, alibaba),
            "CreateCosToken": (self.create_cos_token, tencent),
            "GetResourceUploadUrl": (self.get_resource_upload_url, volcengine),
        }

    def _volcengine_error(self, action: str, error: ControlError, request_id: str) -> Response:
        metadata = _volcengine_metadata(action, request_id, self.settings.region)
        metadata["Error"] = {"Code": error.code, "Message": error.message}
        return json_response({"ResponseMetadata": metadata}, error.status)

    async def handle(self, action: str, params: dict[str, str], authenticate: Authenticate) -> Response:
        request_id = str(uuid.uuid4())
        handler, envelope = self.actions[action]
        try:
            extra = undeclared(action, params)
            if extra is not None:
                raise ControlError(envelope.unknown_parameter_code, f"{action} takes no parameter `{extra}`.")
            try:
                account_id = authenticate(params)
            except ApiError as error:
                raise ControlError(envelope.auth_code, error.message, 401) from None
            return await handler(account_id, params, request_id)
        except ControlError as error:
            return envelope.render_error(action, error, request_id)
        except RateLimited as error:
            return envelope.render_error(action, ControlError("RequestLimitExceeded", error.message, 429), request_id)
        except QuotaExceeded as error:
            return envelope.render_error(action, ControlError("QuotaExceeded", error.message), request_id)
        except StorageFull as error:
            full = ControlError(envelope.unavailable_code, error.message, error.status)
            return envelope.render_error(action, full, request_id)
        except Exception:
            log.exception("%s failed, request %s", action, request_id)
            failure = ControlError(INTERNAL_ERRORS[action], "The request has failed due to an unknown error.", 500)
            return envelope.render_error(action, failure, request_id)

    async def create_temp_file_upload_url(self, account_id: str, params: dict[str, str], request_id: str) -> Response:
        """Form-upload parameters for one temporary file (seed 000)."""
        name = params.get("FileName", "")
        if not name:
            raise ControlError("MissingParameter", "FileName is mandatory for this action.")
        try:
            form = await self.temp.temp_upload_form(account_id, name)
        except NameRefused as problem:
            raise ControlError("InvalidParameter", str(problem)) from None
        return json_response(
            {
                "RequestId": request_id,
                "Success": True,
                "Code": "200",
                "Message": "successful",
                "Endpoint": form.endpoint,
                "BucketName": form.bucket,
                "TempFileKey": form.key,
                "OssAccessKeyId": form.access_key,
                "Policy": form.policy,
                "Signature": form.signature,
                "ExpireTime": form.expire_time,
            }
        )

    async def get_resource_upload_url(self, account_id: str, params: dict[str, str], request_id: str) -> Response:
        """A TOS V4 presigned PUT URL, 10 minutes, the same for the same FileName while it lives (seed 003)."""
        version = params.get("Version", "")
        if not version:
            raise ControlError("MissingParameter", "The required parameter Version is missing.")
        if version != VOLCENGINE_VERSION:
            raise ControlError(
                "InvalidParameter", f"The specified parameter Version is invalid: use {VOLCENGINE_VERSION}."
            )
        name = params.get("FileName", "")
        if not name:
            raise ControlError("MissingParameter", "The required parameter FileName is missing.")
        try:
            url = await self.temp.resource_upload_url(account_id, name)
        except NameRefused as problem:
            raise ControlError("InvalidParameter", f"The specified parameter FileName is invalid: {problem}.") from None
        except AlreadyUploaded as problem:
            raise ControlError("IdempotentParameterMismatch", str(problem)) from None
        metadata = _volcengine_metadata("GetResourceUploadUrl", request_id, self.settings.region)
        return json_response({"ResponseMetadata": metadata, "Result": {"UploadUrl": url}})

    async def create_cos_token(self, account_id: str, params: dict[str, str], request_id: str) -> Response:
        """A temporary key for one package: OptType 1 may upload it, 2 may read it (seed 002)."""
        application = _pkg_part(params, "ApplicationId", required=True)
        package = _pkg_part(params, "PkgName", required=True)
        version = _pkg_part(params, "TimeVersion", required=False)
        opt_type = params.get("OptType", "")
        if not opt_type:
            raise ControlError("MissingParameter", "The request is missing a required parameter `OptType`.")
        if opt_type not in ("1", "2"):
            raise ControlError("InvalidParameterValue", "`OptType` is 1 (upload) or 2 (query).")
        channel = params.get("SourceChannel", "0")
        if not is_ascii_uint(channel.removeprefix("-")):
            raise ControlError("InvalidParameterValue", "`SourceChannel` must be an integer.")
        try:
            credential, bucket = await self.temp.package_credential(
                account_id, application, package, version, upload=opt_type == "1"
            )
        except NoApplication as problem:
            raise ControlError("ResourceNotFound.MicroserviceOffline", str(problem)) from None
        except NotYourApplication as problem:
            raise ControlError("UnauthorizedOperation.UnauthorizedOperation", str(problem)) from None
        except NameRefused as problem:
            raise ControlError("InvalidParameterValue", str(problem)) from None
        result = {
            "RequestId": request_id,
            "Bucket": credential.bucket,
            "Region": bucket.region,
            "TmpSecretId": credential.access_key,
            "TmpSecretKey": credential.secret,
            "SessionToken": credential.session_token,
            "StartTime": str(int(credential.created)),
            "ExpiredTime": str(credential.expire_time),
            "FullPath": credential.key,
        }
        return json_response({"Response": {"RequestId": request_id, "Result": result}})

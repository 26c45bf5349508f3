"""The control actions of seeds 000, 002 and 003: their schemas and the service calls behind them.

Each answers in its own cloud's envelope (REFERENCE §5): Alibaba's flat ``{RequestId, Success,
Code, Message, …}`` for CreateTempFileUploadUrl, Tencent's ``{"Response": {…}}`` for
CreateCosToken, Volcengine's ``{"ResponseMetadata", "Result"}`` for GetResourceUploadUrl.
"""

from __future__ import annotations

from typing import Any

from holdall.errors import InvalidParameter
from holdall.server.actions import ActionSpec, Args, Param
from holdall.service.tempaccess import TempAccess

ALIBABA_VERSION = "2017-09-08"
TENCENT_VERSION = "2021-07-01"
VOLCENGINE_VERSION = "2022-01-01"
NAME_BYTES = 255


def _package_part(args: Args, name: str) -> str:
    value = str(args.get(name, ""))
    if value in (".", "..") or "/" in value or "\0" in value:
        raise InvalidParameter(name, f"`{name}` must be 1 to 255 bytes without '/' and not '.' or '..'.")
    return value


class ControlApi:
    def __init__(self, temp: TempAccess) -> None:
        self.temp = temp

    def specs(self) -> list[ActionSpec]:
        return [
            ActionSpec(
                "CreateTempFileUploadUrl",
                "alibaba",
                (Param("FileName", required=True, max_bytes=NAME_BYTES),),
                self.create_temp_file_upload_url,
                version=ALIBABA_VERSION,
                service="hbr",
            ),
            ActionSpec(
                "CreateCosToken",
                "tencent",
                (
                    Param("ApplicationId", required=True, max_bytes=NAME_BYTES),
                    Param("PkgName", required=True, max_bytes=NAME_BYTES),
                    Param("OptType", int, required=True, low=1, high=2),
                    Param("SourceChannel", int, low=-(2**31), high=2**31 - 1),
                    Param("TimeVersion", max_bytes=NAME_BYTES),
                ),
                self.create_cos_token,
                version=TENCENT_VERSION,
                service="tem",
            ),
            ActionSpec(
                "GetResourceUploadUrl",
                "volcengine",
                (Param("FileName", required=True, max_bytes=NAME_BYTES),),
                self.get_resource_upload_url,
                version=VOLCENGINE_VERSION,
                service="vms",
                version_required=True,
            ),
        ]

    async def create_temp_file_upload_url(self, account_id: str, args: Args) -> dict[str, Any]:
        """Form-upload parameters for one temporary file (seed 000)."""
        form = await self.temp.temp_upload_form(account_id, str(args["FileName"]))
        return {
            "Endpoint": form.endpoint,
            "BucketName": form.bucket,
            "TempFileKey": form.key,
            "OssAccessKeyId": form.access_key,
            "Policy": form.policy,
            "Signature": form.signature,
            "ExpireTime": form.expire_time,
        }

    async def get_resource_upload_url(self, account_id: str, args: Args) -> dict[str, Any]:
        """A TOS V4 presigned PUT URL, 10 minutes, the same for the same FileName while it lives (seed 003)."""
        return {"UploadUrl": await self.temp.resource_upload_url(account_id, str(args["FileName"]))}

    async def create_cos_token(self, account_id: str, args: Args) -> dict[str, Any]:
        """A temporary key for one package: OptType 1 may upload it, 2 may read it (seed 002)."""
        credential, bucket = await self.temp.package_credential(
            account_id,
            _package_part(args, "ApplicationId"),
            _package_part(args, "PkgName"),
            _package_part(args, "TimeVersion"),
            upload=args["OptType"] == 1,
        )
        result = {
            "Bucket": credential.bucket,
            "Region": bucket.region,
            "TmpSecretId": credential.access_key,
            "TmpSecretKey": credential.secret,
            "SessionToken": credential.session_token,
            "StartTime": str(int(credential.created)),
            "ExpiredTime": str(credential.expire_time),
            "FullPath": credential.key,
        }
        return {"Result": result}

"""Temporary access handed out by the control actions of seeds 000, 002 and 003. No HTTP in here.

``CreateCosToken`` gives a temporary key for one package in one of the caller's buckets. The two
others upload into system buckets that the root account owns and creates on first use: a temp
bucket for ``CreateTempFileUploadUrl`` (files are swept ``temp_file_max_age`` after upload) and a
resource bucket for ``GetResourceUploadUrl``. What the caller receives can reach one key only:
the form's policy pins it, and a temporary key is good for that key alone.
"""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

from holdall import clock
from holdall.auth import v1, v4
from holdall.auth.encoding import uri_encode
from holdall.config import Settings
from holdall.errors import AlreadyUsed, InvalidParameter, NameTaken, NotFound, NotOwner
from holdall.keys import ROOT_ACCOUNT, SIGNER_NAME
from holdall.service.buckets import DEFAULT_PROJECT, new_bucket_id
from holdall.service.formats import extension
from holdall.service.objects import MAX_KEY_BYTES
from holdall.store.meta.base import Bucket, MetaStore, TempCredential, Token

TEMP_PREFIX = "temp/"
FOREVER = 4102444800  # 2100-01-01


def new_temp_credential(
    bucket: Bucket, key: str, ops: tuple[str, ...], lifetime: int, *, account_id: str, formats: tuple[str, ...] = ()
) -> TempCredential:
    """A fresh key pair and session token good for ``bucket/key`` alone, for ``lifetime`` seconds."""
    now = clock.now()
    return TempCredential(
        access_key="HATMP" + secrets.token_hex(12).upper(),
        secret=secrets.token_urlsafe(30),
        session_token=secrets.token_urlsafe(48),
        account_id=account_id,
        bucket=bucket.name,
        key=key,
        ops=ops,
        created=now,
        expire_time=int(now) + lifetime,
        formats=formats,
    )


@dataclass(frozen=True, slots=True)
class TempUploadForm:
    endpoint: str
    bucket: str
    key: str
    access_key: str
    policy: str
    signature: str
    expire_time: int


def check_file_name(name: str) -> str:
    if name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
        raise InvalidParameter("FileName", "FileName is a file name, without '/' and not '.' or '..'.")
    if not 1 <= len(name.encode()) <= 255:
        raise InvalidParameter("FileName", "FileName has 1 to 255 bytes.")
    return name


class TempAccess:
    def __init__(self, settings: Settings, meta: MetaStore) -> None:
        self.settings = settings
        self.meta = meta
        self._signer: Token | None = None

    async def system_bucket(self, name: str) -> Bucket:
        bucket = await self.meta.bucket(name)
        if bucket is not None:
            return bucket
        root = await self.meta.account_by_name(ROOT_ACCOUNT)
        if root is None:
            raise RuntimeError("the root account is missing")
        now = int(clock.now())
        bucket = Bucket(name, new_bucket_id(), root.id, DEFAULT_PROJECT, "private", self.settings.region, now, now)
        try:
            await self.meta.create_bucket(bucket)
        except NameTaken:
            pass  # another worker made it a moment ago
        found = await self.meta.bucket(name)
        if found is None or found.account_id != root.id:
            raise RuntimeError(f"the system bucket {name!r} belongs to another account")
        return found

    async def _form_signer(self, bucket: Bucket) -> Token:
        """A token of root that may only write under temp/ of the temp bucket: it signs the forms."""
        if self._signer is not None:
            return self._signer
        for token in await self.meta.tokens(bucket.account_id):
            if token.name == SIGNER_NAME and token.buckets == [bucket.name]:
                self._signer = token
                return token
        token_id = str(uuid.uuid4())
        now = int(clock.now())
        token = Token(
            id=token_id,
            account_id=bucket.account_id,
            name=SIGNER_NAME,
            public_key=f"TOKEN_{token_id}",
            private_key=str(uuid.uuid4()),
            ops=["TOKEN_ALLOW_WRITE", "TOKEN_DENY_UPDATE"],
            prefixes=[TEMP_PREFIX],
            buckets=[bucket.name],
            expire_time=FOREVER,
            white_ips=[],
            black_ips=[],
            region=bucket.region,
            project_id=DEFAULT_PROJECT,
            created=now,
            modified=now,
        )
        await self.meta.create_token(token, 2**31)
        self._signer = token
        return token

    async def temp_upload_form(self, account_id: str, file_name: str) -> TempUploadForm:
        """The OSS V1 form fields for one upload of ``file_name`` into the temp bucket (seed 000)."""
        check_file_name(file_name)
        bucket = await self.system_bucket(self.settings.temp_bucket)
        signer = await self._form_signer(bucket)
        now = clock.now()
        day = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d")
        key = f"{TEMP_PREFIX}{account_id}/upload/{day}/{uuid.uuid4()}/{file_name}"
        expire = int(now) + self.settings.temp_upload_lifetime
        document = {
            "expiration": datetime.fromtimestamp(expire, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "conditions": [
                {"bucket": bucket.name},
                ["eq", "$key", key],
                ["content-length-range", 0, self.settings.max_object_size],
            ],
        }
        encoded = base64.b64encode(json.dumps(document).encode()).decode()
        return TempUploadForm(
            endpoint=self.settings.public_host_suffix,
            bucket=bucket.name,
            key=key,
            access_key=signer.public_key,
            policy=encoded,
            signature=v1.signature(signer.private_key, encoded),
            expire_time=expire,
        )

    async def resource_upload_url(self, account_id: str, file_name: str) -> str:
        """A TOS V4 presigned PUT URL for ``file_name``, the same one while it lives (seed 003)."""
        check_file_name(file_name)
        formats = self.settings.resource_formats
        if extension(file_name) not in formats:
            raise InvalidParameter("FileName", f"FileName must end in .{' or .'.join(formats)}.")
        bucket = await self.system_bucket(self.settings.resource_bucket)
        key = f"{account_id}/{file_name}"
        if await self.meta.object(bucket.name, key) is not None:
            raise AlreadyUsed(f"{file_name!r} has been uploaded already; pick a new name.")
        live = await self.meta.upload_url(account_id, file_name)
        if live is not None and live[1] > clock.now():
            return live[0]
        lifetime = self.settings.resource_url_lifetime
        credential = new_temp_credential(
            bucket,
            key,
            ("TOKEN_ALLOW_WRITE", "TOKEN_DENY_UPDATE"),
            lifetime,
            account_id=bucket.account_id,
            formats=formats,
        )
        host = f"{bucket.name}.{self.settings.public_host_suffix}"
        query = v4.presign(
            v4.TOS4,
            credential.access_key,
            credential.secret,
            method="PUT",
            host=host,
            bucket=bucket.name,
            key=key,
            region=bucket.region,
            expires=lifetime,
            now=credential.created,
            security_token=credential.session_token,
        )
        url = f"http://{host}/{uri_encode(key, keep_slash=True)}?{urlencode(query)}"
        return await self.meta.issue_upload_url(
            account_id, file_name, url, credential, self.settings.resource_pending_max
        )

    async def package_credential(
        self, account_id: str, application: str, package: str, version: str, *, upload: bool
    ) -> tuple[TempCredential, Bucket]:
        """A temporary key for ``packages/[<version>/]<package>`` in the application's bucket (seed 002):
        it may upload that key, or only read it."""
        bucket = await self.meta.bucket(application)
        if bucket is None:
            raise NotFound(f"Application {application!r} has no bucket: create it first.")
        if bucket.account_id != account_id:
            raise NotOwner(f"Application {application!r} is not yours.")
        key = "/".join(part for part in ("packages", version, package) if part)
        if len(key.encode()) > MAX_KEY_BYTES:
            raise InvalidParameter("PkgName", "`PkgName` and `TimeVersion` make a key that is too long.")
        credential = new_temp_credential(
            bucket,
            key,
            ("TOKEN_ALLOW_WRITE",) if upload else ("TOKEN_ALLOW_READ",),
            self.settings.cos_token_lifetime,
            account_id=account_id,
        )
        await self.meta.create_temp_credential(credential, self.settings.cos_token_rate)
        return credential, bucket

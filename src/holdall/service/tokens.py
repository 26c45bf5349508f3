"""Tokens (seed 004 §21–23): key pairs of an account, limited to some operations, buckets, key
prefixes, client addresses and a lifetime. What they allow is checked in :mod:`holdall.auth.principal`."""

from __future__ import annotations

import dataclasses
import ipaddress
import uuid
from dataclasses import dataclass

from holdall import clock
from holdall.auth.principal import TOKEN_OPS
from holdall.config import Settings
from holdall.errors import InvalidParameter, MissingParameter, NotFound, OutOfRange
from holdall.keys import SIGNER_NAME
from holdall.service.buckets import resolve_project
from holdall.store.meta.base import MetaStore, Token

DEFAULT_LIFETIME = 86400
MAX_ENTRIES = 100
MAX_PREFIX_BYTES = 1024


@dataclass(slots=True)
class TokenChanges:
    """What a Create or Update call asks for; None: not given."""

    name: str | None = None
    ops: list[str] | None = None
    prefixes: list[str] | None = None
    buckets: list[str] | None = None
    expire_time: int | None = None
    white_ips: list[str] | None = None
    black_ips: list[str] | None = None
    region: str | None = None


def _check_list(name: str, values: list[str]) -> None:
    if len(values) > MAX_ENTRIES:
        raise OutOfRange(name, f"{name} holds at most {MAX_ENTRIES} entries")


def _check_ips(name: str, values: list[str]) -> None:
    _check_list(name, values)
    for value in values:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise InvalidParameter(name, f"{name}: {value!r} is not an IP address or network") from None


class TokenService:
    def __init__(self, settings: Settings, meta: MetaStore) -> None:
        self.settings = settings
        self.meta = meta

    async def _validate(self, account_id: str, changes: TokenChanges) -> None:
        if changes.name is not None and not 1 <= len(changes.name) <= 128:
            raise InvalidParameter("TokenName", "TokenName has 1 to 128 characters")
        if changes.ops is not None:
            _check_list("AllowedOps", changes.ops)
            unknown = [op for op in changes.ops if op not in TOKEN_OPS]
            if unknown:
                raise InvalidParameter("AllowedOps", f"AllowedOps: {unknown[0]!r} is not one of {', '.join(TOKEN_OPS)}")
        if changes.prefixes is not None:
            _check_list("AllowedPrefixes", changes.prefixes)
            for prefix in changes.prefixes:
                if not prefix or len(prefix.encode()) > MAX_PREFIX_BYTES or "\0" in prefix:
                    raise InvalidParameter("AllowedPrefixes", f"AllowedPrefixes: {prefix!r} is not a key prefix")
        if changes.buckets is not None:
            _check_list("AllowedBuckets", changes.buckets)
            for name in changes.buckets:
                bucket = await self.meta.bucket(name) if name != "*" else None
                if name != "*" and (bucket is None or bucket.account_id != account_id):
                    raise NotFound(f"AllowedBuckets: no bucket {name!r} in this account", "AllowedBuckets")
        if changes.expire_time is not None and changes.expire_time <= clock.now():
            raise OutOfRange("ExpireTime", "ExpireTime must lie in the future")
        if changes.white_ips is not None:
            _check_ips("WhiteIPList", changes.white_ips)
        if changes.black_ips is not None:
            _check_ips("BlackIPList", changes.black_ips)

    async def create(self, account_id: str, project_id: str, changes: TokenChanges) -> Token:
        project = await resolve_project(self.meta, account_id, project_id)
        if not changes.name:
            raise MissingParameter("TokenName", "missing TokenName")
        _refuse_reserved_name(changes)
        if not changes.ops:
            raise MissingParameter("AllowedOps.0", "missing AllowedOps.0")
        await self._validate(account_id, changes)
        now = int(clock.now())
        token_id = str(uuid.uuid4())
        token = Token(
            id=token_id,
            account_id=account_id,
            name=changes.name,
            public_key=f"TOKEN_{token_id}",
            private_key=str(uuid.uuid4()),
            ops=changes.ops,
            prefixes=changes.prefixes or ["*"],
            buckets=changes.buckets or ["*"],
            expire_time=changes.expire_time if changes.expire_time is not None else now + DEFAULT_LIFETIME,
            white_ips=changes.white_ips or [],
            black_ips=changes.black_ips or [],
            region=changes.region or self.settings.region,
            project_id=project,
            created=now,
            modified=now,
        )
        await self.meta.create_token(token, self.settings.max_tokens)
        return token

    async def require(self, account_id: str, token_id: str) -> Token:
        found = [token for token in await self.meta.tokens(account_id, token_id) if token.name != SIGNER_NAME]
        if not found:
            raise NotFound(f"no token {token_id!r} in this account", "TokenId")
        return found[0]

    async def update(self, account_id: str, token_id: str, changes: TokenChanges) -> Token:
        token = await self.require(account_id, token_id)
        _refuse_reserved_name(changes)
        await self._validate(account_id, changes)
        given = {name: value for name, value in dataclasses.asdict(changes).items() if value is not None}
        updated = dataclasses.replace(token, **given, modified=int(clock.now()))
        if not updated.ops:
            raise InvalidParameter("AllowedOps", "AllowedOps may not be empty")
        await self.meta.replace_token(updated)
        return updated

    async def delete(self, account_id: str, token_id: str) -> None:
        await self.require(account_id, token_id)
        await self.meta.delete_token(account_id, token_id)

    async def describe(self, account_id: str, token_id: str | None) -> list[Token]:
        """The account's tokens; holdall's own signer of temporary forms is neither shown nor changed."""
        if token_id:
            return [await self.require(account_id, token_id)]
        return [token for token in await self.meta.tokens(account_id) if token.name != SIGNER_NAME]


def _refuse_reserved_name(changes: TokenChanges) -> None:
    if changes.name == SIGNER_NAME:
        raise InvalidParameter("TokenName", f"TokenName {SIGNER_NAME!r} is reserved for holdall's temporary forms")

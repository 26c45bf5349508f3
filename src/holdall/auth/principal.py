"""Who a request acts as, once its signature has been checked, and what it may do.

Every data-plane call asks :meth:`TokenScope.check` before it touches anything: account keys may
do everything in their own buckets; a token (seed 004 §21–23) or a temporary key (seed 002) only
what its rules allow. A refusal names the rule that refused.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from enum import Enum

from holdall.errors import AccessDenied


class Op(Enum):
    READ = "TOKEN_ALLOW_READ"
    WRITE = "TOKEN_ALLOW_WRITE"
    DELETE = "TOKEN_ALLOW_DELETE"
    LIST = "TOKEN_ALLOW_LIST"


TOKEN_OPS = (
    "TOKEN_ALLOW_NONE",
    "TOKEN_ALLOW_READ",
    "TOKEN_ALLOW_WRITE",
    "TOKEN_ALLOW_DELETE",
    "TOKEN_ALLOW_LIST",
    "TOKEN_ALLOW_IOP",
    "TOKEN_ALLOW_DP",
    "TOKEN_DENY_UPDATE",
)
DENY_UPDATE = "TOKEN_DENY_UPDATE"


def _ip_matches(client: str, patterns: tuple[str, ...]) -> bool:
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return False
    for pattern in patterns:
        try:
            if address in ipaddress.ip_network(pattern, strict=False):
                return True
        except ValueError:
            continue
    return False


@dataclass(frozen=True, slots=True)
class TokenScope:
    token_id: str
    name: str
    ops: frozenset[str]
    buckets: tuple[str, ...]
    prefixes: tuple[str, ...]
    expire_time: int
    white_ips: tuple[str, ...] = ()
    black_ips: tuple[str, ...] = ()
    exact_keys: bool = False
    """The prefixes are whole keys: a temporary key is good for one object only."""
    kind: str = "token"
    formats: tuple[str, ...] = ()
    """File formats that uploads made with it must have; empty: any."""

    @property
    def deny_update(self) -> bool:
        return DENY_UPDATE in self.ops

    def _refuse(self, rule: str, detail: str) -> AccessDenied:
        return AccessDenied(f"{self.kind} {self.name!r} ({self.token_id}) refused by {rule}: {detail}")

    def update_refused(self, key: str) -> AccessDenied:
        return self._refuse(DENY_UPDATE, f"{key!r} exists and this token may not overwrite it")

    def check(self, op: Op, bucket: str, key: str | None, client_ip: str, now: float) -> None:
        """Raises :class:`AccessDenied` unless this token may do ``op`` on ``bucket/key``.

        ``key`` is the decoded object key, or for listings the listed prefix; None skips the prefix
        rule. Bucket ownership is checked by the caller, who knows the bucket's owner.
        """
        if now >= self.expire_time:
            raise self._refuse("ExpireTime", f"the token expired at {self.expire_time}")
        if self.black_ips and _ip_matches(client_ip, self.black_ips):
            raise self._refuse("BlackIPList", f"{client_ip} is listed")
        if self.white_ips and not _ip_matches(client_ip, self.white_ips):
            raise self._refuse("WhiteIPList", f"{client_ip} is not listed")
        if op.value not in self.ops:
            raise self._refuse("AllowedOps", f"{op.value} is not among {sorted(self.ops)}")
        if "*" not in self.buckets and bucket not in self.buckets:
            raise self._refuse("AllowedBuckets", f"bucket {bucket!r} is not among {list(self.buckets)}")
        if key is None or "*" in self.prefixes:
            return
        if self.exact_keys:
            if key not in self.prefixes:
                raise self._refuse("AllowedPrefixes", f"{key!r} is not the key it was issued for, {self.prefixes[0]!r}")
        elif not any(key.startswith(p) for p in self.prefixes):
            raise self._refuse("AllowedPrefixes", f"{key!r} starts with none of {list(self.prefixes)}")


@dataclass(frozen=True, slots=True)
class Principal:
    account_id: str
    public_key: str
    anonymous: bool = False
    token: TokenScope | None = field(default=None)

    @property
    def deny_update(self) -> bool:
        return self.token is not None and self.token.deny_update


ANONYMOUS = Principal(account_id="", public_key="", anonymous=True)

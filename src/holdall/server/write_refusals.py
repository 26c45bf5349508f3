"""What a token that may not update objects (``deny_update``) is refused on writes, in both APIs."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from holdall.auth.principal import Principal
from holdall.errors import Conflict
from holdall.store.meta.base import Bucket, MetaStore


async def refuse_update(meta: MetaStore, principal: Principal, bucket: Bucket, key: str) -> None:
    """Refuses early, before any byte is stored, a token that may not overwrite an existing key."""
    if principal.token is not None and principal.deny_update and await meta.object(bucket.name, key) is not None:
        raise principal.token.update_refused(key)


def refuse_change(principal: Principal, key: str) -> None:
    """A token that may not update objects may not rename one or change its metadata either."""
    if principal.token is not None and principal.deny_update:
        raise principal.token.update_refused(key)


@contextlib.contextmanager
def update_refusal(principal: Principal, key: str) -> Iterator[None]:
    """Turns "the key exists" from a write made with ``if_absent`` into the token's refusal."""
    try:
        yield
    except Conflict:
        if principal.token is None:
            raise
        raise principal.token.update_refused(key) from None

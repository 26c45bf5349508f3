"""Who a request acts as, once its signature has been checked."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Principal:
    account_id: str
    public_key: str
    anonymous: bool = False


ANONYMOUS = Principal(account_id="", public_key="", anonymous=True)

"""POST policies of signed form uploads (REFERENCE §3): OSS V1 and V4 forms, S3 V4 POST policy.

A policy is base64 JSON ``{"expiration": ISO 8601, "conditions": [...]}``; conditions are
``{"field": "v"}``, ``["eq", "$field", "v"]``, ``["starts-with", "$field", "prefix"]`` and
``["content-length-range", min, max]``. The signature covers the base64 text itself, signed as a
V1 (:func:`holdall.auth.v1.signature`) or V4 (:func:`holdall.auth.v4.signature`) string would be.
Pure: no I/O, no clock.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from holdall.parsing import loads_bounded

MAX_POLICY_BYTES = 64 * 1024


class PolicyError(ValueError):
    """The form breaks its policy, or the policy is malformed: the message says how."""


@dataclass(frozen=True, slots=True)
class Condition:
    kind: str
    name: str
    value: str


@dataclass(slots=True)
class Policy:
    expiration: float
    conditions: list[Condition] = field(default_factory=list)
    length_range: tuple[int, int] | None = None


def _field_name(raw: object) -> str:
    if not isinstance(raw, str) or not raw.startswith("$") or len(raw) < 2:
        raise PolicyError(f"a condition names a field as $name, not {raw!r}")
    return raw[1:].lower()


def _expiration(raw: object) -> float:
    if not isinstance(raw, str):
        raise PolicyError("the policy needs an expiration like 2026-01-01T00:00:00.000Z")
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise PolicyError(f"expiration {raw!r} is not an ISO 8601 time") from None


def _condition(item: object) -> Condition | tuple[int, int]:
    if isinstance(item, dict):
        if len(item) != 1:
            raise PolicyError("a {field: value} condition names exactly one field")
        ((name, value),) = item.items()
        return Condition("eq", str(name).lower(), str(value))
    if not isinstance(item, list) or not item:
        raise PolicyError(f"a condition is an object or a list, not {item!r}")
    kind = str(item[0]).lower()
    if kind == "content-length-range":
        if len(item) != 3 or not all(isinstance(n, int) and not isinstance(n, bool) for n in item[1:]):
            raise PolicyError("content-length-range takes two integers")
        low, high = item[1], item[2]
        if low < 0 or high < low:
            raise PolicyError("content-length-range needs 0 <= min <= max")
        return (low, high)
    if kind not in ("eq", "starts-with") or len(item) != 3:
        raise PolicyError(f"unknown condition {item!r}")
    return Condition(kind, _field_name(item[1]), str(item[2]))


def parse(encoded: str) -> Policy:
    if len(encoded) > MAX_POLICY_BYTES:
        raise PolicyError("the policy is too long")
    try:
        document = loads_bounded(base64.b64decode(encoded, validate=True))
    except (binascii.Error, ValueError):
        raise PolicyError("the policy is not base64 JSON") from None
    if not isinstance(document, dict) or not isinstance(document.get("conditions", []), list):
        raise PolicyError("the policy is a JSON object with expiration and conditions")
    policy = Policy(_expiration(document.get("expiration")))
    for item in document.get("conditions", []):
        parsed = _condition(item)
        if isinstance(parsed, tuple):
            policy.length_range = parsed
        else:
            policy.conditions.append(parsed)
    return policy


def check(policy: Policy, fields: Mapping[str, str], now: float) -> None:
    """Raises :class:`PolicyError` when the form's fields (lower-case names) break the policy."""
    if policy.expiration < now:
        raise PolicyError("Policy expired.")
    for condition in policy.conditions:
        value = fields.get(condition.name)
        if value is None:
            raise PolicyError(f"Condition failed: the form has no field {condition.name!r}")
        if condition.kind == "eq" and value != condition.value:
            raise PolicyError(f'Condition failed: ["eq", "${condition.name}", "{condition.value}"]')
        if condition.kind == "starts-with" and not value.startswith(condition.value):
            raise PolicyError(f'Condition failed: ["starts-with", "${condition.name}", "{condition.value}"]')

"""Signed form uploads: which dialect a form speaks, and whether its policy and signature hold.

Everything here is decided from the fields that precede the file, so a breach is refused before
a byte of the file is stored.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from holdall.auth import policy, v1, v4
from holdall.auth.principal import Principal
from holdall.errors import AccessDenied, AuthQueryInvalid, SignatureMismatch
from holdall.server.presigned import Lookup


@dataclass(frozen=True, slots=True)
class CheckedForm:
    dialect: str
    principal: Principal
    policy: policy.Policy
    key: str


def form_dialect(fields: dict[str, str]) -> str | None:
    """The dialect of a policy form (lower-case field names), or None when it is not one."""
    if "policy" not in fields:
        return None
    if "x-amz-signature" in fields:
        return "aws4"
    if "x-oss-signature" in fields:
        return "oss4"
    if "ossaccesskeyid" in fields:
        return "oss1"
    if "awsaccesskeyid" in fields:
        return "aws2"
    return None


def _need(fields: dict[str, str], name: str) -> str:
    value = fields.get(name, "")
    if not value:
        raise AccessDenied(f"the form has no {name} field")
    return value


def object_key(fields: dict[str, str], filename: str) -> str:
    """The form's ``key``, with ``${filename}`` replaced by the uploaded file's own name."""
    key = _need(fields, "key")
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    return key.replace("${filename}", base)


async def check_form(
    dialect: str, fields: dict[str, str], bucket: str, key: str, lookup: Lookup, now: float
) -> CheckedForm:
    encoded = _need(fields, "policy")
    try:
        parsed = policy.parse(encoded)
    except policy.PolicyError as problem:
        raise AccessDenied(f"Invalid Policy: {problem}") from None
    if dialect in ("aws4", "oss4"):
        family = v4.AWS4 if dialect == "aws4" else v4.OSS4
        prefix = "x-amz-" if dialect == "aws4" else "x-oss-"
        try:
            access_key, date, region = v4.parse_credential(family, _need(fields, prefix + "credential"))
        except v4.QueryError as problem:
            raise AuthQueryInvalid(str(problem)) from None
        secret, principal = await lookup(access_key, fields.get(prefix + "security-token", ""))
        computed = v4.signature(family, secret, date, region, encoded)
        claimed = _need(fields, prefix + "signature").lower()
    else:
        key_field = "ossaccesskeyid" if dialect == "oss1" else "awsaccesskeyid"
        token_field = "x-oss-security-token" if dialect == "oss1" else "x-amz-security-token"
        secret, principal = await lookup(_need(fields, key_field), fields.get(token_field, ""))
        computed = v1.signature(secret, encoded)
        claimed = _need(fields, "signature")
    if not hmac.compare_digest(computed.encode(), claimed.encode()):
        raise SignatureMismatch(
            "The form's signature does not match its policy.", string_to_sign=encoded, canonical_request=""
        )
    checked = {**fields, "key": key, "bucket": bucket}
    try:
        policy.check(parsed, checked, now)
    except policy.PolicyError as problem:
        raise AccessDenied(f"Invalid according to Policy: {problem}") from None
    return CheckedForm(dialect, principal, parsed, key)

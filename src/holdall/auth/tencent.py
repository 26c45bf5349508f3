"""Tencent Cloud API 3.0 signatures (REFERENCE §6). Pure: no I/O, no clock.

TC3-HMAC-SHA256::

    CanonicalRequest = METHOD \\n / \\n query as sent \\n content-type:…\\n host:…\\n \\n content-type;host \\n
                       hex SHA-256 of the body
    StringToSign     = TC3-HMAC-SHA256 \\n timestamp \\n date/service/tc3_request \\n hex SHA-256 of it
    key              = HMAC("TC3" + secret, date) → service → "tc3_request"

The older parameter signature (HmacSHA1, HmacSHA256) signs ``METHOD host path?k=v&…`` with the
parameters sorted and not encoded, base64.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from holdall.auth.openapi import canonical_request, parse_authorization
from holdall.errors import MalformedSignature, UnsupportedSignatureMethod

TC3 = "TC3-HMAC-SHA256"
TERMINATOR = "tc3_request"
LEGACY_METHODS = {"HmacSHA1": hashlib.sha1, "HmacSHA256": hashlib.sha256}
LEGACY_SIGNATURE_PARAMS = frozenset(("Signature", "SignatureMethod", "SecretId", "Timestamp", "Nonce", "Token"))
LEGACY_COMMON_PARAMS = LEGACY_SIGNATURE_PARAMS | {"Action", "Version", "Region", "Language", "RequestClient"}
REQUIRED_SIGNED = ("content-type", "host")


@dataclass(frozen=True, slots=True)
class Tc3Credential:
    secret_id: str
    date: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.service}/{TERMINATOR}"


def parse_tc3_authorization(value: str) -> Tc3Credential:
    fields = parse_authorization(value, TC3, REQUIRED_SIGNED)
    parts = fields.credential.split("/")
    if len(parts) != 4 or not all(parts) or parts[3] != TERMINATOR:
        raise MalformedSignature(f"the Credential is SecretId/YYYY-MM-DD/service/{TERMINATOR}")
    return Tc3Credential(parts[0], parts[1], parts[2], fields.signed_headers, fields.signature)


def tc3_canonical_request(
    method: str, path: str, query: str, headers: Mapping[str, str], signed_headers: Sequence[str], payload_hash: str
) -> str:
    values = {name: headers.get(name, "").strip().lower() for name in signed_headers}
    return canonical_request(method, path, query, values, signed_headers, payload_hash)


def tc3_string_to_sign(timestamp: str, scope: str, canonical_request: str) -> str:
    return f"{TC3}\n{timestamp}\n{scope}\n{hashlib.sha256(canonical_request.encode()).hexdigest()}"


def tc3_signature(secret: str, date: str, service: str, string_to_sign: str) -> str:
    key = hmac.new(f"TC3{secret}".encode(), date.encode(), hashlib.sha256).digest()
    for part in (service, TERMINATOR):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def tc3_authorization(secret_id: str, scope: str, signed_headers: Sequence[str], signature: str) -> str:
    return f"{TC3} Credential={secret_id}/{scope}, SignedHeaders={';'.join(signed_headers)}, Signature={signature}"


def legacy_string_to_sign(method: str, host: str, path: str, params: Mapping[str, str]) -> str:
    named = {name.replace("_", "."): value for name, value in params.items() if name != "Signature"}
    query = "&".join(f"{name}={named[name]}" for name in sorted(named))
    return f"{method}{host}{path}?{query}"


def legacy_signature(secret: str, method: str, string_to_sign: str) -> str:
    digest = LEGACY_METHODS.get(method)
    if digest is None:
        raise UnsupportedSignatureMethod(f"SignatureMethod is {' or '.join(LEGACY_METHODS)}, not {method!r}")
    return base64.b64encode(hmac.new(secret.encode(), string_to_sign.encode(), digest).digest()).decode()

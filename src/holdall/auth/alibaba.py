"""Alibaba Cloud OpenAPI signatures (REFERENCE §6). Pure: no I/O, no clock.

ACS3-HMAC-SHA256, the tea-openapi default::

    CanonicalRequest = METHOD \\n path \\n sorted RFC 3986 query \\n name:value\\n for each signed header \\n
                       signed;header;names \\n hex SHA-256 of the body
    Authorization    = ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=…,Signature=hex HMAC-SHA256(secret, ...)

RPC (``signature_algorithm='v2'``): the parameters, sorted and RFC 3986 encoded, make
``METHOD&%2F&<encoded query>``, signed with HMAC-SHA1 under ``secret&`` and base64-encoded.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from holdall.auth.encoding import uri_encode
from holdall.auth.openapi import canonical_request, encoded_path, parse_authorization

ACS3 = "ACS3-HMAC-SHA256"
RPC_METHOD = "HMAC-SHA1"
RPC_VERSION = "1.0"
RPC_SIGNATURE_PARAMS = frozenset(
    ("Signature", "SignatureMethod", "SignatureVersion", "SignatureNonce", "SignatureType", "AccessKeyId", "Timestamp")
)
RPC_COMMON_PARAMS = RPC_SIGNATURE_PARAMS | {"Action", "Version", "Format", "RegionId"}


@dataclass(frozen=True, slots=True)
class Acs3Credential:
    access_key: str
    signed_headers: tuple[str, ...]
    signature: str


def canonical_query(pairs: Iterable[tuple[str, str]]) -> str:
    """Decoded name/value pairs, each RFC 3986 encoded (a space is ``%20``), sorted by name."""
    encoded = sorted((uri_encode(name, keep_slash=False), uri_encode(value, keep_slash=False)) for name, value in pairs)
    return "&".join(f"{name}={value}" for name, value in encoded)


def acs3_canonical_request(
    method: str,
    path: str,
    pairs: Iterable[tuple[str, str]],
    headers: Mapping[str, str],
    signed_headers: Sequence[str],
    payload_hash: str,
) -> str:
    values = {name: headers.get(name, "").strip() for name in signed_headers}
    return canonical_request(method, encoded_path(path), canonical_query(pairs), values, signed_headers, payload_hash)


def acs3_string_to_sign(canonical_request: str) -> str:
    return f"{ACS3}\n{hashlib.sha256(canonical_request.encode()).hexdigest()}"


def acs3_signature(secret: str, string_to_sign: str) -> str:
    return hmac.new(secret.encode(), string_to_sign.encode(), hashlib.sha256).hexdigest()


def acs3_authorization(access_key: str, signed_headers: Sequence[str], signature: str) -> str:
    return f"{ACS3} Credential={access_key},SignedHeaders={';'.join(signed_headers)},Signature={signature}"


def parse_acs3_authorization(value: str) -> Acs3Credential:
    fields = parse_authorization(value, ACS3)
    return Acs3Credential(fields.credential, fields.signed_headers, fields.signature)


def rpc_string_to_sign(method: str, params: Mapping[str, str]) -> str:
    query = canonical_query((name, value) for name, value in params.items() if name != "Signature")
    return f"{method}&%2F&{uri_encode(query, keep_slash=False)}"


def rpc_signature(secret: str, string_to_sign: str) -> str:
    digest = hmac.new(f"{secret}&".encode(), string_to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()

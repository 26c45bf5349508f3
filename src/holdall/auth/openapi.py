"""What the Alibaba, Tencent and Volcengine OpenAPI signatures share: the ``Authorization`` header
``<ALGORITHM> Credential=…, SignedHeaders=a;b, Signature=…``, and a canonical request in the V4 shape
(``METHOD \\n URI \\n query \\n name:value\\n… \\n signed;names \\n payload hash``). Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from holdall.auth.encoding import uri_encode
from holdall.errors import MalformedSignature, UnsupportedSignatureMethod

FIELDS = frozenset(("Credential", "SignedHeaders", "Signature"))


@dataclass(frozen=True, slots=True)
class AuthorizationFields:
    credential: str
    signed_headers: tuple[str, ...]
    signature: str


def parse_authorization(value: str, algorithm: str, required: Sequence[str] = ()) -> AuthorizationFields:
    """The three fields of an ``Authorization`` header of ``algorithm``; SignedHeaders must list
    lower-case names, sorted, each once, ``required`` among them."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme != algorithm:
        raise UnsupportedSignatureMethod(f"the Authorization scheme is {scheme!r}; holdall verifies {algorithm}")
    fields: dict[str, str] = {}
    for item in rest.split(","):
        name, sep, field_value = item.strip().partition("=")
        if not sep or name in fields:
            raise MalformedSignature(f"the Authorization header's {item.strip()!r} is not one Name=value field")
        fields[name] = field_value
    if set(fields) != FIELDS or not all(fields.values()):
        raise MalformedSignature("the Authorization header has Credential, SignedHeaders and Signature, nothing else")
    signed = tuple(fields["SignedHeaders"].split(";"))
    if list(signed) != sorted(set(signed)) or any(name != name.lower() or not name for name in signed):
        raise MalformedSignature("SignedHeaders lists lower-case header names, sorted, each once")
    missing = [name for name in required if name not in signed]
    if missing:
        raise MalformedSignature(f"SignedHeaders must include {' and '.join(missing)}")
    return AuthorizationFields(fields["Credential"], signed, fields["Signature"].lower())


def canonical_request(
    method: str, uri: str, query: str, values: Mapping[str, str], signed_headers: Sequence[str], payload_hash: str
) -> str:
    """``values`` holds each signed header's value as the scheme writes it (trimmed, lower-cased…)."""
    lines = "".join(f"{name}:{values.get(name, '')}\n" for name in signed_headers)
    return f"{method}\n{uri}\n{query}\n{lines}\n{';'.join(signed_headers)}\n{payload_hash}"


def encoded_path(path: str) -> str:
    return uri_encode(path, keep_slash=True) or "/"

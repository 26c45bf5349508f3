"""UFile / Inspur request signatures (REFERENCE §1–2). Pure: no I/O, no clock.

Data plane::

    StringToSign = VERB \\n Content-MD5 \\n Content-Type \\n Date-or-Expires \\n
                   CanonicalizedHeaders CanonicalizedResource
    signature    = base64(HMAC-SHA1(private_key, StringToSign))

Management API: sort the parameters (with PublicKey) by name, concatenate name + value, append
the private key, lower-case hex SHA1.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

AUTH_SCHEMES = ("UCloud", "Inspur")
HEADER_PREFIX = "x-ucloud-"


@dataclass(frozen=True, slots=True)
class Credential:
    """What a request presents: the public key and the signature it claims."""

    scheme: str
    public_key: str
    signature: str


def parse_authorization(value: str) -> Credential | None:
    """``UCloud <public>:<signature>`` or ``Inspur <public>:<signature>``; None if malformed."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme not in AUTH_SCHEMES:
        return None
    public_key, sep, signature = rest.strip().rpartition(":")
    if not sep or not public_key or not signature:
        return None
    return Credential(scheme, public_key, signature)


def canonical_headers(headers: Mapping[str, str], trailing_newline: bool = True) -> str:
    ucloud = {name.lower(): value for name, value in headers.items() if name.lower().startswith(HEADER_PREFIX)}
    if not ucloud:
        return ""
    lines = [f"{name}:{ucloud[name].strip()}" for name in sorted(ucloud)]
    return "\n".join(lines) + ("\n" if trailing_newline else "")


def listobjects_suffix(params: Mapping[str, str]) -> str:
    """What the Python SDK appends to the resource when it signs ``?listobjects``."""
    return (
        f"\nlistobjects\ndelimiter:{params.get('delimiter', '')}\nmarker:{params.get('marker', '')}"
        f"\nmax-keys:{params.get('max-keys', '')}\nprefix:{params.get('prefix', '')}"
    )


def string_to_sign(
    method: str,
    bucket: str,
    key: str,
    *,
    content_md5: str = "",
    content_type: str = "",
    date: str = "",
    headers: Mapping[str, str] | None = None,
    resource_suffix: str = "",
    trailing_newline: bool = True,
) -> str:
    ucloud_headers = canonical_headers(headers or {}, trailing_newline)
    return f"{method.upper()}\n{content_md5}\n{content_type}\n{date}\n{ucloud_headers}/{bucket}/{key}{resource_suffix}"


@functools.lru_cache(maxsize=4096)
def _keyed_sha1(private_key: str) -> hmac.HMAC:
    return hmac.new(private_key.encode(), digestmod=hashlib.sha1)


def sign(private_key: str, text: str) -> str:
    mac = _keyed_sha1(private_key).copy()  # copying a keyed HMAC is cheaper than keying a new one
    mac.update(text.encode())
    return base64.b64encode(mac.digest()).decode()


def authorization(public_key: str, private_key: str, text: str, scheme: str = "UCloud") -> str:
    return f"{scheme} {public_key}:{sign(private_key, text)}"


def matching(private_key: str, candidates: Iterable[str], signature: str) -> int | None:
    """The index of the candidate string ``signature`` signs (compared in constant time), or None."""
    wanted = signature.encode()
    for index, text in enumerate(candidates):
        if hmac.compare_digest(sign(private_key, text).encode(), wanted):
            return index
    return None


def api_signature(params: Mapping[str, str], private_key: str) -> str:
    """The management API signature over ``params``, which must already include PublicKey."""
    text = "".join(f"{name}{params[name]}" for name in sorted(params)) + private_key
    return hashlib.sha1(text.encode()).hexdigest()


def absorbed_name(params: Mapping[str, str], names: Iterable[str]) -> str | None:
    """A parameter name found inside the value of a parameter that sorts before it, or None.

    The signature concatenates sorted names and values with no separator, so ``TokenName=tok`` and
    ``WhiteIPList.0=10.0.0.1`` sign exactly as one ``TokenName=tokWhiteIPList.010.0.0.1``. A value
    that holds a later name could be such a fold; refusing it leaves each signed string one split.
    """
    listed = sorted(names)
    for param, value in params.items():
        for name in listed:
            if name > param and name in value:
                return name
    return None


def presign_query(
    public_key: str,
    private_key: str,
    method: str,
    bucket: str,
    key: str,
    expires: int,
    *,
    content_md5: str = "",
    content_type: str = "",
) -> dict[str, str]:
    """The query parameters of a presigned URL valid until ``expires`` (unix seconds)."""
    text = string_to_sign(method, bucket, key, content_md5=content_md5, content_type=content_type, date=str(expires))
    return {"UCloudPublicKey": public_key, "Expires": str(expires), "Signature": sign(private_key, text)}

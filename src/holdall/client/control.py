"""Management calls signed locally in each cloud's scheme, with the code the server verifies them with."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote, urlencode, urlsplit

from holdall.auth import alibaba, tencent, ufile, volcengine

SCHEMES = ("ufile", "acs3", "alibaba-rpc", "tc3", "tencent-legacy", "volcengine")
Value = str | int | bool


@dataclass(frozen=True, slots=True)
class SignedCall:
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


def _text(value: Value) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def sign_call(
    scheme: str,
    endpoint: str,
    access_key: str,
    secret: str,
    action: str,
    params: Mapping[str, Value],
    *,
    version: str = "",
    service: str = "",
    region: str = "cn-beijing",
    now: float | None = None,
    nonce: str | None = None,
) -> SignedCall:
    """A call of ``action`` with ``params`` to the management API at ``endpoint``, as that cloud's SDK sends it.

    ``service`` is the credential scope's (``tem`` for CreateCosToken, ``vms`` for
    GetResourceUploadUrl); ``now`` and ``nonce`` default to the clock and a random one.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"scheme is one of {', '.join(SCHEMES)}")
    moment = int(time.time() if now is None else now)
    once = nonce or secrets.token_hex(16)
    parts = urlsplit(endpoint if "://" in endpoint else f"http://{endpoint}")
    base, host = f"{parts.scheme}://{parts.netloc}/", parts.netloc
    texts = {name: _text(value) for name, value in params.items()}
    if scheme == "ufile":
        query = {"Action": action, "PublicKey": access_key, **texts, **({"Version": version} if version else {})}
        query["Signature"] = ufile.api_signature(query, secret)
        return SignedCall("GET", f"{base}?{urlencode(query)}")
    if scheme == "alibaba-rpc":
        stamp = datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        query = {
            "Action": action, "Format": "json", "Version": version, "Timestamp": stamp, "SignatureNonce": once,
            "SignatureMethod": alibaba.RPC_METHOD, "SignatureVersion": alibaba.RPC_VERSION, "AccessKeyId": access_key,
            **texts,
        }  # fmt: skip
        query["Signature"] = alibaba.rpc_signature(secret, alibaba.rpc_string_to_sign("POST", query))
        return SignedCall("POST", f"{base}?{_rfc3986(query)}")
    if scheme == "acs3":
        headers = {
            "host": host, "x-acs-action": action, "x-acs-version": version, "x-acs-signature-nonce": once,
            "x-acs-date": datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "x-acs-content-sha256": hashlib.sha256(b"").hexdigest(),
        }  # fmt: skip
        signed = tuple(sorted(headers))
        canonical = alibaba.acs3_canonical_request(
            "POST", "/", texts.items(), headers, signed, headers["x-acs-content-sha256"]
        )
        signature = alibaba.acs3_signature(secret, alibaba.acs3_string_to_sign(canonical))
        headers["authorization"] = alibaba.acs3_authorization(access_key, signed, signature)
        return SignedCall("POST", f"{base}?{_rfc3986(texts)}", headers)
    if scheme == "tencent-legacy":
        form = {
            **texts, "Action": action, "Version": version, "Nonce": str(int(once, 16) % 2**62 + 1),
            "Timestamp": str(moment), "SecretId": access_key, "SignatureMethod": "HmacSHA256", "Region": region,
        }  # fmt: skip
        string_to_sign = tencent.legacy_string_to_sign("POST", host, "/", form)
        form["Signature"] = tencent.legacy_signature(secret, "HmacSHA256", string_to_sign)
        return SignedCall("POST", base, {"content-type": "application/x-www-form-urlencoded"}, urlencode(form).encode())
    body = json.dumps(dict(params)).encode()
    payload_hash = hashlib.sha256(body).hexdigest()
    if scheme == "tc3":
        date = datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d")
        headers = {"content-type": "application/json", "host": host}
        signed = ("content-type", "host")
        canonical = tencent.tc3_canonical_request("POST", "/", "", headers, signed, payload_hash)
        scope = f"{date}/{service}/{tencent.TERMINATOR}"
        signature = tencent.tc3_signature(
            secret, date, service, tencent.tc3_string_to_sign(str(moment), scope, canonical)
        )
        headers.update(
            {
                "x-tc-action": action,
                "x-tc-version": version,
                "x-tc-timestamp": str(moment),
                "x-tc-region": region,
                "authorization": tencent.tc3_authorization(access_key, scope, signed, signature),
            }
        )
        return SignedCall("POST", base, headers, body)
    stamp = datetime.fromtimestamp(moment, UTC).strftime("%Y%m%dT%H%M%SZ")
    query = {"Action": action, "Version": version}
    headers = {"content-type": "application/json", "host": host, "x-content-sha256": payload_hash, "x-date": stamp}
    signed = tuple(sorted(headers))
    canonical = volcengine.canonical_request("POST", "/", query.items(), headers, signed, payload_hash)
    scope = f"{stamp[:8]}/{region}/{service}/{volcengine.TERMINATOR}"
    signature = volcengine.signature(
        secret, stamp[:8], region, service, volcengine.string_to_sign(stamp, scope, canonical)
    )
    headers["authorization"] = volcengine.authorization(access_key, scope, signed, signature)
    return SignedCall("POST", f"{base}?{_rfc3986(query)}", headers, body)


def _rfc3986(query: Mapping[str, str]) -> str:
    return "&".join(f"{quote(name, safe='~')}={quote(value, safe='~')}" for name, value in query.items())

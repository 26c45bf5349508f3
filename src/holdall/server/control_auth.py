"""Who signed a management call, verified the way each cloud verifies its own (REFERENCE §6).

Every scheme signs the Host as sent, port included. Timestamps may be 5 minutes away from the
server's clock for Tencent and 15 for the others; a nonce is accepted once while its timestamp is
fresh, in every worker (it is recorded in the metadata store). Only an account's own keys may call:
a token's key or a temporary key is refused, whatever it signs.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime

from holdall import clock
from holdall.auth import alibaba, tencent, ufile, volcengine
from holdall.errors import (
    DisabledAccount,
    InvalidParameter,
    MalformedSignature,
    MalformedTimestamp,
    MissingCredentials,
    NonceReused,
    NotAccountKey,
    StaleTimestamp,
    UnknownAccessKey,
    UnsupportedSignatureMethod,
    WrongSignature,
)
from holdall.parsing import is_ascii_uint
from holdall.server.control_request import ControlCall, Scheme
from holdall.store.meta.base import Account, MetaStore

SKEW = 900
TENCENT_SKEW = 300
MAX_NONCE = 128
Verifier = Callable[[ControlCall, str], Awaitable[str]]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _same(expected: str, given: str, string_to_sign: str) -> None:
    if not hmac.compare_digest(expected.encode(), given.encode()):
        raise WrongSignature(
            "The signature does not match the one holdall calculated from the request and your secret.", string_to_sign
        )


def _string_params(call: ControlCall) -> dict[str, str]:
    """The parameters of a scheme that signs them as text: they come from the query or a form."""
    for name, value in call.params.items():
        if not isinstance(value, str):
            raise InvalidParameter(name, "This signature covers parameters sent in the query or a form, not JSON.")
    return {name: str(value) for name, value in call.params.items()}


def _need(values: Mapping[str, str], names: tuple[str, ...], where: str) -> None:
    missing = [name for name in names if not values.get(name)]
    if missing:
        raise MalformedSignature(f"The request has no {', '.join(missing)} {where}.")


def _parse_time(text: str, pattern: str, name: str) -> float:
    try:
        return datetime.strptime(text, pattern).replace(tzinfo=UTC).timestamp()
    except ValueError:
        example = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC).strftime(pattern)
        raise MalformedTimestamp(f"{name} {text!r} is not a time like {example}.") from None


def _fresh(moment: float, skew: int, name: str) -> None:
    away = moment - clock.now()
    if abs(away) > skew:
        direction = "ahead of" if away > 0 else "behind"
        raise StaleTimestamp(f"{name} is {int(abs(away))} s {direction} the server's clock; at most {skew} s may be.")


def _signed_present(call: ControlCall, signed: tuple[str, ...], must: tuple[str, ...]) -> None:
    missing = [name for name in signed if name not in call.headers]
    if missing:
        raise MalformedSignature(f"SignedHeaders names {', '.join(missing)}, which the request does not send.")
    unsigned = [name for name in must if name in call.headers and name not in signed]
    if unsigned:
        raise MalformedSignature(f"SignedHeaders must include {', '.join(unsigned)}.")
    repeated = [name for name in signed if name in call.repeated_headers]
    if repeated:
        raise MalformedSignature(f"The signed header {repeated[0]} is sent more than once.")


def _one_split(params: Mapping[str, str]) -> None:
    """Tencent's legacy string to sign joins ``name=value`` with ``&`` unencoded and writes ``_`` as ``.``:
    a ``&`` in a value, an ``=`` in a name, or two names alike but for ``_`` could be split two ways."""
    seen: set[str] = set()
    for name, value in params.items():
        if name == "Signature":
            continue
        if "&" in name or "=" in name or "&" in value:
            raise InvalidParameter(name, f"With this signature, {name} may hold neither '&' nor, in its name, '='.")
        written = name.replace("_", ".")
        if written in seen:
            raise InvalidParameter(name, f"{name} signs like another parameter's name.")
        seen.add(written)


def _authorization(headers: Mapping[str, str], *token_headers: str) -> str:
    """The Authorization header of a call signed with account keys: a session token refuses it."""
    sent = [name for name in token_headers if name in headers]
    if sent:
        raise NotAccountKey(f"{sent[0]} was sent; only an account's own keys may call this.")
    if "authorization" not in headers:
        raise MissingCredentials("The request has no Authorization header.")
    return headers["authorization"]


def _check_service(named: str, service: str) -> None:
    if named != service:
        raise MalformedSignature(f"The Credential names the service {named!r}; this action's is {service!r}.")


class ControlAuthenticator:
    def __init__(self, meta: MetaStore) -> None:
        self.meta = meta
        self.verifiers: dict[Scheme, Verifier] = {
            Scheme.UFILE: self._ufile,
            Scheme.ACS3: self._acs3,
            Scheme.ALIBABA_RPC: self._alibaba_rpc,
            Scheme.TC3: self._tc3,
            Scheme.TENCENT_LEGACY: self._tencent_legacy,
            Scheme.VOLCENGINE: self._volcengine,
        }

    async def verify(self, call: ControlCall, service: str, names: Iterable[str] = ()) -> str:
        """The id of the account whose key signed ``call``.

        ``service`` is the one its credential scope must name, ``names`` the parameters its action
        and scheme take (a list ``X.N`` as ``X.``), which a UFile-signed value may not hold.
        """
        if call.scheme is Scheme.UFILE:
            folded = ufile.absorbed_name(_string_params(call), names)
            if folded is not None:
                raise InvalidParameter(folded, f"A value holds the parameter name {folded!r}; send it on its own.")
        return await self.verifiers[call.scheme](call, service)

    async def _account(self, access_key: str) -> Account:
        found = await self.meta.credential(access_key)
        if found is None:
            if await self.meta.temp_credential(access_key) is not None:
                raise NotAccountKey(f"{access_key} is a temporary key; only an account's own keys may call this.")
            raise UnknownAccessKey(f"The access key {access_key!r} does not exist.")
        account, token = found
        if token is not None:
            raise NotAccountKey(f"{access_key} is token {token.name!r}'s key; only an account's own keys may call.")
        if account.disabled:
            raise DisabledAccount(f"The account of {access_key} is disabled.")
        return account

    async def _once(self, scheme: Scheme, access_key: str, nonce: str, moment: float, skew: int) -> None:
        if len(nonce) > MAX_NONCE or not nonce.isprintable():
            raise MalformedSignature(f"The nonce has 1 to {MAX_NONCE} printable characters.")
        if not await self.meta.use_nonce(f"{scheme.value}:{access_key}:{nonce}", int(max(moment, clock.now())) + skew):
            raise NonceReused(f"The nonce {nonce!r} was used already; sign a new request.")

    async def _ufile(self, call: ControlCall, service: str) -> str:
        params = _string_params(call)
        public_key, signature = params.get("PublicKey", ""), params.get("Signature", "")
        if not public_key or not signature:
            raise MissingCredentials("The request needs PublicKey and Signature.")
        account = await self._account(public_key)
        signed = {name: value for name, value in params.items() if name != "Signature"}
        expected = ufile.api_signature(signed, account.private_key)
        _same(expected, signature.lower(), "")
        return account.id

    async def _acs3(self, call: ControlCall, service: str) -> str:
        headers = call.headers
        credential = alibaba.parse_acs3_authorization(
            _authorization(headers, "x-acs-security-token", "x-acs-bearer-token")
        )
        _need(headers, ("x-acs-date", "x-acs-signature-nonce", "x-acs-content-sha256", "host"), "header")
        must = tuple(name for name in headers if name.startswith("x-acs-") or name in ("host", "content-type"))
        _signed_present(call, credential.signed_headers, must)
        payload_hash = _sha256(call.body)
        if headers["x-acs-content-sha256"].lower() != payload_hash:
            raise WrongSignature("x-acs-content-sha256 is not the SHA-256 of the body.")
        moment = _parse_time(headers["x-acs-date"], "%Y-%m-%dT%H:%M:%SZ", "x-acs-date")
        account = await self._account(credential.access_key)
        _fresh(moment, SKEW, "x-acs-date")
        canonical = alibaba.acs3_canonical_request(
            call.method, "/", call.query.items(), headers, credential.signed_headers, payload_hash
        )
        string_to_sign = alibaba.acs3_string_to_sign(canonical)
        _same(alibaba.acs3_signature(account.private_key, string_to_sign), credential.signature, string_to_sign)
        await self._once(call.scheme, credential.access_key, headers["x-acs-signature-nonce"], moment, SKEW)
        return account.id

    async def _alibaba_rpc(self, call: ControlCall, service: str) -> str:
        params = _string_params(call)
        _need(params, ("AccessKeyId", "Signature", "SignatureMethod", "Timestamp", "SignatureNonce"), "parameter")
        if params["SignatureMethod"] != alibaba.RPC_METHOD:
            given = params["SignatureMethod"]
            raise UnsupportedSignatureMethod(f"SignatureMethod is {alibaba.RPC_METHOD}, not {given!r}.")
        if params.get("SignatureVersion", alibaba.RPC_VERSION) != alibaba.RPC_VERSION:
            raise MalformedSignature(f"SignatureVersion is {alibaba.RPC_VERSION}.")
        if "SecurityToken" in params:
            raise NotAccountKey("A SecurityToken was sent; only an account's own keys may call this.")
        moment = _parse_time(params["Timestamp"], "%Y-%m-%dT%H:%M:%SZ", "Timestamp")
        account = await self._account(params["AccessKeyId"])
        _fresh(moment, SKEW, "Timestamp")
        string_to_sign = alibaba.rpc_string_to_sign(call.method, params)
        _same(alibaba.rpc_signature(account.private_key, string_to_sign), params["Signature"], string_to_sign)
        await self._once(call.scheme, params["AccessKeyId"], params["SignatureNonce"], moment, SKEW)
        return account.id

    async def _tc3(self, call: ControlCall, service: str) -> str:
        headers = call.headers
        credential = tencent.parse_tc3_authorization(_authorization(headers, "x-tc-token"))
        _need(headers, ("x-tc-timestamp",), "header")
        if headers.get("x-tc-content-sha256", "").upper() == "UNSIGNED-PAYLOAD":
            raise MalformedSignature("holdall verifies the payload: sign the request without UNSIGNED-PAYLOAD.")
        _signed_present(call, credential.signed_headers, ("host", "content-type"))
        timestamp = headers["x-tc-timestamp"]
        if not is_ascii_uint(timestamp, 12):
            raise MalformedTimestamp(f"X-TC-Timestamp {timestamp!r} is not a number of seconds.")
        moment = int(timestamp)
        _fresh(moment, TENCENT_SKEW, "X-TC-Timestamp")
        if credential.date != datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d"):
            raise MalformedSignature(f"The Credential's date {credential.date} is not the UTC day of X-TC-Timestamp.")
        _check_service(credential.service, service)
        account = await self._account(credential.secret_id)
        canonical = tencent.tc3_canonical_request(
            call.method, "/", call.raw_query, headers, credential.signed_headers, _sha256(call.body)
        )
        string_to_sign = tencent.tc3_string_to_sign(timestamp, credential.scope, canonical)
        expected = tencent.tc3_signature(account.private_key, credential.date, credential.service, string_to_sign)
        _same(expected, credential.signature, string_to_sign)
        return account.id

    async def _tencent_legacy(self, call: ControlCall, service: str) -> str:
        params = _string_params(call)
        _need(params, ("SecretId", "Signature", "Timestamp", "Nonce"), "parameter")
        _one_split(params)
        if "Token" in params:
            raise NotAccountKey("A Token was sent; only an account's own keys may call this.")
        if not is_ascii_uint(params["Timestamp"], 12):
            raise MalformedTimestamp(f"Timestamp {params['Timestamp']!r} is not a number of seconds.")
        method = params.get("SignatureMethod", "HmacSHA1")
        if method not in tencent.LEGACY_METHODS:
            names = " or ".join(tencent.LEGACY_METHODS)
            raise UnsupportedSignatureMethod(f"SignatureMethod is {names}, not {method!r}.")
        moment = int(params["Timestamp"])
        account = await self._account(params["SecretId"])
        _fresh(moment, TENCENT_SKEW, "Timestamp")
        string_to_sign = tencent.legacy_string_to_sign(call.method, call.host, "/", params)
        expected = tencent.legacy_signature(account.private_key, method, string_to_sign)
        _same(expected, params["Signature"], string_to_sign)
        await self._once(call.scheme, params["SecretId"], params["Nonce"], moment, TENCENT_SKEW)
        return account.id

    async def _volcengine(self, call: ControlCall, service: str) -> str:
        headers = call.headers
        credential = volcengine.parse_authorization(_authorization(headers, "x-security-token"))
        _need(headers, ("x-date",), "header")
        _signed_present(call, credential.signed_headers, ("host", "x-content-sha256", "x-date"))
        payload_hash = _sha256(call.body)
        if headers.get("x-content-sha256", payload_hash).lower() != payload_hash:
            raise WrongSignature("X-Content-Sha256 is not the SHA-256 of the body.")
        moment = _parse_time(headers["x-date"], "%Y%m%dT%H%M%SZ", "X-Date")
        if credential.date != headers["x-date"][:8]:
            raise MalformedSignature(f"The Credential's date {credential.date} is not the day of X-Date.")
        _check_service(credential.service, service)
        account = await self._account(credential.access_key)
        _fresh(moment, SKEW, "X-Date")
        canonical = volcengine.canonical_request(
            call.method, "/", call.query.items(), headers, credential.signed_headers, payload_hash
        )
        string_to_sign = volcengine.string_to_sign(headers["x-date"], credential.scope, canonical)
        expected = volcengine.signature(
            account.private_key, credential.date, credential.region, credential.service, string_to_sign
        )
        _same(expected, credential.signature, string_to_sign)
        if "x-sdk-invocation-id" in credential.signed_headers:
            nonce = f"{headers['x-sdk-invocation-id']}|{headers.get('x-sdk-request', '')}"
            await self._once(call.scheme, credential.access_key, nonce, moment, SKEW)
        return account.id

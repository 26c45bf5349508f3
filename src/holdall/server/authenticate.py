"""Resolves a data-plane request to a :class:`Principal` (REFERENCE §1, auth).

A request is signed by the ``Authorization`` header or by the presigned query
``UCloudPublicKey``/``Expires``/``Signature``. Missing → 401, wrong or expired → 403.
"""

from __future__ import annotations

import hmac
from email.utils import parsedate_to_datetime

from holdall import clock
from holdall.auth import ufile, v4
from holdall.auth.principal import ANONYMOUS, Principal, TokenScope
from holdall.errors import AccessDenied, BadRequest, InvalidAccessKey, MissingAuthorization, RequestTimeTooSkewed
from holdall.parsing import is_ascii_uint
from holdall.server.context import Call
from holdall.server.guard import Coverage
from holdall.server.http import UFILE
from holdall.server.presigned import PresignedAuth, Verified
from holdall.store.meta.base import MetaStore, Token

SESSION_HEADER = "x-ufile-security-token"
SESSION_PARAM = "SecurityToken"
VERIFIED_LIMIT = 8192
DATE_SKEW = 900
UFILE_SIGNED_HEADERS = frozenset(("content-md5", "content-type"))


def scope_of(token: Token) -> TokenScope:
    return TokenScope(
        token_id=token.id,
        name=token.name,
        ops=frozenset(token.ops),
        buckets=tuple(token.buckets),
        prefixes=tuple(token.prefixes),
        expire_time=token.expire_time,
        white_ips=tuple(token.white_ips),
        black_ips=tuple(token.black_ips),
    )


class Authenticator:
    def __init__(self, meta: MetaStore) -> None:
        self.meta = meta
        self.presigned = PresignedAuth(self.lookup)
        self._verified: dict[tuple[object, ...], Coverage] = {}

    async def lookup(self, access_key: str, session_token: str) -> tuple[str, Principal]:
        """The secret of a key pair and whom it signs for; temporary keys need their session token."""
        if not session_token:
            found = await self.meta.credential(access_key)
            if found is None or found[0].disabled:
                raise InvalidAccessKey(f"unknown or disabled access key {access_key!r}")
            account, token = found
            if token is None:
                return account.private_key, Principal(account.id, access_key)
            return token.private_key, Principal(account.id, access_key, token=scope_of(token))
        temp = await self.meta.temp_credential(access_key)
        if temp is None or not hmac.compare_digest(temp.session_token.encode(), session_token.encode()):
            raise AccessDenied("the security token is not valid for this access key")
        owner = await self.meta.account_by_id(temp.account_id)
        if owner is None or owner.disabled:
            raise InvalidAccessKey("the account of this temporary key is disabled")
        scope = TokenScope(
            token_id=temp.access_key,
            name=temp.key,
            ops=frozenset(temp.ops),
            buckets=(temp.bucket,),
            prefixes=(temp.key,),
            expire_time=temp.expire_time,
            exact_keys=True,
            kind="temporary key",
            formats=temp.formats,
        )
        return temp.secret, Principal(owner.id, access_key, token=scope)

    async def verify(
        self,
        call: Call,
        key: str,
        *,
        suffixes: tuple[str, ...] = ("",),
        authorization: str | None = None,
        content_type: str | None = None,
        allow_anonymous: bool = False,
    ) -> Verified:
        """Checks the request's signature over ``/<call's bucket>/key`` (plus any of ``suffixes``).

        ``authorization`` and ``content_type`` override the header values (form uploads carry
        them as form fields). A header signature's ``Date``, when it has one, must be an HTTP date
        within 15 minutes of the server's clock; without one it is the SDK's timeless form.
        """
        if authorization is None and call.dialect != UFILE:
            return await self.presigned.verify(call, key)
        request, bucket = call.request, call.bucket.name
        header = authorization if authorization is not None else request.header("authorization")
        query = request.query
        if header:
            credential = ufile.parse_authorization(header)
            if credential is None:
                raise AccessDenied("malformed Authorization: expected 'UCloud <public key>:<signature>'")
            date = request.header("date")
            if date:
                _check_date(date)
            presigned = False
        elif "UCloudPublicKey" in query or "Signature" in query:
            public_key, expires = query.get("UCloudPublicKey", ""), query.get("Expires", "")
            signature = query.get("Signature", "").replace(" ", "+")
            if not public_key or not expires or not signature:
                raise AccessDenied("a presigned URL needs UCloudPublicKey, Expires and Signature")
            if not is_ascii_uint(expires):
                raise BadRequest("Expires must be unix seconds")
            now = clock.now()
            if int(expires) < now:
                raise AccessDenied("the presigned URL has expired")
            if int(expires) - now > v4.MAX_EXPIRES:
                raise AccessDenied("a presigned URL may be valid for at most 7 days")
            credential = ufile.Credential("UCloud", public_key, signature)
            date = expires
            presigned = True
        elif allow_anonymous:
            return ANONYMOUS, None
        else:
            raise MissingAuthorization()

        # UFile has no field for a session token: holdall takes it from X-Ufile-Security-Token or
        # SecurityToken, so temporary keys work in this dialect too.
        session_token = request.header(SESSION_HEADER) or query.get(SESSION_PARAM, "")
        private_key, principal = await self.lookup(credential.public_key, session_token)
        headers = request.headers
        mime = content_type if content_type is not None else headers.get("content-type", "")
        md5 = headers.get("content-md5", "")
        endings = (True, False) if any(name.startswith(ufile.HEADER_PREFIX) for name in headers) else (True,)
        # A presigned URL is used again and again: remember what verified, keyed by everything it signs.
        remembered = None
        if len(endings) == 1:
            remembered = (
                credential.public_key,
                credential.signature,
                request.method,
                bucket,
                key,
                md5,
                mime,
                date,
                suffixes,
                private_key,
            )
            found = self._verified.get(remembered)
            if found is not None:
                return principal, found if presigned or date else None
        candidates = [
            (
                suffix,
                ufile.string_to_sign(
                    request.method,
                    bucket,
                    key,
                    content_md5=md5,
                    content_type=mime,
                    date=date,
                    headers=headers if len(endings) == 2 else None,
                    resource_suffix=suffix,
                    trailing_newline=trailing,
                ),
            )
            for suffix in suffixes
            for trailing in endings
        ]
        matched = ufile.matching(private_key, [text for _, text in candidates], credential.signature)
        if matched is None:
            raise AccessDenied("invalid signature")
        coverage = _coverage(candidates[matched][0], signs_headers=len(endings) == 2)
        if remembered is not None:
            if len(self._verified) >= VERIFIED_LIMIT:
                self._verified.clear()
            self._verified[remembered] = coverage
        # A dated header signature is held to what it signs, like a presigned URL: its string is the
        # very one SigV2 and OSS V1 sign, so without this a captured SigV2 or OSS request, relabelled
        # "UCloud", could add an unsigned ?newFileName or X-Ufile-Copy-Source. The SDK's own header
        # signatures carry no Date.
        return principal, coverage if presigned or date else None


def _check_date(value: str) -> None:
    """A signed ``Date`` is an HTTP date near the server's clock: a number there (the Expires of a
    presigned URL moved into a header) or a stale date is refused."""
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        moment = None
    if moment is None or moment.tzinfo is None or not any(c.isalpha() for c in value):
        raise AccessDenied(f"Date {value!r} is not an HTTP date such as 'Tue, 01 Dec 2026 10:00:00 GMT'")
    skew = abs(moment.timestamp() - clock.now())
    if skew > DATE_SKEW:
        raise RequestTimeTooSkewed(
            f"the request's Date is {int(skew)} s away from the server's clock; at most {DATE_SKEW} s is allowed"
        )


_LISTOBJECTS_PARAMS = frozenset(("listobjects", "delimiter", "marker", "max-keys", "prefix"))


_COVERAGES = {
    (listing, signs_headers): Coverage(
        _LISTOBJECTS_PARAMS if listing else frozenset(),
        UFILE_SIGNED_HEADERS,
        (ufile.HEADER_PREFIX,) if signs_headers else (),
    )
    for listing in (False, True)
    for signs_headers in (False, True)
}


def _coverage(suffix: str, *, signs_headers: bool) -> Coverage:
    """What a UFile signature covers besides method and resource: no query parameter, except those
    the SDK's listobjects suffix names (made once: a request only picks one)."""
    return _COVERAGES[bool(suffix), signs_headers]

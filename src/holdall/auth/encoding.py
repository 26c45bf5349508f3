"""RFC 3986 percent-encoding as the signing dialects write it."""

from __future__ import annotations

from urllib.parse import quote


def uri_encode(text: str, *, keep_slash: bool) -> str:
    """Every byte but ``A-Z a-z 0-9 - _ . ~`` (and ``/`` when kept) as ``%XX``, upper-case hex."""
    return quote(text, safe="/~" if keep_slash else "~")

"""The one rule for presigned URLs: a signature allows exactly what it signed.

Every verifier reports a :class:`Coverage`, the query parameters and headers its signature
covers. For a presigned URL, any input that changes the operation (declared by
:mod:`holdall.server.operations`) and is not covered is refused, naming the input. A request
signed in its Authorization header was signed by the holder of the secret itself, who could sign
anything: it carries no coverage and the rule does not apply to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from holdall.errors import AccessDenied


class UnsignedInput(AccessDenied):
    """A presigned request adds an operation-changing input that its signature does not cover."""


@dataclass(frozen=True, slots=True)
class Coverage:
    query: frozenset[str] | None = frozenset()
    """Query parameter names the signature covers; None: all of them."""
    headers: frozenset[str] = frozenset()
    """Lower-case header names the signature covers."""
    header_prefixes: tuple[str, ...] = ()
    """Every header whose name starts with one of these is covered."""
    fold_query_case: bool = False
    """The dialect signs query names lower-cased (COS)."""

    def covers_query(self, name: str) -> bool:
        if self.query is None:
            return True
        return (name.lower() if self.fold_query_case else name) in self.query

    def covers_header(self, name: str) -> bool:
        return name in self.headers or name.startswith(self.header_prefixes)


NOTHING: Final = Coverage()
"""A signature over the method, the bucket and the key alone (a UFile presigned URL)."""


def require_covered(coverage: Coverage | None, query_inputs: list[str], header_inputs: list[str]) -> None:
    """Raises :class:`UnsignedInput` for the first input ``coverage`` leaves out (None: header-signed)."""
    if coverage is None:
        return
    for name in query_inputs:
        if not coverage.covers_query(name):
            raise UnsignedInput(
                f"the query parameter {name!r} changes what this request does, but the presigned URL's"
                " signature does not cover it: sign it into the URL or leave it out"
            )
    for name in header_inputs:
        if not coverage.covers_header(name):
            raise UnsignedInput(
                f"the header {name!r} changes what this request does, but the presigned URL's"
                " signature does not cover it: sign it into the URL or leave it out"
            )

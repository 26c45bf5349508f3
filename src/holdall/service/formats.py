"""File signatures of the formats an upload may be limited to (seed 003: MP3 and WAV)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from holdall.errors import BadRequest

SNIFF_BYTES = 12


def _is_mp3(head: bytes) -> bool:
    if head.startswith(b"ID3"):
        return True
    return len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0


def _is_wav(head: bytes) -> bool:
    return head[:4] == b"RIFF" and head[8:12] == b"WAVE"


SIGNATURES = {"mp3": _is_mp3, "wav": _is_wav}


def extension(name: str) -> str:
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def sniff(head: bytes, allowed: tuple[str, ...]) -> bool:
    return any(SIGNATURES[kind](head) for kind in allowed if kind in SIGNATURES)


async def require_format(chunks: AsyncIterator[bytes], allowed: tuple[str, ...]) -> AsyncIterator[bytes]:
    """Passes ``chunks`` through once their first bytes show one of the ``allowed`` formats."""
    head = b""
    checked = False
    async for chunk in chunks:
        if not checked:
            head += chunk
            if len(head) < SNIFF_BYTES:
                continue
            if not sniff(head, allowed):
                raise BadRequest(f"the uploaded bytes are not {' or '.join(allowed)}")
            checked = True
            chunk, head = head, b""
        yield chunk
    if not checked and not sniff(head, allowed):
        raise BadRequest(f"the uploaded bytes are not {' or '.join(allowed)}")
    if not checked and head:
        yield head

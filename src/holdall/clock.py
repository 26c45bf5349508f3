"""The server's idea of now.

Every expiry check reads :func:`now`. A server started with a clock file (``--clock-file``,
meant for tests) adds the number of seconds written in that file, read afresh on every call,
so a test moves time forward in every worker process instead of sleeping.
"""

from __future__ import annotations

import time
from pathlib import Path

_clock_file: Path | None = None


def use_clock_file(path: Path | None) -> None:
    global _clock_file
    _clock_file = path


def offset() -> float:
    if _clock_file is None:
        return 0.0
    try:
        return float(_clock_file.read_text().strip() or 0)
    except (OSError, ValueError):
        return 0.0


def now() -> float:
    if _clock_file is None:
        return time.time()
    return time.time() + offset()

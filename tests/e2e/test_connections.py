"""Connection resources: the server lifts its own descriptor limit so idle sockets do not exhaust it."""

from __future__ import annotations

import re
from pathlib import Path

from tests.e2e.server import Server


def test_the_soft_file_limit_is_raised_to_the_hard_one(tmp_path: Path) -> None:
    server = Server(data=tmp_path / "data", file_limit=(256, 4096)).start()
    try:
        assert server.process is not None
        limits = Path(f"/proc/{server.process.pid}/limits").read_text()
        found = re.search(r"Max open files\s+(\d+)\s+(\d+)", limits)
        assert found is not None, limits
        assert (int(found.group(1)), int(found.group(2))) == (4096, 4096), limits
    finally:
        server.stop()

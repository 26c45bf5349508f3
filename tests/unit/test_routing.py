from __future__ import annotations

import pytest

from holdall.errors import BadRequest
from holdall.server.routing import Target, check_key, route


def test_virtual_host_and_path_style() -> None:
    assert route("bkt.localhost:9000", b"/a/b%20c+d", "localhost") == Target("bkt", "a/b c+d", True)
    assert route("127.0.0.1:9000", b"/bkt/a/b", "localhost") == Target("bkt", "a/b", False)
    assert route("localhost", b"/", "localhost") is None
    assert route("x", b"http://bkt.localhost:9000/k", "localhost") == Target("bkt", "k", True)
    assert route("BKT.LOCALHOST", b"/%2e%2e/%2e%2e/etc", "localhost") == Target("bkt", "../../etc", True)


def test_bad_paths_and_keys() -> None:
    with pytest.raises(BadRequest):
        route("bkt.localhost", b"/%ff", "localhost")
    for key in ("", "a\x00b", "k" * 1025, "é" * 513):
        with pytest.raises(BadRequest):
            check_key(key)
    assert check_key("k" * 1024) == "k" * 1024

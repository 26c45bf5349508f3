from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st

from holdall.etag import BLOCK_SIZE, ETagHasher, etag_of

MiB = 1024 * 1024


def test_reference_values() -> None:
    assert etag_of(b"hello") == "AQAAAKr0xh3cxeii2r7eDztILNmuqUNN"
    assert etag_of(b"a" * BLOCK_SIZE) == "AQAAAOwQ-vpd56Izwiom1JHzCIdrQa4_"
    assert etag_of(b"a" * (BLOCK_SIZE + 1)) == "AgAAACeGn00gWdbfwEIHaUpzu4drHeun"
    assert etag_of(b"") == "AAAAAA=="


def test_matches_the_sdk(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from ufile.util import file_etag

    for size in (1, BLOCK_SIZE - 1, BLOCK_SIZE, 2 * BLOCK_SIZE + 3):
        path = tmp_path / f"f{size}"
        data = os.urandom(size)
        path.write_bytes(data)
        assert etag_of(data) == file_etag(str(path))


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=3 * MiB), min_size=1, max_size=6))
def test_any_chunking_gives_the_same_etag(cuts: list[int]) -> None:
    data = bytes(range(256)) * (9 * MiB // 256)
    data = data[: sum(cuts) % len(data)]
    hasher = ETagHasher()
    offset = 0
    for cut in cuts:
        hasher.update(data[offset : offset + cut])
        offset += cut
    hasher.update(data[offset:])
    assert hasher.etag() == etag_of(data)

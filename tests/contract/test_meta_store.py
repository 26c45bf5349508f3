"""The metadata store contract, run against every backend: each atomic rule holds with two gateways at once.

A "gateway" here is a store instance of its own (its own connections and writer) on the same
database; the two race through ``asyncio.gather``. Each backend is a fixture parameter.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from holdall.errors import (
    Conflict,
    FileNotFound,
    LimitReached,
    NameTaken,
    NotEmpty,
    QuotaExceeded,
    RateLimited,
    UploadNotFound,
)
from holdall.store.meta import sql_rows as sql_module
from holdall.store.meta.base import (
    Account,
    BlobRef,
    Bucket,
    MetaStore,
    ObjectRecord,
    Part,
    TempCredential,
    Token,
    Upload,
)
from holdall.store.meta.postgres import PostgresMetaStore
from holdall.store.meta.sqlite import SqliteMetaStore
from tests.unit.test_listing import expected

NOW = 1_800_000_000.0
Gateways = tuple[MetaStore, MetaStore]


def _sqlite(request: pytest.FixtureRequest, directory: Path) -> Callable[[], MetaStore]:
    path = directory / "meta.sqlite3"
    return lambda: SqliteMetaStore(path)


def _postgres(request: pytest.FixtureRequest, directory: Path) -> Callable[[], MetaStore]:
    dsn = request.getfixturevalue("postgres").new_database()
    return lambda: PostgresMetaStore(dsn)


BACKENDS = {"sqlite": _sqlite, "postgresql": _postgres}


@pytest.fixture(params=sorted(BACKENDS))
async def gateways(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Gateways]:
    make = BACKENDS[request.param](request, tmp_path)
    first, second = make(), make()
    yield first, second
    first.close()
    second.close()


async def outcomes(calls: list[Awaitable[Any]]) -> list[Any]:
    return list(await asyncio.gather(*calls, return_exceptions=True))


async def account(store: MetaStore) -> Account:
    created = Account(uuid.uuid4().hex, f"acct-{uuid.uuid4().hex[:8]}", f"PK{uuid.uuid4().hex}", "secret")
    await store.create_account(created)
    return created


async def bucket(store: MetaStore, owner: Account, **caps: int) -> Bucket:
    made = Bucket(f"b-{uuid.uuid4().hex[:12]}", uuid.uuid4().hex, owner.id, "default", "private", "cn-bj", 0, 0)
    await store.create_bucket(made)
    if caps:
        await store.set_bucket_caps(made.name, caps.get("max_bytes", 0), caps.get("max_objects", 0))
    return made


async def new_blob(store: MetaStore, size: int) -> BlobRef:
    """A blob as a blob sink leaves it: announced, its bytes written, no row naming it yet."""
    blob = BlobRef(uuid.uuid4().hex, size)
    await store.note_pending_blob(blob.blob_id, NOW)
    return blob


async def record(store: MetaStore, target: Bucket, key: str, size: int = 0) -> ObjectRecord:
    manifest = [await new_blob(store, size)] if size else []
    return ObjectRecord(target.name, key, size, "etag", "text/plain", int(NOW), int(NOW), manifest)


async def test_bucket_names_are_unique_across_gateways(gateways: Gateways) -> None:
    one, two = gateways
    owner = await account(one)
    name = f"b-{uuid.uuid4().hex[:12]}"
    calls = [
        store.create_bucket(Bucket(name, uuid.uuid4().hex, owner.id, "default", "private", "cn-bj", 0, 0))
        for store in (one, two) * 4
    ]
    results = await outcomes(calls)
    assert results.count(None) == 1 and all(isinstance(r, NameTaken) for r in results if r is not None)


async def test_bucket_caps_hold_across_gateways(gateways: Gateways) -> None:
    one, two = gateways
    capped = await bucket(one, await account(one), max_objects=5)
    calls = [
        store.put_object(await record(store, capped, f"k{i}"), bucket_id=capped.id, now=NOW)
        for i, store in enumerate((one, two) * 10)
    ]
    results = await outcomes(calls)
    assert results.count(None) == 5 and all(isinstance(r, QuotaExceeded) for r in results if r is not None)
    assert (await two.bucket_usage(capped.name)).object_count == 5
    sized = await bucket(one, await account(one), max_bytes=1000)
    calls = [
        store.put_object(await record(store, sized, f"s{i}", 300), bucket_id=sized.id, now=NOW)
        for i, store in enumerate((one, two) * 5)
    ]
    results = await outcomes(calls)
    assert results.count(None) == 3 and (await one.bucket_usage(sized.name)).used_bytes == 900


async def test_if_absent_lets_one_writer_win(gateways: Gateways) -> None:
    one, two = gateways
    target = await bucket(one, await account(one))
    calls = [
        store.put_object(await record(store, target, "same"), bucket_id=target.id, now=NOW, if_absent=True)
        for store in (one, two) * 4
    ]
    results = await outcomes(calls)
    assert results.count(None) == 1 and all(isinstance(r, Conflict) for r in results if r is not None)


async def test_a_deleted_and_remade_bucket_refuses_writes_meant_for_the_old_one(gateways: Gateways) -> None:
    one, two = gateways
    owner = await account(one)
    old = await bucket(one, owner)
    await two.delete_bucket(old.name)
    remade = Bucket(old.name, uuid.uuid4().hex, owner.id, "default", "private", "cn-bj", 0, 0)
    await two.create_bucket(remade)
    with pytest.raises(Exception, match="bucket"):
        await one.put_object(await record(one, old, "late"), bucket_id=old.id, now=NOW)
    assert (await two.object(old.name, "late")) is None


async def test_a_bucket_with_objects_is_not_deleted(gateways: Gateways) -> None:
    one, two = gateways
    target = await bucket(one, await account(one))
    await one.put_object(await record(one, target, "k"), bucket_id=target.id, now=NOW)
    with pytest.raises(NotEmpty):
        await two.delete_bucket(target.name)


async def test_token_limit_holds_across_gateways(gateways: Gateways) -> None:
    one, two = gateways
    owner = await account(one)

    def token() -> Token:
        key = uuid.uuid4().hex
        return Token(key, owner.id, "t", f"TK{key}", "s", ["TOKEN_ALLOW_READ"], ["*"], ["*"], 2**31, [], [], "cn-bj",
                     "default", 0, 0)  # fmt: skip

    results = await outcomes([store.create_token(token(), 3) for store in (one, two) * 5])
    assert results.count(None) == 3 and all(isinstance(r, LimitReached) for r in results if r is not None)
    assert len(await two.tokens(owner.id)) == 3


def credential(owner: Account, created: float) -> TempCredential:
    return TempCredential(f"HATMP{uuid.uuid4().hex}", "s", "t", owner.id, "b", "k", ("TOKEN_ALLOW_READ",), created,
                          int(created) + 600)  # fmt: skip


async def test_temporary_credentials_per_second_hold_across_gateways(gateways: Gateways) -> None:
    one, two = gateways
    owner = await account(one)
    calls = [store.create_temp_credential(credential(owner, NOW), 20) for store in (one, two) * 15]
    results = await outcomes(calls)
    assert results.count(None) == 20 and all(isinstance(r, RateLimited) for r in results if r is not None)
    await one.create_temp_credential(credential(owner, NOW + 1.5), 20)  # the next second has room
    await one.create_temp_credential(credential(owner, NOW - 60), 20)  # a clock set back: the later ones are not recent


async def test_upload_urls_are_idempotent_and_bounded_across_gateways(gateways: Gateways) -> None:
    one, two = gateways
    owner = await account(one)
    urls = await outcomes(
        [store.issue_upload_url(owner.id, "a.mp3", f"url-{i}", credential(owner, NOW), 2) for i, store in
         enumerate((one, two) * 3)]
    )  # fmt: skip
    assert len(set(urls)) == 1 and urls[0].startswith("url-")
    second = await two.issue_upload_url(owner.id, "b.mp3", "url-b", credential(owner, NOW), 2)
    assert second == "url-b"
    with pytest.raises(QuotaExceeded):
        await one.issue_upload_url(owner.id, "c.mp3", "url-c", credential(owner, NOW), 2)


async def test_a_nonce_is_accepted_once_across_gateways(gateways: Gateways) -> None:
    one, two = gateways
    nonce = uuid.uuid4().hex
    results = await outcomes([store.use_nonce(nonce, int(NOW) + 900) for store in (one, two) * 10])
    assert results.count(True) == 1 and results.count(False) == 19
    await one.forget_temp_credentials(int(NOW) + 901)
    assert await two.use_nonce(nonce, int(NOW) + 1800)


async def test_racing_multipart_finishes_make_one_object(gateways: Gateways) -> None:
    one, two = gateways
    target = await bucket(one, await account(one))
    upload = Upload(uuid.uuid4().hex, target.name, "big", "text/plain", int(NOW))
    await one.create_upload(upload)
    for number in range(3):
        part = Part(upload.id, number, await new_blob(two, 10), f"e{number}", b"")
        await two.put_part(part, now=NOW)

    def build(found: Upload, parts: list[Part], key: str) -> ObjectRecord:
        size = sum(part.blob.size for part in parts)
        return ObjectRecord(found.bucket, key, size, "etag", found.mime, int(NOW), int(NOW), [p.blob for p in parts])

    results = await outcomes([store.finish_upload(upload.id, None, build, now=NOW) for store in (one, two) * 3])
    finished = [r for r in results if isinstance(r, ObjectRecord)]
    assert len(finished) == 1 and finished[0].size == 30
    assert all(isinstance(r, UploadNotFound) for r in results if not isinstance(r, ObjectRecord))
    usage = await one.bucket_usage(target.name)
    assert usage.used_bytes == 30 and usage.object_count == 1


async def test_keys_list_in_utf8_byte_order(gateways: Gateways) -> None:
    one, two = gateways
    target = await bucket(one, await account(one))
    keys = ["a", "a/b", "a~", "z", "é", "ẞ", "\ufffd", "😀", "日本", "a\u0080", "A", "_"]
    for key in keys:
        await one.put_object(await record(one, target, key), bucket_id=target.id, now=NOW)
    listed = [row.key for row in (await two.objects(target.name, "", "", 100))]
    assert listed == sorted(keys, key=lambda key: key.encode())
    assert [row.key for row in (await two.objects(target.name, "a", "a/b", 100))] == ["a~", "a\u0080"]


async def test_usage_flushes_from_both_gateways_add_up(gateways: Gateways) -> None:
    one, two = gateways
    owner = await account(one)
    await one.add_quota(owner.id, "cn-bj", {"request-count": 1000})
    await outcomes([store.record_usage({(owner.id, "cn-bj"): [10, 100]}, NOW + i) for i, store in
                    enumerate((one, two) * 5)])  # fmt: skip
    days = await two.usage_days(owner.id, "cn-bj", 0, 2**40)
    assert sum(day.requests for day in days.values()) == 100
    assert sum(day.download_bytes for day in days.values()) == 1000
    assert (await one.quotas(owner.id))[("cn-bj", "request-count")] == 900


async def test_a_released_blob_referenced_again_is_not_forgotten(gateways: Gateways) -> None:
    one, two = gateways
    target = await bucket(one, await account(one))
    first = await record(one, target, "one", 5)
    await one.put_object(first, bucket_id=target.id, now=NOW)
    assert await one.delete_object(target.name, "one", now=NOW)
    blob = first.manifest[0].blob_id
    assert blob in (await two.released_blobs(NOW + 1, 100))
    again = ObjectRecord(target.name, "two", 5, "etag", "text/plain", int(NOW), int(NOW), [first.manifest[0]])
    await two.put_object(again, bucket_id=target.id, now=NOW)
    assert await one.forget_blobs([blob]) == []
    assert await two.blob_known(blob)


async def test_a_forgotten_blob_cannot_be_referenced_again(gateways: Gateways) -> None:
    one, two = gateways
    target = await bucket(one, await account(one))
    first = await record(one, target, "one", 5)
    await one.put_object(first, bucket_id=target.id, now=NOW)
    assert await one.delete_object(target.name, "one", now=NOW)
    blob = first.manifest[0].blob_id
    assert await one.forget_blobs([blob]) == [blob]  # the sweeper deletes its bytes next
    copy = dataclasses.replace(first, key="copy")  # a copy that read the manifest before the delete
    with pytest.raises(FileNotFound):
        await two.put_object(copy, bucket_id=target.id, now=NOW)
    late = await record(two, target, "late", 5)  # announced, then swept as abandoned before it commits
    assert await one.forget_pending_blobs([late.manifest[0].blob_id]) == [late.manifest[0].blob_id]
    with pytest.raises(FileNotFound):
        await two.put_object(late, bucket_id=target.id, now=NOW)
    assert await one.objects(target.name, "", "", 10) == []
    usage = await two.bucket_usage(target.name)
    assert (usage.used_bytes, usage.object_count) == (0, 0)


async def test_one_gateway_at_a_time_holds_a_lease(gateways: Gateways) -> None:
    one, two = gateways
    name = f"job-{uuid.uuid4().hex[:8]}"
    results = await outcomes([store.hold_lease(name, f"holder-{i}", 30, NOW) for i, store in enumerate((one, two) * 4)])
    assert results.count(True) == 1 and results.count(False) == 7
    winner = f"holder-{results.index(True)}"
    assert await two.hold_lease(name, winner, 30, NOW + 10)  # the holder renews
    assert not await one.hold_lease(name, "someone-else", 30, NOW + 39)
    assert await one.hold_lease(name, "someone-else", 30, NOW + 41)  # expired: taken over


async def test_a_bucket_deleted_amid_writes_leaves_nothing_behind(gateways: Gateways) -> None:
    one, two = gateways
    owner = await account(one)
    for _ in range(3):
        target = await bucket(one, owner)
        writes = [
            store.put_object(await record(store, target, f"k{i}", 10), bucket_id=target.id, now=NOW)
            for i, store in enumerate((one, two) * 5)
        ]
        results = await outcomes([*writes[:5], two.delete_bucket(target.name), *writes[5:]])
        if results[5] is None:  # deleted: every write failed, or landed before and made the delete fail
            assert await one.objects(target.name, "", "", 100) == []
            remade = Bucket(target.name, uuid.uuid4().hex, owner.id, "default", "private", "cn-bj", 0, 0)
            await one.create_bucket(remade)
            usage = await two.bucket_usage(target.name)
            assert (usage.used_bytes, usage.object_count) == (0, 0)
        else:
            assert isinstance(results[5], NotEmpty), results[5]


async def test_delimited_listings_page_to_the_model(gateways: Gateways) -> None:
    one, two = gateways
    target = await bucket(one, await account(one))
    names = {f"d{i % 7}/s{i % 3}/f{i:03d}" for i in range(120)} | {"top", "d1", "d1/x", "é/1", "😀"}
    for name in sorted(names):
        await one.put_object(await record(one, target, name), bucket_id=target.id, now=NOW)
    for prefix, delimiter, limit in (("", "/", 3), ("d1/", "/", 2), ("d", "/", 4), ("", "", 7), ("d2/s1/", "/", 5)):
        got: list[str] = []
        marker = ""
        while True:
            page = await two.list_delimited(target.name, prefix, marker, limit, delimiter or "\0")
            got += sorted([row.key for row in page.objects] + page.prefixes)
            if not page.truncated:
                break
            marker = page.next_marker
        assert got == expected(names, prefix, delimiter or "\0"), (prefix, delimiter)


async def test_pending_blobs_are_dropped_by_the_row_that_names_them(gateways: Gateways) -> None:
    one, two = gateways
    target = await bucket(one, await account(one))
    named, unnamed = await record(one, target, "named", 5), uuid.uuid4().hex
    await two.note_pending_blob(unnamed, NOW)
    await two.put_object(named, bucket_id=target.id, now=NOW)
    assert await one.stale_pending_blobs(NOW + 1, 10) == [unnamed]
    assert await two.forget_pending_blobs([unnamed]) == [unnamed]
    assert await one.stale_pending_blobs(NOW + 1, 10) == []


class _PauseAfterRead:
    """Holds the next write that reads an object row right after its read, until released."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.read, self.go, self.armed = threading.Event(), threading.Event(), True
        original = sql_module.current

        def current(conn: Any, bucket_name: str, key: str) -> ObjectRecord | None:
            found = original(conn, bucket_name, key)
            if self.armed:
                self.armed = False
                self.read.set()
                self.go.wait(10)
            return found

        monkeypatch.setattr(sql_module, "current", current)


async def _consistent(store: MetaStore, target: Bucket) -> None:
    rows = await store.objects(target.name, "", "", 100)
    usage = await store.bucket_usage(target.name)
    assert (usage.object_count, usage.used_bytes) == (len(rows), sum(row.size for row in rows))
    released = set(await store.released_blobs(NOW + 10**6, 100))
    assert not released & {ref.blob_id for row in rows for ref in row.manifest}, "a named blob was released"


@pytest.mark.parametrize("other", ["delete", "rename", "put"])
async def test_a_write_to_a_key_waits_for_the_one_before_it(
    gateways: Gateways, monkeypatch: pytest.MonkeyPatch, other: str
) -> None:
    one, two = gateways
    target = await bucket(one, await account(one))
    await one.put_object(await record(one, target, "k", 10), bucket_id=target.id, now=NOW)
    later, last = await record(one, target, "k", 20), await record(two, target, "k", 30)
    pause = _PauseAfterRead(monkeypatch)
    first = asyncio.ensure_future(one.put_object(later, bucket_id=target.id, now=NOW))
    while not pause.read.is_set():
        await asyncio.sleep(0.01)
    if other == "delete":
        second = asyncio.ensure_future(two.delete_object(target.name, "k", now=NOW))
    elif other == "rename":
        second = asyncio.ensure_future(two.rename_object(target.name, "k", "k2", True, int(NOW)))
    else:
        second = asyncio.ensure_future(two.put_object(last, bucket_id=target.id, now=NOW))
    await asyncio.sleep(0.3)
    assert not second.done()  # it waits for the write already under way on that key
    pause.go.set()
    await first
    await second
    await _consistent(two, target)


@pytest.mark.parametrize("change", ["caps", "delete"])
async def test_a_bucket_change_waits_for_the_writes_in_flight(
    gateways: Gateways, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    one, two = gateways
    target = await bucket(one, await account(one))
    await one.put_object(await record(one, target, "first", 10), bucket_id=target.id, now=NOW)
    late = await record(one, target, "second", 10)
    pause = _PauseAfterRead(monkeypatch)
    write = asyncio.ensure_future(one.put_object(late, bucket_id=target.id, now=NOW))
    while not pause.read.is_set():
        await asyncio.sleep(0.01)
    if change == "caps":
        changing = asyncio.ensure_future(two.set_bucket_caps(target.name, 0, 2))
    else:
        changing = asyncio.ensure_future(two.delete_bucket(target.name))
    await asyncio.sleep(0.3)
    assert not changing.done()  # it waits for the write that read the bucket as it was
    pause.go.set()
    await write
    if change == "caps":
        await changing
        with pytest.raises(QuotaExceeded):
            await two.put_object(await record(two, target, "third", 10), bucket_id=target.id, now=NOW)
    else:
        with pytest.raises(NotEmpty):
            await changing
    await _consistent(two, target)


async def test_user_metadata_and_checksums_round_trip(gateways: Gateways) -> None:
    one, two = gateways
    target = await bucket(one, await account(one))
    written = await record(one, target, "m", 5)
    written.user_meta, written.checksums = {"owner": "ána", "quote": '"x"'}, {"crc32": "NhCmhg=="}
    await one.put_object(written, bucket_id=target.id, now=NOW)
    for store in (one, two):
        found = await store.object(target.name, "m")
        assert found is not None and found.user_meta == written.user_meta and found.checksums == written.checksums
        listed = await store.objects(target.name, "", "", 10)
        assert listed[0].user_meta == written.user_meta
    upload = Upload(uuid.uuid4().hex, target.name, "parts", "text/plain", int(NOW), {"kind": "parts"})
    await one.create_upload(upload)
    assert (await two.upload(upload.id)) == upload

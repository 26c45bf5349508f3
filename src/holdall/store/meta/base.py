"""Records and the metadata store interface.

Writes run as one transaction each and are committed durably before they return. A manifest is
the list of blobs that make up an object, in order; blobs are reference-counted so that copy,
rename and UploadHit share bytes instead of copying them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(slots=True)
class Account:
    id: str
    name: str
    public_key: str
    private_key: str
    disabled: bool = False
    created: int = 0


@dataclass(slots=True)
class Bucket:
    name: str
    id: str
    account_id: str
    project_id: str
    type: str
    region: str
    created: int
    modified: int
    max_bytes: int = 0
    """Hard cap on the bytes of the bucket's objects and unfinished parts; 0: none."""
    max_objects: int = 0
    """Hard cap on the number of objects; 0: none."""
    cors: str = ""
    """CORS rules as JSON (see :mod:`holdall.service.cors`); empty: none."""


@dataclass(slots=True)
class BucketUsage:
    used_bytes: int
    object_count: int


@dataclass(slots=True)
class Project:
    id: str
    account_id: str
    name: str
    created: int


@dataclass(slots=True)
class Token:
    """A key pair of an account, scoped by the rules of seed 004 §21–23."""

    id: str
    account_id: str
    name: str
    public_key: str
    private_key: str
    ops: list[str]
    prefixes: list[str]
    buckets: list[str]
    expire_time: int
    white_ips: list[str]
    black_ips: list[str]
    region: str
    project_id: str
    created: int
    modified: int


@dataclass(frozen=True, slots=True)
class TempCredential:
    """A short-lived key pair with a session token, good for one key of one bucket (seed 002)."""

    access_key: str
    secret: str
    session_token: str
    account_id: str
    bucket: str
    key: str
    ops: tuple[str, ...]
    created: float
    expire_time: int
    formats: tuple[str, ...] = ()
    """File formats the uploaded bytes must have (``mp3``, ``wav``); empty: any."""


@dataclass(slots=True)
class UsageDay:
    day: int
    """Unix time of the day's start (UTC)."""
    storage_byte_seconds: float
    download_bytes: int
    requests: int


@dataclass(frozen=True, slots=True)
class BlobRef:
    blob_id: str
    size: int


@dataclass(slots=True)
class ObjectRecord:
    bucket: str
    key: str
    size: int
    etag: str
    mime: str
    created: int
    modified: int
    manifest: list[BlobRef] = field(default_factory=list)
    storage_class: str = "STANDARD"
    md5: str = ""
    """S3's ETag: the MD5 of the bytes in hex, or of the parts' MD5s with ``-<parts>``; empty for an
    object stored before holdall kept it."""
    user_meta: dict[str, str] = field(default_factory=dict)
    """User metadata, by lower-case name without its header prefix (``x-amz-meta-``, ``X-Ufile-Meta-``)."""
    checksums: dict[str, str] = field(default_factory=dict)
    """Verified checksums the writer sent, by algorithm (``crc32``: base64 of the digest)."""


@dataclass(slots=True)
class Upload:
    id: str
    bucket: str
    key: str
    mime: str
    created: int
    user_meta: dict[str, str] = field(default_factory=dict)
    """The metadata the finished object will have."""


@dataclass(slots=True)
class Part:
    upload_id: str
    number: int
    blob: BlobRef
    etag: str
    sha1: bytes
    md5: str = ""


@dataclass(slots=True)
class Listing:
    objects: list[ObjectRecord]
    prefixes: list[str]
    next_marker: str
    truncated: bool


FinishBuilder = Callable[[Upload, list[Part], str], ObjectRecord]
"""Checks the parts of an upload and makes the object record for the key it is given."""


def encode_manifest(manifest: list[BlobRef]) -> str:
    return ";".join(f"{ref.blob_id}:{ref.size}" for ref in manifest)


def decode_manifest(text: str) -> list[BlobRef]:
    if not text:
        return []
    refs = []
    for item in text.split(";"):
        blob_id, _, size = item.partition(":")
        refs.append(BlobRef(blob_id, int(size)))
    return refs


def encode_attrs(user_meta: dict[str, str], checksums: dict[str, str] | None = None) -> str:
    """User metadata and checksums as one column: empty when there are none, as for most objects."""
    if not user_meta and not checksums:
        return ""
    return json.dumps({"meta": user_meta, "checksums": checksums or {}}, separators=(",", ":"))


def decode_attrs(text: str) -> tuple[dict[str, str], dict[str, str]]:
    if not text:
        return {}, {}
    attrs = json.loads(text)
    return attrs["meta"], attrs["checksums"]


def prefix_upper_bound(prefix: str) -> str | None:
    """The least string greater than every string that starts with ``prefix`` (None: no bound).

    Keys compare by code point, which is also their UTF-8 byte order.
    """
    chars = list(prefix)
    while chars:
        last = ord(chars.pop())
        if last < 0x10FFFF:
            nxt = last + 1
            if 0xD800 <= nxt <= 0xDFFF:
                nxt = 0xE000
            return "".join(chars) + chr(nxt)
    return None


UsageDeltas = dict[tuple[str, str], list[int]]
"""(account id, region) → [requests, download bytes]."""


class ChangeFeed(Protocol):
    """How every gateway learns that configuration changed: SQLite's shared page, or a database row."""

    def generation(self) -> int: ...
    def new_cache(self) -> dict[Any, Any]:
        """A dict of this process's, emptied once any process changes accounts, buckets, tokens or quotas
        (noticed at the next account or bucket lookup)."""
        ...

    def bump_generation(self) -> None:
        """Tells every process that accounts, buckets, tokens or quotas changed."""
        ...


class AccountStore(Protocol):
    """Accounts, projects, tokens, temporary credentials and signature nonces."""

    async def account_by_public_key(self, public_key: str) -> Account | None: ...
    async def account_by_id(self, account_id: str) -> Account | None: ...
    async def account_by_name(self, name: str) -> Account | None: ...
    async def credential(self, public_key: str) -> tuple[Account, Token | None] | None: ...
    async def create_account(self, account: Account) -> None:
        """Names and public keys are unique across every gateway (a second create fails)."""
        ...

    async def projects(self, account_id: str) -> list[Project]: ...
    async def project(self, project_id: str) -> Project | None: ...

    async def tokens(self, account_id: str, token_id: str | None = None) -> list[Token]: ...
    async def create_token(self, token: Token, limit: int) -> None:
        """Stores ``token`` unless its account holds ``limit`` already (LimitReached), counted and
        inserted in one transaction: concurrent creates on any gateways never exceed ``limit``."""
        ...

    async def replace_token(self, token: Token) -> None:
        """Replaces the token of that id and account (NotFound if it is gone)."""
        ...

    async def delete_token(self, account_id: str, token_id: str) -> None: ...

    async def temp_credential(self, access_key: str) -> TempCredential | None: ...
    async def create_temp_credential(self, credential: TempCredential, per_second: int) -> None:
        """Stores ``credential`` unless its account was issued ``per_second`` of them in the second
        before ``credential.created`` (RateLimited), counted and inserted atomically across gateways."""
        ...

    async def upload_url(self, account_id: str, name: str) -> tuple[str, int] | None: ...
    async def issue_upload_url(
        self, account_id: str, name: str, url: str, credential: TempCredential, pending_limit: int
    ) -> str:
        """Records ``url`` for ``name`` unless a live one exists (then returns that one, so that every
        gateway hands out the same URL for a name), and unless the account holds ``pending_limit``
        live ones (QuotaExceeded); the check and the insert are one transaction."""
        ...

    async def use_nonce(self, nonce: str, expire_time: int) -> bool:
        """Records ``nonce`` until ``expire_time``; False when it was recorded already, by any gateway."""
        ...

    async def forget_temp_credentials(self, before: int) -> int:
        """Forgets temporary credentials, upload URLs and nonces that expired before ``before``."""
        ...


class LeaseStore(Protocol):
    async def hold_lease(self, name: str, holder: str, seconds: float, now: float) -> bool:
        """Takes or renews the lease ``name`` for ``holder`` until ``now + seconds``, unless another
        holder's lease on it has not expired: then False. One upsert, so of gateways racing for a free
        lease exactly one gets it."""
        ...


class LedgerStore(Protocol):
    """Quota balances and daily usage, per account and region."""

    async def quotas(self, account_id: str) -> dict[tuple[str, str], float]: ...
    async def all_quotas(self) -> dict[tuple[str, str, str], float]: ...
    async def add_quota(self, account_id: str, region: str, amounts: dict[str, float]) -> None:
        """Adds to the balances in one transaction (an increment, never a read-modify-write)."""
        ...

    async def record_usage(self, deltas: UsageDeltas, now: float) -> None:
        """Adds ``deltas`` to today's usage and takes them from the balances, and accrues storage
        (bytes held × seconds since the last accrual, which ``now`` ends), all in one transaction:
        gateways flushing at once neither lose nor double any amount."""
        ...

    async def usage_days(self, account_id: str, region: str, first: int, last: int) -> dict[int, UsageDay]: ...


class BucketStore(Protocol):
    async def bucket(self, name: str) -> Bucket | None: ...
    async def buckets(self, account_id: str, project_id: str | None, offset: int, limit: int) -> list[Bucket]: ...
    async def create_bucket(self, bucket: Bucket) -> None:
        """Bucket names are unique across every gateway: a taken name is NameTaken."""
        ...

    async def update_bucket_type(self, name: str, type_: str, modified: int) -> None: ...
    async def delete_bucket(self, name: str) -> None:
        """Deletes a bucket that holds no object and no unfinished upload (else NotEmpty), checked in
        the same transaction as the delete."""
        ...

    async def bucket_usage(self, name: str) -> BucketUsage: ...
    async def set_bucket_caps(self, name: str, max_bytes: int, max_objects: int) -> None: ...
    async def set_bucket_cors(self, name: str, rules: str) -> None: ...


class ObjectStore(Protocol):
    """Objects and multipart uploads. Every write that drops a blob reference stamps it with ``now``."""

    async def object(self, bucket: str, key: str) -> ObjectRecord | None: ...
    async def object_for_read(self, bucket: str, key: str) -> tuple[ObjectRecord, bytes | None] | None:
        """The object and, when it is one inline blob, that blob's bytes, in one lookup."""
        ...

    async def objects(self, bucket: str, prefix: str, after: str, limit: int, at_least: str = "") -> list[ObjectRecord]:
        """Objects whose key starts with ``prefix``, is greater than ``after`` and at least
        ``at_least``, in key order (by code point, which is UTF-8 byte order)."""
        ...

    async def list_delimited(self, bucket: str, prefix: str, marker: str, limit: int, delimiter: str) -> Listing:
        """Keys and common prefixes after ``marker``, at most ``limit`` entries, read at a cost that
        follows the entries returned, not the keys skipped inside common prefixes."""
        ...

    async def object_by_etag(self, account_id: str, etags: list[str], size: int) -> ObjectRecord | None: ...
    async def put_object(
        self,
        record: ObjectRecord,
        *,
        bucket_id: str,
        now: float,
        if_absent: bool = False,
        inline: dict[str, bytes] | None = None,
    ) -> None:
        """Stores ``record`` in the bucket of that name if it is still the bucket ``bucket_id``
        (else BucketNotFound), atomically; ``inline`` holds the bytes of new blobs kept in the
        metadata store. The bucket's caps and counters are checked and moved in the same
        transaction, so concurrent writes on any gateways never pass a cap; ``if_absent`` fails
        with Conflict when the key exists at commit time."""
        ...

    async def delete_object(self, bucket: str, key: str, *, now: float) -> bool: ...
    async def rename_object(self, bucket: str, key: str, new_key: str, force: bool, now: int) -> None: ...
    async def update_object(
        self, bucket: str, key: str, *, mime: str | None = None, storage_class: str | None = None
    ) -> None: ...

    async def upload(self, upload_id: str) -> Upload | None: ...
    async def parts(self, upload_id: str, after: int, limit: int) -> list[Part]: ...
    async def create_upload(self, upload: Upload) -> None: ...
    async def put_part(
        self, part: Part, mime: str | None = None, *, now: float, inline: dict[str, bytes] | None = None
    ) -> None: ...
    async def finish_upload(
        self, upload_id: str, new_key: str | None, build: FinishBuilder, *, now: float, if_absent: bool = False
    ) -> ObjectRecord:
        """Turns the upload into an object in one transaction: of two finishes racing on any
        gateways, one wins and the other finds no upload (UploadNotFound). Parts the built record's
        manifest leaves out are released."""
        ...

    async def uploads_in(self, bucket: str, prefix: str, after: tuple[str, str], limit: int) -> list[Upload]:
        """Unfinished uploads of ``bucket`` under ``prefix``, ordered by key then id, after ``after``
        (key, id)."""
        ...

    async def abort_upload(self, upload_id: str, *, now: float) -> None: ...
    async def uploads_created_before(self, before: int, limit: int) -> list[str]: ...


class BlobRefStore(Protocol):
    """Reference counts of blobs, and the ones no object holds any more."""

    async def note_pending_blob(self, blob_id: str, now: float) -> None:
        """Records, before its first byte is written, a blob that no row names yet; the row that
        comes to name it drops the record in the same transaction."""
        ...

    async def stale_pending_blobs(self, before: float, limit: int) -> list[str]: ...
    async def forget_pending_blobs(self, blob_ids: list[str]) -> list[str]:
        """Drops the records; returns the blobs among them that no row names (their bytes may go)."""
        ...

    async def released_blobs(self, before: float, limit: int) -> list[str]: ...
    async def blob_known(self, blob_id: str) -> bool: ...
    async def inline_data(self, blob_id: str) -> bytes | None: ...
    async def forget_blobs(self, blob_ids: list[str]) -> list[str]:
        """Forgets those of ``blob_ids`` that are still unreferenced, and returns them: a blob
        referenced again meanwhile is kept."""
        ...


class MetaStore(ChangeFeed, AccountStore, LeaseStore, LedgerStore, BucketStore, ObjectStore, BlobRefStore, Protocol):
    """The whole metadata contract; each backend implements every aggregate."""

    async def probe(self) -> None:
        """Raises when the store cannot answer a query now."""
        ...

    def close(self) -> None: ...


STORAGE_VOLUME = "storage-volume"
DOWNLOAD_TRAFFIC = "download-traffic"
REQUEST_COUNT = "request-count"
QUOTA_TYPES = (STORAGE_VOLUME, DOWNLOAD_TRAFFIC, REQUEST_COUNT)
"""Quota remaining is kept in raw units: byte-seconds, bytes and requests respectively."""

DAY = 86400
MAX_SPLIT_DAYS = 400


def day_of(moment: float) -> int:
    return int(moment // DAY) * DAY


def day_spans(start: float, end: float) -> list[tuple[int, float]]:
    """(day, seconds) covering ``start..end``; a span of more than 400 days counts on its last day."""
    if end - start > MAX_SPLIT_DAYS * DAY:
        return [(day_of(end), end - start)]
    spans = []
    moment = start
    while moment < end:
        day = day_of(moment)
        until = min(end, day + DAY)
        spans.append((day, until - moment))
        moment = until
    return spans

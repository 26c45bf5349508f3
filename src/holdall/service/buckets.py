"""Buckets: naming rules, global uniqueness, access type, and the rules for deleting one."""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import secrets
import string

from holdall import clock
from holdall.config import Settings
from holdall.errors import InvalidParameter, NameTaken, NotFound, TooSoon
from holdall.store.meta.base import Bucket, MetaStore

BUCKET_TYPES = ("public", "private")
DEFAULT_PROJECT = "default"
_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
_ID_ALPHABET = string.ascii_lowercase + string.digits


REGION = re.compile(r"[a-z0-9][a-z0-9-]{0,31}\Z")
"""A region name: lower-case letters, digits and hyphens, at most 32 (it goes out in headers)."""


def bucket_name_problem(name: str) -> str | None:
    """Why ``name`` breaks the naming rules of seed 004 §1, or None when it is fine."""
    if not 3 <= len(name.encode()) <= 63:
        return "a bucket name has 3 to 63 bytes"
    try:
        ipaddress.ip_address(name)
        return "a bucket name may not be an IP address"
    except ValueError:
        pass
    for label in name.split("."):
        if not _LABEL.match(label):
            return (
                f"label {label!r}: labels hold lower-case letters, digits and hyphens,"
                " and start and end with a letter or digit"
            )
    return None


async def resolve_project(meta: MetaStore, account_id: str, project_id: str | None) -> str:
    """The project a call names, or the account's default project when it names none."""
    if not project_id or project_id == DEFAULT_PROJECT:
        return DEFAULT_PROJECT
    project = await meta.project(project_id)
    if project is None or project.account_id != account_id:
        raise NotFound(f"no project {project_id!r} in this account", "ProjectId")
    return project.id


def new_bucket_id() -> str:
    return "oss-" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))


def new_project_id() -> str:
    return "org-" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(6))


RESERVED_NAMES = frozenset(("healthz", "readyz", "metrics"))
"""Path-style ``/healthz`` and the like answer for the service (server/health.py), never as buckets."""


class BucketService:
    def __init__(self, settings: Settings, meta: MetaStore) -> None:
        self.settings = settings
        self.meta = meta

    def host_of(self, bucket: str) -> str:
        return f"{bucket}.{self.settings.public_host_suffix}"

    async def owned(self, account_id: str, name: str) -> Bucket:
        bucket = await self.meta.bucket(name)
        if bucket is None or bucket.account_id != account_id:
            raise NotFound(f"no bucket {name!r} in this account", "BucketName")
        return bucket

    async def create(self, account_id: str, name: str, type_: str, region: str, project_id: str) -> Bucket:
        problem = bucket_name_problem(name)
        if problem:
            raise InvalidParameter("BucketName", problem)
        if name in self.settings.system_buckets:
            raise NameTaken(f"bucket name {name!r} is reserved for holdall's temporary uploads")
        if name in RESERVED_NAMES:
            raise NameTaken(f"bucket name {name!r} is reserved for holdall's health endpoints")
        if type_ not in BUCKET_TYPES:
            raise InvalidParameter("Type", "Type is public or private")
        if not REGION.match(region):
            raise InvalidParameter(
                "Region", f"Region {region[:40]!r}: lower-case letters, digits and hyphens, at most 32"
            )
        now = int(clock.now())
        bucket = Bucket(name, new_bucket_id(), account_id, project_id, type_, region, now, now)
        await self.meta.create_bucket(bucket)
        return bucket

    async def describe(
        self, account_id: str, name: str | None, project_id: str | None, offset: int, limit: int
    ) -> list[Bucket]:
        if name:
            return [await self.owned(account_id, name)]
        return await self.meta.buckets(account_id, project_id, offset, limit)

    async def update(self, account_id: str, name: str, type_: str) -> Bucket:
        bucket = await self.owned(account_id, name)
        if type_ not in BUCKET_TYPES:
            raise InvalidParameter("Type", "Type is public or private")
        updated = dataclasses.replace(bucket, type=type_, modified=int(clock.now()))
        await self.meta.update_bucket_type(name, type_, updated.modified)
        return updated

    async def delete(self, account_id: str, name: str) -> Bucket:
        bucket = await self.owned(account_id, name)
        age = clock.now() - bucket.created
        if age < self.settings.bucket_delete_delay:
            wait = int(self.settings.bucket_delete_delay - age) + 1
            raise TooSoon(f"bucket {name!r} was created {int(age)} s ago; try again in {wait} s")
        await self.meta.delete_bucket(name)
        return bucket

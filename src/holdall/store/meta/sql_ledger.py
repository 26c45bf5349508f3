"""Projects, tokens, temporary credentials, quotas and usage, in SQL for every SQL backend.

Usage arrives in batches from each process's meter (requests and download bytes) and is added to
the day's row and taken off the quota in one transaction. Storage is metered as byte-seconds:
each batch first accrues, for every account and region, the bytes its buckets hold times the
seconds since the last accrual, split over the days they fall in.
"""

from __future__ import annotations

import json
from typing import Any

from holdall.errors import LimitReached, NotFound, RateLimited, UrlLimitReached
from holdall.store.meta.base import (
    DOWNLOAD_TRAFFIC,
    REQUEST_COUNT,
    STORAGE_VOLUME,
    Project,
    TempCredential,
    Token,
    UsageDay,
    UsageDeltas,
    day_of,
    day_spans,
)
from holdall.store.meta.sql_plumbing import Conn, SqlPlumbing

_TOKEN_COLUMNS = (
    "id, account_id, name, public_key, private_key, spec, expire_time, region, project_id, created, modified"
)
ACCRUED_UNTIL = "storage_accrued_until"


def _token(row: tuple[Any, ...]) -> Token:
    spec = json.loads(row[5])
    return Token(
        id=row[0],
        account_id=row[1],
        name=row[2],
        public_key=row[3],
        private_key=row[4],
        ops=spec["ops"],
        prefixes=spec["prefixes"],
        buckets=spec["buckets"],
        expire_time=row[6],
        white_ips=spec["white_ips"],
        black_ips=spec["black_ips"],
        region=row[7],
        project_id=row[8],
        created=row[9],
        modified=row[10],
    )


def _token_spec(token: Token) -> str:
    """The token's rules, kept as one JSON column."""
    spec = {
        "ops": token.ops,
        "prefixes": token.prefixes,
        "buckets": token.buckets,
        "white_ips": token.white_ips,
        "black_ips": token.black_ips,
    }
    return json.dumps(spec)


def _token_row(token: Token) -> tuple[Any, ...]:
    return (
        token.id,
        token.account_id,
        token.name,
        token.public_key,
        token.private_key,
        _token_spec(token),
        token.expire_time,
        token.region,
        token.project_id,
        token.created,
        token.modified,
    )


def _add_usage(conn: Conn, account_id: str, region: str, day: int, column: str, amount: float) -> None:
    conn.execute(
        f"INSERT INTO usage(account_id, region, day, {column}) VALUES(?, ?, ?, ?)"
        f" ON CONFLICT(account_id, region, day) DO UPDATE SET {column} = usage.{column} + excluded.{column}",
        (account_id, region, day, amount),
    )


def _consume(conn: Conn, account_id: str, region: str, type_: str, amount: float) -> None:
    conn.execute(
        "UPDATE quotas SET remaining = remaining - ? WHERE account_id = ? AND region = ? AND type = ?",
        (amount, account_id, region, type_),
    )


def _accrue_storage(conn: Conn, now: float) -> None:
    row = conn.execute("SELECT value FROM settings WHERE name = ?", (ACCRUED_UNTIL,)).fetchone()
    if row is None:
        conn.execute("INSERT INTO settings(name, value) VALUES(?, ?)", (ACCRUED_UNTIL, now))
        return
    start: float = row[0]
    if now - start < 1:
        return
    spans = day_spans(start, now)
    stored = conn.execute(
        "SELECT b.account_id, b.region, CAST(sum(u.used_bytes) AS BIGINT) FROM buckets b"
        " JOIN bucket_usage u ON u.bucket = b.name GROUP BY b.account_id, b.region HAVING sum(u.used_bytes) > 0"
    ).fetchall()
    for account_id, region, used in stored:
        for day, seconds in spans:
            _add_usage(conn, account_id, region, day, "storage_byte_seconds", used * seconds)
        _consume(conn, account_id, region, STORAGE_VOLUME, used * (now - start))
    conn.execute("UPDATE settings SET value = ? WHERE name = ?", (now, ACCRUED_UNTIL))


def _insert_temp_credential(conn: Conn, credential: TempCredential) -> None:
    conn.execute(
        "INSERT INTO temp_credentials(access_key, secret, session_token, account_id, bucket, key, ops,"
        " created, expire_time, formats) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            credential.access_key,
            credential.secret,
            credential.session_token,
            credential.account_id,
            credential.bucket,
            credential.key,
            ",".join(credential.ops),
            credential.created,
            credential.expire_time,
            ",".join(credential.formats),
        ),
    )


class SqlLedger(SqlPlumbing):
    def __init__(self) -> None:
        super().__init__()
        self._tokens: dict[str, Token | None] = self.new_cache()

    # ----------------------------------------------------------------- projects

    async def projects(self, account_id: str) -> list[Project]:
        return [
            Project(*row)
            for row in await self._all(
                "SELECT id, account_id, name, created FROM projects WHERE account_id = ? ORDER BY created, id",
                (account_id,),
            )
        ]

    async def project(self, project_id: str) -> Project | None:
        row = await self._one("SELECT id, account_id, name, created FROM projects WHERE id = ?", (project_id,))
        return Project(*row) if row else None

    def create_project_sync(self, project: Project) -> None:
        self.write_sync(
            lambda conn: conn.execute(
                "INSERT INTO projects(id, account_id, name, created) VALUES(?, ?, ?, ?)",
                (project.id, project.account_id, project.name, project.created),
            )
        )

    # ----------------------------------------------------------------- tokens

    async def token_by_public_key(self, public_key: str) -> Token | None:
        self._cache_valid()
        if public_key in self._tokens:
            return self._tokens[public_key]
        generation = self.generation()
        row = await self._one(f"SELECT {_TOKEN_COLUMNS} FROM tokens WHERE public_key = ?", (public_key,))
        token = _token(row) if row else None
        if self.generation() == generation:  # no change was announced while the row was on its way
            self._tokens[public_key] = token
        return token

    async def tokens(self, account_id: str, token_id: str | None = None) -> list[Token]:
        sql = f"SELECT {_TOKEN_COLUMNS} FROM tokens WHERE account_id = ?"
        args: list[Any] = [account_id]
        if token_id is not None:
            sql += " AND id = ?"
            args.append(token_id)
        return [_token(row) for row in await self._all(sql + " ORDER BY created, id", args)]

    async def create_token(self, token: Token, limit: int) -> None:
        def create(conn: Conn) -> None:
            self._serialize(conn, f"account:{token.account_id}")  # the count and the insert, alone
            (count,) = conn.execute("SELECT count(*) FROM tokens WHERE account_id = ?", (token.account_id,)).fetchone()
            if count >= limit:
                raise LimitReached(f"an account may hold {limit} tokens")
            conn.execute(
                f"INSERT INTO tokens({_TOKEN_COLUMNS}) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", _token_row(token)
            )

        await self._write_config(create)

    async def replace_token(self, token: Token) -> None:
        def replace(conn: Conn) -> None:
            cursor = conn.execute(
                "UPDATE tokens SET name = ?, spec = ?, expire_time = ?, region = ?, modified = ?"
                " WHERE id = ? AND account_id = ?",
                (
                    token.name,
                    _token_spec(token),
                    token.expire_time,
                    token.region,
                    token.modified,
                    token.id,
                    token.account_id,
                ),
            )
            if cursor.rowcount == 0:
                raise NotFound(f"no token {token.id!r}", "TokenId")

        await self._write_config(replace)

    async def delete_token(self, account_id: str, token_id: str) -> None:
        def delete(conn: Conn) -> None:
            cursor = conn.execute("DELETE FROM tokens WHERE id = ? AND account_id = ?", (token_id, account_id))
            if cursor.rowcount == 0:
                raise NotFound(f"no token {token_id!r}", "TokenId")

        await self._write_config(delete)

    # ----------------------------------------------------------------- temporary credentials

    async def temp_credential(self, access_key: str) -> TempCredential | None:
        row = await self._one(
            "SELECT access_key, secret, session_token, account_id, bucket, key, ops, created, expire_time, formats"
            " FROM temp_credentials WHERE access_key = ?",
            (access_key,),
        )
        if row is None:
            return None
        access_key, secret, session_token, account_id, bucket, key, ops, created, expire_time, formats = row
        return TempCredential(
            access_key,
            secret,
            session_token,
            account_id,
            bucket,
            key,
            tuple(ops.split(",")),
            created,
            expire_time,
            tuple(formats.split(",")) if formats else (),
        )

    async def create_temp_credential(self, credential: TempCredential, per_second: int) -> None:
        """Stores ``credential`` unless its account was issued ``per_second`` of them in the last second."""

        def create(conn: Conn) -> None:
            self._serialize(conn, f"account:{credential.account_id}")  # the count and the insert, alone
            (recent,) = conn.execute(  # a clock set back must not count the keys made "later" as recent
                "SELECT count(*) FROM temp_credentials WHERE account_id = ? AND created > ? AND created <= ?",
                (credential.account_id, credential.created - 1, credential.created),
            ).fetchone()
            if recent >= per_second:
                raise RateLimited(f"at most {per_second} requests a second")
            _insert_temp_credential(conn, credential)

        await self._write(create)

    async def upload_url(self, account_id: str, name: str) -> tuple[str, int] | None:
        row = await self._one(
            "SELECT url, expire_time FROM upload_urls WHERE account_id = ? AND name = ?", (account_id, name)
        )
        return (row[0], row[1]) if row else None

    async def issue_upload_url(
        self, account_id: str, name: str, url: str, credential: TempCredential, pending_limit: int
    ) -> str:
        def issue(conn: Conn) -> str:
            self._serialize(conn, f"account:{account_id}")  # one URL per name, the live ones counted
            now = int(credential.created)
            row = conn.execute(
                "SELECT url FROM upload_urls WHERE account_id = ? AND name = ? AND expire_time > ?",
                (account_id, name, now),
            ).fetchone()
            if row is not None:
                return str(row[0])
            (pending,) = conn.execute(
                "SELECT count(*) FROM upload_urls WHERE account_id = ? AND expire_time > ?", (account_id, now)
            ).fetchone()
            if pending >= pending_limit:
                raise UrlLimitReached(f"at most {pending_limit} upload URLs may be live at once")
            conn.execute(
                "INSERT INTO upload_urls(account_id, name, url, expire_time) VALUES(?, ?, ?, ?)"
                " ON CONFLICT(account_id, name) DO UPDATE SET url = excluded.url, expire_time = excluded.expire_time",
                (account_id, name, url, credential.expire_time),
            )
            _insert_temp_credential(conn, credential)
            return url

        return await self._write(issue)

    async def use_nonce(self, nonce: str, expire_time: int) -> bool:
        """Records ``nonce`` until ``expire_time``; False when it is recorded already, by any worker."""

        def use(conn: Conn) -> bool:
            sql = "INSERT INTO nonces(nonce, expire_time) VALUES(?, ?) ON CONFLICT(nonce) DO NOTHING"
            return bool(conn.execute(sql, (nonce, expire_time)).rowcount)

        return await self._write(use)

    async def hold_lease(self, name: str, holder: str, seconds: float, now: float) -> bool:
        def hold(conn: Conn) -> bool:
            cursor = conn.execute(
                "INSERT INTO leases(name, holder, expires) VALUES(?, ?, ?)"
                " ON CONFLICT(name) DO UPDATE SET holder = excluded.holder, expires = excluded.expires"
                " WHERE leases.holder = excluded.holder OR leases.expires < ?",
                (name, holder, now + seconds, now),
            )
            return cursor.rowcount == 1

        return await self._write(hold)

    async def forget_temp_credentials(self, before: int) -> int:
        def forget(conn: Conn) -> int:
            conn.execute("DELETE FROM upload_urls WHERE expire_time < ?", (before,))
            conn.execute("DELETE FROM nonces WHERE expire_time < ?", (before,))
            return conn.execute("DELETE FROM temp_credentials WHERE expire_time < ?", (before,)).rowcount

        return await self._write(forget)

    # ----------------------------------------------------------------- quotas

    async def quotas(self, account_id: str) -> dict[tuple[str, str], float]:
        """(region, type) → remaining, in raw units, for every quota the account has."""
        return {
            (region, type_): remaining
            for region, type_, remaining in await self._all(
                "SELECT region, type, remaining FROM quotas WHERE account_id = ?", (account_id,)
            )
        }

    async def all_quotas(self) -> dict[tuple[str, str, str], float]:
        """(account id, region, type) → remaining, for every quota there is."""
        return {
            (account_id, region, type_): remaining
            for account_id, region, type_, remaining in await self._all(
                "SELECT account_id, region, type, remaining FROM quotas"
            )
        }

    def _add_quota(self, conn: Conn, account_id: str, region: str, amounts: dict[str, float]) -> None:
        conn.executemany(
            "INSERT INTO quotas(account_id, region, type, remaining) VALUES(?, ?, ?, ?)"
            " ON CONFLICT(account_id, region, type) DO UPDATE SET remaining = quotas.remaining + excluded.remaining",
            [(account_id, region, type_, amount) for type_, amount in amounts.items()],
        )

    async def add_quota(self, account_id: str, region: str, amounts: dict[str, float]) -> None:
        await self._write_config(lambda conn: self._add_quota(conn, account_id, region, amounts))

    def add_quota_sync(self, account_id: str, region: str, amounts: dict[str, float]) -> None:
        self._write_config_sync(lambda conn: self._add_quota(conn, account_id, region, amounts))

    # ----------------------------------------------------------------- usage

    async def record_usage(self, deltas: UsageDeltas, now: float) -> None:
        def record(conn: Conn) -> None:
            self._serialize(conn, "storage-accrual")  # each second of storage is accrued once
            _accrue_storage(conn, now)
            day = day_of(now)
            for (account_id, region), (requests, download) in deltas.items():
                if requests:
                    _add_usage(conn, account_id, region, day, "requests", requests)
                    _consume(conn, account_id, region, REQUEST_COUNT, requests)
                if download:
                    _add_usage(conn, account_id, region, day, "download_bytes", download)
                    _consume(conn, account_id, region, DOWNLOAD_TRAFFIC, download)

        await self._write(record)

    async def usage_days(self, account_id: str, region: str, first: int, last: int) -> dict[int, UsageDay]:
        return {
            row[0]: UsageDay(*row)
            for row in await self._all(
                "SELECT day, storage_byte_seconds, download_bytes, requests FROM usage"
                " WHERE account_id = ? AND region = ? AND day BETWEEN ? AND ?",
                (account_id, region, first, last),
            )
        }

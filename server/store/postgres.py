"""The PostgreSQL store: the same data as the embedded SQLite store (actions, versions, bindings,
executions, users, tokens, redirect states) in one PostgreSQL database that several stateless
actionhost nodes share.

`PostgresStore(dsn)` owns an asyncpg pool (`await open()` / `await close()`). `open()` applies
the migrations of postgres_migrations.py in one transaction under a PostgreSQL advisory lock, so
nodes starting together never race on the schema: the first applies them, the others wait and
then find them applied.

Every connection decodes and encodes jsonb as Python values (orjson). Times are timestamptz in
the database and the API's ISO-8601 UTC millisecond strings ('...T03:04:05.678Z') in Python:
`ts()` converts one way, `row()` the other. A broken uniqueness or reference rule raises the
same `Conflict` as the SQLite store.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from typing import Any

import asyncpg
import orjson

from .postgres_migrations import MIGRATIONS
from .sqlite import Conflict, NotBuilt

__all__ = ["PostgresStore", "Conflict", "NotBuilt", "TRANSIENT", "ts", "iso", "row", "rowcount", "without_nul"]

# pg_advisory_xact_lock key for applying migrations ("actionhost" folded into a bigint)
MIGRATION_LOCK = 0x616374696F6E68

# failures after which the same statement may succeed: the connection or the server went away,
# the server is starting or shutting down, too many connections, a statement timeout, a
# serialization failure or deadlock
TRANSIENT: tuple[type[BaseException], ...] = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    # a connection the server cut while the client was mid-operation (asyncpg's own state)
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    asyncpg.QueryCanceledError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
)


def ts(value: str | datetime | None) -> datetime | None:
    """An ISO-8601 string (as the API writes them) as an aware datetime for a timestamptz."""
    if value is None or isinstance(value, datetime):
        return value
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=timezone.utc)


def iso(value: datetime | None) -> str | None:
    """A timestamptz as the API writes times: UTC, milliseconds, 'Z'."""
    if value is None:
        return None
    return value.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def row(record: asyncpg.Record | None) -> dict[str, Any] | None:
    """A row as a dict, its timestamptz columns as ISO strings (jsonb is already decoded)."""
    if record is None:
        return None
    return {key: iso(value) if isinstance(value, datetime) else value for key, value in record.items()}


def rowcount(status: str) -> int:
    """The row count of a command status such as 'DELETE 3' or 'UPDATE 1'."""
    try:
        return int(status.rsplit(" ", 1)[-1])
    except (ValueError, IndexError):
        return 0


def without_nul(value: Any) -> Any:
    """`value` with every NUL character in its strings (keys too) replaced by U+FFFD.
    PostgreSQL's text and jsonb cannot hold NUL ('\\u0000'); the SQLite store can. Used for the
    server's own records (execution results, a redirect's saved event), which must be stored
    whatever an action logged or a login request carried; user profiles are refused instead
    (see profiles/postgres_profiles.py)."""
    if b"\\u0000" not in orjson.dumps(value):
        return value
    return _replace_nul(value)


def _replace_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_replace_nul(k): _replace_nul(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_replace_nul(v) for v in value]
    return value


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode("utf-8")


async def _init_connection(conn: asyncpg.Connection) -> None:
    for name in ("jsonb", "json"):
        await conn.set_type_codec(name, encoder=_dumps, decoder=orjson.loads, schema="pg_catalog", format="text")


@contextlib.contextmanager
def _conflicts() -> Any:
    try:
        yield
    except asyncpg.IntegrityConstraintViolationError as exc:
        raise Conflict(str(exc)) from exc


class PostgresStore:
    def __init__(self, dsn: str, min_size: int = 1, max_size: int = 10, **pool_options: Any) -> None:
        self.dsn = dsn
        self._min_size = min_size
        self._max_size = max_size
        self._pool_options = pool_options
        self._pool: asyncpg.Pool | None = None

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("PostgresStore is not open")
        return self._pool

    async def open(self) -> None:
        pool = await asyncpg.create_pool(self.dsn, min_size=self._min_size, max_size=self._max_size,
                                         init=_init_connection, **self._pool_options)
        try:
            async with pool.acquire() as conn:
                await migrate(conn)
        except BaseException:
            await pool.close()
            raise
        self._pool = pool

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    # -- one statement (`timeout` bounds waiting for a connection and the statement) ----

    async def fetch(self, sql: str, *args: Any, timeout: float | None = None) -> list[asyncpg.Record]:
        with _conflicts():
            async with asyncio.timeout(timeout):
                return await self.pool.fetch(sql, *args)

    async def fetchrow(self, sql: str, *args: Any, timeout: float | None = None) -> asyncpg.Record | None:
        with _conflicts():
            async with asyncio.timeout(timeout):
                return await self.pool.fetchrow(sql, *args)

    async def fetchval(self, sql: str, *args: Any, timeout: float | None = None) -> Any:
        with _conflicts():
            async with asyncio.timeout(timeout):
                return await self.pool.fetchval(sql, *args)

    async def execute(self, sql: str, *args: Any, timeout: float | None = None) -> str:
        with _conflicts():
            async with asyncio.timeout(timeout):
                return await self.pool.execute(sql, *args)

    # -- several statements ------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def transaction(self, *, readonly: bool = False, isolation: str | None = None,
                          timeout: float | None = None) -> AsyncIterator[asyncpg.Connection]:
        """A connection inside a transaction, committed when the block ends (rolled back when it
        raises). A broken uniqueness rule raises Conflict, after the rollback."""
        with _conflicts():
            async with self.pool.acquire(timeout=timeout) as conn:
                async with conn.transaction(readonly=readonly, isolation=isolation):
                    yield conn


async def migrate(conn: asyncpg.Connection) -> list[int]:
    """Apply the migrations not yet applied, all in one transaction under an advisory lock
    (held until that transaction ends). Returns the versions this call applied."""
    applied: list[int] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
        await conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY)")
        done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        for version, sql in MIGRATIONS:
            if version in done:
                continue
            await conn.execute(sql)  # no arguments: the simple protocol runs every statement
            await conn.execute("INSERT INTO schema_migrations (version) VALUES ($1)", version)
            applied.append(version)
    return applied

"""The embedded store: actions, versions, bindings, executions, users and tokens in one SQLite
file (WAL), behind async methods.

Every method is one function run whole on the store's own thread, inside one transaction when
it writes: transactions never interleave, and the event loop never waits on the disk.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import orjson

from .migrations import MIGRATIONS

T = TypeVar("T")

VERSIONS_KEPT = 50


class Conflict(Exception):
    """A uniqueness rule was broken (e.g. an action name already taken)."""


class SqliteStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="actionhost-sqlite")
        self._conn: sqlite3.Connection | None = None
        self._local = threading.local()

    async def open(self) -> None:
        await self._call(self._open)

    def _open(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")  # an acknowledged write survives a crash
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=5000")
        conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)")
        done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
        for version, sql in MIGRATIONS:
            if version in done:
                continue
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in sql.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute("INSERT INTO schema_migrations (version) VALUES (?)", (version,))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        self._conn = conn

    async def close(self) -> None:
        if self._conn is not None:
            await self._call(self._conn.close)
            self._conn = None
        self._pool.shutdown(wait=True)

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await self._call(self._read, fn)

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn(conn)` inside BEGIN IMMEDIATE ... COMMIT; any exception rolls back."""
        return await self._call(self._write, fn)

    def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        assert self._conn is not None
        return fn(self._conn)

    def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn = self._conn
        assert conn is not None
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = fn(conn)
        except sqlite3.IntegrityError as exc:
            conn.execute("ROLLBACK")
            raise Conflict(str(exc)) from exc
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return result


def loads(text: str | bytes | None) -> Any:
    return orjson.loads(text) if text is not None else None


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode("utf-8")

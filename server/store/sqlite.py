"""The embedded store: actions, versions, bindings, executions, users and tokens in one SQLite
file (WAL), behind async methods.

Writes: one writer thread with group commit. Every write is a function run whole; the writer
takes every write queued meanwhile into one transaction and one fsync, and answers each caller
only after that COMMIT (so each is durable before its response), or with its own exception
when its function failed (the group is then run again with a SAVEPOINT per write, so only the
failing write's changes are rolled back). Reads: a small pool of threads, each with its own connection (WAL readers never block
the writer, nor each other). The event loop never waits on the disk.
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import orjson

from .migrations import MIGRATIONS

T = TypeVar("T")

READERS = 2
GROUP_MAX = 512


class Conflict(Exception):
    """A uniqueness rule was broken (e.g. an action name already taken)."""


class NotBuilt(Exception):
    """The draft asked to be deployed has not built (`status`, and its build `errors`)."""

    def __init__(self, status: str, errors: list[dict[str, Any]]) -> None:
        super().__init__(status)
        self.status = status
        self.errors = errors


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA busy_timeout=5000")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


class SqliteStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._readers = ThreadPoolExecutor(max_workers=READERS, thread_name_prefix="actionhost-sqlite-read")
        self._reader_local = threading.local()
        self._reader_conns: list[sqlite3.Connection] = []
        self._writes: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._conn: sqlite3.Connection | None = None
        self.commits = 0
        self.writes = 0

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()
        self._writer = threading.Thread(target=self._write_loop, args=(loop, ready), name="actionhost-sqlite-write", daemon=True)
        self._writer.start()
        await ready

    def _open_writer(self) -> sqlite3.Connection:
        conn = _connect(self.path)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")  # an acknowledged write survives a crash
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
        return conn

    async def close(self) -> None:
        if self._writer is not None:
            self._writes.put(None)
            await asyncio.get_running_loop().run_in_executor(None, self._writer.join)
            self._writer = None
        for conn in self._reader_conns:
            self._readers.submit(conn.close)
        self._readers.shutdown(wait=True)

    # -- reads -------------------------------------------------------------------------

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._readers, self._read, fn)

    def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn = getattr(self._reader_local, "conn", None)
        if conn is None:
            conn = self._reader_local.conn = _connect(self.path)
            self._reader_conns.append(conn)
        return fn(conn)

    # -- writes ------------------------------------------------------------------------

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn(conn)` inside a transaction; answered once it is committed. An exception
        from `fn` rolls back `fn`'s changes only and is raised here (IntegrityError as Conflict)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._writes.put((fn, future))
        return await future

    def _write_loop(self, loop: asyncio.AbstractEventLoop, ready: asyncio.Future[None]) -> None:
        try:
            conn = self._conn = self._open_writer()
        except BaseException as exc:  # noqa: BLE001 - reported to open()'s caller
            loop.call_soon_threadsafe(_fail, ready, exc)
            return
        loop.call_soon_threadsafe(_succeed, ready, None)
        while True:
            first = self._writes.get()
            if first is None:
                break
            batch = [first]
            stop = False
            while len(batch) < GROUP_MAX:
                try:
                    item = self._writes.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
            self._commit(conn, loop, batch)
            if stop:
                break
        conn.close()

    def _commit(self, conn: sqlite3.Connection, loop: asyncio.AbstractEventLoop, batch: list[Any]) -> None:
        """One transaction for the whole group. Tried first without a savepoint per write: each
        statement hands the GIL back and forth with the event loop's thread (up to a switch
        interval each under load), and writes almost never fail. If one does, the group is
        rolled back and run again with savepoints, so that write alone fails."""
        outcomes = self._run_group(conn, batch, isolated=False)
        if outcomes is None:
            outcomes = self._run_group(conn, batch, isolated=True)
        for (_, future), (ok, value) in zip(batch, outcomes):
            loop.call_soon_threadsafe(_succeed if ok else _fail, future, value)

    def _run_group(self, conn: sqlite3.Connection, batch: list[Any], isolated: bool) -> list[tuple[bool, Any]] | None:
        """Each write's (ok, result or exception), committed; None when a write failed in a
        group run without savepoints (nothing is kept: run it again isolated)."""
        outcomes: list[tuple[bool, Any]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for fn, _ in batch:
                if isolated:
                    conn.execute("SAVEPOINT one_write")
                try:
                    result = fn(conn)
                except BaseException as exc:  # noqa: BLE001 - handed to the caller
                    if not isolated:
                        conn.execute("ROLLBACK")
                        return None
                    conn.execute("ROLLBACK TO one_write")
                    outcomes.append((False, Conflict(str(exc)) if isinstance(exc, sqlite3.IntegrityError) else exc))
                else:
                    outcomes.append((True, result))
                if isolated:
                    conn.execute("RELEASE one_write")
            conn.execute("COMMIT")
            self.commits += 1
            self.writes += len(batch)
        except BaseException as exc:  # noqa: BLE001 - the whole group failed to commit
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            outcomes = [(False, exc)] * len(batch)
        return outcomes


def _succeed(future: asyncio.Future[Any], value: Any) -> None:
    if not future.done():
        future.set_result(value)


def _fail(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)


def loads(text: str | bytes | None) -> Any:
    return orjson.loads(text) if text is not None else None


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode("utf-8")

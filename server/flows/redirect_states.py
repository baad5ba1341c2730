"""Redirect states: what a suspended execution needs to resume at /continue. Single use
(consumed in one conditional UPDATE), expiring, bound to the tenant, trigger and execution."""

from __future__ import annotations

import secrets
import sqlite3
import time
from typing import Any

from ..store.sqlite import SqliteStore, dumps, loads

STATE_TTL = 15 * 60.0


class RedirectStates:
    def __init__(self, store: SqliteStore, ttl: float = STATE_TTL) -> None:
        self._store = store
        self.ttl = ttl

    async def save(self, tenant: str, trigger_id: str, execution_id: str, flow_key: str, resume_index: int,
                   saved: dict[str, Any]) -> str:
        state = secrets.token_urlsafe(24)
        expires = time.time() + self.ttl
        await self._store.write(lambda conn: conn.execute(
            "INSERT INTO redirect_states (tenant_id, state, trigger_id, execution_id, flow_key, resume_index, saved, expires_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (tenant, state, trigger_id, execution_id, flow_key, resume_index, dumps(saved), expires)))
        return state

    async def consume(self, tenant: str, trigger_id: str, state: str) -> tuple[str | None, dict[str, Any] | None]:
        """(None, record) when the state was valid and is now used; (reason, None) otherwise."""
        def op(conn: sqlite3.Connection) -> tuple[str | None, dict[str, Any] | None]:
            row = conn.execute("SELECT * FROM redirect_states WHERE tenant_id = ? AND state = ?", (tenant, state)).fetchone()
            if row is None or row["trigger_id"] != trigger_id:
                return "The state is not valid for this trigger.", None
            if row["used"]:
                return "The state has already been used.", None
            if row["expires_at"] < time.time():
                return "The state has expired.", None
            if conn.execute("UPDATE redirect_states SET used = 1 WHERE tenant_id = ? AND state = ? AND used = 0",
                            (tenant, state)).rowcount != 1:
                return "The state has already been used.", None
            record = dict(row)
            record["saved"] = loads(record["saved"])
            return None, record
        return await self._store.write(op)

    async def purge(self) -> int:
        return await self._store.write(lambda conn: conn.execute(
            "DELETE FROM redirect_states WHERE expires_at < ?", (time.time() - 3600,)).rowcount)

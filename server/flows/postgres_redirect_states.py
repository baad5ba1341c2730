"""Redirect states in the PostgreSQL store: the same methods and results as RedirectStates.

Single use across nodes: consume() is one conditional UPDATE ... RETURNING (unused, not expired,
this tenant and trigger); of two nodes consuming one state at once, the second waits on the
first's row lock, then finds `used` set and updates nothing. Only when nothing was updated is
the row read again, to say why."""

from __future__ import annotations

import secrets
import time
from typing import Any

from ..store.postgres import PostgresStore, row, rowcount, without_nul
from .redirect_states import STATE_TTL


class PostgresRedirectStates:
    def __init__(self, store: PostgresStore, ttl: float = STATE_TTL) -> None:
        self._store = store
        self.ttl = ttl

    async def save(self, tenant: str, trigger_id: str, execution_id: str, flow_key: str, resume_index: int,
                   saved: dict[str, Any]) -> str:
        state = secrets.token_urlsafe(24)
        expires = time.time() + self.ttl
        await self._store.execute(
            "INSERT INTO redirect_states (tenant_id, state, trigger_id, execution_id, flow_key, resume_index, saved, expires_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            tenant, state, trigger_id, execution_id, flow_key, resume_index, without_nul(saved), expires)
        return state

    async def consume(self, tenant: str, trigger_id: str, state: str) -> tuple[str | None, dict[str, Any] | None]:
        """(None, record) when the state was valid and is now used; (reason, None) otherwise."""
        now = time.time()
        record = row(await self._store.fetchrow(
            "UPDATE redirect_states SET used = 1"
            " WHERE tenant_id = $1 AND state = $2 AND trigger_id = $3 AND used = 0 AND expires_at >= $4"
            " RETURNING *", tenant, state, trigger_id, now))
        if record is not None:
            record["used"] = 0  # as RedirectStates returns it: the row as it was when consumed
            return None, record
        found = await self._store.fetchrow(
            "SELECT trigger_id, used, expires_at FROM redirect_states WHERE tenant_id = $1 AND state = $2", tenant, state)
        if found is None or found["trigger_id"] != trigger_id:
            return "The state is not valid for this trigger.", None
        if found["used"]:
            return "The state has already been used.", None
        if found["expires_at"] < now:
            return "The state has expired.", None
        return "The state has already been used.", None

    async def purge(self) -> int:
        return rowcount(await self._store.execute(
            "DELETE FROM redirect_states WHERE expires_at < $1", time.time() - 3600))

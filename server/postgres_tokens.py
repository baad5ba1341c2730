"""Bearer tokens and tenants in the PostgreSQL store: the same methods and results as
auth.TokenStore (tokens stored as SHA-256 hashes, each belonging to one tenant)."""

from __future__ import annotations

import hmac
import uuid

from .auth import check_scopes, token_hash
from .store.postgres import PostgresStore, ts
from .timeutil import now_iso


class PostgresTokenStore:
    def __init__(self, store: PostgresStore) -> None:
        self._store = store

    async def ensure_tenant(self, tenant: str) -> bool:
        """Create the tenant if missing; True when it was created (by this call, on any node)."""
        created = await self._store.fetchval(
            "INSERT INTO tenants (id, created_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING RETURNING true",
            tenant, ts(now_iso()))
        return bool(created)

    async def add(self, tenant: str, token: str, scopes: list[str], description: str = "") -> None:
        """Store the token for the tenant; a token already stored is left as it is."""
        try:
            scope_text = " ".join(check_scopes(scopes))
        except ValueError:
            # as TokenStore: a token already stored is not checked again
            if await self._store.fetchval("SELECT true FROM tokens WHERE token_hash = $1", token_hash(token)):
                return
            raise
        await self._store.execute(
            "INSERT INTO tokens (id, tenant_id, token_hash, scopes, description, created_at) VALUES ($1, $2, $3, $4, $5, $6)"
            " ON CONFLICT (token_hash) DO NOTHING",
            str(uuid.uuid4()), tenant, token_hash(token), scope_text, description, ts(now_iso()))

    async def has_tokens(self, tenant: str) -> bool:
        return bool(await self._store.fetchval("SELECT true FROM tokens WHERE tenant_id = $1 LIMIT 1", tenant))

    async def resolve(self, token: str) -> tuple[str, frozenset[str]] | None:
        digest = token_hash(token)
        row = await self._store.fetchrow("SELECT tenant_id, token_hash, scopes FROM tokens WHERE token_hash = $1", digest)
        if row is None or not hmac.compare_digest(row["token_hash"], digest):
            return None
        return row["tenant_id"], frozenset(row["scopes"].split())

"""The deployment's token-signing keys in the PostgreSQL store, shared by every node: the same
methods and results as signing_keys.SqliteSigningKeys."""

from __future__ import annotations

import asyncpg

from .postgres import PostgresStore, iso, ts
from .signing_keys import CURRENT, PREVIOUS, StoredKey


def _key(row: asyncpg.Record | None) -> StoredKey | None:
    if row is None:
        return None
    return StoredKey(row["kid"], row["status"], row["private_key"], row["public_jwk"], iso(row["created_at"]))  # type: ignore[arg-type]


class PostgresSigningKeys:
    def __init__(self, store: PostgresStore) -> None:
        self._store = store

    async def current(self) -> StoredKey | None:
        return _key(await self._store.fetchrow("SELECT * FROM signing_keys WHERE status = $1", CURRENT))

    async def add_current(self, key: StoredKey) -> None:
        # the partial unique index on status = 'current' turns a second node's key into a no-op
        await self._store.execute(
            "INSERT INTO signing_keys (kid, status, private_key, public_jwk, created_at) VALUES ($1, $2, $3, $4, $5)"
            " ON CONFLICT DO NOTHING", key.kid, CURRENT, key.private_key, key.public_jwk, ts(key.created_at))

    async def published(self) -> list[StoredKey]:
        rows = await self._store.fetch("SELECT * FROM signing_keys WHERE status = ANY($1::text[])"
                                       " ORDER BY created_at DESC, kid", [CURRENT, PREVIOUS])
        return [_key(r) for r in rows]  # type: ignore[misc]

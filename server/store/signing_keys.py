"""The deployment's token-signing keys, in the SQLite store: each key's private half sealed
(store/secret_box.py), its public half as a JWK.

One key is `current` (signs new tokens; a partial unique index allows only one), earlier ones
may stay `previous` (still published, so tokens they signed verify until they expire). Nodes
that find no current key each try to insert theirs; the index keeps the first, and every node
then reads that one back.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any, Protocol

from .sqlite import SqliteStore, dumps, loads

CURRENT = "current"
PREVIOUS = "previous"


@dataclass(frozen=True)
class StoredKey:
    kid: str
    status: str
    private_key: str  # sealed PKCS#8 PEM
    public_jwk: dict[str, Any]
    created_at: str


class SigningKeys(Protocol):
    async def current(self) -> StoredKey | None: ...

    async def add_current(self, key: StoredKey) -> None:
        """Store `key` as the current key unless there is one already (then nothing changes)."""

    async def published(self) -> list[StoredKey]:
        """The keys whose tokens still verify: the current one and the previous ones."""


def _key(row: sqlite3.Row | None) -> StoredKey | None:
    if row is None:
        return None
    return StoredKey(row["kid"], row["status"], row["private_key"], loads(row["public_jwk"]), row["created_at"])


class SqliteSigningKeys:
    def __init__(self, store: SqliteStore) -> None:
        self._store = store

    async def current(self) -> StoredKey | None:
        return await self._store.read(lambda conn: _key(conn.execute(
            "SELECT * FROM signing_keys WHERE status = ?", (CURRENT,)).fetchone()))

    async def add_current(self, key: StoredKey) -> None:
        await self._store.write(lambda conn: conn.execute(
            "INSERT OR IGNORE INTO signing_keys (kid, status, private_key, public_jwk, created_at) VALUES (?, ?, ?, ?, ?)",
            (key.kid, CURRENT, key.private_key, dumps(key.public_jwk), key.created_at)))

    async def published(self) -> list[StoredKey]:
        return await self._store.read(lambda conn: [_key(r) for r in conn.execute(
            "SELECT * FROM signing_keys WHERE status IN (?, ?) ORDER BY created_at DESC, kid",
            (CURRENT, PREVIOUS)).fetchall()])  # type: ignore[misc]

"""Machine clients (client-credentials applications) of each tenant, in the SQLite store.

A client is stored with the SHA-256 of its secret (the secret is 48 random bytes, so a plain
hash is as strong as a slow one), its granted scopes and the id of its one client grant (the
Management API audience). `client_id` is unique across tenants: a token names only its client,
and the client names the tenant.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Protocol

from ..timeutil import now_iso
from .sqlite import SqliteStore


@dataclass(frozen=True)
class MachineClient:
    tenant: str
    client_id: str
    name: str
    description: str
    secret_hash: str
    scopes: tuple[str, ...]
    grant_id: str
    created_at: str
    updated_at: str


class MachineClients(Protocol):
    async def insert(self, client: MachineClient) -> None:
        """Store a new client; Conflict when its tenant does not exist."""

    async def get(self, client_id: str) -> MachineClient | None:
        """The client of that id, whatever its tenant (token checks start from the client)."""

    async def list_clients(self, tenant: str, page: int, per_page: int) -> tuple[list[MachineClient], int]:
        """A page of the tenant's clients, oldest first, and how many it has."""

    async def update(self, tenant: str, client_id: str, name: str | None, description: str | None,
                     scopes: tuple[str, ...] | None) -> MachineClient | None:
        """Change what is given; None when the tenant has no such client."""

    async def delete(self, tenant: str, client_id: str) -> bool:
        """True when the tenant had the client."""

    async def by_grant(self, tenant: str, grant_id: str) -> MachineClient | None:
        """The tenant's client whose grant has that id."""

    async def tenant_exists(self, tenant: str) -> bool: ...


def _client(row: sqlite3.Row | None) -> MachineClient | None:
    if row is None:
        return None
    return MachineClient(row["tenant_id"], row["client_id"], row["name"], row["description"], row["secret_hash"],
                         tuple(row["scopes"].split()), row["grant_id"], row["created_at"], row["updated_at"])


class SqliteMachineClients:
    def __init__(self, store: SqliteStore) -> None:
        self._store = store

    async def insert(self, client: MachineClient) -> None:
        await self._store.write(lambda conn: conn.execute(
            "INSERT INTO machine_clients (client_id, tenant_id, name, description, secret_hash, scopes, grant_id,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (client.client_id, client.tenant, client.name, client.description, client.secret_hash,
             " ".join(client.scopes), client.grant_id, client.created_at, client.updated_at)))

    async def get(self, client_id: str) -> MachineClient | None:
        return await self._store.read(lambda conn: _client(conn.execute(
            "SELECT * FROM machine_clients WHERE client_id = ?", (client_id,)).fetchone()))

    async def list_clients(self, tenant: str, page: int, per_page: int) -> tuple[list[MachineClient], int]:
        def op(conn: sqlite3.Connection) -> tuple[list[MachineClient], int]:
            total = conn.execute("SELECT count(*) FROM machine_clients WHERE tenant_id = ?", (tenant,)).fetchone()[0]
            rows = conn.execute("SELECT * FROM machine_clients WHERE tenant_id = ? ORDER BY created_at, client_id"
                                " LIMIT ? OFFSET ?", (tenant, per_page, page * per_page)).fetchall()
            return [_client(r) for r in rows], total  # type: ignore[misc]
        return await self._store.read(op)

    async def update(self, tenant: str, client_id: str, name: str | None, description: str | None,
                     scopes: tuple[str, ...] | None) -> MachineClient | None:
        def op(conn: sqlite3.Connection) -> MachineClient | None:
            conn.execute(
                "UPDATE machine_clients SET name = coalesce(?, name), description = coalesce(?, description),"
                " scopes = coalesce(?, scopes), updated_at = ? WHERE tenant_id = ? AND client_id = ?",
                (name, description, None if scopes is None else " ".join(scopes), now_iso(), tenant, client_id))
            return _client(conn.execute("SELECT * FROM machine_clients WHERE tenant_id = ? AND client_id = ?",
                                        (tenant, client_id)).fetchone())
        return await self._store.write(op)

    async def delete(self, tenant: str, client_id: str) -> bool:
        return await self._store.write(lambda conn: conn.execute(
            "DELETE FROM machine_clients WHERE tenant_id = ? AND client_id = ?", (tenant, client_id)).rowcount > 0)

    async def by_grant(self, tenant: str, grant_id: str) -> MachineClient | None:
        return await self._store.read(lambda conn: _client(conn.execute(
            "SELECT * FROM machine_clients WHERE tenant_id = ? AND grant_id = ?", (tenant, grant_id)).fetchone()))

    async def tenant_exists(self, tenant: str) -> bool:
        return bool(await self._store.read(
            lambda conn: conn.execute("SELECT 1 FROM tenants WHERE id = ?", (tenant,)).fetchone()))

"""Machine clients in the PostgreSQL store: the same methods and results as
machine_clients.SqliteMachineClients, shared by every node."""

from __future__ import annotations

import asyncpg

from ..timeutil import now_iso
from .machine_clients import MachineClient
from .postgres import PostgresStore, iso, rowcount, ts


def _client(row: asyncpg.Record | None) -> MachineClient | None:
    if row is None:
        return None
    return MachineClient(row["tenant_id"], row["client_id"], row["name"], row["description"], row["secret_hash"],
                         tuple(row["scopes"].split()), row["grant_id"], iso(row["created_at"]),  # type: ignore[arg-type]
                         iso(row["updated_at"]))  # type: ignore[arg-type]


class PostgresMachineClients:
    def __init__(self, store: PostgresStore) -> None:
        self._store = store

    async def insert(self, client: MachineClient) -> None:
        await self._store.execute(
            "INSERT INTO machine_clients (client_id, tenant_id, name, description, secret_hash, scopes, grant_id,"
            " created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            client.client_id, client.tenant, client.name, client.description, client.secret_hash,
            " ".join(client.scopes), client.grant_id, ts(client.created_at), ts(client.updated_at))

    async def get(self, client_id: str) -> MachineClient | None:
        return _client(await self._store.fetchrow("SELECT * FROM machine_clients WHERE client_id = $1", client_id))

    async def list_clients(self, tenant: str, page: int, per_page: int) -> tuple[list[MachineClient], int]:
        async with self._store.transaction(readonly=True, isolation="repeatable_read") as conn:
            total = await conn.fetchval("SELECT count(*) FROM machine_clients WHERE tenant_id = $1", tenant)
            rows = await conn.fetch("SELECT * FROM machine_clients WHERE tenant_id = $1 ORDER BY created_at, client_id"
                                    " LIMIT $2 OFFSET $3", tenant, per_page, page * per_page)
        return [_client(r) for r in rows], total  # type: ignore[misc]

    async def update(self, tenant: str, client_id: str, name: str | None, description: str | None,
                     scopes: tuple[str, ...] | None) -> MachineClient | None:
        return _client(await self._store.fetchrow(
            "UPDATE machine_clients SET name = coalesce($3, name), description = coalesce($4, description),"
            " scopes = coalesce($5, scopes), updated_at = $6 WHERE tenant_id = $1 AND client_id = $2 RETURNING *",
            tenant, client_id, name, description, None if scopes is None else " ".join(scopes), ts(now_iso())))

    async def delete(self, tenant: str, client_id: str) -> bool:
        return rowcount(await self._store.execute(
            "DELETE FROM machine_clients WHERE tenant_id = $1 AND client_id = $2", tenant, client_id)) > 0

    async def by_grant(self, tenant: str, grant_id: str) -> MachineClient | None:
        return _client(await self._store.fetchrow(
            "SELECT * FROM machine_clients WHERE tenant_id = $1 AND grant_id = $2", tenant, grant_id))

    async def tenant_exists(self, tenant: str) -> bool:
        return bool(await self._store.fetchval("SELECT true FROM tenants WHERE id = $1", tenant))

"""Roles and their assignments in the PostgreSQL store: the same methods and results as
roles.SqliteRoles. Assigning is one INSERT ... SELECT of the roles that exist, inside a
transaction that first counts them, so an assignment naming an unknown role changes nothing."""

from __future__ import annotations

from typing import Any

from ..timeutil import now_iso
from .postgres import PostgresStore, rowcount, ts
from .roles import new_role_id, role_of


class PostgresRoles:
    def __init__(self, store: PostgresStore) -> None:
        self._store = store

    async def create(self, tenant: str, name: str, description: str) -> dict[str, Any]:
        role = {"id": new_role_id(), "name": name, "description": description}
        await self._store.execute("INSERT INTO roles (tenant_id, id, name, description, created_at) VALUES ($1, $2, $3, $4, $5)",
                                  tenant, role["id"], name, description, ts(now_iso()))
        return role

    async def get(self, tenant: str, role_id: str) -> dict[str, Any] | None:
        return role_of(await self._store.fetchrow("SELECT * FROM roles WHERE tenant_id = $1 AND id = $2", tenant, role_id))

    async def list_roles(self, tenant: str, page: int, per_page: int,
                         name_filter: str | None) -> tuple[list[dict[str, Any]], int]:
        where, args = "tenant_id = $1", [tenant]
        if name_filter:
            args.append(name_filter)
            where += f" AND strpos(lower(name), lower(${len(args)})) > 0"
        n = len(args)
        async with self._store.transaction(readonly=True, isolation="repeatable_read") as conn:
            total = await conn.fetchval(f"SELECT count(*) FROM roles WHERE {where}", *args)
            rows = await conn.fetch(f"SELECT * FROM roles WHERE {where} ORDER BY created_at, id LIMIT ${n + 1} OFFSET ${n + 2}",
                                    *args, per_page, page * per_page)
        return [role_of(r) for r in rows], total  # type: ignore[misc]

    async def update(self, tenant: str, role_id: str, name: str | None, description: str | None) -> dict[str, Any] | None:
        return role_of(await self._store.fetchrow(
            "UPDATE roles SET name = coalesce($3, name), description = coalesce($4, description)"
            " WHERE tenant_id = $1 AND id = $2 RETURNING *", tenant, role_id, name, description))

    async def delete(self, tenant: str, role_id: str) -> bool:
        async with self._store.transaction() as conn:
            await conn.execute("DELETE FROM user_roles WHERE tenant_id = $1 AND role_id = $2", tenant, role_id)
            return rowcount(await conn.execute("DELETE FROM roles WHERE tenant_id = $1 AND id = $2", tenant, role_id)) > 0

    async def assign(self, tenant: str, user_id: str, role_ids: list[str]) -> list[str]:
        if not role_ids:
            return []
        async with self._store.transaction() as conn:
            # FOR SHARE: a role deleted meanwhile waits for this assignment (and then takes it away)
            known = {r["id"] for r in await conn.fetch(
                "SELECT id FROM roles WHERE tenant_id = $1 AND id = ANY($2::text[]) FOR SHARE", tenant, role_ids)}
            missing = [r for r in role_ids if r not in known]
            if missing:
                return missing
            await conn.execute(
                "INSERT INTO user_roles (tenant_id, user_id, role_id, created_at)"
                " SELECT $1, $2, unnest($3::text[]), $4 ON CONFLICT DO NOTHING",
                tenant, user_id, list(dict.fromkeys(role_ids)), ts(now_iso()))
        return []

    async def unassign(self, tenant: str, user_id: str, role_ids: list[str]) -> None:
        if role_ids:
            await self._store.execute("DELETE FROM user_roles WHERE tenant_id = $1 AND user_id = $2 AND role_id = ANY($3::text[])",
                                      tenant, user_id, role_ids)

    async def of_user(self, tenant: str, user_id: str, page: int, per_page: int) -> tuple[list[dict[str, Any]], int]:
        async with self._store.transaction(readonly=True, isolation="repeatable_read") as conn:
            total = await conn.fetchval("SELECT count(*) FROM user_roles WHERE tenant_id = $1 AND user_id = $2", tenant, user_id)
            rows = await conn.fetch(
                "SELECT r.* FROM user_roles u JOIN roles r ON r.tenant_id = u.tenant_id AND r.id = u.role_id"
                " WHERE u.tenant_id = $1 AND u.user_id = $2 ORDER BY r.name COLLATE \"C\", r.id LIMIT $3 OFFSET $4",
                tenant, user_id, per_page, page * per_page)
        return [role_of(r) for r in rows], total  # type: ignore[misc]

    async def names_of_user(self, tenant: str, user_id: str) -> list[str]:
        rows = await self._store.fetch(
            "SELECT r.name FROM user_roles u JOIN roles r ON r.tenant_id = u.tenant_id AND r.id = u.role_id"
            " WHERE u.tenant_id = $1 AND u.user_id = $2 ORDER BY r.name COLLATE \"C\"", tenant, user_id)
        return [r["name"] for r in rows]

    async def tenant_has_roles(self, tenant: str) -> bool:
        return bool(await self._store.fetchval("SELECT true FROM roles WHERE tenant_id = $1 LIMIT 1", tenant))

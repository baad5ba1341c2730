"""Roles of each tenant and the users they are assigned to, in the SQLite store.

A role is `{id: "rol_...", name, description}`, its name unique within the tenant. An
assignment is (user_id, role_id); deleting a role deletes its assignments in the same
transaction. Users live in the profile store, so an assignment does not reference them: callers
check the user exists first.
"""

from __future__ import annotations

import secrets
import sqlite3
import string
from typing import Any, Protocol

from ..timeutil import now_iso
from .sqlite import SqliteStore

_ALPHABET = string.ascii_letters + string.digits


def new_role_id() -> str:
    return "rol_" + "".join(secrets.choice(_ALPHABET) for _ in range(16))


def role_of(row: Any) -> dict[str, Any] | None:
    if row is None:
        return None
    return {"id": row["id"], "name": row["name"], "description": row["description"]}


class Roles(Protocol):
    async def create(self, tenant: str, name: str, description: str) -> dict[str, Any]:
        """The new role; Conflict when the tenant has one of that name."""

    async def get(self, tenant: str, role_id: str) -> dict[str, Any] | None: ...

    async def list_roles(self, tenant: str, page: int, per_page: int,
                         name_filter: str | None) -> tuple[list[dict[str, Any]], int]:
        """A page of roles, oldest first (name_filter: case-insensitive substring of the name)."""

    async def update(self, tenant: str, role_id: str, name: str | None, description: str | None) -> dict[str, Any] | None:
        """Change what is given; None when there is no such role; Conflict when the name is taken."""

    async def delete(self, tenant: str, role_id: str) -> bool: ...

    async def assign(self, tenant: str, user_id: str, role_ids: list[str]) -> list[str]:
        """Assign every role, or none: returns the ids the tenant has no role of (nothing changed then)."""

    async def unassign(self, tenant: str, user_id: str, role_ids: list[str]) -> None: ...

    async def of_user(self, tenant: str, user_id: str, page: int, per_page: int) -> tuple[list[dict[str, Any]], int]:
        """A page of the user's roles, by name."""

    async def names_of_user(self, tenant: str, user_id: str) -> list[str]:
        """The names of every role of the user, sorted (what post-login sees in event.authorization.roles)."""

    async def tenant_has_roles(self, tenant: str) -> bool: ...


class SqliteRoles:
    def __init__(self, store: SqliteStore) -> None:
        self._store = store

    async def create(self, tenant: str, name: str, description: str) -> dict[str, Any]:
        role = {"id": new_role_id(), "name": name, "description": description}
        await self._store.write(lambda conn: conn.execute(
            "INSERT INTO roles (tenant_id, id, name, description, created_at) VALUES (?, ?, ?, ?, ?)",
            (tenant, role["id"], name, description, now_iso())))
        return role

    async def get(self, tenant: str, role_id: str) -> dict[str, Any] | None:
        return await self._store.read(lambda conn: role_of(conn.execute(
            "SELECT * FROM roles WHERE tenant_id = ? AND id = ?", (tenant, role_id)).fetchone()))

    async def list_roles(self, tenant: str, page: int, per_page: int,
                         name_filter: str | None) -> tuple[list[dict[str, Any]], int]:
        where, args = "tenant_id = ?", [tenant]
        if name_filter:
            where += " AND instr(lower(name), lower(?)) > 0"
            args.append(name_filter)

        def op(conn: sqlite3.Connection) -> tuple[list[dict[str, Any]], int]:
            total = conn.execute(f"SELECT count(*) FROM roles WHERE {where}", args).fetchone()[0]
            rows = conn.execute(f"SELECT * FROM roles WHERE {where} ORDER BY created_at, id LIMIT ? OFFSET ?",
                                [*args, per_page, page * per_page]).fetchall()
            return [role_of(r) for r in rows], total  # type: ignore[misc]
        return await self._store.read(op)

    async def update(self, tenant: str, role_id: str, name: str | None, description: str | None) -> dict[str, Any] | None:
        def op(conn: sqlite3.Connection) -> dict[str, Any] | None:
            conn.execute("UPDATE roles SET name = coalesce(?, name), description = coalesce(?, description)"
                         " WHERE tenant_id = ? AND id = ?", (name, description, tenant, role_id))
            return role_of(conn.execute("SELECT * FROM roles WHERE tenant_id = ? AND id = ?", (tenant, role_id)).fetchone())
        return await self._store.write(op)

    async def delete(self, tenant: str, role_id: str) -> bool:
        def op(conn: sqlite3.Connection) -> bool:
            conn.execute("DELETE FROM user_roles WHERE tenant_id = ? AND role_id = ?", (tenant, role_id))
            return conn.execute("DELETE FROM roles WHERE tenant_id = ? AND id = ?", (tenant, role_id)).rowcount > 0
        return await self._store.write(op)

    async def assign(self, tenant: str, user_id: str, role_ids: list[str]) -> list[str]:
        def op(conn: sqlite3.Connection) -> list[str]:
            known = {r[0] for r in conn.execute(
                f"SELECT id FROM roles WHERE tenant_id = ? AND id IN ({','.join('?' * len(role_ids))})",
                [tenant, *role_ids])}
            missing = [r for r in role_ids if r not in known]
            if missing:
                return missing
            now = now_iso()
            conn.executemany("INSERT OR IGNORE INTO user_roles (tenant_id, user_id, role_id, created_at) VALUES (?, ?, ?, ?)",
                             [(tenant, user_id, r, now) for r in role_ids])
            return []
        return await self._store.write(op) if role_ids else []

    async def unassign(self, tenant: str, user_id: str, role_ids: list[str]) -> None:
        if role_ids:
            await self._store.write(lambda conn: conn.executemany(
                "DELETE FROM user_roles WHERE tenant_id = ? AND user_id = ? AND role_id = ?",
                [(tenant, user_id, r) for r in role_ids]))

    async def of_user(self, tenant: str, user_id: str, page: int, per_page: int) -> tuple[list[dict[str, Any]], int]:
        def op(conn: sqlite3.Connection) -> tuple[list[dict[str, Any]], int]:
            total = conn.execute("SELECT count(*) FROM user_roles WHERE tenant_id = ? AND user_id = ?",
                                 (tenant, user_id)).fetchone()[0]
            rows = conn.execute(
                "SELECT r.* FROM user_roles u JOIN roles r ON r.tenant_id = u.tenant_id AND r.id = u.role_id"
                " WHERE u.tenant_id = ? AND u.user_id = ? ORDER BY r.name, r.id LIMIT ? OFFSET ?",
                (tenant, user_id, per_page, page * per_page)).fetchall()
            return [role_of(r) for r in rows], total  # type: ignore[misc]
        return await self._store.read(op)

    async def names_of_user(self, tenant: str, user_id: str) -> list[str]:
        return await self._store.read(lambda conn: [r[0] for r in conn.execute(
            "SELECT r.name FROM user_roles u JOIN roles r ON r.tenant_id = u.tenant_id AND r.id = u.role_id"
            " WHERE u.tenant_id = ? AND u.user_id = ? ORDER BY r.name", (tenant, user_id))])

    async def tenant_has_roles(self, tenant: str) -> bool:
        return bool(await self._store.read(
            lambda conn: conn.execute("SELECT 1 FROM roles WHERE tenant_id = ? LIMIT 1", (tenant,)).fetchone()))

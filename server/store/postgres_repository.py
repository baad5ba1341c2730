"""Actions, versions, bindings and executions of a tenant, as SQL over the PostgreSQL store: the
same public methods, arguments and results as store/repository.py (Repository).

Each method that changes several rows is one transaction. Across nodes:
- update_action, delete_action and deploy lock the action's row (SELECT ... FOR UPDATE), so two
  deploys of one action never compute the same version number;
- replace_bindings first takes a transaction-scoped advisory lock on (tenant, trigger), so
  concurrent replacements of one trigger's list run one after the other and the list ends as
  exactly one of them left it (an empty list has no rows that a row lock could hold).
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from ..timeutil import now_iso
from .postgres import NotBuilt, PostgresStore, row, rowcount, ts, without_nul

def _action(record: asyncpg.Record | None) -> dict[str, Any] | None:
    return row(record)


# bindings -> actions -> deployed versions of one (tenant, trigger), in binding order
FLOW_QUERY = (
    "SELECT a.id AS action_id, a.name, v.id AS version_id, v.code, v.secrets, v.tree FROM bindings b"
    " JOIN actions a ON a.tenant_id = b.tenant_id AND a.id = b.action_id"
    " JOIN action_versions v ON v.tenant_id = a.tenant_id AND v.action_id = a.id AND v.id = a.deployed_version_id"
    " WHERE b.tenant_id = $1 AND b.trigger_id = $2 ORDER BY b.position")


def _bindings_lock_key(tenant: str, trigger_id: str) -> str:
    # \x1f (unit separator) between the parts: ("a", "bc") and ("ab", "c") lock different keys
    return f"actionhost.bindings\x1f{tenant}\x1f{trigger_id}"


# (tenant_id, key) of every package in a tree of a draft or a version
_USED_TARBALLS = (
    "SELECT a.tenant_id, p.value->>'key' AS key FROM actions a, jsonb_each(a.tree->'packages') p WHERE a.tree IS NOT NULL"
    " UNION SELECT v.tenant_id, p.value->>'key' FROM action_versions v, jsonb_each(v.tree->'packages') p WHERE v.tree IS NOT NULL")


class PostgresRepository:
    def __init__(self, store: PostgresStore) -> None:
        self._store = store

    # -- actions -----------------------------------------------------------------------

    async def list_actions(self, tenant: str, trigger_id: str | None, name: str | None, deployed: bool | None,
                           page: int, per_page: int) -> tuple[list[dict[str, Any]], int]:
        args: list[Any] = [tenant]
        where = ["tenant_id = $1"]
        if name is not None:
            args.append(name)
            where.append(f"name = ${len(args)}")
        if deployed is not None:
            where.append("deployed_version_id IS NOT NULL" if deployed else "deployed_version_id IS NULL")
        if trigger_id is not None:
            args.append([{"id": trigger_id}])
            where.append(f"supported_triggers @> ${len(args)}::jsonb")
        clause = " AND ".join(where)
        n = len(args)
        # one snapshot for the count and the page
        async with self._store.transaction(readonly=True, isolation="repeatable_read") as conn:
            total = await conn.fetchval(f"SELECT count(*) FROM actions WHERE {clause}", *args)
            rows = await conn.fetch(
                f"SELECT * FROM actions WHERE {clause} ORDER BY created_at, id LIMIT ${n + 1} OFFSET ${n + 2}",
                *args, per_page, page * per_page)
        return [_action(r) for r in rows], total  # type: ignore[misc]

    async def get_action(self, tenant: str, action_id: str) -> dict[str, Any] | None:
        return _action(await self._store.fetchrow("SELECT * FROM actions WHERE tenant_id = $1 AND id = $2", tenant, action_id))

    async def action_by_name(self, tenant: str, name: str) -> dict[str, Any] | None:
        return _action(await self._store.fetchrow("SELECT * FROM actions WHERE tenant_id = $1 AND name = $2", tenant, name))

    async def insert_action(self, tenant: str, fields: dict[str, Any]) -> dict[str, Any]:
        now = now_iso()
        row_ = {
            "tenant_id": tenant, "id": str(uuid.uuid4()), "created_at": now, "updated_at": now,
            "deployed_version_id": None, "tree": None, **fields,
        }
        await self._store.execute(
            "INSERT INTO actions (tenant_id, id, name, supported_triggers, code, dependencies, runtime, secrets,"
            " status, errors, created_at, updated_at, built_at, deployed_version_id, tree)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12, NULL, $13)",
            tenant, row_["id"], row_["name"], row_["supported_triggers"], row_["code"], row_["dependencies"],
            row_["runtime"], row_["secrets"], row_["status"], row_["errors"], ts(now), ts(row_["built_at"]), row_["tree"])
        return row_

    async def update_action(self, tenant: str, action_id: str, fields: dict[str, Any]) -> dict[str, Any] | None:
        async with self._store.transaction() as conn:
            current = _action(await conn.fetchrow(
                "SELECT * FROM actions WHERE tenant_id = $1 AND id = $2 FOR UPDATE", tenant, action_id))
            if current is None:
                return None
            merged = {**current, **fields, "updated_at": now_iso()}
            await conn.execute(
                "UPDATE actions SET name = $1, supported_triggers = $2, code = $3, dependencies = $4, runtime = $5,"
                " secrets = $6, status = $7, errors = $8, built_at = $9, updated_at = $10, tree = $13"
                " WHERE tenant_id = $11 AND id = $12",
                merged["name"], merged["supported_triggers"], merged["code"], merged["dependencies"], merged["runtime"],
                merged["secrets"], merged["status"], merged["errors"], ts(merged["built_at"]), ts(merged["updated_at"]),
                tenant, action_id, merged["tree"])
            return merged

    async def finish_build(self, tenant: str, action_id: str, code: str, dependencies: list[dict[str, str]],
                           fields: dict[str, Any]) -> dict[str, Any] | None:
        """As Repository.finish_build: only if the draft still has that code and those dependencies."""
        async with self._store.transaction() as conn:
            current = _action(await conn.fetchrow(
                "SELECT * FROM actions WHERE tenant_id = $1 AND id = $2 FOR UPDATE", tenant, action_id))
            if current is None or current["code"] != code or current["dependencies"] != dependencies:
                return None
            merged = {**current, **fields}
            await conn.execute("UPDATE actions SET status = $1, errors = $2, built_at = $3, tree = $4 WHERE tenant_id = $5 AND id = $6",
                               merged["status"], merged["errors"], ts(merged["built_at"]), merged["tree"], tenant, action_id)
            return merged

    async def pending_builds(self) -> list[tuple[str, str]]:
        records = await self._store.fetch("SELECT tenant_id, id FROM actions WHERE status = 'pending' ORDER BY tenant_id, id")
        return [(r["tenant_id"], r["id"]) for r in records]

    async def put_tarball(self, tenant: str, key: str, data: bytes) -> None:
        # a row a build uses again is fresh again: prune_tarballs spares it until its tree lands
        await self._store.execute(
            "INSERT INTO npm_tarballs (tenant_id, key, data, created_at) VALUES ($1, $2, $3, now())"
            " ON CONFLICT (tenant_id, key) DO UPDATE SET created_at = now()", tenant, key, data)

    async def prune_tarballs(self, stored_before: str) -> int:
        """Delete the tarballs stored before `stored_before` that no draft or version of their
        tenant names in its tree; how many went."""
        status = await self._store.execute(f"""
            WITH used AS ({_USED_TARBALLS})
            DELETE FROM npm_tarballs t WHERE t.created_at < $1
              AND NOT EXISTS (SELECT 1 FROM used u WHERE u.tenant_id = t.tenant_id AND u.key = t.key)""", ts(stored_before))
        return rowcount(status)

    async def tarball_keys_in_use(self) -> set[str]:
        """Every tarball key a draft or version of any tenant names (for the package cache)."""
        return {r["key"] for r in await self._store.fetch(f"SELECT DISTINCT key FROM ({_USED_TARBALLS}) used")}

    async def get_tarball(self, tenant: str, key: str) -> bytes | None:
        return await self._store.fetchval("SELECT data FROM npm_tarballs WHERE tenant_id = $1 AND key = $2", tenant, key)

    async def delete_action(self, tenant: str, action_id: str, force: bool) -> str:
        """'deleted', 'missing' or 'bound' (bound and not forced: nothing changed)."""
        async with self._store.transaction() as conn:
            if await conn.fetchval("SELECT 1 FROM actions WHERE tenant_id = $1 AND id = $2 FOR UPDATE", tenant, action_id) is None:
                return "missing"
            bound = await conn.fetchval("SELECT 1 FROM bindings WHERE tenant_id = $1 AND action_id = $2 LIMIT 1", tenant, action_id)
            if bound is not None and not force:
                return "bound"
            await conn.execute("DELETE FROM bindings WHERE tenant_id = $1 AND action_id = $2", tenant, action_id)
            await conn.execute("DELETE FROM action_versions WHERE tenant_id = $1 AND action_id = $2", tenant, action_id)
            await conn.execute("DELETE FROM actions WHERE tenant_id = $1 AND id = $2", tenant, action_id)
            return "deleted"

    # -- versions ----------------------------------------------------------------------

    async def deploy(self, tenant: str, action_id: str, source: dict[str, Any] | None, keep: int,
                     update_draft: bool = False) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """Create version number+1 from `source` (an older version; None: the draft as stored
        now, which must have built, else NotBuilt), make it the deployed one, and prune to `keep`
        versions (never the deployed one). Returns (version, action) or None when the action is
        gone."""
        async with self._store.transaction() as conn:
            action = _action(await conn.fetchrow(
                "SELECT * FROM actions WHERE tenant_id = $1 AND id = $2 FOR UPDATE", tenant, action_id))
            if action is None:
                return None
            if source is None and action["status"] != "built":
                raise NotBuilt(action["status"], action["errors"])
            origin = action if source is None else source
            number = await conn.fetchval(
                "SELECT coalesce(max(number), 0) + 1 FROM action_versions WHERE tenant_id = $1 AND action_id = $2",
                tenant, action_id)
            now = now_iso()
            version = {
                "id": str(uuid.uuid4()), "action_id": action_id, "number": number,
                "code": origin["code"], "dependencies": origin["dependencies"], "runtime": origin["runtime"],
                "secrets": origin["secrets"], "supported_triggers": origin["supported_triggers"], "tree": origin.get("tree"),
                "status": "built", "errors": [], "created_at": now, "updated_at": now, "built_at": now,
            }
            await conn.execute(
                "INSERT INTO action_versions (tenant_id, id, action_id, number, code, dependencies, runtime, secrets,"
                " supported_triggers, status, errors, created_at, updated_at, built_at, tree)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'built', '[]', $10, $10, $10, $11)",
                tenant, version["id"], action_id, number, version["code"], version["dependencies"], version["runtime"],
                version["secrets"], version["supported_triggers"], ts(now), version["tree"])
            action["deployed_version_id"] = version["id"]
            action["updated_at"] = now
            if update_draft:
                for key in ("code", "dependencies", "runtime", "secrets", "supported_triggers"):
                    action[key] = origin[key]
                action["tree"] = origin.get("tree")
                action["status"], action["errors"], action["built_at"] = "built", [], now
            await conn.execute(
                "UPDATE actions SET deployed_version_id = $1, updated_at = $2, code = $3, dependencies = $4, runtime = $5,"
                " secrets = $6, supported_triggers = $7, status = $8, errors = $9, built_at = $10, tree = $13"
                " WHERE tenant_id = $11 AND id = $12",
                version["id"], ts(now), action["code"], action["dependencies"], action["runtime"], action["secrets"],
                action["supported_triggers"], action["status"], action["errors"], ts(action["built_at"]), tenant, action_id,
                action["tree"])
            await conn.execute(
                "DELETE FROM action_versions WHERE tenant_id = $1 AND action_id = $2 AND id <> $3 AND id NOT IN ("
                " SELECT id FROM action_versions WHERE tenant_id = $1 AND action_id = $2 ORDER BY number DESC LIMIT $4)",
                tenant, action_id, version["id"], keep)
            return version, action

    async def list_versions(self, tenant: str, action_id: str, page: int, per_page: int) -> tuple[list[dict[str, Any]], int]:
        async with self._store.transaction(readonly=True, isolation="repeatable_read") as conn:
            total = await conn.fetchval("SELECT count(*) FROM action_versions WHERE tenant_id = $1 AND action_id = $2",
                                        tenant, action_id)
            rows = await conn.fetch(
                "SELECT * FROM action_versions WHERE tenant_id = $1 AND action_id = $2 ORDER BY number DESC LIMIT $3 OFFSET $4",
                tenant, action_id, per_page, page * per_page)
        return [_action(r) for r in rows], total  # type: ignore[misc]

    async def get_version(self, tenant: str, action_id: str, version_id: str) -> dict[str, Any] | None:
        return _action(await self._store.fetchrow(
            "SELECT * FROM action_versions WHERE tenant_id = $1 AND action_id = $2 AND id = $3", tenant, action_id, version_id))

    # -- bindings ----------------------------------------------------------------------

    async def bindings(self, tenant: str, trigger_id: str) -> list[dict[str, Any]]:
        """The trigger's bindings in execution order, each with its action row."""
        rows = await self._store.fetch(
            "SELECT b.id AS binding_id, b.trigger_id, b.display_name, b.created_at AS b_created, b.updated_at AS b_updated,"
            " a.* FROM bindings b JOIN actions a ON a.tenant_id = b.tenant_id AND a.id = b.action_id"
            " WHERE b.tenant_id = $1 AND b.trigger_id = $2 ORDER BY b.position", tenant, trigger_id)
        out = []
        for r in rows:
            d = row(r)
            assert d is not None
            binding = {"id": d.pop("binding_id"), "trigger_id": d.pop("trigger_id"), "display_name": d.pop("display_name"),
                       "created_at": d.pop("b_created"), "updated_at": d.pop("b_updated")}
            binding["action"] = d
            out.append(binding)
        return out

    async def deployed_flow(self, tenant: str, trigger_id: str) -> list[dict[str, Any]]:
        """What the trigger runs, in one read: per binding in order, the action's name and id and
        its deployed version's id, code and (sealed) secrets."""
        return [dict(r) for r in await self._store.fetch(FLOW_QUERY, tenant, trigger_id)]

    async def replace_bindings(self, tenant: str, trigger_id: str, wanted: list[tuple[str, str]]) -> None:
        """Make the trigger's bindings exactly `wanted` [(action_id, display_name)] in order,
        keeping the id of a binding whose action stays bound."""
        async with self._store.transaction() as conn:
            # serializes replacements of this (tenant, trigger) across nodes until COMMIT; the
            # reads below then see the list the previous holder committed
            await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", _bindings_lock_key(tenant, trigger_id))
            existing = {r["action_id"]: r for r in await conn.fetch(
                "SELECT id, action_id, created_at FROM bindings WHERE tenant_id = $1 AND trigger_id = $2", tenant, trigger_id)}
            await conn.execute("DELETE FROM bindings WHERE tenant_id = $1 AND trigger_id = $2", tenant, trigger_id)
            if not wanted:
                return
            now = ts(now_iso())
            rows = []
            for position, (action_id, display_name) in enumerate(wanted):
                old = existing.get(action_id)
                rows.append((tenant, old["id"] if old else str(uuid.uuid4()), trigger_id, action_id, position, display_name,
                             old["created_at"] if old else now, now))
            await conn.executemany(
                "INSERT INTO bindings (tenant_id, id, trigger_id, action_id, position, display_name, created_at, updated_at)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", rows)

    async def binding_action(self, tenant: str, binding_id: str) -> str | None:
        return await self._store.fetchval(
            "SELECT action_id FROM bindings WHERE tenant_id = $1 AND id = $2", tenant, binding_id)

    # -- executions --------------------------------------------------------------------

    async def insert_executions(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        async with self._store.transaction() as conn:
            await conn.executemany(
                "INSERT INTO executions (tenant_id, id, trigger_id, status, results, created_at, updated_at)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (tenant_id, id) DO UPDATE SET"
                " trigger_id = EXCLUDED.trigger_id, status = EXCLUDED.status, results = EXCLUDED.results,"
                " created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at",
                [(r["tenant_id"], r["id"], r["trigger_id"], r["status"], without_nul(r["results"]), ts(r["created_at"]),
                  ts(r["updated_at"]))
                 for r in rows])

    async def get_execution(self, tenant: str, execution_id: str) -> dict[str, Any] | None:
        out = row(await self._store.fetchrow(
            "SELECT * FROM executions WHERE tenant_id = $1 AND id = $2", tenant, execution_id))
        if out is None:
            return None
        out.pop("tenant_id")
        return out

    async def purge_executions(self, before_iso: str) -> int:
        return rowcount(await self._store.execute("DELETE FROM executions WHERE created_at < $1", ts(before_iso)))

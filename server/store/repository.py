"""Actions, versions, bindings and executions of a tenant, as SQL over the SQLite store.

Each public method is one store call (one transaction when it writes), so a multi-row change
such as replacing a trigger's bindings is all-or-nothing and never interleaves with another.
"""

from __future__ import annotations

import sqlite3
import uuid
from typing import Any

from ..timeutil import now_iso
from .sqlite import NotBuilt, SqliteStore, dumps, loads

_ACTION_JSON = ("supported_triggers", "dependencies", "secrets", "errors")


# bindings -> actions -> deployed versions of one (tenant, trigger), in binding order
FLOW_QUERY = (
    "SELECT a.id AS action_id, a.name, v.id AS version_id, v.code, v.secrets, v.tree FROM bindings b"
    " JOIN actions a ON a.tenant_id = b.tenant_id AND a.id = b.action_id"
    " JOIN action_versions v ON v.tenant_id = a.tenant_id AND v.action_id = a.id AND v.id = a.deployed_version_id"
    " WHERE b.tenant_id = ? AND b.trigger_id = ? ORDER BY b.position")


def _action(row: sqlite3.Row | None) -> dict[str, Any] | None:
    if row is None:
        return None
    out = dict(row)
    for key in _ACTION_JSON:
        out[key] = loads(out[key])
    if "tree" in out:  # (NULL: no dependencies)
        out["tree"] = loads(out["tree"]) if out["tree"] is not None else None
    return out


# (tenant_id, key) of every package in a tree of a draft or a version
_USED_TARBALLS = (
    "SELECT a.tenant_id AS tenant_id, json_extract(p.value, '$.key') AS key FROM actions a, json_each(a.tree, '$.packages') p"
    " WHERE a.tree IS NOT NULL UNION SELECT v.tenant_id, json_extract(p.value, '$.key') FROM action_versions v,"
    " json_each(v.tree, '$.packages') p WHERE v.tree IS NOT NULL")


def _tree(tree: dict[str, Any] | None) -> str | None:
    return None if tree is None else dumps(tree)


class Repository:
    def __init__(self, store: SqliteStore) -> None:
        self._store = store

    # -- actions -----------------------------------------------------------------------

    async def list_actions(self, tenant: str, trigger_id: str | None, name: str | None, deployed: bool | None,
                           page: int, per_page: int) -> tuple[list[dict[str, Any]], int]:
        where = ["tenant_id = ?"]
        args: list[Any] = [tenant]
        if name is not None:
            where.append("name = ?")
            args.append(name)
        if deployed is not None:
            where.append("deployed_version_id IS NOT NULL" if deployed else "deployed_version_id IS NULL")
        if trigger_id is not None:
            where.append("EXISTS (SELECT 1 FROM json_each(actions.supported_triggers) WHERE json_extract(value, '$.id') = ?)")
            args.append(trigger_id)
        clause = " AND ".join(where)

        def op(conn: sqlite3.Connection) -> tuple[list[dict[str, Any]], int]:
            total = conn.execute(f"SELECT count(*) FROM actions WHERE {clause}", args).fetchone()[0]
            rows = conn.execute(
                f"SELECT * FROM actions WHERE {clause} ORDER BY created_at, id LIMIT ? OFFSET ?",
                [*args, per_page, page * per_page],
            ).fetchall()
            return [_action(r) for r in rows], total  # type: ignore[misc]
        return await self._store.read(op)

    async def get_action(self, tenant: str, action_id: str) -> dict[str, Any] | None:
        return await self._store.read(lambda conn: _action(conn.execute(
            "SELECT * FROM actions WHERE tenant_id = ? AND id = ?", (tenant, action_id)).fetchone()))

    async def action_by_name(self, tenant: str, name: str) -> dict[str, Any] | None:
        return await self._store.read(lambda conn: _action(conn.execute(
            "SELECT * FROM actions WHERE tenant_id = ? AND name = ?", (tenant, name)).fetchone()))

    async def insert_action(self, tenant: str, fields: dict[str, Any]) -> dict[str, Any]:
        now = now_iso()
        row = {
            "tenant_id": tenant, "id": str(uuid.uuid4()), "created_at": now, "updated_at": now,
            "deployed_version_id": None, "tree": None, **fields,
        }

        def op(conn: sqlite3.Connection) -> dict[str, Any]:
            conn.execute(
                "INSERT INTO actions (tenant_id, id, name, supported_triggers, code, dependencies, runtime, secrets,"
                " status, errors, created_at, updated_at, built_at, deployed_version_id, tree)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (tenant, row["id"], row["name"], dumps(row["supported_triggers"]), row["code"], dumps(row["dependencies"]),
                 row["runtime"], dumps(row["secrets"]), row["status"], dumps(row["errors"]), now, now, row["built_at"], None,
                 _tree(row.get("tree"))),
            )
            return row
        return await self._store.write(op)

    async def update_action(self, tenant: str, action_id: str, fields: dict[str, Any]) -> dict[str, Any] | None:
        def op(conn: sqlite3.Connection) -> dict[str, Any] | None:
            current = _action(conn.execute("SELECT * FROM actions WHERE tenant_id = ? AND id = ?", (tenant, action_id)).fetchone())
            if current is None:
                return None
            merged = {**current, **fields, "updated_at": now_iso()}
            conn.execute(
                "UPDATE actions SET name = ?, supported_triggers = ?, code = ?, dependencies = ?, runtime = ?, secrets = ?,"
                " status = ?, errors = ?, built_at = ?, updated_at = ?, tree = ? WHERE tenant_id = ? AND id = ?",
                (merged["name"], dumps(merged["supported_triggers"]), merged["code"], dumps(merged["dependencies"]),
                 merged["runtime"], dumps(merged["secrets"]), merged["status"], dumps(merged["errors"]),
                 merged["built_at"], merged["updated_at"], _tree(merged["tree"]), tenant, action_id),
            )
            return merged
        return await self._store.write(op)

    async def finish_build(self, tenant: str, action_id: str, code: str, dependencies: list[dict[str, str]],
                           fields: dict[str, Any]) -> dict[str, Any] | None:
        """Store a build's outcome (status, errors, built_at, tree) if the draft still has the
        code and dependencies it was built from; None otherwise (a later edit started its own)."""
        def op(conn: sqlite3.Connection) -> dict[str, Any] | None:
            current = _action(conn.execute("SELECT * FROM actions WHERE tenant_id = ? AND id = ?", (tenant, action_id)).fetchone())
            if current is None or current["code"] != code or current["dependencies"] != dependencies:
                return None
            merged = {**current, **fields}
            conn.execute("UPDATE actions SET status = ?, errors = ?, built_at = ?, tree = ? WHERE tenant_id = ? AND id = ?",
                         (merged["status"], dumps(merged["errors"]), merged["built_at"], _tree(merged["tree"]), tenant, action_id))
            return merged
        return await self._store.write(op)

    async def pending_builds(self) -> list[tuple[str, str]]:
        """(tenant, action id) of every draft whose build has not finished (after a restart)."""
        rows = await self._store.read(lambda conn: conn.execute(
            "SELECT tenant_id, id FROM actions WHERE status = 'pending' ORDER BY tenant_id, id").fetchall())
        return [(r["tenant_id"], r["id"]) for r in rows]

    async def put_tarball(self, tenant: str, key: str, data: bytes) -> None:
        # a row a build uses again is fresh again: prune_tarballs spares it until its tree lands
        def op(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT INTO npm_tarballs (tenant_id, key, data, created_at) VALUES (?, ?, ?, ?)"
                         " ON CONFLICT (tenant_id, key) DO UPDATE SET created_at = excluded.created_at",
                         (tenant, key, data, now_iso()))
        await self._store.write(op)

    async def prune_tarballs(self, stored_before: str) -> int:
        """Delete the tarballs stored before `stored_before` that no draft or version of their
        tenant names in its tree; how many went."""
        def op(conn: sqlite3.Connection) -> int:
            return conn.execute(f"""
                DELETE FROM npm_tarballs WHERE created_at < ? AND NOT EXISTS (
                  SELECT 1 FROM ({_USED_TARBALLS}) u WHERE u.tenant_id = npm_tarballs.tenant_id AND u.key = npm_tarballs.key)""",
                (stored_before,)).rowcount
        return await self._store.write(op)

    async def tarball_keys_in_use(self) -> set[str]:
        """Every tarball key a draft or version of any tenant names (for the package cache)."""
        rows = await self._store.read(lambda conn: conn.execute(f"SELECT DISTINCT key FROM ({_USED_TARBALLS})").fetchall())
        return {r["key"] for r in rows}

    async def get_tarball(self, tenant: str, key: str) -> bytes | None:
        found = await self._store.read(lambda conn: conn.execute(
            "SELECT data FROM npm_tarballs WHERE tenant_id = ? AND key = ?", (tenant, key)).fetchone())
        return None if found is None else bytes(found["data"])

    async def delete_action(self, tenant: str, action_id: str, force: bool) -> str:
        """'deleted', 'missing' or 'bound' (bound and not forced: nothing changed)."""
        def op(conn: sqlite3.Connection) -> str:
            if not conn.execute("SELECT 1 FROM actions WHERE tenant_id = ? AND id = ?", (tenant, action_id)).fetchone():
                return "missing"
            bound = conn.execute("SELECT 1 FROM bindings WHERE tenant_id = ? AND action_id = ?", (tenant, action_id)).fetchone()
            if bound and not force:
                return "bound"
            conn.execute("DELETE FROM bindings WHERE tenant_id = ? AND action_id = ?", (tenant, action_id))
            conn.execute("DELETE FROM action_versions WHERE tenant_id = ? AND action_id = ?", (tenant, action_id))
            conn.execute("DELETE FROM actions WHERE tenant_id = ? AND id = ?", (tenant, action_id))
            return "deleted"
        return await self._store.write(op)

    # -- versions ----------------------------------------------------------------------

    async def deploy(self, tenant: str, action_id: str, source: dict[str, Any] | None, keep: int,
                     update_draft: bool = False) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """Create version number+1 from `source` (an older version; None: the draft as stored
        now, which must have built, else NotBuilt), make it the deployed one, and prune to `keep`
        versions (never the deployed one). Returns (version, action) or None when the action is
        gone."""
        def op(conn: sqlite3.Connection) -> tuple[dict[str, Any], dict[str, Any]] | None:
            action = _action(conn.execute("SELECT * FROM actions WHERE tenant_id = ? AND id = ?", (tenant, action_id)).fetchone())
            if action is None:
                return None
            if source is None and action["status"] != "built":
                raise NotBuilt(action["status"], action["errors"])
            origin = action if source is None else source
            number = conn.execute("SELECT coalesce(max(number), 0) + 1 FROM action_versions WHERE tenant_id = ? AND action_id = ?",
                                  (tenant, action_id)).fetchone()[0]
            now = now_iso()
            version = {
                "id": str(uuid.uuid4()), "action_id": action_id, "number": number,
                "code": origin["code"], "dependencies": origin["dependencies"], "runtime": origin["runtime"],
                "secrets": origin["secrets"], "supported_triggers": origin["supported_triggers"], "tree": origin.get("tree"),
                "status": "built", "errors": [], "created_at": now, "updated_at": now, "built_at": now,
            }
            conn.execute(
                "INSERT INTO action_versions (tenant_id, id, action_id, number, code, dependencies, runtime, secrets,"
                " supported_triggers, status, errors, created_at, updated_at, built_at, tree)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (tenant, version["id"], action_id, number, version["code"], dumps(version["dependencies"]), version["runtime"],
                 dumps(version["secrets"]), dumps(version["supported_triggers"]), "built", "[]", now, now, now,
                 _tree(version["tree"])),
            )
            action["deployed_version_id"] = version["id"]
            action["updated_at"] = now
            if update_draft:
                for key in ("code", "dependencies", "runtime", "secrets", "supported_triggers"):
                    action[key] = origin[key]
                action["tree"] = origin.get("tree")
                action["status"], action["errors"], action["built_at"] = "built", [], now
            conn.execute(
                "UPDATE actions SET deployed_version_id = ?, updated_at = ?, code = ?, dependencies = ?, runtime = ?,"
                " secrets = ?, supported_triggers = ?, status = ?, errors = ?, built_at = ?, tree = ? WHERE tenant_id = ? AND id = ?",
                (version["id"], now, action["code"], dumps(action["dependencies"]), action["runtime"], dumps(action["secrets"]),
                 dumps(action["supported_triggers"]), action["status"], dumps(action["errors"]), action["built_at"],
                 _tree(action["tree"]), tenant, action_id),
            )
            conn.execute(
                "DELETE FROM action_versions WHERE tenant_id = ? AND action_id = ? AND id != ? AND id NOT IN ("
                " SELECT id FROM action_versions WHERE tenant_id = ? AND action_id = ? ORDER BY number DESC LIMIT ?)",
                (tenant, action_id, version["id"], tenant, action_id, keep),
            )
            return version, action
        return await self._store.write(op)

    async def list_versions(self, tenant: str, action_id: str, page: int, per_page: int) -> tuple[list[dict[str, Any]], int]:
        def op(conn: sqlite3.Connection) -> tuple[list[dict[str, Any]], int]:
            total = conn.execute("SELECT count(*) FROM action_versions WHERE tenant_id = ? AND action_id = ?",
                                 (tenant, action_id)).fetchone()[0]
            rows = conn.execute(
                "SELECT * FROM action_versions WHERE tenant_id = ? AND action_id = ? ORDER BY number DESC LIMIT ? OFFSET ?",
                (tenant, action_id, per_page, page * per_page)).fetchall()
            return [_action(r) for r in rows], total  # type: ignore[misc]
        return await self._store.read(op)

    async def get_version(self, tenant: str, action_id: str, version_id: str) -> dict[str, Any] | None:
        return await self._store.read(lambda conn: _action(conn.execute(
            "SELECT * FROM action_versions WHERE tenant_id = ? AND action_id = ? AND id = ?",
            (tenant, action_id, version_id)).fetchone()))

    # -- bindings ----------------------------------------------------------------------

    async def bindings(self, tenant: str, trigger_id: str) -> list[dict[str, Any]]:
        """The trigger's bindings in execution order, each with its action row."""
        def op(conn: sqlite3.Connection) -> list[dict[str, Any]]:
            rows = conn.execute(
                "SELECT b.id AS binding_id, b.trigger_id, b.display_name, b.created_at AS b_created, b.updated_at AS b_updated,"
                " a.* FROM bindings b JOIN actions a ON a.tenant_id = b.tenant_id AND a.id = b.action_id"
                " WHERE b.tenant_id = ? AND b.trigger_id = ? ORDER BY b.position", (tenant, trigger_id)).fetchall()
            out = []
            for r in rows:
                d = dict(r)
                binding = {"id": d.pop("binding_id"), "trigger_id": d.pop("trigger_id"), "display_name": d.pop("display_name"),
                           "created_at": d.pop("b_created"), "updated_at": d.pop("b_updated")}
                for key in _ACTION_JSON:
                    d[key] = loads(d[key])
                binding["action"] = d
                out.append(binding)
            return out
        return await self._store.read(op)

    async def deployed_flow(self, tenant: str, trigger_id: str) -> list[dict[str, Any]]:
        """What the trigger runs, in one read: per binding in order, the action's name and id and
        its deployed version's id, code and (sealed) secrets."""
        rows = await self._store.read(lambda conn: conn.execute(FLOW_QUERY, (tenant, trigger_id)).fetchall())
        return [{**dict(r), "secrets": loads(r["secrets"]), "tree": loads(r["tree"]) if r["tree"] is not None else None}
                for r in rows]

    async def replace_bindings(self, tenant: str, trigger_id: str, wanted: list[tuple[str, str]]) -> None:
        """Make the trigger's bindings exactly `wanted` [(action_id, display_name)] in order,
        keeping the id of a binding whose action stays bound."""
        def op(conn: sqlite3.Connection) -> None:
            existing = {r["action_id"]: dict(r) for r in conn.execute(
                "SELECT * FROM bindings WHERE tenant_id = ? AND trigger_id = ?", (tenant, trigger_id))}
            conn.execute("DELETE FROM bindings WHERE tenant_id = ? AND trigger_id = ?", (tenant, trigger_id))
            now = now_iso()
            for position, (action_id, display_name) in enumerate(wanted):
                old = existing.get(action_id)
                conn.execute(
                    "INSERT INTO bindings (tenant_id, id, trigger_id, action_id, position, display_name, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (tenant, old["id"] if old else str(uuid.uuid4()), trigger_id, action_id, position, display_name,
                     old["created_at"] if old else now, now),
                )
        await self._store.write(op)

    async def binding_action(self, tenant: str, binding_id: str) -> str | None:
        row = await self._store.read(lambda conn: conn.execute(
            "SELECT action_id FROM bindings WHERE tenant_id = ? AND id = ?", (tenant, binding_id)).fetchone())
        return row[0] if row else None

    # -- executions --------------------------------------------------------------------

    async def insert_executions(self, rows: list[dict[str, Any]]) -> None:
        # the whole batch crosses as one JSON text that SQLite takes apart itself: a tuple and a
        # JSON text per row built in Python held the GIL the event loop needs (bench A/B pairs:
        # less front-end CPU per login than with executemany in 7 of 7)
        def op(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT OR REPLACE INTO executions (tenant_id, id, trigger_id, status, results, created_at, updated_at)"
                " SELECT json_extract(value, '$.tenant_id'), json_extract(value, '$.id'), json_extract(value, '$.trigger_id'),"
                " json_extract(value, '$.status'), json_extract(value, '$.results'), json_extract(value, '$.created_at'),"
                " json_extract(value, '$.updated_at') FROM json_each(?)",
                (dumps(rows),))
        if rows:
            await self._store.write(op)

    async def get_execution(self, tenant: str, execution_id: str) -> dict[str, Any] | None:
        row = await self._store.read(lambda conn: conn.execute(
            "SELECT * FROM executions WHERE tenant_id = ? AND id = ?", (tenant, execution_id)).fetchone())
        if row is None:
            return None
        out = dict(row)
        out["results"] = loads(out["results"])
        out.pop("tenant_id")
        return out

    async def purge_executions(self, before_iso: str) -> int:
        return await self._store.write(lambda conn: conn.execute(
            "DELETE FROM executions WHERE created_at < ?", (before_iso,)).rowcount)

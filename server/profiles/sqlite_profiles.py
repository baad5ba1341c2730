"""User profiles in the embedded SQLite store; a metadata patch is merged in one transaction
that reads and rewrites the row, so concurrent patches for one user never lose keys."""

from __future__ import annotations

import sqlite3
from collections import OrderedDict
from typing import Any

import orjson

from ..store.sqlite import GROUP_MAX, SqliteStore, dumps, loads
from ..timeutil import now_iso
from .identities import linked_identities
from .metadata import merge

# root attributes kept beside the metadata; anything else the caller sends stays in `profile`
RESERVED = ("user_id", "app_metadata", "user_metadata", "created_at", "updated_at")
# what GET /api/v2/users may search (q) and sort by: the attribute's SQL, per store
SEARCHABLE = {"user_id": "user_id", "email": "lower(json_extract(profile, '$.email'))"}
SORTABLE = ("created_at", "updated_at", "user_id")
LINK_PRIMARY_MISSING, LINK_SECONDARY_MISSING = "primary_missing", "secondary_missing"


def _user(row: sqlite3.Row | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        **loads(row["profile"]),
        "user_id": row["user_id"],
        "app_metadata": loads(row["app_metadata"]),
        "user_metadata": loads(row["user_metadata"]),
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def _copy(user: dict[str, Any] | None) -> dict[str, Any] | None:
    """A copy callers may change without changing the cached profile (metadata is top-level
    merged and replaced whole, never changed in place, so two levels suffice)."""
    if user is None:
        return None
    return {**user, "app_metadata": dict(user["app_metadata"]), "user_metadata": dict(user["user_metadata"])}


class SqliteProfiles:
    """One node owns the SQLite file, so every write to a profile passes through here: reads are
    served from a write-through LRU of recent profiles (a login reads its user on every
    execution; the disk is read once per user). A user the file does not have is remembered as
    absent too (ABSENT), until a write creates it: a first login reads, then writes, and the
    read no longer takes a trip to a reader thread when the user tries again."""

    # a first login's create and patch are one transaction (see upsert)
    atomic_upsert = True
    # one writer thread commits whatever is queued as one transaction (up to GROUP_MAX): a
    # smaller cap here only makes bursts wait in front of it (8 gave a 79 ms write p99 at half
    # of the benchmark's peak, with the store's own p99 at 17 ms)
    write_concurrency = GROUP_MAX

    ABSENT = b""

    def __init__(self, store: SqliteStore, cache_size: int = 50_000) -> None:
        self._store = store
        self._cache: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self._cache_size = cache_size

    def _remember(self, tenant: str, user: dict[str, Any] | None) -> dict[str, Any] | None:
        # kept as JSON bytes: a bytes object is not tracked by Python's cycle collector, whose
        # full collections would otherwise walk every cached profile's dicts and lists (40-60 ms
        # pauses of the whole front end with a warm cache, measured under the benchmark)
        if user is not None:
            self._keep((tenant, user["user_id"]), orjson.dumps(user))
        return _copy(user)

    def _keep(self, key: tuple[str, str], value: bytes) -> None:
        self._cache[key] = value
        self._cache.move_to_end(key)
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    async def get(self, tenant: str, user_id: str, timeout: float | None = None) -> dict[str, Any] | None:
        key = (tenant, user_id)
        hit = self._cache.get(key)
        if hit is not None:
            return None if hit == self.ABSENT else orjson.loads(hit)
        user = await self._store.read(lambda conn: _user(conn.execute(
            "SELECT * FROM users WHERE tenant_id = ? AND user_id = ?", (tenant, user_id)).fetchone()))
        if user is None:
            # a write that created the user while this read ran has remembered it: keep that
            if key not in self._cache:
                self._keep(key, self.ABSENT)
            return None
        return self._remember(tenant, user)

    async def create(self, tenant: str, user: dict[str, Any], timeout: float | None = None) -> dict[str, Any] | None:
        """The new user, or None when the id is taken."""
        now = now_iso()
        profile = {k: v for k, v in user.items() if k not in RESERVED}

        def op(conn: sqlite3.Connection) -> dict[str, Any] | None:
            if conn.execute("SELECT 1 FROM users WHERE tenant_id = ? AND user_id = ?", (tenant, user["user_id"])).fetchone():
                return None
            conn.execute(
                "INSERT INTO users (tenant_id, user_id, profile, app_metadata, user_metadata, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (tenant, user["user_id"], dumps(profile), dumps(user.get("app_metadata") or {}),
                 dumps(user.get("user_metadata") or {}), now, now))
            return _user(conn.execute("SELECT * FROM users WHERE tenant_id = ? AND user_id = ?", (tenant, user["user_id"])).fetchone())
        return self._remember(tenant, await self._store.write(op))

    async def upsert(self, tenant: str, user: dict[str, Any], app_patch: dict[str, Any] | None,
                     user_patch: dict[str, Any] | None, timeout: float | None = None) -> dict[str, Any]:
        """Create the user from `user` if the store has none, then merge the patches: one
        transaction, so a first login costs one write."""
        now = now_iso()
        profile = {k: v for k, v in user.items() if k not in RESERVED}

        def op(conn: sqlite3.Connection) -> dict[str, Any]:
            conn.execute(
                "INSERT OR IGNORE INTO users (tenant_id, user_id, profile, app_metadata, user_metadata, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (tenant, user["user_id"], dumps(profile), dumps(user.get("app_metadata") or {}),
                 dumps(user.get("user_metadata") or {}), now, now))
            merged = self._merge(conn, tenant, user["user_id"], app_patch, user_patch, None) if (app_patch or user_patch) else None
            return merged or _user(conn.execute("SELECT * FROM users WHERE tenant_id = ? AND user_id = ?",
                                                (tenant, user["user_id"])).fetchone())  # type: ignore[return-value]
        return self._remember(tenant, await self._store.write(op))  # type: ignore[return-value]

    async def patch(self, tenant: str, user_id: str, app_patch: dict[str, Any] | None,
                    user_patch: dict[str, Any] | None, root: dict[str, Any] | None = None,
                    timeout: float | None = None) -> dict[str, Any] | None:
        """Merge the patches into the stored row atomically; None when the user is unknown."""
        return self._remember(tenant, await self._store.write(
            lambda conn: self._merge(conn, tenant, user_id, app_patch, user_patch, root)))

    @staticmethod
    def _merge(conn: sqlite3.Connection, tenant: str, user_id: str, app_patch: dict[str, Any] | None,
               user_patch: dict[str, Any] | None, root: dict[str, Any] | None) -> dict[str, Any] | None:
        row = conn.execute("SELECT * FROM users WHERE tenant_id = ? AND user_id = ?", (tenant, user_id)).fetchone()
        if row is None:
            return None
        app = merge(loads(row["app_metadata"]), app_patch or {})
        user = merge(loads(row["user_metadata"]), user_patch or {})
        profile = loads(row["profile"])
        for key, value in (root or {}).items():
            if key in RESERVED:
                continue
            if value is None:
                profile.pop(key, None)
            else:
                profile[key] = value
        now = now_iso()
        conn.execute(
            "UPDATE users SET profile = ?, app_metadata = ?, user_metadata = ?, updated_at = ? WHERE tenant_id = ? AND user_id = ?",
            (dumps(profile), dumps(app), dumps(user), now, tenant, user_id))
        return {**profile, "user_id": user_id, "app_metadata": app, "user_metadata": user,
                "created_at": row["created_at"], "updated_at": now}


    # -- listing and linking (the Management API's, not the login path's) ----------------------

    async def list_users(self, tenant: str, search: tuple[str, str] | None, sort: tuple[str, bool],
                         page: int, per_page: int) -> tuple[list[dict[str, Any]], int]:
        """A page of the tenant's users and how many match. `search` is (attribute, value), an
        exact match (emails compared lowercased); `sort` is (column, ascending)."""
        where, args = "tenant_id = ?", [tenant]
        if search is not None:
            field, value = search
            where += f" AND {SEARCHABLE[field]} = ?"
            args.append(value.lower() if field == "email" else value)
        column, ascending = sort
        order = f"{column} {'ASC' if ascending else 'DESC'}, user_id"
        assert column in SORTABLE

        def op(conn: sqlite3.Connection) -> tuple[list[dict[str, Any]], int]:
            total = conn.execute(f"SELECT count(*) FROM users WHERE {where}", args).fetchone()[0]
            rows = conn.execute(f"SELECT * FROM users WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?",
                                [*args, per_page, page * per_page]).fetchall()
            return [_user(r) for r in rows], total  # type: ignore[misc]
        return await self._store.read(op)

    async def link(self, tenant: str, primary_id: str, secondary_id: str) -> list[dict[str, Any]] | str:
        """Link the secondary user to the primary in one transaction: the primary gets the
        secondary's identities, the secondary user and its role assignments are deleted. The
        primary's new identities, or LINK_PRIMARY_MISSING / LINK_SECONDARY_MISSING."""
        def op(conn: sqlite3.Connection) -> tuple[list[dict[str, Any]] | str, dict[str, Any] | None]:
            primary = _user(conn.execute("SELECT * FROM users WHERE tenant_id = ? AND user_id = ?",
                                         (tenant, primary_id)).fetchone())
            if primary is None:
                return LINK_PRIMARY_MISSING, None
            secondary = _user(conn.execute("SELECT * FROM users WHERE tenant_id = ? AND user_id = ?",
                                           (tenant, secondary_id)).fetchone())
            if secondary is None:
                return LINK_SECONDARY_MISSING, None
            identities = linked_identities(primary, secondary)
            merged = self._merge(conn, tenant, primary_id, None, None, {"identities": identities})
            conn.execute("DELETE FROM users WHERE tenant_id = ? AND user_id = ?", (tenant, secondary_id))
            # a user created later under the secondary's id must not inherit its roles
            conn.execute("DELETE FROM user_roles WHERE tenant_id = ? AND user_id = ?", (tenant, secondary_id))
            return identities, merged
        outcome, merged = await self._store.write(op)
        if merged is not None:
            self._remember(tenant, merged)
            self._keep((tenant, secondary_id), self.ABSENT)
        return outcome

"""User profiles in the PostgreSQL store: the same methods and results as SqliteProfiles.

Every write is ONE SQL statement that merges the patch into the stored row inside PostgreSQL
(jsonb), never a read in Python followed by a write: concurrent writers, on one node or on
several, each apply their patch to the row as the previous writer committed it (the row lock an
UPDATE takes serializes them), so none loses another's keys.

The merge is Auth0's (profiles/metadata.py): top level only, a key in the patch replaces the
stored one (a nested object is replaced whole), a JSON null deletes the key:

    (stored || patch) - coalesce((SELECT array_agg(key) FROM jsonb_each(patch) WHERE value = 'null'::jsonb), '{}')

`||` sets every key of the patch (the nulls too), then `- text[]` removes the keys whose patch
value is null; array_agg over no row is NULL, hence the coalesce to an empty array (`jsonb -
NULL` would be NULL). A NULL patch leaves the column as it is.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from ..store.postgres import TRANSIENT, PostgresStore, iso, ts
from ..timeutil import now_iso
from .errors import StoreUnavailable, WriteFailed
from .identities import linked_identities
from .sqlite_profiles import LINK_PRIMARY_MISSING, LINK_SECONDARY_MISSING, RESERVED, SORTABLE

SEARCHABLE = {"user_id": "user_id", "email": "lower(profile->>'email')"}


def merged(column: str, patch: str) -> str:
    """SQL for `column` with the jsonb merge-patch `patch` (a parameter or expression) applied."""
    return (f"CASE WHEN {patch}::jsonb IS NULL THEN {column} ELSE ({column} || {patch}::jsonb) - coalesce("
            f"(SELECT array_agg(key) FROM jsonb_each({patch}::jsonb) WHERE value = 'null'::jsonb), '{{}}'::text[]) END")


# $1 tenant, $2 user_id, $3 root-attribute patch, $4 app_metadata patch, $5 user_metadata patch, $6 now
PATCH_SQL = (
    "UPDATE users SET"
    f" profile = {merged('profile', '$3')},"
    f" app_metadata = {merged('app_metadata', '$4')},"
    f" user_metadata = {merged('user_metadata', '$5')},"
    " updated_at = $6"
    " WHERE tenant_id = $1 AND user_id = $2"
    " RETURNING *"
)

# $1 tenant, $2 user_id, $3 profile, $4 app_metadata, $5 user_metadata (of the user to create),
# $6 app_metadata patch, $7 user_metadata patch, $8 now. A new user is created with the patches
# already merged into its metadata; an existing one gets them merged into its stored metadata
# (and keeps its updated_at when there is no patch, as SqliteProfiles.upsert does).
UPSERT_SQL = (
    "INSERT INTO users AS u (tenant_id, user_id, profile, app_metadata, user_metadata, created_at, updated_at)"
    f" VALUES ($1, $2, $3::jsonb, {merged('$4::jsonb', '$6')}, {merged('$5::jsonb', '$7')}, $8, $8)"
    " ON CONFLICT (tenant_id, user_id) DO UPDATE SET"
    f" app_metadata = {merged('u.app_metadata', '$6')},"
    f" user_metadata = {merged('u.user_metadata', '$7')},"
    " updated_at = CASE WHEN $6::jsonb IS NULL AND $7::jsonb IS NULL THEN u.updated_at ELSE $8 END"
    " RETURNING *"
)

CREATE_SQL = (
    "INSERT INTO users (tenant_id, user_id, profile, app_metadata, user_metadata, created_at, updated_at)"
    " VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (tenant_id, user_id) DO NOTHING RETURNING *"
)


def _user(row: asyncpg.Record | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        **row["profile"],
        "user_id": row["user_id"],
        "app_metadata": row["app_metadata"],
        "user_metadata": row["user_metadata"],
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
    }


def _patch(value: dict[str, Any] | None) -> dict[str, Any] | None:
    return value or None  # an empty patch changes nothing: NULL


class PostgresProfiles:
    # a first login's create and patch are one statement (see upsert)
    atomic_upsert = True
    # below the connection pool's size, so an admitted write never waits for a connection
    write_concurrency = 8

    def __init__(self, store: PostgresStore) -> None:
        self._store = store

    async def _fetchrow(self, sql: str, *args: Any, timeout: float | None) -> asyncpg.Record | None:
        """One statement; a failure after which it may succeed is StoreUnavailable, which the
        profile writer retries (a patch holds absolute values, so applying it twice is harmless)."""
        try:
            return await self._store.fetchrow(sql, *args, timeout=timeout)
        except TRANSIENT as exc:
            # the caller is told the database failed; which one and how is the operator's (log, record)
            raise StoreUnavailable("the database is unavailable", f"PostgreSQL: {type(exc).__name__}: {exc}",
                                   "unavailable") from exc
        except (asyncpg.UntranslatableCharacterError, asyncpg.CharacterNotInRepertoireError) as exc:
            # a NUL character ('\u0000'), which PostgreSQL's text and jsonb cannot hold: retrying
            # cannot help, and the value is not changed behind the caller's back
            raise WriteFailed(f"PostgreSQL cannot store a NUL character (\\u0000) in a profile: {exc}") from exc

    async def get(self, tenant: str, user_id: str, timeout: float | None = None) -> dict[str, Any] | None:
        return _user(await self._fetchrow("SELECT * FROM users WHERE tenant_id = $1 AND user_id = $2",
                                          tenant, user_id, timeout=timeout))

    async def create(self, tenant: str, user: dict[str, Any], timeout: float | None = None) -> dict[str, Any] | None:
        """The new user, or None when the id is taken."""
        profile = {k: v for k, v in user.items() if k not in RESERVED}
        return _user(await self._fetchrow(
            CREATE_SQL, tenant, user["user_id"], profile, user.get("app_metadata") or {}, user.get("user_metadata") or {},
            ts(now_iso()), timeout=timeout))

    async def upsert(self, tenant: str, user: dict[str, Any], app_patch: dict[str, Any] | None,
                     user_patch: dict[str, Any] | None, timeout: float | None = None) -> dict[str, Any]:
        """Create the user from `user` if the store has none, then merge the patches: one
        statement (INSERT ... ON CONFLICT DO UPDATE), so a first login costs one write."""
        profile = {k: v for k, v in user.items() if k not in RESERVED}
        row = await self._fetchrow(
            UPSERT_SQL, tenant, user["user_id"], profile, user.get("app_metadata") or {}, user.get("user_metadata") or {},
            _patch(app_patch), _patch(user_patch), ts(now_iso()), timeout=timeout)
        return _user(row)  # type: ignore[return-value]

    async def patch(self, tenant: str, user_id: str, app_patch: dict[str, Any] | None,
                    user_patch: dict[str, Any] | None, root: dict[str, Any] | None = None,
                    timeout: float | None = None) -> dict[str, Any] | None:
        """Merge the patches into the stored row atomically; None when the user is unknown."""
        root_patch = {k: v for k, v in (root or {}).items() if k not in RESERVED}
        return _user(await self._fetchrow(
            PATCH_SQL, tenant, user_id, _patch(root_patch), _patch(app_patch), _patch(user_patch), ts(now_iso()),
            timeout=timeout))

    # -- listing and linking (the Management API's, not the login path's) ----------------------

    async def list_users(self, tenant: str, search: tuple[str, str] | None, sort: tuple[str, bool],
                         page: int, per_page: int) -> tuple[list[dict[str, Any]], int]:
        """As SqliteProfiles.list_users (user ids ordered byte-wise, as SQLite orders them)."""
        where, args = "tenant_id = $1", [tenant]
        if search is not None:
            field, value = search
            args.append(value.lower() if field == "email" else value)
            where += f" AND {SEARCHABLE[field]} = ${len(args)}"
        column, ascending = sort
        assert column in SORTABLE
        key = 'user_id COLLATE "C"' if column == "user_id" else column
        order = f"{key} {'ASC' if ascending else 'DESC'}, user_id COLLATE \"C\""
        n = len(args)
        async with self._store.transaction(readonly=True, isolation="repeatable_read") as conn:
            total = await conn.fetchval(f"SELECT count(*) FROM users WHERE {where}", *args)
            rows = await conn.fetch(f"SELECT * FROM users WHERE {where} ORDER BY {order} LIMIT ${n + 1} OFFSET ${n + 2}",
                                    *args, per_page, page * per_page)
        return [_user(r) for r in rows], total  # type: ignore[misc]

    async def link(self, tenant: str, primary_id: str, secondary_id: str) -> list[dict[str, Any]] | str:
        """As SqliteProfiles.link: one transaction that locks both rows (in user-id order, so two
        links of the same pair the other way round cannot deadlock)."""
        async with self._store.transaction() as conn:
            rows = {r["user_id"]: r for r in await conn.fetch(
                'SELECT * FROM users WHERE tenant_id = $1 AND user_id = ANY($2::text[]) ORDER BY user_id COLLATE "C"'
                " FOR UPDATE", tenant, [primary_id, secondary_id])}
            if primary_id not in rows:
                return LINK_PRIMARY_MISSING
            if secondary_id not in rows:
                return LINK_SECONDARY_MISSING
            identities = linked_identities(_user(rows[primary_id]), _user(rows[secondary_id]))  # type: ignore[arg-type]
            await conn.execute(PATCH_SQL, tenant, primary_id, {"identities": identities}, None, None, ts(now_iso()))
            await conn.execute("DELETE FROM users WHERE tenant_id = $1 AND user_id = $2", tenant, secondary_id)
            # a user created later under the secondary's id must not inherit its roles
            await conn.execute("DELETE FROM user_roles WHERE tenant_id = $1 AND user_id = $2", tenant, secondary_id)
        return identities

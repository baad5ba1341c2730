"""The store contract of machine clients, signing keys, roles, the users list and account
linking: the same tests against SQLite and PostgreSQL (two nodes on one database, as in
tests/test_store_contract.py, whose fresh_database this borrows)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from server.auth import TokenStore
from server.postgres_tokens import PostgresTokenStore
from server.profiles.postgres_profiles import PostgresProfiles
from server.profiles.sqlite_profiles import LINK_PRIMARY_MISSING, LINK_SECONDARY_MISSING, SqliteProfiles
from server.store.machine_clients import MachineClient, SqliteMachineClients
from server.store.postgres import PostgresStore
from server.store.postgres_machine_clients import PostgresMachineClients
from server.store.postgres_roles import PostgresRoles
from server.store.postgres_signing_keys import PostgresSigningKeys
from server.store.roles import SqliteRoles
from server.store.signing_keys import SqliteSigningKeys, StoredKey
from server.store.sqlite import Conflict, SqliteStore
from server.timeutil import now_iso
from test_store_contract import fresh_database

TENANT, OTHER = "acme", "other"


@dataclass
class Node:
    clients: Any
    keys: Any
    roles: Any
    profiles: Any
    tokens: Any


@pytest.fixture(params=["sqlite", "postgres"])
async def nodes(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[list[Node]]:
    if request.param == "sqlite":
        store = SqliteStore(tmp_path / "identity.db")
        await store.open()
        try:
            node = Node(SqliteMachineClients(store), SqliteSigningKeys(store), SqliteRoles(store), SqliteProfiles(store),
                        TokenStore(store))
            for tenant in (TENANT, OTHER):
                await node.tokens.ensure_tenant(tenant)
            yield [node]
        finally:
            await store.close()
        return
    async with fresh_database() as dsn:
        stores = [PostgresStore(dsn), PostgresStore(dsn)]
        await asyncio.gather(*(s.open() for s in stores))
        try:
            made = [Node(PostgresMachineClients(s), PostgresSigningKeys(s), PostgresRoles(s), PostgresProfiles(s),
                         PostgresTokenStore(s)) for s in stores]
            for tenant in (TENANT, OTHER):
                await made[0].tokens.ensure_tenant(tenant)
            yield made
        finally:
            for s in stores:
                await s.close()


def machine_client(client_id: str, tenant: str = TENANT, scopes: tuple[str, ...] = ("read:users",)) -> MachineClient:
    now = now_iso()
    return MachineClient(tenant, client_id, f"name-{client_id}", "", "h" * 64, scopes, f"cgr_{client_id}", now, now)


# -- machine clients -----------------------------------------------------------------------


async def test_machine_clients_are_found_by_id_and_listed_per_tenant(nodes):
    a, b = nodes[0], nodes[-1]
    for i in range(3):
        await a.clients.insert(machine_client(f"c{i}"))
    await a.clients.insert(machine_client("theirs", tenant=OTHER))
    got = await b.clients.get("c1")
    assert got is not None and got.tenant == TENANT and got.scopes == ("read:users",) and got.grant_id == "cgr_c1"
    page, total = await b.clients.list_clients(TENANT, 0, 2)
    assert total == 3 and [c.client_id for c in page] == ["c0", "c1"]
    assert [c.client_id for c in (await b.clients.list_clients(TENANT, 1, 2))[0]] == ["c2"]
    assert (await b.clients.by_grant(TENANT, "cgr_theirs")) is None
    assert (await b.clients.by_grant(OTHER, "cgr_theirs")).client_id == "theirs"
    assert await b.clients.tenant_exists(OTHER) and not await b.clients.tenant_exists("nobody")


async def test_machine_clients_update_and_delete_within_their_tenant(nodes):
    a, b = nodes[0], nodes[-1]
    await a.clients.insert(machine_client("c"))
    assert await b.clients.update(OTHER, "c", "x", None, None) is None
    updated = await b.clients.update(TENANT, "c", "renamed", None, ("read:users", "update:users"))
    assert updated.name == "renamed" and updated.scopes == ("read:users", "update:users") and updated.description == ""
    assert (await a.clients.get("c")).scopes == ("read:users", "update:users")
    assert not await b.clients.delete(OTHER, "c")
    assert await b.clients.delete(TENANT, "c") and await a.clients.get("c") is None


async def test_a_client_of_an_unknown_tenant_is_refused(nodes):
    with pytest.raises(Conflict):
        await nodes[0].clients.insert(machine_client("c", tenant="nobody"))


# -- signing keys ----------------------------------------------------------------------------


def stored_key(kid: str) -> StoredKey:
    return StoredKey(kid, "current", f"sealed-{kid}", {"kty": "RSA", "kid": kid, "n": "n", "e": "AQAB"}, now_iso())


async def test_nodes_adding_a_current_key_at_once_keep_one(nodes):
    await asyncio.gather(*(nodes[i % len(nodes)].keys.add_current(stored_key(f"k{i}")) for i in range(8)))
    current = [await n.keys.current() for n in nodes]
    assert len({c.kid for c in current}) == 1 and current[0].private_key == f"sealed-{current[0].kid}"
    assert [k.kid for k in await nodes[-1].keys.published()] == [current[0].kid]
    assert (await nodes[0].keys.published())[0].public_jwk["kid"] == current[0].kid


# -- roles -----------------------------------------------------------------------------------


async def test_roles_crud_and_names_unique_per_tenant(nodes):
    a, b = nodes[0], nodes[-1]
    assert not await a.roles.tenant_has_roles(TENANT)
    admin = await a.roles.create(TENANT, "admin", "all of it")
    assert admin["id"].startswith("rol_") and len(admin["id"]) == 20
    assert await b.roles.get(TENANT, admin["id"]) == admin and await b.roles.get(OTHER, admin["id"]) is None
    with pytest.raises(Conflict):
        await b.roles.create(TENANT, "admin", "")
    await b.roles.create(OTHER, "admin", "")  # another tenant's name space
    editor = await b.roles.create(TENANT, "Editor", "")
    assert await a.roles.tenant_has_roles(TENANT)
    with pytest.raises(Conflict):
        await a.roles.update(TENANT, editor["id"], "admin", None)
    assert (await a.roles.update(TENANT, editor["id"], None, "edits"))["description"] == "edits"
    page, total = await a.roles.list_roles(TENANT, 0, 10, None)
    assert total == 2 and [r["name"] for r in page] == ["admin", "Editor"]
    assert [r["name"] for r in (await a.roles.list_roles(TENANT, 0, 10, "EDIT"))[0]] == ["Editor"]
    assert await a.roles.update(TENANT, "rol_nope", "x", None) is None


async def test_assigning_roles_is_all_or_nothing_and_a_deleted_role_leaves_its_users(nodes):
    a, b = nodes[0], nodes[-1]
    admin = await a.roles.create(TENANT, "admin", "")
    beta = await a.roles.create(TENANT, "beta-tester", "")
    theirs = await a.roles.create(OTHER, "theirs", "")
    assert await b.roles.assign(TENANT, "auth0|1", [admin["id"], "rol_missing", theirs["id"]]) == ["rol_missing", theirs["id"]]
    assert await a.roles.names_of_user(TENANT, "auth0|1") == []
    assert await b.roles.assign(TENANT, "auth0|1", [beta["id"], admin["id"], admin["id"]]) == []
    assert await b.roles.assign(TENANT, "auth0|1", [admin["id"]]) == []  # again: no change, no error
    assert await a.roles.names_of_user(TENANT, "auth0|1") == ["admin", "beta-tester"]
    page, total = await a.roles.of_user(TENANT, "auth0|1", 0, 1)
    assert total == 2 and [r["name"] for r in page] == ["admin"]
    await a.roles.unassign(TENANT, "auth0|1", [admin["id"], "rol_missing"])
    assert await b.roles.names_of_user(TENANT, "auth0|1") == ["beta-tester"]
    assert await b.roles.delete(TENANT, beta["id"]) and not await b.roles.delete(TENANT, beta["id"])
    assert await a.roles.names_of_user(TENANT, "auth0|1") == []
    assert await a.roles.of_user(TENANT, "auth0|1", 0, 10) == ([], 0)


# -- listing and linking users -------------------------------------------------------------


def user(user_id: str, **extra: Any) -> dict[str, Any]:
    return {"user_id": user_id, "app_metadata": {}, "user_metadata": {}, **extra}


async def test_users_list_pages_sorts_and_searches_exactly(nodes):
    a, b = nodes[0], nodes[-1]
    for i in range(5):
        await a.profiles.create(TENANT, user(f"auth0|{i}", email=f"User{i}@Example.com"))
        await asyncio.sleep(0.002)  # distinct created_at
    await a.profiles.create(OTHER, user("auth0|0", email="user0@example.com"))
    page, total = await b.profiles.list_users(TENANT, None, ("created_at", True), 1, 2)
    assert total == 5 and [u["user_id"] for u in page] == ["auth0|2", "auth0|3"]
    newest, _ = await b.profiles.list_users(TENANT, None, ("created_at", False), 0, 1)
    assert newest[0]["user_id"] == "auth0|4"
    by_id, _ = await b.profiles.list_users(TENANT, None, ("user_id", False), 0, 2)
    assert [u["user_id"] for u in by_id] == ["auth0|4", "auth0|3"]
    found, total = await b.profiles.list_users(TENANT, ("email", "user3@example.COM"), ("created_at", True), 0, 50)
    assert total == 1 and found[0]["user_id"] == "auth0|3" and found[0]["email"] == "User3@Example.com"
    assert (await b.profiles.list_users(TENANT, ("email", "user3@example"), ("created_at", True), 0, 50)) == ([], 0)
    assert (await b.profiles.list_users(TENANT, ("user_id", "auth0|1"), ("created_at", True), 0, 50))[1] == 1
    assert (await b.profiles.list_users(OTHER, None, ("created_at", True), 0, 50))[1] == 1


async def test_linking_moves_the_secondarys_identities_and_deletes_it(nodes):
    a, b = nodes[0], nodes[-1]
    await a.profiles.create(TENANT, user("auth0|primary", email="p@example.com", identities=[
        {"connection": "Username-Password-Authentication", "provider": "auth0", "user_id": "primary", "isSocial": False}]))
    await a.profiles.create(TENANT, user("google-oauth2|123", email="p@gmail.com", name="P", connection="google-oauth2",
                                         app_metadata={"lost": True}))
    role = await a.roles.create(TENANT, "admin", "")
    await a.roles.assign(TENANT, "google-oauth2|123", [role["id"]])
    assert await b.profiles.link(TENANT, "auth0|nobody", "google-oauth2|123") == LINK_PRIMARY_MISSING
    assert await b.profiles.link(TENANT, "auth0|primary", "google-oauth2|nobody") == LINK_SECONDARY_MISSING
    identities = await b.profiles.link(TENANT, "auth0|primary", "google-oauth2|123")
    assert identities == [
        {"connection": "Username-Password-Authentication", "provider": "auth0", "user_id": "primary", "isSocial": False},
        {"connection": "google-oauth2", "provider": "google-oauth2", "user_id": "123", "isSocial": True,
         "profileData": {"email": "p@gmail.com", "name": "P"}},
    ]
    for node in nodes:
        assert await node.profiles.get(TENANT, "google-oauth2|123") is None
        primary = await node.profiles.get(TENANT, "auth0|primary")
        assert primary["identities"] == identities and primary["email"] == "p@example.com"
    # the secondary's role assignments went with it
    assert await a.roles.names_of_user(TENANT, "google-oauth2|123") == []


# -- upgrading a store made before migration 3 ------------------------------------------------


async def test_admin_tokens_made_before_migration_3_get_its_scopes_and_narrower_ones_do_not(tmp_path):
    import sqlite3

    from server.auth import token_hash
    from server.store.migrations import MIGRATIONS, SCOPES_ADDED_IN_3, SCOPES_BEFORE_3

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY)")
    for version, sql in MIGRATIONS[:2]:
        conn.executescript(sql)
        conn.execute("INSERT INTO schema_migrations (version) VALUES (?)", (version,))
    conn.execute("INSERT INTO tenants (id, created_at) VALUES ('default', 't')")
    for i, (token, scopes) in enumerate((("admin-token", SCOPES_BEFORE_3), ("reader", ("read:actions", "read:users")))):
        conn.execute("INSERT INTO tokens (id, tenant_id, token_hash, scopes, description, created_at) VALUES (?, 'default', ?, ?, '', 't')",
                     (str(i), token_hash(token), " ".join(scopes)))
    conn.commit()
    conn.close()
    store = SqliteStore(path)
    await store.open()
    try:
        tokens = TokenStore(store)
        assert (await tokens.resolve("admin-token"))[1] == frozenset(SCOPES_BEFORE_3 + SCOPES_ADDED_IN_3)
        assert (await tokens.resolve("reader"))[1] == frozenset({"read:actions", "read:users"})
    finally:
        await store.close()

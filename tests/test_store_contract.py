"""The store contract: the same tests against the embedded SQLite store and the PostgreSQL one.

Each test gets the `backend` fixture twice: SQLite (a file in a temp dir) and PostgreSQL at
127.0.0.1:5432 (trust auth, user postgres), in a database created for that test
(actionhost_test_<random>) and dropped after it. The PostgreSQL backend is two "nodes": two
PostgresStore instances (two pools) on that database, opened at the same time, as two actionhost
processes would be; concurrency tests spread their calls over the nodes. SQLite is one node.

When PostgreSQL does not answer, its parameter is skipped, saying why, unless CI is set: .ci/run
makes sure PostgreSQL runs, so there it fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import random
import re
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from server.auth import TokenStore, new_token
from server.flows.postgres_redirect_states import PostgresRedirectStates
from server.flows.redirect_states import RedirectStates
from server.postgres_tokens import PostgresTokenStore
from server.profiles.errors import StoreUnavailable, WriteFailed
from server.profiles.postgres_profiles import PostgresProfiles
from server.profiles.sqlite_profiles import SqliteProfiles
from server.store.postgres import PostgresStore, migrate
from server.store.postgres_migrations import MIGRATIONS as POSTGRES_MIGRATIONS
from server.store.postgres_repository import PostgresRepository
from server.store.repository import Repository
from server.store.sqlite import Conflict, NotBuilt, SqliteStore
from server.timeutil import now_iso

PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
MAINTENANCE_DSN = f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/postgres"
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
TENANT, OTHER = "acme", "other"
ALL_SCOPES = ["read:actions", "execute:triggers"]

# -- PostgreSQL: reachability and a fresh database per test -----------------------------

_pg_unreachable: list[str | None] = []  # [reason or None] once checked


async def _pg_problem() -> str | None:
    if not _pg_unreachable:
        try:
            conn = await asyncpg.connect(MAINTENANCE_DSN, timeout=5)
        except Exception as exc:  # noqa: BLE001 - any failure means: not there
            _pg_unreachable.append(f"PostgreSQL at {PG_HOST}:{PG_PORT} (user {PG_USER}) does not answer: "
                                   f"{type(exc).__name__}: {exc}")
        else:
            await conn.close()
            _pg_unreachable.append(None)
    return _pg_unreachable[0]


def _ci() -> bool:
    return os.environ.get("CI", "") != ""


@contextlib.asynccontextmanager
async def fresh_database() -> AsyncIterator[str]:
    """The DSN of a new, empty database, dropped afterwards; skips (fails under CI) when
    PostgreSQL does not answer."""
    problem = await _pg_problem()
    if problem is not None:
        if _ci():
            pytest.fail(f"{problem} (CI is set: .ci/run guarantees PostgreSQL, so this is a failure)", pytrace=False)
        pytest.skip(problem)
    name = f"actionhost_test_{secrets.token_hex(6)}"
    conn = await asyncpg.connect(MAINTENANCE_DSN, timeout=10)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    try:
        yield f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        conn = await asyncpg.connect(MAINTENANCE_DSN, timeout=10)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


# -- the two backends behind one face ----------------------------------------------------


@dataclass
class Node:
    """One actionhost process's view of the store."""
    repo: Any
    tokens: Any
    profiles: Any
    make_states: Callable[..., Any]

    def states(self, ttl: float = 900.0) -> Any:
        return self.make_states(ttl)


@dataclass
class Backend:
    kind: str
    nodes: list[Node]

    @property
    def repo(self) -> Any:
        return self.nodes[0].repo

    @property
    def tokens(self) -> Any:
        return self.nodes[0].tokens

    @property
    def profiles(self) -> Any:
        return self.nodes[0].profiles

    def states(self, ttl: float = 900.0) -> Any:
        return self.nodes[0].states(ttl)

    def node(self, i: int) -> Node:
        """The i-th call's node, round robin: concurrent calls land on every node."""
        return self.nodes[i % len(self.nodes)]


def _sqlite_node(store: SqliteStore) -> Node:
    return Node(Repository(store), TokenStore(store), SqliteProfiles(store), lambda ttl: RedirectStates(store, ttl))


def _postgres_node(store: PostgresStore) -> Node:
    return Node(PostgresRepository(store), PostgresTokenStore(store), PostgresProfiles(store),
                lambda ttl: PostgresRedirectStates(store, ttl))


@pytest.fixture(params=["sqlite", "postgres"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    if request.param == "sqlite":
        store = SqliteStore(tmp_path / "contract.db")
        await store.open()
        try:
            b = Backend("sqlite", [_sqlite_node(store)])
            await b.tokens.ensure_tenant(TENANT)
            await b.tokens.ensure_tenant(OTHER)
            yield b
        finally:
            await store.close()
        return
    async with fresh_database() as dsn:
        # two nodes starting together on an empty database: the migration lock keeps them apart
        stores = [PostgresStore(dsn), PostgresStore(dsn)]
        opened = await asyncio.gather(*(s.open() for s in stores), return_exceptions=True)
        try:
            for outcome in opened:
                if isinstance(outcome, BaseException):
                    raise outcome
            b = Backend("postgres", [_postgres_node(s) for s in stores])
            await b.tokens.ensure_tenant(TENANT)
            await b.tokens.ensure_tenant(OTHER)
            yield b
        finally:
            for s in stores:
                await s.close()


# -- helpers -----------------------------------------------------------------------------

_names = itertools.count(1)


def action_fields(name: str | None = None, triggers: tuple[str, ...] = ("post-login",), code: str = "exports.x = 1;") -> dict[str, Any]:
    return {
        "name": name or f"action-{next(_names)}",
        "supported_triggers": [{"id": t, "version": "v3"} for t in triggers],
        "code": code,
        "dependencies": [{"name": "lodash", "version": "4.17.21"}],
        "runtime": "node22",
        "secrets": [{"name": "API_KEY", "value": "sealed", "updated_at": now_iso()}],
        "status": "built",
        "errors": [],
        "built_at": now_iso(),
    }


def assert_times(row: dict[str, Any], *keys: str) -> None:
    for key in keys or ("created_at", "updated_at"):
        assert isinstance(row[key], str) and ISO.match(row[key]), (key, row[key])


async def deployed_action(b: Backend, tenant: str = TENANT, **kw: Any) -> dict[str, Any]:
    action = await b.repo.insert_action(tenant, action_fields(**kw))
    _, action = await b.repo.deploy(tenant, action["id"], action, keep=50)
    return action


def order_key(action: dict[str, Any]) -> tuple[str, bytes]:
    return action["created_at"], action["id"].encode()


# -- actions -----------------------------------------------------------------------------


async def test_action_insert_get_and_lookup(backend: Backend) -> None:
    repo = backend.repo
    fields = action_fields("first")
    inserted = await repo.insert_action(TENANT, fields)
    assert inserted["tenant_id"] == TENANT and inserted["deployed_version_id"] is None
    assert {k: inserted[k] for k in fields} == fields
    assert_times(inserted, "created_at", "updated_at", "built_at")
    # the stored row reads back exactly as insert_action returned it (JSON decoded, same time strings)
    assert await repo.get_action(TENANT, inserted["id"]) == inserted
    assert await repo.action_by_name(TENANT, "first") == inserted
    # another tenant sees nothing
    assert await repo.get_action(OTHER, inserted["id"]) is None
    assert await repo.action_by_name(OTHER, "first") is None
    assert await repo.get_action(TENANT, "no-such-id") is None


async def test_list_actions_filters_and_paging(backend: Backend) -> None:
    repo = backend.repo
    a = await repo.insert_action(TENANT, action_fields("a", ("post-login",)))
    b = await repo.insert_action(TENANT, action_fields("b", ("credentials-exchange",)))
    c = await deployed_action(backend, name="c", triggers=("post-login", "pre-user-registration"))
    await repo.insert_action(OTHER, action_fields("a", ("post-login",)))
    everything = sorted([a, b, c], key=order_key)

    rows, total = await repo.list_actions(TENANT, None, None, None, 0, 50)
    assert total == 3 and [r["id"] for r in rows] == [r["id"] for r in everything]
    assert rows[[r["id"] for r in rows].index(a["id"])] == a

    rows, total = await repo.list_actions(TENANT, "post-login", None, None, 0, 50)
    assert total == 2 and {r["id"] for r in rows} == {a["id"], c["id"]}
    rows, total = await repo.list_actions(TENANT, "pre-user-registration", None, None, 0, 50)
    assert total == 1 and rows[0]["id"] == c["id"]
    rows, total = await repo.list_actions(TENANT, "send-phone-message", None, None, 0, 50)
    assert (rows, total) == ([], 0)

    rows, total = await repo.list_actions(TENANT, None, "b", None, 0, 50)
    assert total == 1 and rows[0] == b
    rows, total = await repo.list_actions(TENANT, None, None, True, 0, 50)
    assert total == 1 and rows[0]["id"] == c["id"] and rows[0]["deployed_version_id"]
    rows, total = await repo.list_actions(TENANT, None, None, False, 0, 50)
    assert total == 2 and {r["id"] for r in rows} == {a["id"], b["id"]}
    rows, total = await repo.list_actions(TENANT, "post-login", "a", False, 0, 50)
    assert total == 1 and rows[0]["id"] == a["id"]

    page0, total0 = await repo.list_actions(TENANT, None, None, None, 0, 2)
    page1, total1 = await repo.list_actions(TENANT, None, None, None, 1, 2)
    page2, total2 = await repo.list_actions(TENANT, None, None, None, 2, 2)
    assert total0 == total1 == total2 == 3
    assert [r["id"] for r in page0 + page1] == [r["id"] for r in everything] and page2 == []

    rows, total = await repo.list_actions(OTHER, None, None, None, 0, 50)
    assert total == 1 and rows[0]["tenant_id"] == OTHER


async def test_action_name_conflict(backend: Backend) -> None:
    repo = backend.repo
    first = await repo.insert_action(TENANT, action_fields("taken"))
    with pytest.raises(Conflict):
        await repo.insert_action(TENANT, action_fields("taken"))
    # the name is per tenant
    await repo.insert_action(OTHER, action_fields("taken"))
    second = await repo.insert_action(TENANT, action_fields("free"))
    with pytest.raises(Conflict):
        await repo.update_action(TENANT, second["id"], {"name": "taken"})
    assert await repo.get_action(TENANT, second["id"]) == second
    assert await repo.get_action(TENANT, first["id"]) == first
    rows, total = await repo.list_actions(TENANT, None, None, None, 0, 50)
    assert total == 2


async def test_update_action(backend: Backend) -> None:
    repo = backend.repo
    action = await repo.insert_action(TENANT, action_fields("upd"))
    await asyncio.sleep(0.002)
    updated = await repo.update_action(TENANT, action["id"], {
        "code": "exports.y = 2;", "status": "failed", "errors": [{"id": "SyntaxError", "msg": "x", "line": 1, "column": 2}],
        "supported_triggers": [{"id": "credentials-exchange", "version": "v2"}], "built_at": None})
    assert updated is not None
    assert updated["code"] == "exports.y = 2;" and updated["status"] == "failed" and updated["built_at"] is None
    assert updated["errors"] == [{"id": "SyntaxError", "msg": "x", "line": 1, "column": 2}]
    assert updated["name"] == "upd" and updated["created_at"] == action["created_at"]
    assert updated["updated_at"] > action["updated_at"]
    assert_times(updated)
    assert await repo.get_action(TENANT, action["id"]) == updated
    rows, _ = await repo.list_actions(TENANT, "credentials-exchange", None, None, 0, 50)
    assert [r["id"] for r in rows] == [action["id"]]
    renamed = await repo.update_action(TENANT, action["id"], {"name": "renamed"})
    assert renamed is not None and (await repo.action_by_name(TENANT, "renamed"))["id"] == action["id"]
    assert await repo.action_by_name(TENANT, "upd") is None
    assert await repo.update_action(TENANT, "no-such-id", {"code": ""}) is None
    assert await repo.update_action(OTHER, action["id"], {"code": ""}) is None


# -- versions ----------------------------------------------------------------------------


async def test_deploy_numbering_and_pruning(backend: Backend) -> None:
    repo = backend.repo
    action = await repo.insert_action(TENANT, action_fields("dep"))
    versions = []
    for i in range(1, 6):
        action = await repo.update_action(TENANT, action["id"], {"code": f"exports.v = {i};"})
        done = await repo.deploy(TENANT, action["id"], action, keep=3)
        assert done is not None
        version, action = done
        versions.append(version)
        assert version["number"] == i and version["code"] == f"exports.v = {i};"
        assert action["deployed_version_id"] == version["id"]
        assert_times(version, "created_at", "updated_at", "built_at")
        assert await repo.get_action(TENANT, action["id"]) == action
    rows, total = await repo.list_versions(TENANT, action["id"], 0, 50)
    assert total == 3 and [r["number"] for r in rows] == [5, 4, 3]
    stored = await repo.get_version(TENANT, action["id"], versions[-1]["id"])
    assert stored is not None and stored["tenant_id"] == TENANT
    assert {k: v for k, v in stored.items() if k != "tenant_id"} == versions[-1]
    assert await repo.get_version(TENANT, action["id"], versions[0]["id"]) is None  # pruned
    # keep=0: only the deployed version is never pruned
    done = await repo.deploy(TENANT, action["id"], action, keep=0)
    assert done is not None
    version, action = done
    rows, total = await repo.list_versions(TENANT, action["id"], 0, 50)
    assert total == 1 and rows[0]["id"] == version["id"] == action["deployed_version_id"] and rows[0]["number"] == 6
    assert await repo.deploy(TENANT, "no-such-id", action, keep=3) is None
    assert await repo.deploy(OTHER, action["id"], action, keep=3) is None


async def test_deploying_the_stored_draft_checks_that_it_built_in_the_same_transaction(backend: Backend) -> None:
    repo = backend.repo
    action = await repo.insert_action(TENANT, action_fields("draft", code="exports.v = 1;"))
    done = await repo.deploy(TENANT, action["id"], None, keep=10)  # the draft as stored now
    assert done is not None and done[0]["code"] == "exports.v = 1;"
    broken = await repo.update_action(TENANT, action["id"], {
        "code": "exports.v = ;", "status": "failed", "errors": [{"id": "build_error", "msg": "Unexpected token ';'", "url": ""}]})
    with pytest.raises(NotBuilt) as caught:
        await repo.deploy(TENANT, action["id"], None, keep=10)
    assert caught.value.status == "failed" and caught.value.errors[0]["msg"] == "Unexpected token ';'"
    _, total = await repo.list_versions(TENANT, action["id"], 0, 50)
    assert total == 1  # nothing was written
    assert broken is not None and (await repo.get_action(TENANT, action["id"]))["deployed_version_id"] == done[0]["id"]
    assert await repo.deploy(TENANT, "no-such-id", None, keep=3) is None


async def test_rollback_source_and_update_draft(backend: Backend) -> None:
    repo = backend.repo
    action = await repo.insert_action(TENANT, action_fields("rb", code="exports.a = 'A';"))
    v1, action = await repo.deploy(TENANT, action["id"], action, keep=10)
    action = await repo.update_action(TENANT, action["id"], {
        "code": "exports.b = 'B';", "secrets": [], "status": "failed", "errors": [{"msg": "bad"}]})
    old = await repo.get_version(TENANT, action["id"], v1["id"])
    # roll back without touching the draft
    v2, after = await repo.deploy(TENANT, action["id"], old, keep=10)
    assert v2["number"] == 2 and v2["code"] == "exports.a = 'A';" and v2["secrets"] == v1["secrets"]
    assert after["deployed_version_id"] == v2["id"] and after["code"] == "exports.b = 'B';" and after["status"] == "failed"
    assert await repo.get_action(TENANT, action["id"]) == after
    # roll back and put the code back in the draft
    v3, after = await repo.deploy(TENANT, action["id"], old, keep=10, update_draft=True)
    assert v3["number"] == 3 and after["deployed_version_id"] == v3["id"]
    assert after["code"] == "exports.a = 'A';" and after["secrets"] == v1["secrets"]
    assert after["status"] == "built" and after["errors"] == [] and after["built_at"] == v3["created_at"]
    assert await repo.get_action(TENANT, action["id"]) == after


async def test_versions_paging_and_lookup(backend: Backend) -> None:
    repo = backend.repo
    action = await repo.insert_action(TENANT, action_fields("pg"))
    ids = []
    for _ in range(4):
        version, action = await repo.deploy(TENANT, action["id"], action, keep=50)
        ids.append(version["id"])
    rows, total = await repo.list_versions(TENANT, action["id"], 1, 2)
    assert total == 4 and [r["number"] for r in rows] == [2, 1]
    assert (await repo.get_version(TENANT, action["id"], ids[0]))["number"] == 1
    other = await repo.insert_action(TENANT, action_fields("pg2"))
    assert await repo.get_version(TENANT, other["id"], ids[0]) is None
    assert await repo.get_version(OTHER, action["id"], ids[0]) is None
    assert await repo.list_versions(OTHER, action["id"], 0, 50) == ([], 0)


# -- bindings ----------------------------------------------------------------------------


async def test_bindings_replace_order_and_ids(backend: Backend) -> None:
    repo = backend.repo
    x = await deployed_action(backend, name="x")
    y = await deployed_action(backend, name="y")
    z = await deployed_action(backend, name="z")
    assert await repo.bindings(TENANT, "post-login") == []

    await repo.replace_bindings(TENANT, "post-login", [(x["id"], "X"), (y["id"], "Y")])
    first = await repo.bindings(TENANT, "post-login")
    assert [(b["action"]["id"], b["display_name"]) for b in first] == [(x["id"], "X"), (y["id"], "Y")]
    assert all(b["trigger_id"] == "post-login" for b in first)
    assert first[0]["action"] == await repo.get_action(TENANT, x["id"])  # the action row, JSON decoded
    for b in first:
        assert_times(b)
    x_binding, y_binding = first[0]["id"], first[1]["id"]
    assert await repo.binding_action(TENANT, x_binding) == x["id"]

    await asyncio.sleep(0.002)
    await repo.replace_bindings(TENANT, "post-login", [(z["id"], "Z"), (x["id"], "X2")])
    second = await repo.bindings(TENANT, "post-login")
    assert [(b["action"]["id"], b["display_name"]) for b in second] == [(z["id"], "Z"), (x["id"], "X2")]
    # x stayed bound: same binding id and creation time; y's binding is gone
    assert second[1]["id"] == x_binding and second[1]["created_at"] == first[0]["created_at"]
    assert second[1]["updated_at"] > first[0]["updated_at"]
    assert second[0]["id"] not in (x_binding, y_binding)
    assert await repo.binding_action(TENANT, y_binding) is None
    assert await repo.binding_action(OTHER, x_binding) is None

    # another trigger and another tenant are separate lists
    await repo.replace_bindings(TENANT, "credentials-exchange", [(y["id"], "Y")])
    assert [b["action"]["id"] for b in await repo.bindings(TENANT, "post-login")] == [z["id"], x["id"]]
    assert await repo.bindings(OTHER, "post-login") == []

    await repo.replace_bindings(TENANT, "post-login", [])
    assert await repo.bindings(TENANT, "post-login") == []
    assert len(await repo.bindings(TENANT, "credentials-exchange")) == 1


async def test_deployed_flow_is_the_bound_deployed_versions_in_order(backend: Backend) -> None:
    repo = backend.repo
    x = await deployed_action(backend, name="x")
    y = await deployed_action(backend, name="y")
    await repo.replace_bindings(TENANT, "post-login", [(y["id"], "Y"), (x["id"], "X")])
    flow = await repo.deployed_flow(TENANT, "post-login")
    y_now, x_now = await repo.get_action(TENANT, y["id"]), await repo.get_action(TENANT, x["id"])
    assert [(f["action_id"], f["name"], f["version_id"]) for f in flow] == [
        (y["id"], "y", y_now["deployed_version_id"]), (x["id"], "x", x_now["deployed_version_id"])]
    version = await repo.get_version(TENANT, y["id"], y_now["deployed_version_id"])
    assert flow[0]["code"] == version["code"] and flow[0]["secrets"] == version["secrets"]
    assert await repo.deployed_flow(OTHER, "post-login") == []
    assert await repo.deployed_flow(TENANT, "credentials-exchange") == []


async def test_delete_action_with_and_without_force(backend: Backend) -> None:
    repo = backend.repo
    bound = await deployed_action(backend, name="bound")
    free = await deployed_action(backend, name="free")
    await repo.replace_bindings(TENANT, "post-login", [(bound["id"], "b"), (free["id"], "f")])
    await repo.replace_bindings(TENANT, "post-login", [(bound["id"], "b")])

    assert await repo.delete_action(TENANT, bound["id"], force=False) == "bound"
    assert await repo.get_action(TENANT, bound["id"]) is not None
    assert len(await repo.bindings(TENANT, "post-login")) == 1
    assert (await repo.list_versions(TENANT, bound["id"], 0, 50))[1] == 1

    assert await repo.delete_action(OTHER, bound["id"], force=True) == "missing"
    assert await repo.delete_action(TENANT, free["id"], force=False) == "deleted"
    assert await repo.get_action(TENANT, free["id"]) is None
    assert await repo.list_versions(TENANT, free["id"], 0, 50) == ([], 0)

    assert await repo.delete_action(TENANT, bound["id"], force=True) == "deleted"
    assert await repo.get_action(TENANT, bound["id"]) is None
    assert await repo.bindings(TENANT, "post-login") == []
    assert await repo.list_versions(TENANT, bound["id"], 0, 50) == ([], 0)
    assert await repo.delete_action(TENANT, bound["id"], force=True) == "missing"
    # the name is free again
    await repo.insert_action(TENANT, action_fields("bound"))


# -- executions --------------------------------------------------------------------------


def execution(tenant: str, created_at: str, status: str = "allowed", eid: str | None = None) -> dict[str, Any]:
    return {"tenant_id": tenant, "id": eid or f"exec_{secrets.token_hex(8)}", "trigger_id": "post-login", "status": status,
            "results": {"actions": [{"action_name": "a", "status": "ok", "logs": "hi\n", "duration_ms": 1}], "error": None},
            "created_at": created_at, "updated_at": created_at}


async def test_executions_insert_get_purge(backend: Backend) -> None:
    repo = backend.repo
    old = execution(TENANT, "2020-01-02T03:04:05.678Z")
    new = execution(TENANT, now_iso())
    foreign = execution(OTHER, "2020-01-02T03:04:05.678Z")
    await repo.insert_executions([old, new, foreign])
    await repo.insert_executions([])

    got = await repo.get_execution(TENANT, new["id"])
    assert got == {k: v for k, v in new.items() if k != "tenant_id"}
    assert (await repo.get_execution(TENANT, old["id"]))["created_at"] == "2020-01-02T03:04:05.678Z"
    assert await repo.get_execution(OTHER, new["id"]) is None
    assert await repo.get_execution(TENANT, "exec_missing") is None

    # the same id again replaces the record
    again = {**new, "status": "denied", "results": {"actions": [], "error": {"class": "x"}}}
    await repo.insert_executions([again])
    assert await repo.get_execution(TENANT, new["id"]) == {k: v for k, v in again.items() if k != "tenant_id"}

    assert await repo.purge_executions("2021-01-01T00:00:00.000Z") == 2
    assert await repo.get_execution(TENANT, old["id"]) is None
    assert await repo.get_execution(OTHER, foreign["id"]) is None
    assert await repo.get_execution(TENANT, new["id"]) is not None
    assert await repo.purge_executions("2021-01-01T00:00:00.000Z") == 0


async def test_records_with_nul_characters_are_stored(backend: Backend) -> None:
    """An action may log a NUL, a login request may carry one: the server's own records are
    stored all the same (PostgreSQL, whose text cannot hold NUL, keeps U+FFFD in its place)."""
    record = execution(TENANT, now_iso())
    record["results"]["actions"][0]["logs"] = "a\x00b"
    record["results"]["k\x00"] = ["\x00"]
    await backend.repo.insert_executions([record])
    got = await backend.repo.get_execution(TENANT, record["id"])
    nul = "\x00" if backend.kind == "sqlite" else "\ufffd"
    assert got["results"]["actions"][0]["logs"] == f"a{nul}b" and got["results"][f"k{nul}"] == [nul]
    state = await backend.states().save(TENANT, "post-login", "exec_1", "flow", 0, {"event": {"q": "\x00"}})
    reason, saved = await backend.states().consume(TENANT, "post-login", state)
    assert reason is None and saved["saved"] == {"event": {"q": nul}}


# -- tokens and tenants ------------------------------------------------------------------


async def test_tokens_and_tenants(backend: Backend) -> None:
    tokens = backend.tokens
    assert await tokens.ensure_tenant("newco") is True
    assert await tokens.ensure_tenant("newco") is False
    assert await tokens.has_tokens("newco") is False

    newco_token, acme_token = new_token(), new_token()
    await tokens.add("newco", newco_token, ALL_SCOPES, "ci")
    await tokens.add(TENANT, acme_token, ["read:users"])
    assert await tokens.has_tokens("newco") is True
    assert await tokens.resolve(newco_token) == ("newco", frozenset(ALL_SCOPES))
    assert await tokens.resolve(acme_token) == (TENANT, frozenset({"read:users"}))
    assert await tokens.resolve(new_token()) is None
    assert await tokens.resolve("") is None

    # a token already stored stays as it is (its tenant and scopes)
    await tokens.add(OTHER, newco_token, ["read:users"])
    assert await tokens.resolve(newco_token) == ("newco", frozenset(ALL_SCOPES))
    assert await tokens.has_tokens(OTHER) is False

    with pytest.raises(ValueError):
        await tokens.add("newco", new_token(), ["read:everything"])
    with pytest.raises(Conflict):  # a token of a tenant that does not exist
        await tokens.add("ghost", new_token(), ALL_SCOPES)
    # tenants exist once however many nodes ensure them at the same time
    created = await asyncio.gather(*(backend.node(i).tokens.ensure_tenant("raced") for i in range(10)))
    assert created.count(True) == 1


# -- redirect states ---------------------------------------------------------------------


async def test_redirect_states_single_use_and_expiry(backend: Backend) -> None:
    states = backend.states()
    saved = {"event": {"user": {"user_id": "auth0|1"}}, "outcome": {"app_metadata": {"k": None}}, "actions": []}
    state = await states.save(TENANT, "post-login", "exec_1", "flow-key", 2, saved)
    assert isinstance(state, str) and len(state) >= 24

    assert await states.consume(OTHER, "post-login", state) == ("The state is not valid for this trigger.", None)
    assert await states.consume(TENANT, "credentials-exchange", state) == ("The state is not valid for this trigger.", None)
    reason, record = await states.consume(TENANT, "post-login", state)
    assert reason is None and record is not None
    assert record["saved"] == saved and record["execution_id"] == "exec_1" and record["flow_key"] == "flow-key"
    assert record["resume_index"] == 2 and record["trigger_id"] == "post-login" and record["tenant_id"] == TENANT
    assert await states.consume(TENANT, "post-login", state) == ("The state has already been used.", None)
    assert await states.consume(TENANT, "post-login", "no-such-state") == ("The state is not valid for this trigger.", None)

    expired = await backend.states(ttl=-1.0).save(TENANT, "post-login", "exec_2", "flow-key", 0, saved)
    assert await states.consume(TENANT, "post-login", expired) == ("The state has expired.", None)

    stale = await backend.states(ttl=-7200.0).save(TENANT, "post-login", "exec_3", "flow-key", 0, saved)
    assert await states.purge() == 1
    assert await states.consume(TENANT, "post-login", stale) == ("The state is not valid for this trigger.", None)
    assert await states.consume(TENANT, "post-login", expired) == ("The state has expired.", None)  # not an hour old yet


async def test_redirect_state_consumed_once_under_concurrency(backend: Backend) -> None:
    state = await backend.states().save(TENANT, "post-login", "exec_1", "flow-key", 0, {"event": {}})
    results = await asyncio.gather(*(backend.node(i).states().consume(TENANT, "post-login", state) for i in range(20)))
    assert sum(1 for reason, record in results if record is not None) == 1
    assert {reason for reason, record in results if record is None} == {"The state has already been used."}


# -- user profiles -----------------------------------------------------------------------


def new_user(user_id: str = "auth0|42", **extra: Any) -> dict[str, Any]:
    return {"user_id": user_id, "email": "sam@example.com", "nickname": "sam", "identities": [{"provider": "auth0"}],
            "app_metadata": {"plan": "free", "nested": {"x": 1, "y": 2}, "gone": True},
            "user_metadata": {"locale": "en-GB"}, **extra}


async def test_profiles_create_and_get(backend: Backend) -> None:
    profiles = backend.profiles
    assert profiles.atomic_upsert is True
    created = await profiles.create(TENANT, new_user(created_at="ignored", updated_at="ignored"))
    assert created is not None
    assert created["user_id"] == "auth0|42" and created["email"] == "sam@example.com"
    assert created["identities"] == [{"provider": "auth0"}]
    assert created["app_metadata"] == {"plan": "free", "nested": {"x": 1, "y": 2}, "gone": True}
    assert created["user_metadata"] == {"locale": "en-GB"}
    assert_times(created)
    assert created["created_at"] == created["updated_at"]
    assert await profiles.get(TENANT, "auth0|42") == created
    assert await profiles.get(TENANT, "auth0|42", timeout=5.0) == created
    assert await profiles.create(TENANT, new_user(email="other@example.com")) is None
    assert (await profiles.get(TENANT, "auth0|42"))["email"] == "sam@example.com"
    assert await profiles.get(OTHER, "auth0|42") is None
    assert await profiles.get(TENANT, "auth0|missing") is None
    bare = await profiles.create(OTHER, {"user_id": "auth0|42"}, timeout=5.0)
    assert bare is not None and bare["app_metadata"] == {} and bare["user_metadata"] == {}


async def test_a_user_looked_up_before_it_exists_is_found_once_created(backend: Backend) -> None:
    profiles = backend.profiles
    assert await profiles.get(TENANT, "auth0|later") is None
    assert await profiles.get(TENANT, "auth0|later") is None
    created = await profiles.upsert(TENANT, {"user_id": "auth0|later"}, {"a": 1}, None)
    assert await profiles.get(TENANT, "auth0|later") == created
    assert await profiles.get(OTHER, "auth0|later") is None


async def test_sqlite_a_lookup_answered_after_the_user_was_created_does_not_hide_it(tmp_path: Path) -> None:
    """The SQLite profiles remember absent users: a read that found nobody, but whose answer
    arrives after a concurrent create was remembered, must not overwrite the created user."""
    store = SqliteStore(tmp_path / "race.db")
    await store.open()
    try:
        profiles = SqliteProfiles(store)
        created = asyncio.Event()
        read = store.read

        async def late_read(fn: Any) -> Any:
            answer = await read(fn)  # nobody there yet ...
            await created.wait()  # ... answered after the create
            return answer

        store.read = late_read  # type: ignore[method-assign]
        lookup = asyncio.create_task(profiles.get(TENANT, "auth0|race"))
        await asyncio.sleep(0.05)
        made = await profiles.create(TENANT, {"user_id": "auth0|race"})
        created.set()
        assert await lookup is None
        assert await profiles.get(TENANT, "auth0|race") == made
    finally:
        await store.close()


async def test_profiles_patch_semantics(backend: Backend) -> None:
    profiles = backend.profiles
    created = await profiles.create(TENANT, new_user())
    await asyncio.sleep(0.002)
    patched = await profiles.patch(TENANT, "auth0|42",
                                   {"new": [1, 2], "nested": {"z": 3}, "gone": None, "never-there": None, "plan": "pro"},
                                   None, timeout=5.0)
    assert patched is not None
    # top-level merge; null deletes; a nested object replaces the stored one whole
    assert patched["app_metadata"] == {"plan": "pro", "nested": {"z": 3}, "new": [1, 2]}
    assert patched["user_metadata"] == {"locale": "en-GB"}
    assert patched["created_at"] == created["created_at"] and patched["updated_at"] > created["updated_at"]
    assert_times(patched)
    assert await profiles.get(TENANT, "auth0|42") == patched

    patched = await profiles.patch(TENANT, "auth0|42", {}, {"locale": None, "theme": {"dark": True}, "n": None})
    assert patched["app_metadata"] == {"plan": "pro", "nested": {"z": 3}, "new": [1, 2]}
    assert patched["user_metadata"] == {"theme": {"dark": True}}
    # values that are JSON but not objects, and falsy ones, are kept as they are
    patched = await profiles.patch(TENANT, "auth0|42", {"zero": 0, "empty": "", "f": False, "list": [], "obj": {}}, None)
    assert {k: patched["app_metadata"][k] for k in ("zero", "empty", "f", "list", "obj")} == \
        {"zero": 0, "empty": "", "f": False, "list": [], "obj": {}}

    # root attributes: merged the same way; the reserved ones cannot be changed this way
    patched = await profiles.patch(TENANT, "auth0|42", None, None,
                                   {"email": "new@example.com", "nickname": None, "user_id": "auth0|hijack",
                                    "created_at": "2000-01-01T00:00:00.000Z", "app_metadata": {"no": 1}, "blocked": True})
    assert patched["email"] == "new@example.com" and "nickname" not in patched and patched["blocked"] is True
    assert patched["user_id"] == "auth0|42" and patched["created_at"] == created["created_at"]
    assert "no" not in patched["app_metadata"]
    assert await profiles.get(TENANT, "auth0|42") == patched
    assert await profiles.get(TENANT, "auth0|hijack") is None

    assert await profiles.patch(TENANT, "auth0|missing", {"a": 1}, None) is None
    assert await profiles.patch(OTHER, "auth0|42", {"a": 1}, None) is None
    assert await profiles.get(TENANT, "auth0|missing") is None


async def test_profiles_upsert_semantics(backend: Backend) -> None:
    profiles = backend.profiles
    # a new user: created from `user`, the patches merged into its metadata, in one write
    user = await profiles.upsert(TENANT, new_user(), {"k": 1, "gone": None, "nested": {"n": 0}}, None, timeout=5.0)
    assert user["user_id"] == "auth0|42" and user["email"] == "sam@example.com"
    assert user["app_metadata"] == {"plan": "free", "nested": {"n": 0}, "k": 1}
    assert user["user_metadata"] == {"locale": "en-GB"}
    assert_times(user)
    assert await profiles.get(TENANT, "auth0|42") == user

    # an existing user: the stored row wins over `user`; no patch changes nothing
    await asyncio.sleep(0.002)
    same = await profiles.upsert(TENANT, new_user(email="x@example.com", app_metadata={"plan": "enterprise"}), None, None)
    assert same == user
    same = await profiles.upsert(TENANT, new_user(), {}, {})
    assert same == user
    # ... and a patch is merged into the stored metadata
    merged = await profiles.upsert(TENANT, new_user(app_metadata={"ignored": True}), {"plan": None}, {"tz": "UTC"})
    assert merged["app_metadata"] == {"nested": {"n": 0}, "k": 1}
    assert merged["user_metadata"] == {"locale": "en-GB", "tz": "UTC"}
    assert merged["email"] == "sam@example.com" and merged["created_at"] == user["created_at"]
    assert merged["updated_at"] > user["updated_at"]
    assert await profiles.get(TENANT, "auth0|42") == merged

    # a new user without patches
    plain = await profiles.upsert(TENANT, {"user_id": "auth0|plain"}, None, None)
    assert plain["app_metadata"] == {} and plain["user_metadata"] == {} and plain["user_id"] == "auth0|plain"
    assert await profiles.get(OTHER, "auth0|plain") is None


async def test_200_concurrent_patches_keep_every_key(backend: Backend) -> None:
    await backend.profiles.create(TENANT, {"user_id": "auth0|hot", "app_metadata": {"seed": True}})
    await asyncio.gather(*(
        backend.node(i).profiles.patch(TENANT, "auth0|hot", {f"app_{i}": i}, {f"user_{i}": [i]} if i % 2 else None)
        for i in range(200)))
    user = await backend.profiles.get(TENANT, "auth0|hot")
    assert user["app_metadata"] == {"seed": True, **{f"app_{i}": i for i in range(200)}}
    assert user["user_metadata"] == {f"user_{i}": [i] for i in range(200) if i % 2}


async def test_50_concurrent_upserts_of_a_new_user(backend: Backend) -> None:
    results = await asyncio.gather(*(
        backend.node(i).profiles.upsert(TENANT, {"user_id": "auth0|first-login", "email": f"{i}@example.com",
                                                 "app_metadata": {"initial": i}},
                                        {f"k{i}": i}, {f"u{i}": True})
        for i in range(50)))
    user = await backend.profiles.get(TENANT, "auth0|first-login")
    app = user["app_metadata"]
    # exactly one create won: its initial metadata and e-mail; every patch is there
    assert {k: v for k, v in app.items() if k != "initial"} == {f"k{i}": i for i in range(50)}
    assert user["email"] == f"{app['initial']}@example.com"
    assert user["user_metadata"] == {f"u{i}": True for i in range(50)}
    assert len({r["created_at"] for r in results}) == 1
    assert all(r["user_id"] == "auth0|first-login" for r in results)


# -- concurrency of the repository ---------------------------------------------------------


async def test_concurrent_binding_replacements_end_in_one_list(backend: Backend) -> None:
    actions = [await deployed_action(backend) for _ in range(6)]
    rng = random.Random(7)
    lists = []
    for _ in range(24):
        chosen = rng.sample(actions, rng.randint(0, len(actions)))
        lists.append([(a["id"], a["name"]) for a in chosen])
    for _ in range(3):
        await asyncio.gather(*(backend.node(i).repo.replace_bindings(TENANT, "post-login", wanted)
                               for i, wanted in enumerate(lists)))
        final = [(b["action"]["id"], b["display_name"]) for b in await backend.repo.bindings(TENANT, "post-login")]
        assert final in lists


async def test_concurrent_deploys_number_versions_once(backend: Backend) -> None:
    action = await backend.repo.insert_action(TENANT, action_fields("busy"))
    done = await asyncio.gather(*(backend.node(i).repo.deploy(TENANT, action["id"], action, keep=50) for i in range(12)))
    numbers = sorted(version["number"] for version, _ in done)
    assert numbers == list(range(1, 13))
    latest = max((version for version, _ in done), key=lambda v: v["number"])
    assert (await backend.repo.get_action(TENANT, action["id"]))["deployed_version_id"] == latest["id"]


# -- PostgreSQL only ---------------------------------------------------------------------


async def test_postgres_nodes_starting_together_migrate_once() -> None:
    async with fresh_database() as dsn:
        stores = [PostgresStore(dsn, min_size=1, max_size=2) for _ in range(4)]
        await asyncio.gather(*(s.open() for s in stores))
        try:
            rows = await stores[0].fetch("SELECT version FROM schema_migrations ORDER BY version")
            assert [r["version"] for r in rows] == [version for version, _ in POSTGRES_MIGRATIONS]
            async with stores[1].pool.acquire() as conn:
                assert await migrate(conn) == []  # nothing left to apply
            columns = await stores[0].fetch(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'users' ORDER BY column_name")
            assert {r["column_name"]: r["data_type"] for r in columns}["app_metadata"] == "jsonb"
        finally:
            for s in stores:
                await s.close()
        # a store that is closed and opened again finds the schema in place
        again = PostgresStore(dsn)
        await again.open()
        await again.close()


async def test_postgres_refuses_a_nul_in_a_profile_as_a_failed_write() -> None:
    async with fresh_database() as dsn:
        store = PostgresStore(dsn)
        await store.open()
        try:
            profiles = PostgresProfiles(store)
            await profiles.create(TENANT, {"user_id": "auth0|1"})
            with pytest.raises(WriteFailed, match="NUL"):
                await profiles.patch(TENANT, "auth0|1", {"k": "a\x00b"}, None)
            with pytest.raises(WriteFailed, match="NUL"):
                await profiles.get(TENANT, "auth0|\x00")
            assert (await profiles.get(TENANT, "auth0|1"))["app_metadata"] == {}
        finally:
            await store.close()


async def test_postgres_profile_store_down_is_store_unavailable() -> None:
    """A store that cannot be reached answers StoreUnavailable, which the profile writer retries."""
    async with fresh_database() as dsn:
        store = PostgresStore(dsn)
        await store.open()
        profiles = PostgresProfiles(store)
        await profiles.create(TENANT, {"user_id": "auth0|1"})
        maintenance = await asyncpg.connect(MAINTENANCE_DSN, timeout=10)
        try:
            # every connection of the pool is cut, as when the server restarts
            await maintenance.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                                      " WHERE datname = $1 AND pid <> pg_backend_pid()", dsn.rsplit("/", 1)[1])
            # the pool replaces a connection it finds closed; one it had not yet found closed fails
            # the call with StoreUnavailable, and the retry (as the profile writer makes) succeeds
            try:
                patched = await profiles.patch(TENANT, "auth0|1", {"k": 1}, None, timeout=5.0)
            except StoreUnavailable:
                patched = await profiles.patch(TENANT, "auth0|1", {"k": 1}, None, timeout=5.0)
            assert patched["app_metadata"] == {"k": 1}
            # a write that outlives its timeout (another session holds the row) is abandoned
            other = await asyncpg.connect(dsn, timeout=10)
            try:
                async with other.transaction():
                    await other.execute("SELECT 1 FROM users WHERE user_id = 'auth0|1' FOR UPDATE")
                    with pytest.raises(StoreUnavailable):
                        await profiles.patch(TENANT, "auth0|1", {"late": 1}, None, timeout=0.3)
            finally:
                await other.close()
            # (whether the abandoned write still landed is not known: the writer retries the same
            # absolute values) and the pool goes on serving
            after = await profiles.patch(TENANT, "auth0|1", {"after": True}, None, timeout=5.0)
            assert after["app_metadata"]["k"] == 1 and after["app_metadata"]["after"] is True
        finally:
            await maintenance.close()
            await store.close()
    # a server that does not answer at all
    down = PostgresStore("postgresql://postgres@127.0.0.1:1/none")
    down._pool = await asyncpg.create_pool(down.dsn, min_size=0)  # no connection until one is needed
    try:
        with pytest.raises(StoreUnavailable):
            await PostgresProfiles(down).get(TENANT, "auth0|1", timeout=5.0)
    finally:
        await down.close()


async def test_sqlite_a_failing_write_in_a_group_fails_alone(tmp_path: Path) -> None:
    """Writes queued together commit as one transaction, run first without a savepoint per
    write; one that raises (or breaks a uniqueness rule) must fail alone, its changes undone,
    and every other write of the group must still be committed."""
    store = SqliteStore(tmp_path / "group.db")
    await store.open()
    try:
        def insert(i: int, then: str = "") -> Any:
            def op(conn: Any) -> int:
                conn.execute("INSERT INTO tenants (id, created_at) VALUES (?, ?)",
                             (f"t{3 if then == 'duplicate' else i}", "2026-01-01T00:00:00.000Z"))
                if then == "raise":
                    raise ValueError("refused")
                return i
            return op

        kinds = {7: "raise", 11: "duplicate"}
        outcomes = await asyncio.gather(*(store.write(insert(i, kinds.get(i, ""))) for i in range(20)),
                                        return_exceptions=True)
        assert isinstance(outcomes[7], ValueError) and isinstance(outcomes[11], Conflict)
        assert [o for i, o in enumerate(outcomes) if i not in kinds] == [i for i in range(20) if i not in kinds]
        ids = await store.read(lambda conn: {r[0] for r in conn.execute("SELECT id FROM tenants")})
        assert ids == {f"t{i}" for i in range(20) if i not in kinds}
        assert store.commits < 20  # they did go as a group
    finally:
        await store.close()


async def test_tarballs_no_tree_names_are_pruned_once_old_enough(backend: Backend) -> None:
    repo = backend.repo

    def tree(*keys: str) -> dict[str, Any]:
        return {"lockfileVersion": 1, "dependencies": [], "packages": {f"node_modules/p{i}": {"key": k, "files": []} for i, k in enumerate(keys)}}
    kept_by_draft, kept_by_version, other_tenant, unused, fresh = ("a" * 128, "b" * 128, "c" * 128, "d" * 128, "e" * 128)
    for key in (kept_by_draft, kept_by_version, unused):
        await repo.put_tarball(TENANT, key, key.encode())
    await repo.put_tarball(OTHER, other_tenant, b"other")
    action = await repo.insert_action(TENANT, {**action_fields(), "tree": tree(kept_by_version)})
    _, action = await repo.deploy(TENANT, action["id"], None, keep=50)  # the version keeps the tree
    await repo.update_action(TENANT, action["id"], {"tree": tree(kept_by_draft)})  # the draft moves on
    await repo.insert_action(OTHER, {**action_fields(), "tree": tree(other_tenant)})
    assert await repo.tarball_keys_in_use() == {kept_by_draft, kept_by_version, other_tenant}
    assert await repo.prune_tarballs("2000-01-01T00:00:00.000Z") == 0  # nothing old enough
    await repo.put_tarball(TENANT, fresh, b"fresh")
    later = "2999-01-01T00:00:00.000Z"
    assert await repo.prune_tarballs(later) == 2  # unused and fresh: no tree names them
    assert await repo.get_tarball(TENANT, unused) is None and await repo.get_tarball(TENANT, fresh) is None
    for tenant, key in ((TENANT, kept_by_draft), (TENANT, kept_by_version), (OTHER, other_tenant)):
        assert await repo.get_tarball(tenant, key) is not None
    # a tarball named only by another tenant's tree is that tenant's alone
    await repo.put_tarball(TENANT, other_tenant, b"mine")
    assert await repo.prune_tarballs(later) == 1 and await repo.get_tarball(OTHER, other_tenant) == b"other"

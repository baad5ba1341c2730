"""The trigger runtime end to end: a real `actionhost serve` on loopback, real V8, and a user
store that counts writes (a small Management-API app in the test, which can also answer 429,
500 or nothing at all)."""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from typing import Any

import httpx
import pytest
from aiohttp import web
from conftest import ADMIN_TOKEN, WORKLOAD, start_server, workload_event

pytestmark = pytest.mark.timeout(180)

SET_APP = "exports.onExecutePostLogin = async (event, api) => {{ api.user.setAppMetadata({key!r}, {value}); }};"


class FakeUserStore:
    """GET/POST/PATCH /api/v2/users with Auth0's merge semantics, counting what it applies."""

    def __init__(self) -> None:
        self.users: dict[str, dict[str, Any]] = {}
        self.patches: list[tuple[float, str, dict[str, Any]]] = []  # applied (time, user, body)
        self.attempts: list[float] = []  # every PATCH that arrived, applied or not
        self.mode = "ok"  # ok | 429-once | 429-forever | 500 | hang | lose-response-once
        self.reset_ahead = 2.0
        self.runner: web.AppRunner | None = None
        self.port = 0

    def _merge(self, user: dict[str, Any], body: dict[str, Any]) -> None:
        for key in ("app_metadata", "user_metadata"):
            for k, v in (body.get(key) or {}).items():
                if v is None:
                    user[key].pop(k, None)
                else:
                    user[key][k] = v

    async def get(self, request: web.Request) -> web.Response:
        user = self.users.get(request.match_info["id"])
        return web.json_response(user) if user else web.json_response({"statusCode": 404}, status=404)

    async def create(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body["user_id"] in self.users:
            return web.json_response({"statusCode": 409}, status=409)
        user = {**body, "app_metadata": body.get("app_metadata") or {}, "user_metadata": body.get("user_metadata") or {}}
        self.users[body["user_id"]] = user
        return web.json_response(user, status=201)

    async def patch(self, request: web.Request) -> web.Response:
        self.attempts.append(time.time())
        body = await request.json()
        mode = self.mode
        if mode == "429-once":
            self.mode = "ok"
        if mode in ("429-once", "429-forever"):
            reset = math.ceil(time.time() + self.reset_ahead)
            return web.json_response({"statusCode": 429}, status=429, headers={
                "X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)})
        if mode == "500":
            return web.json_response({"statusCode": 500}, status=500)
        if mode == "hang":
            await asyncio.sleep(60)
        user = self.users.get(request.match_info["id"])
        if user is None:
            return web.json_response({"statusCode": 404}, status=404)
        self._merge(user, body)
        self.patches.append((time.time(), request.match_info["id"], body))
        if mode == "lose-response-once":
            self.mode = "ok"
            raise ConnectionResetError("response lost after the write")  # aiohttp drops the connection
        return web.json_response(user)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/api/v2/users/{id}", self.get)
        app.router.add_post("/api/v2/users", self.create)
        app.router.add_patch("/api/v2/users/{id}", self.patch)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


@pytest.fixture
async def fake_store():
    store = FakeUserStore()
    await store.start()
    yield store
    await store.stop()


@pytest.fixture
def make_server(tmp_path):
    started = []

    def make(*flags: str, env: dict[str, str] | None = None):
        srv = start_server(tmp_path / f"data{len(started)}", *flags, env=env)
        started.append(srv)
        return srv

    yield make
    for srv in started:
        srv.stop()


async def deploy_flow(client: httpx.AsyncClient, codes: list[str]) -> None:
    """Create, deploy and bind the actions, in order, to post-login."""
    refs = []
    for code in codes:
        name = f"a-{uuid.uuid4().hex[:8]}"
        r = await client.post("/api/v2/actions/actions", json={
            "name": name, "supported_triggers": [{"id": "post-login", "version": "v3"}], "code": code, "deploy": True})
        assert r.status_code == 201, r.text
        refs.append({"ref": {"type": "action_name", "value": name}})
    r = await client.patch("/api/v2/actions/triggers/post-login/bindings", json={"bindings": refs})
    assert r.status_code == 200, r.text


def api_client(server) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=server.url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=60)


async def execute(client: httpx.AsyncClient, event: dict[str, Any]) -> dict[str, Any]:
    r = await client.post("/triggers/post-login/execute", json={"event": event})
    assert r.status_code == 200, r.text
    return r.json()


SEED = [
    (WORKLOAD / "01_expensive_task_once.js").read_text(),
    "exports.onExecutePostLogin = async (event, api) => { api.user.setUserMetadata('theme', 'dark'); api.user.setAppMetadata('plan', 'pro'); };",
    "exports.onExecutePostLogin = async (event, api) => { api.user.setAppMetadata('plan', 'enterprise'); api.user.setUserMetadata('lang', null); };",
]


async def test_three_actions_setting_metadata_make_exactly_one_store_write(make_server, fake_store):
    server = make_server("--profile-store", f"http://127.0.0.1:{fake_store.port}")
    async with api_client(server) as client:
        await deploy_flow(client, SEED)
        event = workload_event("1001", user_metadata={"locale": "en-GB", "lang": "en"})
        first = await execute(client, event)
        assert first["status"] == "allowed", first
        assert len(fake_store.patches) == 1
        _, user_id, body = fake_store.patches[0]
        assert user_id == "auth0|1001"
        assert body == {"app_metadata": {"didAnExpensiveTask": True, "plan": "enterprise"},
                        "user_metadata": {"theme": "dark", "lang": None}}
        assert first["user"]["app_metadata"] == {"didAnExpensiveTask": True, "plan": "enterprise"}
        assert first["user"]["user_metadata"] == {"locale": "en-GB", "theme": "dark"}

        second = await execute(client, event)
        assert second["status"] == "allowed"
        assert "Skipping the expensive task" in second["actions"][0]["logs"]
        # the later actions still write (same values): one write for the second login too
        assert len(fake_store.patches) == 2
        assert fake_store.patches[1][2]["app_metadata"] == {"plan": "enterprise"}


async def test_a_429_with_reset_two_seconds_ahead_is_retried_once_after_the_reset(make_server, fake_store):
    server = make_server("--profile-store", f"http://127.0.0.1:{fake_store.port}")
    async with api_client(server) as client:
        await deploy_flow(client, [SET_APP.format(key="k", value="1")])
        fake_store.mode = "429-once"
        result = await execute(client, workload_event("2001"))
        assert result["status"] == "allowed", result
        assert len(fake_store.attempts) == 2
        assert len(fake_store.patches) == 1
        refused_at, retried_at = fake_store.attempts
        reset = math.ceil(refused_at + fake_store.reset_ahead)
        assert retried_at >= reset - 0.01, (refused_at, retried_at, reset)


async def test_a_store_answering_429_forever_fails_the_execution_within_budget_and_applies_nothing(make_server, fake_store):
    server = make_server("--profile-store", f"http://127.0.0.1:{fake_store.port}", "--execution-budget", "4")
    async with api_client(server) as client:
        await deploy_flow(client, [SET_APP.format(key="k", value="1")])
        fake_store.mode = "429-forever"
        fake_store.reset_ahead = 1.0
        started = time.monotonic()
        result = await execute(client, workload_event("3001"))
        elapsed = time.monotonic() - started
        assert result["status"] == "failed"
        assert result["error"]["class"] == "rate_limited"
        assert elapsed < 4 + 1.5
        assert fake_store.patches == []
        assert fake_store.users["auth0|3001"]["app_metadata"] == {}


@pytest.mark.parametrize("mode", ["500", "hang"])
async def test_a_failing_store_gets_bounded_retries_and_a_clear_failure(make_server, fake_store, mode):
    server = make_server("--profile-store", f"http://127.0.0.1:{fake_store.port}", "--execution-budget", "12")
    async with api_client(server) as client:
        await deploy_flow(client, [SET_APP.format(key="k", value="1")])
        fake_store.mode = mode
        result = await execute(client, workload_event("4001"))
        assert result["status"] == "failed"
        assert result["error"]["class"] == "platform_error"
        assert "profile" in result["error"]["message"]
        assert 1 <= len(fake_store.attempts) <= 4
        assert fake_store.patches == []


async def test_a_lost_response_after_a_successful_write_is_retried_without_changing_the_result(make_server, fake_store):
    server = make_server("--profile-store", f"http://127.0.0.1:{fake_store.port}")
    async with api_client(server) as client:
        await deploy_flow(client, ["exports.onExecutePostLogin = async (event, api) => { api.user.setAppMetadata('logins', event.stats.logins_count); };"])
        fake_store.mode = "lose-response-once"
        result = await execute(client, workload_event("5001"))
        assert result["status"] == "allowed", result
        # applied twice at the store, but the patch is absolute: the profile is as after one
        assert [body for _, _, body in fake_store.patches] == [{"app_metadata": {"logins": 12}}] * 2
        assert fake_store.users["auth0|5001"]["app_metadata"] == {"logins": 12}


async def test_two_hundred_concurrent_logins_under_a_tight_limit_apply_every_patch_once(make_server, fake_store):
    server = make_server("--profile-store", f"http://127.0.0.1:{fake_store.port}", "--write-rate", "100", "--write-burst", "5")
    async with api_client(server) as client:
        await deploy_flow(client, ["exports.onExecutePostLogin = async (event, api) => { api.user.setAppMetadata('seen', event.user.user_id); };"])
        results = await asyncio.gather(*(execute(client, workload_event(str(6000 + i))) for i in range(200)))
        assert [r["status"] for r in results] == ["allowed"] * 200
        per_user: dict[str, int] = {}
        for _, user_id, _ in fake_store.patches:
            per_user[user_id] = per_user.get(user_id, 0) + 1
        assert len(per_user) == 200 and set(per_user.values()) == {1}
        times = sorted(t for t, _, _ in fake_store.patches)
        # never faster than the limit: 200 writes at 100/s with a burst of 5 take >= 1.9 s
        assert times[-1] - times[0] >= (200 - 5) / 100 - 0.1


async def test_two_hundred_concurrent_executions_for_one_user_keep_every_key(make_server):
    server = make_server("--write-rate", "1000", "--write-burst", "1000")
    async with api_client(server) as client:
        await deploy_flow(client, ["exports.onExecutePostLogin = async (event, api) => { api.user.setAppMetadata('k_' + event.transaction.id, true); };"])
        events = []
        for i in range(200):
            event = workload_event("7001")
            event["transaction"]["id"] = str(i)
            events.append(event)
        results = await asyncio.gather(*(execute(client, e) for e in events))
        assert all(r["status"] == "allowed" for r in results)
        r = await client.get("/api/v2/users/auth0%7C7001")
        assert r.status_code == 200
        assert set(r.json()["app_metadata"]) == {f"k_{i}" for i in range(200)}


REDIRECTING = """
exports.onExecutePostLogin = async (event, api) => {
  api.user.setAppMetadata('before_redirect', true);
  const token = api.redirect.encodeToken({ secret: event.secrets.SIGNING || 'shh', payload: { nonce: 'n1' } });
  api.redirect.sendUserTo('https://mfa.example.com/start', { query: { session_token: token } });
};
exports.onContinuePostLogin = async (event, api) => {
  api.user.setAppMetadata('after_continue', event.request.query.answer);
  api.idToken.setCustomClaim('continued', true);
};
"""


async def test_redirect_writes_metadata_before_answering_and_continue_resumes_once(make_server):
    server = make_server("--redirect-state-ttl", "3")
    async with api_client(server) as client:
        await deploy_flow(client, [
            "exports.onExecutePostLogin = async (event, api) => { api.idToken.setCustomClaim('first', 1); };",
            REDIRECTING,
            "exports.onExecutePostLogin = async (event, api) => { api.idToken.setCustomClaim('last', event.user.app_metadata.after_continue); };",
        ])
        result = await execute(client, workload_event("8001"))
        assert result["status"] == "redirect", result
        url = httpx.URL(result["redirect"]["url"])
        assert url.host == "mfa.example.com"
        state = url.params["state"]
        assert url.params["session_token"].count(".") == 2
        stored = (await client.get("/api/v2/users/auth0%7C8001")).json()
        assert stored["app_metadata"] == {"before_redirect": True}

        r = await client.post("/triggers/post-login/continue", json={"state": state, "request": {"query": {"answer": "42"}}})
        assert r.status_code == 200, r.text
        resumed = r.json()
        assert resumed["status"] == "allowed", resumed
        assert resumed["execution_id"] == result["execution_id"]
        assert resumed["id_token_claims"] == {"first": 1, "continued": True, "last": "42"}
        stored = (await client.get("/api/v2/users/auth0%7C8001")).json()
        assert stored["app_metadata"] == {"before_redirect": True, "after_continue": "42"}

        replay = await client.post("/triggers/post-login/continue", json={"state": state, "request": {"query": {}}})
        assert replay.status_code == 400
        assert "already been used" in replay.json()["message"]

        second = await execute(client, workload_event("8002"))
        expired_state = httpx.URL(second["redirect"]["url"]).params["state"]
        await asyncio.sleep(3.5)
        expired = await client.post("/triggers/post-login/continue", json={"state": expired_state, "request": {}})
        assert expired.status_code == 400
        assert "expired" in expired.json()["message"]


async def test_deny_still_persists_metadata_queued_before_it(make_server):
    server = make_server()
    async with api_client(server) as client:
        await deploy_flow(client, [
            SET_APP.format(key="before", value="1"),
            "exports.onExecutePostLogin = async (event, api) => { api.user.setAppMetadata('denier', 2); api.access.deny('nope'); };",
            SET_APP.format(key="never", value="3"),
        ])
        result = await execute(client, workload_event("9001"))
        assert result["status"] == "denied"
        assert result["deny"] == {"reason": "nope"}
        assert result["user"]["app_metadata"] == {"before": 1, "denier": 2}


async def test_an_uncaught_error_keeps_earlier_metadata_and_names_the_action(make_server):
    server = make_server()
    async with api_client(server) as client:
        await deploy_flow(client, [
            SET_APP.format(key="before", value="1"),
            "exports.onExecutePostLogin = async (event, api) => { api.user.setAppMetadata('lost', 2); throw new Error('kaput'); };",
        ])
        result = await execute(client, workload_event("9101"))
        assert result["status"] == "failed"
        assert result["error"]["class"] == "action_error"
        assert result["error"]["message"] == "Error: kaput"
        assert result["user"]["app_metadata"] == {"before": 1}
        await asyncio.sleep(0.5)  # the record is written off the hot path
        record = await client.get(f"/api/v2/actions/executions/{result['execution_id']}")
        assert record.status_code == 200
        body = record.json()
        assert body["status"] == "final"
        assert [r.get("action_name") for r in body["results"]][:2] == [result["actions"][0]["action_name"], result["actions"][1]["action_name"]]


async def test_stored_metadata_overrides_the_callers_and_unknown_users_are_created(make_server):
    server = make_server()
    async with api_client(server) as client:
        await deploy_flow(client, ["exports.onExecutePostLogin = async (event, api) => { api.idToken.setCustomClaim('plan', event.user.app_metadata.plan || 'none'); };"])
        event = workload_event("9201", app_metadata={"plan": "forged"})
        first = await execute(client, event)
        # the caller's metadata seeds a user the store does not know yet
        assert first["id_token_claims"] == {"plan": "forged"}
        await client.patch("/api/v2/users/auth0%7C9201", json={"app_metadata": {"plan": "stored"}})
        second = await execute(client, event)
        assert second["id_token_claims"] == {"plan": "stored"}


async def test_bad_trigger_requests_get_4xx(make_server):
    server = make_server()
    async with api_client(server) as client:
        assert (await client.post("/triggers/no-such/execute", json={"event": {}})).status_code == 404
        assert (await client.post("/triggers/post-login/execute", json={"event": {"user": {}}})).status_code == 400
        assert (await client.post("/triggers/post-login/execute", content=b"{nope",
                                  headers={"Content-Type": "application/json"})).status_code == 400
        assert (await client.post("/triggers/post-login/continue", json={"state": "forged"})).status_code == 400
        limited = (await client.post("/triggers/post-login/execute", json={"event": {"user": {"user_id": "x" * 300}}}))
        assert limited.status_code == 400


async def test_actionhost_users_api_answers_429_with_rate_limit_headers(make_server):
    server = make_server("--write-rate", "1", "--write-burst", "2")
    async with api_client(server) as client:
        r = await client.post("/api/v2/users", json={"user_id": "auth0|r1", "connection": "db"})
        assert r.status_code == 201
        assert {"x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"} <= set(r.headers)
        answers = [await client.patch("/api/v2/users/auth0%7Cr1", json={"app_metadata": {"n": i}}) for i in range(3)]
        limited = [a for a in answers if a.status_code == 429]
        assert limited, [a.status_code for a in answers]
        assert limited[0].json()["statusCode"] == 429
        assert int(limited[0].headers["x-ratelimit-reset"]) >= int(time.time())
        assert limited[0].headers["x-ratelimit-remaining"] == "0"


async def test_one_actionhost_can_be_another_ones_profile_store(make_server):
    store = make_server("--write-rate", "2", "--write-burst", "1")
    front = make_server("--profile-store", store.url, env={"ACTIONHOST_PROFILE_STORE_TOKEN": ADMIN_TOKEN})
    # the front's token for the store: the store's admin token (the same test token here)
    async with api_client(front) as client:
        await deploy_flow(client, [SET_APP.format(key="via", value="'front'")])
        results = await asyncio.gather(*(execute(client, workload_event(str(9300 + i))) for i in range(4)))
        assert [r["status"] for r in results] == ["allowed"] * 4, results
    async with api_client(store) as direct:
        for i in range(4):
            user = (await direct.get(f"/api/v2/users/auth0%7C{9300 + i}")).json()
            assert user["app_metadata"] == {"via": "front"}


async def test_api_cache_records_survive_between_executions_of_a_trigger(make_server):
    server = make_server()
    async with api_client(server) as client:
        await deploy_flow(client, ["""
            exports.onExecutePostLogin = async (event, api) => {
              const hit = api.cache.get('token');
              if (hit) { api.idToken.setCustomClaim('cached', hit.value); return; }
              const r = api.cache.set('token', 'abc', { ttl: 60000 });
              api.idToken.setCustomClaim('stored', r.type);
            };"""])
        first = await execute(client, workload_event("9401"))
        second = await execute(client, workload_event("9402"))
        assert first["id_token_claims"] == {"stored": "success"}
        assert second["id_token_claims"] == {"cached": "abc"}

"""Fault tolerance of the one profile write per execution.

A remote Management-API user store that misbehaves in every way a real one does (429 with good,
past and garbage X-RateLimit-Reset values, 500s, hangs, refused connections, a response lost
after the write was applied), one test per mode; then 10,000 executions against a store that
does all of those at random (seeded), checking that nothing acknowledged is lost and nothing is
applied twice except through a lost response; then `kill -9` of a SQLite-backed server under
load, checking that every acknowledged write survives the restart."""

from __future__ import annotations

import asyncio
import math
import os
import random
import signal
import statistics
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import orjson
import pytest
from aiohttp import web
from conftest import ADMIN_TOKEN, free_port, start_server, workload_event

pytestmark = pytest.mark.timeout(120)

SET_KEY = "exports.onExecutePostLogin = async (event, api) => { api.user.setAppMetadata('k_' + event.transaction.id, true); };"
SET_ABSOLUTE = "exports.onExecutePostLogin = async (event, api) => { api.user.setAppMetadata('logins', event.stats.logins_count); };"
SLOW_SET = ("exports.onExecutePostLogin = async (event, api) => { await new Promise(r => setTimeout(r, 600)); "
            "api.user.setAppMetadata('k', 1); };")
JITTER = 0.05  # the writer's least jitter after a 429 (README, "The remote profile store")


# -- a user store that fails on demand ------------------------------------------------------

class FaultyUserStore:
    """GET/POST/PATCH /api/v2/users with Auth0's merge semantics. Each request is answered by a
    mode: taken from `script[(method, user)]`, then `script[method]`, while they last, then from
    `chooser(method)` if set, else
    `default[method]`. Modes:
      ok       answer normally
      429      refuse, X-RateLimit-Reset = reset_header() (None: no header)
      500      answer 500
      hang     never answer (until the store stops); nothing applied
      drop     apply (a PATCH or POST), then close the connection without answering
    Every application is recorded with whether its response was sent (`delivered`).
    `reset_header()` gives the X-RateLimit-Reset of a 429 (None: no header)."""

    def __init__(self) -> None:
        self.users: dict[str, dict[str, Any]] = {}
        self.attempts: list[tuple[float, str, str, str]] = []  # (time, method, user, mode)
        self.applied: list[tuple[float, str, dict[str, Any], bool]] = []  # PATCH (time, user, body, delivered)
        self.script: dict[Any, list[str]] = defaultdict(list)  # by method, or by (method, user)
        self.default: dict[str, str] = defaultdict(lambda: "ok")
        self.chooser: Any = None
        self.reset_header: Any = lambda: str(math.ceil(time.time() + 1))
        self.runner: web.AppRunner | None = None
        self.port = 0
        self._released = asyncio.Event()

    # what happened
    def patch_attempts(self) -> list[float]:
        return [t for t, method, _, _ in self.attempts if method == "PATCH"]

    def _mode(self, method: str, user_id: str) -> str:
        if self.script.get((method, user_id)):
            return self.script[(method, user_id)].pop(0)
        if self.script[method]:
            return self.script[method].pop(0)
        if self.chooser is not None:
            return self.chooser(method)
        return self.default[method]

    async def _fault(self, request: web.Request, method: str, user_id: str) -> tuple[str, web.Response | None]:
        mode = self._mode(method, user_id)
        self.attempts.append((time.time(), method, user_id, mode))
        if mode == "429":
            reset = self.reset_header()
            headers = {"X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "0"}
            if reset is not None:
                headers["X-RateLimit-Reset"] = reset
            return mode, web.json_response({"statusCode": 429, "error": "Too Many Requests"}, status=429, headers=headers)
        if mode == "500":
            return mode, web.json_response({"statusCode": 500, "error": "Internal Server Error"}, status=500)
        if mode == "hang":
            await self._released.wait()  # the client has long given up
            return mode, web.json_response({"statusCode": 503}, status=503)
        return mode, None

    @staticmethod
    def _drop(request: web.Request) -> web.Response:
        assert request.transport is not None
        request.transport.close()  # the response written below goes nowhere
        return web.json_response({"statusCode": 500}, status=500)

    async def get(self, request: web.Request) -> web.Response:
        user_id = request.match_info["id"]
        mode, refused = await self._fault(request, "GET", user_id)
        if refused is not None:
            return refused
        if mode == "drop":
            return self._drop(request)
        user = self.users.get(user_id)
        return web.json_response(user) if user else web.json_response({"statusCode": 404}, status=404)

    async def create(self, request: web.Request) -> web.Response:
        body = await request.json()
        mode, refused = await self._fault(request, "POST", body.get("user_id", ""))
        if refused is not None:
            return refused
        if body["user_id"] in self.users:
            return web.json_response({"statusCode": 409}, status=409)
        user = {**body, "app_metadata": dict(body.get("app_metadata") or {}),
                "user_metadata": dict(body.get("user_metadata") or {})}
        self.users[body["user_id"]] = user
        if mode == "drop":
            return self._drop(request)
        return web.json_response(user, status=201)

    async def patch(self, request: web.Request) -> web.Response:
        user_id = request.match_info["id"]
        body = await request.json()
        mode, refused = await self._fault(request, "PATCH", user_id)
        if refused is not None:
            return refused
        user = self.users.get(user_id)
        if user is None:
            return web.json_response({"statusCode": 404}, status=404)
        for part in ("app_metadata", "user_metadata"):
            for k, v in (body.get(part) or {}).items():
                if v is None:
                    user[part].pop(k, None)
                else:
                    user[part][k] = v
        self.applied.append((time.time(), user_id, body, mode != "drop"))
        if mode == "drop":
            return self._drop(request)
        return web.json_response(user)

    async def start(self, port: int = 0) -> None:
        self._released = asyncio.Event()
        app = web.Application()
        app.router.add_get("/api/v2/users/{id}", self.get)
        app.router.add_post("/api/v2/users", self.create)
        app.router.add_patch("/api/v2/users/{id}", self.patch)
        self.runner = web.AppRunner(app, shutdown_timeout=1.0, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        self._released.set()
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
async def store():
    s = FaultyUserStore()
    await s.start()
    yield s
    await s.stop()


@pytest.fixture
def make_server(tmp_path):
    started = []

    def make(*flags: str, data_dir: Path | None = None):
        srv = start_server(data_dir or tmp_path / f"data{len(started)}", *flags)
        started.append(srv)
        return srv

    yield make
    for srv in started:
        srv.stop()


def remote(store: FaultyUserStore, budget: float, *extra: str) -> tuple[str, ...]:
    return ("--profile-store", store.url, "--execution-budget", str(budget), *extra)


def api_client(server) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=server.url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=120)


async def deploy(client: httpx.AsyncClient, code: str) -> None:
    name = f"a-{uuid.uuid4().hex[:8]}"
    r = await client.post("/api/v2/actions/actions", json={
        "name": name, "supported_triggers": [{"id": "post-login", "version": "v3"}], "code": code, "deploy": True})
    assert r.status_code == 201, r.text
    r = await client.patch("/api/v2/actions/triggers/post-login/bindings",
                           json={"bindings": [{"ref": {"type": "action_name", "value": name}}]})
    assert r.status_code == 200, r.text


def event_for(user: str, tx: str = "t") -> dict[str, Any]:
    event = workload_event(user, app_metadata={}, user_metadata={})
    event["transaction"]["id"] = tx
    return event


async def execute(client: httpx.AsyncClient, event: dict[str, Any]) -> tuple[dict[str, Any], float]:
    """The trigger's answer (which must be a 200) and how long it took."""
    started = time.monotonic()
    r = await client.post("/triggers/post-login/execute", json={"event": event})
    elapsed = time.monotonic() - started
    assert r.status_code == 200, r.text
    return r.json(), elapsed


def seeded_user(store: FaultyUserStore, user_id: str) -> None:
    store.users[user_id] = {"user_id": user_id, "email": "x@example.com", "app_metadata": {}, "user_metadata": {}}


# -- 1. one fault mode at a time --------------------------------------------------------------

async def test_429_with_a_reset_seconds_ahead_is_retried_at_the_reset(make_server, store):
    server = make_server(*remote(store, 8))
    seeded_user(store, "auth0|101")
    async with api_client(server) as client:
        await deploy(client, SET_KEY)
        store.script["PATCH"] = ["429"]
        store.reset_header = lambda: str(math.ceil(time.time() + 3))
        result, elapsed = await execute(client, event_for("101", "a"))
        assert result["status"] == "allowed", result
        refused_at, retried_at = store.patch_attempts()
        reset = math.ceil(refused_at + 3)
        # not before the reset, and not much after it (plus at most the jitter)
        assert reset - 0.01 <= retried_at <= reset + JITTER + 0.5, (refused_at, retried_at, reset)
        assert [(u, b) for _, u, b, _ in store.applied] == [("auth0|101", {"app_metadata": {"k_a": True}})]
        assert result["user"]["app_metadata"] == {"k_a": True}


async def test_429_with_a_reset_in_the_past_is_retried_after_the_floor(make_server, store):
    """A reset already past: retried at the 0.25 s floor (plus jitter), not at once (issue 22)."""
    server = make_server(*remote(store, 8))
    seeded_user(store, "auth0|102")
    async with api_client(server) as client:
        await deploy(client, SET_KEY)
        store.script["PATCH"] = ["429"]
        store.reset_header = lambda: str(int(time.time()) - 30)
        result, elapsed = await execute(client, event_for("102", "a"))
        assert result["status"] == "allowed", result
        attempts = store.patch_attempts()
        assert len(attempts) == 2
        assert 0.25 <= attempts[1] - attempts[0] < 0.25 + JITTER + 0.25, attempts
        assert len(store.applied) == 1
        assert elapsed < 1.5, elapsed


GARBAGE_RESETS = {
    "word": "soon",
    "empty": "",
    "huge": "99999999999999999999",
    "overflow": "1" * 400,        # float() of it is inf
    "nan": "nan",
    "milliseconds": None,         # a Unix time in ms (some APIs do this): read as such, 1 s ahead
    "missing": "<no header>",
}


def garbage_header(kind: str):
    value = GARBAGE_RESETS[kind]
    if kind == "milliseconds":
        return lambda: str(int(time.time() * 1000) + 1000)
    if kind == "missing":
        return lambda: None
    return lambda: value


@pytest.mark.parametrize("kind", list(GARBAGE_RESETS))
async def test_429_with_a_garbage_reset_is_a_bounded_wait(make_server, store, kind):
    """One 429 whose reset cannot be used: the write waits a bounded time and is retried, or
    fails as rate_limited at once; never a 500, never past the budget, never applied twice."""
    budget = 5
    server = make_server(*remote(store, budget))
    seeded_user(store, "auth0|103")
    async with api_client(server) as client:
        await deploy(client, SET_KEY)
        store.script["PATCH"] = ["429"]
        store.reset_header = garbage_header(kind)
        result, elapsed = await execute(client, event_for("103", "a"))
        assert elapsed < budget + 1, elapsed
        if result["status"] == "allowed":
            attempts = store.patch_attempts()
            assert len(attempts) == 2
            assert attempts[1] - attempts[0] <= 2.0, attempts  # a bounded default wait
            assert len(store.applied) == 1
        else:
            assert result["status"] == "failed", result
            assert result["error"]["class"] == "rate_limited", result
            assert store.applied == []
        if kind in ("word", "empty", "missing", "nan"):
            # nothing says how long to wait: a short default wait, then the retry succeeds
            assert result["status"] == "allowed", result


@pytest.mark.parametrize("kind", ["word", "empty", "huge", "nan"])
async def test_429_forever_with_a_garbage_reset_fails_within_the_budget(make_server, store, kind):
    budget = 3
    server = make_server(*remote(store, budget))
    seeded_user(store, "auth0|104")
    async with api_client(server) as client:
        await deploy(client, SET_KEY)
        store.default["PATCH"] = "429"
        store.reset_header = garbage_header(kind)
        result, elapsed = await execute(client, event_for("104", "a"))
        assert result["status"] == "failed", result
        assert result["error"]["class"] == "rate_limited", result
        assert elapsed < budget + 1, elapsed
        assert store.applied == []
        assert store.users["auth0|104"]["app_metadata"] == {}
        # a bounded number of attempts, not a tight loop against a store that refuses
        assert len(store.patch_attempts()) <= budget / 0.5 + 1, len(store.patch_attempts())


async def test_429_forever_fails_rate_limited_within_the_budget_and_applies_nothing(make_server, store):
    budget = 4
    server = make_server(*remote(store, budget))
    seeded_user(store, "auth0|105")
    async with api_client(server) as client:
        await deploy(client, SET_KEY)
        store.default["PATCH"] = "429"
        store.reset_header = lambda: str(math.ceil(time.time() + 1))
        result, elapsed = await execute(client, event_for("105", "a"))
        assert result["status"] == "failed", result
        assert result["error"]["class"] == "rate_limited"
        assert elapsed < budget + 1, elapsed
        attempts = store.patch_attempts()
        assert 2 <= len(attempts) <= budget + 1, attempts  # retried at each reset, about once a second
        assert store.applied == []
        assert store.users["auth0|105"]["app_metadata"] == {}


async def test_429_forever_with_past_resets_does_not_hammer_the_store(make_server, store):
    """A store that keeps refusing with a reset already past: each retry is prompt, but the
    writer must not turn the budget into a tight loop of requests."""
    budget = 3
    server = make_server(*remote(store, budget))
    seeded_user(store, "auth0|106")
    async with api_client(server) as client:
        await deploy(client, SET_KEY)
        store.default["PATCH"] = "429"
        store.reset_header = lambda: str(int(time.time()) - 5)
        result, elapsed = await execute(client, event_for("106", "a"))
        assert result["status"] == "failed", result
        assert result["error"]["class"] == "rate_limited"
        assert elapsed < budget + 1, elapsed
        assert store.applied == []
        attempts = len(store.patch_attempts())
        assert attempts <= 20, f"{attempts} PATCHes in {budget}s against a store answering 429"


async def test_500s_get_bounded_retries_and_a_clear_failure(make_server, store):
    budget = 10
    server = make_server(*remote(store, budget))
    seeded_user(store, "auth0|107")
    async with api_client(server) as client:
        await deploy(client, SET_KEY)
        store.default["PATCH"] = "500"
        result, elapsed = await execute(client, event_for("107", "a"))
        assert result["status"] == "failed", result
        assert result["error"]["class"] == "platform_error"
        assert "profile write failed" in result["error"]["message"] and "500" in result["error"]["message"], result["error"]
        attempts = store.patch_attempts()
        assert len(attempts) == 4, attempts  # the first try and 3 retries
        gaps = [b - a for a, b in zip(attempts, attempts[1:])]
        assert all(g >= 0.15 for g in gaps) and gaps == sorted(gaps), gaps  # a growing backoff
        assert elapsed < 3, elapsed  # the failure does not wait for the budget
        assert store.applied == []
        assert store.users["auth0|107"]["app_metadata"] == {}


async def test_transient_500s_are_retried_and_the_write_applied_once(make_server, store):
    server = make_server(*remote(store, 10))
    seeded_user(store, "auth0|108")
    async with api_client(server) as client:
        await deploy(client, SET_KEY)
        store.script["PATCH"] = ["500", "500"]
        result, _ = await execute(client, event_for("108", "a"))
        assert result["status"] == "allowed", result
        assert len(store.patch_attempts()) == 3
        assert len(store.applied) == 1
        assert store.users["auth0|108"]["app_metadata"] == {"k_a": True}


async def test_a_hanging_store_fails_the_execution_within_the_budget(make_server, store):
    budget = 3
    server = make_server(*remote(store, budget))
    seeded_user(store, "auth0|109")
    async with api_client(server) as client:
        await deploy(client, SET_KEY)
        store.default["PATCH"] = "hang"
        result, elapsed = await execute(client, event_for("109", "a"))
        assert result["status"] == "failed", result
        assert result["error"]["class"] in ("platform_error", "rate_limited"), result
        assert "profile" in result["error"]["message"]
        assert budget - 0.5 < elapsed < budget + 1, elapsed
        assert 1 <= len(store.patch_attempts()) <= 4
        assert store.applied == []


async def test_a_read_that_hangs_fails_the_execution_within_the_budget(make_server, store):
    budget = 3
    server = make_server(*remote(store, budget))
    async with api_client(server) as client:
        await deploy(client, SET_KEY)
        store.default["GET"] = "hang"
        result, elapsed = await execute(client, event_for("110", "a"))
        assert result["status"] == "failed", result
        assert "profile could not be read" in result["error"]["message"], result
        assert elapsed < budget + 1, elapsed
        assert store.applied == [] and store.users == {}


async def test_one_hang_is_retried_after_the_request_timeout(make_server, store):
    """A request that never answers times out (5 s per request, or what is left of the budget);
    the retry then succeeds within the budget."""
    budget = 8
    server = make_server(*remote(store, budget))
    seeded_user(store, "auth0|111")
    async with api_client(server) as client:
        await deploy(client, SET_KEY)
        store.script["PATCH"] = ["hang"]
        result, elapsed = await execute(client, event_for("111", "a"))
        assert result["status"] == "allowed", result
        attempts = store.patch_attempts()
        assert len(attempts) == 2
        assert 4.5 < attempts[1] - attempts[0] < 6.5, attempts
        assert elapsed < budget
        assert len(store.applied) == 1


async def test_the_request_timeout_is_configurable(make_server, store):
    """--profile-store-timeout 1.5: the hung request is given up after 1.5 s and retried."""
    budget = 8
    server = make_server(*remote(store, budget, "--profile-store-timeout", "1.5"))
    seeded_user(store, "auth0|112")
    async with api_client(server) as client:
        await deploy(client, SET_KEY)
        store.script["PATCH"] = ["hang"]
        result, elapsed = await execute(client, event_for("112", "a"))
        assert result["status"] == "allowed", result
        attempts = store.patch_attempts()
        assert len(attempts) == 2
        assert 1.2 < attempts[1] - attempts[0] < 2.8, attempts
        assert elapsed < 4.5, elapsed
        assert len(store.applied) == 1


async def test_a_store_that_is_down_fails_promptly_and_clearly(make_server):
    budget = 5
    server = make_server("--profile-store", f"http://127.0.0.1:{free_port()}", "--execution-budget", str(budget))
    async with api_client(server) as client:
        await deploy(client, SET_KEY)
        result, elapsed = await execute(client, event_for("112", "a"))
        assert result["status"] == "failed", result
        assert result["error"]["class"] == "platform_error", result
        assert "profile could not be read" in result["error"]["message"], result
        assert elapsed < 3, elapsed  # bounded retries, not the whole budget
        # the server is still fine: its own API answers
        assert (await client.get("/api/v2/actions/actions")).status_code == 200


async def _stop_store_after_first_read(store: FaultyUserStore) -> None:
    while not any(m == "GET" for _, m, _, _ in store.attempts):
        await asyncio.sleep(0.01)
    await store.stop()


@pytest.mark.parametrize("back_after", [0.9, None])
async def test_a_store_that_goes_down_during_an_execution(make_server, store, back_after):
    """The store answers the read, then refuses connections while the action runs (600 ms).
    Back within the retries: the write succeeds. Not back: a clear failure, nothing applied."""
    budget = 6
    server = make_server(*remote(store, budget))
    seeded_user(store, "auth0|113")
    port = store.port
    async with api_client(server) as client:
        await deploy(client, SLOW_SET)
        started = time.monotonic()
        running = asyncio.create_task(execute(client, event_for("113", "a")))
        await _stop_store_after_first_read(store)
        if back_after is not None:
            await asyncio.sleep(max(0.0, started + back_after - time.monotonic()))
            await store.start(port)
        result, elapsed = await running
        if back_after is not None:
            assert result["status"] == "allowed", result
            assert len(store.applied) == 1
            assert store.users["auth0|113"]["app_metadata"] == {"k": 1}
        else:
            assert result["status"] == "failed", result
            assert result["error"]["class"] == "platform_error"
            assert "profile write failed" in result["error"]["message"]
            assert store.applied == []
            assert elapsed < 4, elapsed


async def test_a_response_lost_after_the_write_is_retried_and_applied_once_in_effect(make_server, store):
    server = make_server(*remote(store, 8))
    seeded_user(store, "auth0|114")
    store.users["auth0|114"]["app_metadata"] = {"other": "kept"}
    async with api_client(server) as client:
        await deploy(client, SET_ABSOLUTE)
        store.script["PATCH"] = ["drop"]
        result, _ = await execute(client, event_for("114", "a"))
        assert result["status"] == "allowed", result
        # applied twice at the store, the first answer lost; the patch is absolute, so the
        # profile is as one application leaves it
        assert [(b, delivered) for _, _, b, delivered in store.applied] == [
            ({"app_metadata": {"logins": 12}}, False), ({"app_metadata": {"logins": 12}}, True)]
        assert store.users["auth0|114"]["app_metadata"] == {"other": "kept", "logins": 12}
        assert result["user"]["app_metadata"] == {"other": "kept", "logins": 12}


async def test_responses_lost_on_every_attempt_fail_the_execution_cleanly(make_server, store):
    """Every PATCH is applied and its answer lost: the execution fails after the bounded
    retries; the profile is as one application leaves it."""
    server = make_server(*remote(store, 8))
    seeded_user(store, "auth0|115")
    async with api_client(server) as client:
        await deploy(client, SET_ABSOLUTE)
        store.default["PATCH"] = "drop"
        result, elapsed = await execute(client, event_for("115", "a"))
        assert result["status"] == "failed", result
        assert result["error"]["class"] == "platform_error"
        assert elapsed < 3
        assert 1 <= len(store.applied) <= 4
        assert {orjson_key(b) for _, _, b, _ in store.applied} == {orjson_key({"app_metadata": {"logins": 12}})}
        assert store.users["auth0|115"]["app_metadata"] == {"logins": 12}


def orjson_key(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


async def test_an_execution_waiting_for_a_write_slot_still_answers_within_its_budget(make_server, store):
    """The writer lets 8 writes at a time reach the store. Execution A starts first, but its read
    is refused once (429, reset 1.5 s ahead); meanwhile 8 later executions take the 8 write slots
    and their PATCHes hang until *their* budgets run out. A is queued behind them: it must still
    answer within *its* budget (failed as rate_limited, say), not when a slot frees up."""
    budget = 3.0
    server = make_server(*remote(store, budget))
    for i in range(9):
        seeded_user(store, f"auth0|12{i}")
    async with api_client(server) as client:
        await deploy(client, SET_KEY)
        store.script[("GET", "auth0|120")] = ["429"]
        store.reset_header = lambda: f"{time.time() + 1.5:.3f}"
        for i in range(1, 9):
            store.script[("PATCH", f"auth0|12{i}")] = ["hang"]
        a = asyncio.create_task(execute(client, event_for("120", "a")))
        await asyncio.sleep(1.0)
        hogs = [asyncio.create_task(execute(client, event_for(f"12{i}", "h"))) for i in range(1, 9)]
        result, elapsed = await a
        await asyncio.gather(*hogs)
        assert elapsed < budget + 0.5, (f"answered after {elapsed:.2f}s with a {budget}s budget", result["status"],
                                        result["error"])
        assert result["status"] in ("allowed", "failed"), result


# -- 2. ten thousand executions against a store that fails at random -------------------------

FLAKY = {"429": 0.04, "500": 0.03, "hang": 0.003, "drop": 0.03}  # per request, any method
EXECUTIONS = 10_000
USERS = 500
IN_FLIGHT = 200
BIG_BUDGET = 4.0


async def run_load(url: str, events: list[dict[str, Any]], in_flight: int) -> list[dict[str, Any]]:
    """POST every event to /execute with `in_flight` at a time; what each answer was."""
    results: list[dict[str, Any]] = [{} for _ in events]
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(len(events)):
        queue.put_nowait(i)
    connector = aiohttp.TCPConnector(limit=in_flight)
    async with aiohttp.ClientSession(url, connector=connector, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                                     timeout=aiohttp.ClientTimeout(total=120)) as session:
        async def worker() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                started = time.monotonic()
                async with session.post("/triggers/post-login/execute", json={"event": events[i]}) as r:
                    body = await r.json(content_type=None)
                    results[i] = {"http": r.status, "body": body, "elapsed": time.monotonic() - started}
        await asyncio.gather(*(worker() for _ in range(in_flight)))
    return results


@pytest.mark.timeout(300)
async def test_ten_thousand_executions_against_a_flaky_store_lose_nothing_and_apply_nothing_twice(make_server, store):
    rng = random.Random(1234)

    def chooser(method: str) -> str:
        x = rng.random()
        for mode, p in FLAKY.items():
            if x < p:
                return mode
            x -= p
        return "ok"

    server = make_server(*remote(store, BIG_BUDGET, "--write-rate", "1000000", "--write-burst", "1000000"))
    async with api_client(server) as client:
        await deploy(client, SET_KEY)
    store.chooser = chooser
    store.reset_header = lambda: f"{time.time() + rng.uniform(0, 1):.3f}"  # 0-1 s ahead
    users = [str(200_000 + i) for i in range(USERS)]
    events = [event_for(users[rng.randrange(USERS)], f"t{i}") for i in range(EXECUTIONS)]
    started = time.monotonic()
    results = await run_load(server.url, events, IN_FLIGHT)
    wall = time.monotonic() - started
    await asyncio.sleep(0.5)  # nothing should still arrive, but give a straggler the chance to show

    # what the store applied, per key
    applications: dict[str, list[bool]] = defaultdict(list)  # key -> delivered flag of each application
    for _, _, body, delivered in store.applied:
        for key in body.get("app_metadata") or {}:
            applications[key].append(delivered)
    http = Counter(r["http"] for r in results)
    statuses = Counter(r["body"]["status"] for r in results)
    errors = Counter(r["body"]["error"]["class"] for r in results if r["body"]["status"] == "failed")
    samples = {r["body"]["error"]["class"]: r["body"]["error"]["message"][:300] for r in results if r["body"]["status"] == "failed"}
    lost, doubled_via_drop, doubled_otherwise = [], [], []
    failed_applied, failed_applied_twice, failed_acknowledged = [], [], []
    for i, (event, r) in enumerate(zip(events, results)):
        key = f"k_t{i}"
        user = store.users.get(event["user"]["user_id"], {"app_metadata": {}})
        applied = applications.get(key, [])
        if r["body"]["status"] == "allowed" and user["app_metadata"].get(key) is not True:
            lost.append(i)
        if len(applied) > 1:
            (doubled_via_drop if applied.count(True) <= 1 else doubled_otherwise).append(i)
        if r["body"]["status"] == "failed" and applied:
            failed_applied.append(i)
            if len(applied) > 1:
                failed_applied_twice.append(i)
            if True in applied:
                failed_acknowledged.append(i)
    elapsed = sorted(r["elapsed"] for r in results)
    modes = Counter((m, mode) for _, m, _, mode in store.attempts)
    report = (f"\n{EXECUTIONS} executions, {USERS} users, {IN_FLIGHT} in flight, budget {BIG_BUDGET}s: {wall:.1f}s "
              f"({EXECUTIONS / wall:.0f}/s)\nHTTP {dict(http)}; status {dict(statuses)}; failed by class {dict(errors)}\n"
              f"store requests by (method, mode): {dict(sorted(modes.items()))}\n"
              f"applications {len(store.applied)}; lost {len(lost)}; keys applied twice via a dropped response "
              f"{len(doubled_via_drop)}; applied twice otherwise {len(doubled_otherwise)}\n"
              f"failed but applied {len(failed_applied)} (of which applied twice {len(failed_applied_twice)}, "
              f"with a delivered 200 {len(failed_acknowledged)})\n"
              f"latency p50 {statistics.median(elapsed):.3f}s p99 {elapsed[int(len(elapsed) * 0.99)]:.3f}s "
              f"max {elapsed[-1]:.3f}s\na failure of each class: {samples}")
    print(report)
    assert http == {200: EXECUTIONS}, report  # never a 500, whatever the store does
    assert statuses["allowed"] >= 0.5 * EXECUTIONS, report  # (about 99% when the machine is otherwise idle)
    assert set(statuses) <= {"allowed", "failed"}, report
    # action_timeout: the read took most of the budget (or the CPU was busy elsewhere)
    assert set(errors) <= {"rate_limited", "platform_error", "action_timeout"}, report
    assert lost == [], report
    assert doubled_otherwise == [], report
    # a failed execution applied more than once only through lost responses, never after a 200
    assert [i for i in failed_applied_twice if i not in doubled_via_drop] == [], report
    # every answer comes: the budget bounds each execution (see the write-slot test for a precise
    # bound; under CPU contention the sandbox's own 5 s grace applies), none hangs
    assert elapsed[-1] < BIG_BUDGET + 5 + 1, report


# -- 3. kill -9 of a SQLite-backed server under load -----------------------------------------

LOADERS = 50
KILL_USERS = 20
KILL_ROUNDS = 3


def child_pids(pid: int) -> list[int]:
    """The direct children of `pid`, from /proc/PID/task/*/children."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


def alive(pid: int, marker: str = "sandbox.executor") -> bool:
    """True while `pid` is a running (not zombie) process whose command line has `marker`."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, IndexError):
        return False
    return state != "Z" and marker.encode() in cmdline


async def load_until_killed(url: str, round_no: int, acknowledged: dict[str, str], stop: asyncio.Event) -> Counter:
    """LOADERS loops, each executing with keys of its own until the server goes away; every
    execution answered `allowed` goes into `acknowledged` (key -> user id)."""
    outcomes: Counter = Counter()
    async with aiohttp.ClientSession(url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                                     connector=aiohttp.TCPConnector(limit=LOADERS),
                                     timeout=aiohttp.ClientTimeout(total=30)) as session:
        async def loader(j: int) -> None:
            n = 0
            while not stop.is_set():
                tx = f"r{round_no}l{j}n{n}"
                n += 1
                event = event_for(str(300_000 + (j * 7 + n) % KILL_USERS), tx)
                try:
                    async with session.post("/triggers/post-login/execute", json={"event": event}) as r:
                        body = await r.json(content_type=None)
                except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
                    outcomes["cut off"] += 1
                    return  # the server is gone
                outcomes[body.get("status", r.status)] += 1
                if r.status == 200 and body["status"] == "allowed":
                    acknowledged[f"k_{tx}"] = event["user"]["user_id"]
        await asyncio.gather(*(loader(j) for j in range(LOADERS)))
    return outcomes


async def missing_keys(server, acknowledged: dict[str, str]) -> list[str]:
    by_user: dict[str, set[str]] = defaultdict(set)
    for key, user in acknowledged.items():
        by_user[user].add(key)
    missing: list[str] = []
    async with api_client(server) as client:
        for user, keys in by_user.items():
            r = await client.get(f"/api/v2/users/{user.replace('|', '%7C')}")
            assert r.status_code == 200, (user, r.status_code, r.text)
            stored = r.json()["app_metadata"]
            missing += sorted(k for k in keys if stored.get(k) is not True)
    return missing


@pytest.mark.timeout(180)
async def test_kill_9_under_load_loses_no_acknowledged_write(tmp_path):
    data_dir = tmp_path / "data"
    flags = ("--write-rate", "100000", "--write-burst", "100000")
    server = start_server(data_dir, *flags)
    acknowledged: dict[str, str] = {}
    orphans: list[int] = []
    executors: list[int] = []
    report = []
    kill_rng = random.Random(99)
    try:
        async with api_client(server) as client:
            await deploy(client, SET_KEY)
        for round_no in range(KILL_ROUNDS):
            executors = [pid for pid in child_pids(server.process.pid) if alive(pid)]
            assert executors, "no executor processes found under the server"
            before = len(acknowledged)
            stop = asyncio.Event()
            loading = asyncio.create_task(load_until_killed(server.url, round_no, acknowledged, stop))
            load_for = kill_rng.uniform(1.5, 3.0)  # kill at an arbitrary moment of the load
            started = time.monotonic()
            while (time.monotonic() - started < load_for or len(acknowledged) - before < 300) \
                    and time.monotonic() - started < 20:
                await asyncio.sleep(0.01)
            os.kill(server.process.pid, signal.SIGKILL)  # in the middle of the load
            killed_at = len(acknowledged)
            outcomes = await asyncio.wait_for(loading, 30)
            stop.set()
            server.process.wait(10)
            # the executors see their socket close and exit on their own
            gone_by = time.monotonic() + 5
            while any(alive(pid) for pid in executors) and time.monotonic() < gone_by:
                await asyncio.sleep(0.05)
            left = [pid for pid in executors if alive(pid)]
            orphans += left
            for pid in left:
                os.kill(pid, signal.SIGKILL)
            server = start_server(data_dir, *flags)  # the same data dir
            missing = await missing_keys(server, acknowledged)
            report.append(f"round {round_no}: {len(acknowledged) - before} acknowledged "
                          f"({len(acknowledged) - killed_at} answered after the kill signal), outcomes {dict(outcomes)}, "
                          f"executors {executors}, orphans {left}, missing after restart {len(missing)}")
            print(report[-1])
            assert missing == [], (missing[:20], report)
            assert outcomes["cut off"] >= 1, report  # the kill did land under load
        assert orphans == [], report
        assert len(acknowledged) >= 300 * KILL_ROUNDS, report
    finally:
        server.stop()
        for pid in executors:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)

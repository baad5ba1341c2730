"""What the login service, the admin and the operator see when the remote profile store
misbehaves (issue 22), through a real `actionhost serve` in front of a scripted store on
loopback: a redirect fails the login instead of writing elsewhere; the caller gets a generic
reason while the execution record and the server's log carry the store's address; /metrics
counts store calls by outcome. And the embedded store's default: no Write-User limit."""

from __future__ import annotations

import asyncio
import time

import httpx
import orjson
import pytest
from conftest import ADMIN_TOKEN, free_port
from test_faults import SET_KEY, api_client, deploy, event_for, execute, make_server, remote, seeded_user  # noqa: F401
from test_profile_store_write_path import answer, elsewhere, store  # noqa: F401 - the scripted-store fixtures

from server.cli import build_parser
from server.settings import Settings, settings_from_args

pytestmark = pytest.mark.timeout(120)


async def execution_record(client: httpx.AsyncClient, execution_id: str) -> dict:
    """The record an admin reads (written off the hot path, ~20 ms after the answer)."""
    for _ in range(100):
        r = await client.get(f"/api/v2/actions/executions/{execution_id}")
        if r.status_code == 200:
            return r.json()
        await asyncio.sleep(0.05)
    raise AssertionError(f"no execution record for {execution_id}")


def server_log(server) -> list[dict]:
    """The structured lines the server logged about its profile store."""
    text = (server.data_dir.parent / f"server-{server.port}.log").read_text()
    lines = []
    for line in text.splitlines():
        if line.startswith("{") and '"profile_store_call"' in line:
            lines.append(orjson.loads(line))
    return lines


async def test_a_login_whose_write_is_redirected_fails_and_writes_nowhere_else(make_server, store, elsewhere):
    server = make_server(*remote(store, 5))
    seeded_user(store, "auth0|201")
    seeded_user(elsewhere, "auth0|201")
    async with api_client(server) as client:
        await deploy(client, SET_KEY)
        store.script["PATCH"] = [answer(307, {}, Location=f"{elsewhere.url}/api/v2/users/auth0%7C201")]
        result, _ = await execute(client, event_for("201", "a"))
    assert result["status"] == "failed", result
    assert result["error"]["class"] == "platform_error"
    assert result["error"]["message"] == ("the profile write failed: profile store answered with a redirect "
                                          "(HTTP 307), which is not followed")
    assert elsewhere.attempts == [] and store.applied == []
    assert result["user"]["app_metadata"] == {}  # not the other host's answer
    assert len(store.patch_attempts()) == 1


async def test_an_unreachable_store_is_a_generic_reason_for_the_caller_and_details_for_the_admin(make_server):
    port = free_port()
    server = make_server("--profile-store", f"http://127.0.0.1:{port}", "--execution-budget", "5")
    async with api_client(server) as client:
        await deploy(client, SET_KEY)
        r = await client.post("/triggers/post-login/execute", json={"event": event_for("202", "a")})
        assert r.status_code == 200
        result = r.json()
        assert result["status"] == "failed" and result["error"]["class"] == "platform_error", result
        assert result["error"]["message"] == "the profile could not be read: profile store unreachable"
        assert "127.0.0.1" not in r.text and str(port) not in r.text  # nothing of the store's address
        record = await execution_record(client, result["execution_id"])
        (failure,) = [entry["error"] for entry in record["results"] if entry.get("error")]
        assert failure["id"] == "platform_error"
        assert failure["msg"].startswith("the profile could not be read: profile store unreachable (")
        assert f"127.0.0.1:{port}" in failure["msg"]  # the admin learns which address failed
        metrics = (await client.get("/metrics")).text
    assert 'actionhost_profile_store_calls_total{outcome="unreachable"} 4.0' in metrics, metrics
    logged = [line for line in server_log(server) if line["execution_id"] == result["execution_id"]]
    assert [(line["call"], line["attempt"], line["outcome"], line["next"]) for line in logged] == [
        ("read", 1, "unreachable", "retry"), ("read", 2, "unreachable", "retry"),
        ("read", 3, "unreachable", "retry"), ("read", 4, "unreachable", "give_up")]
    assert all(line["tenant"] == "default" and f"127.0.0.1:{port}" in line["detail"] for line in logged)
    assert [line["wait"] is not None for line in logged] == [True, True, True, False]


async def test_a_single_429_past_the_budget_tells_the_caller_when_the_store_accepts_writes(make_server, store):
    server = make_server(*remote(store, 4))
    seeded_user(store, "auth0|203")
    async with api_client(server) as client:
        await deploy(client, SET_KEY)
        store.script["PATCH"] = ["429"]
        store.reset_header = lambda: str(int(time.time()) + 7200)
        result, elapsed = await execute(client, event_for("203", "a"))
    assert result["status"] == "failed" and result["error"]["class"] == "rate_limited", result
    message = result["error"]["message"]
    assert message.startswith("the profile store answered 429 once and accepts requests again at "), message
    assert "after this execution's budget ends" in message
    assert len(store.patch_attempts()) == 1 and store.applied == []


async def test_the_stores_credentials_refused_is_logged_as_a_configuration_problem(make_server, store):
    server = make_server(*remote(store, 5))
    store.default["GET"] = answer(401, {"statusCode": 401, "error": "Unauthorized", "message": "Invalid token"})
    async with api_client(server) as client:
        await deploy(client, SET_KEY)
        result, _ = await execute(client, event_for("204", "a"))
    assert result["error"]["message"] == ("the profile could not be read: profile store refused actionhost's "
                                          "credentials (HTTP 401)")
    assert len(store.attempts) == 1
    (line,) = server_log(server)
    assert line["status"] == 401 and "ACTIONHOST_PROFILE_STORE_TOKEN" in line["configuration_problem"]


# -- the flags ----------------------------------------------------------------------------------

def parsed(*argv: str) -> Settings:
    return settings_from_args(build_parser().parse_args(["serve", *argv]))


def test_the_answer_cap_has_a_flag_and_an_environment_twin(monkeypatch):
    assert parsed().profile_store_max_response == 1024 * 1024
    assert parsed("--profile-store-max-response", "4MiB").profile_store_max_response == 4 * 1024 * 1024
    monkeypatch.setenv("ACTIONHOST_PROFILE_STORE_MAX_RESPONSE", "256KiB")
    assert parsed().profile_store_max_response == 256 * 1024
    with pytest.raises(ValueError, match="at least 1KiB"):
        parsed("--profile-store-max-response", "10")

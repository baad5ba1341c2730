"""Hostile callers of the HTTP surface itself, against a real `actionhost serve`: what the caller
says about who it is, and what a body claims to be, do not decide what the server does."""

from __future__ import annotations

import uuid
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

API = "/api/v2"
ACTIONS = f"{API}/actions/actions"
BINDINGS = f"{API}/actions/triggers/post-login/bindings"
EXECUTE = "/triggers/post-login/execute"
CONTINUE = "/triggers/post-login/continue"
POST_LOGIN = [{"id": "post-login", "version": "v3"}]
TIMEOUT = httpx.Timeout(30.0)

TENANT_CODE = """
exports.onExecutePostLogin = async (event, api) => {
  api.idToken.setCustomClaim("https://example.com/tenant", event.tenant === undefined ? "missing" : event.tenant);
  if (event.request && event.request.query && event.request.query.go === "away") {
    api.redirect.sendUserTo("https://example.com/step-up");
  }
};
exports.onContinuePostLogin = async (event, api) => {
  api.idToken.setCustomClaim("https://example.com/continued", event.tenant);
};
"""


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_rejected(response: httpx.Response, status: int) -> dict:
    """Exactly `status`, with Auth0's error body."""
    where = (response.request.method, str(response.request.url)[:200], response.status_code, response.text[:500])
    assert response.status_code == status, where
    assert response.headers.get("content-type", "").startswith("application/json"), where
    body = response.json()
    assert body["statusCode"] == status and body["error"] == HTTPStatus(status).phrase, where
    assert isinstance(body["message"], str) and body["message"], where
    return body


@pytest.fixture(scope="module")
def http(server):
    with httpx.Client(base_url=server.url, timeout=TIMEOUT) as client:
        yield client


@pytest.fixture(scope="module")
def tokens(server) -> dict[str, str]:
    """tenant id -> an admin token of that tenant (which may also execute triggers)."""
    done = server.cli("tenants", "create", "other")
    assert done.returncode == 0, done.stderr
    return {"default": server.token, "other": done.stdout.strip().splitlines()[-1]}


@pytest.fixture(scope="module")
def tenant_flows(http, tokens) -> dict[str, str]:
    """In each tenant, post-login runs an action that tells what event.tenant it saw."""
    for token in tokens.values():
        created = http.post(ACTIONS, headers=bearer(token), json={
            "name": unique("tenant-echo"), "supported_triggers": POST_LOGIN, "code": TENANT_CODE, "deploy": True})
        assert created.status_code == 201, created.text
        bound = http.patch(BINDINGS, headers=bearer(token),
                           json={"bindings": [{"ref": {"type": "action_id", "value": created.json()["id"]}}]})
        assert bound.status_code == 200, bound.text
    return tokens


# -- event.tenant (issue 24, item 8) -----------------------------------------------------------

FORGED_TENANTS = [{"id": "other"}, {"id": "default"}, {"id": "other", "name": "x"}, "other", None, ["other"]]


@pytest.mark.parametrize("forged", FORGED_TENANTS, ids=[repr(f) for f in FORGED_TENANTS])
@pytest.mark.parametrize("tenant", ["default", "other"])
def test_event_tenant_is_the_tokens_tenant_whatever_the_caller_sends(http, tenant_flows, tenant, forged):
    event = {"user": {"user_id": unique("auth0|tenant")}, "tenant": forged}
    response = http.post(EXECUTE, headers=bearer(tenant_flows[tenant]), json={"event": event})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "allowed", response.text
    assert response.json()["id_token_claims"]["https://example.com/tenant"] == {"id": tenant}


def test_event_tenant_is_set_when_the_caller_sends_none(http, tenant_flows):
    response = http.post(EXECUTE, headers=bearer(tenant_flows["other"]), json={"event": {"user": {"user_id": unique("auth0|t")}}})
    assert response.status_code == 200, response.text
    assert response.json()["id_token_claims"]["https://example.com/tenant"] == {"id": "other"}


def test_event_tenant_after_a_redirect_is_the_tokens_tenant_too(http, tenant_flows):
    event = {"user": {"user_id": unique("auth0|away")}, "tenant": {"id": "default"},
             "request": {"query": {"go": "away"}}}
    redirected = http.post(EXECUTE, headers=bearer(tenant_flows["other"]), json={"event": event})
    assert redirected.status_code == 200 and redirected.json()["status"] == "redirect", redirected.text
    state = parse_qs(urlsplit(redirected.json()["redirect"]["url"]).query)["state"][0]
    resumed = http.post(CONTINUE, headers=bearer(tenant_flows["other"]), json={"state": state})
    assert resumed.status_code == 200 and resumed.json()["status"] == "allowed", resumed.text
    assert resumed.json()["id_token_claims"]["https://example.com/continued"] == {"id": "other"}

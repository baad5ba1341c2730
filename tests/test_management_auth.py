"""Who may call the Management API: 401 without or with a bad token, 403 for a missing scope,
and tenants that never see each other's actions, versions, executions or users.

Raw HTTP on purpose: the status codes and Auth0's error body are the contract here."""

from __future__ import annotations

import time
import uuid
from http import HTTPStatus

import httpx
import pytest
from conftest import workload_event

API = "/api/v2"
POST_LOGIN = [{"id": "post-login", "version": "v3"}]
CODE = "exports.onExecutePostLogin = async (event, api) => { api.user.setAppMetadata('tenant_test', 1); };\n"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def assert_auth0_error(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, (response.request.method, response.request.url, response.text)
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["statusCode"] == status
    assert body["error"] == HTTPStatus(status).phrase
    assert isinstance(body["message"], str) and body["message"]
    return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def http(server):
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def admin(server) -> dict[str, str]:
    return server.headers()


@pytest.fixture(scope="module")
def read_only_token(server) -> str:
    done = server.cli("tokens", "create", "--scopes", "read:actions")
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def other_token(server) -> str:
    done = server.cli("tenants", "create", "other")
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def first_tenant(http, admin):
    """In the default tenant: a deployed, bound action with two versions and a user."""
    name = unique("tenant-a")
    action = http.post(f"{API}/actions/actions", headers=admin,
                       json={"name": name, "supported_triggers": POST_LOGIN, "code": CODE, "deploy": True,
                             "secrets": [{"name": "KEY", "value": "tenant-a-secret"}]})
    assert action.status_code == 201, action.text
    action = action.json()
    second = http.post(f"{API}/actions/actions/{action['id']}/deploy", headers=admin)
    assert second.status_code == 200, second.text
    bound = http.patch(f"{API}/actions/triggers/post-login/bindings", headers=admin,
                       json={"bindings": [{"ref": {"type": "action_id", "value": action["id"]}}]})
    assert bound.status_code == 200, bound.text
    user = http.post(f"{API}/users", headers=admin,
                     json={"connection": "Username-Password-Authentication", "user_id": uuid.uuid4().hex,
                           "email": "a@example.com", "app_metadata": {"tenant": "a"}})
    assert user.status_code == 201, user.text
    return {"action": action, "version": second.json(), "user": user.json(),
            "binding": bound.json()["bindings"][0]}


def quoted(user_id: str) -> str:
    return user_id.replace("|", "%7C")


# -- 401 -------------------------------------------------------------------------------


ENDPOINTS = [
    ("GET", f"{API}/actions/actions", None),
    ("POST", f"{API}/actions/actions", {"name": "unauthenticated", "supported_triggers": POST_LOGIN, "code": CODE}),
    ("GET", f"{API}/actions/triggers", None),
    ("GET", f"{API}/actions/triggers/post-login/bindings", None),
    ("PATCH", f"{API}/actions/triggers/post-login/bindings", {"bindings": []}),
    ("GET", f"{API}/actions/executions/exec_123", None),
    ("GET", f"{API}/users/auth0%7C123", None),
    ("POST", f"{API}/users", {"connection": "Username-Password-Authentication", "user_id": "unauthenticated"}),
]


@pytest.mark.parametrize("method,path,body", ENDPOINTS)
@pytest.mark.parametrize("authorization", [None, "", "Bearer", "Basic dGVzdDp0ZXN0", "test-admin-token", "Token test-admin-token"])
def test_a_missing_token_is_a_401_in_auth0_shape(http, method, path, body, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    assert_auth0_error(http.request(method, path, headers=headers, json=body), 401)


BAD_TOKENS = ["not-a-token", "ah_" + "A" * 43, "test-admin-token x", "x" * 5000, "test-admin-tokem", "TEST-ADMIN-TOKEN"]


@pytest.mark.parametrize("method,path,body", ENDPOINTS)
@pytest.mark.parametrize("token", BAD_TOKENS, ids=[t[:20] for t in BAD_TOKENS])
def test_a_bad_token_is_a_401_in_auth0_shape(http, method, path, body, token):
    assert_auth0_error(http.request(method, path, headers={"Authorization": f"Bearer {token}"}, json=body), 401)


def test_unauthenticated_writes_change_nothing(http, admin):
    for authorization in ({}, bearer("wrong")):
        http.post(f"{API}/actions/actions", headers=authorization,
                  json={"name": "unauthenticated", "supported_triggers": POST_LOGIN, "code": CODE})
        http.post(f"{API}/users", headers=authorization,
                  json={"connection": "Username-Password-Authentication", "user_id": "unauthenticated"})
    assert http.get(f"{API}/actions/actions", headers=admin, params={"actionName": "unauthenticated"}).json()["total"] == 0
    assert_auth0_error(http.get(f"{API}/users/auth0%7Cunauthenticated", headers=admin), 404)


# -- 403 -------------------------------------------------------------------------------


def test_a_read_only_token_can_read_actions(http, read_only_token, first_tenant):
    headers = bearer(read_only_token)
    action = first_tenant["action"]
    listed = http.get(f"{API}/actions/actions", headers=headers)
    assert listed.status_code == 200, listed.text
    assert action["id"] in [a["id"] for a in listed.json()["actions"]]
    assert http.get(f"{API}/actions/actions/{action['id']}", headers=headers).status_code == 200
    assert http.get(f"{API}/actions/actions/{action['id']}/versions", headers=headers).status_code == 200
    assert http.get(f"{API}/actions/triggers", headers=headers).status_code == 200
    assert http.get(f"{API}/actions/triggers/post-login/bindings", headers=headers).status_code == 200


def test_a_read_only_token_gets_403_for_everything_else_and_changes_nothing(http, admin, read_only_token, first_tenant):
    headers = bearer(read_only_token)
    action, user = first_tenant["action"], first_tenant["user"]
    before_action = http.get(f"{API}/actions/actions/{action['id']}", headers=admin).json()
    before_bindings = http.get(f"{API}/actions/triggers/post-login/bindings", headers=admin).json()
    before_user = http.get(f"{API}/users/{quoted(user['user_id'])}", headers=admin).json()
    name = unique("read-only")

    forbidden = [
        ("POST", f"{API}/actions/actions", {"name": name, "supported_triggers": POST_LOGIN, "code": CODE}),
        ("PATCH", f"{API}/actions/actions/{action['id']}", {"name": name, "code": "// changed"}),
        ("DELETE", f"{API}/actions/actions/{action['id']}?force=true", None),
        ("POST", f"{API}/actions/actions/{action['id']}/deploy", None),
        ("POST", f"{API}/actions/actions/{action['id']}/test", {"payload": {"event": workload_event("ro")}}),
        ("POST", f"{API}/actions/actions/{action['id']}/versions/{first_tenant['version']['id']}/deploy", {}),
        ("PATCH", f"{API}/actions/triggers/post-login/bindings", {"bindings": []}),
        ("GET", f"{API}/users/{quoted(user['user_id'])}", None),
        ("PATCH", f"{API}/users/{quoted(user['user_id'])}", {"app_metadata": {"tenant": "changed"}}),
        ("POST", f"{API}/users", {"connection": "Username-Password-Authentication", "user_id": name}),
    ]
    for method, path, body in forbidden:
        assert_auth0_error(http.request(method, path, headers=headers, json=body), 403)

    assert http.get(f"{API}/actions/actions/{action['id']}", headers=admin).json() == before_action
    assert http.get(f"{API}/actions/actions", headers=admin, params={"actionName": name}).json()["total"] == 0
    assert http.get(f"{API}/actions/triggers/post-login/bindings", headers=admin).json() == before_bindings
    assert http.get(f"{API}/actions/actions/{action['id']}/versions", headers=admin).json()["total"] == 2
    assert http.get(f"{API}/users/{quoted(user['user_id'])}", headers=admin).json() == before_user
    assert_auth0_error(http.get(f"{API}/users/auth0%7C{name}", headers=admin), 404)


def test_cli_rejects_unknown_scopes(server):
    done = server.cli("tokens", "create", "--scopes", "read:actions root:everything")
    assert done.returncode != 0
    assert "root:everything" in done.stderr


# -- tenants ---------------------------------------------------------------------------


def test_another_tenant_starts_empty(http, other_token, first_tenant):
    headers = bearer(other_token)
    listed = http.get(f"{API}/actions/actions", headers=headers)
    assert listed.status_code == 200, listed.text
    assert listed.json()["actions"] == [] and listed.json()["total"] == 0
    bindings = http.get(f"{API}/actions/triggers/post-login/bindings", headers=headers)
    assert bindings.status_code == 200 and bindings.json()["bindings"] == []
    assert http.get(f"{API}/actions/actions", headers=headers,
                    params={"actionName": first_tenant["action"]["name"]}).json()["total"] == 0


def test_another_tenant_gets_404_for_the_first_tenants_ids_and_changes_nothing(http, admin, other_token, first_tenant):
    headers = bearer(other_token)
    action, version, user = first_tenant["action"], first_tenant["version"], first_tenant["user"]
    before_action = http.get(f"{API}/actions/actions/{action['id']}", headers=admin).json()
    before_versions = http.get(f"{API}/actions/actions/{action['id']}/versions", headers=admin).json()
    before_bindings = http.get(f"{API}/actions/triggers/post-login/bindings", headers=admin).json()
    before_user = http.get(f"{API}/users/{quoted(user['user_id'])}", headers=admin).json()

    base = f"{API}/actions/actions/{action['id']}"
    not_found = [
        ("GET", base, None),
        ("PATCH", base, {"name": unique("stolen"), "code": "// stolen"}),
        ("DELETE", base, None),
        ("DELETE", base + "?force=true", None),
        ("POST", base + "/deploy", None),
        ("POST", base + "/test", {"payload": {"event": workload_event("other")}}),
        ("GET", base + "/versions", None),
        ("GET", base + f"/versions/{version['id']}", None),
        ("POST", base + f"/versions/{version['id']}/deploy", {"update_draft": True}),
        ("GET", f"{API}/users/{quoted(user['user_id'])}", None),
        ("PATCH", f"{API}/users/{quoted(user['user_id'])}", {"app_metadata": {"tenant": "b"}}),
    ]
    for method, path, body in not_found:
        assert_auth0_error(http.request(method, path, headers=headers, json=body), 404)

    # binding the first tenant's action (by id, by name, by binding id) from the other tenant is refused
    for ref in ({"type": "action_id", "value": action["id"]}, {"type": "action_name", "value": action["name"]},
                {"type": "binding_id", "value": first_tenant["binding"]["id"]}):
        response = http.patch(f"{API}/actions/triggers/post-login/bindings", headers=headers, json={"bindings": [{"ref": ref}]})
        assert 400 <= response.status_code < 500, response.text
        assert_auth0_error(response, response.status_code)
    assert http.get(f"{API}/actions/triggers/post-login/bindings", headers=headers).json()["bindings"] == []

    assert http.get(base, headers=admin).json() == before_action
    assert http.get(base + "/versions", headers=admin).json() == before_versions
    assert http.get(f"{API}/actions/triggers/post-login/bindings", headers=admin).json() == before_bindings
    assert http.get(f"{API}/users/{quoted(user['user_id'])}", headers=admin).json() == before_user


def test_another_tenant_gets_404_for_the_first_tenants_executions(http, admin, other_token, first_tenant):
    executed = http.post("/triggers/post-login/execute", headers=admin,
                         json={"event": workload_event("tenant-exec-" + uuid.uuid4().hex[:8])})
    assert executed.status_code == 200, executed.text
    execution_id = executed.json()["execution_id"]

    deadline = time.monotonic() + 10  # the record is written off the hot path
    while (own := http.get(f"{API}/actions/executions/{execution_id}", headers=admin)).status_code == 404:
        assert time.monotonic() < deadline, own.text
        time.sleep(0.1)
    assert own.status_code == 200, own.text
    assert own.json()["id"] == execution_id

    assert_auth0_error(http.get(f"{API}/actions/executions/{execution_id}", headers=bearer(other_token)), 404)
    assert_auth0_error(http.get(f"{API}/actions/executions/exec_{uuid.uuid4().hex}", headers=admin), 404)


def test_another_tenants_user_with_the_same_id_is_separate(http, admin, other_token, first_tenant):
    user_id = first_tenant["user"]["user_id"]
    created = http.post(f"{API}/users", headers=bearer(other_token),
                        json={"connection": "Username-Password-Authentication", "user_id": user_id,
                              "app_metadata": {"tenant": "b"}})
    assert created.status_code == 201, created.text
    assert created.json()["user_id"] == user_id
    assert http.get(f"{API}/users/{quoted(user_id)}", headers=bearer(other_token)).json()["app_metadata"] == {"tenant": "b"}
    assert http.get(f"{API}/users/{quoted(user_id)}", headers=admin).json()["app_metadata"] == {"tenant": "a"}


def test_actions_with_the_same_name_coexist_in_two_tenants(http, admin, other_token):
    name = unique("shared")
    body = {"name": name, "supported_triggers": POST_LOGIN, "code": CODE, "deploy": True}
    mine = http.post(f"{API}/actions/actions", headers=admin, json=body)
    theirs = http.post(f"{API}/actions/actions", headers=bearer(other_token), json=body)
    assert mine.status_code == 201, mine.text
    assert theirs.status_code == 201, theirs.text
    assert mine.json()["id"] != theirs.json()["id"]

    assert [a["id"] for a in http.get(f"{API}/actions/actions", headers=admin, params={"actionName": name}).json()["actions"]] \
        == [mine.json()["id"]]
    assert [a["id"] for a in http.get(f"{API}/actions/actions", headers=bearer(other_token),
                                      params={"actionName": name}).json()["actions"]] == [theirs.json()["id"]]

    # binding by name resolves within the caller's tenant
    bound = http.patch(f"{API}/actions/triggers/post-login/bindings", headers=bearer(other_token),
                       json={"bindings": [{"ref": {"type": "action_name", "value": name}}]})
    assert bound.status_code == 200, bound.text
    assert [b["action"]["id"] for b in bound.json()["bindings"]] == [theirs.json()["id"]]
    http.patch(f"{API}/actions/triggers/post-login/bindings", headers=bearer(other_token), json={"bindings": []})

    assert_auth0_error(http.post(f"{API}/actions/actions", headers=admin, json=body), 409)

    # deleting one leaves the other
    assert http.delete(f"{API}/actions/actions/{theirs.json()['id']}", headers=bearer(other_token)).status_code == 204
    assert http.get(f"{API}/actions/actions/{mine.json()['id']}", headers=admin).status_code == 200

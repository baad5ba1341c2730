"""Roles, a user's roles, the users list and account linking through the Management API of a real
`actionhost serve`, raw and through the official SDK (whose models pin the shapes to Auth0's), and
the roles a post-login action sees in event.authorization.roles."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest
from auth0.management import Auth0
from auth0.management.core.api_error import ApiError

API = "/api/v2"
ROLES_CLAIM = ("exports.onExecutePostLogin = async (event, api) => {\n"
               "  api.idToken.setCustomClaim('https://example.com/roles', event.authorization.roles);\n};\n")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def http(server):
    with httpx.Client(base_url=server.url, headers=server.headers(), timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def sdk(server) -> Auth0:
    return Auth0(base_url=server.api, token=server.token, max_retries=0, timeout=30)


def new_user(http, **extra) -> dict:
    user_id = uuid.uuid4().hex
    created = http.post(f"{API}/users", json={"connection": "Username-Password-Authentication", "user_id": user_id,
                                              "email": f"{user_id}@example.com", **extra})
    assert created.status_code == 201, created.text
    return created.json()


# -- roles -----------------------------------------------------------------------------------


def test_roles_are_created_listed_renamed_and_deleted(http):
    name = unique("editor")
    created = http.post(f"{API}/roles", json={"name": name, "description": "edits things"})
    assert created.status_code == 200, created.text
    role = created.json()
    assert set(role) == {"id", "name", "description"} and role["id"].startswith("rol_") and role["name"] == name
    assert http.post(f"{API}/roles", json={"name": name}).status_code == 409
    listed = http.get(f"{API}/roles", params={"name_filter": name.upper()})
    assert listed.json() == [role]
    totals = http.get(f"{API}/roles", params={"include_totals": "true", "per_page": 1}).json()
    assert set(totals) == {"roles", "start", "limit", "total"} and totals["limit"] == 1 and len(totals["roles"]) == 1
    assert http.get(f"{API}/roles/{role['id']}").json() == role
    renamed = http.patch(f"{API}/roles/{role['id']}", json={"name": name + "-2"})
    assert renamed.status_code == 200 and renamed.json()["name"] == name + "-2" and renamed.json()["description"] == "edits things"
    for bad in ({"name": ""}, {"name": "   "}, {"name": "x" * 51}, {"description": None}, {"permissions": []}):
        assert http.patch(f"{API}/roles/{role['id']}", json=bad).status_code == 400, bad
    assert http.post(f"{API}/roles", json={"description": "no name"}).status_code == 400
    assert http.delete(f"{API}/roles/{role['id']}").status_code == 204
    assert http.get(f"{API}/roles/{role['id']}").status_code == 404
    assert http.delete(f"{API}/roles/{role['id']}").status_code == 404


def test_a_users_roles_are_assigned_all_or_nothing_listed_and_removed(http):
    user = new_user(http)
    admin = http.post(f"{API}/roles", json={"name": unique("admin")}).json()
    beta = http.post(f"{API}/roles", json={"name": unique("beta")}).json()
    path = f"{API}/users/{user['user_id']}/roles"
    missing = http.post(path, json={"roles": [admin["id"], "rol_doesnotexist00"]})
    assert missing.status_code == 404 and "rol_doesnotexist00" in missing.json()["message"]
    assert http.get(path).json() == []
    assert http.post(path, json={"roles": [beta["id"], admin["id"]]}).status_code == 204
    assert sorted(r["id"] for r in http.get(path).json()) == sorted([admin["id"], beta["id"]])
    page = http.get(path, params={"include_totals": "true", "per_page": 1}).json()
    assert page["total"] == 2 and len(page["roles"]) == 1
    assert http.request("DELETE", path, json={"roles": [admin["id"]]}).status_code == 204
    assert [r["id"] for r in http.get(path).json()] == [beta["id"]]
    assert http.post(f"{API}/users/auth0|nobody-{uuid.uuid4().hex}/roles", json={"roles": [beta["id"]]}).status_code == 404
    for bad in ({}, {"roles": []}, {"roles": "rol_x"}, {"roles": [1]}, {"roles": ["x" * 65]}):
        assert http.post(path, json=bad).status_code == 400, bad


def test_post_login_sees_the_stored_roles_of_a_tenant_that_has_roles(server, http):
    """A tenant with roles: event.authorization.roles comes from the store, whatever the login
    service sends. A tenant without any keeps the caller's, as before roles existed."""
    made = server.cli("tenants", "create", unique("noroles"))
    assert made.returncode == 0, made.stderr
    plain = {"Authorization": f"Bearer {made.stdout.strip().splitlines()[-1]}"}
    for headers in (server.headers(), plain):
        action = http.post(f"{API}/actions/actions", headers=headers, json={
            "name": unique("roles-claim"), "supported_triggers": [{"id": "post-login", "version": "v3"}],
            "code": ROLES_CLAIM, "deploy": True})
        assert action.status_code == 201, action.text
        bound = http.patch(f"{API}/actions/triggers/post-login/bindings", headers=headers,
                           json={"bindings": [{"ref": {"type": "action_id", "value": action.json()["id"]}}]})
        assert bound.status_code == 200, bound.text
    user = new_user(http)
    role = http.post(f"{API}/roles", json={"name": unique("support")}).json()
    assert http.post(f"{API}/users/{user['user_id']}/roles", json={"roles": [role["id"]]}).status_code == 204
    event = {"user": {"user_id": user["user_id"]}, "authorization": {"roles": ["claimed-by-caller"]}}

    def roles_seen(headers: dict[str, str], login: dict) -> list[str]:
        done = http.post("/triggers/post-login/execute", headers=headers, json={"event": login})
        assert done.status_code == 200 and done.json()["status"] == "allowed", done.text
        return done.json()["id_token_claims"]["https://example.com/roles"]

    assert roles_seen(server.headers(), event) == [role["name"]]
    stranger = {"user": {"user_id": f"auth0|{uuid.uuid4().hex}"}, "authorization": {"roles": ["claimed-by-caller"]}}
    assert roles_seen(server.headers(), stranger) == []
    assert roles_seen(plain, event) == ["claimed-by-caller"]
    # a role deleted: gone from the next login
    assert http.delete(f"{API}/roles/{role['id']}").status_code == 204
    assert role["name"] not in roles_seen(server.headers(), event)


# -- the users list ------------------------------------------------------------------------


def test_users_are_listed_paged_and_searched_by_email_or_user_id(http):
    marker = uuid.uuid4().hex[:8]
    users = []
    for i in range(3):
        users.append(new_user(http, name=f"{marker}-{i}"))
        time.sleep(0.005)  # created_at has milliseconds: each its own
    everyone = http.get(f"{API}/users", params={"include_totals": "true", "per_page": 100})
    body = everyone.json()
    assert set(body) == {"start", "limit", "length", "users", "total"} and body["length"] == len(body["users"])
    assert body["total"] >= 3
    assert isinstance(http.get(f"{API}/users").json(), list)
    for term in (f'email:"{users[1]["email"].upper()}"', f"email:{users[1]['email']}", f'user_id:"{users[1]["user_id"]}"'):
        found = http.get(f"{API}/users", params={"q": term})
        assert found.status_code == 200 and [u["user_id"] for u in found.json()] == [users[1]["user_id"]], term
    page = http.get(f"{API}/users", params={"sort": "created_at:-1", "per_page": 2, "page": 0, "include_totals": "true"}).json()
    assert [u["user_id"] for u in page["users"]] == [users[2]["user_id"], users[1]["user_id"]] and page["start"] == 0
    picked = http.get(f"{API}/users", params={"q": f'user_id:"{users[0]["user_id"]}"', "fields": "user_id,email"}).json()
    assert picked == [{"user_id": users[0]["user_id"], "email": users[0]["email"]}]
    left_out = http.get(f"{API}/users/{users[0]['user_id']}", params={"fields": "identities", "include_fields": "false"}).json()
    assert "identities" not in left_out and left_out["email"] == users[0]["email"]


@pytest.mark.parametrize("params", [
    {"q": "name:sam"}, {"q": 'email:"a@b.c" OR email:"d@e.f"'}, {"q": "email:*@example.com"},
    {"q": "app_metadata.plan:free"}, {"q": "x" * 2000}, {"sort": "email:1"}, {"sort": "created_at"}, {"per_page": "101"},
    {"page": "-1"},
])
def test_a_search_actionhost_cannot_answer_exactly_is_a_400(http, params):
    response = http.get(f"{API}/users", params=params)
    assert response.status_code == 400 and response.json()["errorCode"] == "invalid_query_string", response.text


# -- linking -------------------------------------------------------------------------------


def test_linking_moves_the_secondary_into_the_primary(http):
    primary = new_user(http)
    secondary_id = uuid.uuid4().hex
    # a user a login created (POST /users makes database users only)
    login = http.post("/triggers/post-login/execute", json={"event": {
        "user": {"user_id": f"github|{secondary_id}", "nickname": "octo"}, "connection": {"name": "github"}}})
    assert login.status_code == 200 and login.json()["user"]["user_id"] == f"github|{secondary_id}", login.text
    path = f"{API}/users/{primary['user_id']}/identities"
    assert http.post(path, json={"link_with": "a.b.c"}).status_code == 400
    assert http.post(path, json={"provider": "github"}).status_code == 400
    same = http.post(path, json={"provider": "auth0", "user_id": primary["user_id"].split("|", 1)[1]})
    assert same.status_code == 400 and same.json()["message"] == "Main identity and the new one are the same."
    assert http.post(path, json={"provider": "github", "user_id": "nobody"}).status_code == 400
    assert http.post(f"{API}/users/auth0|nobody-{secondary_id}/identities",
                     json={"provider": "github", "user_id": secondary_id}).status_code == 404
    linked = http.post(path, json={"provider": "github", "user_id": secondary_id})
    assert linked.status_code == 201, linked.text
    identities = linked.json()
    assert [(i["provider"], i["user_id"]) for i in identities] == [("auth0", primary["user_id"].split("|", 1)[1]),
                                                                   ("github", secondary_id)]
    assert identities[1]["connection"] == "github" and identities[1]["isSocial"] is True
    assert identities[1]["profileData"]["nickname"] == "octo"
    assert http.get(f"{API}/users/github|{secondary_id}").status_code == 404
    assert http.get(f"{API}/users/{primary['user_id']}").json()["identities"] == identities


# -- the official SDK ------------------------------------------------------------------------


def test_the_sdk_reads_roles_users_and_links_in_auth0s_shapes(sdk, http):
    role = sdk.roles.create(name=unique("sdk-role"), description="made by the SDK")
    assert role.id.startswith("rol_")
    assert role.id in [r.id for r in sdk.roles.list(per_page=100)]
    assert sdk.roles.get(role.id).description == "made by the SDK"
    user = new_user(http)
    sdk.users.roles.assign(user["user_id"], roles=[role.id])
    assert [r.name for r in sdk.users.roles.list(user["user_id"])] == [role.name]
    found = list(sdk.users.list(q=f'email:"{user["email"]}"'))
    assert [u.user_id for u in found] == [user["user_id"]]
    other = new_user(http)
    identities = sdk.users.identities.link(user["user_id"], provider="auth0", user_id=other["user_id"].split("|", 1)[1])
    assert [i.user_id for i in identities] == [user["user_id"].split("|", 1)[1], other["user_id"].split("|", 1)[1]]
    with pytest.raises(ApiError) as caught:
        sdk.users.get(other["user_id"])
    assert caught.value.status_code == 404
    sdk.roles.delete(role.id)
    assert sdk.users.roles.list(user["user_id"]).items == [] or list(sdk.users.roles.list(user["user_id"])) == []

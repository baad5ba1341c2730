"""Hostile callers of the HTTP surface itself, against a real `actionhost serve`: what the caller
says about who it is, and what a body claims to be, do not decide what the server does."""

from __future__ import annotations

import socket
import uuid
from http import HTTPStatus
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import orjson
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


# -- Content-Type (issue 24, item 4) -----------------------------------------------------------

NOT_JSON = [None, "text/plain", "text/plain; charset=utf-8", "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x", "application/octet-stream", "application/jsonx", "text/json",
            "application/json, text/plain", "application/json; charset=utf-16", "application/json; charset=latin-1",
            "application/xml", ""]
JSON = ["application/json", "Application/JSON", "application/json; charset=utf-8", "application/json;charset=UTF-8",
        'application/json; charset="utf-8"']


def _send(http: httpx.Client, method: str, path: str, token: str, raw: bytes, content_type: str | None) -> httpx.Response:
    headers = bearer(token)
    if content_type is not None:
        headers["Content-Type"] = content_type
    return http.request(method, path, headers=headers, content=raw)


def _action_named(http: httpx.Client, token: str, name: str) -> list[dict]:
    return http.get(ACTIONS, headers=bearer(token), params={"actionName": name}).json()["actions"]


@pytest.mark.parametrize("content_type", NOT_JSON, ids=repr)
def test_a_management_body_not_sent_as_json_is_a_415_and_creates_nothing(http, tokens, content_type):
    name = unique("typed")
    raw = orjson.dumps({"name": name, "supported_triggers": POST_LOGIN, "code": TENANT_CODE})
    if content_type and "utf-16" in content_type:
        raw = raw.decode().encode("utf-16")
    body = assert_rejected(_send(http, "POST", ACTIONS, tokens["default"], raw, content_type), 415)
    assert body["errorCode"] == "unsupported_media_type"
    assert _action_named(http, tokens["default"], name) == []


@pytest.mark.parametrize("content_type", NOT_JSON, ids=repr)
def test_a_trigger_body_not_sent_as_json_is_a_415(http, tenant_flows, content_type):
    raw = orjson.dumps({"event": {"user": {"user_id": unique("auth0|typed")}}})
    assert_rejected(_send(http, "POST", EXECUTE, tenant_flows["default"], raw, content_type), 415)
    assert_rejected(_send(http, "POST", CONTINUE, tenant_flows["default"], b'{"state": "x"}', content_type), 415)


def test_every_body_taking_endpoint_refuses_a_text_plain_body(http, tokens):
    action = http.post(ACTIONS, headers=bearer(tokens["default"]), json={
        "name": unique("target"), "supported_triggers": POST_LOGIN, "code": TENANT_CODE, "deploy": True}).json()
    version = http.get(f"{ACTIONS}/{action['id']}/versions", headers=bearer(tokens["default"])).json()["versions"][0]
    user = http.post(f"{API}/users", headers=bearer(tokens["default"]),
                     json={"user_id": unique("typed"), "connection": "Username-Password-Authentication"})
    assert user.status_code == 201, user.text
    user_path = f"{API}/users/{quote(user.json()['user_id'], safe='')}"
    for method, path in [("PATCH", f"{ACTIONS}/{action['id']}"), ("POST", f"{ACTIONS}/{action['id']}/test"),
                         ("POST", f"{ACTIONS}/{action['id']}/versions/{version['id']}/deploy"), ("PATCH", BINDINGS),
                         ("POST", f"{API}/users"), ("PATCH", user_path), ("POST", f"{user_path}/roles"),
                         ("POST", f"{API}/roles"), ("POST", f"{API}/clients")]:
        assert_rejected(_send(http, method, path, tokens["default"], b"{}", "text/plain"), 415)


@pytest.mark.parametrize("content_type", JSON, ids=repr)
def test_json_with_or_without_a_utf8_charset_is_accepted(http, tenant_flows, content_type):
    name = unique("typed-ok")
    raw = orjson.dumps({"name": name, "supported_triggers": POST_LOGIN, "code": TENANT_CODE})
    created = _send(http, "POST", ACTIONS, tenant_flows["default"], raw, content_type)
    assert created.status_code == 201, created.text
    raw = orjson.dumps({"event": {"user": {"user_id": unique("auth0|typed")}}})
    executed = _send(http, "POST", EXECUTE, tenant_flows["default"], raw, content_type)
    assert executed.status_code == 200 and executed.json()["status"] == "allowed", executed.text


def test_requests_without_a_body_still_need_no_content_type(http, tokens):
    action = http.post(ACTIONS, headers=bearer(tokens["default"]), json={
        "name": unique("bodyless"), "supported_triggers": POST_LOGIN, "code": TENANT_CODE}).json()
    deployed = http.post(f"{ACTIONS}/{action['id']}/deploy", headers=bearer(tokens["default"]))
    assert deployed.status_code == 200, deployed.text
    version = deployed.json()["id"]
    rolled_back = http.post(f"{ACTIONS}/{action['id']}/versions/{version}/deploy", headers=bearer(tokens["default"]))
    assert rolled_back.status_code == 200, rolled_back.text
    # a body-taking endpoint sent nothing at all: the body is missing, not of the wrong type
    assert_rejected(http.post(ACTIONS, headers=bearer(tokens["default"])), 400)


# -- what error answers echo, and the headers every answer carries (issue 24, item 6) ----------

SECRET = "ah_" + "s3cr3t" * 8
MALFORMED = {
    "bare LF": b"GET /api/v2/actions/actions HTTP/1.1\nHost: x\nAuthorization: Bearer " + SECRET.encode() + b"\n\n",
    "NUL in a header": b"GET /api/v2/actions/actions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + SECRET.encode()
                       + b"\x00\r\n\r\n",
    "control in the target": b"GET /api/v2/\x01" + SECRET.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    "space before a colon": b"GET / HTTP/1.1\r\nHost: x\r\nAuthorization : Bearer " + SECRET.encode() + b"\r\n\r\n",
    "bad header name": b"GET / HTTP/1.1\r\nHost: x\r\nX-T\x7fken: " + SECRET.encode() + b"\r\n\r\n",
    "bad chunk size": b"POST " + EXECUTE.encode() + b" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + SECRET.encode()
                      + b"\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz" + SECRET.encode() + b"\r\n",
    "not HTTP": SECRET.encode() + b"\r\n\r\n",
}


def _raw_exchange(server, raw: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as conn:
        conn.sendall(raw)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    return answer


@pytest.mark.parametrize("raw", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_request_is_answered_in_auth0_shape_echoing_nothing(server, raw):
    answer = _raw_exchange(server, raw)
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    assert 400 <= status < 500, answer[:500]
    assert SECRET.encode() not in answer and b"s3cr3t" not in answer, answer[:500]
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(b":") for line in head.split(b"\r\n")[1:])}
    assert headers[b"content-type"].startswith(b"application/json"), answer[:500]
    assert headers[b"x-content-type-options"] == b"nosniff", answer[:500]
    error = orjson.loads(body)
    assert error["statusCode"] == status and error["error"] == HTTPStatus(status).phrase, error


def test_every_answer_says_nosniff(http, tokens):
    admin = bearer(tokens["default"])
    answers = [
        http.get("/healthz"), http.get(f"{API}/openapi.json"), http.get(ACTIONS, headers=admin),
        http.get(ACTIONS), http.get(ACTIONS, headers=bearer("wrong")), http.get(f"{ACTIONS}/nope", headers=admin),
        http.get("/no/such/route"), http.put(ACTIONS, headers=admin), http.get("/" + "a" * 9000, headers=admin),
        http.post(ACTIONS, headers=admin, content=b"x"),
        http.post("/oauth/token", data={"grant_type": "client_credentials"}),
        http.post(EXECUTE, headers=admin, json={"event": {}}),
    ]
    for response in answers:
        assert response.headers.get("x-content-type-options") == "nosniff", (response.request.url, response.status_code)

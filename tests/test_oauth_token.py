"""POST /oauth/token (client credentials) and the Management API's use of its tokens, against a real
`actionhost serve` over TLS on loopback: the grant with a form, JSON and Basic, each refusal in
Auth0's shape, scope narrowing, expiry, a deleted client, the JWKS, the official SDK end to end,
the `clients` CLI, forged tokens and tenants kept apart."""

from __future__ import annotations

import base64
import gzip
import hashlib
import hmac
import json
import subprocess
import sys
import time
import uuid

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from auth0.authentication import GetToken
from auth0.management import Auth0, ManagementClient
from auth0.management.core.api_error import ApiError
from conftest import start_server
from machine_clients import access_token, create_client, start_tls_server

READ_WRITE = ["read:users", "update:users", "create:users"]


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    tls = start_tls_server(tmp_path_factory.mktemp("oauth") / "data", "--executors", "1")
    try:
        yield tls
    finally:
        tls.stop()


@pytest.fixture(scope="module")
def http(srv):
    with srv.http() as client:
        yield client


@pytest.fixture(scope="module")
def m2m(srv):
    return create_client(srv, READ_WRITE)


@pytest.fixture(scope="module")
def user(srv, http):
    user_id = uuid.uuid4().hex
    created = http.post("/api/v2/users", headers=srv.server.headers(), json={
        "connection": "Username-Password-Authentication", "user_id": user_id, "email": f"{user_id}@example.com"})
    assert created.status_code == 201, created.text
    return created.json()


def grant(m2m, srv, **changes):
    body = {"grant_type": "client_credentials", "client_id": m2m["client_id"], "client_secret": m2m["client_secret"],
            "audience": srv.audience}
    for key, value in changes.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def assert_token_answer(response: httpx.Response, scope: str) -> str:
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 86400 and body["scope"] == scope
    assert response.headers["cache-control"] == "no-store"
    return body["access_token"]


# -- the grant -----------------------------------------------------------------------------


def test_a_form_body_gets_a_token_the_management_api_accepts(srv, http, m2m, user):
    token = assert_token_answer(http.post("/oauth/token", data=grant(m2m, srv)), " ".join(READ_WRITE))
    got = http.get(f"/api/v2/users/{user['user_id']}", headers=bearer(token))
    assert got.status_code == 200 and got.json()["email"] == user["email"]
    patched = http.patch(f"/api/v2/users/{user['user_id']}", headers=bearer(token), json={"app_metadata": {"by": "m2m"}})
    assert patched.status_code == 200 and patched.json()["app_metadata"]["by"] == "m2m"


def test_a_json_body_and_basic_credentials_get_tokens_too(srv, http, m2m, user):
    assert_token_answer(http.post("/oauth/token", json=grant(m2m, srv)), " ".join(READ_WRITE))
    without = grant(m2m, srv, client_id=None, client_secret=None)
    credentials = basic(m2m["client_id"], m2m["client_secret"])
    assert_token_answer(http.post("/oauth/token", data=without, headers=credentials), " ".join(READ_WRITE))
    assert_token_answer(http.post("/oauth/token", json=without, headers=credentials), " ".join(READ_WRITE))
    # the body may repeat the client_id of the header
    assert_token_answer(http.post("/oauth/token", data=grant(m2m, srv, client_secret=None), headers=credentials),
                        " ".join(READ_WRITE))


def test_the_token_is_auth0s_and_verifies_against_the_published_jwks(srv, http, m2m):
    token = access_token(srv, m2m["client_id"], m2m["client_secret"])
    jwks = http.get("/.well-known/jwks.json")
    assert jwks.status_code == 200
    kid = jwt.get_unverified_header(token)["kid"]
    key = jwt.PyJWKSet.from_dict(jwks.json())[kid]
    claims = jwt.decode(token, key.key, algorithms=["RS256"], audience=srv.audience, issuer=f"https://{srv.domain}/")
    assert claims["sub"] == f"{m2m['client_id']}@clients" and claims["azp"] == m2m["client_id"]
    assert claims["gty"] == "client-credentials" and claims["scope"] == " ".join(READ_WRITE)
    assert claims["exp"] - claims["iat"] == 86400 and abs(claims["iat"] - time.time()) < 60


def test_scope_narrows_the_token_to_what_it_asks(srv, http, m2m, user):
    for asked in ("read:users", ["read:users"]):
        response = http.post("/oauth/token", json=grant(m2m, srv, scope=asked))
        token = assert_token_answer(response, "read:users")
        assert http.get(f"/api/v2/users/{user['user_id']}", headers=bearer(token)).status_code == 200
        refused = http.patch(f"/api/v2/users/{user['user_id']}", headers=bearer(token), json={"app_metadata": {}})
        assert refused.status_code == 403 and refused.json()["message"] == "Insufficient scope, expected any of: update:users"


def test_narrowing_a_clients_scopes_narrows_its_tokens_already_issued(srv, http, user):
    client = create_client(srv, READ_WRITE)
    token = access_token(srv, client["client_id"], client["client_secret"])
    narrowed = http.patch(f"/api/v2/clients/{client['client_id']}", headers=srv.server.headers(), json={"scopes": ["read:users"]})
    assert narrowed.status_code == 200 and narrowed.json()["scopes"] == ["read:users"]
    assert http.get(f"/api/v2/users/{user['user_id']}", headers=bearer(token)).status_code == 200
    assert http.patch(f"/api/v2/users/{user['user_id']}", headers=bearer(token), json={"app_metadata": {}}).status_code == 403


NOT_THERE = "https://nowhere.example/api/v2/"


@pytest.mark.parametrize("name, changes, headers, status, error, description", [
    ("no grant_type", {"grant_type": None}, {}, 400, "invalid_request", "Missing required parameter: grant_type"),
    ("another grant", {"grant_type": "password"}, {}, 403, "unsupported_grant_type", "Unsupported grant type: password"),
    ("no client_id", {"client_id": None}, {}, 400, "invalid_request", "Missing required parameter: client_id"),
    ("no secret", {"client_secret": None}, {}, 401, "invalid_client", None),
    ("a wrong secret", {"client_secret": "wrong"}, {}, 401, "access_denied", "Unauthorized"),
    ("an empty secret", {"client_secret": ""}, {}, 401, "invalid_client", None),
    ("an unknown client", {"client_id": "x" * 32}, {}, 401, "access_denied", "Unauthorized"),
    ("no audience", {"audience": None}, {}, 403, "access_denied",
     "No audience parameter was provided, and no default audience has been configured"),
    ("an unknown audience", {"audience": NOT_THERE}, {}, 403, "access_denied", f"Service not found: {NOT_THERE}"),
    ("the audience without its slash", {"audience": "AUDIENCE-NO-SLASH"}, {}, 403, "access_denied", None),
    ("a scope not granted", {"scope": "read:users delete:clients"}, {}, 403, "access_denied",
     "Client has not been granted scopes: delete:clients"),
    ("Basic and a secret in the body", {}, "BASIC", 400, "invalid_request", None),
    ("malformed Basic", {"client_secret": None}, {"Authorization": "Basic !!!"}, 401, "invalid_client", None),
    ("Basic without a colon", {"client_secret": None}, {"Authorization": "Basic " + base64.b64encode(b"abc").decode()},
     401, "invalid_client", None),
])
def test_refusals_in_auth0s_shape(srv, http, m2m, name, changes, headers, status, error, description):
    if changes.get("audience") == "AUDIENCE-NO-SLASH":
        changes = {"audience": srv.audience.rstrip("/")}
    if headers == "BASIC":
        headers = basic(m2m["client_id"], m2m["client_secret"])
    for send in ({"data": grant(m2m, srv, **changes)}, {"json": grant(m2m, srv, **changes)}):
        response = http.post("/oauth/token", headers=headers, **send)
        assert response.status_code == status, (name, response.text)
        body = response.json()
        assert set(body) == {"error", "error_description"} and body["error"] == error, (name, body)
        if description is not None:
            assert body["error_description"] == description, (name, body)
        assert "access_token" not in response.text


def test_a_client_without_scopes_is_not_authorized_for_the_api(srv, http):
    bare = create_client(srv, [])
    response = http.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": bare["client_id"],
                                               "client_secret": bare["client_secret"], "audience": srv.audience})
    assert response.status_code == 403
    assert response.json()["error_description"].startswith(f'Client is not authorized to access "{srv.audience}".')


@pytest.mark.parametrize("name, content, content_type, status, error", [
    ("a huge body", b"grant_type=client_credentials&x=" + b"a" * (70 * 1024), "application/x-www-form-urlencoded", 413,
     "invalid_request"),
    ("a repeated parameter", b"grant_type=client_credentials&grant_type=client_credentials", "application/x-www-form-urlencoded",
     400, "invalid_request"),
    ("too many parameters", "&".join(f"p{i}=1" for i in range(100)).encode(), "application/x-www-form-urlencoded", 400,
     "invalid_request"),
    ("not UTF-8", b"grant_type=\xff\xfe", "application/x-www-form-urlencoded", 400, "invalid_request"),
    ("invalid JSON", b'{"grant_type": ', "application/json", 400, "invalid_request"),
    ("a JSON array", b'["grant_type"]', "application/json", 400, "invalid_request"),
    ("deeply nested JSON", b'{"a":' * 50 + b"1" + b"}" * 50, "application/json", 400, "invalid_request"),
    ("a number for client_id", b'{"grant_type": "client_credentials", "client_id": 7}', "application/json", 400,
     "invalid_request"),
    ("an object for scope", b'{"grant_type": "client_credentials", "scope": {"a": 1}}', "application/json", 400,
     "invalid_scope"),
    ("another content type", b"<grant/>", "application/xml", 400, "invalid_request"),
    ("a parameter of 5000 characters", b"grant_type=client_credentials&client_id=" + b"a" * 5000,
     "application/x-www-form-urlencoded", 400, "invalid_request"),
])
def test_odd_bodies_get_a_4xx(http, name, content, content_type, status, error):
    response = http.post("/oauth/token", content=content, headers={"Content-Type": content_type})
    assert response.status_code == status, (name, response.text)
    assert response.json()["error"] == error, name


def test_a_compressed_or_chunked_huge_body_is_refused(http):
    packed = gzip.compress(b"grant_type=client_credentials")
    response = http.post("/oauth/token", content=packed, headers={"Content-Encoding": "gzip",
                                                                   "Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 415

    def chunks():
        for _ in range(100):
            yield b"a" * 1024
    response = http.post("/oauth/token", content=chunks(), headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413


# -- deleted clients, forged tokens, tenants ---------------------------------------------


def test_a_deleted_clients_tokens_stop_working(srv, http, user):
    by_api = create_client(srv, READ_WRITE)
    token = access_token(srv, by_api["client_id"], by_api["client_secret"])
    assert http.get(f"/api/v2/users/{user['user_id']}", headers=bearer(token)).status_code == 200
    assert http.delete(f"/api/v2/clients/{by_api['client_id']}", headers=srv.server.headers()).status_code == 204
    # deleted on this node: refused at once
    assert http.get(f"/api/v2/users/{user['user_id']}", headers=bearer(token)).status_code == 401
    assert http.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": by_api["client_id"],
                                           "client_secret": by_api["client_secret"],
                                           "audience": srv.audience}).status_code == 401


def test_the_clients_cli_creates_lists_and_deletes(srv, http, user):
    created = srv.server.cli("clients", "create", "--name", "from-cli", "--scopes", "read:users")
    assert created.returncode == 0, created.stderr
    values = dict(line.split("=", 1) for line in created.stdout.split())
    assert set(values) == {"client_id", "client_secret"} and "shown once" in created.stderr
    token = access_token(srv, values["client_id"], values["client_secret"])
    assert http.get(f"/api/v2/users/{user['user_id']}", headers=bearer(token)).status_code == 200
    listed = srv.server.cli("clients", "list")
    assert listed.returncode == 0 and f"{values['client_id']}  from-cli  read:users" in listed.stdout
    assert values["client_secret"] not in listed.stdout
    deleted = srv.server.cli("clients", "delete", values["client_id"])
    assert deleted.returncode == 0, deleted.stderr
    # deleted by another process: the server notices within its client cache's few seconds
    deadline = time.monotonic() + 15
    while http.get(f"/api/v2/users/{user['user_id']}", headers=bearer(token)).status_code != 401:
        assert time.monotonic() < deadline, "the deleted client's token still works"
        time.sleep(0.25)
    again = srv.server.cli("clients", "delete", values["client_id"])
    assert again.returncode == 1 and "no client" in again.stderr
    bad = srv.server.cli("clients", "create", "--name", "x", "--scopes", "read:everything")
    assert bad.returncode == 2 and "unknown scopes: read:everything" in bad.stderr


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_forged_tokens_get_401(srv, http, m2m, user):
    token = access_token(srv, m2m["client_id"], m2m["client_secret"])
    header, payload, signature = token.split(".")
    kid = jwt.get_unverified_header(token)["kid"]
    claims = jwt.decode(token, options={"verify_signature": False})
    public = jwt.PyJWKSet.from_dict(http.get("/.well-known/jwks.json").json())[kid].key
    public_pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    more = json.dumps({**claims, "scope": "read:users update:users create:users delete:clients read:clients"}).encode()
    hs_signed = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode()) + "." + b64(more)
    forged = {
        "alg none": b64(json.dumps({"alg": "none", "typ": "JWT"}).encode()) + "." + b64(more) + ".",
        "HS256 keyed with the published public key": hs_signed + "." + b64(hmac.new(public_pem, hs_signed.encode(),
                                                                                    hashlib.sha256).digest()),
        "another key under the server's kid": jwt.encode(json.loads(more), other, algorithm="RS256", headers={"kid": kid}),
        "more scopes under the genuine signature": f"{header}.{b64(more)}.{signature}",
        "a mangled signature": f"{header}.{payload}.{signature[::-1]}",
    }
    for name, bad in forged.items():
        response = http.get(f"/api/v2/users/{user['user_id']}", headers=bearer(bad))
        assert response.status_code == 401 and response.json()["errorCode"] == "invalid_token", (name, response.text)
        assert http.get("/api/v2/clients", headers=bearer(bad)).status_code == 401, name
    # the genuine token still works: nothing above poisoned a cache
    assert http.get(f"/api/v2/users/{user['user_id']}", headers=bearer(token)).status_code == 200


def test_a_token_is_for_the_host_it_was_asked_of(srv, m2m, user):
    token = access_token(srv, m2m["client_id"], m2m["client_secret"])
    localhost = f"https://localhost:{srv.server.port}"
    with httpx.Client(base_url=localhost, verify=srv.ssl_context(), timeout=30) as other:
        # the same server reached as localhost: another audience, and a 401 that says which
        response = other.get(f"/api/v2/users/{user['user_id']}", headers=bearer(token))
        assert response.status_code == 401 and response.json()["message"] == f"Bad audience: {srv.audience}"
        # a token asked of localhost for localhost's audience works there
        asked = other.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": m2m["client_id"],
                                                 "client_secret": m2m["client_secret"], "audience": f"{localhost}/api/v2/"})
        assert other.get(f"/api/v2/users/{user['user_id']}", headers=bearer(asked.json()["access_token"])).status_code == 200


def test_tokens_of_one_tenant_never_read_another(srv, http, m2m, user):
    made = srv.server.cli("tenants", "create", "oauth-other")
    assert made.returncode == 0, made.stderr
    other_admin = made.stdout.strip().splitlines()[-1]
    theirs = http.post("/api/v2/users", headers=bearer(other_admin), json={
        "connection": "Username-Password-Authentication", "user_id": "theirs", "email": "theirs@example.com"})
    assert theirs.status_code == 201
    other_client = create_client(srv, READ_WRITE + ["read:clients", "delete:clients"], token=other_admin)
    ours = access_token(srv, m2m["client_id"], m2m["client_secret"])
    other_token = access_token(srv, other_client["client_id"], other_client["client_secret"])
    # ours cannot see their user, nor their client; theirs cannot see our user
    assert http.get("/api/v2/users/auth0|theirs", headers=bearer(ours)).status_code == 404
    assert http.get(f"/api/v2/users/{user['user_id']}", headers=bearer(other_token)).status_code == 404
    assert http.get("/api/v2/users/auth0|theirs", headers=bearer(other_token)).status_code == 200
    assert http.get(f"/api/v2/clients/{other_client['client_id']}", headers=srv.server.headers()).status_code == 404
    assert http.delete(f"/api/v2/clients/{m2m['client_id']}", headers=bearer(other_token)).status_code == 404
    listed = http.get("/api/v2/users", headers=bearer(other_token), params={"q": f'user_id:"{user["user_id"]}"'})
    assert listed.status_code == 200 and listed.json() == []
    their_list = http.get("/api/v2/clients", headers=bearer(other_admin)).json()
    assert [c["client_id"] for c in their_list] == [other_client["client_id"]]


# -- the official SDK, end to end ------------------------------------------------------------


def test_auth0_python_gets_a_token_and_reads_a_user(srv, m2m, user, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", srv.ca_file)  # GetToken speaks https through requests
    answer = GetToken(srv.domain, m2m["client_id"], m2m["client_secret"]).client_credentials(srv.audience)
    assert answer["token_type"] == "Bearer" and answer["expires_in"] == 86400
    with httpx.Client(verify=srv.ssl_context(), timeout=30) as transport:
        client = Auth0(base_url=f"https://{srv.domain}/api/v2", token=answer["access_token"], httpx_client=transport,
                       max_retries=0)
        fetched = client.users.get(user["user_id"])
        assert fetched.user_id == user["user_id"] and fetched.email == user["email"]
    # the wrong secret: the SDK's error carries Auth0's code and text
    with pytest.raises(Exception) as caught:
        GetToken(srv.domain, m2m["client_id"], "wrong").client_credentials(srv.audience)
    assert caught.value.status_code == 401 and caught.value.error_code == "access_denied"
    assert caught.value.message == "Unauthorized"


def test_management_client_with_client_credentials_as_node_auth0_does(srv, m2m, user, monkeypatch):
    """ManagementClient(domain, client_id, client_secret): the SDK fetches its own token from
    https://<domain>/oauth/token for https://<domain>/api/v2/, as node-auth0's does in an action."""
    monkeypatch.setenv("SSL_CERT_FILE", srv.ca_file)  # httpx (the SDK's transport) trusts the test CA
    management = ManagementClient(domain=srv.domain, client_id=m2m["client_id"], client_secret=m2m["client_secret"],
                                  timeout=30)
    updated = management.users.update(user["user_id"], app_metadata={"from": "ManagementClient"})
    assert updated.app_metadata["from"] == "ManagementClient"
    assert management.users.get(user["user_id"]).app_metadata["from"] == "ManagementClient"
    page = management.users.list(q=f'email:"{user["email"]}"', include_totals=True)
    assert [u.user_id for u in page.items] == [user["user_id"]]
    with pytest.raises(ApiError) as caught:
        management.actions.list()  # not a scope of this client
    assert caught.value.status_code == 403


# -- configured audiences and expiry (a server of their own) -----------------------------


def test_configured_audience_and_expiry(tmp_path):
    srv = start_server(tmp_path / "data", "--executors", "1", "--access-token-ttl", "2",
                       "--token-audience", "https://actions.example.com/api/v2/")
    try:
        client = create_client(srv, ["read:users"])
        with httpx.Client(base_url=srv.url, timeout=30) as http:
            def ask(audience: str) -> httpx.Response:
                return http.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": client["client_id"],
                                                       "client_secret": client["client_secret"], "audience": audience})
            # the host's own audience is not one of the configured ones
            assert ask(f"https://127.0.0.1:{srv.port}/api/v2/").status_code == 403
            answer = ask("https://actions.example.com/api/v2/")
            assert answer.status_code == 200 and answer.json()["expires_in"] == 2
            token = answer.json()["access_token"]
            assert jwt.decode(token, options={"verify_signature": False})["iss"] == "https://actions.example.com/"
            assert http.get("/api/v2/users", headers=bearer(token)).status_code == 200
            time.sleep(2.2)
            expired = http.get("/api/v2/users", headers=bearer(token))
            assert expired.status_code == 401
            assert expired.json()["message"] == "Expired token received for JSON Web Token validation"
    finally:
        srv.stop()


def test_serve_refuses_a_bad_audience_or_ttl(tmp_path):
    for flags, message in ((["--token-audience", "actions.example.com"], "must be an http(s) URL"),
                           (["--access-token-ttl", "0"], "must be at least 1")):
        done = subprocess.run([sys.executable, "-m", "server.cli", "serve", "--data-dir", str(tmp_path), *flags],
                              capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 2 and message in done.stderr, done.stderr


def test_a_request_without_a_host_header_gets_no_audience(srv, m2m, user):
    """HTTP/1.0 without Host: no audience to grant or accept (and no lookup of the machine's name)."""
    import socket

    token = access_token(srv, m2m["client_id"], m2m["client_secret"])
    form = (f"grant_type=client_credentials&client_id={m2m['client_id']}&client_secret={m2m['client_secret']}"
            f"&audience={srv.audience}").encode()
    requests_ = [
        b"POST /oauth/token HTTP/1.0\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: "
        + str(len(form)).encode() + b"\r\n\r\n" + form,
        f"GET /api/v2/users/{user['user_id']} HTTP/1.0\r\nAuthorization: Bearer {token}\r\n\r\n".encode(),
    ]
    answers = []
    for raw in requests_:
        with socket.create_connection(("127.0.0.1", srv.server.port), timeout=10) as plain, \
                srv.ssl_context().wrap_socket(plain, server_hostname="127.0.0.1") as tls:
            tls.sendall(raw)
            answers.append(b"".join(iter(lambda: tls.recv(65536), b"")))
    assert answers[0].startswith(b"HTTP/1.0 403") and b"Service not found" in answers[0], answers[0][:300]
    assert answers[1].startswith(b"HTTP/1.0 401") and b"Bad audience" in answers[1], answers[1][:300]

"""Schemathesis fuzzes every operation of the OpenAPI document the server serves at
/api/v2/openapi.json, against a real `actionhost serve`: no input may cause a server error, and
every answer must be one the document describes (status code, content type, body schema, headers).

Before the fuzzing, real data is made (actions drafted, deployed, bound; a user; executions;
redirect states; machine clients and roles), and generated path parameters, /continue states and
/oauth/token credentials are sometimes replaced by these real ones, so the operations behind the
404s and 401s run too."""

from __future__ import annotations

import collections
import os
import time
from typing import Any

import hypothesis.strategies as st
import orjson
import pytest
import requests
import schemathesis
from schemathesis import checks

from conftest import ADMIN_TOKEN, start_server

# CI runs the same examples every time; ACTIONHOST_FUZZ_SEED=<n> explores others (and
# ACTIONHOST_FUZZ_EXAMPLES=<n> more of them) when hunting locally
MAX_EXAMPLES = int(os.environ.get("ACTIONHOST_FUZZ_EXAMPLES", "50"))
SEED = int(os.environ.get("ACTIONHOST_FUZZ_SEED", "0"))
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
    checks.negative_data_rejection,
    checks.ignored_auth,
]

BOUND_CODE = """
exports.onExecutePostLogin = async (event, api) => {
  console.log("login", event.user.user_id);
  api.user.setAppMetadata("logins", (event.user.app_metadata.logins || 0) + 1);
  api.idToken.setCustomClaim("https://example.com/plan", event.user.app_metadata.plan || "free");
  if (event.request && event.request.query && event.request.query.go === "redirect") {
    api.redirect.sendUserTo("https://example.com/step-up", {query: {why: "fuzz"}});
  }
};
exports.onContinuePostLogin = async (event, api) => {
  api.accessToken.setCustomClaim("https://example.com/continued", event.request.query);
};
"""
DENY_CODE = "exports.onExecutePostLogin = async (event, api) => { api.access.deny('fuzz says no'); };"
STATES = 8

# what the fuzzing did: (operation, method sent, status) -> count
SEEN: collections.Counter[tuple[str, str, int]] = collections.Counter()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """This module's own server: the Write-User limit raised, so that user writes are fuzzed
    rather than mostly answered 429 (the 429 itself is covered by test_management_* and stays in
    the document)."""
    srv = start_server(tmp_path_factory.mktemp("actionhost") / "data", "--write-rate", "100000", "--write-burst", "100000")
    try:
        yield srv
    finally:
        srv.stop()


def _call(server, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
    response = requests.request(method, server.url + path, headers={**server.headers(), "Content-Type": "application/json"},
                                data=orjson.dumps(body) if body is not None else None, timeout=30)
    assert response.status_code == expect, (method, path, response.status_code, response.text)
    return response.json() if response.content else None


def _action(server, name: str, code: str, deploy: bool, **extra: Any) -> dict[str, Any]:
    return _call(server, "POST", "/api/v2/actions/actions", {
        "name": name, "supported_triggers": [{"id": "post-login", "version": "v3"}], "code": code,
        "deploy": deploy, **extra}, 201)


def _bind(server, action_ids: list[str]) -> None:
    _call(server, "PATCH", "/api/v2/actions/triggers/post-login/bindings",
          {"bindings": [{"ref": {"type": "action_id", "value": a}} for a in action_ids]})


@pytest.fixture(scope="module")
def real(server) -> dict[str, Any]:
    """Real objects for path parameters: actions (bound, deployed only, a draft that fails to
    build) with their versions, actions only DELETE gets (so that the others outlive it), a
    user, an execution, and unused redirect states for /continue."""
    bound = _action(server, "fuzz-bound", BOUND_CODE, True, secrets=[{"name": "API_KEY", "value": "s3cret"}])
    second = _call(server, "POST", f"/api/v2/actions/actions/{bound['id']}/deploy")
    deployed = _action(server, "fuzz-deployed", DENY_CODE, True)
    draft = _action(server, "fuzz-draft", "exports.x = (;", False)
    assert draft["status"] == "failed"
    doomed = [_action(server, f"fuzz-doomed-{i}", DENY_CODE, True) for i in range(3)]
    flow = [bound["id"], doomed[0]["id"]]
    _bind(server, flow)
    user = _call(server, "POST", "/api/v2/users", {"connection": "Username-Password-Authentication",
                                                   "user_id": "auth0|fuzz-1", "email": "fuzz@example.com"}, 201)
    execution = _call(server, "POST", "/triggers/post-login/execute", {"event": {"user": {"user_id": user["user_id"]}}})
    assert execution["status"] == "denied", execution
    states = []
    for i in range(STATES):
        redirected = _call(server, "POST", "/triggers/post-login/execute", {
            "event": {"user": {"user_id": f"auth0|fuzz-redirect-{i}"}, "request": {"query": {"go": "redirect"}}}})
        assert redirected["status"] == "redirect", redirected
        states.append(redirected["redirect"]["url"].rsplit("state=", 1)[1])
    client = _call(server, "POST", "/api/v2/clients", {"name": "fuzz-client", "scopes": ["read:users"]}, 201)
    # only its credentials are used, never its id in a path: no fuzzed PATCH narrows its scopes
    token_client = _call(server, "POST", "/api/v2/clients", {"name": "fuzz-token-client", "scopes": ["read:users"]}, 201)
    doomed_clients = [_call(server, "POST", "/api/v2/clients", {"name": f"fuzz-doomed-{i}"}, 201) for i in range(3)]
    grant = _call(server, "GET", f"/api/v2/client-grants?client_id={client['client_id']}")[0]
    role = _call(server, "POST", "/api/v2/roles", {"name": "fuzz-role"})
    doomed_roles = [_call(server, "POST", "/api/v2/roles", {"name": f"fuzz-doomed-{i}"}) for i in range(3)]
    deadline = time.monotonic() + 10
    while requests.get(f"{server.api}/actions/executions/{execution['execution_id']}", headers=server.headers(),
                       timeout=10).status_code != 200:
        assert time.monotonic() < deadline, "the execution record was not written"
        time.sleep(0.05)
    return {
        "actions": [(bound["id"], bound["deployed_version"]["id"]), (bound["id"], second["id"]),
                    (deployed["id"], deployed["deployed_version"]["id"]), (draft["id"], "none")],
        "doomed": [(a["id"], a["deployed_version"]["id"]) for a in doomed],
        "flow": flow,
        "users": [user["user_id"]],
        "executions": [execution["execution_id"]],
        "states": states,
        "clients": [client["client_id"]],
        "doomed_clients": [c["client_id"] for c in doomed_clients],
        "grants": [grant["id"]],
        "roles": [role["id"]],
        "doomed_roles": [r["id"] for r in doomed_roles],
        # what makes POST /oauth/token answer 200 (the fuzzer's own scope would mostly be refused)
        "credentials": {"grant_type": "client_credentials", "client_id": token_client["client_id"],
                        "client_secret": token_client["client_secret"], "audience": f"https://127.0.0.1:{server.port}/api/v2/",
                        "scope": "read:users"},
    }


@pytest.fixture(scope="module")
def api_schema(server, real):
    config = schemathesis.Config.from_dict({
        "seed": SEED or 1,
        "request-timeout": 30,
        # the one time-dependent health check: a slow CI machine must not fail the run
        "suppress-health-check": ["too_slow"],
        "auth": {"openapi": {"bearerAuth": {"bearer": ADMIN_TOKEN}}},
        "generation": {"max-examples": MAX_EXAMPLES, "deterministic": not SEED, "database": "none"},
        # every refusal the server can give invalid input, 413 (body over 1 MiB) included
        "checks": {"negative_data_rejection": {"expected-statuses": [400, 401, 403, 404, 405, 409, 413, 414, 415, 429, 431]}},
    })
    schema = schemathesis.openapi.from_url(server.url + "/api/v2/openapi.json", config=config)

    @schema.hook
    def flatmap_case(context, case):
        """Sometimes real ids in the path, or a real, unused redirect state for /continue (each
        works once). The case is changed through its attributes, so schemathesis re-checks which
        of its parts are still schema-violating."""
        path, method = case.operation.path, case.operation.method.upper()
        options: list[tuple[str, Any]] = [("as generated", None)]
        if path.startswith("/api/v2/actions/actions/"):
            pool = real["doomed"] if method == "DELETE" else real["actions"]
            options += [("path", {"id": a, "version_id": v}) for a, v in pool]
        elif path.startswith("/api/v2/users/"):
            options += [("path", {"id": u}) for u in real["users"]]
        elif path.startswith("/api/v2/actions/executions/"):
            options += [("path", {"id": e}) for e in real["executions"]]
        elif path.startswith("/api/v2/clients/"):
            options += [("path", {"id": c}) for c in real["doomed_clients" if method == "DELETE" else "clients"]]
        elif path.startswith("/api/v2/client-grants/"):
            options += [("path", {"id": g}) for g in real["grants"]]
        elif path.startswith("/api/v2/roles/"):
            options += [("path", {"id": r}) for r in real["doomed_roles" if method == "DELETE" else "roles"]]
        elif path == "/oauth/token" and isinstance(case.body, dict):
            options += [("body", real["credentials"])]
        elif path.endswith("/continue") and isinstance(case.body, dict):
            options += [("body", {"state": s}) for s in real["states"]]
        return st.sampled_from(options).map(lambda option: _substitute(case, *option))

    return schema


def _substitute(case, where: str, values: dict[str, Any] | None):
    if where == "path":
        case.path_parameters = {**case.path_parameters,
                                **{k: v for k, v in values.items() if k in case.path_parameters}}
    elif where == "body":
        case.body = {**case.body, **values}
    return case


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture(autouse=True)
def _schemathesis_node_id(request):
    """schemathesis 4.32.5 reads and renames `item._nodeid`, which pytest 9.2 no longer has."""
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


@schema.parametrize()
def test_openapi_fuzz(case, server, real):
    response = case.call()
    SEEN[(case.operation.label, case.method.upper(), response.status_code)] += 1
    if case.operation.label == "PATCH /api/v2/actions/triggers/{trigger_id}/bindings" and response.status_code == 200:
        # put the real flow back, so that later executions keep running actions (a deleted
        # doomed action has left it already)
        alive = [a for a in real["flow"] if requests.get(f"{server.api}/actions/actions/{a}", headers=server.headers(),
                                                         timeout=10).status_code == 200]
        _bind(server, alive)
    case.validate_response(response, checks=CHECKS)


def test_fuzzing_reached_the_real_objects(server):
    """The fuzzing ran every operation and got past the 404s to real objects."""
    if not SEEN:
        pytest.skip("the fuzz test did not run")
    operations = {op for op, _, _ in SEEN}
    print(f"\n{sum(SEEN.values())} requests over {len(operations)} operations:")
    for (op, method, status), count in sorted(SEEN.items()):
        print(f"  {op:66} {method:7} {status}  x{count}")
    document = requests.get(server.url + "/api/v2/openapi.json", timeout=10).json()
    expected = {f"{m.upper()} {p}" for p, item in document["paths"].items() for m in item if m != "parameters"}
    # schemathesis leaves out the operation that served it the document
    assert operations == expected - {"GET /api/v2/openapi.json"}
    for op in ("GET /api/v2/actions/actions/{id}", "GET /api/v2/actions/actions/{id}/versions/{version_id}",
               "GET /api/v2/users/{id}", "GET /api/v2/actions/executions/{id}", "POST /api/v2/actions/actions/{id}/test",
               "POST /triggers/{trigger_id}/execute", "POST /triggers/{trigger_id}/continue",
               "GET /api/v2/clients/{id}", "GET /api/v2/roles/{id}", "GET /api/v2/users/{id}/roles", "POST /oauth/token"):
        assert SEEN[(op, op.split()[0], 200)] > 0, (op, {k: v for k, v in SEEN.items() if k[0] == op})
    assert not [k for k in SEEN if k[2] >= 500]

"""Actions with npm dependencies through the real server: declared in Auth0's shape, built from a
local registry (pending -> built | failed), pinned per version, loaded by `require` in the
isolate, and never fetched while a trigger executes."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import threading
import uuid
from typing import Any

import httpx
import pytest

from conftest import ADMIN_TOKEN, start_server, workload_event
from npm_registry import LocalRegistry

GREETER = {
    "cjs/index.js": "const shout = require('shout');\n"
                    "exports.greet = (who) => shout(`hello ${who}`) + require('./format').suffix;\n"
                    "exports.file = __filename; exports.dir = __dirname;\n",
    "cjs/format.js": "exports.suffix = '!';\n",
    "esm/index.mjs": "export const greet = () => 'esm';\n",
}
GREETER_FIELDS = {"exports": {".": {"import": "./esm/index.mjs", "require": "./cjs/index.js"},
                              "./format": "./cjs/format.js", "./package.json": "./package.json"}}

USES_GREETER = """const { greet, file } = require('greeter');
const format = require('greeter/format');
const shout = require('shout');
exports.onExecutePostLogin = async (event, api) => {
  api.idToken.setCustomClaim('greeting', greet(event.user.user_id));
  api.idToken.setCustomClaim('file', file);
  api.idToken.setCustomClaim('suffix', format.suffix);
  api.idToken.setCustomClaim('shout', require('shout/package.json').version);
  api.idToken.setCustomClaim('resolved', require.resolve('greeter'));
  api.idToken.setCustomClaim('crypto_is_builtin', typeof require('crypto').createHash);
};"""


def publish_all(registry: LocalRegistry) -> None:
    registry.publish("shout", "1.0.0", {"index.js": "module.exports = (s) => s.toUpperCase();"})
    registry.publish("shout", "1.1.0", {"index.js": "module.exports = (s) => s.toUpperCase() + ' (1.1)';"})
    registry.tags["shout"]["latest"] = "1.0.0"
    registry.publish("greeter", "1.0.0", GREETER, dependencies={"shout": "^1.0.0"}, **GREETER_FIELDS)
    # circular requires: each sees the other's exports as they are when the cycle closes
    registry.publish("cyc-a", "1.0.0", {"index.js": "exports.early = 'a'; const b = require('cyc-b'); "
                                                    "exports.seen = b.sawA; exports.late = 'done';"},
                     dependencies={"cyc-b": "1.0.0"})
    registry.publish("cyc-b", "1.0.0", {"index.js": "const a = require('cyc-a'); exports.sawA = JSON.stringify(a);"},
                     dependencies={"cyc-a": "1.0.0"})
    registry.publish("esm-only", "2.0.0", {"index.js": "import shout from 'shout';\nexport default shout('esm');\nexport const tla = 'no';"},
                     dependencies={"shout": "^1.0.0"}, type="module", main="index.js")
    registry.publish("crypto", "1.0.0", {"index.js": "module.exports = { createHash: 'the npm package' };"})


@pytest.fixture(scope="module")
def registry():
    with LocalRegistry() as r:
        publish_all(r)
        yield r


@pytest.fixture(scope="module")
def server(registry, tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("npm") / "data", "--npm-registry", registry.url)
    yield srv
    srv.stop()


def client_for(srv: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=srv.url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=60)


async def create(client: httpx.AsyncClient, code: str, dependencies: list[dict[str, str]], **extra: Any) -> dict[str, Any]:
    r = await client.post("/api/v2/actions/actions", json={
        "name": f"npm-{uuid.uuid4().hex[:8]}", "supported_triggers": [{"id": "post-login", "version": "v3"}],
        "code": code, "dependencies": dependencies, **extra})
    assert r.status_code == 201, r.text
    return r.json()


async def settled(client: httpx.AsyncClient, action_id: str) -> dict[str, Any]:
    for _ in range(300):
        action = (await client.get(f"/api/v2/actions/actions/{action_id}")).json()
        if action["status"] != "pending":
            return action
        await asyncio.sleep(0.05)
    raise AssertionError("the build did not finish")


async def deploy_and_bind(client: httpx.AsyncClient, action: dict[str, Any]) -> None:
    r = await client.post(f"/api/v2/actions/actions/{action['id']}/deploy")
    assert r.status_code == 200, r.text
    r = await client.patch("/api/v2/actions/triggers/post-login/bindings",
                           json={"bindings": [{"ref": {"type": "action_id", "value": action["id"]}}]})
    assert r.status_code == 200, r.text


async def login(client: httpx.AsyncClient, user: str = "npm-user") -> dict[str, Any]:
    r = await client.post("/triggers/post-login/execute", json={"event": workload_event(user)})
    assert r.status_code == 200, r.text
    return r.json()


async def test_an_action_requires_its_declared_packages_after_they_built(server, registry):
    async with client_for(server) as client:
        action = await create(client, USES_GREETER, [{"name": "greeter", "version": "1.0.0"}, {"name": "shout", "version": "latest"}])
        assert action["status"] == "pending"
        assert action["dependencies"] == [{"name": "greeter", "version": "1.0.0"}, {"name": "shout", "version": "latest"}]
        built = await settled(client, action["id"])
        assert built["status"] == "built", built
        assert built["errors"] == [] and built["built_at"]
        await deploy_and_bind(client, built)
        fetched = len(registry.requests)
        result = await login(client, "npm-1")
        assert result["status"] == "allowed", result
        claims = result["id_token_claims"]
        assert claims == {"greeting": "HELLO AUTH0|NPM-1!", "file": "/node_modules/greeter/cjs/index.js", "suffix": "!",
                          "shout": "1.0.0", "resolved": "/node_modules/greeter/cjs/index.js",
                          "crypto_is_builtin": "function"}  # Node's built-in wins over the package
        for i in range(5):
            assert (await login(client, f"npm-1-{i}"))["status"] == "allowed"
        assert len(registry.requests) == fetched  # nothing is fetched while a trigger executes
        versions = (await client.get(f"/api/v2/actions/actions/{action['id']}/versions")).json()["versions"]
        assert versions[0]["dependencies"] == built["dependencies"] and versions[0]["status"] == "built"


async def test_circular_requires_and_an_esm_only_package_that_imports_a_commonjs_one(server):
    async with client_for(server) as client:
        code = """exports.onExecutePostLogin = async (event, api) => {
  const a = require('cyc-a');
  api.idToken.setCustomClaim('cycle', [a.seen, a.late]);
  const esm = require('esm-only');
  api.idToken.setCustomClaim('esm', [esm.default, esm.__esModule]);
};"""
        action = await settled(client, (await create(client, code, [{"name": "cyc-a", "version": "1.0.0"},
                                                                   {"name": "esm-only", "version": "2.0.0"}]))["id"])
        assert action["status"] == "built", action
        await deploy_and_bind(client, action)
        claims = (await login(client, "npm-2"))["id_token_claims"]
        assert claims["cycle"] == ['{"early":"a"}', "done"]
        assert claims["esm"] == ["ESM", True]  # require(esm), as Node 22.12+
        # the test endpoint runs the draft with the same tree
        test = (await client.post(f"/api/v2/actions/actions/{action['id']}/test",
                                  json={"payload": {"event": workload_event("t")}})).json()["payload"]
        assert test["commands"][0] == ["idToken.setCustomClaim", "cycle", ['{"early":"a"}', "done"]], test


@pytest.mark.parametrize("dependencies, code, words", [
    ([{"name": "no-such-pkg", "version": "1.0.0"}], "unknown_package", "'no-such-pkg' does not exist"),
    ([{"name": "shout", "version": "9.0.0"}], "no_such_version", "No version of 'shout' matches '9.0.0'"),
])
async def test_a_failed_build_is_reported_in_errors_and_never_breaks_the_live_flow(server, dependencies, code, words):
    async with client_for(server) as client:
        live = await settled(client, (await create(client, USES_GREETER, [{"name": "greeter", "version": "1.0.0"},
                                                                          {"name": "shout", "version": "1.0.0"}]))["id"])
        await deploy_and_bind(client, live)
        r = await client.patch(f"/api/v2/actions/actions/{live['id']}", json={"dependencies": dependencies})
        assert r.status_code == 200 and r.json()["status"] == "pending"
        failed = await settled(client, live["id"])
        assert failed["status"] == "failed"
        assert [e["id"] for e in failed["errors"]] == [code] and words in failed["errors"][0]["msg"]
        refused = await client.post(f"/api/v2/actions/actions/{live['id']}/deploy")
        assert refused.status_code == 400 and words in refused.json()["message"]
        result = await login(client, "npm-3")
        assert result["status"] == "allowed" and result["id_token_claims"]["greeting"] == "HELLO AUTH0|NPM-3!"


async def test_a_version_pins_its_tree_and_a_rollback_restores_it(server):
    async with client_for(server) as client:
        code = "exports.onExecutePostLogin = async (e, api) => { api.idToken.setCustomClaim('s', require('shout')('x')); };"
        action = await settled(client, (await create(client, code, [{"name": "shout", "version": "1.0.0"}]))["id"])
        await deploy_and_bind(client, action)
        assert (await login(client))["id_token_claims"]["s"] == "X"
        r = await client.patch(f"/api/v2/actions/actions/{action['id']}", json={"dependencies": [{"name": "shout", "version": "1.1.0"}]})
        assert r.json()["status"] == "pending"
        assert (await settled(client, action["id"]))["status"] == "built"
        second = await client.post(f"/api/v2/actions/actions/{action['id']}/deploy")
        assert second.status_code == 200 and second.json()["dependencies"] == [{"name": "shout", "version": "1.1.0"}]
        assert (await login(client))["id_token_claims"]["s"] == "X (1.1)"
        first = (await client.get(f"/api/v2/actions/actions/{action['id']}/versions")).json()["versions"][-1]
        assert first["number"] == 1
        back = await client.post(f"/api/v2/actions/actions/{action['id']}/versions/{first['id']}/deploy", json={})
        assert back.status_code == 200, back.text
        assert (await login(client))["id_token_claims"]["s"] == "X"
        # a code-only edit keeps the draft's tree: built at once, nothing installed
        r = await client.patch(f"/api/v2/actions/actions/{action['id']}", json={"code": code + "\n// edited"})
        assert r.json()["status"] == "built"


async def test_a_deploy_waits_for_the_dependencies_being_installed(server, registry):
    async with client_for(server) as client:
        registry.stall = threading.Event()
        try:
            code = "exports.onExecutePostLogin = async (e, api) => { api.idToken.setCustomClaim('s', require('shout')('w')); };"
            action = await create(client, code, [{"name": "shout", "version": "1.1.0"}, {"name": "greeter", "version": "1.0.0"}])
            deploying = asyncio.ensure_future(client.post(f"/api/v2/actions/actions/{action['id']}/deploy"))
            await asyncio.sleep(0.5)
            assert not deploying.done()
        finally:
            registry.stall.set()
            registry.stall = None
        r = await deploying
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "built"


async def test_create_with_deploy_true_deploys_once_built(server):
    async with client_for(server) as client:
        code = "exports.onExecutePostLogin = async (e, api) => { api.idToken.setCustomClaim('s', require('shout')('d')); };"
        action = await create(client, code, [{"name": "shout", "version": "1.0.0"}], deploy=True)
        assert action["status"] == "built" and action["deployed_version"]["status"] == "built"


async def test_a_build_left_pending_by_a_stop_resumes_and_another_node_unpacks_from_the_store(registry, tmp_path):
    data_dir = tmp_path / "data"
    registry.stall = threading.Event()
    first = start_server(data_dir, "--npm-registry", registry.url)
    try:
        async with client_for(first) as client:
            code = "exports.onExecutePostLogin = async (e, api) => { api.idToken.setCustomClaim('s', require('shout')('r')); };"
            action = await create(client, code, [{"name": "shout", "version": "1.0.0"}])
            await asyncio.sleep(0.3)
    finally:
        first.stop()
        registry.stall.set()
        registry.stall = None
    second = start_server(data_dir, "--npm-registry", registry.url)
    try:
        async with client_for(second) as client:
            built = await settled(client, action["id"])
            assert built["status"] == "built", built
            await deploy_and_bind(client, built)
    finally:
        second.stop()
    # a node with an empty package cache and no registry: the tarballs come from the store
    shutil.rmtree(data_dir / "npm")
    third = start_server(data_dir, "--npm-registry", "http://127.0.0.1:9/")
    try:
        async with client_for(third) as client:
            assert (await login(client))["id_token_claims"]["s"] == "R"
    finally:
        third.stop()


async def test_dependencies_are_validated_in_auth0s_shape(server):
    async with client_for(server) as client:
        for bad in ("axios", [{"version": "1"}], [{"name": 1}], [{"name": "x", "version": 2}], [{"name": "../etc"}],
                    [{"name": "Has Space"}], [{"name": "x", "version": "1" * 300}], [{"name": "x"}, {"name": "x"}],
                    [{"name": f"p{i}"} for i in range(101)]):
            r = await client.post("/api/v2/actions/actions", json={
                "name": f"bad-{uuid.uuid4().hex[:6]}", "supported_triggers": [{"id": "post-login", "version": "v3"}],
                "code": "exports.onExecutePostLogin = async () => {};", "dependencies": bad})
            assert r.status_code == 400, (bad, r.text)


async def test_actionhost_deploy_and_export_carry_dependencies_and_wait_for_the_build(server, registry, tmp_path):
    source = tmp_path / "tenant"
    (source / "actions" / "with-deps").mkdir(parents=True)
    (source / "triggers").mkdir()
    (source / "actions" / "with-deps" / "code.js").write_text(
        "exports.onExecutePostLogin = async (e, api) => { api.idToken.setCustomClaim('s', require('shout')('cli')); };")
    (source / "actions" / "with-deps.json").write_text(json.dumps({
        "name": "with-deps", "code": "./actions/with-deps/code.js", "runtime": "node22",
        "dependencies": [{"name": "shout", "version": "1.1.0"}], "secrets": [],
        "supported_triggers": [{"id": "post-login", "version": "v3"}], "deployed": True}))
    (source / "triggers" / "triggers.json").write_text(json.dumps({"post-login": [{"action_name": "with-deps", "display_name": "with-deps"}]}))
    env = {**os.environ, "ACTIONHOST_TOKEN": ADMIN_TOKEN}

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "server.cli", *args, "--url", server.url], capture_output=True, text=True,
                              timeout=120, check=False, env=env)
    done = await asyncio.to_thread(cli, "deploy", str(source))
    assert done.returncode == 0, done.stdout + done.stderr
    async with client_for(server) as client:
        assert (await login(client))["id_token_claims"]["s"] == "CLI (1.1)"
    exported = tmp_path / "exported"
    out = await asyncio.to_thread(cli, "export", str(exported))
    assert out.returncode == 0, out.stdout + out.stderr
    assert json.loads((exported / "actions" / "with-deps.json").read_text())["dependencies"] == [{"name": "shout", "version": "1.1.0"}]
    (source / "actions" / "with-deps.json").write_text(json.dumps({
        **json.loads((source / "actions" / "with-deps.json").read_text()), "dependencies": [{"name": "ghost-pkg", "version": "1.0.0"}]}))
    failed = await asyncio.to_thread(cli, "deploy", str(source))
    assert failed.returncode == 1 and "does not build" in failed.stdout + failed.stderr and "ghost-pkg" in failed.stdout + failed.stderr


async def test_a_later_edit_supersedes_a_build_in_progress(server, registry):
    async with client_for(server) as client:
        registry.stall = threading.Event()
        try:
            code = "exports.onExecutePostLogin = async (e, api) => { api.idToken.setCustomClaim('s', require('shout')('v')); };"
            action = await create(client, code, [{"name": "shout", "version": "1.0.0"}])
            r = await client.patch(f"/api/v2/actions/actions/{action['id']}", json={"dependencies": [{"name": "shout", "version": "1.1.0"}]})
            assert r.json()["status"] == "pending"
        finally:
            registry.stall.set()
            registry.stall = None
        built = await settled(client, action["id"])
        assert built["status"] == "built" and built["dependencies"] == [{"name": "shout", "version": "1.1.0"}]
        await deploy_and_bind(client, built)
        assert (await login(client))["id_token_claims"]["s"] == "V (1.1)"

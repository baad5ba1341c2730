"""`actionhost run`: real action files on a laptop, same sandbox and runtime as the server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import orjson
import pytest
from conftest import ADMIN_TOKEN, WORKLOAD

WORKLOAD_FILES = sorted(str(p) for p in WORKLOAD.glob("*.js"))


def actionhost(*args: str, cwd: Path | None = None, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "server.cli", *args], capture_output=True, cwd=cwd, input=stdin,
                          timeout=120, check=False)


@pytest.fixture
def event_file(tmp_path):
    sample = actionhost("run", "--sample-event")
    assert sample.returncode == 0
    path = tmp_path / "event.json"
    path.write_bytes(sample.stdout)
    return path


def test_the_sample_event_is_a_realistic_post_login_event():
    event = orjson.loads(actionhost("run", "--sample-event").stdout)
    assert event["user"]["user_id"].startswith("auth0|")
    assert {"client", "connection", "request", "transaction", "stats", "user", "tenant"} <= set(event)


def test_workload_files_give_the_same_commands_as_the_server(server, event_file):
    local = actionhost("run", *WORKLOAD_FILES, "--event", str(event_file), "--json")
    assert local.returncode == 0, local.stderr
    local_response = orjson.loads(local.stdout)

    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=60) as client:
        refs = []
        for path in WORKLOAD_FILES:
            name = "run-" + Path(path).stem
            r = client.post("/api/v2/actions/actions", json={
                "name": name, "supported_triggers": [{"id": "post-login", "version": "v3"}],
                "code": Path(path).read_text(), "deploy": True})
            assert r.status_code == 201, r.text
            refs.append({"ref": {"type": "action_name", "value": name}})
        assert client.patch("/api/v2/actions/triggers/post-login/bindings", json={"bindings": refs}).status_code == 200
        remote = client.post("/triggers/post-login/execute", json={"event": orjson.loads(event_file.read_bytes())}).json()

    for key in ("status", "id_token_claims", "access_token_claims", "access_token_scopes", "user", "deny"):
        assert local_response[key] == remote[key], key
    assert [a["status"] for a in local_response["actions"]] == [a["status"] for a in remote["actions"]]


def test_a_user_store_keeps_profiles_between_runs(tmp_path, event_file):
    store = tmp_path / "users"
    first = actionhost("run", *WORKLOAD_FILES, "--event", str(event_file), "--user-store", str(store))
    second = actionhost("run", *WORKLOAD_FILES, "--event", str(event_file), "--user-store", str(store))
    assert first.returncode == second.returncode == 0
    assert b'"didAnExpensiveTask":true' in first.stdout
    assert b"Skipping the expensive task" in second.stdout


def test_denied_exits_1_and_prints_the_reason(tmp_path, event_file):
    event = orjson.loads(event_file.read_bytes())
    event["user"]["email_verified"] = False
    event["client"]["name"] = "Admin Console"
    path = tmp_path / "unverified.json"
    path.write_bytes(orjson.dumps(event))
    result = actionhost("run", *WORKLOAD_FILES, "--event", str(path))
    assert result.returncode == 1
    assert b"status: denied" in result.stdout
    assert b"Please verify your email before logging in." in result.stdout


def test_a_syntax_error_names_file_line_and_column_and_exits_2(tmp_path, event_file):
    bad = tmp_path / "bad.js"
    bad.write_text("exports.onExecutePostLogin = async (e, api) => {\n  const a = 1\n  foo bar\n};\n")
    result = actionhost("run", str(bad), "--event", str(event_file))
    assert result.returncode == 2
    assert f"{bad}:3:7: SyntaxError: Unexpected identifier 'bar'".encode() in result.stderr


def test_a_missing_handler_names_the_file(tmp_path, event_file):
    path = tmp_path / "nohandler.js"
    path.write_text("exports.somethingElse = async () => {};\n")
    result = actionhost("run", str(path), "--event", str(event_file))
    assert result.returncode == 1
    assert f"in {path}".encode() in result.stdout
    assert b"Handler 'onExecutePostLogin' is not a function" in result.stdout


def test_a_non_async_handler_runs_with_a_warning_and_errors_point_at_the_line(tmp_path, event_file):
    path = tmp_path / "sync.js"
    path.write_text("exports.onExecutePostLogin = function (event, api) {\n  api.idToken.setCustomClaim('a', 1);\n  null.x;\n};\n")
    result = actionhost("run", str(path), "--event", str(event_file))
    assert result.returncode == 1
    assert b"is not an async function" in result.stdout
    assert f"at {path}:3:".encode() in result.stdout


def test_bad_input_exits_2(tmp_path, event_file):
    assert actionhost("run", str(tmp_path / "missing.js"), "--event", str(event_file)).returncode == 2
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    result = actionhost("run", *WORKLOAD_FILES, "--event", str(broken))
    assert result.returncode == 2
    assert b"invalid JSON" in result.stderr
    assert actionhost("run", *WORKLOAD_FILES, "--event", str(event_file), "--secret", "novalue").returncode == 2
    assert actionhost("run").returncode == 2


def test_secrets_from_the_command_line_reach_the_action(tmp_path, event_file):
    path = tmp_path / "secret.js"
    path.write_text("exports.onExecutePostLogin = async (event, api) => { api.idToken.setCustomClaim('k', event.secrets.API_KEY); };\n")
    result = actionhost("run", str(path), "--event", str(event_file), "--secret", "API_KEY=abc", "--json")
    assert orjson.loads(result.stdout)["id_token_claims"] == {"k": "abc"}


def test_types_are_printed_and_served(server):
    printed = actionhost("types")
    assert printed.returncode == 0
    assert b"OnExecutePostLogin" in printed.stdout and b"setAppMetadata" in printed.stdout
    served = httpx.get(server.url + "/api/v2/actions/types.d.ts", timeout=30)
    assert served.status_code == 200
    assert served.content == printed.stdout


def test_dependencies_are_installed_from_the_registry_before_the_run(tmp_path, event_file):
    from npm_registry import LocalRegistry

    path = tmp_path / "with-deps.js"
    path.write_text("const shout = require('shout'); const { tag } = require('@acme/tags');\n"
                    "exports.onExecutePostLogin = async (event, api) => { api.idToken.setCustomClaim('k', tag(shout('hi'))); };\n")
    with LocalRegistry() as registry:
        registry.publish("shout", "1.0.0", {"index.js": "module.exports = (s) => s.toUpperCase();"})
        registry.publish("@acme/tags", "2.1.0", {"index.js": "exports.tag = (s) => '#' + s;"})
        cache = tmp_path / "npm-cache"
        flags = ["--npm-registry", registry.url, "--npm-cache", str(cache)]
        result = actionhost("run", str(path), "--event", str(event_file), "--dependency", "shout@1.0.0",
                            "--dependency", "@acme/tags", "--json", *flags)
        assert result.returncode == 0, result.stderr
        assert orjson.loads(result.stdout)["id_token_claims"] == {"k": "#HI"}
        assert b"2 package(s) ready" in result.stderr
        missing = actionhost("run", str(path), "--event", str(event_file), "--dependency", "shout@7.0.0", *flags)
        assert missing.returncode == 2 and b"No version of 'shout' matches '7.0.0'" in missing.stderr

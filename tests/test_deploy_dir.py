"""`actionhost deploy DIR` / `actionhost export DIR` in auth0-deploy-cli's directory layout, against
a real `actionhost serve`; and the real `auth0-deploy-cli` (from npm, pinned in tests/deploy_cli/)
importing the same directory into an actionhost served over TLS with a throwaway CA."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import shutil
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import ADMIN_TOKEN, WORKLOAD, start_server

from server.settings import Settings, tls_context

DEPLOY_CLI = Path(__file__).resolve().parent / "deploy_cli"
A0DEPLOY = DEPLOY_CLI / "node_modules" / ".bin" / "a0deploy"
NAMES = [p.stem for p in sorted(WORKLOAD.glob("*.js"))]
POST_LOGIN = [{"id": "post-login", "version": "v3"}]


def write_workload_dir(root: Path) -> Path:
    """The standard workload as auth0-deploy-cli lays it out: three deployed actions bound to
    post-login in order."""
    (root / "actions").mkdir(parents=True)
    (root / "triggers").mkdir()
    for path in sorted(WORKLOAD.glob("*.js")):
        name = path.stem
        (root / "actions" / name).mkdir()
        shutil.copy(path, root / "actions" / name / "code.js")
        (root / "actions" / f"{name}.json").write_text(json.dumps({
            "name": name, "code": f"./actions/{name}/code.js", "runtime": "node22", "dependencies": [],
            "secrets": [], "supported_triggers": POST_LOGIN, "deployed": True}, indent=2))
    (root / "triggers" / "triggers.json").write_text(json.dumps(
        {"post-login": [{"action_name": n, "display_name": n} for n in NAMES]}, indent=2))
    return root


def actionhost(*args: str, token: str = ADMIN_TOKEN, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environment = {**os.environ, "ACTIONHOST_TOKEN": token}
    environment.pop("AUTH0_KEYWORD_REPLACE_MAPPINGS", None)
    environment.update(env or {})
    return subprocess.run([sys.executable, "-m", "server.cli", *args], capture_output=True, text=True, timeout=120,
                          check=False, env=environment)


def item_lines(out: str) -> list[str]:
    """The per-action / per-trigger lines (the header and the summary start with 'actionhost')."""
    return [line for line in out.splitlines() if line and not line.startswith("actionhost ")]


def verbs(out: str) -> list[str]:
    return [line.split()[0] for line in item_lines(out)]


def snapshot(client: httpx.Client) -> dict[str, Any]:
    """Everything a deploy could change: each action's draft timestamp, version count and deployed
    version, and the post-login bindings."""
    actions = client.get("/api/v2/actions/actions", params={"per_page": 100}).json()["actions"]
    state: dict[str, Any] = {}
    for a in actions:
        versions = client.get(f"/api/v2/actions/actions/{a['id']}/versions").json()
        state[a["name"]] = (a["id"], a["updated_at"], versions["total"], (a.get("deployed_version") or {}).get("id"),
                           a["all_changes_deployed"])
    bindings = client.get("/api/v2/actions/triggers/post-login/bindings").json()["bindings"]
    state["post-login"] = [(b["action"]["name"], b["display_name"], b["id"], b["updated_at"]) for b in bindings]
    return state


def assert_workload_deployed_and_bound(client: httpx.Client) -> None:
    actions = {a["name"]: a for a in client.get("/api/v2/actions/actions", params={"per_page": 100}).json()["actions"]}
    for path in sorted(WORKLOAD.glob("*.js")):
        action = actions[path.stem]
        assert action["code"] == path.read_text()
        assert action["status"] == "built"
        assert action["all_changes_deployed"] is True
        assert action["deployed_version"]["code"] == path.read_text()
    bindings = client.get("/api/v2/actions/triggers/post-login/bindings").json()["bindings"]
    assert [b["action"]["name"] for b in bindings] == NAMES


@pytest.fixture
def client(server):
    with httpx.Client(base_url=server.url, headers=server.headers(), timeout=30) as c:
        yield c


def test_deploy_twice_changes_nothing_and_export_round_trips(server, client, tmp_path):
    source = write_workload_dir(tmp_path / "tenant")

    first = actionhost("deploy", str(source), "--url", server.url)
    assert first.returncode == 0, first.stdout + first.stderr
    assert verbs(first.stdout) == ["created", "deployed"] * 3 + ["bound"], first.stdout
    assert "3 created, 0 updated, 3 deployed, 1 trigger bound" in first.stdout
    assert_workload_deployed_and_bound(client)
    before = snapshot(client)
    assert all(before[n][2] == 1 for n in NAMES)  # one version each

    second = actionhost("deploy", str(source), "--url", server.url)
    assert second.returncode == 0, second.stdout + second.stderr
    assert set(verbs(second.stdout)) == {"unchanged"} and len(item_lines(second.stdout)) == 4, second.stdout
    assert "no changes" in second.stdout
    assert snapshot(client) == before

    exported = tmp_path / "exported"
    out = actionhost("export", str(exported), "--url", server.url)
    assert out.returncode == 0, out.stdout + out.stderr
    for path in sorted(WORKLOAD.glob("*.js")):
        assert (exported / "actions" / path.stem / "code.js").read_text() == path.read_text()
        described = json.loads((exported / "actions" / f"{path.stem}.json").read_text())
        assert described["code"] == f"./actions/{path.stem}/code.js"
        assert described["deployed"] is True and described["supported_triggers"] == POST_LOGIN
    triggers = json.loads((exported / "triggers" / "triggers.json").read_text())
    assert triggers == {"post-login": [{"action_name": n, "display_name": n} for n in NAMES]}

    again = actionhost("deploy", str(exported), "--url", server.url)
    assert again.returncode == 0, again.stdout + again.stderr
    assert set(verbs(again.stdout)) == {"unchanged"}, again.stdout
    assert snapshot(client) == before

    # one code change and one display name: only that action gets a version, the trigger is re-bound
    changed = NAMES[1]
    code_file = exported / "actions" / changed / "code.js"
    code_file.write_text(code_file.read_text() + "\n// v2\n")
    triggers["post-login"][0]["display_name"] = "expensive task"
    (exported / "triggers" / "triggers.json").write_text(json.dumps(triggers))
    edit = actionhost("deploy", str(exported), "--url", server.url)
    assert edit.returncode == 0, edit.stdout + edit.stderr
    assert item_lines(edit.stdout) == [
        f"unchanged  action {NAMES[0]}",
        f"updated    action {changed} (code)",
        f"deployed   action {changed} (version 2)",
        f"unchanged  action {NAMES[2]}",
        f"bound      trigger post-login: {', '.join(NAMES)}",
    ], edit.stdout
    after = snapshot(client)
    assert after[changed][2] == 2 and after[changed][4] is True
    assert all(after[n] == before[n] for n in (NAMES[0], NAMES[2]))
    assert [(n, d) for n, d, *_ in after["post-login"]] == [(NAMES[0], "expensive task"), (NAMES[1], NAMES[1]), (NAMES[2], NAMES[2])]
    assert set(verbs(actionhost("deploy", str(exported), "--url", server.url).stdout)) == {"unchanged"}


def test_secrets_are_sent_by_name_and_value_only_when_needed(server, client, tmp_path):
    root = tmp_path / "secrets"
    (root / "actions" / "with-secret").mkdir(parents=True)
    (root / "actions" / "with-secret" / "code.js").write_text(
        "exports.onExecutePostLogin = async (event, api) => { api.user.setAppMetadata('k', event.secrets.API_KEY); };\n")
    description = {"name": "with-secret", "code": "./actions/with-secret/code.js", "supported_triggers": POST_LOGIN,
                   "secrets": [{"name": "API_KEY", "value": "##API_KEY##"}], "deployed": True}
    (root / "actions" / "with-secret.json").write_text(json.dumps(description))

    unresolved = actionhost("deploy", str(root), "--url", server.url)
    assert unresolved.returncode == 2
    assert "actions/with-secret.json" in unresolved.stderr and "##API_KEY##" in unresolved.stderr

    keywords = {"AUTH0_KEYWORD_REPLACE_MAPPINGS": json.dumps({"API_KEY": "first"})}
    created = actionhost("deploy", str(root), "--url", server.url, env=keywords)
    assert created.returncode == 0, created.stdout + created.stderr
    assert verbs(created.stdout) == ["created", "deployed"]
    action = next(a for a in client.get("/api/v2/actions/actions").json()["actions"] if a["name"] == "with-secret")
    assert [s["name"] for s in action["secrets"]] == ["API_KEY"] and "value" not in action["secrets"][0]

    # values are write-only: same names → nothing sent; --update-secrets sends the value again
    same = actionhost("deploy", str(root), "--url", server.url, env=keywords)
    assert verbs(same.stdout) == ["unchanged"], same.stdout
    rotated = actionhost("deploy", str(root), "--url", server.url, "--update-secrets",
                         env={"AUTH0_KEYWORD_REPLACE_MAPPINGS": json.dumps({"API_KEY": "second"})})
    assert verbs(rotated.stdout) == ["updated", "deployed"], rotated.stdout
    test = client.post(f"/api/v2/actions/actions/{action['id']}/test", json={"payload": {"event": {"user": {}}}}).json()
    assert test["payload"]["commands"] == [["user.setAppMetadata", "k", "second"]]

    # the export has names only; deploying it back keeps the value
    exported = tmp_path / "secrets-exported"
    assert actionhost("export", str(exported), "--url", server.url).returncode == 0
    assert json.loads((exported / "actions" / "with-secret.json").read_text())["secrets"] == [{"name": "API_KEY"}]
    back = actionhost("deploy", str(exported), "--url", server.url)
    assert back.returncode == 0 and "with-secret" in back.stdout and "updated" not in verbs(back.stdout), back.stdout
    # a new secret without a value cannot be created: a clear error, nothing changed
    description["secrets"] = [{"name": "API_KEY"}, {"name": "OTHER"}]
    (root / "actions" / "with-secret.json").write_text(json.dumps(description))
    missing = actionhost("deploy", str(root), "--url", server.url)
    assert missing.returncode == 2 and "'OTHER' has no value" in missing.stderr and "actions/with-secret.json" in missing.stderr


@pytest.mark.parametrize("breakage, message", [
    ("invalid-json", "actions/02_roles_and_plan_claims.json: invalid JSON"),
    ("missing-code", "actions/02_roles_and_plan_claims.json: the code file ./actions/02_roles_and_plan_claims/code.js does not exist"),
    ("code-outside", "is outside"),
    ("no-triggers-field", "'supported_triggers' must be"),
    ("bad-triggers-json", "triggers/triggers.json: invalid JSON"),
    ("unknown-bound-action", "binds 'nope' to post-login, but there is no such action"),
    ("not-a-layout", "has neither actions/ nor triggers/"),
])
def test_bad_input_names_the_file_and_changes_nothing(server, client, tmp_path, breakage, message):
    root = write_workload_dir(tmp_path / "broken")
    target = root / "actions" / "02_roles_and_plan_claims.json"
    if breakage == "invalid-json":
        target.write_text(target.read_text()[:-3])
    elif breakage == "missing-code":
        (root / "actions" / "02_roles_and_plan_claims" / "code.js").unlink()
    elif breakage == "code-outside":
        target.write_text(json.dumps({**json.loads(target.read_text()), "code": "../../etc/passwd"}))
    elif breakage == "no-triggers-field":
        target.write_text(json.dumps({k: v for k, v in json.loads(target.read_text()).items() if k != "supported_triggers"}))
    elif breakage == "bad-triggers-json":
        (root / "triggers" / "triggers.json").write_text("{")
    elif breakage == "unknown-bound-action":
        (root / "triggers" / "triggers.json").write_text(json.dumps({"post-login": [{"action_name": "nope"}]}))
    elif breakage == "not-a-layout":
        shutil.rmtree(root / "actions")
        shutil.rmtree(root / "triggers")
    before = snapshot(client)
    result = actionhost("deploy", str(root), "--url", server.url)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert snapshot(client) == before


def test_deploy_without_a_token_or_with_a_wrong_one(server, tmp_path):
    root = write_workload_dir(tmp_path / "t")
    no_token = actionhost("deploy", str(root), "--url", server.url, token="")
    assert no_token.returncode == 2 and "ACTIONHOST_TOKEN" in no_token.stderr
    wrong = actionhost("deploy", str(root), "--url", server.url, token="not-a-token")
    assert wrong.returncode == 1 and "401" in wrong.stderr


# -- TLS and the real auth0-deploy-cli -----------------------------------------------------

def make_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for 127.0.0.1 / localhost signed by it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "actionhost test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                       key_encipherment=False, data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    directory.mkdir(parents=True, exist_ok=True)
    paths = directory / "ca.pem", directory / "cert.pem", directory / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


def a0deploy_installed() -> Path:
    """tests/deploy_cli/node_modules from the pinned package-lock.json (npm registry, first run only)."""
    if not A0DEPLOY.exists():
        print(f"installing auth0-deploy-cli into {DEPLOY_CLI}/node_modules (npm ci) ...", flush=True)
        npm = subprocess.run(["npm", "ci", "--prefix", str(DEPLOY_CLI), "--no-audit", "--no-fund"],
                             capture_output=True, text=True, timeout=600, check=False)
        assert npm.returncode == 0, f"npm ci failed:\n{npm.stdout}\n{npm.stderr}"
    return A0DEPLOY


@pytest.fixture
def tls_server(tmp_path):
    ca, cert, key = make_certificates(tmp_path / "certs")
    srv = start_server(tmp_path / "data", "--tls-cert", str(cert), "--tls-key", str(key))
    try:
        yield srv, ca
    finally:
        srv.stop()


def test_serve_over_tls(tls_server):
    srv, ca = tls_server
    assert srv.url.startswith("https://")
    context = ssl.create_default_context(cafile=str(ca))
    with httpx.Client(base_url=srv.url, verify=context, headers=srv.headers(), timeout=30) as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        assert c.get("/api/v2/actions/actions").status_code == 200
        assert c.get("/api/v2/actions/modules").json()["modules"] == []
    import socket
    with socket.create_connection(("127.0.0.1", srv.port)) as raw, context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        assert tls.version() in ("TLSv1.2", "TLSv1.3")
    server_context = tls_context(Settings(tls_cert=srv.data_dir.parent / "certs" / "cert.pem",
                                          tls_key=srv.data_dir.parent / "certs" / "key.pem"))
    assert server_context is not None and server_context.minimum_version == ssl.TLSVersion.TLSv1_2
    # plain HTTP is not answered on the TLS port
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{srv.port}/healthz", timeout=5)
    # and a bad pair is refused at start with a message
    bad = subprocess.run([sys.executable, "-m", "server.cli", "serve", "--tls-cert", str(ca)], capture_output=True,
                         text=True, timeout=60, check=False)
    assert bad.returncode == 2 and "--tls-cert and --tls-key go together" in bad.stderr


@pytest.mark.skipif(shutil.which("npm") is None or shutil.which("node") is None,
                    reason="needs Node.js and npm on PATH to install and run auth0-deploy-cli")
@pytest.mark.timeout(900)
def test_auth0_deploy_cli_imports_the_directory_into_actionhost(tls_server, tmp_path):
    srv, ca = tls_server
    a0deploy = a0deploy_installed()
    source = write_workload_dir(tmp_path / "tenant")
    env = {**os.environ, "AUTH0_DOMAIN": f"127.0.0.1:{srv.port}", "AUTH0_ACCESS_TOKEN": srv.token,
           "NODE_EXTRA_CA_CERTS": str(ca), "AUTH0_INCLUDED_ONLY": '["actions","triggers"]', "NO_COLOR": "1"}
    env.pop("AUTH0_KEYWORD_REPLACE_MAPPINGS", None)
    imported = subprocess.run([str(a0deploy), "import", "--input_file", str(source)], capture_output=True, text=True,
                              timeout=300, check=False, env=env)
    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert "Import Successful" in imported.stdout + imported.stderr

    context = ssl.create_default_context(cafile=str(ca))
    with httpx.Client(base_url=srv.url, verify=context, headers=srv.headers(), timeout=30) as c:
        assert_workload_deployed_and_bound(c)
        before = snapshot(c)

        # what auth0-deploy-cli made is what `actionhost deploy` wants: nothing to change
        ours = actionhost("deploy", str(source), "--url", srv.url, "--ca-cert", str(ca))
        assert ours.returncode == 0, ours.stdout + ours.stderr
        assert set(verbs(ours.stdout)) == {"unchanged"}, ours.stdout
        assert snapshot(c) == before

        # auth0-deploy-cli's export of actionhost is a directory `actionhost deploy` reads as unchanged
        exported = tmp_path / "a0-export"
        dumped = subprocess.run([str(a0deploy), "export", "--format", "directory", "--output_folder", str(exported)],
                                capture_output=True, text=True, timeout=300, check=False, env=env)
        assert dumped.returncode == 0, dumped.stdout + dumped.stderr
        ours = actionhost("deploy", str(exported), "--url", srv.url, "--ca-cert", str(ca))
        assert ours.returncode == 0, ours.stdout + ours.stderr
        assert set(verbs(ours.stdout)) == {"unchanged"}, ours.stdout
        assert snapshot(c) == before

        # and `actionhost export` writes the same files auth0-deploy-cli's export does
        mine = tmp_path / "ah-export"
        assert actionhost("export", str(mine), "--url", srv.url, "--ca-cert", str(ca)).returncode == 0
        theirs = sorted(p.relative_to(exported) for p in exported.rglob("*") if p.is_file())
        assert sorted(p.relative_to(mine) for p in mine.rglob("*") if p.is_file()) == theirs
        for rel in theirs:
            assert (mine / rel).read_bytes() == (exported / rel).read_bytes(), rel

    # an https server whose CA is not given is refused with a hint
    untrusted = actionhost("deploy", str(source), "--url", srv.url)
    assert untrusted.returncode == 1 and "--ca-cert" in untrusted.stderr

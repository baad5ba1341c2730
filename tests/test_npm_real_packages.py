"""The npm packages real post-login actions use, installed from the public registry at the
versions people pin, each in its everyday use inside an action run by the real server:
axios, auth0 (node-auth0 v4) against actionhost itself, uuid, node-fetch v2, jsonwebtoken,
ipaddr.js and @slack/webhook, their outbound calls going to a local HTTPS upstream.

Opt-in (it needs the internet): ACTIONHOST_NPM_TESTS=1 bin/test tests/test_npm_real_packages.py
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import trustme
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from conftest import free_port, workload_event
from machine_clients import create_client, start_tls_server
from upstream import HOST, upstream  # noqa: F401 - the fixture

pytestmark = pytest.mark.skipif(os.environ.get("ACTIONHOST_NPM_TESTS") != "1",
                                reason="installs packages from the public npm registry: set ACTIONHOST_NPM_TESTS=1")

DEPENDENCIES = [
    {"name": "axios", "version": "1.7.8"},
    {"name": "auth0", "version": "4.12.0"},
    {"name": "uuid", "version": "9.0.1"},
    {"name": "node-fetch", "version": "2.7.0"},
    {"name": "jsonwebtoken", "version": "9.0.2"},
    {"name": "ipaddr.js", "version": "2.2.0"},
    {"name": "@slack/webhook", "version": "7.0.3"},
]

CODE = r"""
const axios = require('axios');
const { v4: uuidv4, validate: isUuid } = require('uuid');
const fetch = require('node-fetch');
const jwt = require('jsonwebtoken');
const ipaddr = require('ipaddr.js');
const { IncomingWebhook } = require('@slack/webhook');
const { ManagementClient, AuthenticationClient } = require('auth0');

exports.onExecutePostLogin = async (event, api) => {
  const base = event.secrets.UPSTREAM;
  const out = {};
  const run = async (name, fn) => {
    try { out[name] = await fn(); } catch (err) { out[name] = { error: String((err && err.stack) || err) }; }
  };
  await run('axios_get', async () => {
    const r = await axios.get(base + '/echo', { headers: { 'X-Api-Key': event.secrets.API_KEY }, params: { q: 'a b', n: 2 } });
    return [r.status, r.data.method, r.data.raw_query, r.data.headers.find(([k]) => k === 'x-api-key')[1]];
  });
  await run('axios_post', async () => {
    const r = await axios.post(base + '/echo', { user: event.user.user_id });
    return [r.status, JSON.parse(r.data.body), r.headers['content-type']];
  });
  await run('axios_error', async () => {
    try { await axios.get(base + '/status?code=404'); return 'no error'; }
    catch (err) { return [err.response.status, err.name, err.code, axios.isAxiosError(err)]; }
  });
  await run('uuid', () => { const id = uuidv4(); return [isUuid(id), id.length, id[14]]; });
  await run('node_fetch', () => fetch(base + '/echo', { method: 'POST', body: JSON.stringify({ a: 1 }),
                                                         headers: { 'Content-Type': 'application/json' } })
    .then((r) => r.json()).then((j) => [j.method, JSON.parse(j.body)]));
  await run('jwt_hs256', () => {
    const token = jwt.sign({ sub: event.user.user_id }, event.secrets.HS_SECRET, { algorithm: 'HS256', expiresIn: '1h' });
    const decoded = jwt.verify(token, event.secrets.HS_SECRET, { algorithms: ['HS256'] });
    let wrong = 'accepted';
    try { jwt.verify(token, 'another secret'); } catch (err) { wrong = err.name + ': ' + err.message; }
    return [decoded.sub, decoded.exp - decoded.iat, wrong];
  });
  await run('jwt_rs256', () => {
    const token = jwt.sign({ sub: 'rs' }, event.secrets.RSA_PRIVATE, { algorithm: 'RS256', keyid: 'k1' });
    const decoded = jwt.verify(token, event.secrets.RSA_PUBLIC, { algorithms: ['RS256'] });
    return [decoded.sub, jwt.decode(token, { complete: true }).header];
  });
  await run('ipaddr', () => {
    const range = ipaddr.parseCIDR('10.0.0.0/8');
    return [ipaddr.parse('10.1.2.3').match(range), ipaddr.parse('192.168.0.1').match(range),
            ipaddr.process('::ffff:10.1.2.3').toString(), ipaddr.parse('10.1.2.3').range()];
  });
  await run('slack', async () => {
    const webhook = new IncomingWebhook(base + '/echo');
    const result = await webhook.send({ text: 'login by ' + event.user.user_id });
    return [typeof result.text, JSON.parse(result.text.body || '{}').text];
  });
  await run('auth0_management', async () => {
    const management = new ManagementClient({ domain: event.secrets.DOMAIN, clientId: event.secrets.CLIENT_ID,
                                              clientSecret: event.secrets.CLIENT_SECRET });
    const user = await management.users.get({ id: event.user.user_id });
    await management.users.update({ id: event.user.user_id }, { app_metadata: { plan: 'from-sdk' } });
    const again = await management.users.get({ id: event.user.user_id });
    return [user.status, user.data.email, again.data.app_metadata.plan];
  });
  await run('auth0_authentication', async () => {
    const auth = new AuthenticationClient({ domain: event.secrets.DOMAIN, clientId: event.secrets.CLIENT_ID,
                                            clientSecret: event.secrets.CLIENT_SECRET });
    const grant = await auth.oauth.clientCredentialsGrant({ audience: `https://${event.secrets.DOMAIN}/api/v2/` });
    return [grant.data.token_type, typeof grant.data.access_token, grant.data.expires_in > 0];
  });
  api.idToken.setCustomClaim('out', out);
};
"""

# ES-module-only packages (require(esm), as Node 22.12+), and libraries that ask for tty and
# diagnostics_channel at load: a token from actionhost's /oauth/token with node-fetch 3, checked
# against its JWKS with jose 6
ESM_DEPENDENCIES = [
    {"name": "jose", "version": "6.0.11"},
    {"name": "node-fetch", "version": "3.3.2"},
    {"name": "lru-cache", "version": "11.0.2"},
    {"name": "debug", "version": "4.4.0"},
]

ESM_CODE = r"""
const { SignJWT, jwtVerify, createRemoteJWKSet } = require('jose');
const fetch = require('node-fetch').default;
const { LRUCache } = require('lru-cache');
const log = require('debug')('action');
const jwks = createRemoteJWKSet(new URL(`https://${'actions.test'}/.well-known/jwks.json`));
const cache = new LRUCache({ max: 10, ttl: 60000 });

exports.onExecutePostLogin = async (event, api) => {
  const out = {};
  const run = async (name, fn) => {
    try { out[name] = await fn(); } catch (err) { out[name] = { error: String((err && err.stack) || err) }; }
  };
  log('login %s', event.user.user_id);
  await run('token_and_jwks', async () => {
    const r = await fetch(`https://${event.secrets.DOMAIN}/oauth/token`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: event.secrets.CLIENT_ID,
                                  client_secret: event.secrets.CLIENT_SECRET,
                                  audience: `https://${event.secrets.DOMAIN}/api/v2/` }),
    });
    const { access_token } = await r.json();
    const { payload, protectedHeader } = await jwtVerify(access_token, jwks, { audience: `https://${event.secrets.DOMAIN}/api/v2/` });
    return [r.status, protectedHeader.alg, payload.gty];
  });
  await run('hs256', async () => {
    const key = new TextEncoder().encode(event.secrets.HS_SECRET.padEnd(32, '.'));
    const token = await new SignJWT({ sub: event.user.user_id }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('5m').sign(key);
    return (await jwtVerify(token, key)).payload.sub;
  });
  await run('lru', () => { cache.set('k', 'v'); return [cache.get('k'), cache.size]; });
  await run('debug', () => [typeof log, log.enabled]);
  api.idToken.setCustomClaim('esm', out);
};
"""


def rsa_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private.decode(), public.decode()


def test_the_packages_real_actions_use_work_unmodified(upstream, tmp_path):  # noqa: F811
    port = free_port()
    # the server's outbound requests trust both the upstream's CA and the server's own: the
    # SDK calls actionhost by name (actions.test), through --egress-resolve
    ca = trustme.CA()
    trust = tmp_path / "trust.pem"
    trust.write_bytes(Path(upstream.ca_file).read_bytes() + ca.cert_pem.bytes())
    srv = start_tls_server(tmp_path / "data", *upstream.server_flags()[2:], "--egress-ca-file", str(trust),
                           "--egress-resolve", f"actions.test=127.0.0.1:{port}",
                           "--npm-registry", "https://registry.npmjs.org/", names=("actions.test",), port=port, ca=ca)
    try:
        client = create_client(srv, ["read:users", "update:users"])
        private, public = rsa_pair()
        with srv.http(headers=srv.server.headers()) as http:
            user = http.post("/api/v2/users", json={"connection": "Username-Password-Authentication",
                                                    "email": "npm@example.com", "password": "Secr3t-Passw0rd!"})
            assert user.status_code == 201, user.text
            user_id = user.json()["user_id"]
            secrets = {"UPSTREAM": f"https://{HOST}", "API_KEY": "k-123", "HS_SECRET": "hs-secret", "RSA_PRIVATE": private,
                       "RSA_PUBLIC": public, "DOMAIN": "actions.test", "CLIENT_ID": client["client_id"],
                       "CLIENT_SECRET": client["client_secret"]}
            for name, code, dependencies in (("real-packages", CODE, DEPENDENCIES), ("esm-packages", ESM_CODE, ESM_DEPENDENCIES)):
                created = http.post("/api/v2/actions/actions", json={
                    "name": name, "supported_triggers": [{"id": "post-login", "version": "v3"}], "code": code,
                    "dependencies": dependencies, "secrets": [{"name": k, "value": v} for k, v in secrets.items()]})
                assert created.status_code == 201, created.text
                deployed = http.post(f"/api/v2/actions/actions/{created.json()['id']}/deploy", timeout=300)
                assert deployed.status_code == 200, deployed.text
            bound = http.patch("/api/v2/actions/triggers/post-login/bindings",
                               json={"bindings": [{"ref": {"type": "action_name", "value": "real-packages"}},
                                                  {"ref": {"type": "action_name", "value": "esm-packages"}}]})
            assert bound.status_code == 200, bound.text
            event = workload_event()
            event["user"] = {**event["user"], "user_id": user_id, "email": "npm@example.com"}
            result = http.post("/triggers/post-login/execute", json={"event": event}, timeout=60).json()
        assert result["status"] == "allowed", result.get("error")
        out = result["id_token_claims"]["out"]
        errors = {k: v["error"] for k, v in out.items() if isinstance(v, dict) and "error" in v}
        assert errors == {}, errors
        assert out["axios_get"] == [200, "GET", "q=a+b&n=2", "k-123"]
        assert out["axios_post"][0] == 200 and out["axios_post"][1] == {"user": user_id}
        assert out["axios_post"][2].startswith("application/json")
        assert out["axios_error"] == [404, "AxiosError", "ERR_BAD_REQUEST", True]
        assert out["uuid"] == [True, 36, "4"]
        assert out["node_fetch"] == ["POST", {"a": 1}]
        assert out["jwt_hs256"] == [user_id, 3600, "JsonWebTokenError: invalid signature"]
        assert out["jwt_rs256"] == ["rs", {"alg": "RS256", "typ": "JWT", "kid": "k1"}]
        assert out["ipaddr"] == [True, False, "10.1.2.3", "private"]
        assert out["slack"] == ["object", f"login by {user_id}"]
        assert out["auth0_management"] == [200, "npm@example.com", "from-sdk"]
        assert out["auth0_authentication"] == ["Bearer", "string", True]
        esm_out = result["id_token_claims"]["esm"]
        assert {k: v["error"] for k, v in esm_out.items() if isinstance(v, dict) and "error" in v} == {}
        assert esm_out == {"token_and_jwks": [200, "RS256", "client-credentials"], "hs256": user_id, "lru": ["v", 1],
                           "debug": ["function", None]}  # as in Node without DEBUG
    finally:
        srv.stop()

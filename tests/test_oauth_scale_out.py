"""Machine clients and access tokens across two nodes over one PostgreSQL: one signing key for
the deployment (nodes asking for their first token at once agree on it), a token one node issued
is good on the other, the `clients` CLI writes where `serve` reads, and a client deleted on one
node stops working on the other within its client cache's seconds."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time

import httpx
import jwt
import pytest
from conftest import ADMIN_TOKEN
from test_scale_out import nodes, shared_services  # noqa: F401 - fixtures

pytestmark = pytest.mark.timeout(180)
AUDIENCE = "https://actions.example.com/api/v2/"


async def token_from(node, client: dict) -> str:
    async with httpx.AsyncClient(base_url=node.url, timeout=30) as http:
        answer = await http.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": client["client_id"],
                                                       "client_secret": client["client_secret"], "audience": AUDIENCE})
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


async def test_two_nodes_share_the_key_the_clients_and_their_deletion(shared_services, nodes):  # noqa: F811
    env, _ = shared_services
    a, b = (nodes(env, "--executors", "1", "--token-audience", AUDIENCE) for _ in range(2))
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with httpx.AsyncClient(base_url=a.url, headers=admin, timeout=30) as http_a, \
            httpx.AsyncClient(base_url=b.url, timeout=30) as http_b:
        made = await http_a.post("/api/v2/clients", json={"name": "shared", "scopes": ["read:users", "create:users"]})
        assert made.status_code == 201, made.text
        client = made.json()
        # no key yet: both nodes make their first token at once, and sign with the same key
        first = await asyncio.gather(token_from(a, client), token_from(b, client))
        assert len({jwt.get_unverified_header(t)["kid"] for t in first}) == 1
        assert (await http_a.get("/.well-known/jwks.json")).json() == (await http_b.get("/.well-known/jwks.json")).json()
        user = await http_a.post("/api/v2/users", json={"connection": "db", "user_id": "shared-1"})
        assert user.status_code == 201
        for token in first:  # each node's token on the other node
            got = await http_b.get("/api/v2/users/auth0|shared-1", headers={"Authorization": f"Bearer {token}"})
            assert got.status_code == 200, got.text

        # the CLI writes clients into the same PostgreSQL
        cli = subprocess.run([sys.executable, "-m", "server.cli", "clients", "create", "--name", "from-cli", "--scopes",
                              "read:users"], capture_output=True, text=True, timeout=60, check=False,
                             env={**os.environ, **env})
        assert cli.returncode == 0, cli.stderr
        values = dict(line.split("=", 1) for line in cli.stdout.split())
        cli_token = await token_from(b, values)
        assert (await http_a.get("/api/v2/users/auth0|shared-1", headers={"Authorization": f"Bearer {cli_token}"})).status_code == 200

        # deleted on node a: node b refuses the client's tokens within its cache's seconds
        assert (await http_a.delete(f"/api/v2/clients/{client['client_id']}")).status_code == 204
        deadline = time.monotonic() + 15
        while (await http_b.get("/api/v2/users/auth0|shared-1", headers={"Authorization": f"Bearer {first[0]}"})).status_code != 401:
            assert time.monotonic() < deadline, "node b still accepts the deleted client's token"
            await asyncio.sleep(0.25)
        assert time.monotonic() < deadline

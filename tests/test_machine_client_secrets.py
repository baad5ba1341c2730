"""Machine clients' secrets: what a new client gets, and a secret check that costs the same work
whether the client exists, the secret is wrong or it is right (hmac.compare_digest over hashes
of equal length, never `==` on the secret)."""

from __future__ import annotations

import string

import pytest

import server.machine_clients as machine_clients
from server.machine_clients import ClientDirectory, new_client_id, new_client_secret, render, secret_hash
from server.store.machine_clients import MachineClient


class MemoryClients:
    def __init__(self) -> None:
        self.rows: dict[str, MachineClient] = {}

    async def insert(self, client: MachineClient) -> None:
        self.rows[client.client_id] = client

    async def get(self, client_id: str) -> MachineClient | None:
        return self.rows.get(client_id)


def test_client_ids_and_secrets_look_like_auth0s_and_never_repeat():
    ids = {new_client_id() for _ in range(200)}
    assert len(ids) == 200 and all(len(i) == 32 and set(i) <= set(string.ascii_letters + string.digits) for i in ids)
    secrets_ = {new_client_secret() for _ in range(200)}
    assert len(secrets_) == 200 and all(len(s) == 64 for s in secrets_)


async def test_only_the_hash_of_the_secret_is_stored_and_it_is_shown_once():
    store = MemoryClients()
    client, secret = await ClientDirectory(store).create("acme", "m2m", ["read:users", "read:users"])  # type: ignore[arg-type]
    assert store.rows[client.client_id].secret_hash == secret_hash(secret) and secret not in repr(store.rows)
    assert client.scopes == ("read:users",)
    assert render(client, secret)["client_secret"] == secret and "client_secret" not in render(client)
    with pytest.raises(ValueError, match="unknown scopes"):
        await ClientDirectory(store).create("acme", "m2m", ["read:everything"])  # type: ignore[arg-type]


async def test_the_secret_check_does_the_same_work_for_every_outcome(monkeypatch):
    store = MemoryClients()
    directory = ClientDirectory(store)  # type: ignore[arg-type]
    client, secret = await directory.create("acme", "m2m", ["read:users"])
    compared: list[tuple[str, str]] = []
    real = machine_clients.hmac.compare_digest

    def recording(a: str, b: str) -> bool:
        compared.append((a, b))
        return real(a, b)
    monkeypatch.setattr(machine_clients.hmac, "compare_digest", recording)

    assert await directory.authenticate(client.client_id, secret) == client
    wrong = secret[:-1] + ("y" if secret.endswith("x") else "x")
    assert await directory.authenticate(client.client_id, wrong) is None
    assert await directory.authenticate("unknown-client", secret) is None
    assert await directory.authenticate("", secret) is None
    assert len(compared) == 4 and all(len(a) == len(b) == 64 for a, b in compared)

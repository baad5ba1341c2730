"""Machine clients: creating one (its id and a secret shown once), checking a client's secret
without telling by timing how much of it was right, and the short-lived lookups that tie an
access token to its client's tenant and current scopes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
import time
from typing import Any

from .auth import check_scopes
from .store.machine_clients import MachineClient, MachineClients
from .timeutil import now_iso

# a deleted client's tokens, or a client's narrowed scopes, take effect on another node within this
CLIENT_CACHE_SECONDS = 5.0
CLIENT_CACHE_SIZE = 10_000
NAME_MAX = 255
DESCRIPTION_MAX = 140  # Auth0's limit on a client's description
_ALPHABET = string.ascii_letters + string.digits


def new_client_id() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(32))  # Auth0's length and alphabet


def new_client_secret() -> str:
    return secrets.token_urlsafe(48)  # 64 characters, 384 random bits


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


# compared against when the client id is unknown, so that an unknown client and a wrong secret
# take the same work
_NO_CLIENT_HASH = secret_hash(new_client_secret())


class ClientDirectory:
    def __init__(self, store: MachineClients) -> None:
        self.store = store
        self._cache: dict[str, tuple[float, MachineClient | None]] = {}

    async def create(self, tenant: str, name: str, scopes: list[str], description: str = "") -> tuple[MachineClient, str]:
        """The new client and its secret (which is not stored: only its hash is)."""
        check_scopes(scopes)
        secret = new_client_secret()
        now = now_iso()
        client = MachineClient(tenant, new_client_id(), name, description, secret_hash(secret),
                               tuple(dict.fromkeys(scopes)), "cgr_" + new_client_id()[:16], now, now)
        await self.store.insert(client)
        return client, secret

    async def authenticate(self, client_id: str, secret: str) -> MachineClient | None:
        """The client when `secret` is its secret (compared in constant time), else None."""
        client = await self.store.get(client_id) if client_id else None
        given = secret_hash(secret)
        expected = client.secret_hash if client is not None else _NO_CLIENT_HASH
        if not hmac.compare_digest(given, expected) or client is None:
            return None
        return client

    async def current(self, client_id: str) -> MachineClient | None:
        """The client as stored at most CLIENT_CACHE_SECONDS ago (None: it does not exist)."""
        now = time.monotonic()
        hit = self._cache.get(client_id)
        if hit is not None and now - hit[0] < CLIENT_CACHE_SECONDS:
            return hit[1]
        client = await self.store.get(client_id)
        if len(self._cache) >= CLIENT_CACHE_SIZE:
            self._cache.pop(next(iter(self._cache)))
        self._cache[client_id] = (now, client)
        return client

    def forget(self, client_id: str) -> None:
        """This node changed or deleted the client: its next use reads the store again."""
        self._cache.pop(client_id, None)


def render(client: MachineClient, secret: str | None = None) -> dict[str, Any]:
    """A client in Auth0's shape (`client_secret` only when just created), with actionhost's
    `scopes`: what its tokens may carry (Auth0 keeps that in the client grant)."""
    out: dict[str, Any] = {
        "tenant": client.tenant,
        "client_id": client.client_id,
        "name": client.name,
        "description": client.description,
        "app_type": "non_interactive",
        "is_first_party": True,
        "oidc_conformant": True,
        "grant_types": ["client_credentials"],
        "token_endpoint_auth_method": "client_secret_post",
        "jwt_configuration": {"alg": "RS256", "lifetime_in_seconds": 36000, "secret_encoded": False},
        "scopes": list(client.scopes),
        "created_at": client.created_at,
        "updated_at": client.updated_at,
    }
    if secret is not None:
        out["client_secret"] = secret
    return out

"""Bearer tokens: each belongs to one tenant and carries scopes. Two kinds: static `ah_` tokens
(stored as SHA-256 hashes) and the signed access tokens of POST /oauth/token (access_tokens.py)."""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
import sqlite3
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from .access_tokens import AccessTokenVerifier, InvalidToken, looks_like_jwt, request_host
from .errors import APIError
from .store.sqlite import SqliteStore
from .timeutil import now_iso

SCOPES = (
    "read:actions", "create:actions", "update:actions", "delete:actions",
    "read:users", "update:users", "create:users", "execute:triggers",
    "read:clients", "create:clients", "update:clients", "delete:clients",
    "read:client_grants", "update:client_grants",
    "read:roles", "create:roles", "update:roles", "delete:roles",
)
DEFAULT_TENANT = "default"


def new_token() -> str:
    return "ah_" + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_scopes(scopes: list[str]) -> list[str]:
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise ValueError(f"unknown scopes: {', '.join(unknown)}; known: {' '.join(SCOPES)}")
    return scopes


class TokenStore:
    def __init__(self, store: SqliteStore) -> None:
        self._store = store

    async def ensure_tenant(self, tenant: str) -> bool:
        """Create the tenant if missing; True when it was created."""
        def op(conn: sqlite3.Connection) -> bool:
            if conn.execute("SELECT 1 FROM tenants WHERE id = ?", (tenant,)).fetchone():
                return False
            conn.execute("INSERT INTO tenants (id, created_at) VALUES (?, ?)", (tenant, now_iso()))
            return True
        return await self._store.write(op)

    async def add(self, tenant: str, token: str, scopes: list[str], description: str = "") -> None:
        digest = token_hash(token)

        def op(conn: sqlite3.Connection) -> None:
            if conn.execute("SELECT 1 FROM tokens WHERE token_hash = ?", (digest,)).fetchone():
                return
            conn.execute(
                "INSERT INTO tokens (id, tenant_id, token_hash, scopes, description, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (str(uuid.uuid4()), tenant, digest, " ".join(check_scopes(scopes)), description, now_iso()),
            )
        await self._store.write(op)

    async def has_tokens(self, tenant: str) -> bool:
        return bool(await self._store.read(
            lambda conn: conn.execute("SELECT 1 FROM tokens WHERE tenant_id = ? LIMIT 1", (tenant,)).fetchone()))

    async def resolve(self, token: str) -> tuple[str, frozenset[str]] | None:
        digest = token_hash(token)
        row = await self._store.read(
            lambda conn: conn.execute("SELECT tenant_id, token_hash, scopes FROM tokens WHERE token_hash = ?", (digest,)).fetchone())
        if row is None or not hmac.compare_digest(row["token_hash"], digest):
            return None
        return row["tenant_id"], frozenset(row["scopes"].split())


class TokenCache:
    """Resolved tokens kept in memory: one store read per token, not per request."""

    def __init__(self, tokens: TokenStore, size: int = 10_000) -> None:
        self._tokens = tokens
        self._cache: dict[str, tuple[str, frozenset[str]]] = {}
        self._size = size

    async def resolve(self, token: str) -> tuple[str, frozenset[str]] | None:
        hit = self._cache.get(token)
        if hit is not None:
            return hit
        found = await self._tokens.resolve(token)
        if found is not None:
            if len(self._cache) >= self._size:
                self._cache.pop(next(iter(self._cache)))
            self._cache[token] = found
        return found


TOKEN_CACHE = web.AppKey("token_cache", TokenCache)
ACCESS_TOKENS = web.AppKey("access_tokens", AccessTokenVerifier)
# documents about the API itself, readable without a token
PUBLIC_PATHS = frozenset({"/api/v2/openapi.json", "/api/v2/actions/types.d.ts"})


@web.middleware
async def auth_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Resolves the bearer token of API paths into request["tenant"] and request["scopes"]."""
    if request.path.startswith(("/api/v2/", "/triggers/")) and request.path not in PUBLIC_PATHS:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise APIError(401, "Missing authentication", "missing_token",
                           headers={"WWW-Authenticate": "Bearer"})
        token = token.strip()
        found = None
        if looks_like_jwt(token) and not token.startswith("ah_"):
            try:
                found = await request.app[ACCESS_TOKENS].resolve(token, request_host(request.headers), request.scheme)
            except InvalidToken as exc:
                # a static token chosen with two dots in it (ACTIONHOST_ADMIN_TOKEN) is still one
                found = await request.app[TOKEN_CACHE].resolve(token)
                if found is None:
                    raise APIError(401, str(exc), "invalid_token", headers={"WWW-Authenticate": "Bearer"}) from None
        else:
            found = await request.app[TOKEN_CACHE].resolve(token)
        if found is None:
            raise APIError(401, "Invalid token", "invalid_token", headers={"WWW-Authenticate": "Bearer"})
        request["tenant"], request["scopes"] = found
    return await handler(request)


def requires(scope: str) -> Callable[[Callable[[web.Request], Awaitable[web.StreamResponse]]], Any]:
    """Handler decorator: 403 unless the request's token has `scope`."""
    def decorate(handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> Any:
        @functools.wraps(handler)
        async def wrapped(request: web.Request) -> web.StreamResponse:
            if scope not in request.get("scopes", ()):
                raise APIError(403, f"Insufficient scope, expected any of: {scope}", "insufficient_scope")
            return await handler(request)
        return wrapped
    return decorate

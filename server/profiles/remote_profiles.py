"""Profiles kept by an existing user service that speaks the Management API
(`GET/PATCH/POST /api/v2/users`): Auth0 itself, or another actionhost.

The metadata patch is sent as Auth0's PATCH body (top-level merge, null deletes), which is
idempotent: sending the same patch twice leaves the same profile, so a retry after a lost
response cannot apply anything twice."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson

from .errors import StoreRateLimited, StoreUnavailable


class RemoteProfiles:
    # creating then patching a user takes two calls here: the writer retries each on its own
    atomic_upsert = False
    write_concurrency = 8

    def __init__(self, base_url: str, token: str, timeout: float = 5.0) -> None:
        self._base = base_url.rstrip("/")
        if not self._base.endswith("/api/v2"):
            self._base += "/api/v2"
        self._token = token
        self._timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        self._session = aiohttp.ClientSession(
            headers={"Authorization": f"Bearer {self._token}", "Content-Type": "application/json"},
            json_serialize=lambda v: orjson.dumps(v).decode(),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def _call(self, method: str, path: str, body: Any = None, timeout: float | None = None) -> tuple[int, Any]:
        assert self._session is not None
        try:
            async with self._session.request(
                method, self._base + path, data=orjson.dumps(body) if body is not None else None,
                timeout=aiohttp.ClientTimeout(total=min(self._timeout, timeout or self._timeout)),
            ) as response:
                raw = await response.read()
                if response.status == 429:
                    reset = response.headers.get("X-RateLimit-Reset")
                    try:
                        raise StoreRateLimited(float(reset) if reset is not None else None)
                    except ValueError:
                        raise StoreRateLimited(None) from None
                if response.status >= 500:
                    raise StoreUnavailable(f"the profile store answered {response.status}")
                try:
                    return response.status, orjson.loads(raw) if raw else None
                except orjson.JSONDecodeError:
                    raise StoreUnavailable(f"the profile store answered {response.status} with a body that is not JSON") from None
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise StoreUnavailable(f"the profile store did not answer: {type(exc).__name__}: {exc}") from None

    @staticmethod
    def _path(user_id: str) -> str:
        return "/users/" + quote(user_id, safe="")

    async def get(self, tenant: str, user_id: str, timeout: float | None = None) -> dict[str, Any] | None:
        status, body = await self._call("GET", self._path(user_id), timeout=timeout)
        if status == 404:
            return None
        if status != 200 or not isinstance(body, dict):
            raise StoreUnavailable(f"the profile store answered {status} to a read")
        return body

    async def create(self, tenant: str, user: dict[str, Any], timeout: float | None = None) -> dict[str, Any] | None:
        status, body = await self._call("POST", "/users", user, timeout=timeout)
        if status == 409:
            return None
        if status not in (200, 201) or not isinstance(body, dict):
            raise StoreUnavailable(f"the profile store answered {status} to a create")
        return body

    async def patch(self, tenant: str, user_id: str, app_patch: dict[str, Any] | None, user_patch: dict[str, Any] | None,
                    root: dict[str, Any] | None = None, timeout: float | None = None) -> dict[str, Any] | None:
        body: dict[str, Any] = dict(root or {})
        if app_patch:
            body["app_metadata"] = app_patch
        if user_patch:
            body["user_metadata"] = user_patch
        status, answer = await self._call("PATCH", self._path(user_id), body, timeout=timeout)
        if status == 404:
            return None
        if status != 200 or not isinstance(answer, dict):
            raise StoreUnavailable(f"the profile store answered {status} to a write")
        return answer

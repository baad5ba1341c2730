"""The npm registry as the build sees it: packuments and tarballs over HTTP, bounded and retried.

Only the build talks to it (server/npm/build.py), never a trigger execution. The registry is the
operator's (`--npm-registry`, the public one by default, an internal mirror in production); its
token goes to the registry's own origin only, as npm sends it, never to a tarball elsewhere.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
import orjson

from .cache import size_text
from .errors import BuildError

PUBLIC_REGISTRY = "https://registry.npmjs.org/"
# the abbreviated packument (what npm install reads): versions' dist, dependencies, os/cpu
ACCEPT = "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*"
RETRIES = 2  # more tries of a 5xx, 429 or connection error, 0.5 s then 1 s apart


@dataclass(frozen=True)
class RegistryConfig:
    url: str = PUBLIC_REGISTRY
    token: str | None = None
    timeout: float = 60.0  # seconds per request
    packument_max_bytes: int = 64 * 2**20  # the abbreviated packument of the largest packages is ~20 MB
    tarball_max_bytes: int = 32 * 2**20


def check_registry_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"--npm-registry {url}: must be an http(s) URL, e.g. https://registry.npmjs.org/")
    return url if url.endswith("/") else url + "/"


class Registry:
    """One per build: its session lives as long as the build (`async with Registry(...)`)."""

    def __init__(self, config: RegistryConfig) -> None:
        self.config = config
        self._base = check_registry_url(config.url)
        self._origin = _origin(self._base)
        self._session: aiohttp.ClientSession | None = None
        self._packuments: dict[str, asyncio.Task[dict[str, Any]]] = {}

    async def __aenter__(self) -> Registry:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.config.timeout),
            headers={"User-Agent": "actionhost (npm build)"}, auto_decompress=True)
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in self._packuments.values():
            task.cancel()
        if self._session is not None:
            await self._session.close()

    def packument(self, name: str) -> asyncio.Task[dict[str, Any]]:
        """The package's packument, fetched once per build however many packages need it."""
        task = self._packuments.get(name)
        if task is None:
            task = self._packuments[name] = asyncio.get_running_loop().create_task(self._packument(name))
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
        return task

    async def _packument(self, name: str) -> dict[str, Any]:
        # a scoped name keeps its @ and has its / escaped: @slack%2fwebhook
        url = self._base + quote(name, safe="@")
        status, body = await self._get(url, {"Accept": ACCEPT}, self.config.packument_max_bytes, f"the packument of '{name}'")
        if status == 404:
            raise BuildError("unknown_package", f"The package '{name}' does not exist in the npm registry {self._base}.")
        if status != 200:
            raise BuildError("registry_error", f"The npm registry answered {status} for the package '{name}'.")
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise BuildError("registry_error", f"The npm registry sent a packument for '{name}' that is not JSON.") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("versions"), dict):
            raise BuildError("registry_error", f"The npm registry sent a packument for '{name}' without versions.")
        return doc

    async def tarball(self, name: str, version: str, url: str) -> bytes:
        if urlsplit(url).scheme not in ("http", "https"):
            raise BuildError("registry_error", f"The tarball of {name}@{version} has an unsupported address.")
        status, body = await self._get(url, {"Accept": "*/*"}, self.config.tarball_max_bytes, f"the tarball of {name}@{version}")
        if status != 200:
            raise BuildError("registry_error", f"The npm registry answered {status} for the tarball of {name}@{version}.")
        return body

    async def _get(self, url: str, headers: dict[str, str], cap: int, what: str) -> tuple[int, bytes]:
        assert self._session is not None, "use the registry as `async with`"
        if self.config.token and _origin(url) == self._origin:
            headers = {**headers, "Authorization": f"Bearer {self.config.token}"}
        for attempt in range(RETRIES + 1):
            try:
                async with self._session.get(url, headers=headers, allow_redirects=True) as response:
                    if (response.status >= 500 or response.status == 429) and attempt < RETRIES:
                        await asyncio.sleep(0.5 * 2**attempt)
                        continue
                    if response.status != 200:
                        return response.status, b""
                    if (response.content_length or 0) > cap:
                        raise _too_large(what, cap)
                    body = bytearray()
                    async for chunk in response.content.iter_chunked(65536):
                        body += chunk
                        if len(body) > cap:
                            raise _too_large(what, cap)
                    return 200, bytes(body)
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
                if attempt < RETRIES:
                    await asyncio.sleep(0.5 * 2**attempt)
                    continue
                reason = "timed out" if isinstance(exc, asyncio.TimeoutError) else type(exc).__name__
                raise BuildError("registry_unreachable",
                                 f"The npm registry {self._base} could not be reached for {what} ({reason}).") from None
        raise AssertionError("unreachable")


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port


def _too_large(what: str, cap: int) -> BuildError:
    return BuildError("package_too_large", f"{what[0].upper()}{what[1:]} is larger than {size_text(cap)}.")

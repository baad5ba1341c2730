"""Profiles kept by an existing user service that speaks the Management API
(`GET/PATCH/POST /api/v2/users`): Auth0 itself, or another actionhost.

The metadata patch is sent as Auth0's PATCH body (top-level merge, null deletes), which is
idempotent: sending the same patch twice leaves the same profile, so a retry after a lost
response cannot apply anything twice.

The store is a server we do not control, so every answer is read as possibly hostile:
redirects are never followed (a 3xx is a failed call: the PATCH is not sent elsewhere), at
most `max_response` bytes of a body are read (streamed, cut at the cap), and each failure is
classified (errors.py): retryable (429, 5xx, timeouts, connection errors) or not (3xx, other
4xx, a TLS certificate that does not pass)."""

from __future__ import annotations

import asyncio
import ssl
import time
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson

from .errors import StoreRateLimited, StoreRejected, StoreUnavailable
from .retry_policy import has_rate_limit_headers, requested_wait

MAX_RESPONSE = 1024 * 1024  # bytes of one answer read at most (--profile-store-max-response)
MESSAGE_CHARS = 200  # of a store's error message passed on


def _store_message(raw: bytes) -> str:
    """The store's own words about a refusal (Auth0's `message`, else `error`, else the text),
    printable and short."""
    text = ""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        text = raw[:MESSAGE_CHARS * 4].decode("utf-8", "replace")
    else:
        if isinstance(body, dict):
            for key in ("message", "error_description", "error"):
                if isinstance(body.get(key), str) and body[key]:
                    text = body[key]
                    break
    text = "".join(c if c.isprintable() else " " for c in text).strip()
    return text[:MESSAGE_CHARS] + ("..." if len(text) > MESSAGE_CHARS else "")


class RemoteProfiles:
    # creating then patching a user takes two calls here: the writer retries each on its own
    atomic_upsert = False
    write_concurrency = 8

    def __init__(self, base_url: str, token: str, timeout: float = 5.0, max_response: int = MAX_RESPONSE,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self._base = base_url.rstrip("/")
        if not self._base.endswith("/api/v2"):
            self._base += "/api/v2"
        self._token = token
        self._timeout = timeout
        self.max_response = max_response
        self._ssl: ssl.SSLContext | bool = ssl_context if ssl_context is not None else True
        self._session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        self._session = aiohttp.ClientSession(
            # identity: a compressed answer could inflate past the cap before it is counted
            headers={"Authorization": f"Bearer {self._token}", "Content-Type": "application/json",
                     "Accept-Encoding": "identity"},
            auto_decompress=False,
            json_serialize=lambda v: orjson.dumps(v).decode(),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def _read_capped(self, response: aiohttp.ClientResponse, what: str) -> bytes:
        cap = self.max_response
        declared = response.content_length
        if declared is not None and declared > cap:
            response.close()
            raise StoreUnavailable(f"profile store answer too large (over {cap} bytes)",
                                   f"{what}: HTTP {response.status} with Content-Length {declared}, over the cap of "
                                   f"{cap} bytes (--profile-store-max-response)", "too_large", response.status)
        chunks, size = [], 0
        async for chunk in response.content.iter_chunked(64 * 1024):
            size += len(chunk)
            if size > cap:
                response.close()  # the rest is never read: the connection is dropped
                raise StoreUnavailable(f"profile store answer too large (over {cap} bytes)",
                                       f"{what}: HTTP {response.status} with a body over the cap of {cap} bytes "
                                       f"(--profile-store-max-response); cut there", "too_large", response.status)
            chunks.append(chunk)
        return b"".join(chunks)

    async def _call(self, method: str, path: str, body: Any = None, timeout: float | None = None,
                    expected: tuple[int, ...] = (200,)) -> tuple[int, Any]:
        """The status (one of `expected`) and the JSON body of one request; otherwise raises
        StoreRateLimited, StoreUnavailable or StoreRejected."""
        assert self._session is not None
        what = f"{method} {self._base}{path}"
        try:
            async with self._session.request(
                method, self._base + path, data=orjson.dumps(body) if body is not None else None,
                allow_redirects=False, ssl=self._ssl,
                timeout=aiohttp.ClientTimeout(total=min(self._timeout, timeout or self._timeout)),
            ) as response:
                status = response.status
                headers = response.headers
                if 300 <= status < 400:
                    location = headers.get("Location", "")[:300]
                    response.close()
                    raise StoreRejected(f"profile store answered with a redirect (HTTP {status}), which is not followed",
                                        f"{what}: HTTP {status} to {location or '(no Location)'}; not followed",
                                        "redirect", status)
                resets, retry_after = headers.getall("X-RateLimit-Reset", []), headers.getall("Retry-After", [])
                if has_rate_limit_headers(status, resets, retry_after):
                    wait = requested_wait(status, resets, retry_after, headers.get("Date"), time.time())
                    response.close()
                    raise StoreRateLimited(wait, status, f"{what}: HTTP {status}, X-RateLimit-Reset {resets[:3]}, "
                                                         f"Retry-After {retry_after[:3]}, Date {headers.get('Date')}")
                raw = await self._read_capped(response, what)
                if status >= 500:
                    raise StoreUnavailable(f"profile store failed (HTTP {status})",
                                           f"{what}: HTTP {status}: {_store_message(raw)}", "server_error", status)
                if status not in expected:
                    message = _store_message(raw)
                    if status in (401, 403):
                        raise StoreRejected(f"profile store refused actionhost's credentials (HTTP {status})",
                                            f"{what}: HTTP {status}: {message}; check ACTIONHOST_PROFILE_STORE_TOKEN "
                                            f"and its scopes (read:users update:users create:users)", "unauthorized", status)
                    if 400 <= status < 500:
                        raise StoreRejected(f"profile store rejected the request (HTTP {status})"
                                            + (f": {message}" if message else ""),
                                            f"{what}: HTTP {status}: {message}", "rejected", status)
                    raise StoreUnavailable(f"profile store gave an unexpected answer (HTTP {status})",
                                           f"{what}: HTTP {status}: {message}", "bad_answer", status)
                if status in (404, 409):
                    return status, None  # its body (a proxy's HTML page, say) is not needed
                try:
                    return status, orjson.loads(raw) if raw else None
                except orjson.JSONDecodeError:
                    raise StoreUnavailable(f"profile store answered HTTP {status} with a body that is not JSON",
                                           f"{what}: HTTP {status}, {len(raw)} bytes that are not JSON", "bad_answer",
                                           status) from None
        except aiohttp.ClientConnectorCertificateError as exc:
            # a certificate that does not pass now will not pass in 200 ms
            raise StoreRejected("profile store unreachable (its TLS certificate was not accepted)",
                                f"{what}: {type(exc).__name__}: {exc}", "tls") from None
        except aiohttp.ClientSSLError as exc:
            raise StoreRejected("profile store unreachable (TLS handshake failed)",
                                f"{what}: {type(exc).__name__}: {exc}", "tls") from None
        except asyncio.TimeoutError as exc:
            raise StoreUnavailable("profile store timed out", f"{what}: no answer within "
                                   f"{min(self._timeout, timeout or self._timeout):.2f}s ({type(exc).__name__})",
                                   "timeout") from None
        except aiohttp.ClientConnectorError as exc:
            raise StoreUnavailable("profile store unreachable", f"{what}: {type(exc).__name__}: {exc}",
                                   "unreachable") from None
        except aiohttp.ClientError as exc:
            raise StoreUnavailable("profile store connection lost", f"{what}: {type(exc).__name__}: {exc}",
                                   "connection_lost") from None

    @staticmethod
    def _path(user_id: str) -> str:
        return "/users/" + quote(user_id, safe="")

    def _body(self, status: int, body: Any, call: str) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise StoreUnavailable(f"profile store answered HTTP {status} to a {call} without a user",
                                   f"{call}: HTTP {status} with a {type(body).__name__} body", "bad_answer", status)
        return body

    async def get(self, tenant: str, user_id: str, timeout: float | None = None) -> dict[str, Any] | None:
        status, body = await self._call("GET", self._path(user_id), timeout=timeout, expected=(200, 404))
        if status == 404:
            return None
        return self._body(status, body, "read")

    async def create(self, tenant: str, user: dict[str, Any], timeout: float | None = None) -> dict[str, Any] | None:
        status, body = await self._call("POST", "/users", user, timeout=timeout, expected=(200, 201, 409))
        if status == 409:
            return None
        return self._body(status, body, "create")

    async def patch(self, tenant: str, user_id: str, app_patch: dict[str, Any] | None, user_patch: dict[str, Any] | None,
                    root: dict[str, Any] | None = None, timeout: float | None = None) -> dict[str, Any] | None:
        body: dict[str, Any] = dict(root or {})
        if app_patch:
            body["app_metadata"] = app_patch
        if user_patch:
            body["user_metadata"] = user_patch
        status, answer = await self._call("PATCH", self._path(user_id), body, timeout=timeout, expected=(200, 404))
        if status == 404:
            return None
        return self._body(status, answer, "write")

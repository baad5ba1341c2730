"""Management API handlers for users: get, create, patch (metadata merged, null deletes)."""

from __future__ import annotations

import secrets
from typing import Any

from aiohttp import web

from ..auth import requires
from ..errors import APIError, bad_request, not_found
from .actions import json
from .body import read_object
from .keys import LIMITER, PROFILES, SETTINGS

routes = web.RouteTableDef()
USER_NOT_FOUND = "The user does not exist."
USER_ID_MAX = 256


def _metadata(body: dict[str, Any], key: str) -> dict[str, Any] | None:
    if key not in body:
        return None
    value = body[key]
    if not isinstance(value, dict):
        raise bad_request(f"Payload validation error: '{key}' must be an object")
    return value


def _user_id(raw: str) -> str:
    if not raw or len(raw) > USER_ID_MAX or "\x00" in raw:
        raise bad_request("Path validation error: invalid user id", "invalid_uri")
    return raw


@routes.get("/api/v2/users/{id}")
@requires("read:users")
async def get_user(request: web.Request) -> web.Response:
    user = await request.app[PROFILES].get(request["tenant"], _user_id(request.match_info["id"]))
    if user is None:
        raise not_found(USER_NOT_FOUND, "inexistent_user")
    return json(user)


async def _write_allowed(request: web.Request) -> dict[str, str]:
    """Take one write from the tenant's Write-User bucket: 429 with X-RateLimit-* when empty.
    The same headers go on every answer, so a client can pace itself (or another actionhost
    using this one as its profile store can retry at X-RateLimit-Reset)."""
    decision = await request.app[LIMITER].try_acquire(request["tenant"])
    if not decision.allowed:
        raise APIError(429, "Global limit has been reached", "too_many_requests", headers=decision.headers())
    return decision.headers()


@routes.post("/api/v2/users")
@requires("create:users")
async def create_user(request: web.Request) -> web.Response:
    body = await read_object(request, request.app[SETTINGS].max_body)
    headers = await _write_allowed(request)
    connection = body.get("connection")
    if not isinstance(connection, str) or not connection:
        raise bad_request("Payload validation error: 'Missing required property: connection'.")
    for key in ("email", "name", "nickname", "picture", "given_name", "family_name", "username", "phone_number"):
        if key in body and not isinstance(body[key], str):
            raise bad_request(f"Payload validation error: '{key}' must be a string")
    given = body.get("user_id")
    if given is not None and (not isinstance(given, str) or not given):
        raise bad_request("Payload validation error: 'user_id' must be a non-empty string")
    user_id = _user_id(given if given and "|" in given else f"auth0|{given or secrets.token_hex(12)}")
    user = {k: v for k, v in body.items() if k not in ("password", "connection", "user_id")}
    user["user_id"] = user_id
    user["app_metadata"] = _metadata(body, "app_metadata") or {}
    user["user_metadata"] = _metadata(body, "user_metadata") or {}
    user.setdefault("identities", [{"connection": connection, "provider": "auth0", "user_id": user_id.split("|", 1)[-1],
                                    "isSocial": False}])
    created = await request.app[PROFILES].create(request["tenant"], user)
    if created is None:
        raise APIError(409, "The user already exists.", "auth0_idp_error", headers=headers)
    response = json(created, status=201)
    response.headers.update(headers)
    return response


@routes.patch("/api/v2/users/{id}")
@requires("update:users")
async def patch_user(request: web.Request) -> web.Response:
    body = await read_object(request, request.app[SETTINGS].max_body)
    headers = await _write_allowed(request)
    if "user_id" in body:
        raise bad_request("Payload validation error: 'user_id' cannot be changed")
    app_patch = _metadata(body, "app_metadata")
    user_patch = _metadata(body, "user_metadata")
    root = {k: v for k, v in body.items() if k not in ("app_metadata", "user_metadata", "password", "connection")}
    user = await request.app[PROFILES].patch(request["tenant"], _user_id(request.match_info["id"]), app_patch, user_patch, root)
    if user is None:
        raise APIError(404, USER_NOT_FOUND, "inexistent_user", headers=headers)
    response = json(user)
    response.headers.update(headers)
    return response

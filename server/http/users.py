"""Management API handlers for users: list and search, get, create, patch (metadata merged, null
deletes), link accounts."""

from __future__ import annotations

import re
import secrets
from typing import Any

from aiohttp import web

from ..actions import model
from ..auth import requires
from ..errors import APIError, bad_request, not_found
from ..profiles.sqlite_profiles import LINK_PRIMARY_MISSING, SORTABLE
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


def user_id_of(raw: str) -> str:
    if not raw or len(raw) > USER_ID_MAX or "\x00" in raw:
        raise bad_request("Path validation error: invalid user id", "invalid_uri")
    return raw


# one exact term of Auth0's Lucene syntax: email:"a@b.c", user_id:"auth0|1" (quotes optional)
_QUERY_TERM = re.compile(r'^\s*(email|user_id)\s*:\s*(?:"((?:[^"\\]|\\.)*)"|([^\s"*?()]+))\s*$')
QUERY_MAX = 1024


def parse_user_query(q: str) -> tuple[str, str]:
    """(attribute, value) of a `q` actionhost can answer: one exact email or user_id term; a 400
    for anything else (wildcards, ranges, other attributes, AND/OR), rather than a wrong answer."""
    match = _QUERY_TERM.match(q) if len(q) <= QUERY_MAX else None
    if match is None:
        raise bad_request('Query validation error: actionhost searches users by one exact term only, '
                          'email:"someone@example.com" or user_id:"auth0|123"', "invalid_query_string")
    quoted, bare = match.group(2), match.group(3)
    value = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare
    return match.group(1), value


def parse_sort(raw: str | None) -> tuple[str, bool]:
    if not raw:
        return "created_at", True
    field, _, direction = raw.partition(":")
    if field not in SORTABLE or direction not in ("1", "-1"):
        raise bad_request(f"Query validation error: 'sort' must be one of {', '.join(SORTABLE)} with :1 or :-1",
                          "invalid_query_string")
    return field, direction == "1"


def select_fields(user: dict[str, Any], fields: str | None, include: str | None) -> dict[str, Any]:
    """`user` with only the listed fields (include_fields=true, the default) or without them."""
    if not fields:
        return user
    names = {f.strip() for f in fields.split(",") if f.strip()}
    if str(include).lower() == "false":
        return {k: v for k, v in user.items() if k not in names}
    return {k: v for k, v in user.items() if k in names}


@routes.get("/api/v2/users")
@requires("read:users")
async def list_users(request: web.Request) -> web.Response:
    page, per_page, include_totals = model.paging(request.query)
    q = request.query.get("q") or None
    search = parse_user_query(q) if q is not None else None
    sort = parse_sort(request.query.get("sort"))
    users, total = await request.app[PROFILES].list_users(request["tenant"], search, sort, page, per_page)
    users = [select_fields(u, request.query.get("fields"), request.query.get("include_fields")) for u in users]
    if not include_totals:
        return json(users)
    return json({"start": page * per_page, "limit": per_page, "length": len(users), "users": users, "total": total})


@routes.get("/api/v2/users/{id}")
@requires("read:users")
async def get_user(request: web.Request) -> web.Response:
    user = await request.app[PROFILES].get(request["tenant"], user_id_of(request.match_info["id"]))
    if user is None:
        raise not_found(USER_NOT_FOUND, "inexistent_user")
    return json(select_fields(user, request.query.get("fields"), request.query.get("include_fields")))


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
    user_id = user_id_of(given if given and "|" in given else f"auth0|{given or secrets.token_hex(12)}")
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
    user = await request.app[PROFILES].patch(request["tenant"], user_id_of(request.match_info["id"]), app_patch, user_patch, root)
    if user is None:
        raise APIError(404, USER_NOT_FOUND, "inexistent_user", headers=headers)
    response = json(user)
    response.headers.update(headers)
    return response


@routes.post("/api/v2/users/{id}/identities")
@requires("update:users")
async def link_user(request: web.Request) -> web.Response:
    """Link the user `{provider}|{user_id}` (the secondary) to this one (the primary): its
    identities move here, and it is deleted."""
    body = await read_object(request, request.app[SETTINGS].max_body)
    if "link_with" in body:
        raise bad_request("Payload validation error: linking with the secondary account's token (link_with) is not "
                          "available in actionhost; send provider and user_id")
    provider, secondary = body.get("provider"), body.get("user_id")
    if isinstance(secondary, int) and not isinstance(secondary, bool):
        secondary = str(secondary)
    if not isinstance(provider, str) or not provider or "|" in provider or not isinstance(secondary, str) or not secondary:
        raise bad_request("Payload validation error: 'provider' and 'user_id' of the secondary account are required")
    primary_id = user_id_of(request.match_info["id"])
    secondary_id = user_id_of(f"{provider}|{secondary}")
    if secondary_id == primary_id:
        raise bad_request("Main identity and the new one are the same.", "invalid_body")
    headers = await _write_allowed(request)
    outcome = await request.app[PROFILES].link(request["tenant"], primary_id, secondary_id)
    if isinstance(outcome, str):
        if outcome == LINK_PRIMARY_MISSING:
            raise APIError(404, USER_NOT_FOUND, "inexistent_user", headers=headers)
        raise APIError(400, "The secondary account does not exist.", "inexistent_user", headers=headers)
    response = json(outcome, status=201)
    response.headers.update(headers)
    return response

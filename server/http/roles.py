"""Management API handlers for roles (/api/v2/roles) and a user's roles (/api/v2/users/{id}/roles),
in Auth0's shapes: a list is an array, or with include_totals=true `{roles, start, limit, total}`.
A user's role names are what post-login actions see in event.authorization.roles."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..actions import model
from ..auth import requires
from ..errors import APIError, bad_request, conflict, not_found
from ..store.sqlite import Conflict
from .actions import json
from .body import read_object
from .keys import LOGIN_ROLES, PROFILES, ROLES, SETTINGS
from .users import USER_NOT_FOUND, user_id_of

routes = web.RouteTableDef()
ROLE_NOT_FOUND = "The role does not exist."
NAME_MAX = 50  # Auth0's limits on a role
DESCRIPTION_MAX = 140
ROLE_ID_MAX = 64
ROLES_PER_CALL = 50


def _page(roles: list[dict[str, Any]], total: int, page: int, per_page: int, include_totals: bool) -> Any:
    return {"roles": roles, "start": page * per_page, "limit": per_page, "total": total} if include_totals else roles


def _fields(body: dict[str, Any], name_required: bool) -> tuple[str | None, str | None]:
    extra = [k for k in body if k not in ("name", "description")]
    if extra:
        raise bad_request(f"Payload validation error: 'Additional properties not allowed: {', '.join(extra)[:200]}'.")
    if name_required and "name" not in body:
        raise bad_request("Payload validation error: 'Missing required property: name'.")
    name, description = body.get("name"), body.get("description")
    if "name" in body and (not isinstance(name, str) or not name.strip() or len(name) > NAME_MAX):
        raise bad_request(f"Payload validation error: 'name' must be a string of 1 to {NAME_MAX} characters.")
    if "description" in body and (not isinstance(description, str) or len(description) > DESCRIPTION_MAX):
        raise bad_request(f"Payload validation error: 'description' must be a string of at most {DESCRIPTION_MAX} characters.")
    return name, description


def _role_id(request: web.Request) -> str:
    role_id = request.match_info["id"]
    if len(role_id) > ROLE_ID_MAX:
        raise not_found(ROLE_NOT_FOUND, "inexistent_role")
    return role_id


@routes.get("/api/v2/roles")
@requires("read:roles")
async def list_roles(request: web.Request) -> web.Response:
    page, per_page, include_totals = model.paging(request.query)
    name_filter = request.query.get("name_filter") or None
    roles, total = await request.app[ROLES].list_roles(request["tenant"], page, per_page, name_filter)
    return json(_page(roles, total, page, per_page, include_totals))


@routes.post("/api/v2/roles")
@requires("create:roles")
async def create_role(request: web.Request) -> web.Response:
    name, description = _fields(await read_object(request, request.app[SETTINGS].max_body), name_required=True)
    try:
        role = await request.app[ROLES].create(request["tenant"], name, description or "")  # type: ignore[arg-type]
    except Conflict:
        raise conflict("Role name already exists", "role_name_exists") from None
    request.app[LOGIN_ROLES].forget(request["tenant"])
    return json(role)


@routes.get("/api/v2/roles/{id}")
@requires("read:roles")
async def get_role(request: web.Request) -> web.Response:
    role = await request.app[ROLES].get(request["tenant"], _role_id(request))
    if role is None:
        raise not_found(ROLE_NOT_FOUND, "inexistent_role")
    return json(role)


@routes.patch("/api/v2/roles/{id}")
@requires("update:roles")
async def patch_role(request: web.Request) -> web.Response:
    name, description = _fields(await read_object(request, request.app[SETTINGS].max_body), name_required=False)
    try:
        role = await request.app[ROLES].update(request["tenant"], _role_id(request), name, description)
    except Conflict:
        raise conflict("Role name already exists", "role_name_exists") from None
    if role is None:
        raise not_found(ROLE_NOT_FOUND, "inexistent_role")
    return json(role)


@routes.delete("/api/v2/roles/{id}")
@requires("delete:roles")
async def delete_role(request: web.Request) -> web.Response:
    if not await request.app[ROLES].delete(request["tenant"], _role_id(request)):
        raise not_found(ROLE_NOT_FOUND, "inexistent_role")
    request.app[LOGIN_ROLES].forget(request["tenant"])
    return web.Response(status=204)


# -- a user's roles ----------------------------------------------------------------------


async def _existing_user(request: web.Request) -> str:
    user_id = user_id_of(request.match_info["id"])
    if await request.app[PROFILES].get(request["tenant"], user_id) is None:
        raise not_found(USER_NOT_FOUND, "inexistent_user")
    return user_id


async def _role_ids(request: web.Request) -> list[str]:
    body = await read_object(request, request.app[SETTINGS].max_body)
    roles = body.get("roles")
    if (not isinstance(roles, list) or not roles or len(roles) > ROLES_PER_CALL
            or not all(isinstance(r, str) and 0 < len(r) <= ROLE_ID_MAX for r in roles)):
        raise bad_request(f"Payload validation error: 'roles' must be an array of 1 to {ROLES_PER_CALL} role ids.")
    return list(dict.fromkeys(roles))


@routes.get("/api/v2/users/{id}/roles")
@requires("read:roles")
async def list_user_roles(request: web.Request) -> web.Response:
    page, per_page, include_totals = model.paging(request.query)
    user_id = await _existing_user(request)
    roles, total = await request.app[ROLES].of_user(request["tenant"], user_id, page, per_page)
    return json(_page(roles, total, page, per_page, include_totals))


@routes.post("/api/v2/users/{id}/roles")
@requires("update:users")
async def assign_user_roles(request: web.Request) -> web.Response:
    role_ids = await _role_ids(request)
    user_id = await _existing_user(request)
    missing = await request.app[ROLES].assign(request["tenant"], user_id, role_ids)
    if missing:
        raise APIError(404, f"{ROLE_NOT_FOUND[:-1]}: {', '.join(missing)[:200]}", "inexistent_role")
    return web.Response(status=204)


@routes.delete("/api/v2/users/{id}/roles")
@requires("update:users")
async def remove_user_roles(request: web.Request) -> web.Response:
    role_ids = await _role_ids(request)
    user_id = await _existing_user(request)
    await request.app[ROLES].unassign(request["tenant"], user_id, role_ids)
    return web.Response(status=204)

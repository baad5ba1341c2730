"""Management API endpoints that deploy tools call around actions, for features actionhost does not
have, answered the way Auth0 answers a tenant that does not use them.

`auth0-deploy-cli` (directory or YAML import of actions) lists the tenant's action modules to
resolve `modules` references before it compares actions; actionhost has no shared action
modules, so the list is empty (an action that names one fails as `require()` would)."""

from __future__ import annotations

from aiohttp import web

from ..actions import model
from ..auth import requires
from ..errors import not_found
from .actions import json

routes = web.RouteTableDef()


@routes.get("/api/v2/actions/modules")
@requires("read:actions")
async def list_action_modules(request: web.Request) -> web.Response:
    page, per_page, _ = model.paging(request.query)
    return json({"modules": [], "total": 0, "page": page, "per_page": per_page})


@routes.get("/api/v2/actions/modules/{id}")
@requires("read:actions")
async def get_action_module(request: web.Request) -> web.Response:
    raise not_found("That action module does not exist.")


@routes.get("/api/v2/actions/modules/{id}/versions")
@requires("read:actions")
async def list_action_module_versions(request: web.Request) -> web.Response:
    raise not_found("That action module does not exist.")

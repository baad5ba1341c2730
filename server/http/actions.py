"""Management API handlers for actions, versions, triggers, bindings and executions."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import orjson
from aiohttp import web

from ..actions import model
from ..auth import requires
from ..errors import bad_request, not_found
from ..flows.catalogue import TRIGGERS
from .body import read_object
from .keys import ACTIONS, REPOSITORY, SANDBOX, SETTINGS

routes = web.RouteTableDef()


def json(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


def _bool_query(request: web.Request, key: str) -> bool | None:
    raw = request.query.get(key)
    if raw is None or raw == "":
        return None
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise bad_request(f"Query validation error: '{key}' must be true or false", "invalid_query_string")


def _paged(items: list[Any], key: str, total: int, page: int, per_page: int) -> dict[str, Any]:
    return {key: items, "total": total, "page": page, "per_page": per_page}


@routes.get("/api/v2/actions/actions")
@requires("read:actions")
async def list_actions(request: web.Request) -> web.Response:
    page, per_page, _ = model.paging(request.query)
    trigger_id = request.query.get("triggerId") or None
    name = request.query.get("actionName") or None
    rows, total = await request.app[REPOSITORY].list_actions(
        request["tenant"], trigger_id, name, _bool_query(request, "deployed"), page, per_page)
    service = request.app[ACTIONS]
    items = [await service.render(request["tenant"], row) for row in rows]
    return json(_paged(items, "actions", total, page, per_page))


@routes.post("/api/v2/actions/actions")
@requires("create:actions")
async def create_action(request: web.Request) -> web.Response:
    body = await read_object(request, request.app[SETTINGS].max_body)
    return json(await request.app[ACTIONS].create(request["tenant"], body), status=201)


@routes.get("/api/v2/actions/actions/{id}")
@requires("read:actions")
async def get_action(request: web.Request) -> web.Response:
    service = request.app[ACTIONS]
    action = await service.action(request["tenant"], request.match_info["id"])
    return json(await service.render(request["tenant"], action))


@routes.patch("/api/v2/actions/actions/{id}")
@requires("update:actions")
async def update_action(request: web.Request) -> web.Response:
    body = await read_object(request, request.app[SETTINGS].max_body)
    return json(await request.app[ACTIONS].update(request["tenant"], request.match_info["id"], body))


@routes.delete("/api/v2/actions/actions/{id}")
@requires("delete:actions")
async def delete_action(request: web.Request) -> web.Response:
    force = _bool_query(request, "force") or False
    await request.app[ACTIONS].delete(request["tenant"], request.match_info["id"], force)
    return web.Response(status=204)


@routes.post("/api/v2/actions/actions/{id}/deploy")
@requires("create:actions")
async def deploy_action(request: web.Request) -> web.Response:
    return json(await request.app[ACTIONS].deploy(request["tenant"], request.match_info["id"]))


@routes.post("/api/v2/actions/actions/{id}/test")
@requires("create:actions")
async def test_action(request: web.Request) -> web.Response:
    body = await read_object(request, request.app[SETTINGS].max_body)
    return json(await request.app[ACTIONS].test(request["tenant"], request.match_info["id"], body))


@routes.get("/api/v2/actions/actions/{id}/versions")
@requires("read:actions")
async def list_versions(request: web.Request) -> web.Response:
    page, per_page, _ = model.paging(request.query)
    items, total = await request.app[ACTIONS].versions(request["tenant"], request.match_info["id"], page, per_page)
    return json(_paged(items, "versions", total, page, per_page))


@routes.get("/api/v2/actions/actions/{id}/versions/{version_id}")
@requires("read:actions")
async def get_version(request: web.Request) -> web.Response:
    return json(await request.app[ACTIONS].version(request["tenant"], request.match_info["id"], request.match_info["version_id"]))


@routes.post("/api/v2/actions/actions/{id}/versions/{version_id}/deploy")
@requires("create:actions")
async def deploy_version(request: web.Request) -> web.Response:
    update_draft = False
    if request.can_read_body:
        body = await read_object(request, request.app[SETTINGS].max_body)
        if "update_draft" in body:
            if not isinstance(body["update_draft"], bool):
                raise bad_request("Payload validation error: 'update_draft' must be a boolean")
            update_draft = body["update_draft"]
    return json(await request.app[ACTIONS].rollback(
        request["tenant"], request.match_info["id"], request.match_info["version_id"], update_draft))


@routes.get("/api/v2/actions/triggers")
@requires("read:actions")
async def list_triggers(request: web.Request) -> web.Response:
    return json({"triggers": [t.describe() for t in TRIGGERS.values()]})


@routes.get("/api/v2/actions/triggers/{trigger_id}/bindings")
@requires("read:actions")
async def list_bindings(request: web.Request) -> web.Response:
    page, per_page, _ = model.paging(request.query, default_per_page=20)
    items = await request.app[ACTIONS].bindings(request["tenant"], request.match_info["trigger_id"])
    return json(_paged(items[page * per_page:(page + 1) * per_page], "bindings", len(items), page, per_page))


@routes.patch("/api/v2/actions/triggers/{trigger_id}/bindings")
@requires("update:actions")
async def update_bindings(request: web.Request) -> web.Response:
    body = await read_object(request, request.app[SETTINGS].max_body)
    model.binding_display_names(body)
    items = await request.app[ACTIONS].replace_bindings(request["tenant"], request.match_info["trigger_id"], body)
    return json({"bindings": items})


@routes.get("/api/v2/actions/quarantine")
@requires("read:actions")
async def list_quarantine(request: web.Request) -> web.Response:
    """actionhost's own: the tenant's flows that keep destroying their sandbox and fail fast
    until redeployed (`error.class` "quarantined" in their executions)."""
    entries = request.app[SANDBOX].supervisor.quarantine.listing(request["tenant"])
    items = [{"trigger_id": e["flow"].split(":", 1)[0], "flow": e["flow"], "reason": e["reason"],
              "since": datetime.fromtimestamp(e["since"], timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")}
             for e in entries]
    return json({"quarantined": items})


@routes.get("/api/v2/actions/types.d.ts")
async def typings(request: web.Request) -> web.Response:
    """Typings of `event` and `api` for editors (also: `actionhost types > actions.d.ts`)."""
    return web.Response(text=typings_text(), content_type="application/typescript")


def typings_text() -> str:
    from importlib import resources

    return resources.files("runtime_js").joinpath("actions.d.ts").read_text(encoding="utf-8")


@routes.get("/api/v2/actions/executions/{id}")
@requires("read:actions")
async def get_execution(request: web.Request) -> web.Response:
    execution = await request.app[REPOSITORY].get_execution(request["tenant"], request.match_info["id"])
    if execution is None:
        raise not_found("That execution does not exist.")
    return json(execution)

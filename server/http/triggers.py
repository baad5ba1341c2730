"""The trigger runtime API: POST /triggers/{trigger_id}/execute and /continue."""

from __future__ import annotations

from aiohttp import web

from ..auth import requires
from .actions import json
from .body import read_object
from .keys import SETTINGS, TRIGGERS

routes = web.RouteTableDef()


@routes.post("/triggers/{trigger_id}/execute")
@requires("execute:triggers")
async def execute(request: web.Request) -> web.Response:
    body = await read_object(request, request.app[SETTINGS].max_body)
    return json(await request.app[TRIGGERS].execute(request["tenant"], request.match_info["trigger_id"], body))


@routes.post("/triggers/{trigger_id}/continue")
@requires("execute:triggers")
async def resume(request: web.Request) -> web.Response:
    body = await read_object(request, request.app[SETTINGS].max_body)
    return json(await request.app[TRIGGERS].resume(request["tenant"], request.match_info["trigger_id"], body))

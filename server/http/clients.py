"""Management API handlers for machine clients (/api/v2/clients) and their grants
(/api/v2/client-grants): Auth0's paths and shapes, for the one kind of client actionhost has,
`non_interactive` (client credentials).

Auth0 keeps what a client's tokens may do in a client grant (client, audience, scopes); here every
client has exactly one grant, for the Management API, and its scopes are also the client's
`scopes` (actionhost's field, on create and patch)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..access_tokens import accepted_audiences, request_host
from ..actions import model
from ..auth import check_scopes, requires
from ..errors import bad_request, not_found
from ..machine_clients import DESCRIPTION_MAX, NAME_MAX, render
from ..store.machine_clients import MachineClient
from .actions import json
from .body import read_object
from .keys import CLIENTS, SETTINGS

routes = web.RouteTableDef()
CLIENT_NOT_FOUND = "The client does not exist"
GRANT_NOT_FOUND = "The client grant does not exist"
CLIENT_FIELDS = ("name", "description", "app_type", "grant_types", "scopes")
CLIENT_ID_MAX = 64


def _unknown_fields(body: dict[str, Any], allowed: tuple[str, ...]) -> None:
    extra = [k for k in body if k not in allowed]
    if extra:
        raise bad_request(f"Payload validation error: 'Additional properties not allowed: {', '.join(extra)[:200]}'.")


def _text(body: dict[str, Any], key: str, limit: int, required: bool = False) -> str | None:
    if key not in body:
        if required:
            raise bad_request(f"Payload validation error: 'Missing required property: {key}'.")
        return None
    value = body[key]
    if not isinstance(value, str) or (key == "name" and not value.strip()) or len(value) > limit:
        raise bad_request(f"Payload validation error: '{key}' must be a string of {'1' if key == 'name' else '0'} "
                          f"to {limit} characters.")
    return value


def _scopes(body: dict[str, Any], key: str) -> list[str] | None:
    if key not in body:
        return None
    value = body[key]
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise bad_request(f"Payload validation error: '{key}' must be an array of strings.")
    try:
        return check_scopes(list(dict.fromkeys(value)))
    except ValueError as exc:
        raise bad_request(f"Payload validation error: {exc}") from None


def _client_id(request: web.Request) -> str:
    client_id = request.match_info["id"]
    if len(client_id) > CLIENT_ID_MAX:
        raise not_found(CLIENT_NOT_FOUND, "inexistent_client")
    return client_id


async def _own_client(request: web.Request) -> MachineClient:
    client = await request.app[CLIENTS].store.get(_client_id(request))
    if client is None or client.tenant != request["tenant"]:
        raise not_found(CLIENT_NOT_FOUND, "inexistent_client")
    return client


def _page(items: list[Any], key: str, total: int, page: int, per_page: int, include_totals: bool) -> Any:
    return {key: items, "start": page * per_page, "limit": per_page, "total": total} if include_totals else items


@routes.get("/api/v2/clients")
@requires("read:clients")
async def list_clients(request: web.Request) -> web.Response:
    page, per_page, include_totals = model.paging(request.query)
    clients, total = await request.app[CLIENTS].store.list_clients(request["tenant"], page, per_page)
    return json(_page([render(c) for c in clients], "clients", total, page, per_page, include_totals))


@routes.post("/api/v2/clients")
@requires("create:clients")
async def create_client(request: web.Request) -> web.Response:
    body = await read_object(request, request.app[SETTINGS].max_body)
    _unknown_fields(body, CLIENT_FIELDS)
    name = _text(body, "name", NAME_MAX, required=True)
    description = _text(body, "description", DESCRIPTION_MAX) or ""
    if body.get("app_type", "non_interactive") != "non_interactive":
        raise bad_request("Payload validation error: actionhost has machine-to-machine clients only: "
                          "'app_type' must be non_interactive.")
    grant_types = body.get("grant_types", ["client_credentials"])
    if not isinstance(grant_types, list) or any(g != "client_credentials" for g in grant_types):
        raise bad_request("Payload validation error: 'grant_types' may only hold client_credentials.")
    scopes = _scopes(body, "scopes") or []
    client, secret = await request.app[CLIENTS].create(request["tenant"], name, scopes, description)  # type: ignore[arg-type]
    return json(render(client, secret), status=201)


@routes.get("/api/v2/clients/{id}")
@requires("read:clients")
async def get_client(request: web.Request) -> web.Response:
    return json(render(await _own_client(request)))


@routes.patch("/api/v2/clients/{id}")
@requires("update:clients")
async def patch_client(request: web.Request) -> web.Response:
    body = await read_object(request, request.app[SETTINGS].max_body)
    _unknown_fields(body, ("name", "description", "scopes"))
    name, description = _text(body, "name", NAME_MAX), _text(body, "description", DESCRIPTION_MAX)
    scopes = _scopes(body, "scopes")
    client = await _own_client(request)
    directory = request.app[CLIENTS]
    updated = await directory.store.update(request["tenant"], client.client_id, name, description,
                                           None if scopes is None else tuple(scopes))
    directory.forget(client.client_id)
    if updated is None:
        raise not_found(CLIENT_NOT_FOUND, "inexistent_client")
    return json(render(updated))


@routes.delete("/api/v2/clients/{id}")
@requires("delete:clients")
async def delete_client(request: web.Request) -> web.Response:
    client = await _own_client(request)
    directory = request.app[CLIENTS]
    await directory.store.delete(request["tenant"], client.client_id)
    directory.forget(client.client_id)
    return web.Response(status=204)


# -- client grants -----------------------------------------------------------------------


def _audience(request: web.Request) -> str:
    audiences = accepted_audiences(request.app[SETTINGS].token_audiences, request_host(request.headers), request.scheme)
    return audiences[0] if audiences else ""


def render_grant(client: MachineClient, audience: str) -> dict[str, Any]:
    return {"id": client.grant_id, "client_id": client.client_id, "audience": audience, "scope": list(client.scopes)}


@routes.get("/api/v2/client-grants")
@requires("read:client_grants")
async def list_client_grants(request: web.Request) -> web.Response:
    page, per_page, include_totals = model.paging(request.query)
    audience, store = _audience(request), request.app[CLIENTS].store
    wanted_client, wanted_audience = request.query.get("client_id") or None, request.query.get("audience") or None
    if wanted_audience is not None and wanted_audience != audience:
        return json(_page([], "client_grants", 0, page, per_page, include_totals))
    if wanted_client is not None:
        client = await store.get(wanted_client[:CLIENT_ID_MAX])
        found = [client] if client is not None and client.tenant == request["tenant"] else []
        clients, total = found[page * per_page:(page + 1) * per_page], len(found)
    else:
        clients, total = await store.list_clients(request["tenant"], page, per_page)
    return json(_page([render_grant(c, audience) for c in clients], "client_grants", total, page, per_page, include_totals))


@routes.patch("/api/v2/client-grants/{id}")
@requires("update:client_grants")
async def patch_client_grant(request: web.Request) -> web.Response:
    body = await read_object(request, request.app[SETTINGS].max_body)
    _unknown_fields(body, ("scope",))
    scopes = _scopes(body, "scope")
    directory = request.app[CLIENTS]
    client = await directory.store.by_grant(request["tenant"], request.match_info["id"][:CLIENT_ID_MAX])
    if client is None:
        raise not_found(GRANT_NOT_FOUND, "inexistent_client_grant")
    if scopes is not None:
        updated = await directory.store.update(request["tenant"], client.client_id, None, None, tuple(scopes))
        directory.forget(client.client_id)
        client = updated or client
    return json(render_grant(client, _audience(request)))

"""The authentication side of actionhost as Auth0 has it: POST /oauth/token (the client-credentials
grant only) and GET /.well-known/jwks.json (the keys that verify its tokens). Neither takes a
bearer token; errors here are OAuth's `{"error", "error_description"}`, with Auth0's texts."""

from __future__ import annotations

import base64
import binascii
import time
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

import orjson
from aiohttp import web

from ..access_tokens import accepted_audiences, issue, request_host
from .body import nesting_depth_exceeds
from .keys import CLIENTS, KEYRING, SETTINGS

routes = web.RouteTableDef()

TOKEN_BODY_MAX = 64 * 1024
MAX_FIELDS = 32
FIELD_MAX = 4096  # characters of one parameter
CLIENT_CREDENTIALS = "client_credentials"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class OAuthError(Exception):
    def __init__(self, status: int, error: str, description: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description
        self.headers = headers or {}

    def response(self) -> web.Response:
        return web.Response(status=self.status, content_type="application/json", headers={**NO_STORE, **self.headers},
                            body=orjson.dumps({"error": self.error, "error_description": self.description}))


def invalid_request(description: str) -> OAuthError:
    return OAuthError(400, "invalid_request", description)


def access_denied(description: str, status: int = 403) -> OAuthError:
    return OAuthError(status, "access_denied", description)


async def _read_limited(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > TOKEN_BODY_MAX:
        raise OAuthError(413, "invalid_request", f"Request body exceeds {TOKEN_BODY_MAX} bytes")
    chunks, size = [], 0
    while True:
        chunk = await request.content.read(TOKEN_BODY_MAX + 1 - size)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
        if size > TOKEN_BODY_MAX:
            raise OAuthError(413, "invalid_request", f"Request body exceeds {TOKEN_BODY_MAX} bytes")


def parse_form(raw: bytes) -> dict[str, Any]:
    try:
        text = raw.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise invalid_request("The request body is not valid application/x-www-form-urlencoded UTF-8") from None
    params: dict[str, Any] = {}
    for key, value in pairs:
        if key in params:
            raise invalid_request(f"Parameter '{key[:64]}' must not be repeated")  # RFC 6749 section 3.2
        params[key] = value
    return params


def parse_json(raw: bytes) -> dict[str, Any]:
    if nesting_depth_exceeds(raw, 8):
        raise invalid_request("The request body nests too deeply")
    try:
        params = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise invalid_request("The request body is not valid JSON") from None
    if not isinstance(params, dict):
        raise invalid_request("The request body must be a JSON object")
    if len(params) > MAX_FIELDS:
        raise invalid_request("The request body has too many parameters")
    # a null is an absent parameter (auth0-python sends "organization": null)
    return {k: v for k, v in params.items() if v is not None}


async def read_params(request: web.Request) -> dict[str, Any]:
    """The token request's parameters, from a form or JSON body (Auth0 takes both)."""
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise OAuthError(415, "invalid_request", "Content-Encoding is not supported on this endpoint")
    raw = await _read_limited(request)
    kind = request.content_type
    if kind == "application/json":
        params = parse_json(raw) if raw else {}
    elif kind in ("application/x-www-form-urlencoded", "application/octet-stream", ""):
        params = parse_form(raw)  # aiohttp calls a body without Content-Type octet-stream
    else:
        raise invalid_request("Content-Type must be application/x-www-form-urlencoded or application/json")
    for key, value in params.items():
        if key == "scope" and isinstance(value, list):
            if not all(isinstance(s, str) for s in value):
                raise OAuthError(400, "invalid_scope", "Scope must be an array or a string")
            continue
        if not isinstance(value, str):
            raise OAuthError(400, "invalid_scope", "Scope must be an array or a string") if key == "scope" \
                else invalid_request(f"Parameter '{key[:64]}' must be a string")
        if len(value) > FIELD_MAX:
            raise invalid_request(f"Parameter '{key[:64]}' is longer than {FIELD_MAX} characters")
    return params


def basic_credentials(header: str) -> tuple[str, str] | None:
    """(client_id, client_secret) of an `Authorization: Basic` header (RFC 6749 section 2.3.1:
    each form-urlencoded, then joined with ':' and base64-encoded); None for another scheme."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        decoded = ""
    client_id, sep, secret = decoded.partition(":")
    if not sep or not client_id:
        raise OAuthError(401, "invalid_client", "The Authorization header is not valid Basic credentials",
                         {"WWW-Authenticate": 'Basic realm="oauth"'})
    return unquote_plus(client_id), unquote_plus(secret)


def client_credentials(params: dict[str, Any], authorization: str) -> tuple[str, str]:
    basic = basic_credentials(authorization)
    if basic is not None:
        if params.get("client_secret"):
            raise invalid_request("Use one client authentication method: client_secret in the body or Basic, not both")
        if params.get("client_id") and params["client_id"] != basic[0]:
            raise invalid_request("The client_id of the body is not the one of the Authorization header")
        return basic
    client_id, secret = params.get("client_id"), params.get("client_secret")
    if not client_id:
        raise invalid_request("Missing required parameter: client_id")
    if not secret:
        raise OAuthError(401, "invalid_client", "Client authentication is required: send client_secret")
    return client_id, secret


def requested_scopes(params: dict[str, Any]) -> list[str]:
    scope = params.get("scope")
    if scope is None:
        return []
    items = scope if isinstance(scope, list) else scope.split()
    return list(dict.fromkeys(s for s in items if s))


@routes.post("/oauth/token")
async def token(request: web.Request) -> web.Response:
    try:
        return await _grant(request)
    except OAuthError as exc:
        return exc.response()


async def _grant(request: web.Request) -> web.Response:
    params = await read_params(request)
    grant_type = params.get("grant_type")
    if not grant_type:
        raise invalid_request("Missing required parameter: grant_type")
    if grant_type != CLIENT_CREDENTIALS:
        raise OAuthError(403, "unsupported_grant_type", f"Unsupported grant type: {grant_type[:64]}")
    client_id, secret = client_credentials(params, request.headers.get("Authorization", ""))
    client = await request.app[CLIENTS].authenticate(client_id, secret)
    if client is None:
        raise access_denied("Unauthorized", status=401)
    settings = request.app[SETTINGS]
    audience = params.get("audience")
    if not audience:
        raise access_denied("No audience parameter was provided, and no default audience has been configured")
    if audience not in accepted_audiences(settings.token_audiences, request_host(request.headers), request.scheme):
        raise access_denied(f"Service not found: {audience[:256]}")
    if not client.scopes:
        raise access_denied(f'Client is not authorized to access "{audience[:256]}". You need to create a '
                            '"client-grant" associated to this API. See: '
                            'https://auth0.com/docs/api/v2#!/Client_Grants/post_client_grants')
    wanted = requested_scopes(params)
    not_granted = [s for s in wanted if s not in client.scopes]
    if not_granted:
        raise access_denied(f"Client has not been granted scopes: {' '.join(not_granted)[:512]}")
    scopes = tuple(s for s in client.scopes if s in wanted) if wanted else client.scopes
    key = await request.app[KEYRING].signing_key()
    ttl = settings.access_token_ttl
    access_token = issue(key, client.client_id, scopes, audience, int(time.time()), ttl)
    return web.Response(content_type="application/json", headers=NO_STORE, body=orjson.dumps(
        {"access_token": access_token, "token_type": "Bearer", "expires_in": ttl, "scope": " ".join(scopes)}))


@routes.get("/.well-known/jwks.json")
async def jwks(request: web.Request) -> web.Response:
    return web.Response(content_type="application/json", body=orjson.dumps(await request.app[KEYRING].jwks()))

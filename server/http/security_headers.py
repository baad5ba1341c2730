"""The headers every answer carries, and aiohttp's own error answers replaced by ones that echo nothing."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import orjson
from aiohttp import web, web_protocol

SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff"}


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: every answer the app gives, errors included."""
    response.headers.update(SECURITY_HEADERS)


def _parser_error_answer(status: int) -> web.Response:
    if status >= 500:
        message = "Internal error; see the server log"
    else:
        message = "The request is not valid HTTP/1.1"  # nothing of what was sent: it may hold a token
    body: dict[str, Any] = {"statusCode": status, "error": HTTPStatus(status).phrase, "message": message}
    response = web.Response(status=status, body=orjson.dumps(body), content_type="application/json",
                            headers=SECURITY_HEADERS)
    response.force_close()
    return response


def answer_parser_errors_without_echo() -> None:
    """aiohttp answers a request its parser refuses (a bare LF, a NUL in a header, a bad request
    line) itself, in plain text quoting the offending bytes, bearer token and all, and outside
    the app (no middleware sees it). Its `handle_error` keeps its logging and its check for an
    answer already under way; the answer itself becomes an Auth0-shaped one that echoes nothing."""
    original = web_protocol.RequestHandler.handle_error
    if getattr(original, "_echoes_nothing", False):
        return

    def handle_error(self: Any, request: Any, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        original(self, request, status, exc, None)
        return _parser_error_answer(status)

    handle_error._echoes_nothing = True  # type: ignore[attr-defined]
    web_protocol.RequestHandler.handle_error = handle_error  # type: ignore[method-assign]

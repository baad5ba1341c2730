"""Limits on the request line and headers, answered in Auth0's error shape."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import http_exceptions, web

from ..errors import APIError

MAX_URL = 8 * 1024
MAX_HEADER = 8 * 1024
PARSER_LINE_LIMIT = 32 * 1024  # aiohttp's parser refuses longer lines itself, in plain text


@web.middleware
async def request_size_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    if len(request.raw_path) > MAX_URL:
        raise APIError(414, f"The request URL exceeds {MAX_URL} bytes", "uri_too_long")
    if "\x00" in request.path or any("\x00" in k or "\x00" in v for k, v in request.query.items()):
        raise APIError(400, "The request URL must not contain NUL characters", "invalid_uri")
    for name, value in request.raw_headers:
        if len(name) + len(value) > MAX_HEADER:
            raise APIError(431, f"A request header exceeds {MAX_HEADER} bytes", "header_too_large")
    return await handler(request)


class _DropClientParseErrors(logging.Filter):
    """aiohttp logs a traceback for every malformed request it refuses; that is the client's
    error, already answered with a 400, not the server's."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, http_exceptions.BadHttpMessage)


def quiet_client_errors() -> None:
    logger = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, _DropClientParseErrors) for f in logger.filters):
        logger.addFilter(_DropClientParseErrors())

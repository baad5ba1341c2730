"""Reading request bodies: size checked while reading, nesting checked before parsing."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from ..errors import APIError, bad_request

MAX_DEPTH = 64


def nesting_depth_exceeds(raw: bytes, limit: int) -> bool:
    """True when brackets nest deeper than `limit` (strings skipped), without parsing."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False  # cannot nest deeper than it has brackets: the usual case, decided in C
    depth = 0
    in_string = False
    escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            if depth > limit:
                return True
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return False


async def read_json(request: web.Request, max_bytes: int, max_depth: int = MAX_DEPTH) -> Any:
    if request.content_length is not None and request.content_length > max_bytes:
        raise APIError(413, f"Request body exceeds {max_bytes} bytes", "payload_too_large")
    raw = bytearray()
    async for chunk in request.content.iter_chunked(64 * 1024):
        raw += chunk
        if len(raw) > max_bytes:
            raise APIError(413, f"Request body exceeds {max_bytes} bytes", "payload_too_large")
    if not raw:
        raise bad_request("Request body is required")
    body = bytes(raw)
    if nesting_depth_exceeds(body, max_depth):
        raise bad_request(f"JSON nesting exceeds {max_depth} levels")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise bad_request(f"Invalid JSON: {exc.msg}") from None


async def read_object(request: web.Request, max_bytes: int) -> dict[str, Any]:
    body = await read_json(request, max_bytes)
    if not isinstance(body, dict):
        raise bad_request("Payload validation error: the body must be a JSON object")
    return body

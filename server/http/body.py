"""Reading request bodies: media type checked first, size while reading, nesting before parsing."""

from __future__ import annotations

from typing import Any

import zlib

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


# The server is built with auto_decompress off (app.py): bodies are inflated here, with the
# size limit applied to the inflated bytes and a clear 4xx for anything that does not decode.
DECODABLE = ("", "identity", "gzip", "deflate")


def _inflate(raw: bytes, encoding: str, max_bytes: int) -> bytes:
    # gzip: wbits 16+15; deflate: zlib-wrapped per RFC 9110, raw deflate as sent by some clients
    attempts = (16 + zlib.MAX_WBITS,) if encoding == "gzip" else (zlib.MAX_WBITS, -zlib.MAX_WBITS)
    for wbits in attempts:
        inflater = zlib.decompressobj(wbits)
        try:
            out = inflater.decompress(raw, max_bytes + 1)
        except zlib.error:
            continue
        if len(out) > max_bytes or inflater.unconsumed_tail:
            raise APIError(413, f"Request body exceeds {max_bytes} bytes once decompressed", "payload_too_large")
        if not inflater.eof:
            break
        return out
    raise bad_request(f"The request body is not valid {encoding} data")


def is_json_media_type(values: list[str]) -> bool:
    """One Content-Type, application/json, with no charset or UTF-8: a body sent as text, a form,
    multipart or UTF-16 is not taken for JSON because it happens to parse as JSON."""
    if len(values) != 1:
        return False
    media_type, _, parameters = values[0].partition(";")
    if media_type.strip().lower() != "application/json":
        return False
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            return False
    return True


async def read_json(request: web.Request, max_bytes: int, max_depth: int = MAX_DEPTH) -> Any:
    if request.body_exists and not is_json_media_type(request.headers.getall("Content-Type", [])):
        # as Auth0 does; a request without a body falls through to "Request body is required"
        raise APIError(415, "Unsupported Media Type: send the body as application/json (charset utf-8)",
                       "unsupported_media_type")
    encoding = request.headers.get("Content-Encoding", "").strip().lower()
    if encoding not in DECODABLE:
        raise APIError(415, f"Unsupported Content-Encoding '{encoding[:32]}'; send identity, gzip or deflate",
                       "unsupported_media_type")
    if request.content_length is not None and request.content_length > max_bytes:
        raise APIError(413, f"Request body exceeds {max_bytes} bytes", "payload_too_large")
    try:
        raw = await request.read()  # bounded by the app's client_max_size (= max_bytes)
    except web.HTTPRequestEntityTooLarge:
        raise APIError(413, f"Request body exceeds {max_bytes} bytes", "payload_too_large") from None
    except web.RequestPayloadError as exc:
        raise bad_request(f"The request body could not be read: {exc}") from None
    if len(raw) > max_bytes:
        raise APIError(413, f"Request body exceeds {max_bytes} bytes", "payload_too_large")
    if encoding in ("gzip", "deflate"):
        raw = _inflate(raw, encoding, max_bytes)
    if not raw:
        raise bad_request("Request body is required")
    if nesting_depth_exceeds(raw, max_depth):
        raise bad_request(f"JSON nesting exceeds {max_depth} levels")
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise bad_request(f"Invalid JSON: {exc.msg}") from None
    if b"\\u0000" in raw and _contains_nul(value):
        # valid JSON, but no store keeps NUL in text (PostgreSQL refuses it): refused up front
        raise bad_request("Payload validation error: strings must not contain NUL characters (\\u0000)")
    return value


def _contains_nul(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


async def read_object(request: web.Request, max_bytes: int) -> dict[str, Any]:
    body = await read_json(request, max_bytes)
    if not isinstance(body, dict):
        raise bad_request("Payload validation error: the body must be a JSON object")
    return body

"""API errors in Auth0's shape: {"statusCode", "error", "message", "errorCode"?}."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import orjson
from aiohttp import web


class APIError(Exception):
    def __init__(self, status: int, message: str, error_code: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_code = error_code
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "statusCode": self.status,
            "error": HTTPStatus(self.status).phrase,
            "message": self.message,
        }
        if self.error_code:
            body["errorCode"] = self.error_code
        return body

    def response(self) -> web.Response:
        return web.Response(
            status=self.status, body=orjson.dumps(self.body()),
            content_type="application/json", headers=self.headers,
        )


def bad_request(message: str, error_code: str | None = "invalid_body") -> APIError:
    return APIError(400, message, error_code)


def not_found(message: str, error_code: str | None = None) -> APIError:
    return APIError(404, message, error_code)


def conflict(message: str, error_code: str | None = None) -> APIError:
    return APIError(409, message, error_code)


@web.middleware
async def error_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Every failure leaves as a JSON error in Auth0's shape; unexpected ones as a logged 500
    that says nothing of the internals."""
    try:
        return await handler(request)
    except APIError as exc:
        return exc.response()
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        # keep the exception's own headers (a 405 must say Allow:)
        headers = {k: v for k, v in exc.headers.items() if k.lower() not in ("content-type", "content-length")}
        error = APIError(exc.status, exc.reason or HTTPStatus(exc.status).phrase, headers=headers)
        return error.response()
    except Exception:
        request.app.logger.exception("unhandled error on %s %s", request.method, request.path)
        return APIError(500, "Internal error; see the server log").response()

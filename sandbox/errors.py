"""Error classes of an execution, as values that travel unchanged to responses and records."""

from __future__ import annotations

from typing import Any

ACTION_ERROR = "action_error"
ACTION_TIMEOUT = "action_timeout"
PLATFORM_ERROR = "platform_error"
QUARANTINED = "quarantined"
ERROR_CLASSES = (ACTION_ERROR, ACTION_TIMEOUT, PLATFORM_ERROR, QUARANTINED)


def failure(error_class: str, message: str, action: str | None = None) -> dict[str, Any]:
    """A job result for an execution the sandbox ended itself (no per-action results)."""
    error: dict[str, Any] = {"class": error_class, "message": message}
    if action is not None:
        error["action"] = action
    return {"status": "failed", "actions": [], "error": error}

"""Validating Management API input for actions and rendering actions, versions and bindings in
Auth0's shapes. Pure functions: no I/O here."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..errors import bad_request
from ..flows.catalogue import trigger
from ..npm import BuildError
from ..npm.build import MAX_DECLARED, check_name

NAME_MAX = 256
SECRET_NAME_MAX = 128
SECRET_VALUE_MAX = 4096
# C0 and C1 controls, and the bidi marks, embeddings, overrides and isolates (U+061C, U+200E/F,
# U+202A-E, U+2066-9): a name holding one can render as a different name in any listing or log
# (U+202E turns "txt.exe" around). Auth0 documents no character set for names beyond this.
CONTROL_AND_BIDI = r"\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_UNSAFE_NAME = re.compile(rf"[{CONTROL_AND_BIDI}/\\]")
_INVISIBLE_CHAR = re.compile(rf"[{CONTROL_AND_BIDI}]")


@dataclass(frozen=True)
class Limits:
    script_max_bytes: int = 100 * 1000
    max_secrets: int = 30
    max_bindings: int = 20
    versions_kept: int = 50


def _expect(body: dict[str, Any], key: str, kind: type | tuple[type, ...], what: str) -> Any:
    value = body[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise bad_request(f"Payload validation error: '{key}' must be {what}")
    return value


def action_name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise bad_request("Payload validation error: 'name' must be a non-empty string")
    if len(value) > NAME_MAX:
        raise bad_request(f"Payload validation error: 'name' must be at most {NAME_MAX} characters")
    if _UNSAFE_NAME.search(value) or value.strip() in (".", "..") or value != value.strip():
        raise bad_request("Payload validation error: 'name' must not contain '/', '\\', control characters, "
                          "bidirectional formatting characters or surrounding whitespace, and must not be '.' or '..'")
    return value


def binding_display_names(body: dict[str, Any]) -> None:
    """A binding's display_name is shown wherever the flow is listed: no controls or bidi marks.
    (Types and lengths are the binding service's to check, with the rest of the list.)"""
    refs = body.get("bindings")
    for item in refs if isinstance(refs, list) else ():
        if isinstance(item, dict) and isinstance(item.get("display_name"), str) and _INVISIBLE_CHAR.search(item["display_name"]):
            raise bad_request("Payload validation error: 'display_name' must not contain control characters "
                              "or bidirectional formatting characters")


def supported_triggers(value: Any) -> list[dict[str, str]]:
    if not isinstance(value, list) or len(value) != 1:
        raise bad_request("Payload validation error: 'supported_triggers' must be a list of exactly one trigger")
    item = value[0]
    if not isinstance(item, dict) or not isinstance(item.get("id"), str):
        raise bad_request("Payload validation error: a supported trigger must be an object with an 'id'")
    known = trigger(item["id"])
    if known is None:
        raise bad_request(f"Payload validation error: unknown trigger '{item['id'][:64]}'", "invalid_trigger")
    version = item.get("version", known.current_version)
    if not isinstance(version, str) or version not in known.versions:
        raise bad_request(f"Payload validation error: trigger '{known.id}' supports versions {', '.join(known.versions)}")
    return [{"id": known.id, "version": version}]


def code(value: Any, limits: Limits) -> str:
    if not isinstance(value, str):
        raise bad_request("Payload validation error: 'code' must be a string")
    if len(value.encode("utf-8")) > limits.script_max_bytes:
        raise bad_request(f"Payload validation error: 'code' must be at most {limits.script_max_bytes} bytes",
                          "script_too_large")
    return value


def dependencies(value: Any) -> list[dict[str, str]]:
    if not isinstance(value, list):
        raise bad_request("Payload validation error: 'dependencies' must be a list")
    if len(value) > MAX_DECLARED:
        raise bad_request(f"Payload validation error: at most {MAX_DECLARED} dependencies")
    out = []
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not isinstance(item.get("version", ""), str):
            raise bad_request("Payload validation error: a dependency must be {name, version} strings")
        try:
            check_name(item["name"])
        except BuildError as exc:
            raise bad_request(f"Payload validation error: {exc.message}") from None
        version = item.get("version") or "latest"
        if len(version) > 256 or not version.isprintable():
            raise bad_request(f"Payload validation error: the version of '{item['name']}' must be a version, a range or a dist-tag")
        if any(d["name"] == item["name"] for d in out):
            raise bad_request(f"Payload validation error: the dependency '{item['name']}' is declared more than once")
        out.append({"name": item["name"], "version": version})
    return out


def runtime(value: Any, trigger_id: str) -> str:
    known = trigger(trigger_id)
    assert known is not None
    if not isinstance(value, str) or value not in known.runtimes:
        raise bad_request(f"Payload validation error: 'runtime' must be one of {', '.join(known.runtimes)}")
    return value


def secrets_input(value: Any, limits: Limits) -> list[dict[str, str | None]]:
    """[{name, value|None}]; a None value keeps the stored one (tools re-send names only)."""
    if not isinstance(value, list):
        raise bad_request("Payload validation error: 'secrets' must be a list")
    if len(value) > limits.max_secrets:
        raise bad_request(f"Payload validation error: at most {limits.max_secrets} secrets per action")
    seen = set()
    out: list[dict[str, str | None]] = []
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
            raise bad_request("Payload validation error: a secret must be {name, value}")
        name = item["name"]
        if len(name) > SECRET_NAME_MAX or _UNSAFE_NAME.search(name):
            raise bad_request(f"Payload validation error: secret names are at most {SECRET_NAME_MAX} printable characters")
        if name in seen:
            raise bad_request(f"Payload validation error: duplicate secret '{name}'")
        seen.add(name)
        secret_value = item.get("value")
        if secret_value is not None and (not isinstance(secret_value, str) or len(secret_value) > SECRET_VALUE_MAX):
            raise bad_request(f"Payload validation error: secret values are strings of at most {SECRET_VALUE_MAX} characters")
        out.append({"name": name, "value": secret_value})
    return out


def create_input(body: dict[str, Any], limits: Limits) -> dict[str, Any]:
    for key in ("name", "supported_triggers"):
        if key not in body:
            raise bad_request(f"Payload validation error: Missing required property: {key}")
    triggers = supported_triggers(body["supported_triggers"])
    out: dict[str, Any] = {
        "name": action_name(body["name"]),
        "supported_triggers": triggers,
        "code": code(body.get("code", ""), limits),
        "dependencies": dependencies(body.get("dependencies", [])),
        "runtime": runtime(body.get("runtime", trigger(triggers[0]["id"]).default_runtime), triggers[0]["id"]),  # type: ignore[union-attr]
        "secrets": secrets_input(body.get("secrets", []), limits),
        "deploy": False,
    }
    if "deploy" in body:
        out["deploy"] = _expect(body, "deploy", bool, "a boolean")
    return out


def update_input(body: dict[str, Any], current_trigger: str, limits: Limits) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "name" in body:
        out["name"] = action_name(body["name"])
    if "supported_triggers" in body:
        out["supported_triggers"] = supported_triggers(body["supported_triggers"])
        current_trigger = out["supported_triggers"][0]["id"]
    if "code" in body:
        out["code"] = code(body["code"], limits)
    if "dependencies" in body:
        out["dependencies"] = dependencies(body["dependencies"])
    if "runtime" in body:
        out["runtime"] = runtime(body["runtime"], current_trigger)
    if "secrets" in body:
        out["secrets"] = secrets_input(body["secrets"], limits)
    return out


def paging(query: Any, default_per_page: int = 50, max_per_page: int = 100) -> tuple[int, int, bool]:
    """(page, per_page, include_totals) from query parameters, 400 on garbage."""
    def number(key: str, default: int, low: int, high: int) -> int:
        raw = query.get(key)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise bad_request(f"Query validation error: '{key}' must be an integer", "invalid_query_string") from None
        if not low <= value <= high:
            raise bad_request(f"Query validation error: '{key}' must be between {low} and {high}", "invalid_query_string")
        return value
    page = number("page", 0, 0, 10_000_000)
    per_page = number("per_page", default_per_page, 1, max_per_page)
    include_totals = str(query.get("include_totals", "false")).lower() == "true"
    return page, per_page, include_totals


def public_secrets(stored: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [{"name": s["name"], "updated_at": s["updated_at"]} for s in stored]


def render_action_base(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "supported_triggers": row["supported_triggers"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def render_version(version: dict[str, Any], action: dict[str, Any] | None) -> dict[str, Any]:
    out = {
        "id": version["id"],
        "action_id": version["action_id"],
        "code": version["code"],
        "dependencies": version["dependencies"],
        "deployed": bool(action and action.get("deployed_version_id") == version["id"]),
        "runtime": version["runtime"],
        "secrets": public_secrets(version["secrets"]),
        "status": version["status"],
        "number": version["number"],
        "errors": version["errors"],
        "built_at": version["built_at"],
        "created_at": version["created_at"],
        "updated_at": version["updated_at"],
        "supported_triggers": version["supported_triggers"],
    }
    if action is not None:
        out["action"] = render_action_base(action)
    return out


def render_action(action: dict[str, Any], deployed: dict[str, Any] | None) -> dict[str, Any]:
    out = {
        **render_action_base(action),
        "code": action["code"],
        "dependencies": action["dependencies"],
        "runtime": action["runtime"],
        "secrets": public_secrets(action["secrets"]),
        "status": action["status"],
        "errors": action["errors"],
        "built_at": action["built_at"],
        "all_changes_deployed": bool(deployed) and _same_content(action, deployed),
    }
    if deployed is not None:
        out["deployed_version"] = render_version(deployed, action)
    return out


def _same_content(action: dict[str, Any], version: dict[str, Any]) -> bool:
    keys = ("code", "dependencies", "runtime", "supported_triggers")
    if any(action[k] != version[k] for k in keys):
        return False
    return [(s["name"], s["updated_at"]) for s in action["secrets"]] == [(s["name"], s["updated_at"]) for s in version["secrets"]]


def render_binding(binding: dict[str, Any], action: dict[str, Any], deployed: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "id": binding["id"],
        "trigger_id": binding["trigger_id"],
        "display_name": binding["display_name"],
        "action": render_action_base(action) | {"all_changes_deployed": bool(deployed) and _same_content(action, deployed)},
        "created_at": binding["created_at"],
        "updated_at": binding["updated_at"],
    }

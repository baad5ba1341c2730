"""The OpenAPI 3.0 document of everything actionhost serves, at GET /api/v2/openapi.json (no token).

Built from the same constants the handlers validate with (name and secret limits, scopes, the
trigger catalogue), so the document and the server cannot drift apart silently; the schemas say
what the server refuses (required fields, types, enums, lengths), and every response the server
can give is listed with its shape. tests/test_openapi_fuzz.py fuzzes every operation with it."""

from __future__ import annotations

import functools
from typing import Any

import orjson
from aiohttp import web

from ..actions import model
from ..auth import SCOPES
from ..flows.catalogue import TRIGGERS
from ..machine_clients import DESCRIPTION_MAX as CLIENT_DESCRIPTION_MAX
from ..machine_clients import NAME_MAX as CLIENT_NAME_MAX
from ..profiles.sqlite_profiles import SORTABLE
from ..settings import Settings
from . import roles as roles_http
from .oauth import TOKEN_BODY_MAX
from .users import USER_ID_MAX

routes = web.RouteTableDef()

_DEFAULTS = Settings()
_LIMITS = model.Limits()
TRIGGER_IDS = sorted(TRIGGERS)
TRIGGER_VERSIONS = sorted({v for t in TRIGGERS.values() for v in t.versions})
RUNTIMES = sorted({r for t in TRIGGERS.values() for r in t.runtimes})

SCOPE_TEXT = {
    "read:actions": "read actions, versions, triggers, bindings, executions and modules",
    "create:actions": "create, deploy, roll back and test actions",
    "update:actions": "update actions and replace a trigger's bindings",
    "delete:actions": "delete actions",
    "read:users": "read user profiles",
    "update:users": "patch user profiles (metadata merge)",
    "create:users": "create user profiles",
    "execute:triggers": "run triggers (the trigger API)",
    "read:clients": "read machine clients",
    "create:clients": "create machine clients (the secret is shown once)",
    "update:clients": "rename machine clients and change their scopes",
    "delete:clients": "delete machine clients (their access tokens stop working)",
    "read:client_grants": "read client grants",
    "update:client_grants": "change the scopes of client grants",
    "read:roles": "read roles and users' roles",
    "create:roles": "create roles",
    "update:roles": "rename roles",
    "delete:roles": "delete roles",
}

# -- schemas ---------------------------------------------------------------------------------

# names the server accepts: not empty, no '/', '\\', control or bidi formatting characters, no
# surrounding whitespace, not '.' or '..' (model.action_name)
_SAFE = rf"{model.CONTROL_AND_BIDI}/\\"
NAME_PATTERN = rf"^[^\s{_SAFE}](?:[^{_SAFE}]*[^\s{_SAFE}])?$"
SECRET_NAME_PATTERN = rf"^[^{_SAFE}]+$"
DISPLAY_NAME_PATTERN = rf"^[^{model.CONTROL_AND_BIDI}]+$"
NO_NUL_PATTERN = r"^[^\x00]+$"


def ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


ANY_OBJECT: dict[str, Any] = {"type": "object", "additionalProperties": True}
TIMESTAMP = {"type": "string", "description": "ISO 8601, UTC"}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "description": "Every error, in Auth0's shape.",
        "required": ["statusCode", "error", "message"],
        "properties": {
            "statusCode": {"type": "integer", "minimum": 400, "maximum": 599},
            "error": {"type": "string", "description": "the HTTP reason phrase"},
            "message": {"type": "string"},
            "errorCode": {"type": "string"},
        },
    },
    "ActionName": {
        "type": "string", "minLength": 1, "maxLength": model.NAME_MAX, "pattern": NAME_PATTERN,
        "not": {"enum": [".", ".."]},
        "description": "Unique per tenant; no '/', '\\', control characters or surrounding whitespace.",
    },
    "SupportedTriggers": {
        "type": "array", "minItems": 1, "maxItems": 1,
        "description": "Exactly one trigger; `version` defaults to the trigger's current version.",
        "items": {
            "type": "object", "required": ["id"],
            "properties": {
                "id": {"type": "string", "enum": TRIGGER_IDS},
                "version": {"type": "string", "enum": TRIGGER_VERSIONS},
            },
        },
    },
    "SupportedTrigger": {
        "type": "object", "required": ["id", "version"],
        "properties": {"id": {"type": "string"}, "version": {"type": "string"}},
    },
    "Code": {
        "type": "string", "maxLength": _LIMITS.script_max_bytes,
        "description": f"The action's JavaScript; at most {_LIMITS.script_max_bytes} bytes of UTF-8 "
                       "(`--script-max-bytes`); compiled when saved.",
    },
    "Dependency": {
        "type": "object", "required": ["name"],
        "properties": {"name": {"type": "string"}, "version": {"type": "string", "default": "latest"}},
    },
    "Runtime": {"type": "string", "enum": RUNTIMES},
    "SecretInput": {
        "type": "object", "required": ["name"],
        "description": "A secret; without `value` (or with null) the stored value of that name is kept.",
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": model.SECRET_NAME_MAX,
                     "pattern": SECRET_NAME_PATTERN},
            "value": {"type": "string", "maxLength": model.SECRET_VALUE_MAX, "nullable": True},
        },
    },
    "SecretsInput": {
        "type": "array", "maxItems": _LIMITS.max_secrets, "items": ref("SecretInput"),
        "description": "Replaces the action's secrets; names must be unique.",
    },
    "Secret": {
        "type": "object", "required": ["name", "updated_at"],
        "description": "Secrets are write-only: only the name and when its value was set.",
        "properties": {"name": {"type": "string"}, "updated_at": TIMESTAMP},
    },
    "BuildError": {
        "type": "object", "required": ["id", "msg"],
        "properties": {"id": {"type": "string"}, "msg": {"type": "string"}, "url": {"type": "string"}},
    },
    "ActionCreate": {
        "type": "object", "required": ["name", "supported_triggers"],
        "properties": {
            "name": ref("ActionName"),
            "supported_triggers": ref("SupportedTriggers"),
            "code": ref("Code"),
            "dependencies": {"type": "array", "items": ref("Dependency")},
            "runtime": ref("Runtime"),
            "secrets": ref("SecretsInput"),
            "deploy": {"type": "boolean", "description": "also deploy it (needs code that builds)"},
        },
    },
    "ActionUpdate": {
        "type": "object",
        "description": "Only the given fields change. The trigger of a bound action cannot change.",
        "properties": {
            "name": ref("ActionName"),
            "supported_triggers": ref("SupportedTriggers"),
            "code": ref("Code"),
            "dependencies": {"type": "array", "items": ref("Dependency")},
            "runtime": ref("Runtime"),
            "secrets": ref("SecretsInput"),
        },
    },
    "ActionBase": {
        "type": "object", "required": ["id", "name", "supported_triggers", "created_at", "updated_at"],
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "supported_triggers": {"type": "array", "items": ref("SupportedTrigger")},
            "created_at": TIMESTAMP,
            "updated_at": TIMESTAMP,
        },
    },
    "Action": {
        "allOf": [ref("ActionBase"), {
            "type": "object",
            "required": ["code", "dependencies", "runtime", "secrets", "status", "errors", "built_at",
                         "all_changes_deployed"],
            "properties": {
                "code": {"type": "string"},
                "dependencies": {"type": "array", "items": ref("Dependency")},
                "runtime": {"type": "string"},
                "secrets": {"type": "array", "items": ref("Secret")},
                "status": {"type": "string", "enum": ["pending", "built", "failed"],
                           "description": "pending while the dependencies install"},
                "errors": {"type": "array", "items": ref("BuildError")},
                "built_at": {**TIMESTAMP, "nullable": True, "description": "ISO 8601, UTC; null while pending"},
                "all_changes_deployed": {"type": "boolean"},
                "deployed_version": ref("ActionVersion"),
            },
        }],
    },
    "ActionVersion": {
        "type": "object",
        "required": ["id", "action_id", "code", "dependencies", "deployed", "runtime", "secrets", "status",
                     "number", "errors", "built_at", "created_at", "updated_at", "supported_triggers"],
        "properties": {
            "id": {"type": "string"},
            "action_id": {"type": "string"},
            "code": {"type": "string"},
            "dependencies": {"type": "array", "items": ref("Dependency")},
            "deployed": {"type": "boolean"},
            "runtime": {"type": "string"},
            "secrets": {"type": "array", "items": ref("Secret")},
            "status": {"type": "string", "enum": ["built", "failed"]},
            "number": {"type": "integer", "minimum": 1},
            "errors": {"type": "array", "items": ref("BuildError")},
            "built_at": TIMESTAMP,
            "created_at": TIMESTAMP,
            "updated_at": TIMESTAMP,
            "supported_triggers": {"type": "array", "items": ref("SupportedTrigger")},
            "action": ref("ActionBase"),
        },
    },
    "RollbackRequest": {
        "type": "object",
        "properties": {"update_draft": {"type": "boolean", "description": "also put this code back in the draft"}},
    },
    "TestRequest": {
        "type": "object", "required": ["payload"],
        "properties": {
            "payload": {
                "type": "object", "additionalProperties": True,
                "description": "`{\"event\": {...}}`; an object without `event` is taken as the event itself.",
                "properties": {"event": ANY_OBJECT},
            },
        },
    },
    "TestResult": {
        "type": "object", "required": ["payload"],
        "properties": {
            "payload": {
                "type": "object", "required": ["commands", "logs", "stats"],
                "properties": {
                    "commands": {"type": "array", "items": {"type": "array"},
                                 "description": "the api calls the draft recorded, e.g. [\"user.setAppMetadata\", key, value]"},
                    "logs": {"type": "string"},
                    "status": {"type": "string", "enum": ["completed", "denied", "redirect", "failed"]},
                    "stats": ANY_OBJECT,
                    "error": {
                        "type": "object", "required": ["id", "msg"],
                        "properties": {"id": {"type": "string"}, "msg": {"type": "string"}, "url": {"type": "string"}},
                    },
                },
            },
        },
    },
    "Trigger": {
        "type": "object",
        "required": ["id", "version", "status", "runtimes", "default_runtime", "compatible_triggers", "binding_policy"],
        "properties": {
            "id": {"type": "string"},
            "version": {"type": "string"},
            "status": {"type": "string"},
            "runtimes": {"type": "array", "items": {"type": "string"}},
            "default_runtime": {"type": "string"},
            "compatible_triggers": {"type": "array", "items": ref("SupportedTrigger")},
            "binding_policy": {"type": "string"},
        },
    },
    "Binding": {
        "type": "object", "required": ["id", "trigger_id", "display_name", "action", "created_at", "updated_at"],
        "properties": {
            "id": {"type": "string"},
            "trigger_id": {"type": "string"},
            "display_name": {"type": "string"},
            "action": {"allOf": [ref("ActionBase"), {
                "type": "object", "required": ["all_changes_deployed"],
                "properties": {"all_changes_deployed": {"type": "boolean"}},
            }]},
            "created_at": TIMESTAMP,
            "updated_at": TIMESTAMP,
        },
    },
    "BindingsUpdate": {
        "type": "object", "required": ["bindings"],
        "properties": {
            "bindings": {
                "type": "array", "maxItems": _LIMITS.max_bindings,
                "description": "The whole new list, in execution order: deployed actions of this trigger, "
                               "each at most once.",
                "items": {
                    "type": "object", "required": ["ref"],
                    "properties": {
                        "ref": {
                            "type": "object", "required": ["type", "value"],
                            "properties": {
                                "type": {"type": "string", "enum": ["action_id", "action_name", "binding_id"]},
                                "value": {"type": "string", "minLength": 1},
                            },
                        },
                        "display_name": {"type": "string", "minLength": 1, "maxLength": model.NAME_MAX,
                                         "pattern": DISPLAY_NAME_PATTERN},
                    },
                },
            },
        },
    },
    "Execution": {
        "type": "object", "required": ["id", "trigger_id", "status", "results", "created_at", "updated_at"],
        "properties": {
            "id": {"type": "string"},
            "trigger_id": {"type": "string"},
            "status": {"type": "string", "enum": ["final", "suspended"]},
            "results": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "action_name": {"type": "string", "nullable": True},
                        "status": {"type": "string"},
                        "started_at": {"type": "string", "nullable": True},
                        "ended_at": {"type": "string", "nullable": True},
                        "duration_ms": {"type": "number", "nullable": True},
                        "logs": {"type": "string"},
                        "error": ref("BuildError"),
                        "egress": {
                            "type": "array", "description": "The action's outbound requests (fetch, http/https), in order",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "method": {"type": "string"}, "host": {"type": "string"},
                                    "path": {"type": "string", "description": "without the query"},
                                    "status": {"type": "integer", "nullable": True},
                                    "duration_ms": {"type": "number"}, "bytes": {"type": "integer"},
                                    "outcome": {"type": "string", "enum": ["ok", "denied", "error", "timeout", "too_large", "aborted"]},
                                },
                            },
                        },
                    },
                },
            },
            "created_at": TIMESTAMP,
            "updated_at": TIMESTAMP,
        },
    },
    "UserCreate": {
        "type": "object", "required": ["connection"], "additionalProperties": True,
        "description": "Other root attributes are kept on the profile as given.",
        "properties": {
            "connection": {"type": "string", "minLength": 1},
            "user_id": {"type": "string", "minLength": 1, "maxLength": USER_ID_MAX - len("auth0|"),
                        "pattern": NO_NUL_PATTERN, "nullable": True,
                        "description": "kept as is when it contains '|', else prefixed with 'auth0|'; random when "
                                       "absent or null"},
            "email": {"type": "string"},
            "name": {"type": "string"},
            "nickname": {"type": "string"},
            "picture": {"type": "string"},
            "given_name": {"type": "string"},
            "family_name": {"type": "string"},
            "username": {"type": "string"},
            "phone_number": {"type": "string"},
            "password": {"description": "accepted and not stored"},
            "app_metadata": ANY_OBJECT,
            "user_metadata": ANY_OBJECT,
        },
    },
    "UserUpdate": {
        "type": "object", "additionalProperties": True,
        "description": "`app_metadata` and `user_metadata` are merged at the top level (null deletes a key); "
                       "other root attributes are set (null removes them). `user_id` cannot change.",
        "not": {"required": ["user_id"]},
        "properties": {
            "app_metadata": ANY_OBJECT,
            "user_metadata": ANY_OBJECT,
        },
    },
    "User": {
        "type": "object", "additionalProperties": True,
        "required": ["user_id", "app_metadata", "user_metadata", "created_at", "updated_at"],
        "properties": {
            "user_id": {"type": "string"},
            "app_metadata": ANY_OBJECT,
            "user_metadata": ANY_OBJECT,
            "created_at": TIMESTAMP,
            "updated_at": TIMESTAMP,
        },
    },
    "ExecuteRequest": {
        "type": "object", "required": ["event"],
        "properties": {
            "event": {
                "type": "object", "required": ["user"], "additionalProperties": True,
                "description": "The post-login event (see GET /api/v2/actions/types.d.ts).",
                "properties": {
                    "user": {
                        "type": "object", "required": ["user_id"], "additionalProperties": True,
                        "properties": {
                            "user_id": {"type": "string", "minLength": 1, "maxLength": 256},
                            "app_metadata": {"description": "the stored profile's replaces it; "
                                                            "for a new user, kept when an object"},
                            "user_metadata": {"description": "as app_metadata"},
                        },
                    },
                },
            },
        },
    },
    "ContinueRequest": {
        "type": "object", "required": ["state"],
        "properties": {
            "state": {"type": "string", "minLength": 1, "maxLength": 256,
                      "description": "the `state` of the redirect; single-use, expires"},
            "request": {
                "type": "object",
                "properties": {"query": ANY_OBJECT, "body": ANY_OBJECT},
            },
        },
    },
    "TriggerResult": {
        "type": "object",
        "required": ["execution_id", "status", "deny", "redirect", "id_token_claims", "access_token_claims",
                     "access_token_scopes", "multifactor", "authentication", "session", "refresh_token", "saml",
                     "prompt", "transaction_metadata", "user", "actions", "error"],
        "properties": {
            "execution_id": {"type": "string"},
            "status": {"type": "string", "enum": ["allowed", "denied", "redirect", "failed"]},
            "deny": {"type": "object", "nullable": True, "properties": {"reason": {"nullable": True}}},
            "redirect": {
                "type": "object", "nullable": True,
                "properties": {"url": {"type": "string"}, "state": {"type": "string"}, "prompt": {}},
            },
            "id_token_claims": ANY_OBJECT,
            "access_token_claims": ANY_OBJECT,
            "access_token_scopes": {
                "type": "object", "required": ["add", "remove"],
                "properties": {"add": {"type": "array", "items": {"type": "string"}},
                               "remove": {"type": "array", "items": {"type": "string"}}},
            },
            "multifactor": {"nullable": True},
            "authentication": {"nullable": True},
            "session": {"nullable": True},
            "refresh_token": {"nullable": True},
            "saml": {"type": "object", "nullable": True},
            "prompt": {"nullable": True},
            "transaction_metadata": {"nullable": True},
            "user": {
                "type": "object", "required": ["user_id", "app_metadata", "user_metadata"],
                "properties": {"user_id": {"type": "string"}, "app_metadata": ANY_OBJECT, "user_metadata": ANY_OBJECT},
            },
            "actions": {"type": "array", "items": ANY_OBJECT},
            "error": {
                "type": "object", "nullable": True, "required": ["class", "message"],
                "properties": {
                    "class": {"type": "string",
                              "description": "action_error, action_timeout, platform_error or rate_limited"},
                    "action": {"type": "string", "nullable": True},
                    "message": {"type": "string"},
                    "stack": {"type": "string"},
                },
            },
        },
    },
}


def _page_of(key: str, item: str) -> dict[str, Any]:
    return {
        "type": "object", "required": [key, "total", "page", "per_page"],
        "properties": {
            key: {"type": "array", "items": ref(item)} if item else {"type": "array", "maxItems": 0},
            "total": {"type": "integer", "minimum": 0},
            "page": {"type": "integer", "minimum": 0},
            "per_page": {"type": "integer", "minimum": 1},
        },
    }


SCHEMAS["ActionsPage"] = _page_of("actions", "Action")
SCHEMAS["VersionsPage"] = _page_of("versions", "ActionVersion")
SCHEMAS["BindingsPage"] = _page_of("bindings", "Binding")
SCHEMAS["ModulesPage"] = _page_of("modules", "")


def _listing(key: str, item: dict[str, Any], extra: tuple[str, ...] = ()) -> dict[str, Any]:
    """Auth0's list answer: an array, or with include_totals=true an object with the page's place."""
    fields = {"start": {"type": "integer", "minimum": 0}, "limit": {"type": "integer", "minimum": 1},
              "total": {"type": "integer", "minimum": 0}, **{name: {"type": "integer", "minimum": 0} for name in extra}}
    return {"oneOf": [
        {"type": "array", "items": item},
        {"type": "object", "required": [key, "start", "limit", "total"],
         "properties": {key: {"type": "array", "items": item}, **fields}},
    ]}


NOT_BLANK = r"\S"
SCOPE_LIST = {"type": "array", "items": {"type": "string", "enum": list(SCOPES)}}
SCHEMAS.update({
    "OAuthError": {
        "type": "object", "required": ["error", "error_description"],
        "description": "Errors of /oauth/token, OAuth's shape with Auth0's texts.",
        "properties": {"error": {"type": "string", "enum": ["invalid_request", "invalid_client", "invalid_scope",
                                                            "access_denied", "unsupported_grant_type"]},
                       "error_description": {"type": "string"}},
    },
    "TokenRequest": {
        "type": "object", "required": ["grant_type"],
        "description": "The client credentials go in the body or as HTTP Basic (not both). `audience` must be "
                       "https://<host>/api/v2/ of the host asked (or one of --token-audience).",
        "properties": {
            "grant_type": {"type": "string", "enum": ["client_credentials"]},
            "client_id": {"type": "string"},
            "client_secret": {"type": "string"},
            "audience": {"type": "string"},
            "scope": {"description": "space-separated, or (JSON) an array; a subset of the client's scopes, else all",
                      "oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
        },
    },
    "TokenResponse": {
        "type": "object", "required": ["access_token", "token_type", "expires_in", "scope"],
        "properties": {
            "access_token": {"type": "string", "description": "an RS256 JWT; its keys are at /.well-known/jwks.json"},
            "token_type": {"type": "string", "enum": ["Bearer"]},
            "expires_in": {"type": "integer", "minimum": 1},
            "scope": {"type": "string"},
        },
    },
    "JWKS": {
        "type": "object", "required": ["keys"],
        "properties": {"keys": {"type": "array", "items": {
            "type": "object", "required": ["kty", "kid", "n", "e", "alg", "use"],
            "properties": {"kty": {"type": "string", "enum": ["RSA"]}, "kid": {"type": "string"},
                           "n": {"type": "string"}, "e": {"type": "string"}, "alg": {"type": "string", "enum": ["RS256"]},
                           "use": {"type": "string", "enum": ["sig"]}}}}},
    },
    "Client": {
        "type": "object", "additionalProperties": True,
        "required": ["client_id", "name", "app_type", "grant_types", "scopes", "tenant"],
        "properties": {
            "client_id": {"type": "string"}, "tenant": {"type": "string"}, "name": {"type": "string"},
            "description": {"type": "string"},
            "app_type": {"type": "string", "enum": ["non_interactive"]},
            "grant_types": {"type": "array", "items": {"type": "string", "enum": ["client_credentials"]}},
            "scopes": {**SCOPE_LIST, "description": "actionhost's field: the scopes its tokens may have"},
            "client_secret": {"type": "string", "description": "only in the answer to its creation"},
            "created_at": TIMESTAMP, "updated_at": TIMESTAMP,
        },
    },
    "ClientCreate": {
        "type": "object", "required": ["name"], "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": CLIENT_NAME_MAX, "pattern": NOT_BLANK},
            "description": {"type": "string", "maxLength": CLIENT_DESCRIPTION_MAX},
            "app_type": {"type": "string", "enum": ["non_interactive"]},
            "grant_types": {"type": "array", "items": {"type": "string", "enum": ["client_credentials"]}},
            "scopes": {**SCOPE_LIST, "description": "the scopes its tokens may have (default: none)"},
        },
    },
    "ClientUpdate": {
        "type": "object", "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": CLIENT_NAME_MAX, "pattern": NOT_BLANK},
            "description": {"type": "string", "maxLength": CLIENT_DESCRIPTION_MAX},
            "scopes": SCOPE_LIST,
        },
    },
    "ClientGrant": {
        "type": "object", "required": ["id", "client_id", "audience", "scope"],
        "properties": {"id": {"type": "string"}, "client_id": {"type": "string"}, "audience": {"type": "string"},
                       "scope": {"type": "array", "items": {"type": "string"}}},
    },
    "ClientGrantUpdate": {
        "type": "object", "additionalProperties": False, "properties": {"scope": SCOPE_LIST},
    },
    "Role": {
        "type": "object", "required": ["id", "name", "description"],
        "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "description": {"type": "string"}},
    },
    "RoleCreate": {
        "type": "object", "required": ["name"], "additionalProperties": False,
        "properties": {"name": {"type": "string", "minLength": 1, "maxLength": roles_http.NAME_MAX, "pattern": NOT_BLANK},
                       "description": {"type": "string", "maxLength": roles_http.DESCRIPTION_MAX}},
    },
    "RoleUpdate": {
        "type": "object", "additionalProperties": False,
        "properties": {"name": {"type": "string", "minLength": 1, "maxLength": roles_http.NAME_MAX, "pattern": NOT_BLANK},
                       "description": {"type": "string", "maxLength": roles_http.DESCRIPTION_MAX}},
    },
    "UserRoles": {
        "type": "object", "required": ["roles"],
        "properties": {"roles": {"type": "array", "minItems": 1, "maxItems": roles_http.ROLES_PER_CALL,
                                 "items": {"type": "string", "minLength": 1, "maxLength": roles_http.ROLE_ID_MAX}}},
    },
    "UserFields": {"type": "object", "additionalProperties": True,
                   "description": "A user; with `fields`, only (or all but) those attributes."},
    "LinkRequest": {
        "type": "object", "required": ["provider", "user_id"],
        "description": "The secondary account `{provider}|{user_id}`, which is deleted once linked. `link_with` "
                       "(the secondary's token) is refused: actionhost issues no user tokens.",
        "properties": {
            "provider": {"type": "string", "minLength": 1, "pattern": r"^[^|\x00]+$"},
            "user_id": {"oneOf": [{"type": "string", "minLength": 1, "pattern": NO_NUL_PATTERN}, {"type": "integer"}]},
            "connection_id": {"type": "string"},
        },
    },
    "Identity": {
        "type": "object", "additionalProperties": True, "required": ["provider", "user_id"],
        "properties": {"connection": {"type": "string"}, "provider": {"type": "string"},
                       "user_id": {"oneOf": [{"type": "string"}, {"type": "integer"}]}, "isSocial": {"type": "boolean"},
                       "profileData": ANY_OBJECT},
    },
})
SCHEMAS["ClientsPage"] = _listing("clients", ref("Client"))
SCHEMAS["ClientGrantsPage"] = _listing("client_grants", ref("ClientGrant"))
SCHEMAS["RolesPage"] = _listing("roles", ref("Role"))
SCHEMAS["UsersPage"] = _listing("users", ref("UserFields"), extra=("length",))

# -- responses and parameters ----------------------------------------------------------------

RATE_HEADERS = {
    "X-RateLimit-Limit": {"description": "the tenant's Write-User burst", "schema": {"type": "integer"}},
    "X-RateLimit-Remaining": {"description": "writes left in the bucket", "schema": {"type": "integer"}},
    "X-RateLimit-Reset": {"description": "Unix time (seconds) when a write is allowed again", "schema": {"type": "integer"}},
}


def _error(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"description": description, "content": {"application/json": {"schema": ref("Error")}}}
    if headers:
        out["headers"] = headers
    return out


RESPONSES = {
    "BadRequest": _error("The request is invalid (payload, query or path validation; invalid JSON; "
                         "JSON nested deeper than 64; an undecodable gzip/deflate body)."),
    "Unauthorized": _error("No bearer token, or an unknown one.", {
        "WWW-Authenticate": {"schema": {"type": "string"}, "required": True}}),
    "Forbidden": _error("The token lacks the operation's scope."),
    "NotFound": _error("No such object in this tenant (another tenant's ids answer 404 too)."),
    "Conflict": _error("The name or id is taken."),
    "PayloadTooLarge": _error(f"The body exceeds {_DEFAULTS.max_body} bytes (after decompression)."),
    "UnsupportedMediaType": _error("A body not sent as `application/json` (no charset, or UTF-8), or a "
                                   "Content-Encoding other than identity, gzip or deflate."),
    "TooManyRequests": _error("Over the tenant's Write-User rate limit; retry at X-RateLimit-Reset.",
                              {name: {**h, "required": True} for name, h in RATE_HEADERS.items()}),
    "UriTooLong": _error("The request URL exceeds 8 KiB."),
    "HeaderTooLarge": _error("A request header exceeds 8 KiB."),
}


def _oauth_error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ref("OAuthError")}}}


def _param(name: str, where: str, schema: dict[str, Any], description: str = "", required: bool = False) -> dict[str, Any]:
    out = {"name": name, "in": where, "schema": schema, "required": required or where == "path"}
    if where == "query":
        out["allowEmptyValue"] = True  # an empty value is taken as absent
    if description:
        out["description"] = description
    return out


PAGE = _param("page", "query", {"type": "integer", "minimum": 0, "maximum": 10_000_000}, "page index, from 0")
INCLUDE_TOTALS = _param("include_totals", "query", {"type": "string"},
                        "accepted (any value) for compatibility; totals are always included")


TOTALS = _param("include_totals", "query", {"type": "string"},
                "true: an object with `start`, `limit` and `total` around the page; anything else: the array alone")
CLIENT_ID = _param("id", "path", {"type": "string", "minLength": 1}, "the client's client_id")
GRANT_ID = _param("id", "path", {"type": "string", "minLength": 1}, "the client grant's id (cgr_...)")
ROLE_ID = _param("id", "path", {"type": "string", "minLength": 1}, "the role's id (rol_...)")


def per_page(default: int) -> dict[str, Any]:
    return _param("per_page", "query", {"type": "integer", "minimum": 1, "maximum": 100, "default": default})


ACTION_ID = _param("id", "path", {"type": "string", "minLength": 1}, "the action's id")
VERSION_ID = _param("version_id", "path", {"type": "string", "minLength": 1}, "the version's id")
TRIGGER_ID = _param("trigger_id", "path", {"type": "string", "enum": TRIGGER_IDS}, "the trigger's id")
USER_ID = _param("id", "path", {"type": "string", "minLength": 1, "maxLength": USER_ID_MAX, "pattern": NO_NUL_PATTERN},
                 "the user's id, e.g. auth0|42")


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _body(schema_name: str, required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": ref(schema_name)}}}


def _errors(*codes: int) -> dict[str, Any]:
    names = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 409: "Conflict",
             413: "PayloadTooLarge", 414: "UriTooLong", 415: "UnsupportedMediaType", 429: "TooManyRequests",
             431: "HeaderTooLarge"}
    return {str(code): {"$ref": f"#/components/responses/{names[code]}"} for code in codes}


def op(op_id: str, summary: str, tag: str, scope: str | None, success: dict[str, dict[str, Any]], errors: tuple[int, ...],
       parameters: list[dict[str, Any]] | None = None, body: dict[str, Any] | None = None,
       description: str = "") -> dict[str, Any]:
    """One operation. Every API path may also answer 414/431 (request line and header limits), and
    every authenticated one 401 and 403."""
    codes = set(errors) | {414, 431}
    if scope is not None:
        codes |= {401, 403}
    out: dict[str, Any] = {"operationId": op_id, "summary": summary, "tags": [tag]}
    if description or scope:
        out["description"] = " ".join(x for x in (description, f"Scope: `{scope}`." if scope else "") if x)
    if parameters:
        out["parameters"] = parameters
    if body is not None:
        out["requestBody"] = body
    out["responses"] = {**success, **_errors(*sorted(codes))}
    if scope is None:
        out["security"] = []
    else:
        out["security"] = [{"bearerAuth": []}]
        out["x-required-scopes"] = [scope]
    return out


BODY_ERRORS = (400, 413, 415)


def _token_operation() -> dict[str, Any]:
    """POST /oauth/token: a form or JSON body, and OAuth's error shape instead of Auth0's
    Management API one."""
    form = {**SCHEMAS["TokenRequest"], "properties": {**SCHEMAS["TokenRequest"]["properties"], "scope": {"type": "string"}}}
    out = op("postToken", "Get an access token with the client-credentials grant", "oauth", None,
             {"200": {**_json(ref("TokenResponse"), "the token"),
                      "headers": {"Cache-Control": {"schema": {"type": "string", "enum": ["no-store"]}}}}}, (),
             body={"required": True, "content": {"application/x-www-form-urlencoded": {"schema": form},
                                                 "application/json": {"schema": ref("TokenRequest")}}},
             description="Not authenticated by a bearer token: by the client's credentials.")
    out["responses"].update({
        "400": _oauth_error("invalid_request (a missing or repeated parameter, a body that does not parse) or "
                            "invalid_scope"),
        "401": _oauth_error("access_denied `Unauthorized`: an unknown client or a wrong secret; invalid_client: no "
                            "secret, or malformed Basic credentials"),
        "403": _oauth_error("access_denied: no or an unknown audience (`Service not found: ...`), scopes the "
                            "client was not granted; unsupported_grant_type"),
        "413": _oauth_error(f"The body exceeds {TOKEN_BODY_MAX} bytes."),
        "415": _oauth_error("A Content-Encoding other than identity."),
    })
    return out


def paths() -> dict[str, Any]:
    return {
        "/healthz": {"get": op(
            "getHealth", "Liveness: answers once the server can run triggers", "server", None,
            {"200": _json({"type": "object", "required": ["status"], "properties": {"status": {"type": "string", "enum": ["ok"]}}},
                          "the server is up")}, ())},
        "/metrics": {"get": op(
            "getMetrics", "Prometheus metrics of this node (text exposition format)", "server", None,
            {"200": {"description": "the metrics", "content": {"text/plain": {"schema": {"type": "string"}}}}}, ())},
        "/api/v2/openapi.json": {"get": op(
            "getOpenApi", "This document", "server", None,
            {"200": _json({"type": "object", "required": ["openapi", "info", "paths"]}, "the OpenAPI 3.0 document")}, ())},
        "/api/v2/actions/types.d.ts": {"get": op(
            "getTypings", "TypeScript declarations of `event` and `api` for editors", "actions", None,
            {"200": {"description": "the declarations (also `actionhost types`)",
                     "content": {"application/typescript": {"schema": {"type": "string"}}}}}, ())},
        "/api/v2/actions/actions": {
            "get": op("getActions", "List actions", "actions", "read:actions",
                      {"200": _json(ref("ActionsPage"), "a page of actions, oldest first")}, (400,),
                      [_param("triggerId", "query", {"type": "string"}, "only actions supporting this trigger"),
                       _param("actionName", "query", {"type": "string"}, "only the action of this name"),
                       _param("deployed", "query", {"type": "boolean"}, "only deployed (true) or never-deployed (false) actions"),
                       PAGE, per_page(50), INCLUDE_TOTALS]),
            "post": op("postAction", "Create an action", "actions", "create:actions",
                       {"201": _json(ref("Action"), "the new action (its code compiled: `status` built or failed)")},
                       (*BODY_ERRORS, 409), body=_body("ActionCreate"),
                       description="With `deploy: true` it is deployed at once (400 if its code fails to build)."),
        },
        "/api/v2/actions/actions/{id}": {
            "parameters": [ACTION_ID],
            "get": op("getAction", "Get an action", "actions", "read:actions",
                      {"200": _json(ref("Action"), "the action")}, (404,)),
            "patch": op("patchAction", "Update an action's draft", "actions", "update:actions",
                        {"200": _json(ref("Action"), "the updated action")}, (*BODY_ERRORS, 404, 409),
                        body=_body("ActionUpdate")),
            "delete": op("deleteAction", "Delete an action", "actions", "delete:actions",
                         {"204": {"description": "deleted"}}, (400, 404),
                         [_param("force", "query", {"type": "boolean"}, "also remove its bindings (else 400 when bound)")]),
        },
        "/api/v2/actions/actions/{id}/deploy": {
            "parameters": [ACTION_ID],
            "post": op("postDeployAction", "Deploy the draft as a new version", "actions", "create:actions",
                       {"200": _json(ref("ActionVersion"), "the new, deployed version")}, (400, 404),
                       description=f"Versions are immutable and numbered; {_LIMITS.versions_kept} are kept. "
                                   "400 when the draft's code failed to build."),
        },
        "/api/v2/actions/actions/{id}/test": {
            "parameters": [ACTION_ID],
            "post": op("postTestAction", "Run the draft on an event; nothing is written", "actions", "create:actions",
                       {"200": _json(ref("TestResult"), "the commands, logs and timings of the run")},
                       (*BODY_ERRORS, 404), body=_body("TestRequest")),
        },
        "/api/v2/actions/actions/{id}/versions": {
            "parameters": [ACTION_ID],
            "get": op("getActionVersions", "List an action's versions", "actions", "read:actions",
                      {"200": _json(ref("VersionsPage"), "a page of versions, newest first")}, (400, 404),
                      [PAGE, per_page(50), INCLUDE_TOTALS]),
        },
        "/api/v2/actions/actions/{id}/versions/{version_id}": {
            "parameters": [ACTION_ID, VERSION_ID],
            "get": op("getActionVersion", "Get a version", "actions", "read:actions",
                      {"200": _json(ref("ActionVersion"), "the version")}, (404,)),
        },
        "/api/v2/actions/actions/{id}/versions/{version_id}/deploy": {
            "parameters": [ACTION_ID, VERSION_ID],
            "post": op("postDeployDraftVersion", "Roll back: deploy a copy of an earlier version", "actions",
                       "create:actions", {"200": _json(ref("ActionVersion"), "the new, deployed version")},
                       (*BODY_ERRORS, 404), body=_body("RollbackRequest", required=False)),
        },
        "/api/v2/actions/triggers": {
            "get": op("getTriggers", "List the triggers", "triggers", "read:actions",
                      {"200": _json({"type": "object", "required": ["triggers"],
                                     "properties": {"triggers": {"type": "array", "items": ref("Trigger")}}},
                                    "the trigger catalogue")}, ()),
        },
        "/api/v2/actions/triggers/{trigger_id}/bindings": {
            "parameters": [TRIGGER_ID],
            "get": op("getBindings", "List a trigger's bindings, in execution order", "triggers", "read:actions",
                      {"200": _json(ref("BindingsPage"), "a page of bindings")}, (400, 404),
                      [PAGE, per_page(20), INCLUDE_TOTALS]),
            "patch": op("patchBindings", "Replace a trigger's bindings", "triggers", "update:actions",
                        {"200": _json({"type": "object", "required": ["bindings"],
                                       "properties": {"bindings": {"type": "array", "items": ref("Binding")}}},
                                      "the new bindings")},
                        (*BODY_ERRORS, 404), body=_body("BindingsUpdate")),
        },
        "/api/v2/actions/executions/{id}": {
            "parameters": [_param("id", "path", {"type": "string", "minLength": 1}, "the execution's id")],
            "get": op("getExecution", "Get an execution (kept 10 days)", "executions", "read:actions",
                      {"200": _json(ref("Execution"), "the execution")}, (404,)),
        },
        "/api/v2/actions/modules": {
            "get": op("getActionModules", "List shared action modules (actionhost has none)", "modules", "read:actions",
                      {"200": _json(ref("ModulesPage"), "always empty")}, (400,), [PAGE, per_page(50), INCLUDE_TOTALS]),
        },
        "/api/v2/actions/modules/{id}": {
            "parameters": [_param("id", "path", {"type": "string", "minLength": 1}, "the module's id")],
            "get": op("getActionModule", "Get a shared action module (always 404)", "modules", "read:actions",
                      {"200": _json(ANY_OBJECT, "never: actionhost has no modules")}, (404,)),
        },
        "/api/v2/actions/modules/{id}/versions": {
            "parameters": [_param("id", "path", {"type": "string", "minLength": 1}, "the module's id")],
            "get": op("getActionModuleVersions", "List a module's versions (always 404)", "modules", "read:actions",
                      {"200": _json(ANY_OBJECT, "never: actionhost has no modules")}, (404,)),
        },
        "/api/v2/users": {
            "get": op("getUsers", "List or search users", "users", "read:users",
                      {"200": _json(ref("UsersPage"), "a page of users (oldest first unless `sort`)")}, (400,),
                      [PAGE, per_page(50), TOTALS,
                       _param("q", "query", {"type": "string"},
                              'one exact term of Auth0\'s query syntax: email:"a@example.com" or user_id:"auth0|1"; '
                              "anything else is a 400"),
                       _param("sort", "query", {"type": "string"}, f"FIELD:1 or FIELD:-1, FIELD one of {', '.join(SORTABLE)}"),
                       _param("fields", "query", {"type": "string"}, "comma-separated attributes to include (or exclude)"),
                       _param("include_fields", "query", {"type": "string"}, "false: `fields` are left out instead"),
                       _param("search_engine", "query", {"type": "string"}, "accepted for compatibility (v3 semantics)")]),
            "post": op("postUsers", "Create a user", "users", "create:users",
                       {"201": {**_json(ref("User"), "the new user"), "headers": RATE_HEADERS}},
                       (*BODY_ERRORS, 409, 429), body=_body("UserCreate"),
                       description="Counts against the tenant's Write-User rate limit."),
        },
        "/api/v2/users/{id}": {
            "parameters": [USER_ID],
            "get": op("getUser", "Get a user", "users", "read:users", {"200": _json(ref("User"), "the user")}, (400, 404)),
            "patch": op("patchUser", "Update a user: metadata merged at the top level, null deletes", "users",
                        "update:users", {"200": {**_json(ref("User"), "the updated user"), "headers": RATE_HEADERS}},
                        (*BODY_ERRORS, 404, 429), body=_body("UserUpdate"),
                        description="Counts against the tenant's Write-User rate limit."),
        },
        "/api/v2/users/{id}/identities": {
            "parameters": [USER_ID],
            "post": op("postIdentities", "Link a secondary user account to this user", "users", "update:users",
                       {"201": {**_json({"type": "array", "items": ref("Identity")}, "the primary's identities now"),
                                "headers": RATE_HEADERS}},
                       (*BODY_ERRORS, 404, 429), body=_body("LinkRequest"),
                       description="The secondary's identities move to the end of this user's `identities` (the "
                                   "secondary's profile as `profileData`) and the secondary user is deleted. Counts "
                                   "against the tenant's Write-User rate limit."),
        },
        "/api/v2/users/{id}/roles": {
            "parameters": [USER_ID],
            "get": op("getUserRoles", "List a user's roles", "roles", "read:roles",
                      {"200": _json(ref("RolesPage"), "a page of the user's roles, by name")}, (400, 404),
                      [PAGE, per_page(50), TOTALS]),
            "post": op("postUserRoles", "Assign roles to a user", "roles", "update:users",
                       {"204": {"description": "assigned (post-login sees them in event.authorization.roles)"}},
                       (*BODY_ERRORS, 404), body=_body("UserRoles"),
                       description="All or none: 404 when one of the roles does not exist."),
            "delete": op("deleteUserRoles", "Remove roles from a user", "roles", "update:users",
                         {"204": {"description": "removed"}}, (*BODY_ERRORS, 404), body=_body("UserRoles")),
        },
        "/api/v2/roles": {
            "get": op("getRoles", "List roles", "roles", "read:roles",
                      {"200": _json(ref("RolesPage"), "a page of roles, oldest first")}, (400,),
                      [PAGE, per_page(50), TOTALS,
                       _param("name_filter", "query", {"type": "string"}, "only roles whose name contains it (any case)")]),
            "post": op("postRoles", "Create a role", "roles", "create:roles", {"200": _json(ref("Role"), "the new role")},
                       (*BODY_ERRORS, 409), body=_body("RoleCreate")),
        },
        "/api/v2/roles/{id}": {
            "parameters": [ROLE_ID],
            "get": op("getRole", "Get a role", "roles", "read:roles", {"200": _json(ref("Role"), "the role")}, (404,)),
            "patch": op("patchRole", "Rename a role or change its description", "roles", "update:roles",
                        {"200": _json(ref("Role"), "the role")}, (*BODY_ERRORS, 404, 409), body=_body("RoleUpdate")),
            "delete": op("deleteRole", "Delete a role (and its assignments)", "roles", "delete:roles",
                         {"204": {"description": "deleted"}}, (404,)),
        },
        "/api/v2/clients": {
            "get": op("getClients", "List machine clients", "clients", "read:clients",
                      {"200": _json(ref("ClientsPage"), "a page of clients, oldest first")}, (400,),
                      [PAGE, per_page(50), TOTALS]),
            "post": op("postClients", "Create a machine client (client credentials)", "clients", "create:clients",
                       {"201": _json(ref("Client"), "the new client, with its client_secret (shown this once)")},
                       BODY_ERRORS, body=_body("ClientCreate")),
        },
        "/api/v2/clients/{id}": {
            "parameters": [CLIENT_ID],
            "get": op("getClient", "Get a machine client", "clients", "read:clients",
                      {"200": _json(ref("Client"), "the client (never its secret)")}, (404,)),
            "patch": op("patchClient", "Rename a client or change its scopes", "clients", "update:clients",
                        {"200": _json(ref("Client"), "the client")}, (*BODY_ERRORS, 404), body=_body("ClientUpdate"),
                        description="Narrowed scopes apply to tokens already issued too, within seconds."),
            "delete": op("deleteClient", "Delete a machine client", "clients", "delete:clients",
                         {"204": {"description": "deleted; its tokens stop working within seconds"}}, (404,)),
        },
        "/api/v2/client-grants": {
            "get": op("getClientGrants", "List client grants (one per client, for the Management API)", "clients",
                      "read:client_grants", {"200": _json(ref("ClientGrantsPage"), "a page of grants")}, (400,),
                      [PAGE, per_page(50), TOTALS, _param("client_id", "query", {"type": "string"}, "only this client's"),
                       _param("audience", "query", {"type": "string"}, "only grants for this audience")]),
        },
        "/api/v2/client-grants/{id}": {
            "parameters": [GRANT_ID],
            "patch": op("patchClientGrant", "Change the scopes of a client grant", "clients", "update:client_grants",
                        {"200": _json(ref("ClientGrant"), "the grant")}, (*BODY_ERRORS, 404),
                        body=_body("ClientGrantUpdate")),
        },
        "/oauth/token": {"post": _token_operation()},
        "/.well-known/jwks.json": {"get": op(
            "getJwks", "The public keys that verify the access tokens of /oauth/token", "oauth", None,
            {"200": _json(ref("JWKS"), "the JSON Web Key Set")}, ())},
        "/triggers/{trigger_id}/execute": {
            "parameters": [TRIGGER_ID],
            "post": op("executeTrigger", "Run the trigger's flow for a login", "trigger API", "execute:triggers",
                       {"200": _json(ref("TriggerResult"), "the outcome, always in the same shape")},
                       (*BODY_ERRORS, 404), body=_body("ExecuteRequest"),
                       description="The stored profile is the source of truth for metadata; an unknown user "
                                   "is created from the event. One profile write per execution."),
        },
        "/triggers/{trigger_id}/continue": {
            "parameters": [TRIGGER_ID],
            "post": op("continueTrigger", "Resume a redirected flow with its state", "trigger API", "execute:triggers",
                       {"200": _json(ref("TriggerResult"), "the outcome, always in the same shape")},
                       (*BODY_ERRORS, 404), body=_body("ContinueRequest"),
                       description="400 `invalid_state` for a state that is unknown, used or expired."),
        },
    }


def document() -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "actionhost",
            "version": "0.1.0",
            "description": "Auth0-compatible Management API v2 (actions, triggers, bindings, executions, users, "
                           "roles, machine clients), the client-credentials grant (POST /oauth/token) and the "
                           "trigger API of actionhost. Errors are `{statusCode, error, message, errorCode?}` (those "
                           "of /oauth/token `{error, error_description}`).",
        },
        "tags": [{"name": n} for n in ("actions", "triggers", "executions", "modules", "users", "roles", "clients", "oauth",
                                       "trigger API", "server")],
        "paths": paths(),
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http", "scheme": "bearer",
                    "description": "A token of one tenant with scopes: an `ah_` token (`actionhost tokens create "
                                   "--scopes ...`) or an access token of POST /oauth/token. Each operation names "
                                   "the scope it needs in `x-required-scopes`.",
                    "x-scopes": {scope: SCOPE_TEXT[scope] for scope in SCOPES},
                },
            },
            "schemas": SCHEMAS,
            "responses": RESPONSES,
        },
    }


@functools.cache
def document_bytes() -> bytes:
    return orjson.dumps(document())


@routes.get("/api/v2/openapi.json")
async def openapi_json(request: web.Request) -> web.Response:
    return web.Response(body=document_bytes(), content_type="application/json")

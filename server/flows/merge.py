"""Command merge: the commands every action recorded, folded into one outcome. Pure.

Metadata: last write per key wins across the whole flow, null deletes, top level only (a nested
object replaces the stored one). Claims: last write per claim. Scopes: the last add/remove of a
scope decides. The failing action's commands never reach here (the runtime drops them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Outcome:
    app_metadata: dict[str, Any] = field(default_factory=dict)  # patch: None deletes
    user_metadata: dict[str, Any] = field(default_factory=dict)
    id_token_claims: dict[str, Any] = field(default_factory=dict)
    access_token_claims: dict[str, Any] = field(default_factory=dict)
    scopes_add: list[str] = field(default_factory=list)
    scopes_remove: list[str] = field(default_factory=list)
    deny_reason: str | None = None
    redirect_url: str | None = None
    redirect_query: dict[str, str] = field(default_factory=dict)
    multifactor: dict[str, Any] | None = None
    authentication: dict[str, Any] = field(default_factory=dict)
    session: dict[str, Any] = field(default_factory=dict)
    refresh_token: dict[str, Any] = field(default_factory=dict)
    saml_attributes: dict[str, Any] = field(default_factory=dict)
    saml_config: dict[str, Any] = field(default_factory=dict)
    prompt: dict[str, Any] | None = None
    cache_set: dict[str, dict[str, Any]] = field(default_factory=dict)
    cache_delete: list[str] = field(default_factory=list)

    @property
    def has_metadata(self) -> bool:
        return bool(self.app_metadata or self.user_metadata)


def _set_scope(outcome: Outcome, scope: str, add: bool) -> None:
    for bucket in (outcome.scopes_add, outcome.scopes_remove):
        if scope in bucket:
            bucket.remove(scope)
    (outcome.scopes_add if add else outcome.scopes_remove).append(scope)


def _session_part(target: dict[str, Any], name: str, args: list[Any]) -> None:
    if name == "setExpiresAt":
        current = target.get("expires_at")
        target["expires_at"] = args[0] if current is None else min(current, args[0])  # the earliest wins
    elif name == "setIdleExpiresAt":
        current = target.get("idle_expires_at")
        target["idle_expires_at"] = args[0] if current is None else min(current, args[0])
    elif name == "revoke":
        target["revoke"] = {"reason": args[0], **(args[1] if len(args) > 1 and isinstance(args[1], dict) else {})}
    elif name == "setCookieMode":
        target["cookie_mode"] = args[0]
    elif name == "setMetadata":
        meta = target.setdefault("metadata", {})
        meta[args[0]] = args[1]
    elif name == "evictMetadata":
        target["metadata"] = {"__evict__": True}


def merge(actions: list[dict[str, Any]]) -> Outcome:
    """Fold the commands of the actions (in execution order) into one Outcome."""
    out = Outcome()
    for action in actions:
        for command in action.get("commands", ()):
            name, args = command[0], command[1:]
            if name == "user.setAppMetadata":
                out.app_metadata[args[0]] = args[1]
            elif name == "user.setUserMetadata":
                out.user_metadata[args[0]] = args[1]
            elif name == "idToken.setCustomClaim":
                out.id_token_claims[args[0]] = args[1]
            elif name == "accessToken.setCustomClaim":
                out.access_token_claims[args[0]] = args[1]
            elif name == "accessToken.addScope":
                _set_scope(out, args[0], add=True)
            elif name == "accessToken.removeScope":
                _set_scope(out, args[0], add=False)
            elif name == "access.deny":
                out.deny_reason = args[0]
            elif name == "redirect.sendUserTo":
                out.redirect_url, out.redirect_query = args[0], dict(args[1] or {})
            elif name == "multifactor.enable":
                out.multifactor = args[0]
            elif name in ("authentication.challengeWith", "authentication.challengeWithAny"):
                factors = [args[0], *args[1]] if name.endswith("With") else args[0]
                out.authentication["challenge"] = {"factors": factors}
            elif name in ("authentication.enrollWith", "authentication.enrollWithAny"):
                factors = [args[0], *args[1]] if name.endswith("With") else args[0]
                out.authentication["enroll"] = {"factors": factors}
            elif name == "authentication.recordMethod":
                out.authentication["record_method"] = args[0]
            elif name == "authentication.setPrimaryUser":
                out.authentication["primary_user"] = args[0]
            elif name.startswith("session."):
                _session_part(out.session, name.split(".", 1)[1], args)
            elif name.startswith("refreshToken."):
                _session_part(out.refresh_token, name.split(".", 1)[1], args)
            elif name == "samlResponse.setAttribute":
                out.saml_attributes[args[0]] = args[1]
            elif name == "samlResponse.setConfig":
                out.saml_config[args[0]] = args[1]
            elif name == "prompt.render":
                out.prompt = {"id": args[0], **(args[1] if isinstance(args[1], dict) else {})}
            elif name == "cache.set":
                out.cache_set[args[0]] = args[1]
                if args[0] in out.cache_delete:
                    out.cache_delete.remove(args[0])
            elif name == "cache.delete":
                out.cache_set.pop(args[0], None)
                if args[0] not in out.cache_delete:
                    out.cache_delete.append(args[0])
            # transaction.setMetadata is carried whole in the runtime's transaction_metadata
    return out

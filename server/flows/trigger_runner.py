"""Running a trigger: event in, one sandbox round trip, command merge, one profile write,
response out. Also the resumption of a redirected execution at /continue."""

from __future__ import annotations

import asyncio
import itertools
import secrets
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import orjson

from sandbox import PLATFORM_ERROR, Sandbox

from ..errors import APIError, bad_request, not_found
from ..profiles.errors import RateLimited, WriteFailed
from ..profiles.writer import ProfileWriter
from ..timeutil import now_iso
from .action_cache import ActionCache
from .catalogue import trigger
from .execution_log import ExecutionLog
from .flow_cache import FlowCache
from .login_roles import LoginRoles, with_roles
from .merge import Outcome, merge
from .redirect_states import RedirectStates

RATE_LIMITED = "rate_limited"
METADATA_MAX_BYTES = 32 * 1024
STATUS = {"completed": "allowed", "denied": "denied", "redirect": "redirect", "failed": "failed"}


class TriggerRunner:
    def __init__(self, sandbox: Sandbox, flows: FlowCache, writer: ProfileWriter, cache: ActionCache,
                 states: RedirectStates, log: ExecutionLog, budget: float, metrics: Any = None,
                 roles: LoginRoles | None = None) -> None:
        self._sandbox = sandbox
        self._flows = flows
        self._writer = writer
        self._cache = cache
        self._states = states
        self._log = log
        self._budget = budget
        self._metrics = metrics
        self._roles = roles

    # -- entry points ------------------------------------------------------------------

    async def execute(self, tenant: str, trigger_id: str, body: dict[str, Any]) -> dict[str, Any]:
        self._trigger(trigger_id)
        event = body.get("event")
        if not isinstance(event, dict):
            raise bad_request("Payload validation error: 'event' must be an object")
        user = event.get("user")
        if not isinstance(user, dict) or not isinstance(user.get("user_id"), str) or not user["user_id"]:
            raise bad_request("Payload validation error: 'event.user.user_id' is required")
        if len(user["user_id"]) > 256:
            raise bad_request("Payload validation error: 'event.user.user_id' must be at most 256 characters")
        # the tenant is the one the token runs this flow for, never what the caller says it is:
        # actions branch on event.tenant.id, and a caller of one tenant must not pose as another
        event["tenant"] = {"id": tenant}
        deadline = asyncio.get_running_loop().time() + self._budget
        execution_id = new_execution_id()
        stored = await self._load_profile(tenant, event, deadline, execution_id)
        new_user = None
        if isinstance(stored, dict):
            event["user"] = {**user, **stored, "app_metadata": stored.get("app_metadata") or {},
                             "user_metadata": stored.get("user_metadata") or {}}
        elif stored is None:
            # unknown to the store: created from the event, in the same write as this execution's patch
            new_user = _user_from_event(event)
            event["user"] = {**user, "app_metadata": new_user["app_metadata"], "user_metadata": new_user["user_metadata"]}
        if self._roles is not None and not isinstance(stored, tuple):
            try:
                names = await self._roles.of(tenant, user["user_id"])
            except Exception as exc:  # noqa: BLE001 - the store failed: as a profile read that failed
                stored = (PLATFORM_ERROR, f"the user's roles could not be read: {type(exc).__name__}", None)
            else:
                if names is not None:
                    event = with_roles(event, names)
        flow = await self._flows.flow(tenant, trigger_id)
        return await self._run(tenant, trigger_id, execution_id, flow, event, None, Outcome(), deadline,
                               failed_before=stored if isinstance(stored, tuple) else None, new_user=new_user)

    async def resume(self, tenant: str, trigger_id: str, body: dict[str, Any]) -> dict[str, Any]:
        self._trigger(trigger_id)
        state = body.get("state")
        if not isinstance(state, str) or not state or len(state) > 256:
            raise bad_request("Payload validation error: 'state' is required")
        request = body.get("request", {})
        if not isinstance(request, dict):
            raise bad_request("Payload validation error: 'request' must be an object")
        query, form = request.get("query", {}), request.get("body", {})
        if not isinstance(query, dict) or not isinstance(form, dict):
            raise bad_request("Payload validation error: 'request.query' and 'request.body' must be objects")
        reason, record = await self._states.consume(tenant, trigger_id, state)
        if record is None:
            raise APIError(400, reason or "The state is not valid.", "invalid_state")
        saved = record["saved"]
        deadline = asyncio.get_running_loop().time() + self._budget
        event = saved["event"]
        event.setdefault("request", {})
        event["request"]["query"] = {**query, "state": query.get("state", state)}
        event["request"]["body"] = form
        event["tenant"] = {"id": tenant}  # as at /execute (a state saved by an older release kept the caller's)
        stored = await self._load_profile(tenant, event, deadline, record["execution_id"])
        if isinstance(stored, dict):
            event["user"] = {**event["user"], "app_metadata": stored.get("app_metadata") or {},
                             "user_metadata": stored.get("user_metadata") or {}}
        # a flow redeployed while the user was away resumes on the new flow, by position
        flow = await self._flows.flow(tenant, trigger_id)
        earlier = Outcome(**{k: v for k, v in saved["outcome"].items()})
        return await self._run(tenant, trigger_id, record["execution_id"], flow, event, int(record["resume_index"]),
                               earlier, deadline, failed_before=stored if isinstance(stored, tuple) else None,
                               earlier_actions=saved.get("actions", []))

    # -- the run -----------------------------------------------------------------------

    def _trigger(self, trigger_id: str) -> None:
        if trigger(trigger_id) is None:
            raise not_found(f"The trigger '{trigger_id[:64]}' does not exist.", "invalid_trigger")

    async def _load_profile(self, tenant: str, event: dict[str, Any], deadline: float,
                            execution_id: str) -> dict[str, Any] | tuple[str, str, str | None] | None:
        """The stored profile, None when the store does not know the user, or why it could not be
        read: (error class, what the caller is told, what the execution record adds)."""
        try:
            return await self._writer.read(tenant, event["user"]["user_id"], deadline, execution_id=execution_id)
        except RateLimited as exc:
            return RATE_LIMITED, f"the profile could not be read: {exc}", exc.detail
        except WriteFailed as exc:
            return PLATFORM_ERROR, f"the profile could not be read: {exc}", exc.detail

    async def _run(self, tenant: str, trigger_id: str, execution_id: str, flow: Any, event: dict[str, Any],
                   resume_index: int | None, earlier: Outcome, deadline: float,
                   failed_before: tuple[str, str, str | None] | None = None,
                   earlier_actions: list[dict[str, Any]] | None = None, new_user: dict[str, Any] | None = None) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        started = loop.time()
        created_at = now_iso()
        if failed_before is not None:
            response = self._response(execution_id, "failed", earlier, event["user"], [],
                                      {"class": failed_before[0], "action": None, "message": failed_before[1]}, None, None)
            self._record(tenant, trigger_id, execution_id, response, [], created_at, started, detail=failed_before[2])
            return response
        actions_bound = bool(flow.install.get("actions"))
        if actions_bound:
            payload: dict[str, Any] = {"event": event, "cache": await self._cache.snapshot(tenant, trigger_id)}
            if resume_index is not None:
                payload["resume"] = {"index": resume_index}
            result = await self._sandbox.run(tenant, flow, orjson.dumps(payload), budget=max(0.05, deadline - loop.time()))
            data = result.data
        else:
            data = {"status": "completed", "actions": [], "transaction_metadata": (event.get("transaction") or {}).get("metadata", {})}
        actions = data.get("actions", [])
        outcome = merge(actions)
        # a first run has nothing earlier to fold in (merge already keeps scopes consistent)
        combined = outcome if resume_index is None else _combine(earlier, outcome)
        status = STATUS.get(data.get("status", "failed"), "failed")
        error = data.get("error")
        if error is not None:
            error = {"class": error.get("class", PLATFORM_ERROR), "action": error.get("action"), "message": error.get("message", ""),
                     **({"stack": error["stack"]} if error.get("stack") else {})}
        await self._cache.apply(tenant, trigger_id, outcome.cache_set, outcome.cache_delete)

        user = event["user"]
        detail = None  # what the execution record says beyond the caller's error message
        too_big = _metadata_too_big(outcome)
        if too_big:
            status, error = "failed", {"class": "action_error", "action": None, "message": too_big}
        elif outcome.has_metadata or new_user is not None:
            try:
                stored = await self._writer.write(tenant, user["user_id"], outcome.app_metadata, outcome.user_metadata,
                                                  deadline, create=new_user, execution_id=execution_id)
                user = {**user, "app_metadata": stored.get("app_metadata") or {}, "user_metadata": stored.get("user_metadata") or {}}
            except RateLimited as exc:
                status, error = "failed", {"class": RATE_LIMITED, "action": None, "message": str(exc)}
                detail = exc.detail
            except WriteFailed as exc:
                status, error = "failed", {"class": PLATFORM_ERROR, "action": None, "message": f"the profile write failed: {exc}"}
                detail = exc.detail

        redirect = None
        if status == "redirect":
            resume_at = int(data.get("resume_index", 0))
            saved = {"event": event, "outcome": _outcome_dict(combined),
                     "actions": [*(earlier_actions or []), *[_public_action(a) for a in actions]]}
            if combined.prompt is not None and combined.redirect_url is None:
                state = await self._states.save(tenant, trigger_id, execution_id, flow.key, resume_at, saved)
                redirect = {"prompt": combined.prompt, "state": state}
            else:
                state = await self._states.save(tenant, trigger_id, execution_id, flow.key, resume_at, saved)
                redirect = {"url": _with_query(combined.redirect_url or "", {**combined.redirect_query, "state": state})}
        all_actions = [*(earlier_actions or []), *[_public_action(a) for a in actions]]
        response = self._response(execution_id, status, combined, user, all_actions, error, redirect,
                                  data.get("transaction_metadata"))
        self._record(tenant, trigger_id, execution_id, response, actions, created_at, started, detail=detail)
        return response

    def _response(self, execution_id: str, status: str, outcome: Outcome, user: dict[str, Any],
                  actions: list[dict[str, Any]], error: dict[str, Any] | None, redirect: dict[str, Any] | None,
                  transaction_metadata: Any = None) -> dict[str, Any]:
        """The same outcome always has the same shape: every key present, null when unused."""
        return {
            "execution_id": execution_id,
            "status": status,
            "deny": {"reason": outcome.deny_reason} if status == "denied" else None,
            "redirect": redirect,
            "id_token_claims": outcome.id_token_claims,
            "access_token_claims": outcome.access_token_claims,
            "access_token_scopes": {"add": outcome.scopes_add, "remove": outcome.scopes_remove},
            "multifactor": outcome.multifactor,
            "authentication": outcome.authentication,
            "session": outcome.session or None,
            "refresh_token": outcome.refresh_token or None,
            "saml": {"attributes": outcome.saml_attributes, "config": outcome.saml_config}
            if (outcome.saml_attributes or outcome.saml_config) else None,
            "prompt": outcome.prompt,
            "transaction_metadata": transaction_metadata if transaction_metadata is not None else {},
            "user": {"user_id": user.get("user_id"), "app_metadata": user.get("app_metadata") or {},
                     "user_metadata": user.get("user_metadata") or {}},
            "actions": actions,
            "error": error,
        }

    def _record(self, tenant: str, trigger_id: str, execution_id: str, response: dict[str, Any],
                actions: list[dict[str, Any]], created_at: str, started: float | None = None,
                detail: str | None = None) -> None:
        if self._metrics is not None and started is not None:
            error = response.get("error") or {}
            self._metrics.observe(trigger_id, response["status"], error.get("class"),
                                  asyncio.get_running_loop().time() - started)
        results = []
        for a in actions:
            entry: dict[str, Any] = {"action_name": a.get("name"), "status": a.get("status"), "started_at": a.get("started_at"),
                                     "ended_at": a.get("ended_at"), "duration_ms": a.get("duration_ms"), "logs": a.get("logs", "")}
            if a.get("error"):
                entry["error"] = {"id": "action_error" if a.get("status") == "error" else "action_timeout",
                                  "msg": a["error"].get("message", ""), "url": ""}
            egress = a.get("egress")
            if egress:
                entry["egress"] = egress
                if self._metrics is not None:
                    self._metrics.observe_egress(egress)
            results.append(entry)
        status = {"allowed": "final", "denied": "final", "failed": "final", "redirect": "suspended"}[response["status"]]
        record = {"tenant_id": tenant, "id": execution_id, "trigger_id": trigger_id, "status": status,
                  "results": results, "created_at": created_at, "updated_at": now_iso()}
        if response["error"] and not any("error" in r for r in results):
            # a failure no action's result carries (the write, a destroyed isolate); the admin
            # reading the record also gets the details the caller is not told (the store's address)
            message = response["error"]["message"]
            if detail and detail != message:
                message = f"{message} ({detail})"
            record["results"].append({"action_name": response["error"].get("action"), "error": {
                "id": response["error"]["class"], "msg": message, "url": ""}})
        self._log.record(record)


_ID_PREFIX = secrets.token_hex(6)
_id_counter = itertools.count(1)


def new_execution_id() -> str:
    """Unique across nodes and restarts (a random prefix per process, then a counter); cheaper
    than drawing fresh random bytes per execution, which showed in profiles."""
    return f"exec_{_ID_PREFIX}{next(_id_counter):012x}"


def _user_from_event(event: dict[str, Any]) -> dict[str, Any]:
    user = event["user"]
    fresh = {k: v for k, v in user.items() if k not in ("created_at", "updated_at")}
    fresh["app_metadata"] = user.get("app_metadata") if isinstance(user.get("app_metadata"), dict) else {}
    fresh["user_metadata"] = user.get("user_metadata") if isinstance(user.get("user_metadata"), dict) else {}
    connection = event.get("connection")
    fresh["connection"] = (connection.get("name") if isinstance(connection, dict) else None) or "Username-Password-Authentication"
    return fresh


def _combine(earlier: Outcome, later: Outcome) -> Outcome:
    """What the caller is told after a /continue: the commands from before the redirect, then
    the ones after (metadata from before was already written)."""
    out = Outcome(**_outcome_dict(earlier))
    out.app_metadata, out.user_metadata = dict(later.app_metadata), dict(later.user_metadata)
    out.id_token_claims.update(later.id_token_claims)
    out.access_token_claims.update(later.access_token_claims)
    for scope in later.scopes_add:
        if scope in out.scopes_remove:
            out.scopes_remove.remove(scope)
        if scope not in out.scopes_add:
            out.scopes_add.append(scope)
    for scope in later.scopes_remove:
        if scope in out.scopes_add:
            out.scopes_add.remove(scope)
        if scope not in out.scopes_remove:
            out.scopes_remove.append(scope)
    for name in ("deny_reason", "redirect_url", "multifactor", "prompt"):
        if getattr(later, name) is not None:
            setattr(out, name, getattr(later, name))
    if later.redirect_url is not None:
        out.redirect_query = dict(later.redirect_query)
    out.authentication.update(later.authentication)
    out.session.update(later.session)
    out.refresh_token.update(later.refresh_token)
    out.saml_attributes.update(later.saml_attributes)
    out.saml_config.update(later.saml_config)
    out.cache_set, out.cache_delete = later.cache_set, later.cache_delete
    return out


def _outcome_dict(outcome: Outcome) -> dict[str, Any]:
    return orjson.loads(orjson.dumps(outcome.__dict__))


def _metadata_too_big(outcome: Outcome) -> str | None:
    for name, patch in (("app_metadata", outcome.app_metadata), ("user_metadata", outcome.user_metadata)):
        if patch and len(orjson.dumps(patch)) > METADATA_MAX_BYTES:
            return f"the {name} written by this execution exceeds {METADATA_MAX_BYTES // 1024} kB"
    return None


def _public_action(a: dict[str, Any]) -> dict[str, Any]:
    return {"action_name": a.get("name"), "status": a.get("status"), "duration_ms": a.get("duration_ms"),
            "logs": a.get("logs", "")}


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query.update(params)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))

"""What the Management API does with actions: create, update, deploy, roll back, bind, test.
Handlers stay thin and call these; storage is the repository's, V8 is the sandbox's."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson

from sandbox import Flow, Sandbox

from ..errors import APIError, bad_request, conflict, not_found
from ..flows.catalogue import trigger
from ..flows.flow_cache import FlowCache
from ..store.repository import Repository
from ..store.secret_box import SecretBox
from ..store.sqlite import Conflict, NotBuilt
from ..timeutil import now_iso
from . import model
from .builds import DependencyBuilds

ACTION_NOT_FOUND = "That action does not exist."
# how long a deploy of a draft whose dependencies are still installing waits for them
DEPLOY_WAITS_FOR_BUILD = 120.0
VERSION_NOT_FOUND = "That action version does not exist."


class ActionService:
    def __init__(self, repo: Repository, sandbox: Sandbox, secrets: SecretBox, flows: FlowCache,
                 limits: model.Limits, budget: float, builds: DependencyBuilds) -> None:
        self._repo = repo
        self._sandbox = sandbox
        self._secrets = secrets
        self._flows = flows
        self._limits = limits
        self._budget = budget
        self._builds = builds
        # binding changes of one tenant+trigger are applied one at a time, in arrival order
        self._binding_locks: dict[tuple[str, str], asyncio.Lock] = {}

    # -- helpers -----------------------------------------------------------------------

    async def action(self, tenant: str, action_id: str) -> dict[str, Any]:
        action = await self._repo.get_action(tenant, action_id)
        if action is None:
            raise not_found(ACTION_NOT_FOUND)
        return action

    async def render(self, tenant: str, action: dict[str, Any]) -> dict[str, Any]:
        deployed = None
        if action.get("deployed_version_id"):
            deployed = await self._repo.get_version(tenant, action["id"], action["deployed_version_id"])
        return model.render_action(action, deployed)

    def _seal_secrets(self, tenant: str, action_id: str, given: list[dict[str, Any]],
                      stored: list[dict[str, Any]]) -> list[dict[str, Any]]:
        by_name = {s["name"]: s for s in stored}
        out = []
        now = now_iso()
        for item in given:
            if item["value"] is None:
                if item["name"] in by_name:
                    out.append(by_name[item["name"]])
                continue
            out.append({"name": item["name"], "value": self._secrets.seal(item["value"], f"{tenant}/{action_id}/{item['name']}"),
                        "updated_at": now})
        return out

    def open_secrets(self, tenant: str, action_id: str, stored: list[dict[str, Any]]) -> dict[str, str]:
        return {s["name"]: self._secrets.open(s["value"], f"{tenant}/{action_id}/{s['name']}") for s in stored}

    async def _build(self, code: str, dependencies: list[dict[str, str]], tree: dict[str, Any] | None) -> tuple[dict[str, Any], bool]:
        """The draft's build fields after an edit, and whether its dependencies must be
        installed (then it is `pending` until DependencyBuilds stores the outcome). A tree
        built from the same dependencies is kept: a code-only edit installs nothing."""
        errors = await self._sandbox.compile(code)
        kept = tree if DependencyBuilds.reusable(tree, dependencies) else None
        if errors:
            return {"status": "failed", "errors": errors, "built_at": now_iso(), "tree": kept}, False
        if dependencies and kept is None:
            return {"status": "pending", "errors": [], "built_at": None, "tree": None}, True
        return {"status": "built", "errors": [], "built_at": now_iso(), "tree": kept}, False

    # -- actions -----------------------------------------------------------------------

    async def create(self, tenant: str, body: dict[str, Any]) -> dict[str, Any]:
        fields = model.create_input(body, self._limits)
        deploy = fields.pop("deploy")
        given_secrets = fields.pop("secrets")
        build, install = await self._build(fields["code"], fields["dependencies"], None)
        try:
            action = await self._repo.insert_action(tenant, {**fields, **build, "secrets": []})
        except Conflict:
            raise conflict(f"An action with the name '{fields['name']}' already exists.", "action_conflict") from None
        if install:
            self._builds.start(tenant, action["id"], action["code"], action["dependencies"])
        if given_secrets:
            sealed = self._seal_secrets(tenant, action["id"], given_secrets, [])
            action = await self._repo.update_action(tenant, action["id"], {"secrets": sealed})
            assert action is not None
        if deploy:
            await self.deploy(tenant, action["id"])
            action = await self.action(tenant, action["id"])
        return await self.render(tenant, action)

    async def update(self, tenant: str, action_id: str, body: dict[str, Any]) -> dict[str, Any]:
        current = await self.action(tenant, action_id)
        fields = model.update_input(body, current["supported_triggers"][0]["id"], self._limits)
        if "supported_triggers" in fields and fields["supported_triggers"] != current["supported_triggers"]:
            bound = await self._bound_triggers(tenant, action_id)
            if bound:
                raise bad_request("The supported triggers of an action bound to a trigger cannot be changed; unbind it first.")
        if "secrets" in fields:
            fields["secrets"] = self._seal_secrets(tenant, action_id, fields["secrets"], current["secrets"])
        install = False
        if "code" in fields or "dependencies" in fields:
            build, install = await self._build(fields.get("code", current["code"]),
                                               fields.get("dependencies", current["dependencies"]), current["tree"])
            fields.update(build)
        try:
            action = await self._repo.update_action(tenant, action_id, fields)
        except Conflict:
            raise conflict(f"An action with the name '{fields.get('name')}' already exists.", "action_conflict") from None
        if action is None:
            raise not_found(ACTION_NOT_FOUND)
        if install:
            self._builds.start(tenant, action_id, action["code"], action["dependencies"])
        return await self.render(tenant, action)

    async def delete(self, tenant: str, action_id: str, force: bool) -> None:
        triggers = await self._bound_triggers(tenant, action_id)
        outcome = await self._repo.delete_action(tenant, action_id, force)
        if outcome == "missing":
            raise not_found(ACTION_NOT_FOUND)
        if outcome == "bound":
            raise bad_request("This action is bound to a trigger and cannot be deleted. Unbind it first, or delete with force=true.",
                              "action_bound")
        await self._refresh(tenant, triggers)

    async def _refresh(self, tenant: str, trigger_ids: list[str]) -> None:
        """Rebuild the triggers' flows before answering: the change is durable by now, and a
        login that follows the answer at once finds its flow built and its isolate already
        taking the new code, instead of starting both (cold start, README)."""
        await asyncio.gather(*(self._flows.invalidate(tenant, t) for t in trigger_ids))

    async def _bound_triggers(self, tenant: str, action_id: str) -> list[str]:
        out = []
        action = await self._repo.get_action(tenant, action_id)
        if action is None:
            return out
        for t in action["supported_triggers"]:
            if any(b["action"]["id"] == action_id for b in await self._repo.bindings(tenant, t["id"])):
                out.append(t["id"])
        return out

    # -- versions ----------------------------------------------------------------------

    async def deploy(self, tenant: str, action_id: str) -> dict[str, Any]:
        # a draft whose dependencies are installing here is deployed once they are (a client
        # that creates and deploys at once need not poll); beyond the wait, it is refused
        await self._builds.wait(tenant, action_id, DEPLOY_WAITS_FOR_BUILD)
        try:
            # the draft is checked and copied in the deploy's own transaction (one store trip,
            # and an edit that lands meanwhile is either all in the version or not at all)
            done = await self._repo.deploy(tenant, action_id, None, self._limits.versions_kept)
        except NotBuilt as exc:
            if exc.status == "pending":
                raise bad_request("The action cannot be deployed yet: its dependencies are still being installed. "
                                  "Deploy it once its status is 'built'.", "action_not_built") from None
            detail = "; ".join(e.get("msg", "") for e in exc.errors) or exc.status
            raise bad_request(f"The action cannot be deployed because its code failed to build: {detail}", "action_not_built") from None
        if done is None:
            raise not_found(ACTION_NOT_FOUND)
        version, action = done
        await self._refresh(tenant, [t["id"] for t in action["supported_triggers"]])
        return model.render_version(version, action)

    async def rollback(self, tenant: str, action_id: str, version_id: str, update_draft: bool) -> dict[str, Any]:
        await self.action(tenant, action_id)
        source = await self._repo.get_version(tenant, action_id, version_id)
        if source is None:
            raise not_found(VERSION_NOT_FOUND)
        done = await self._repo.deploy(tenant, action_id, source, self._limits.versions_kept, update_draft=update_draft)
        if done is None:
            raise not_found(ACTION_NOT_FOUND)
        version, action = done
        await self._refresh(tenant, [t["id"] for t in action["supported_triggers"]])
        return model.render_version(version, action)

    async def versions(self, tenant: str, action_id: str, page: int, per_page: int) -> tuple[list[dict[str, Any]], int]:
        action = await self.action(tenant, action_id)
        rows, total = await self._repo.list_versions(tenant, action_id, page, per_page)
        return [model.render_version(v, action) for v in rows], total

    async def version(self, tenant: str, action_id: str, version_id: str) -> dict[str, Any]:
        action = await self.action(tenant, action_id)
        version = await self._repo.get_version(tenant, action_id, version_id)
        if version is None:
            raise not_found(VERSION_NOT_FOUND)
        return model.render_version(version, action)

    # -- bindings ----------------------------------------------------------------------

    async def bindings(self, tenant: str, trigger_id: str) -> list[dict[str, Any]]:
        if trigger(trigger_id) is None:
            raise not_found(f"The trigger '{trigger_id[:64]}' does not exist.", "invalid_trigger")
        out = []
        for b in await self._repo.bindings(tenant, trigger_id):
            action = b["action"]
            deployed = await self._repo.get_version(tenant, action["id"], action["deployed_version_id"])
            out.append(model.render_binding(b, action, deployed))
        return out

    async def replace_bindings(self, tenant: str, trigger_id: str, body: dict[str, Any]) -> list[dict[str, Any]]:
        if trigger(trigger_id) is None:
            raise not_found(f"The trigger '{trigger_id[:64]}' does not exist.", "invalid_trigger")
        refs = body.get("bindings")
        if not isinstance(refs, list):
            raise bad_request("Payload validation error: 'bindings' must be a list")
        if len(refs) > self._limits.max_bindings:
            raise bad_request(f"Payload validation error: at most {self._limits.max_bindings} actions can be bound to a trigger",
                              "too_many_bindings")
        lock = self._binding_locks.setdefault((tenant, trigger_id), asyncio.Lock())
        async with lock:
            wanted: list[tuple[str, str]] = []
            for ref in refs:
                action = await self._resolve_ref(tenant, ref)
                if not any(t["id"] == trigger_id for t in action["supported_triggers"]):
                    raise bad_request(f"The action '{action['name']}' does not support the trigger '{trigger_id}'.", "invalid_binding")
                if not action.get("deployed_version_id"):
                    raise bad_request(f"The action '{action['name']}' has not been deployed and cannot be bound.", "action_not_deployed")
                if any(a == action["id"] for a, _ in wanted):
                    raise bad_request(f"The action '{action['name']}' is bound more than once.", "duplicate_binding")
                display = ref.get("display_name", action["name"])
                if not isinstance(display, str) or not display or len(display) > model.NAME_MAX:
                    raise bad_request("Payload validation error: 'display_name' must be a non-empty string")
                wanted.append((action["id"], display))
            await self._repo.replace_bindings(tenant, trigger_id, wanted)
            await self._refresh(tenant, [trigger_id])
            return await self.bindings(tenant, trigger_id)

    async def _resolve_ref(self, tenant: str, item: Any) -> dict[str, Any]:
        if not isinstance(item, dict) or not isinstance(item.get("ref"), dict):
            raise bad_request("Payload validation error: each binding must be {ref: {type, value}, display_name?}")
        ref = item["ref"]
        kind, value = ref.get("type"), ref.get("value")
        if not isinstance(value, str) or not value:
            raise bad_request("Payload validation error: 'ref.value' must be a non-empty string")
        if kind == "action_id":
            action = await self._repo.get_action(tenant, value)
        elif kind == "action_name":
            action = await self._repo.action_by_name(tenant, value)
        elif kind == "binding_id":
            action_id = await self._repo.binding_action(tenant, value)
            action = await self._repo.get_action(tenant, action_id) if action_id else None
        else:
            raise bad_request("Payload validation error: 'ref.type' must be action_id, action_name or binding_id")
        if action is None:
            raise bad_request(f"The action referenced by {kind} '{value[:128]}' does not exist.", "invalid_binding")
        return action

    # -- test --------------------------------------------------------------------------

    async def test(self, tenant: str, action_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Run the draft on the given event through the sandbox; nothing is written."""
        action = await self.action(tenant, action_id)
        payload = body.get("payload")
        if not isinstance(payload, dict):
            raise bad_request("Payload validation error: 'payload' must be an object")
        event = payload.get("event", payload)
        if not isinstance(event, dict):
            raise bad_request("Payload validation error: 'payload.event' must be an object")
        if action["status"] != "built":
            why = ("The action's dependencies are still being installed." if action["status"] == "pending"
                   else "; ".join(e.get("msg", "") for e in action["errors"]))
            return {"payload": {"error": {"id": "build_error", "msg": why}, "commands": [], "logs": "", "stats": {}}}
        secrets = self.open_secrets(tenant, action_id, action["secrets"])
        known = trigger(action["supported_triggers"][0]["id"])
        assert known is not None
        installed: dict[str, Any] = {"name": action["name"], "code": action["code"], "secrets": secrets}
        if action["tree"]:
            installed["packages"] = await self._builds.packages(tenant, action["tree"])
        flow = Flow(f"test:{action_id}:{action['updated_at']}", known.job_kind, {"actions": [installed]})
        started = time.perf_counter()
        result = await self._sandbox.run(tenant, flow, orjson.dumps({"event": event}), budget=self._budget)
        elapsed = (time.perf_counter() - started) * 1000
        self._sandbox.forget(tenant, flow)
        record = result.actions[0] if result.actions else {}
        out: dict[str, Any] = {
            "commands": record.get("commands", []),
            "logs": record.get("logs", ""),
            "status": result.status,
            "stats": {"action_duration_ms": record.get("duration_ms", 0), "total_request_duration_ms": round(elapsed, 3)},
        }
        if result.error:
            out["error"] = {"id": result.error_class, "msg": result.error.get("message", ""), "url": ""}
        return {"payload": out}

"""The flow of each (tenant, trigger): its bound actions' deployed versions, in binding order,
with their secrets opened; built on first use, kept until a deploy or binding change."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

from sandbox import Flow, Sandbox

from ..store.repository import Repository
from .catalogue import trigger


class FlowCache:
    def __init__(self, repo: Repository, sandbox: Sandbox,
                 open_secrets: Callable[[str, str, list[dict[str, Any]]], dict[str, str]],
                 broadcast: Callable[[str, str], Awaitable[None]] | None = None, max_age: float | None = None,
                 packages: Callable[[str, dict[str, Any]], Awaitable[dict[str, Any] | None]] | None = None) -> None:
        self._repo = repo
        self._sandbox = sandbox
        self._open_secrets = open_secrets
        # an action's npm tree -> the manifest its isolate loads packages with (unpacked here
        # from the store first: server/actions/builds.py)
        self._packages = packages
        # several nodes: invalidations are broadcast, and a cached flow is rebuilt after max_age
        # even if a broadcast was lost
        self.broadcast = broadcast
        self.max_age = max_age
        self._flows: dict[tuple[str, str], tuple[Flow, float]] = {}
        self._generation: dict[tuple[str, str], int] = {}
        self._preparing: set[asyncio.Task[None]] = set()
        self._building: dict[tuple[str, str], tuple[int, asyncio.Task[Flow]]] = {}

    async def flow(self, tenant: str, trigger_id: str) -> Flow:
        key = (tenant, trigger_id)
        cached = self._flows.get(key)
        if cached is not None:
            flow, built = cached
            if self.max_age is None or time.monotonic() - built < self.max_age:
                return flow
        generation = self._generation.get(key, 0)
        building = self._building.get(key)
        if building is None or building[0] != generation:
            # one build per flow at a time: the first execution after a deploy waits for the
            # rebuild the deploy started instead of reading the same rows again
            task = asyncio.get_running_loop().create_task(self._build_and_keep(key, generation))
            building = self._building[key] = (generation, task)
            task.add_done_callback(lambda t: self._built(key, t))
        return await asyncio.shield(building[1])

    async def _build_and_keep(self, key: tuple[str, str], generation: int) -> Flow:
        flow = await self._build(*key)
        if self._generation.get(key, 0) == generation:  # no invalidation raced the build
            old = self._flows.get(key)
            self._flows[key] = (flow, time.monotonic())
            if old is not None and old[0].key != flow.key:
                self._sandbox.forget(key[0], old[0])
        return flow

    def _built(self, key: tuple[str, str], task: asyncio.Task[Flow]) -> None:
        if self._building.get(key, (0, None))[1] is task:
            del self._building[key]
        if not task.cancelled():
            task.exception()  # retrieved: every waiter re-raises it from its own await

    async def _build(self, tenant: str, trigger_id: str) -> Flow:
        known = trigger(trigger_id)
        assert known is not None
        actions = []
        versions = []
        for bound in await self._repo.deployed_flow(tenant, trigger_id):
            versions.append(bound["version_id"])
            installed = {
                "name": bound["name"],
                "code": bound["code"],
                "secrets": self._open_secrets(tenant, bound["action_id"], bound["secrets"]),
            }
            if bound.get("tree") and self._packages is not None:
                installed["packages"] = await self._packages(tenant, bound["tree"])
            actions.append(installed)
        digest = hashlib.sha256("\0".join(versions).encode()).hexdigest()[:24]
        return Flow(f"{trigger_id}:{digest}", known.job_kind, {"actions": actions})

    def invalidate(self, tenant: str, trigger_id: str) -> asyncio.Task[None]:
        """After a deploy or binding change here: drop the flow, and tell the other nodes. The
        task returned ends once the flow is rebuilt here and its isolate is starting (it never
        fails: a flow that cannot be built is reported by the execution that needs it)."""
        ready = self.invalidate_local(tenant, trigger_id)
        if self.broadcast is not None:
            asyncio.get_running_loop().create_task(self.broadcast(tenant, trigger_id))
        return ready

    def invalidate_local(self, tenant: str, trigger_id: str) -> asyncio.Task[None]:
        key = (tenant, trigger_id)
        self._generation[key] = self._generation.get(key, 0) + 1
        old = self._flows.pop(key, None)
        if old is not None:
            self._sandbox.forget(tenant, old[0])
        # rebuild the flow and start its isolate now, while the deploy's answer travels, so
        # the first login after a deploy does not pay for either
        task = asyncio.get_running_loop().create_task(self._prepare(tenant, trigger_id))
        self._preparing.add(task)
        task.add_done_callback(self._preparing.discard)
        return task

    async def _prepare(self, tenant: str, trigger_id: str) -> None:
        try:
            flow = await self.flow(tenant, trigger_id)
        except Exception:  # noqa: BLE001 - the first execution rebuilds it and reports the problem
            return
        if flow.install["actions"]:
            self._sandbox.prepare(tenant, flow)

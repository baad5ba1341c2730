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
                 broadcast: Callable[[str, str], Awaitable[None]] | None = None, max_age: float | None = None) -> None:
        self._repo = repo
        self._sandbox = sandbox
        self._open_secrets = open_secrets
        # several nodes: invalidations are broadcast, and a cached flow is rebuilt after max_age
        # even if a broadcast was lost
        self.broadcast = broadcast
        self.max_age = max_age
        self._flows: dict[tuple[str, str], tuple[Flow, float]] = {}
        self._generation: dict[tuple[str, str], int] = {}

    async def flow(self, tenant: str, trigger_id: str) -> Flow:
        key = (tenant, trigger_id)
        cached = self._flows.get(key)
        if cached is not None:
            flow, built = cached
            if self.max_age is None or time.monotonic() - built < self.max_age:
                return flow
        generation = self._generation.get(key, 0)
        flow = await self._build(tenant, trigger_id)
        if self._generation.get(key, 0) == generation:  # no invalidation raced the build
            old = self._flows.get(key)
            self._flows[key] = (flow, time.monotonic())
            if old is not None and old[0].key != flow.key:
                self._sandbox.forget(tenant, old[0])
        return flow

    async def _build(self, tenant: str, trigger_id: str) -> Flow:
        known = trigger(trigger_id)
        assert known is not None
        actions = []
        versions = []
        for binding in await self._repo.bindings(tenant, trigger_id):
            action = binding["action"]
            version = await self._repo.get_version(tenant, action["id"], action["deployed_version_id"])
            if version is None:
                continue
            versions.append(version["id"])
            actions.append({
                "name": action["name"],
                "code": version["code"],
                "secrets": self._open_secrets(tenant, action["id"], version["secrets"]),
            })
        digest = hashlib.sha256("\0".join(versions).encode()).hexdigest()[:24]
        return Flow(f"{trigger_id}:{digest}", known.job_kind, {"actions": actions})

    def invalidate(self, tenant: str, trigger_id: str) -> None:
        """After a deploy or binding change here: drop the flow, and tell the other nodes."""
        self.invalidate_local(tenant, trigger_id)
        if self.broadcast is not None:
            asyncio.get_running_loop().create_task(self.broadcast(tenant, trigger_id))

    def invalidate_local(self, tenant: str, trigger_id: str) -> None:
        key = (tenant, trigger_id)
        self._generation[key] = self._generation.get(key, 0) + 1
        old = self._flows.pop(key, None)
        if old is not None:
            self._sandbox.forget(tenant, old[0])

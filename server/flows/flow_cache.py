"""The flow of each (tenant, trigger): its bound actions' deployed versions, in binding order,
with their secrets opened; built on first use, kept until a deploy or binding change."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from sandbox import Flow, Sandbox

from ..store.repository import Repository
from .catalogue import trigger


class FlowCache:
    def __init__(self, repo: Repository, sandbox: Sandbox,
                 open_secrets: Callable[[str, str, list[dict[str, Any]]], dict[str, str]]) -> None:
        self._repo = repo
        self._sandbox = sandbox
        self._open_secrets = open_secrets
        self._flows: dict[tuple[str, str], Flow] = {}
        self._generation: dict[tuple[str, str], int] = {}

    async def flow(self, tenant: str, trigger_id: str) -> Flow:
        key = (tenant, trigger_id)
        cached = self._flows.get(key)
        if cached is not None:
            return cached
        generation = self._generation.get(key, 0)
        flow = await self._build(tenant, trigger_id)
        if self._generation.get(key, 0) == generation:  # no invalidation raced the build
            self._flows[key] = flow
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
        key = (tenant, trigger_id)
        self._generation[key] = self._generation.get(key, 0) + 1
        old = self._flows.pop(key, None)
        if old is not None:
            self._sandbox.forget(tenant, old)

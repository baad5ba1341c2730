"""V8 sandbox: runs flows of JavaScript modules in supervised executor processes.

Knows nothing of Auth0: a flow is a key plus an install definition handed to the runtime in
runtime_js/, a job is a kind plus a JSON payload, a result is the runtime's JSON answer.

    sandbox = Sandbox(SupervisorSettings(executors=2))
    await sandbox.start()
    result = await sandbox.run("tenant", flow, '{"event": {...}}')
    result.status, result.error_class, result.data
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from .egress import EgressConfig
from .errors import ACTION_ERROR, ACTION_TIMEOUT, ERROR_CLASSES, PLATFORM_ERROR
from .isolate import Limits
from .supervisor import Supervisor, SupervisorSettings

__all__ = [
    "ACTION_ERROR", "ACTION_TIMEOUT", "ERROR_CLASSES", "PLATFORM_ERROR",
    "EgressConfig", "Flow", "Limits", "RunResult", "Sandbox", "SupervisorSettings",
]

DEFAULT_BUDGET = 20.0


@dataclass(frozen=True)
class Flow:
    """What one isolate runs: `key` changes whenever anything in `install` changes."""

    key: str
    kind: str
    install: dict[str, Any] = field(hash=False, compare=False)

    def definition(self) -> dict[str, Any]:
        return {"kind": self.kind, **self.install}


@dataclass(frozen=True)
class RunResult:
    """The runtime's answer for one execution. `status` is the runtime's ("completed",
    "denied", "redirect", "failed"); a failure carries `error_class` and `error`."""

    data: dict[str, Any]

    @property
    def status(self) -> str:
        return self.data.get("status", "failed")

    @property
    def error(self) -> dict[str, Any] | None:
        return self.data.get("error")

    @property
    def error_class(self) -> str | None:
        error = self.error
        return error.get("class") if error else None

    @property
    def actions(self) -> list[dict[str, Any]]:
        return self.data.get("actions", [])

    def json(self) -> bytes:
        return orjson.dumps(self.data)


class Sandbox:
    """The entry point the server uses; owns the supervisor and its executors."""

    def __init__(self, settings: SupervisorSettings | None = None) -> None:
        self.supervisor = Supervisor(settings)

    async def start(self) -> None:
        await self.supervisor.start()

    async def close(self) -> None:
        await self.supervisor.close()

    async def run(self, tenant: str, flow: Flow, payload: str | bytes, budget: float = DEFAULT_BUDGET) -> RunResult:
        text = payload.decode("utf-8") if isinstance(payload, bytes) else payload
        data = await self.supervisor.run(tenant, flow.key, flow.definition(), flow.kind, text, budget)
        return RunResult(data)

    async def compile(self, code: str) -> list[dict[str, str]]:
        """Syntax errors of module `code` as [{id, msg, url}] ([] when it compiles)."""
        return await self.supervisor.compile(code)

    def prepare(self, tenant: str, flow: Flow) -> None:
        """Start the flow's isolate ahead of its first execution (after a deploy)."""
        self.supervisor.prepare(tenant, flow.key, flow.definition())

    def forget(self, tenant: str, flow: Flow | str) -> None:
        """Drop a flow's isolates everywhere (after a deploy or a binding change)."""
        self.supervisor.drop_flow(tenant, flow.key if isinstance(flow, Flow) else flow)

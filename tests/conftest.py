"""Shared fixtures: a real sandbox (executor processes, real V8) and the standard workload."""

from __future__ import annotations

import asyncio
import copy
import itertools
from pathlib import Path
from typing import Any

import orjson
import pytest

from sandbox import Flow, Limits, Sandbox, SupervisorSettings

WORKLOAD = Path(__file__).resolve().parent.parent / "bench" / "workload"
_flow_ids = itertools.count(1)


def workload_actions() -> list[dict[str, Any]]:
    return [
        {"name": path.stem, "code": path.read_text(encoding="utf-8"), "secrets": {}}
        for path in sorted(WORKLOAD.glob("*.js"))
    ]


def workload_event(user_id: str = "42", **user_overrides: Any) -> dict[str, Any]:
    template = (WORKLOAD / "event_template.json").read_text(encoding="utf-8").replace("USERID", user_id)
    event = orjson.loads(template)["event"]
    event["user"].update(user_overrides)
    return event


def make_flow(*codes: str, names: list[str] | None = None, secrets: list[dict[str, str]] | None = None) -> Flow:
    """A post-login flow of the given action sources, under a key no other test uses."""
    actions = []
    for i, code in enumerate(codes):
        name = names[i] if names else f"action_{i + 1}"
        actions.append({"name": name, "code": code, "secrets": secrets[i] if secrets else {}})
    return Flow(f"test-flow-{next(_flow_ids)}", "post-login", {"actions": actions})


def payload(event: dict[str, Any] | None = None, **extra: Any) -> bytes:
    return orjson.dumps({"event": copy.deepcopy(event) if event is not None else workload_event(), **extra})


class LoopWatch:
    """Measures how late the event loop wakes up: the longest stall while it runs."""

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            start = loop.time()
            await asyncio.sleep(self.interval)
            self.worst = max(self.worst, loop.time() - start - self.interval)

    def __enter__(self) -> "LoopWatch":
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


@pytest.fixture
async def sandbox():
    """Two executor processes with test-sized limits."""
    box = Sandbox(SupervisorSettings(
        executors=2,
        limits=Limits(heap_hard=64 * 2**20, heap_soft=32 * 2**20, buffer_budget=32 * 2**20),
        rss_limit=768 * 2**20,
        liveness_timeout=3.0,
    ))
    await box.start()
    try:
        yield box
    finally:
        await box.close()

"""Flow-cache invalidation across nodes: a deploy or binding change on one node is published
on a Redis channel; every node drops its cached flow for that (tenant, trigger)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

CHANNEL = "actionhost:flow-invalidations"
log = logging.getLogger("actionhost.invalidation")


class RedisInvalidation:
    def __init__(self, redis: Any, on_message: Callable[[str, str], None]) -> None:
        self._redis = redis
        self._on_message = on_message
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._listen())
        await asyncio.wait_for(self._subscribed.wait(), 10)

    async def publish(self, tenant: str, trigger_id: str) -> None:
        await self._redis.publish(CHANNEL, f"{tenant}\0{trigger_id}")

    async def _listen(self) -> None:
        while True:
            try:
                pubsub = self._redis.pubsub()
                await pubsub.subscribe(CHANNEL)
                self._subscribed.set()
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    data = message["data"]
                    text = data.decode() if isinstance(data, bytes) else data
                    tenant, _, trigger_id = text.partition("\0")
                    self._on_message(tenant, trigger_id)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - reconnect; cached flows may be stale until then
                log.exception("flow invalidation subscription lost; reconnecting")
                await asyncio.sleep(0.5)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

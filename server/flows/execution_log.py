"""Execution records, written off the hot path: responses enqueue, a background task writes
batches; records older than the retention period are purged.

A batch waits `linger` seconds after its first record before it is written, so that at a
moderate rate the records of many executions share one transaction and one fsync instead of
costing one each (the response never waits for its record, so no login waits on this)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta, timezone
from typing import Any

from ..store.repository import Repository

log = logging.getLogger("actionhost.executions")


class ExecutionLog:
    def __init__(self, repo: Repository, keep_days: int, queue_size: int = 10_000, linger: float = 0.02) -> None:
        self._repo = repo
        self._linger = linger
        self._keep = timedelta(days=keep_days)
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(queue_size)
        self._task: asyncio.Task[None] | None = None
        self._purge_task: asyncio.Task[None] | None = None
        self.dropped = 0

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._drain())
        self._purge_task = asyncio.get_running_loop().create_task(self._purge_forever())

    def record(self, row: dict[str, Any]) -> None:
        try:
            self._queue.put_nowait(row)
        except asyncio.QueueFull:
            self.dropped += 1
            if self.dropped % 1000 == 1:
                log.warning("execution log queue full: %d records dropped so far", self.dropped)

    async def flush(self) -> None:
        await self._queue.join()

    async def _drain(self) -> None:
        while True:
            batch = [await self._queue.get()]
            if self._linger > 0:
                await asyncio.sleep(self._linger)
            while not self._queue.empty() and len(batch) < 500:
                batch.append(self._queue.get_nowait())
            try:
                await self._repo.insert_executions(batch)
            except Exception:  # noqa: BLE001 - a failed batch must not stop later ones
                log.exception("could not store %d execution records", len(batch))
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _purge_forever(self) -> None:
        while True:
            cutoff = datetime.now(timezone.utc) - self._keep
            with contextlib.suppress(Exception):
                await self._repo.purge_executions(cutoff.isoformat(timespec="milliseconds").replace("+00:00", "Z"))
            await asyncio.sleep(3600)

    async def close(self) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._queue.join(), 5)
        for task in (self._task, self._purge_task):
            if task is not None:
                task.cancel()

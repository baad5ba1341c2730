"""The execution log: records written off the hot path, grouped into shared transactions, none
lost. Real SQLite store."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from server.flows.execution_log import ExecutionLog
from server.store.repository import Repository
from server.store.sqlite import SqliteStore


class CountingRepository(Repository):
    """The real repository, noting the size of every batch of execution records it writes."""

    def __init__(self, store: SqliteStore) -> None:
        super().__init__(store)
        self.batches: list[int] = []

    async def insert_executions(self, rows: list[dict[str, Any]]) -> None:
        self.batches.append(len(rows))
        await super().insert_executions(rows)


def _row(i: int) -> dict[str, Any]:
    return {"tenant_id": "acme", "id": f"exec_{i}", "trigger_id": "post-login", "status": "final",
            "results": [{"action_name": "a", "started_at": "2026-12-04T00:00:00.000Z"}],
            "created_at": "2026-12-04T00:00:00.000Z", "updated_at": "2026-12-04T00:00:00.000Z"}


async def _log(tmp_path: Path, linger: float) -> tuple[ExecutionLog, CountingRepository, SqliteStore]:
    store = SqliteStore(tmp_path / "actionhost.db")
    await store.open()
    repo = CountingRepository(store)
    log = ExecutionLog(repo, keep_days=10, linger=linger)
    log.start()
    return log, repo, store


async def test_records_arriving_while_the_first_lingers_share_one_write(tmp_path: Path) -> None:
    log, repo, store = await _log(tmp_path, linger=0.05)
    try:
        log.record(_row(0))
        for _ in range(3):
            await asyncio.sleep(0)  # the writer task has taken the first record and is lingering
        for i in range(1, 40):
            log.record(_row(i))
        await log.flush()
        assert repo.batches == [40]
        for i in (0, 39):
            assert (await repo.get_execution("acme", f"exec_{i}")) is not None
    finally:
        await log.close()
        await store.close()


async def test_without_linger_the_first_record_is_written_alone(tmp_path: Path) -> None:
    log, repo, store = await _log(tmp_path, linger=0)
    try:
        log.record(_row(0))
        for _ in range(3):
            await asyncio.sleep(0)
        for i in range(1, 40):
            log.record(_row(i))
        await log.flush()
        assert repo.batches[0] == 1 and sum(repo.batches) == 40
    finally:
        await log.close()
        await store.close()

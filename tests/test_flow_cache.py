"""The flow cache: one build per flow at a time, and an invalidation is never undone by a
build that started before it. Real SQLite store; no executor is needed (an unstarted sandbox
ignores prepare/forget)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sandbox import Sandbox
from server.flows.flow_cache import FlowCache
from server.store.repository import Repository
from server.store.sqlite import SqliteStore


class CountingRepository(Repository):
    """The real repository, counting how often a flow's rows are read."""

    def __init__(self, store: SqliteStore) -> None:
        super().__init__(store)
        self.flow_reads = 0

    async def deployed_flow(self, tenant: str, trigger_id: str):
        self.flow_reads += 1
        return await super().deployed_flow(tenant, trigger_id)


async def _cache(tmp_path: Path) -> tuple[FlowCache, CountingRepository, SqliteStore]:
    store = SqliteStore(tmp_path / "actionhost.db")
    await store.open()
    repo = CountingRepository(store)
    return FlowCache(repo, Sandbox(), lambda tenant, action_id, sealed: {}), repo, store


async def test_concurrent_first_uses_of_a_flow_read_its_rows_once(tmp_path: Path) -> None:
    cache, repo, store = await _cache(tmp_path)
    try:
        flows = await asyncio.gather(*(cache.flow("acme", "post-login") for _ in range(5)))
        assert repo.flow_reads == 1
        assert all(f is flows[0] for f in flows)
        assert await cache.flow("acme", "post-login") is flows[0]  # cached now
        assert repo.flow_reads == 1
    finally:
        await store.close()


async def test_an_invalidation_during_a_build_makes_the_next_use_build_again(tmp_path: Path) -> None:
    cache, repo, store = await _cache(tmp_path)
    try:
        first = asyncio.ensure_future(cache.flow("acme", "post-login"))
        await asyncio.sleep(0)  # the build has started
        cache.invalidate_local("acme", "post-login")  # also starts the rebuild a deploy wants
        await first
        await cache.flow("acme", "post-login")
        assert repo.flow_reads == 2  # the stale build was not kept; the rebuild was shared
    finally:
        await store.close()


async def test_a_failed_build_is_reported_to_every_waiter_and_not_kept(tmp_path: Path) -> None:
    cache, repo, store = await _cache(tmp_path)
    await store.close()  # reads now fail
    results = await asyncio.gather(*(cache.flow("acme", "post-login") for _ in range(3)), return_exceptions=True)
    assert all(isinstance(r, Exception) for r in results)
    assert repo.flow_reads == 1
    assert not cache._building  # the next use tries again


async def test_an_invalidation_ends_with_the_flow_rebuilt_so_the_next_use_reads_nothing(tmp_path: Path) -> None:
    # a deploy answers after this, so the first login after it does not wait for a store read
    cache, repo, store = await _cache(tmp_path)
    try:
        await cache.flow("acme", "post-login")
        await cache.invalidate("acme", "post-login")
        assert repo.flow_reads == 2
        await cache.flow("acme", "post-login")
        assert repo.flow_reads == 2
    finally:
        await store.close()


async def test_an_invalidation_whose_rebuild_fails_still_ends_quietly(tmp_path: Path) -> None:
    cache, repo, store = await _cache(tmp_path)
    await store.close()  # reads now fail
    assert await cache.invalidate("acme", "post-login") is None  # the execution reports it
    assert repo.flow_reads == 1

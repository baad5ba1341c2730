"""The profile writer: one merge-patch per execution, through the tenant's Write-User rate
limit, retried after a store's 429 (at X-RateLimit-Reset) and on transient failures, for as long
as the execution's time budget lasts.

Never half-applied: the SQLite store merges in one transaction, a remote store in one PATCH.
Never applied twice in effect: the patch holds absolute values (set key, delete key), so a
retry after a lost response rewrites the same values."""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol, TypeVar

from .errors import RateLimited, StoreRateLimited, StoreUnavailable, WriteFailed
from .rate_limit import Decision

MAX_FAILURE_RETRIES = 3
JITTER = 0.05
T = TypeVar("T")  # seconds, so writers held back by one reset do not all come back at once


class ProfileStore(Protocol):
    async def get(self, tenant: str, user_id: str, timeout: float | None = None) -> dict[str, Any] | None: ...
    async def create(self, tenant: str, user: dict[str, Any], timeout: float | None = None) -> dict[str, Any] | None: ...
    async def patch(self, tenant: str, user_id: str, app_patch: dict[str, Any] | None, user_patch: dict[str, Any] | None,
                    root: dict[str, Any] | None = None, timeout: float | None = None) -> dict[str, Any] | None: ...
    async def upsert(self, tenant: str, user: dict[str, Any], app_patch: dict[str, Any] | None,
                     user_patch: dict[str, Any] | None, timeout: float | None = None) -> dict[str, Any]: ...
    atomic_upsert: bool
    # how many writes may wait on the store at once (see ProfileWriter)
    write_concurrency: int


def _pause_after_429(reset: float | None, attempt: int) -> float:
    """How long to wait after the n-th 429 in a row: until X-RateLimit-Reset (Unix seconds) plus
    jitter; a reset that is missing, in the past or not a sane time still waits, backing off
    from 0.25 s, so a store that keeps refusing is not hammered."""
    floor = min(2.0, 0.25 * 2 ** (attempt - 1))
    now = time.time()
    if reset is None or not math.isfinite(reset) or reset > now + 3600:
        return floor + random.uniform(0, JITTER)
    return max(reset - now, 0.0 if attempt == 1 else floor) + random.uniform(0, JITTER)


class WriteLimiter(Protocol):
    async def try_acquire(self, tenant: str) -> Decision: ...


class ProfileWriter:
    def __init__(self, store: ProfileStore, limiter: WriteLimiter, concurrent_writes: int | None = None) -> None:
        self.store = store
        self.limiter = limiter
        # writes queue here, before they take a token: an admitted write goes to the store at
        # once instead of waiting for a connection, so writes cannot bunch up at the store
        # beyond the limit. The store says how many it takes at once: a few for a connection
        # pool or a remote API, a whole group commit for the embedded SQLite writer
        self._slots = asyncio.Semaphore(concurrent_writes or store.write_concurrency)
        self.writes = 0
        self.retries_429 = 0

    async def write(self, tenant: str, user_id: str, app_patch: dict[str, Any], user_patch: dict[str, Any],
                    deadline: float, create: dict[str, Any] | None = None) -> dict[str, Any]:
        """Apply the patch; `deadline` is a loop.time(). With `create`, the user (unknown to the
        store when the execution began) is created from it first, in the same write.
        Raises RateLimited or WriteFailed."""
        if create is not None and not self.store.atomic_upsert:
            # two calls to a remote store; each retried on its own (an existing user is fine)
            created = await self._retrying(lambda remaining: self.store.create(tenant, create, timeout=remaining), deadline)
            if not (app_patch or user_patch):
                return created or create
            create = None
        if create is not None and not (app_patch or user_patch):
            # creating the user is not an action's metadata write: no Write-User token
            return await self._retrying(lambda remaining: self.store.upsert(tenant, create, None, None, timeout=remaining),
                                        deadline)
        async with self._slot(deadline):
            await self._admit(tenant, deadline)
            if create is not None:
                user = await self._retrying(
                    lambda remaining: self.store.upsert(tenant, create, app_patch, user_patch, timeout=remaining), deadline)
            else:
                user = await self._retrying(
                    lambda remaining: self.store.patch(tenant, user_id, app_patch, user_patch, timeout=remaining), deadline)
        if user is None:
            raise WriteFailed("the user no longer exists in the profile store")
        self.writes += 1
        return user

    @contextlib.asynccontextmanager
    async def _slot(self, deadline: float) -> AsyncIterator[None]:
        """One of the write slots, waited for no longer than the execution's budget."""
        remaining = deadline - asyncio.get_running_loop().time()
        try:
            await asyncio.wait_for(self._slots.acquire(), max(0.0, remaining))
        except asyncio.TimeoutError:
            raise RateLimited("the execution budget ran out while waiting for a write slot") from None
        try:
            yield
        finally:
            self._slots.release()

    async def _admit(self, tenant: str, deadline: float) -> None:
        """Take one Write-User token, waiting for one while the budget allows. The token is taken
        right before the write (not reserved for a slot later), so writes delayed by a busy
        loop cannot bunch up beyond the limit at the store."""
        loop = asyncio.get_running_loop()
        while True:
            decision = await self.limiter.try_acquire(tenant)
            if decision.allowed:
                return
            pause = decision.wait + random.uniform(0, decision.wait)  # spread the waiters out
            if loop.time() + decision.wait > deadline:
                raise RateLimited(f"the tenant's write rate limit leaves no room within the execution budget "
                                  f"(next write in {decision.wait:.2f}s)")
            await asyncio.sleep(min(pause, max(0.0, deadline - loop.time())))

    async def read(self, tenant: str, user_id: str, deadline: float) -> dict[str, Any] | None:
        """The stored profile, or None when the store does not know the user."""
        return await self._retrying(lambda remaining: self.store.get(tenant, user_id, timeout=remaining), deadline)

    async def _retrying(self, call: Callable[[float], Awaitable[T]], deadline: float) -> T:
        """`call(remaining_seconds)`, again after a 429 (at its reset) or a transient failure
        (bounded), while the deadline allows."""
        loop = asyncio.get_running_loop()
        failures = 0
        limited = 0
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise RateLimited("the execution budget ran out before the profile store accepted the request")
            try:
                return await call(remaining)
            except StoreRateLimited as exc:
                self.retries_429 += 1
                limited += 1
                pause = _pause_after_429(exc.reset, limited)
                if loop.time() + pause >= deadline:
                    raise RateLimited("the profile store kept answering 429 until the execution budget ran out") from None
                await asyncio.sleep(pause)
            except StoreUnavailable as exc:
                failures += 1
                pause = 0.1 * (2 ** failures) + random.uniform(0, JITTER)
                if failures > MAX_FAILURE_RETRIES or loop.time() + pause >= deadline:
                    raise WriteFailed(str(exc)) from None
                await asyncio.sleep(pause)

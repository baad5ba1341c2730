"""The profile writer: one merge-patch per execution, through the tenant's Write-User rate
limit, retried after a store's 429 (when it asks) and on transient failures, for as long as the
execution's time budget lasts; each failed or retried store call logged and counted.

Never half-applied: the SQLite store merges in one transaction, a remote store in one PATCH.
Never applied twice in effect: the patch holds absolute values (set key, delete key), so a
retry after a lost response rewrites the same values.

Never starving another tenant: writes reach the store through a few shared slots (write_slots.py),
handed out round robin per tenant, and no wait (the Write-User limit, a 429's reset, a backoff)
is spent holding one; a tenant's writes waiting for its Write-User tokens queue behind each other
instead of each polling the limiter."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any, Protocol, TypeVar

import orjson

from .errors import RateLimited, StoreCallFailed, StoreRateLimited, WriteFailed
from .rate_limit import Decision
from .retry_policy import FLOOR, MAX_FAILURE_RETRIES, pause_after_failure, pause_after_rate_limit
from .write_slots import FairSlots

T = TypeVar("T")
log = logging.getLogger("actionhost.profile_store")


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


class WriteLimiter(Protocol):
    async def try_acquire(self, tenant: str) -> Decision: ...


def _iso(unix: float) -> str:
    try:
        return datetime.fromtimestamp(unix, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return "a time too far ahead to print"


def _times(n: int) -> str:
    return "once" if n == 1 else f"{n} times in a row"


class ProfileWriter:
    def __init__(self, store: ProfileStore, limiter: WriteLimiter, concurrent_writes: int | None = None) -> None:
        self.store = store
        self.limiter = limiter
        # writes queue here, before they take a token: an admitted write goes to the store at
        # once instead of waiting for a connection, so writes cannot bunch up at the store
        # beyond the limit. The store says how many it takes at once: a few for a connection
        # pool or a remote API, a whole group commit for the embedded SQLite writer
        self.slots = FairSlots(concurrent_writes or store.write_concurrency)
        # per tenant, the writes waiting for a Write-User token queue here, so that one of them
        # at a time asks the limiter (a flood of waiters each polling the bucket cost the front
        # end enough CPU to slow every other tenant's logins)
        self._admission: dict[str, tuple[asyncio.Lock, list[int]]] = {}
        self.writes = 0
        self.retries_429 = 0
        self.calls: Counter[str] = Counter()  # store calls by outcome (ok, rate_limited, timeout, ...)

    async def write(self, tenant: str, user_id: str, app_patch: dict[str, Any], user_patch: dict[str, Any],
                    deadline: float, create: dict[str, Any] | None = None,
                    execution_id: str | None = None) -> dict[str, Any]:
        """Apply the patch; `deadline` is a loop.time(). With `create`, the user (unknown to the
        store when the execution began) is created from it first, in the same write.
        Raises RateLimited or WriteFailed."""
        if create is not None and not self.store.atomic_upsert:
            # two calls to a remote store; each retried on its own (an existing user is fine)
            created = await self._retrying("create", tenant, execution_id, deadline,
                                           lambda remaining: self.store.create(tenant, create, timeout=remaining))
            if not (app_patch or user_patch):
                return created or create
            create = None
        if create is not None and not (app_patch or user_patch):
            # creating the user is not an action's metadata write: no Write-User token
            return await self._retrying("create", tenant, execution_id, deadline,
                                        lambda remaining: self.store.upsert(tenant, create, None, None, timeout=remaining))
        await self._admit(tenant, deadline)  # holding a slot from here
        if create is not None:
            user = await self._retrying(
                "write", tenant, execution_id, deadline,
                lambda remaining: self.store.upsert(tenant, create, app_patch, user_patch, timeout=remaining),
                slotted=True, holding=True)
        else:
            user = await self._retrying(
                "write", tenant, execution_id, deadline,
                lambda remaining: self.store.patch(tenant, user_id, app_patch, user_patch, timeout=remaining),
                slotted=True, holding=True)
        if user is None:
            raise WriteFailed("the user no longer exists in the profile store")
        self.writes += 1
        return user

    async def read(self, tenant: str, user_id: str, deadline: float, execution_id: str | None = None) -> dict[str, Any] | None:
        """The stored profile, or None when the store does not know the user."""
        return await self._retrying("read", tenant, execution_id, deadline,
                                    lambda remaining: self.store.get(tenant, user_id, timeout=remaining))

    async def _slot(self, tenant: str, deadline: float) -> None:
        """One of the write slots (in the tenant's turn), waited for no longer than the budget."""
        remaining = deadline - asyncio.get_running_loop().time()
        if not await self.slots.acquire(tenant, max(0.0, remaining)):
            raise RateLimited("the execution budget ran out while waiting for a write slot")

    async def _admit(self, tenant: str, deadline: float) -> None:
        """Take a slot and one Write-User token, waiting (without the slot, behind the tenant's
        earlier writes) for a token while the budget allows; returns holding the slot. The token is taken right before the write
        (not reserved for a slot later), so writes delayed by a busy loop cannot bunch up
        beyond the limit at the store."""
        loop = asyncio.get_running_loop()
        lock, users = self._admission.setdefault(tenant, (asyncio.Lock(), [0]))
        users[0] += 1
        try:
            try:
                async with asyncio.timeout(max(0.0, deadline - loop.time())):
                    await lock.acquire()
            except TimeoutError:
                raise RateLimited("the tenant's write rate limit leaves no room within the execution budget "
                                  "(the tenant's earlier writes are still waiting for it)") from None
            try:
                while True:
                    await self._slot(tenant, deadline)
                    try:
                        decision = await self.limiter.try_acquire(tenant)
                    except BaseException:
                        self.slots.release(tenant)
                        raise
                    if decision.allowed:
                        return
                    self.slots.release(tenant)  # other tenants' writes go ahead meanwhile
                    if loop.time() + decision.wait > deadline:
                        raise RateLimited(f"the tenant's write rate limit leaves no room within the execution budget "
                                          f"(next write in {decision.wait:.2f}s)")
                    # a little jitter: nodes sharing one bucket (Redis) do not ask at the same instant
                    pause = decision.wait + random.uniform(0, decision.wait / 10)
                    await asyncio.sleep(min(pause, max(0.0, deadline - loop.time())))
            finally:
                lock.release()
        finally:
            users[0] -= 1
            if users[0] == 0:
                del self._admission[tenant]

    async def _retrying(self, call: str, tenant: str, execution_id: str | None, deadline: float,
                        attempt_call: Callable[[float], Awaitable[T]], slotted: bool = False, holding: bool = False) -> T:
        """`attempt_call(remaining_seconds)`, again after a 429 (when the store asks, never sooner
        than the floor) or a transient failure (bounded), while the deadline allows; a refusal
        that will not heal (a redirect, a 4xx, a bad certificate) fails at once. With `slotted`,
        each attempt holds a write slot (`holding`: the first one already does) and no wait does."""
        loop = asyncio.get_running_loop()
        failures = limited = unusable = attempt = 0
        last: StoreCallFailed | None = None
        try:
            while True:
                if deadline - loop.time() <= 0:
                    raise self._out_of_budget(last, limited)
                if slotted and not holding:
                    await self._slot(tenant, deadline)
                    holding = True
                attempt += 1
                try:
                    result = await attempt_call(max(0.001, deadline - loop.time()))
                except StoreCallFailed as exc:
                    self.calls[exc.outcome] += 1
                    last = exc
                    if holding and slotted:
                        self.slots.release(tenant)
                        holding = False
                    if isinstance(exc, StoreRateLimited):
                        limited += 1
                        if exc.wait is None or exc.wait < FLOOR:
                            unusable += 1
                        pause = pause_after_rate_limit(exc.wait, unusable)
                        if loop.time() + pause > deadline:
                            self._log(call, tenant, execution_id, exc, attempt, None)
                            raise RateLimited(self._rate_limited_message(exc, limited, pause), exc.detail) from None
                        self.retries_429 += 1
                        self._log(call, tenant, execution_id, exc, attempt, pause)
                        await asyncio.sleep(pause)
                        continue
                    if not exc.retryable:
                        self._log(call, tenant, execution_id, exc, attempt, None)
                        raise WriteFailed(exc.reason, exc.detail) from None
                    failures += 1
                    pause = pause_after_failure(failures)
                    if failures > MAX_FAILURE_RETRIES or loop.time() + pause >= deadline:
                        self._log(call, tenant, execution_id, exc, attempt, None)
                        raise WriteFailed(exc.reason, exc.detail) from None
                    self._log(call, tenant, execution_id, exc, attempt, pause)
                    await asyncio.sleep(pause)
                    continue
                self.calls["ok"] += 1
                return result
        finally:
            if holding and slotted:
                self.slots.release(tenant)

    @staticmethod
    def _rate_limited_message(exc: StoreRateLimited, limited: int, pause: float) -> str:
        said = f"the profile store answered {exc.status} {_times(limited)}"
        if exc.wait is not None and exc.wait >= FLOOR:
            return (f"{said} and accepts requests again at {_iso(time.time() + exc.wait)} (in {exc.wait:.1f}s), "
                    f"after this execution's budget ends")
        return (f"{said} without saying when it accepts requests again; the next try (in {pause:.2f}s) "
                f"would come after this execution's budget ends")

    @staticmethod
    def _out_of_budget(last: StoreCallFailed | None, limited: int) -> Exception:
        if last is None:
            return RateLimited("the execution budget ran out before the profile store was asked")
        if isinstance(last, StoreRateLimited):
            return RateLimited(f"the execution budget ran out after the profile store answered {last.status} "
                               f"{_times(limited)}", last.detail)
        return WriteFailed(f"{last.reason}, and the execution budget ran out", last.detail)

    def _log(self, call: str, tenant: str, execution_id: str | None, exc: StoreCallFailed, attempt: int,
             wait: float | None) -> None:
        """One structured line per failed store call: retried after `wait` seconds, or given up (None)."""
        fields: dict[str, Any] = {
            "event": "profile_store_call", "call": call, "tenant": tenant, "execution_id": execution_id,
            "outcome": exc.outcome, "status": exc.status, "attempt": attempt,
            "next": "retry" if wait is not None else "give_up", "wait": round(wait, 3) if wait is not None else None,
            "reason": exc.reason, "detail": exc.detail,
        }
        level = logging.WARNING
        if exc.outcome == "unauthorized":
            # not a passing fault: every login fails until an operator fixes the token
            level = logging.ERROR
            fields["configuration_problem"] = ("the profile store refuses ACTIONHOST_PROFILE_STORE_TOKEN: give it "
                                               "read:users update:users create:users, or a token that is valid")
        log.log(level, "%s", orjson.dumps(fields).decode(), extra={"profile_store": fields})

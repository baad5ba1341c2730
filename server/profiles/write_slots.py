"""The write slots in front of a profile store, shared by every tenant and handed out fairly.

A semaphore with one queue per tenant: a freed slot goes to the tenant whose turn it is (round
robin over the tenants with someone waiting; the tenant that frees a slot goes to the back), so a tenant with a hundred writes queued takes one
slot in turn with a tenant that has one, instead of the one waiting behind the hundred. The
writer never sleeps holding a slot (rate-limit waits and backoffs are spent outside), so a
slot is only ever held by a request on its way to the store."""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque


class FairSlots:
    def __init__(self, slots: int) -> None:
        if slots < 1:
            raise ValueError("at least one write slot")
        self.slots = slots
        self._free = slots
        self._waiting: OrderedDict[str, deque[asyncio.Future[None]]] = OrderedDict()
        self.in_use: dict[str, int] = {}  # tenant -> slots held now (for tests and metrics)

    def waiting(self, tenant: str | None = None) -> int:
        if tenant is not None:
            return sum(1 for f in self._waiting.get(tenant, ()) if not f.done())
        return sum(1 for q in self._waiting.values() for f in q if not f.done())

    async def acquire(self, tenant: str, timeout: float) -> bool:
        """Take a slot within `timeout` seconds: True, or False when the time ran out first."""
        if self._free > 0 and not self._waiting:
            self._take(tenant)
            return True
        if timeout <= 0:
            return False
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(tenant, deque()).append(future)
        try:
            async with asyncio.timeout(timeout):
                await future
        except TimeoutError:
            self._give_back(tenant, future)
            return False
        except BaseException:
            self._give_back(tenant, future)
            raise
        return True

    def _give_back(self, tenant: str, future: asyncio.Future[None]) -> None:
        """A waiter that gave up (timed out, cancelled): out of the queue, or, when the slot was
        granted to it in the meantime, the slot passed on."""
        if future.done() and not future.cancelled():
            self.release(tenant)
        else:
            future.cancel()
            self._forget(tenant, future)

    def release(self, tenant: str) -> None:
        held = self.in_use.get(tenant, 0) - 1
        if held > 0:
            self.in_use[tenant] = held
        else:
            self.in_use.pop(tenant, None)
        if tenant in self._waiting:
            self._waiting.move_to_end(tenant)  # its turn just ended: the others' come first
        while self._waiting:
            next_tenant, queue = next(iter(self._waiting.items()))
            while queue and queue[0].done():
                queue.popleft()
            if not queue:
                del self._waiting[next_tenant]
                continue
            future = queue.popleft()
            if queue:
                self._waiting.move_to_end(next_tenant)  # its next waiter goes after the others' turns
            else:
                del self._waiting[next_tenant]
            self.in_use[next_tenant] = self.in_use.get(next_tenant, 0) + 1
            future.set_result(None)
            return
        self._free += 1

    def _take(self, tenant: str) -> None:
        self._free -= 1
        self.in_use[tenant] = self.in_use.get(tenant, 0) + 1

    def _forget(self, tenant: str, future: asyncio.Future[None]) -> None:
        queue = self._waiting.get(tenant)
        if queue is None:
            return
        try:
            queue.remove(future)
        except ValueError:
            pass
        if not queue:
            del self._waiting[tenant]

"""The Write-User rate limit: a token bucket per tenant, in this process (one node). Several
nodes share one through Redis (redis_rate_limit.py), behind the same async methods. With no
limit set (the embedded store's default), NoWriteLimit allows every write."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass


@dataclass
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset: int  # Unix seconds when the next write will be allowed
    wait: float  # seconds until then (0 when allowed)
    unlimited: bool = False  # no limit is set: no X-RateLimit-* headers to pace by

    def headers(self) -> dict[str, str]:
        if self.unlimited:
            return {}
        return {"X-RateLimit-Limit": str(self.limit), "X-RateLimit-Remaining": str(self.remaining),
                "X-RateLimit-Reset": str(self.reset)}


class TokenBucketLimiter:
    def __init__(self, rate: float, burst: int) -> None:
        if rate <= 0 or burst <= 0:
            raise ValueError("the write rate and burst must be positive")
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, tuple[float, float]] = {}  # tenant -> (tokens, at)

    def _refill(self, tenant: str, now: float) -> float:
        tokens, at = self._buckets.get(tenant, (float(self.burst), now))
        return min(float(self.burst), tokens + (now - at) * self.rate)

    async def try_acquire(self, tenant: str) -> Decision:
        """Take one write now if the bucket allows; otherwise say when it will."""
        now = time.monotonic()
        tokens = self._refill(tenant, now)
        if tokens >= 1.0:
            tokens -= 1.0
            self._buckets[tenant] = (tokens, now)
            return Decision(True, self.burst, int(tokens), int(time.time()), 0.0)
        self._buckets[tenant] = (tokens, now)
        wait = (1.0 - tokens) / self.rate
        return Decision(False, self.burst, 0, math.ceil(time.time() + wait), wait)



class NoWriteLimit:
    """Every write allowed: the embedded SQLite store's default, where the limit would protect
    nothing (its group commit is the only bound; a remote store gets a limit by default)."""

    async def try_acquire(self, tenant: str) -> Decision:
        return Decision(True, 0, 0, int(time.time()), 0.0, unlimited=True)

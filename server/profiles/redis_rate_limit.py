"""The Write-User rate limit shared by every node: the same token bucket as rate_limit.py, kept
in Redis and updated by one Lua script (atomic on the Redis server, timed by the Redis clock so
nodes with skewed clocks agree)."""

from __future__ import annotations

import math
import time
from typing import Any

from .rate_limit import Decision

# KEYS[1] bucket; ARGV: rate (tokens/s), burst. Takes one token if there is one.
# Returns {granted, tokens*1000}.
BUCKET_SCRIPT = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil then tokens = burst; at = now end
tokens = math.min(burst, tokens + (now - at) * rate)
local granted = 0
if tokens >= 1 then tokens = tokens - 1; granted = 1 end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 60)
return {granted, math.floor(tokens * 1000)}
"""


class RedisTokenBucketLimiter:
    def __init__(self, redis: Any, rate: float, burst: int, prefix: str = "actionhost:write-user:") -> None:
        if rate <= 0 or burst <= 0:
            raise ValueError("the write rate and burst must be positive")
        self.rate = rate
        self.burst = burst
        self._redis = redis
        self._prefix = prefix
        self._script = redis.register_script(BUCKET_SCRIPT)

    async def try_acquire(self, tenant: str) -> Decision:
        granted, milli = await self._script(keys=[self._prefix + tenant], args=[self.rate, self.burst])
        tokens = int(milli) / 1000.0
        if granted:
            return Decision(True, self.burst, int(tokens), int(time.time()), 0.0)
        wait = (1.0 - tokens) / self.rate
        return Decision(False, self.burst, 0, math.ceil(time.time() + wait), wait)

"""One contract for the Write-User limiters: in-process and Redis behave the same."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import time

import pytest

from server.profiles.rate_limit import TokenBucketLimiter
from server.profiles.redis_rate_limit import RedisTokenBucketLimiter


def _redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(params=["in-process", "redis"])
async def make_limiter(request):
    clients = []

    async def make(rate: float, burst: int):
        if request.param == "in-process":
            return TokenBucketLimiter(rate, burst)
        if not _redis_answers():
            if os.environ.get("CI"):
                pytest.fail("Redis must answer on 127.0.0.1:6379 in CI (.ci/run starts it)")
            pytest.skip("Redis not answering on 127.0.0.1:6379")
        import redis.asyncio as aioredis

        client = aioredis.from_url("redis://127.0.0.1:6379/15")
        clients.append(client)
        return RedisTokenBucketLimiter(client, rate, burst, prefix=f"test-limiter-{secrets.token_hex(6)}:")

    yield make
    for client in clients:
        await client.aclose()


async def test_the_burst_is_granted_then_refused_with_a_reset(make_limiter):
    limiter = await make_limiter(rate=2, burst=3)
    decisions = [await limiter.try_acquire("t") for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    refused = decisions[-1]
    assert refused.remaining == 0 and refused.limit == 3
    assert 0 < refused.wait <= 0.5 + 0.05
    assert refused.reset >= int(time.time())
    assert set(refused.headers()) == {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"}


async def test_tokens_come_back_at_the_rate(make_limiter):
    limiter = await make_limiter(rate=20, burst=1)
    assert (await limiter.try_acquire("t")).allowed
    assert not (await limiter.try_acquire("t")).allowed
    await asyncio.sleep(0.06)
    assert (await limiter.try_acquire("t")).allowed


async def test_tenants_have_their_own_buckets(make_limiter):
    limiter = await make_limiter(rate=1, burst=1)
    assert (await limiter.try_acquire("a")).allowed
    assert not (await limiter.try_acquire("a")).allowed
    assert (await limiter.try_acquire("b")).allowed


async def test_concurrent_takers_never_get_more_than_the_burst(make_limiter):
    limiter = await make_limiter(rate=0.001, burst=25)
    decisions = await asyncio.gather(*(limiter.try_acquire("t") for _ in range(100)))
    assert sum(d.allowed for d in decisions) == 25

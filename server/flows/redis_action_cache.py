"""`api.cache` records shared by every node: one Redis hash per (tenant, trigger), each field a
record {value, expires_at}; the hash expires a day after its last write."""

from __future__ import annotations

import time
from typing import Any

import orjson

from .action_cache import MAX_ENTRIES

HASH_TTL = 24 * 3600 + 60


class RedisActionCache:
    def __init__(self, redis: Any, prefix: str = "actionhost:cache:") -> None:
        self._redis = redis
        self._prefix = prefix

    def _key(self, tenant: str, trigger_id: str) -> str:
        return f"{self._prefix}{tenant}\0{trigger_id}"

    async def snapshot(self, tenant: str, trigger_id: str) -> dict[str, dict[str, Any]]:
        raw = await self._redis.hgetall(self._key(tenant, trigger_id))
        if not raw:
            return {}
        now_ms = time.time() * 1000
        live, expired = {}, []
        for field, value in raw.items():
            key = field.decode() if isinstance(field, bytes) else field
            record = orjson.loads(value)
            if record["expires_at"] > now_ms:
                live[key] = record
            else:
                expired.append(key)
        if expired:
            await self._redis.hdel(self._key(tenant, trigger_id), *expired)
        return live

    async def apply(self, tenant: str, trigger_id: str, sets: dict[str, dict[str, Any]], deletes: list[str]) -> None:
        if not sets and not deletes:
            return
        key = self._key(tenant, trigger_id)
        pipe = self._redis.pipeline(transaction=True)
        if deletes:
            pipe.hdel(key, *deletes)
        if sets:
            pipe.hset(key, mapping={k: orjson.dumps({"value": r["value"], "expires_at": r["expires_at"]}) for k, r in sets.items()})
            pipe.expire(key, HASH_TTL)
        pipe.hlen(key)
        results = await pipe.execute()
        if results[-1] > MAX_ENTRIES * 4:  # the runtime bounds each execution; keep the hash bounded too
            await self._redis.delete(key)

"""`api.cache` records per (tenant, trigger), kept in this process (one node; redis_action_cache.py
shares them across nodes behind the same async methods). The runtime gets a snapshot with the
event and records set/delete commands; they are applied here after the execution."""

from __future__ import annotations

import time
from typing import Any

MAX_ENTRIES = 20


class ActionCache:
    def __init__(self) -> None:
        self._records: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}

    async def snapshot(self, tenant: str, trigger_id: str) -> dict[str, dict[str, Any]]:
        records = self._records.get((tenant, trigger_id))
        if not records:
            return {}
        now_ms = time.time() * 1000
        live = {k: r for k, r in records.items() if r["expires_at"] > now_ms}
        if len(live) != len(records):
            self._records[(tenant, trigger_id)] = live
        return dict(live)

    async def apply(self, tenant: str, trigger_id: str, sets: dict[str, dict[str, Any]], deletes: list[str]) -> None:
        if not sets and not deletes:
            return
        records = self._records.setdefault((tenant, trigger_id), {})
        for key in deletes:
            records.pop(key, None)
        for key, record in sets.items():
            records[key] = {"value": record["value"], "expires_at": record["expires_at"]}
        while len(records) > MAX_ENTRIES:  # the runtime enforces the limit per execution; keep the newest
            records.pop(next(iter(records)))

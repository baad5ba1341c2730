"""Quarantine: a flow that keeps destroying its sandbox (loops V8 cannot interrupt, memory
blow-ups, crashed executors) fails fast, with the reason, until it is redeployed (a new flow
key), instead of costing every other flow on its executor a rebuild again and again."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field



@dataclass
class Record:
    strikes: deque[float] = field(default_factory=deque)
    since: float | None = None
    reason: str = ""


class Quarantine:
    def __init__(self, strikes: int = 3, window: float = 60.0) -> None:
        self.strikes = strikes
        self.window = window
        self._records: dict[tuple[str, str], Record] = {}
        self.total = 0

    def strike(self, tenant: str, flow_key: str, reason: str) -> bool:
        """Count one destroyed sandbox; True when this put the flow in quarantine."""
        now = time.monotonic()
        record = self._records.setdefault((tenant, flow_key), Record())
        if record.since is not None:
            return False
        record.strikes.append(now)
        while record.strikes and record.strikes[0] < now - self.window:
            record.strikes.popleft()
        if len(record.strikes) < self.strikes:
            return False
        record.since = time.time()
        record.reason = reason
        self.total += 1
        return True

    def reason(self, tenant: str, flow_key: str) -> str | None:
        record = self._records.get((tenant, flow_key))
        if record is None or record.since is None:
            return None
        return (f"The flow is quarantined: its sandbox was destroyed {self.strikes} times within "
                f"{self.window:.0f} s (last: {record.reason}). Deploy a new version to release it.")

    def release(self, tenant: str, flow_key: str) -> None:
        self._records.pop((tenant, flow_key), None)

    def listing(self, tenant: str | None = None) -> list[dict[str, object]]:
        return [
            {"tenant": t, "flow": key, "since": record.since, "reason": record.reason}
            for (t, key), record in self._records.items()
            if record.since is not None and (tenant is None or t == tenant)
        ]

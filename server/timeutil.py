"""Timestamps as the Management API writes them: ISO 8601, UTC, milliseconds, 'Z'."""

from __future__ import annotations

import time

# the text of the current second, formatted once per second: every execution stamps a few
# times, and datetime.now().isoformat() showed in the front end's profile
_second = -1
_second_text = ""


def now_iso() -> str:
    global _second, _second_text
    now = time.time()
    second = int(now)
    if second != _second:
        _second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _second = second
    return f"{_second_text}.{int((now - second) * 1000):03d}Z"

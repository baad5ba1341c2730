"""When to ask a profile store again: reading the wait a store asks for from its headers (every
form real stores send), and the pause before each retry. Pure functions of their arguments.

The wait, from `X-RateLimit-Reset` (every value of it, comma-separated or repeated) and from
`Retry-After` on a 429 or 503:
  X-RateLimit-Reset below 10^9       seconds from now (a delta: "2")
  X-RateLimit-Reset 10^9 .. 10^11    Unix seconds (Auth0), fractional or not
  X-RateLimit-Reset 10^11 .. 10^14   Unix milliseconds (13 digits)
  Retry-After: 120                   seconds from now
  Retry-After: Wed, 21 Oct 2026 07:28:00 GMT   an HTTP date (RFC 9110)
  anything else (words, NaN, infinity, 20 digits)   not usable, ignored
Negative values and times already past mean "now". Where several are usable, the latest wins.
Absolute times are read against the store's clock when its `Date` header is off ours by 2 s or
more (Date has one-second resolution, so a smaller offset is indistinguishable from none)."""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from email.utils import parsedate_to_datetime

FLOOR = 0.25  # seconds: no retry comes sooner, whatever the store said
BACKOFF_CAP = 2.0  # the longest pause of the backoff when the store says nothing usable
JITTER = 0.05  # seconds at least, a tenth of the pause at most, so writers do not come back at once
CLOCK_RESOLUTION = 2.0  # a Date off ours by less than this is read as our clock
MAX_FAILURE_RETRIES = 3  # transient failures (5xx, timeouts, lost connections) after the first try


def _numbers(values: Iterable[str]) -> list[float]:
    found = []
    for value in values:
        for part in value.split(","):
            try:
                number = float(part.strip())
            except ValueError:
                continue
            if math.isfinite(number):
                found.append(number)
    return found


def _http_date(value: str) -> float | None:
    try:
        when = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return when.timestamp()


def store_clock_offset(date_header: str | None, now: float) -> float:
    """How far the store's clock is ahead of ours (seconds; 0 when it cannot be told)."""
    if not date_header:
        return 0.0
    store_now = _http_date(date_header)
    if store_now is None:
        return 0.0
    offset = store_now - now
    return offset if abs(offset) >= CLOCK_RESOLUTION else 0.0


def has_rate_limit_headers(status: int, resets: list[str], retry_after: list[str]) -> bool:
    """Whether an answer asks to be waited out like a 429: a 429 always; a 5xx that carries
    X-RateLimit-Reset, or a 503 with Retry-After."""
    return status == 429 or (status >= 500 and bool(resets)) or (status == 503 and bool(retry_after))


def requested_wait(status: int, resets: list[str], retry_after: list[str], date_header: str | None,
                   now: float) -> float | None:
    """Seconds from `now` (Unix time, ours) the store asked us to wait; None when nothing it sent is
    usable. `resets` and `retry_after` are every value of those headers."""
    store_now = now + store_clock_offset(date_header, now)
    waits = []
    for value in _numbers(resets):
        if value < 1e9:
            waits.append(value)  # a delta (a Unix time this small would be in 2001)
        elif value < 1e11:
            waits.append(value - store_now)
        elif value < 1e14:
            waits.append(value / 1000.0 - store_now)
    if status in (429, 503):
        for value in retry_after:
            text = value.strip()
            if not text:
                continue
            if text.isdigit():
                waits.append(float(text))
                continue
            when = _http_date(text)
            if when is not None:
                waits.append(when - store_now)
    if not waits:
        return None
    return max(0.0, max(waits))


def backoff(streak: int) -> float:
    """The pause after the `streak`-th refusal in a row that said nothing usable: 0.25, 0.5, 1, 2, 2 ..."""
    return min(BACKOFF_CAP, FLOOR * 2 ** (max(1, streak) - 1))


def with_jitter(pause: float, rng: random.Random | None = None) -> float:
    return pause + (rng or random).uniform(0, max(JITTER, pause / 10))


def pause_after_rate_limit(wait: float | None, streak: int, rng: random.Random | None = None) -> float:
    """The pause before asking again after a 429: the store's wait when it gave one at or past
    the floor, else the backoff for this streak of refusals without one (a reset that is past,
    now, negative or unreadable); never under the floor; plus jitter."""
    base = wait if wait is not None and wait >= FLOOR else backoff(streak)
    return with_jitter(max(FLOOR, base), rng)


def pause_after_failure(failures: int, rng: random.Random | None = None) -> float:
    """The pause before the retry after the n-th transient failure in a row: 0.2, 0.4, 0.8 s, plus jitter."""
    return with_jitter(0.1 * 2 ** failures, rng)

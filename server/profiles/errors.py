"""What a profile store can answer besides a profile: errors the writer knows how to handle."""

from __future__ import annotations


class StoreRateLimited(Exception):
    """The store answered 429; `reset` is its X-RateLimit-Reset (Unix seconds) when given."""

    def __init__(self, reset: float | None) -> None:
        super().__init__(f"rate limited until {reset}")
        self.reset = reset


class StoreUnavailable(Exception):
    """The store failed (5xx, timeout, refused connection); the write may be retried."""


class RateLimited(Exception):
    """The write could not be made within the execution's budget because of rate limits."""


class WriteFailed(Exception):
    """The store kept failing; nothing was applied by this execution (or the same patch was)."""

"""What a profile store can answer besides a profile: errors the writer knows how to handle.

Each carries two texts: `reason`, stable and generic, which the login service may see (it names
no host, port or library), and `detail`, what an operator needs to fix it (the server's log and
the execution record an admin reads). `str(exc)` is the reason."""

from __future__ import annotations


class StoreCallFailed(Exception):
    """One call to the store did not give an answer the writer can use. `outcome` is the label it
    is counted under in /metrics (`actionhost_profile_store_calls_total{outcome}`); `status` the
    store's HTTP status when it answered."""

    retryable = True

    def __init__(self, reason: str, detail: str | None = None, outcome: str = "unavailable",
                 status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail or reason
        self.outcome = outcome
        self.status = status


class StoreRateLimited(StoreCallFailed):
    """The store answered 429 (or a 5xx carrying rate-limit headers). `wait` is how many seconds
    from now it asked for, read from its headers against its own clock (retry_policy.py); None
    when it said nothing usable."""

    def __init__(self, wait: float | None, status: int = 429, detail: str | None = None) -> None:
        super().__init__(f"profile store rate limited the request (HTTP {status})", detail, "rate_limited", status)
        self.wait = wait


class StoreUnavailable(StoreCallFailed):
    """A failure that may heal within the budget: a 5xx, a timeout, a refused or lost
    connection, an answer too large or not JSON. Retried a bounded number of times."""


class StoreRejected(StoreCallFailed):
    """A failure that will not heal by asking again: a redirect (never followed), a 4xx other
    than 429, a TLS certificate the store's address does not pass. Not retried."""

    retryable = False


class RateLimited(Exception):
    """The write could not be made within the execution's budget because of rate limits."""

    def __init__(self, message: str, detail: str | None = None) -> None:
        super().__init__(message)
        self.detail = detail


class WriteFailed(Exception):
    """The store kept failing, or refused; nothing was applied by this execution (or the same
    patch was)."""

    def __init__(self, message: str, detail: str | None = None) -> None:
        super().__init__(message)
        self.detail = detail

"""The write path to a remote profile store against a store that misbehaves the ways real ones
do (issue 22): never fooled (redirects, huge answers), never starved (one tenant's flood), never
hammering (the floor, backoff, every form of reset), failing clearly and saying so in the log.

The real RemoteProfiles and ProfileWriter, in this process, against a scripted user store on
loopback (test_faults.py's FaultyUserStore, whose script may also hold whole answers). What
the login service sees end to end is in test_profile_store_e2e.py."""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
import re
import ssl
import time
from email.utils import formatdate
from typing import Any

import pytest
from aiohttp import web
from multidict import CIMultiDict
from prometheus_client import CollectorRegistry, generate_latest
from test_faults import FaultyUserStore, seeded_user

from server.profiles.errors import RateLimited, WriteFailed
from server.profiles.rate_limit import TokenBucketLimiter
from server.profiles.remote_profiles import MAX_RESPONSE, RemoteProfiles
from server.profiles.retry_policy import FLOOR, backoff
from server.profiles.write_slots import FairSlots
from server.profiles.writer import ProfileWriter
from server.profiles.writer_metrics import WriterCollector

pytestmark = pytest.mark.timeout(60)

MiB = 1024 * 1024


class ScriptedStore(FaultyUserStore):
    """FaultyUserStore, whose script may also hold answers written out in full: a function of the
    request (sync or async) returning the response to send. Such a request applies nothing."""

    def __init__(self) -> None:
        super().__init__()
        self._answer: Any = None
        self.sent: list[int] = []  # bytes each endless answer got out before the client hung up
        self.seen_in_use: list[tuple[str, dict[str, int]]] = []  # (user, writer.slots.in_use) as requests arrive
        self.writer: ProfileWriter | None = None

    def _mode(self, method: str, user_id: str) -> str:
        mode = super()._mode(method, user_id)
        slots = getattr(self.writer, "slots", None)
        if slots is not None:
            self.seen_in_use.append((user_id, dict(slots.in_use)))
        if callable(mode):
            self._answer = mode
            return "scripted"
        return mode

    async def _fault(self, request: web.Request, method: str, user_id: str) -> tuple[str, web.Response | None]:
        mode, refused = await super()._fault(request, method, user_id)
        if mode == "scripted":
            answer = self._answer(request)
            if inspect.isawaitable(answer):
                answer = await answer
            return mode, answer
        return mode, refused

    def arrivals(self, method: str = "PATCH") -> list[str]:
        """The users of the requests of `method`, in the order they arrived."""
        return [user for _, m, user, _ in self.attempts if m == method]


@pytest.fixture
async def store():
    s = ScriptedStore()
    await s.start()
    yield s
    await s.stop()


@pytest.fixture
async def elsewhere():
    """Another host: where a redirect points."""
    s = ScriptedStore()
    await s.start()
    yield s
    await s.stop()


@pytest.fixture
async def writer_for():
    opened: list[RemoteProfiles] = []

    async def make(store: ScriptedStore | str, limiter: Any = None, slots: int | None = None, **options: Any) -> ProfileWriter:
        remote = RemoteProfiles(store if isinstance(store, str) else store.url, "store-token", **options)
        await remote.open()
        opened.append(remote)
        writer = ProfileWriter(remote, limiter or TokenBucketLimiter(1e6, 1_000_000), slots)
        if isinstance(store, ScriptedStore):
            store.writer = writer
        return writer

    yield make
    for remote in opened:
        await remote.close()


def deadline(seconds: float) -> float:
    return asyncio.get_running_loop().time() + seconds


def gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in zip(times, times[1:])]


def answer(status: int, body: Any = None, **headers: str):
    def respond(request: web.Request) -> web.Response:
        return web.json_response(body if body is not None else {"statusCode": status}, status=status, headers=headers)
    return respond


def refused(status: int = 429, headers: list[tuple[str, str]] | None = None):
    """A 429 (or other status) with exactly these headers, repeats included."""
    def respond(request: web.Request) -> web.Response:
        return web.json_response({"statusCode": status, "error": "Too Many Requests"}, status=status,
                                 headers=CIMultiDict(headers or []))
    return respond


TENANT = "acme"


# -- 1. a 3xx is a failed write, never followed ---------------------------------------------------

@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_a_redirect_from_the_store_is_not_followed_and_fails_the_write_at_once(store, elsewhere, writer_for, status):
    seeded_user(store, "auth0|1")
    seeded_user(elsewhere, "auth0|1")
    store.script["PATCH"] = [answer(status, {}, Location=f"{elsewhere.url}/api/v2/users/auth0%7C1")]
    writer = await writer_for(store)
    with pytest.raises(WriteFailed) as failed:
        await writer.write(TENANT, "auth0|1", {"k": 1}, {}, deadline(5))
    assert f"redirect (HTTP {status})" in str(failed.value) and "not followed" in str(failed.value)
    assert elsewhere.attempts == [] and elsewhere.applied == []  # the metadata went nowhere else
    assert len(store.patch_attempts()) == 1  # not retried: a redirect will not go away in 200 ms
    assert store.users["auth0|1"]["app_metadata"] == {}
    assert elsewhere.url in failed.value.detail  # the operator learns where it pointed


async def test_a_redirected_read_does_not_read_another_hosts_profile(store, elsewhere, writer_for):
    elsewhere.users["auth0|1"] = {"user_id": "auth0|1", "app_metadata": {"role": "admin"}, "user_metadata": {}}
    store.script["GET"] = [answer(302, {}, Location=f"{elsewhere.url}/api/v2/users/auth0%7C1")]
    writer = await writer_for(store)
    with pytest.raises(WriteFailed, match="redirect"):
        await writer.read(TENANT, "auth0|1", deadline(5))
    assert elsewhere.attempts == []


# -- 2. what is read of an answer is capped --------------------------------------------------------

def endless(store: ScriptedStore, declared: int | None = None, total: int = 1024 * MiB):
    """A 200 whose body (1 GiB) is streamed until the client hangs up; with `declared`, it
    says so in Content-Length up front."""
    async def respond(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        if declared is not None:
            response.content_length = declared
        sent = 0
        try:
            await response.prepare(request)
            await response.write(b'{"user_id": "auth0|2", "app_metadata": {}, "user_metadata": {}, "pad": "')
            chunk = b"x" * MiB
            while sent < total:
                await response.write(chunk)
                sent += len(chunk)
        except Exception:  # noqa: BLE001 - the client hung up, as it should
            pass
        finally:
            store.sent.append(sent)
        return response
    return respond


@pytest.mark.parametrize("declared", [None, 1024 * MiB + 80], ids=["streamed", "content-length"])
async def test_an_answer_over_the_cap_is_cut_there_as_a_failed_attempt(store, writer_for, declared):
    seeded_user(store, "auth0|2")
    store.default["PATCH"] = endless(store, declared)
    writer = await writer_for(store)
    with pytest.raises(WriteFailed) as failed:
        await writer.write(TENANT, "auth0|2", {"k": 1}, {}, deadline(10))
    assert str(failed.value) == f"profile store answer too large (over {MAX_RESPONSE} bytes)"
    attempts = len(store.patch_attempts())
    assert 1 <= attempts <= 4  # failed attempts, with the bounded retries of any transient failure
    await asyncio.sleep(0.2)  # the store's handlers notice the hang-up
    # each answer was cut near the cap: what the store got out is the cap plus socket buffers, not a GiB
    assert len(store.sent) == attempts and max(store.sent) <= 32 * MiB, store.sent
    assert writer.calls["too_large"] == attempts


async def test_an_answer_under_the_cap_is_read_whole(store, writer_for):
    big = {"user_id": "auth0|3", "app_metadata": {"pad": "x" * (MAX_RESPONSE // 2)}, "user_metadata": {}}
    store.users["auth0|3"] = big
    writer = await writer_for(store)
    user = await writer.read(TENANT, "auth0|3", deadline(5))
    assert user is not None and len(user["app_metadata"]["pad"]) == MAX_RESPONSE // 2


async def test_the_cap_is_configurable(store, writer_for):
    store.users["auth0|4"] = {"user_id": "auth0|4", "app_metadata": {"pad": "x" * (2 * MiB)}, "user_metadata": {}}
    with pytest.raises(WriteFailed, match="too large"):
        await (await writer_for(store)).read(TENANT, "auth0|4", deadline(5))
    user = await (await writer_for(store, max_response=4 * MiB)).read(TENANT, "auth0|4", deadline(5))
    assert user is not None and len(user["app_metadata"]["pad"]) == 2 * MiB


# -- 3. only 429, 5xx, timeouts and connection errors are retried ---------------------------------

@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 413, 422])
async def test_a_4xx_fails_at_once_with_the_stores_message(store, writer_for, caplog, status):
    seeded_user(store, "auth0|5")
    message = f"Payload validation error: something the store did not like ({status})"
    store.default["PATCH"] = answer(status, {"statusCode": status, "error": "Bad", "message": message})
    if status == 404:
        # a 404 to a PATCH means the user is gone: its own clear failure, not retried either
        store.default["PATCH"] = "ok"
        store.users.clear()
    writer = await writer_for(store)
    with caplog.at_level(logging.WARNING, logger="actionhost.profile_store"):
        with pytest.raises(WriteFailed) as failed:
            await writer.write(TENANT, "auth0|5", {"k": 1}, {}, deadline(10), execution_id="exec_5")
    assert len(store.patch_attempts()) == 1, store.attempts
    if status == 404:
        assert "no longer exists" in str(failed.value)
        return
    if status in (401, 403):
        assert str(failed.value) == f"profile store refused actionhost's credentials (HTTP {status})"
        # an operator must see this one: every login fails until the token is fixed
        errors = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert len(errors) == 1 and "ACTIONHOST_PROFILE_STORE_TOKEN" in errors[0].profile_store["configuration_problem"]
        assert message in failed.value.detail
    else:
        assert str(failed.value) == f"profile store rejected the request (HTTP {status}): {message}"


@pytest.mark.parametrize("mode", ["500", "502", "503", "504", "429", "drop"])
async def test_429_5xx_and_lost_connections_are_retried(store, writer_for, mode):
    seeded_user(store, "auth0|6")
    failing = {"500": "500", "429": "429", "drop": "drop"}.get(mode) or answer(int(mode))
    store.script["PATCH"] = [failing]
    store.reset_header = lambda: None
    writer = await writer_for(store)
    user = await writer.write(TENANT, "auth0|6", {"k": 1}, {}, deadline(10))
    assert user["app_metadata"] == {"k": 1}
    assert len(store.patch_attempts()) == 2


async def test_a_timeout_is_retried(store, writer_for):
    seeded_user(store, "auth0|7")
    store.script["PATCH"] = ["hang"]
    writer = await writer_for(store, timeout=0.5)
    user = await writer.write(TENANT, "auth0|7", {"k": 1}, {}, deadline(10))
    assert user["app_metadata"] == {"k": 1} and len(store.patch_attempts()) == 2
    assert writer.calls["timeout"] == 1


# -- 4. no retry before the floor; backoff without a usable reset ---------------------------------

PAST_RESETS = {
    "past": lambda: str(int(time.time()) - 30),
    "negative": lambda: "-5",
    "fractional past": lambda: f"{time.time() - 0.5:.3f}",
    "fractional, 50 ms ahead": lambda: f"{time.time() + 0.05:.3f}",
    "duplicated": lambda: f"{int(time.time()) - 1}, {int(time.time()) - 1}",
    "zero": lambda: "0",
}


@pytest.mark.parametrize("kind", list(PAST_RESETS))
async def test_a_retry_after_a_429_waits_at_least_the_floor(store, writer_for, kind):
    seeded_user(store, "auth0|8")
    store.script["PATCH"] = ["429"]
    store.reset_header = PAST_RESETS[kind]
    writer = await writer_for(store)
    await writer.write(TENANT, "auth0|8", {"k": 1}, {}, deadline(5))
    (gap,) = gaps(store.patch_attempts())
    assert gap >= FLOOR, f"retried {gap * 1000:.0f} ms after a 429 with a {kind} reset"


async def test_the_same_reset_sent_as_two_headers_is_read_once(store, writer_for):
    seeded_user(store, "auth0|8")
    past = str(int(time.time()) - 1)
    store.script["PATCH"] = [refused(429, [("X-RateLimit-Reset", past), ("X-RateLimit-Reset", past)])]
    writer = await writer_for(store)
    await writer.write(TENANT, "auth0|8", {"k": 1}, {}, deadline(5))
    assert gaps(store.patch_attempts())[0] >= FLOOR


async def test_429s_without_a_usable_reset_back_off_exponentially(store, writer_for):
    seeded_user(store, "auth0|9")
    store.default["PATCH"] = "429"
    store.reset_header = lambda: str(int(time.time()) - 5)
    writer = await writer_for(store)
    with pytest.raises(RateLimited):
        await writer.write(TENANT, "auth0|9", {"k": 1}, {}, deadline(4.5))
    waited = gaps(store.patch_attempts())
    assert len(waited) >= 3, waited
    for n, gap in enumerate(waited, start=1):
        assert gap >= backoff(n), (n, waited)  # 0.25, 0.5, 1, 2 ...
    assert store.applied == []


# -- 5. every form of reset, against the store's clock ---------------------------------------------

def http_date(unix: float) -> str:
    return formatdate(unix, usegmt=True)


async def test_a_store_whose_clock_is_ten_minutes_ahead_is_waited_for_seconds_not_minutes(store, writer_for):
    seeded_user(store, "auth0|10")

    def ahead(request: web.Request) -> web.Response:
        store_now = time.time() + 600
        return web.json_response({"statusCode": 429}, status=429, headers={
            "Date": http_date(store_now), "X-RateLimit-Reset": str(math.ceil(store_now + 2))})

    store.script["PATCH"] = [ahead]
    writer = await writer_for(store)
    user = await writer.write(TENANT, "auth0|10", {"k": 1}, {}, deadline(8))  # read as "wait 602 s", it fails
    assert user["app_metadata"] == {"k": 1}
    assert gaps(store.patch_attempts())[0] >= 1.0  # but it did wait for the store's 2 s


@pytest.mark.parametrize("kind,headers,at_least", [
    ("a delta", lambda: [("X-RateLimit-Reset", "2")], 2.0),
    ("Unix milliseconds", lambda: [("X-RateLimit-Reset", str(int(time.time() * 1000) + 1200))], 1.15),
    ("Retry-After seconds", lambda: [("Retry-After", "1")], 1.0),
    ("Retry-After an HTTP date", lambda: [("Retry-After", http_date(math.ceil(time.time()) + 2))], 1.0),
    ("both: the later", lambda: [("X-RateLimit-Reset", str(math.ceil(time.time()))), ("Retry-After", "2")], 2.0),
])
async def test_every_form_of_reset_is_waited_for(store, writer_for, kind, headers, at_least):
    seeded_user(store, "auth0|11")
    store.script["PATCH"] = [lambda request: refused(429, headers())(request)]
    writer = await writer_for(store)
    user = await writer.write(TENANT, "auth0|11", {"k": 1}, {}, deadline(8))
    assert user["app_metadata"] == {"k": 1}
    (gap,) = gaps(store.patch_attempts())
    assert gap >= at_least, f"{kind}: retried after {gap:.2f}s"


@pytest.mark.parametrize("status,headers", [
    (503, lambda: [("Retry-After", "1")]),
    (500, lambda: [("X-RateLimit-Reset", str(math.ceil(time.time() + 0.5)))]),
])
async def test_a_5xx_with_rate_limit_headers_is_waited_out_like_a_429(store, writer_for, status, headers):
    """Six refusals in a row: as 5xx failures they would exhaust the 3 retries; as rate limits
    they are waited out while the budget lasts."""
    seeded_user(store, "auth0|12")
    store.script["PATCH"] = [lambda request: refused(status, headers())(request)] * 6
    writer = await writer_for(store)
    user = await writer.write(TENANT, "auth0|12", {"k": 1}, {}, deadline(15))
    assert user["app_metadata"] == {"k": 1}
    attempts = store.patch_attempts()
    assert len(attempts) == 7 and min(gaps(attempts)) >= 0.5
    assert writer.calls["rate_limited"] == 6


# -- 6. a wait past the budget fails at once, saying when -----------------------------------------

@pytest.mark.parametrize("headers", [
    lambda: [("X-RateLimit-Reset", str(int(time.time()) + 7200))],
    lambda: [("Retry-After", "7200")],
    lambda: [("X-RateLimit-Reset", str(int(time.time() * 1000) + 7_200_000))],
], ids=["unix-seconds", "retry-after", "unix-ms"])
async def test_a_reset_hours_away_fails_at_once_saying_when(store, writer_for, headers):
    seeded_user(store, "auth0|13")
    store.default["PATCH"] = lambda request: refused(429, headers())(request)
    writer = await writer_for(store)
    with pytest.raises(RateLimited) as failed:
        await writer.write(TENANT, "auth0|13", {"k": 1}, {}, deadline(18.5))
    assert len(store.patch_attempts()) == 1  # not 11 calls over the budget
    message = str(failed.value)
    when = time.strftime("%Y-%m-%dT%H:", time.gmtime(time.time() + 7200))
    assert "answered 429 once" in message and when in message and re.search(r"in 7[12]\d\d\.\ds", message), message


async def test_a_read_refused_for_hours_fails_at_once(store, writer_for):
    store.default["GET"] = lambda request: refused(429, [("Retry-After", "7200")])(request)
    writer = await writer_for(store)
    with pytest.raises(RateLimited, match="in 7200.0s"):
        await writer.read(TENANT, "auth0|14", deadline(10))
    assert len(store.attempts) == 1


# -- 7. one tenant's flood does not delay another's login ------------------------------------------

async def test_a_tenant_waiting_on_its_write_limit_holds_no_slot_another_tenant_needs(store, writer_for):
    """Tenant A is over its Write-User limit with ten writes waiting for tokens; tenant B's one
    write goes to the store next, not after A's waits (2 slots; A's limit 2/s, burst 1)."""
    users = [f"auth0|a{i}" for i in range(11)] + ["auth0|b"]
    for user in users:
        seeded_user(store, user)
    writer = await writer_for(store, limiter=TokenBucketLimiter(2.0, 1), slots=2)
    first = await writer.write("A", "auth0|a0", {"k": 1}, {}, deadline(10))  # A's burst
    assert first["app_metadata"] == {"k": 1}
    flood = [asyncio.create_task(writer.write("A", f"auth0|a{i}", {"k": 1}, {}, deadline(10))) for i in range(1, 11)]
    await asyncio.sleep(0.05)  # A's writes are all waiting for A's tokens now
    await writer.write("B", "auth0|b", {"k": 1}, {}, deadline(10))
    order = store.arrivals()
    assert order.index("auth0|b") == 1, order  # right after A's first, before A's second
    b_arrived_with = dict(store.seen_in_use[[u for u, _ in store.seen_in_use].index("auth0|b")][1])
    assert b_arrived_with.get("A", 0) == 0, b_arrived_with  # A's waits held no slot
    assert sum(not t.done() for t in flood) >= 8  # A is still waiting its turn at its own limit
    for task in flood:
        task.cancel()
    await asyncio.gather(*flood, return_exceptions=True)
    assert writer.slots.in_use == {} and writer.slots.waiting() == 0


class CountingLimiter(TokenBucketLimiter):
    def __init__(self, rate: float, burst: int) -> None:
        super().__init__(rate, burst)
        self.calls = 0

    async def try_acquire(self, tenant: str):
        self.calls += 1
        return await super().try_acquire(tenant)


async def test_a_tenants_writes_waiting_for_tokens_ask_the_limiter_one_at_a_time(store, writer_for):
    """Twenty writes over the limit (10/s): one of them at a time asks the bucket, so the limiter
    is asked about twice per write let through, not by every waiter every few ms."""
    for i in range(20):
        seeded_user(store, f"auth0|a{i}")
    limiter = CountingLimiter(10.0, 1)
    writer = await writer_for(store, limiter=limiter)
    flood = [asyncio.create_task(writer.write("A", f"auth0|a{i}", {"k": 1}, {}, deadline(10))) for i in range(20)]
    while len(store.applied) < 6:
        await asyncio.sleep(0.01)
    for task in flood:
        task.cancel()
    await asyncio.gather(*flood, return_exceptions=True)
    assert limiter.calls <= 2 * len(store.applied) + 3, (limiter.calls, len(store.applied))
    assert writer._admission == {}  # nothing left behind per tenant


async def test_a_tenant_waiting_out_the_stores_429s_holds_no_slot_another_tenant_needs(store, writer_for):
    """The store refuses tenant A's users (429, reset 2 s ahead); A has six writes waiting that
    out. Tenant B's write reaches the store before any of A's retries."""
    for i in range(6):
        seeded_user(store, f"auth0|a{i}")
        store.script[("PATCH", f"auth0|a{i}")] = ["429"]
    seeded_user(store, "auth0|b")
    store.reset_header = lambda: str(math.ceil(time.time() + 2))
    writer = await writer_for(store, slots=2)
    flood = [asyncio.create_task(writer.write("A", f"auth0|a{i}", {"k": 1}, {}, deadline(10))) for i in range(6)]
    while len(store.patch_attempts()) < 6:
        await asyncio.sleep(0.01)  # each of A's writes has had its 429
    await writer.write("B", "auth0|b", {"k": 1}, {}, deadline(10))
    order = store.arrivals()
    assert order.index("auth0|b") == 6, order  # after A's six refusals, before any of A's retries
    assert all(user.startswith("auth0|a") for user in order[:6])
    results = await asyncio.gather(*flood)
    assert all(r["app_metadata"] == {"k": 1} for r in results)  # and A's writes still land, once each
    assert len(store.applied) == 7


async def test_a_freed_slot_goes_round_robin_between_tenants(store, writer_for):
    """One slot; A has five slow writes queued, then B one: B's goes second or third, not sixth."""

    async def slow_ok(request: web.Request) -> web.Response:
        await asyncio.sleep(0.1)
        return web.json_response({"user_id": request.match_info["id"], "app_metadata": {"k": 1}, "user_metadata": {}})

    store.default["PATCH"] = slow_ok
    writer = await writer_for(store, slots=1)
    flood = [asyncio.create_task(writer.write("A", f"auth0|a{i}", {"k": 1}, {}, deadline(10))) for i in range(5)]
    while not (store.arrivals() and writer.slots.waiting("A")):
        await asyncio.sleep(0.005)  # A's first write is in flight, the next one waiting for the slot
    b = asyncio.create_task(writer.write("B", "auth0|b", {"k": 1}, {}, deadline(10)))
    await asyncio.gather(b, *flood)
    order = store.arrivals()
    assert order.index("auth0|b") == 1, order  # the next turn after A's write in flight


async def test_fair_slots_pass_on_a_slot_granted_to_a_waiter_that_gave_up():
    slots = FairSlots(1)
    assert await slots.acquire("A", 1)
    assert not await slots.acquire("B", 0.01)  # timed out: no longer queued
    waiter = asyncio.create_task(slots.acquire("C", 5))
    await asyncio.sleep(0)
    slots.release("A")  # granted to C ...
    waiter.cancel()  # ... which is cancelled before it runs: the slot comes back
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert await slots.acquire("D", 0.01)
    slots.release("D")
    assert slots.in_use == {} and slots.waiting() == 0


# -- 8. the caller sees a generic reason; the operator the details --------------------------------

async def test_an_unreachable_store_is_a_generic_reason_with_the_address_in_the_details(writer_for):
    from conftest import free_port
    port = free_port()
    writer = await writer_for(f"http://127.0.0.1:{port}")
    with pytest.raises(WriteFailed) as failed:
        await writer.write(TENANT, "auth0|15", {"k": 1}, {}, deadline(5))
    assert str(failed.value) == "profile store unreachable"
    assert f"127.0.0.1:{port}" in failed.value.detail
    assert writer.calls["unreachable"] == 4  # the first try and 3 retries: a connection may come back


@pytest.fixture
def tls_store_files(tmp_path):
    from test_deploy_dir import make_certificates
    return make_certificates(tmp_path / "tls")


async def test_a_tls_certificate_failure_is_not_retried(store, writer_for, tls_store_files):
    ca, cert, key = tls_store_files
    handshakes: list[str | None] = []
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda sock, name, ctx: handshakes.append(name)
    seeded_user(store, "auth0|16")
    site = web.TCPSite(store.runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    untrusting = await writer_for(f"https://localhost:{port}")
    with pytest.raises(WriteFailed) as failed:
        await untrusting.write(TENANT, "auth0|16", {"k": 1}, {}, deadline(5))
    assert str(failed.value) == "profile store unreachable (its TLS certificate was not accepted)"
    assert "certificate" in failed.value.detail.lower()
    assert len(handshakes) == 1  # one handshake: a certificate does not heal in 200 ms
    assert store.attempts == []
    # the same store with its CA trusted: the failure was the certificate, nothing else
    trusting = await writer_for(f"https://localhost:{port}", ssl_context=ssl.create_default_context(cafile=str(ca)))
    user = await trusting.write(TENANT, "auth0|16", {"k": 1}, {}, deadline(5))
    assert user["app_metadata"] == {"k": 1}


# -- 9. each failed or retried call is logged and counted -----------------------------------------

async def test_each_failed_or_retried_call_is_logged_and_counted(store, writer_for, caplog):
    seeded_user(store, "auth0|17")
    store.script["PATCH"] = ["500", "429"]
    store.reset_header = lambda: str(int(time.time()) - 1)
    writer = await writer_for(store)
    with caplog.at_level(logging.WARNING, logger="actionhost.profile_store"):
        await writer.write(TENANT, "auth0|17", {"k": 1}, {}, deadline(10), execution_id="exec_17")
    lines = [r.profile_store for r in caplog.records if hasattr(r, "profile_store")]
    assert [(f["tenant"], f["execution_id"], f["call"], f["status"], f["attempt"], f["outcome"], f["next"])
            for f in lines] == [(TENANT, "exec_17", "write", 500, 1, "server_error", "retry"),
                                (TENANT, "exec_17", "write", 429, 2, "rate_limited", "retry")]
    assert all(f["wait"] >= 0.2 for f in lines)
    assert all(r.getMessage().startswith("{") for r in caplog.records)  # one JSON object a line
    registry = CollectorRegistry()
    registry.register(WriterCollector(writer))
    text = generate_latest(registry).decode()
    for outcome, count in (("ok", 1), ("server_error", 1), ("rate_limited", 1), ("timeout", 0)):
        assert f'actionhost_profile_store_calls_total{{outcome="{outcome}"}} {count}.0' in text, text


# -- 10. the error after one 429 says what happened -----------------------------------------------

async def test_the_error_after_a_single_429_says_so(store, writer_for):
    seeded_user(store, "auth0|18")
    store.script["PATCH"] = ["429"]
    store.reset_header = lambda: str(int(time.time()) + 30)
    writer = await writer_for(store)
    with pytest.raises(RateLimited) as failed:
        await writer.write(TENANT, "auth0|18", {"k": 1}, {}, deadline(3))
    message = str(failed.value)
    assert "kept answering" not in message and "until the execution budget ran out" not in message
    assert message.startswith("the profile store answered 429 once and accepts requests again at "), message
    assert len(store.patch_attempts()) == 1

"""The host side of fetch (sandbox/host_fetch.py) against a real local HTTPS upstream with its
own CA, reached by name through the operator's --egress-resolve mapping; and the host-call
plumbing of FlowIsolate (job id, deadline, per-execution state) with real V8."""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import itertools
import socket
import statistics
import time
from typing import Any

import orjson
import pytest
from upstream import upstream  # noqa: F401 - the fixture

from sandbox.egress import EgressConfig
from sandbox.host_fetch import EgressRefused, HostFetch, _PolicyResolver
from sandbox.isolate import FlowIsolate, HostCallContext, Limits, runtime_source

_jobs = itertools.count(1)
_tags = itertools.count(1)


def ctx(budget: float = 5.0, state: dict[str, Any] | None = None) -> HostCallContext:
    return HostCallContext(next(_jobs), asyncio.get_running_loop().time() + budget, {} if state is None else state)


def request(url: str, method: str = "GET", headers: list[list[str]] | None = None, body: bytes | None = None,
            redirect: str = "follow", tag: int | None = None) -> dict[str, Any]:
    return {"method": method, "url": url, "headers": headers or [], "redirect": redirect,
            "body": None if body is None else base64.b64encode(body).decode(), "tag": next(_tags) if tag is None else tag}


def body_of(reply: dict[str, Any]) -> Any:
    assert reply["ok"], reply
    return orjson.loads(base64.b64decode(reply["body"]))


@pytest.fixture
async def host(upstream):  # noqa: F811
    made: list[HostFetch] = []

    def make(**config: Any) -> HostFetch:
        config.setdefault("resolve", upstream.resolve)
        config.setdefault("ca_file", upstream.ca_file)
        fetcher = HostFetch(EgressConfig(**config))
        made.append(fetcher)
        return fetcher

    yield make
    for fetcher in made:
        await fetcher.close()


# -- reaching the upstream ---------------------------------------------------------------

async def test_a_json_post_reaches_the_api_by_name_through_the_operator_mapping(host, upstream):  # noqa: F811
    reply = await host().fetch(request(upstream.url("/echo?x=1"), "POST", [["content-type", "application/json"],
                                                                         ["authorization", "Bearer t"]], b'{"a":1}'), ctx())
    echo = body_of(reply)
    assert (reply["status"], reply["status_text"], reply["redirected"]) == (200, "OK", False)
    assert reply["url"] == upstream.url("/echo?x=1")
    assert (echo["method"], echo["query"], echo["body"]) == ("POST", "x=1", '{"a":1}')
    sent = dict(echo["headers"])
    assert sent["host"] == "api.test.example"  # the URL's host, not the mapped address
    assert sent["content-type"] == "application/json" and sent["authorization"] == "Bearer t"
    assert sent["user-agent"] == "node" and sent["accept"] == "*/*"  # undici's defaults
    assert reply["trace"] == {"method": "POST", "host": "api.test.example", "path": "/echo", "status": 200,
                              "duration_ms": reply["trace"]["duration_ms"], "bytes": len(base64.b64decode(reply["body"])),
                              "outcome": "ok"}


async def test_without_the_mapping_the_upstream_on_loopback_is_refused(host, upstream):  # noqa: F811
    before = upstream.hits["/echo"]
    reply = await host().fetch(request(upstream.literal("/echo")), ctx())
    assert reply["error"]["code"] == "EGRESS_DENIED" and "127.0.0.1 is a loopback address" in reply["error"]["message"]
    assert reply["trace"]["outcome"] == "denied" and reply["trace"]["status"] is None
    reply = await host(resolve=[]).fetch(request(upstream.url("/echo")), ctx())
    assert reply["error"]["code"] == "ENOTFOUND"  # api.test.example is no real name
    assert upstream.hits["/echo"] == before


async def test_plain_http_works_too(host, upstream):  # noqa: F811
    echo = body_of(await host().fetch(request(upstream.url("/echo", "http")), ctx()))
    assert dict(echo["headers"])["host"] == "plain.test.example"


async def test_the_extra_ca_is_needed_to_trust_the_upstream(host, upstream):  # noqa: F811
    reply = await host(ca_file=None).fetch(request(upstream.url("/echo")), ctx())
    assert reply["error"]["code"] == "CERT_INVALID" and "api.test.example" in reply["error"]["message"]


async def test_responses_are_decompressed_as_node_does_and_repeated_headers_stay_apart(host, upstream):  # noqa: F811
    fetcher = host()
    gz = await fetcher.fetch(request(upstream.url("/gzip")), ctx())
    assert body_of(gz) == {"compressed": "gzip"} and ["content-encoding", "gzip"] in gz["headers"]
    assert body_of(await fetcher.fetch(request(upstream.url("/br")), ctx())) == {"compressed": "br"}
    cookies = await fetcher.fetch(request(upstream.url("/cookies")), ctx())
    assert [v for n, v in cookies["headers"] if n == "set-cookie"] == ["a=1; Path=/", "b=2; Path=/"]


async def test_cookies_are_never_kept_between_requests(host, upstream):  # noqa: F811
    # the session is shared by every tenant of the executor: a cookie jar would leak between them
    fetcher = host()
    await fetcher.fetch(request(upstream.url("/cookies")), ctx())
    echo = body_of(await fetcher.fetch(request(upstream.url("/echo")), ctx()))
    assert "cookie" not in dict(echo["headers"])


# -- refusals --------------------------------------------------------------------------

PRIVATE = ["127.0.0.1", "10.0.0.1", "10.255.255.254", "172.16.0.1", "192.168.0.1", "169.254.169.254", "100.64.0.1",
           "[::1]", "[fd00::1]", "[fe80::1]", "[::ffff:127.0.0.1]", "0.0.0.0", "[::]", "224.0.0.1", "[64:ff9b::7f00:1]"]


@pytest.mark.parametrize("address", PRIVATE)
async def test_each_private_address_is_refused_before_any_connection(host, address):
    reply = await host().fetch(request(f"http://{address}:1/latest/meta-data/"), ctx())
    assert reply["ok"] is False and reply["error"]["code"] == "EGRESS_DENIED", reply
    assert "allow it with --egress-allow" in reply["error"]["message"]
    assert reply["trace"]["outcome"] == "denied" and reply["trace"]["path"] == "/latest/meta-data/"


async def test_a_name_that_resolves_to_loopback_is_refused(host, upstream):  # noqa: F811
    reply = await host().fetch(request(f"http://localhost:{upstream.http_port}/echo"), ctx())
    assert reply["error"]["code"] == "EGRESS_DENIED"
    assert "localhost resolves to" in reply["error"]["message"] and "loopback" in reply["error"]["message"]


async def test_an_allow_pattern_lets_that_name_reach_its_private_address(host, upstream):  # noqa: F811
    reply = await host(allow=["localhost"]).fetch(request(f"http://localhost:{upstream.http_port}/echo"), ctx())
    assert reply["status"] == 200
    # and only that name: the address itself stays refused
    reply = await host(allow=["localhost"]).fetch(request(upstream.literal("/echo", "http")), ctx())
    assert reply["error"]["code"] == "EGRESS_DENIED"


async def test_a_deny_pattern_beats_the_mapping(host, upstream):  # noqa: F811
    reply = await host(deny=["*.test.example"]).fetch(request(upstream.url("/echo")), ctx())
    assert reply["error"]["code"] == "EGRESS_DENIED" and "--egress-deny" in reply["error"]["message"]
    reply = await host(deny=["127.0.0.0/8"]).fetch(request(upstream.url("/echo")), ctx())
    assert reply["error"]["code"] == "EGRESS_DENIED"


async def test_the_resolver_hands_aiohttp_only_allowed_addresses(host):
    """The check is on the addresses the connection will use: a name that answers with a
    private address (DNS rebinding) is refused at resolution, and a mixed answer loses its
    private part."""
    fetcher = host(resolve=[])
    resolver = _PolicyResolver(fetcher)
    answers = {"rebind.example": ["127.0.0.1"], "mixed.example": ["93.184.215.14", "10.0.0.8", "::1"]}

    class FakeDNS:
        async def resolve(self, name, port, family):
            return [{"hostname": name, "host": a, "port": port, "family": socket.AF_INET6 if ":" in a else socket.AF_INET,
                     "proto": 0, "flags": 0} for a in answers[name]]

    resolver._inner = FakeDNS()
    with pytest.raises(EgressRefused, match="rebind.example resolves to 127.0.0.1"):
        await resolver.resolve("rebind.example", 443)
    assert [r["host"] for r in await resolver.resolve("mixed.example", 443)] == ["93.184.215.14"]


async def test_every_socket_is_checked_again_before_it_connects(host):
    fetcher = host(resolve=[])
    for address in ("127.0.0.1", "10.0.0.5", "169.254.169.254", "::1", "::ffff:127.0.0.1"):
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        with pytest.raises(EgressRefused):
            fetcher._socket_factory((family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, 443)))
    fetcher._socket_factory((socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("93.184.215.14", 443))).close()
    fetcher.approve(ipaddress.ip_address("10.0.0.5"))  # handed out by the resolver for an allowed host
    fetcher._socket_factory((socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("10.0.0.5", 443))).close()


@pytest.mark.parametrize("url,code", [("ftp://api.test.example/f", "BAD_URL"), ("file:///etc/passwd", "BAD_URL"),
                                      ("https://u:p@api.test.example/", "BAD_URL"), ("not a url", "BAD_URL")])
async def test_other_schemes_and_credentials_are_refused(host, url, code):
    reply = await host().fetch(request(url), ctx())
    assert reply["error"]["code"] == code


async def test_a_closed_port_is_econnrefused_and_an_unknown_name_enotfound(host, upstream):  # noqa: F811
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    reply = await host(resolve=[f"down.test.example=127.0.0.1:{closed}"]).fetch(request("https://down.test.example/"), ctx())
    assert reply["error"]["code"] == "ECONNREFUSED" and reply["trace"]["outcome"] == "error"
    reply = await host().fetch(request("https://nonexistent.invalid/"), ctx())
    assert reply["error"]["code"] == "ENOTFOUND" and "nonexistent.invalid" in reply["error"]["message"]


async def test_through_a_proxy_the_policy_still_judges_the_url_and_what_the_name_resolves_to(host, upstream):  # noqa: F811
    # the upstream's plain-HTTP port stands in for a forward proxy: it answers absolute-form
    # requests itself, so an echo proves the request went there
    fetcher = host(resolve=[], proxy=f"http://127.0.0.1:{upstream.http_port}")
    echo = body_of(await fetcher.fetch(request("http://api.example.com/echo?via=proxy"), ctx()))
    assert (echo["path"], echo["query"], dict(echo["headers"])["host"]) == ("/echo", "via=proxy", "api.example.com")
    for url in ("http://10.0.0.1/", "http://localhost/echo", "http://169.254.169.254/"):
        reply = await fetcher.fetch(request(url), ctx())
        assert reply["error"]["code"] == "EGRESS_DENIED", (url, reply)


# -- redirects ----------------------------------------------------------------------------

async def test_a_redirect_to_a_private_address_is_refused(host, upstream):  # noqa: F811
    for target in ("http://169.254.169.254/latest/meta-data/", upstream.literal("/echo"), "http://[::1]/",
                   f"http://localhost:{upstream.http_port}/echo"):
        reply = await host().fetch(request(upstream.url(f"/redirect?to={target}")), ctx())
        assert reply["error"]["code"] == "EGRESS_DENIED", (target, reply)
        assert reply["trace"]["outcome"] == "denied" and reply["trace"]["redirects"] == 1


async def test_a_post_redirected_by_302_becomes_a_get_without_its_body(host, upstream):  # noqa: F811
    reply = await host().fetch(request(upstream.url("/redirect?status=302&to=/echo"), "POST",
                                       [["content-type", "application/json"], ["authorization", "Bearer t"]], b"{}"), ctx())
    echo = body_of(reply)
    assert (echo["method"], echo["body"], reply["redirected"], reply["url"]) == ("GET", "", True, upstream.url("/echo"))
    sent = dict(echo["headers"])
    assert "content-type" not in sent and sent["authorization"] == "Bearer t"  # same origin keeps it


async def test_307_and_308_keep_the_method_and_body(host, upstream):  # noqa: F811
    for status in (307, 308):
        echo = body_of(await host().fetch(request(upstream.url(f"/redirect?status={status}&to=/echo"), "PUT",
                                                  [["content-type", "text/plain"]], b"keep me"), ctx()))
        assert (echo["method"], echo["body"], dict(echo["headers"])["content-type"]) == ("PUT", "keep me", "text/plain")


async def test_303_turns_any_method_into_get(host, upstream):  # noqa: F811
    echo = body_of(await host().fetch(request(upstream.url("/redirect?status=303&to=/echo"), "DELETE"), ctx()))
    assert echo["method"] == "GET"


async def test_a_cross_origin_redirect_drops_credentials(host, upstream):  # noqa: F811
    target = upstream.url("/echo", "http")  # another origin: plain.test.example
    echo = body_of(await host().fetch(request(upstream.url(f"/redirect?to={target}"), "GET",
                                              [["authorization", "Bearer t"], ["cookie", "s=1"], ["x-keep", "1"]]), ctx()))
    sent = dict(echo["headers"])
    assert "authorization" not in sent and "cookie" not in sent and sent["x-keep"] == "1"


async def test_redirect_manual_returns_the_3xx_and_error_refuses_it(host, upstream):  # noqa: F811
    fetcher = host()
    reply = await fetcher.fetch(request(upstream.url("/redirect?to=/echo"), redirect="manual"), ctx())
    assert reply["status"] == 302 and ["location", "/echo"] in reply["headers"] and reply["redirected"] is False
    reply = await fetcher.fetch(request(upstream.url("/redirect?to=/echo"), redirect="error"), ctx())
    assert reply["error"]["code"] == "REDIRECT_REFUSED"


async def test_twenty_redirects_are_followed_and_no_more(host, upstream):  # noqa: F811
    reply = await host().fetch(request(upstream.url("/loop?n=0")), ctx())
    assert reply["error"]["code"] == "TOO_MANY_REDIRECTS" and reply["trace"]["redirects"] == 20


async def test_a_redirect_to_another_scheme_is_refused(host, upstream):  # noqa: F811
    reply = await host().fetch(request(upstream.url("/redirect?to=file:///etc/passwd")), ctx())
    assert reply["error"]["code"] == "BAD_URL"


# -- per-execution caps and the budget --------------------------------------------------------

async def test_an_oversize_response_is_cut_at_the_cap(host, upstream):  # noqa: F811
    fetcher = host(max_response_bytes=1_000_000)
    announced = await fetcher.fetch(request(upstream.url("/big?bytes=5000000")), ctx())
    assert announced["error"]["code"] == "RESPONSE_TOO_LARGE" and announced["trace"]["outcome"] == "too_large"
    streamed = await fetcher.fetch(request(upstream.url("/big?bytes=5000000&length=0")), ctx())
    assert streamed["error"]["code"] == "RESPONSE_TOO_LARGE"
    assert 1_000_000 < streamed["trace"]["bytes"] <= 1_000_000 + 256 * 1024  # read no further than the cap
    exact = await fetcher.fetch(request(upstream.url("/big?bytes=1000000&length=0")), ctx())
    assert len(base64.b64decode(exact["body"])) == 1_000_000


async def test_an_oversize_request_body_is_refused(host, upstream):  # noqa: F811
    reply = await host(max_request_bytes=1000).fetch(request(upstream.url("/echo"), "POST", body=b"x" * 1001), ctx())
    assert reply["error"]["code"] == "REQUEST_TOO_LARGE" and reply["trace"]["outcome"] == "too_large"


async def test_too_many_requests_in_one_execution(host, upstream):  # noqa: F811
    fetcher, state = host(max_requests=3), {}
    replies = [await fetcher.fetch(request(upstream.url("/echo")), ctx(state=state)) for _ in range(4)]
    assert [r["ok"] for r in replies] == [True, True, True, False]
    assert replies[3]["error"]["code"] == "TOO_MANY_REQUESTS" and "--egress-max-requests 3" in replies[3]["error"]["message"]
    assert (await fetcher.fetch(request(upstream.url("/echo")), ctx()))["ok"]  # another execution has its own count


async def test_concurrent_requests_beyond_the_cap_wait_for_a_slot(host, upstream):  # noqa: F811
    fetcher, state = host(max_concurrent=2), {}
    started = time.monotonic()
    replies = await asyncio.gather(*(fetcher.fetch(request(upstream.url("/slow?seconds=0.3")), ctx(state=state))
                                     for _ in range(4)))
    assert all(r["ok"] for r in replies)
    assert time.monotonic() - started >= 0.58  # two rounds of two


async def test_a_slow_upstream_is_bounded_by_what_is_left_of_the_budget(host, upstream):  # noqa: F811
    started = time.monotonic()
    reply = await host().fetch(request(upstream.url("/slow?seconds=5")), ctx(budget=0.5))
    elapsed = time.monotonic() - started
    assert reply["error"]["code"] == "ETIMEDOUT" and reply["trace"]["outcome"] == "timeout"
    assert 0.45 < elapsed < 1.0


async def test_fetch_abort_cancels_that_request(host, upstream):  # noqa: F811
    fetcher, state = host(), {}
    call = asyncio.ensure_future(fetcher.fetch(request(upstream.url("/slow?seconds=5"), tag=777), ctx(state=state)))
    await asyncio.sleep(0.2)
    started = time.monotonic()
    await fetcher.abort({"tag": 777}, ctx(state=state))
    reply = await asyncio.wait_for(call, 1)
    assert time.monotonic() - started < 0.2
    assert reply["trace"]["outcome"] == "aborted" and reply["ok"] is False


async def test_host_cost_of_one_small_fetch(host, upstream, capsys):  # noqa: F811
    """p50 of the host side of a small GET to the local upstream (keep-alive connection)."""
    fetcher = host()
    await fetcher.fetch(request(upstream.url("/echo")), ctx())  # session, TLS context, connection
    times = []
    for _ in range(200):
        started = time.perf_counter()
        reply = await fetcher.fetch(request(upstream.url("/echo")), ctx())
        times.append(time.perf_counter() - started)
        assert reply["ok"]
    p50 = statistics.median(times) * 1000
    with capsys.disabled():
        print(f"\nhost fetch, small GET over TLS to the local upstream: p50 {p50:.2f} ms, "
              f"p90 {sorted(times)[179] * 1000:.2f} ms (200 calls)")
    assert p50 < 20


# -- FlowIsolate: host calls carry their job, are bounded by its deadline, keep state per job --

@pytest.fixture
async def isolate_with():
    made: list[FlowIsolate] = []

    async def make(code: str, host_calls: dict[str, Any]) -> FlowIsolate:
        actions = [{"name": "a", "code": code, "secrets": {}}]
        isolate = FlowIsolate(asyncio.get_running_loop(), runtime_source(), {"kind": "post-login", "actions": actions},
                              Limits(), host_calls=host_calls)
        made.append(isolate)
        await isolate.start()
        return isolate

    yield make
    for isolate in made:
        await isolate.close()


def run(isolate: FlowIsolate, budget: float = 5.0) -> asyncio.Future:
    from conftest import workload_event

    return isolate.submit(next(_jobs) + 10_000, "post-login", orjson.dumps({"event": workload_event()}), budget)


FAKE_REPLY = {"ok": True, "status": 200, "status_text": "OK", "url": "https://api.example.com/", "redirected": False,
              "headers": [["content-type", "application/json"]], "body": base64.b64encode(b'{"n":1}').decode(),
              "trace": {"method": "GET", "host": "api.example.com", "path": "/", "status": 200, "duration_ms": 1,
                        "bytes": 7, "outcome": "ok"}}

TWO_FETCHES = """exports.onExecutePostLogin = async (event, api) => {
  const a = await (await fetch('https://api.example.com/')).json();
  const b = await (await fetch('https://api.example.com/')).json();
  api.idToken.setCustomClaim('n', a.n + b.n);
};"""


async def test_host_calls_carry_their_job_its_deadline_and_one_state_per_job(isolate_with):
    seen: list[tuple[int, float, int]] = []

    async def fake_fetch(args: Any, ctx: HostCallContext) -> dict[str, Any]:
        ctx.state["calls"] = ctx.state.get("calls", 0) + 1
        seen.append((ctx.job_id, ctx.deadline, ctx.state["calls"]))
        return FAKE_REPLY

    isolate = await isolate_with(TWO_FETCHES, {"fetch": fake_fetch})
    first, second = run(isolate, budget=3.0), run(isolate, budget=4.0)
    results = await asyncio.gather(first, second)
    assert [r["status"] for r in results] == ["completed", "completed"]
    assert results[0]["actions"][0]["commands"] == [["idToken.setCustomClaim", "n", 2]]
    by_job: dict[int, list[tuple[float, int]]] = {}
    for job_id, deadline, count in seen:
        by_job.setdefault(job_id, []).append((deadline, count))
    assert len(by_job) == 2 and all([c for _, c in calls] == [1, 2] for calls in by_job.values())
    budgets = sorted(round(calls[0][0] - min(d for d, _ in sum(by_job.values(), [])), 1) for calls in by_job.values())
    assert budgets == [0.0, 1.0]  # each call knows its own job's deadline
    assert isolate._calls == {}  # the per-job state went with the jobs


async def test_a_host_call_never_outlives_its_job(isolate_with):
    cancelled = asyncio.Event()

    async def stuck_fetch(args: Any, ctx: HostCallContext) -> dict[str, Any]:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return FAKE_REPLY

    isolate = await isolate_with(TWO_FETCHES, {"fetch": stuck_fetch})
    started = time.monotonic()
    result = await run(isolate, budget=0.5)
    assert result["status"] == "failed" and time.monotonic() - started < 1.5
    await asyncio.wait_for(cancelled.wait(), 1)
    assert isolate._calls == {}


async def test_a_request_for_a_job_that_is_gone_is_answered_with_failure(isolate_with):
    isolate = await isolate_with(TWO_FETCHES, {"fetch": lambda args, ctx: None})
    isolate._start_host_call([99, "fetch", {}, 123456], isolate._isolate)
    isolate._start_host_call([100, "fetch", {}, -1], isolate._isolate)
    assert [r[:2] for r in isolate._io_replies] == [[99, False], [100, False]]
    assert "has ended" in isolate._io_replies[0][2]


async def test_a_flow_that_calls_nothing_pays_nothing(isolate_with):
    async def never(args: Any, ctx: HostCallContext) -> None:
        raise AssertionError("no host call expected")

    isolate = await isolate_with("exports.onExecutePostLogin = async (event, api) => { api.idToken.setCustomClaim('x', 1); };",
                                 {"fetch": never})
    futures = [run(isolate) for _ in range(20)]
    results = await asyncio.gather(*futures)
    assert all(r["status"] == "completed" for r in results)
    # no per-job bookkeeping was made, no callback was added to the jobs' futures
    assert isolate._calls == {}
    assert all(len(getattr(f, "_callbacks", []) or []) == 0 for f in futures)


async def test_an_answer_for_a_replaced_isolate_is_dropped(isolate_with):
    """A fresh isolate numbers its requests from 1 again: an answer that was on its way to the
    isolate it replaced must not resolve the new one's request of the same number (another
    execution's data)."""
    async def answer(args: Any, ctx: HostCallContext) -> dict[str, Any]:
        return FAKE_REPLY

    isolate = await isolate_with(TWO_FETCHES, {"fetch": answer})
    old = isolate._isolate
    await isolate._recycle("test: replaced")
    await isolate._host_call(1, "fetch", {}, HostCallContext(1, asyncio.get_running_loop().time() + 1, {}), old)
    assert isolate._io_replies == []
    assert (await run(isolate))["status"] == "completed"  # the fresh isolate serves

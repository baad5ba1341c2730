"""Actions that call APIs, end to end: real executor processes, real V8, `await fetch(...)` in
the action, the host side under the egress policy, a local HTTPS upstream with its own CA
passed as --egress-ca-file and reached by name through --egress-resolve."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

import orjson
import pytest
from conftest import make_flow, payload
from upstream import upstream  # noqa: F401 - the fixture

from sandbox import EgressConfig, Limits, Sandbox, SupervisorSettings


@pytest.fixture
async def box_with(upstream):  # noqa: F811
    made: list[Sandbox] = []

    async def make(**config: object) -> Sandbox:
        config.setdefault("resolve", upstream.resolve)
        config.setdefault("ca_file", upstream.ca_file)
        box = Sandbox(SupervisorSettings(executors=1, pin=False, limits=Limits(heap_hard=64 * 2**20, heap_soft=32 * 2**20),
                                         egress=EgressConfig(**config), liveness_timeout=5.0))
        await box.start()
        made.append(box)
        return box

    yield make
    for box in made:
        await box.close()


def claims(result) -> dict[str, object]:
    assert result.status == "completed", result.data
    return {c[1]: c[2] for a in result.actions for c in a["commands"] if c[0] == "idToken.setCustomClaim"}


POST_JSON = """exports.onExecutePostLogin = async (event, api) => {
  const res = await fetch('https://api.test.example/echo?user=' + encodeURIComponent(event.user.user_id), {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer ' + event.secrets.TOKEN },
    body: JSON.stringify({ email: event.user.email }),
  });
  const echo = await res.json();
  api.idToken.setCustomClaim('ok', res.ok);
  api.idToken.setCustomClaim('status', res.status);
  api.idToken.setCustomClaim('body', JSON.parse(echo.body).email);
  api.idToken.setCustomClaim('auth', echo.headers.find(([n]) => n === 'authorization')[1]);
};"""


async def test_an_action_posts_json_to_an_api_and_reads_the_answer(box_with, upstream):  # noqa: F811
    box = await box_with()
    flow = make_flow(POST_JSON, secrets=[{"TOKEN": "s3cret"}])
    result = await box.run("t", flow, payload())
    got = claims(result)
    assert got["ok"] is True and got["status"] == 200 and got["auth"] == "Bearer s3cret"
    assert "@" in got["body"]
    trace = result.actions[0]["egress"][0]
    assert (trace["method"], trace["host"], trace["path"], trace["status"], trace["outcome"]) == \
        ("POST", "api.test.example", "/echo", 200, "ok")  # no query string in the record


REFUSALS = """exports.onExecutePostLogin = async (event, api) => {
  const urls = %s;
  const out = {};
  for (const url of urls) {
    try { await fetch(url); out[url] = 'reached'; }
    catch (e) { out[url] = e.name + ': ' + e.message + ' / ' + (e.cause && e.cause.code); }
  }
  api.idToken.setCustomClaim('out', out);
};"""


async def test_private_addresses_and_loopback_names_are_refused_inside_the_action(box_with, upstream):  # noqa: F811
    box = await box_with()
    urls = ["http://127.0.0.1/", "http://10.0.0.1/", "http://172.16.0.1/", "http://192.168.0.1/",
            "http://169.254.169.254/latest/meta-data/", "http://100.64.0.1/", "http://[::1]/", "http://[fd00::1]/",
            "http://[fe80::1]/", "http://[::ffff:127.0.0.1]/", "http://0.0.0.0/", upstream.literal("/echo"),
            f"http://localhost:{upstream.http_port}/echo", upstream.url("/redirect?to=http://169.254.169.254/")]
    before = upstream.hits["/echo"]
    out = claims(await box.run("t", make_flow(REFUSALS % orjson.dumps(urls).decode()), payload()))["out"]
    for url in urls:
        assert out[url] == out[url].split(":")[0] + ": fetch failed / EGRESS_DENIED", (url, out[url])
        assert out[url].startswith("TypeError"), out[url]
    assert upstream.hits["/echo"] == before


async def test_other_schemes_are_refused_and_deny_star_turns_egress_off(box_with, upstream):  # noqa: F811
    box = await box_with(deny=["*"])
    urls = ["ftp://api.test.example/file", "file:///etc/passwd", upstream.url("/echo")]
    out = claims(await box.run("t", make_flow(REFUSALS % orjson.dumps(urls).decode()), payload()))["out"]
    assert out[urls[0]] == out[urls[1]] == "TypeError: fetch failed / BAD_URL"
    assert out[urls[2]] == "TypeError: fetch failed / EGRESS_DENIED"


async def test_an_oversize_response_is_cut_at_the_cap(box_with, upstream):  # noqa: F811
    box = await box_with(max_response_bytes=200_000)
    code = """exports.onExecutePostLogin = async (event, api) => {
      try { await (await fetch('https://api.test.example/big?bytes=3000000&length=0')).text(); api.idToken.setCustomClaim('r', 'read'); }
      catch (e) { api.idToken.setCustomClaim('r', e.cause.code); }
      const small = await (await fetch('https://api.test.example/big?bytes=1000')).text();
      api.idToken.setCustomClaim('small', small.length);
    };"""
    got = claims(await box.run("t", make_flow(code), payload()))
    assert got == {"r": "RESPONSE_TOO_LARGE", "small": 1000}


async def test_too_many_requests_in_one_execution(box_with):
    box = await box_with(max_requests=3)
    code = """exports.onExecutePostLogin = async (event, api) => {
      const codes = [];
      for (let i = 0; i < 5; i++) {
        try { await fetch('https://api.test.example/echo'); codes.push('ok'); } catch (e) { codes.push(e.cause.code); }
      }
      api.idToken.setCustomClaim('codes', codes);
    };"""
    flow = make_flow(code)
    got = claims(await box.run("t", flow, payload()))
    assert got["codes"] == ["ok", "ok", "ok", "TOO_MANY_REQUESTS", "TOO_MANY_REQUESTS"]
    # the count is per execution: the next one starts afresh
    assert claims(await box.run("t", flow, payload()))["codes"][:3] == ["ok", "ok", "ok"]


async def test_a_burst_of_requests_is_held_to_the_concurrency_and_total_caps(box_with, upstream):  # noqa: F811
    box = await box_with()
    code = """exports.onExecutePostLogin = async (event, api) => {
      const all = [];
      for (let i = 0; i < 60; i++) all.push(fetch('https://api.test.example/slow?seconds=0.05').then((r) => r.json()));
      const settled = await Promise.allSettled(all);
      api.idToken.setCustomClaim('ok', settled.filter((s) => s.status === 'fulfilled').length);
      api.idToken.setCustomClaim('refused', [...new Set(settled.filter((s) => s.status === 'rejected').map((s) => s.reason.cause.code))]);
    };"""
    upstream.most_in_flight = 0
    got = claims(await box.run("t", make_flow(code), payload()))
    assert got == {"ok": 50, "refused": ["TOO_MANY_REQUESTS"]}
    assert upstream.most_in_flight <= 10


async def test_a_slow_upstream_is_bounded_by_the_execution_budget(box_with):
    box = await box_with()
    code = """exports.onExecutePostLogin = async (event, api) => {
      await fetch('https://api.test.example/slow?seconds=10');
    };"""
    started = time.monotonic()
    result = await box.run("t", make_flow(code), payload(), budget=1.0)
    assert result.status == "failed" and result.error_class == "action_timeout"
    assert time.monotonic() - started < 2.5
    # the executor is fine: the next execution runs
    assert claims(await box.run("t", make_flow(POST_JSON, secrets=[{"TOKEN": "x"}]), payload()))["ok"] is True


async def test_abort_signal_timeout_fails_open(box_with):
    box = await box_with()
    code = """exports.onExecutePostLogin = async (event, api) => {
      let verdict;
      try { await fetch('https://api.test.example/slow?seconds=5', { signal: AbortSignal.timeout(300) }); verdict = 'answered'; }
      catch (e) { verdict = e.name; }
      api.idToken.setCustomClaim('verdict', verdict);
    };"""
    started = time.monotonic()
    got = claims(await box.run("t", make_flow(code), payload()))
    assert got["verdict"] == "TimeoutError" and time.monotonic() - started < 2.0


async def test_a_flow_that_calls_nothing_pays_nothing(box_with, capsys):
    """No outbound request: no client session, no per-job bookkeeping; one request through
    the whole path costs what the host fetch costs plus a step."""
    box = await box_with()
    quiet = make_flow("exports.onExecutePostLogin = async (event, api) => { api.idToken.setCustomClaim('x', 1); };")
    calling = make_flow("""exports.onExecutePostLogin = async (event, api) => {
      const r = await fetch('https://api.test.example/echo'); await r.json(); api.idToken.setCustomClaim('x', 1); };""")
    body = payload()

    async def p50(flow) -> float:
        for _ in range(20):
            await box.run("t", flow, body)
        times = []
        for _ in range(200):
            started = time.perf_counter()
            result = await box.run("t", flow, body)
            times.append(time.perf_counter() - started)
            assert result.status == "completed"
        return statistics.median(times) * 1000

    quiet_ms = await p50(quiet)
    stats = box.supervisor._handles[0].stats
    await box.run("t", quiet, body)
    await _fresh_stats(box)
    assert box.supervisor.status()[0]["egress"] == {"requests": {}, "seconds": 0.0}
    calling_ms = await p50(calling)
    await _fresh_stats(box)
    assert box.supervisor.status()[0]["egress"]["requests"]["ok"] >= 220
    with capsys.disabled():
        print(f"\nexecution p50 through a real executor: no fetch {quiet_ms:.2f} ms, one fetch to the local "
              f"upstream {calling_ms:.2f} ms (+{calling_ms - quiet_ms:.2f} ms)")
    assert stats is not None


async def _fresh_stats(box: Sandbox) -> None:
    """Wait for a pong newer than now (the supervisor pings every watch interval)."""
    import asyncio

    handle = box.supervisor._handles[0]
    seen = handle.last_pong
    for _ in range(100):
        await asyncio.sleep(0.05)
        if handle.last_pong > seen:
            return


def test_actionhost_run_calls_an_api_with_the_egress_flags(tmp_path, upstream):  # noqa: F811
    action = tmp_path / "call_api.js"
    action.write_text(POST_JSON)
    event = tmp_path / "event.json"
    sample = subprocess.run([sys.executable, "-m", "server.cli", "run", "--sample-event"], capture_output=True, check=True)
    event.write_bytes(sample.stdout)
    flags = [arg for entry in upstream.resolve for arg in ("--egress-resolve", entry)]
    done = subprocess.run([sys.executable, "-m", "server.cli", "run", str(action), "--event", str(event), "--json",
                           "--secret", "TOKEN=abc", *flags, "--egress-ca-file", upstream.ca_file],
                          capture_output=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr.decode()
    response = orjson.loads(done.stdout)
    assert response["id_token_claims"]["auth"] == "Bearer abc"
    # denied by the operator, the same action fails with fetch's error
    refused = subprocess.run([sys.executable, "-m", "server.cli", "run", str(action), "--event", str(event),
                              "--egress-deny", "*.test.example"], capture_output=True, timeout=120, check=False)
    assert refused.returncode == 1 and b"TypeError: fetch failed" in refused.stdout

"""How a flow's isolate is driven: what finishes in the microtasks after a step (every async
flow) comes back with the runtime's wake, so a lone job costs one step; output too large for
the wake's buffer, timers set after a step, and batches still arrive whole."""

from __future__ import annotations

import asyncio
import itertools

import orjson
import pytest

from conftest import workload_actions, workload_event
from sandbox.isolate import FlowIsolate, Limits, runtime_source

_ids = itertools.count(1)


@pytest.fixture
async def isolate_of():
    made: list[FlowIsolate] = []

    async def make(*codes: str, limits: Limits | None = None) -> FlowIsolate:
        actions = ([{"name": f"a{i}", "code": c, "secrets": {}} for i, c in enumerate(codes)]
                   if codes else workload_actions())
        isolate = FlowIsolate(asyncio.get_running_loop(), runtime_source(), {"kind": "post-login", "actions": actions},
                              limits or Limits())
        made.append(isolate)
        await isolate.start()
        return isolate

    yield make
    for isolate in made:
        await isolate.close()


def job(isolate: FlowIsolate, budget: float = 5.0, **user: object) -> asyncio.Future:
    return isolate.submit(next(_ids), "post-login", orjson.dumps({"event": workload_event(**user)}), budget)


async def test_a_lone_async_job_is_answered_with_one_step(isolate_of):
    isolate = await isolate_of()
    await job(isolate)  # first run compiles
    before = isolate.steps
    for i in range(20):
        result = await job(isolate, user_id=f"u{i}")
        assert result["status"] == "completed", result
    assert isolate.steps - before == 20


async def test_output_larger_than_the_wake_buffer_is_collected_by_a_step(isolate_of):
    big = """exports.onExecutePostLogin = async (event, api) => {
      await null;
      api.idToken.setCustomClaim("https://example.com/big", "x".repeat(300 * 1024));
    };"""
    isolate = await isolate_of(big, limits=Limits(output_buffer=64 * 1024))
    before = isolate.steps
    result = await job(isolate)
    assert result["status"] == "completed", result
    assert result["actions"][0]["commands"][0][2] == "x" * 300 * 1024
    assert isolate.steps - before == 2  # the step that ran it, the step that collected it


async def test_a_timer_set_after_the_step_still_fires(isolate_of):
    code = """exports.onExecutePostLogin = async (event, api) => {
      await null; await null;
      await new Promise((resolve) => setTimeout(resolve, 5));
      api.idToken.setCustomClaim("https://example.com/t", true);
    };"""
    isolate = await isolate_of(code)
    for _ in range(10):
        result = await job(isolate, budget=2.0)
        assert result["status"] == "completed", result


async def test_a_batch_of_jobs_all_come_back(isolate_of):
    isolate = await isolate_of()
    results = await asyncio.gather(*(job(isolate, user_id=f"b{i}") for i in range(200)))
    assert [r["status"] for r in results] == ["completed"] * 200
    assert isolate.steps < 200


async def test_a_finished_job_is_answered_while_the_next_waits_on_a_promise_that_never_settles(isolate_of):
    # jobs run one at a time; the one after it hangs (nothing it waits on tells the host), and
    # the finished one's answer must not wait for that one's deadline
    code = """exports.onExecutePostLogin = async (event, api) => {
      if (event.user.user_id === "auth0|stuck") await new Promise(() => {});
      api.idToken.setCustomClaim("https://example.com/ok", true);
    };"""
    isolate = await isolate_of(code)
    await job(isolate)  # first run compiles
    loop = asyncio.get_running_loop()
    started = loop.time()
    fine, stuck = job(isolate, budget=5.0, user_id="fine"), job(isolate, budget=3.0, user_id="stuck")
    assert (await fine)["status"] == "completed"
    assert loop.time() - started < 1.5
    result = await stuck
    assert result["status"] == "failed" and result["error"]["class"] == "action_timeout", result
    assert isolate.recycles == 0


# A step that only starts jobs has nothing for the loop: its reply is held back and handed over
# with the wake that reports the jobs (one loop wake per lone job instead of two). These tests
# stretch the driver's fallback release to far beyond their own timeouts, so each passes only
# through the release it names.


@pytest.fixture
def hold_forever(monkeypatch):
    from sandbox import driver

    monkeypatch.setattr(driver, "HOLD_LIMIT", 3600.0)


async def test_a_lone_jobs_step_reply_comes_with_its_wake(isolate_of, hold_forever):
    isolate = await isolate_of()
    await job(isolate)  # first run compiles
    before_steps, before_held = isolate.steps, isolate.replies_held
    for i in range(20):
        result = await asyncio.wait_for(job(isolate, user_id=f"h{i}"), 5)
        assert result["status"] == "completed", result
    assert isolate.steps - before_steps == 20
    assert isolate.replies_held - before_held == 20


async def test_only_a_reply_with_nothing_to_act_on_is_held(isolate_of):
    isolate = await isolate_of()
    nothing = '{"done":[],"io":[],"timer":-1,"seq":12}'
    assert not isolate._hold(nothing)  # no job inside: no wake will follow
    stuck = job(isolate)
    isolate._inside[0] = stuck  # as while a step's jobs run
    assert isolate._hold(nothing)
    for reply in ('{"done":[[1,{"status":"completed"}]],"io":[],"timer":-1,"seq":12}',
                  '{"done":[],"io":[[1,"cache.get",{}]],"timer":-1,"seq":12}',
                  '{"done":[],"io":[],"timer":5,"seq":12}',
                  '{"done":[],"io":[],"timer":-1,"seq":12,"requeue":[3]}',
                  '{"done":[],"io":[],"timer":-1,"seq":12,"failure":"x"}',
                  '{"done":[],"io":[],"timer":-1,"seq":12,"retire":"Array.prototype"}',
                  None, 7):
        assert not isolate._hold(reply), reply
    del isolate._inside[0]
    await stuck


async def test_new_work_releases_a_held_reply(isolate_of, hold_forever):
    # the job in flight never settles, so no wake follows its step: a job submitted now must
    # still reach the isolate in a step of its own (where it waits its turn behind the first)
    code = """exports.onExecutePostLogin = async (event, api) => {
      await new Promise(() => {});
    };"""
    isolate = await isolate_of(code)
    stuck = job(isolate, budget=30.0)
    await asyncio.sleep(0.2)  # its step has answered, and the answer is held
    assert isolate.replies_held == 1
    later = job(isolate, budget=30.0)
    for _ in range(100):
        if isolate.replies_held == 2:  # the new job's step ran (and its reply is held in turn)
            break
        await asyncio.sleep(0.05)
    assert isolate.steps == 1 and isolate.replies_held == 2
    assert not stuck.done() and not later.done()


async def test_a_deadline_releases_a_held_reply(isolate_of, hold_forever):
    code = """exports.onExecutePostLogin = async (event, api) => {
      await new Promise(() => {});
    };"""
    isolate = await isolate_of(code)
    result = await asyncio.wait_for(job(isolate, budget=0.5), 5)
    assert result["status"] == "failed" and result["error"]["class"] == "action_timeout", result
    assert isolate.recycles == 0
    result = await asyncio.wait_for(job(isolate, budget=0.5), 5)  # and the isolate still serves
    assert result["error"]["class"] == "action_timeout", result


async def test_a_reply_held_after_a_long_step_is_still_released(isolate_of):
    # the step itself runs longer than the hold limit (busy code before the first await); its
    # reply is held, no wake follows (the promise never settles), and no new work comes
    code = """exports.onExecutePostLogin = async (event, api) => {
      const until = Date.now() + 30;
      while (Date.now() < until) {}
      await new Promise(() => {});
    };"""
    isolate = await isolate_of(code)
    stuck = job(isolate, budget=30.0)
    for _ in range(100):
        if isolate.steps == 1:
            break
        await asyncio.sleep(0.05)
    assert isolate.steps == 1 and isolate.replies_held == 1
    assert not stuck.done()

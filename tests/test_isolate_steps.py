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

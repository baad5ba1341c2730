"""An executor answers each job exactly once: from the isolate's thread the moment the runtime
reports the job finished (no turn of the executor's event loop in between), or from the loop
when the loop settles it (a destroyed isolate, a timeout before the job started)."""

from __future__ import annotations

import asyncio
import collections
import socket

import orjson

from conftest import make_flow, payload, workload_event
from sandbox.executor import Executor
from sandbox.frames import FrameWriter, open_frames
from sandbox.isolate import Limits

ACTION = """
exports.onExecutePostLogin = async (event, api) => {
  const md = event.user.app_metadata;
  if (md.wait) await new Promise((r) => setTimeout(r, md.wait));
  if (md.spin) { while (true) {} }
  if (md.never) await new Promise(() => {});
  api.idToken.setCustomClaim("https://example.com/n", md.n);
};
"""


async def _until(condition, timeout: float) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def test_every_job_is_answered_once_by_its_isolate_thread_or_by_the_loop() -> None:
    left, right = socket.socketpair()
    frames = FrameWriter()
    frames.own_writes(left)
    executor = Executor(frames, Limits(cancel_grace=0.2, idle_step_timeout=0.5), max_isolates=8, max_flows=64)
    await open_frames(left, frames, executor.handle)
    got: list = []
    closed = await open_frames(right, FrameWriter(), got.append)
    flow = make_flow(ACTION)
    definition = flow.definition()

    def run(job_id: int, tenant: str, budget: float = 5.0, **metadata) -> None:
        text = payload(workload_event(app_metadata=metadata)).decode()
        executor.handle(["run", job_id, tenant, flow.key, "post-login", text, budget, definition])

    try:
        # ordinary jobs, alone and in bursts, some finishing after a timer
        for i in range(1, 41):
            run(i, f"tenant-{i % 3}", n=i, **({"wait": 5} if i % 4 == 0 else {}))
            if i % 10 == 0:
                await _until(lambda: len(got) >= i, 30)
        # a job that never settles (timed out by the runtime), one that spins (its isolate is
        # destroyed: the loop answers), and ordinary jobs queued behind the spinning one
        run(100, "never", budget=0.3, never=True)
        run(101, "spin", budget=0.3, spin=True)
        for i in range(102, 106):
            run(i, "spin", n=i)
        await _until(lambda: {m[1] for m in got if m[0] == "done"} >= {*range(1, 41), *range(100, 106)}, 30)
        await asyncio.sleep(1.0)  # room for a second answer to any of them
    finally:
        await executor.close()
        frames.close()
        await asyncio.wait_for(closed, 5)

    answers = collections.Counter(m[1] for m in got if m[0] == "done")
    assert [job for job, count in answers.items() if count != 1] == []
    results = {m[1]: m[2] for m in got if m[0] == "done"}
    for i in [*range(1, 41), *range(102, 106)]:
        assert results[i]["status"] == "completed", results[i]
        claims = [c for a in results[i]["actions"] for c in a["commands"] if c[0] == "idToken.setCustomClaim"]
        assert claims == [["idToken.setCustomClaim", "https://example.com/n", i]]
    assert results[100]["error"]["class"] == "action_timeout", results[100]
    assert results[101]["error"]["class"] == "action_timeout" and results[101]["error"].get("destroyed"), results[101]
    # every job the runtime reported was answered from the isolate's thread; the destroyed one
    # was answered by the loop
    assert executor.answered_early == 45, orjson.dumps(executor.stats())


async def test_a_job_the_loop_has_settled_is_not_answered_again_from_the_isolate_thread() -> None:
    """A runtime report that comes after the loop settled the job (its isolate was being replaced
    at that moment) leaves the answer to the loop: the caller hears of the job once."""
    from sandbox.isolate import Job

    left, right = socket.socketpair()
    frames = FrameWriter()
    frames.own_writes(left)
    executor = Executor(frames, Limits(), max_isolates=8, max_flows=64)
    await open_frames(left, frames, executor.handle)
    got: list = []
    closed = await open_frames(right, FrameWriter(), got.append)
    loop = asyncio.get_running_loop()
    try:
        settled, running = loop.create_future(), loop.create_future()
        settled.set_result({"status": "failed"})
        jobs = [Job(7, "post-login", b"{}", loop.time() + 5, settled), Job(8, "post-login", b"{}", loop.time() + 5, running)]
        await loop.run_in_executor(None, executor._answer_now, [(job, {"status": "completed"}) for job in jobs])
        await _until(lambda: len(got) == 1, 5)
        await asyncio.sleep(0.2)
        assert got == [["done", 8, {"status": "completed"}]]
        assert executor.answered_early == 1
    finally:
        await executor.close()
        frames.close()
        await asyncio.wait_for(closed, 5)


async def test_a_wake_is_answered_at_once_also_with_jobs_waiting_but_never_for_a_retired_isolate() -> None:
    """Jobs waiting for the next step do not hold the answer back (the loop would start that step
    first, and on the executor's one core the answer would wait for it); a wake from an isolate
    taken out of service since answers nothing (its jobs were answered or run again)."""
    from sandbox.isolate import FlowIsolate, Job, runtime_source

    loop = asyncio.get_running_loop()
    answered: list = []
    flow = FlowIsolate(loop, runtime_source(), {"kind": "post-login", "actions": []}, Limits(), answer_now=answered.append)
    isolate = object()
    running = Job(1, "post-login", b"{}", loop.time() + 5, loop.create_future())
    waiting = Job(2, "post-login", b"{}", loop.time() + 5, loop.create_future())
    flow._isolate, flow._inside, flow._queued = isolate, {1: running}, [waiting]  # type: ignore[assignment]
    text = '{"done":[[1,{"status":"completed"}]],"io":[],"timer":-1,"seq":1}'
    out = flow._answer_early(isolate, text)  # type: ignore[arg-type]
    assert answered == [[(running, {"status": "completed"})]] and out["done"] == [[1, {"status": "completed"}]]
    flow._answer_early(object(), text)  # type: ignore[arg-type]
    assert len(answered) == 1

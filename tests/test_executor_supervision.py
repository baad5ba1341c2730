"""The supervisor replaces an executor that dies or stops answering (its in-flight executions
fail with platform_error, the other executor is untouched, service resumes), and leaves alone
an executor whose isolate merely spins (the isolate is recycled instead)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time

from conftest import LoopWatch, make_flow, payload, workload_event

# Waits for a timer when asked to (app_metadata.slow = ms), then sets a claim.
SLOW = """
exports.onExecutePostLogin = async (event, api) => {
  const ms = event.user.app_metadata.slow;
  if (ms) await new Promise((r) => setTimeout(r, ms));
  if (event.user.app_metadata.spin) { while (true) {} }
  api.idToken.setCustomClaim("https://example.com/done", true);
};
"""
DONE = ["idToken.setCustomClaim", "https://example.com/done", True]


def tenants_on(sandbox, flow, index: int, count: int, prefix: str) -> list[str]:
    """`count` tenants whose executions of `flow` go to executor `index`."""
    out = []
    for i in range(10_000):
        tenant = f"{prefix}-{i}"
        if sandbox.supervisor.executor_for(tenant, flow.key).index == index:
            out.append(tenant)
            if len(out) == count:
                return out
    raise AssertionError("no tenants map to that executor")


async def poll(condition, timeout: float, what: str, interval: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)


async def warm(sandbox, flow, tenants: list[str]) -> None:
    results = await asyncio.gather(*(sandbox.run(t, flow, payload()) for t in tenants))
    assert [r.status for r in results] == ["completed"] * len(tenants), [r.error for r in results]


def slow_payload(ms: int = 1500) -> bytes:
    return payload(workload_event(app_metadata={"slow": ms}))


def our_stopped_child(pid: int) -> bool:
    """True if `pid` is still a (stopped or running) child of this process."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return False
    state, ppid = fields[0], int(fields[1])
    return ppid == os.getpid() and state != "Z"


async def test_sigkilled_executor_fails_its_in_flight_executions_and_is_replaced(sandbox):
    supervisor = sandbox.supervisor
    flow = make_flow(SLOW)
    victims = tenants_on(sandbox, flow, 0, 3, "victim")
    others = tenants_on(sandbox, flow, 1, 3, "other")
    await warm(sandbox, flow, victims + others)
    victim_pid, other_pid = supervisor.executor_pids()
    replacements = supervisor.replacements

    with LoopWatch() as watch:
        victim_runs = [asyncio.create_task(sandbox.run(t, flow, slow_payload(), budget=10.0)) for t in victims]
        other_runs = [asyncio.create_task(sandbox.run(t, flow, slow_payload(), budget=10.0)) for t in others]
        await poll(lambda: supervisor.status()[0]["in_flight"] == 3, 2.0, "three executions in flight")
        await asyncio.sleep(0.2)  # let them reach their timers inside the isolates
        killed_at = time.monotonic()
        os.kill(victim_pid, signal.SIGKILL)

        lost = await asyncio.gather(*victim_runs)
        lost_after = time.monotonic() - killed_at
        for result in lost:
            assert result.status == "failed"
            assert result.error_class == "platform_error", result.error
            assert "exited" in result.error["message"], result.error
        # reported at once, not when their timers would have fired (or their budget ran out)
        assert lost_after < 1.0, lost_after

        # the other executor's executions are untouched
        for result in await asyncio.gather(*other_runs):
            assert result.status == "completed", result.error
            assert result.actions[0]["commands"] == [DONE]

        await poll(lambda: supervisor.executor_pids()[0] not in (None, victim_pid), 10.0, "a new executor")
    assert watch.worst < 0.1, f"the front end's event loop stalled for {watch.worst:.3f}s"
    assert supervisor.replacements == replacements + 1
    assert "exited" in supervisor.last_replacement_reason
    assert supervisor.status()[0]["restarts"] == 1
    assert supervisor.executor_pids()[1] == other_pid

    # the same flow runs again, on the new executor (which learns the flow afresh)
    again = await sandbox.run(victims[0], flow, payload(), budget=5.0)
    assert again.status == "completed", again.error
    assert again.actions[0]["commands"] == [DONE]
    assert supervisor.executor_for(victims[0], flow.key).pid == supervisor.executor_pids()[0]


async def test_spinning_isolate_is_recycled_without_replacing_its_executor(sandbox):
    supervisor = sandbox.supervisor
    flow = make_flow(SLOW)
    spinner, neighbour = tenants_on(sandbox, flow, 0, 2, "spin")
    await warm(sandbox, flow, [spinner, neighbour])
    pids = supervisor.executor_pids()
    replacements = supervisor.replacements
    recycles = supervisor.status()[0].get("recycles", 0)

    # a budget longer than the liveness timeout (3 s): the executor keeps answering pings
    # while one of its isolates spins
    budget = 4.0
    started = time.monotonic()
    spin = asyncio.create_task(sandbox.run(spinner, flow, payload(workload_event(app_metadata={"spin": True})),
                                           budget=budget))
    await asyncio.sleep(0.1)
    # the executor serves its other isolates meanwhile
    during = await sandbox.run(neighbour, flow, payload(), budget=2.0)
    assert during.status == "completed", during.error
    assert not spin.done()

    result = await spin
    elapsed = time.monotonic() - started
    assert result.status == "failed"
    assert result.error_class == "action_timeout", result.error
    assert "exceeded its time budget" in result.error["message"]
    assert elapsed < budget + 3.0, elapsed

    assert supervisor.executor_pids() == pids
    assert supervisor.replacements == replacements, supervisor.last_replacement_reason
    await poll(lambda: supervisor.status()[0].get("recycles", 0) > recycles, 3.0, "the executor to report a recycle")

    again = await sandbox.run(spinner, flow, payload(), budget=2.0)
    assert again.status == "completed", again.error
    assert again.actions[0]["commands"] == [DONE]
    assert supervisor.executor_pids() == pids


async def test_executor_that_stops_answering_is_killed_and_replaced(sandbox):
    supervisor = sandbox.supervisor
    liveness = supervisor.settings.liveness_timeout
    flow = make_flow(SLOW)
    victims = tenants_on(sandbox, flow, 0, 2, "frozen")
    others = tenants_on(sandbox, flow, 1, 2, "awake")
    await warm(sandbox, flow, victims + others)
    victim_pid, other_pid = supervisor.executor_pids()
    replacements = supervisor.replacements

    try:
        with LoopWatch() as watch:
            victim_runs = [asyncio.create_task(sandbox.run(t, flow, slow_payload(500), budget=10.0)) for t in victims]
            await poll(lambda: supervisor.status()[0]["in_flight"] == 2, 2.0, "two executions in flight")
            stopped_at = time.monotonic()
            os.kill(victim_pid, signal.SIGSTOP)

            # the other executor keeps serving while this one is frozen
            other_runs = await asyncio.gather(*(sandbox.run(t, flow, slow_payload(200), budget=5.0) for t in others))
            assert [r.status for r in other_runs] == ["completed"] * len(others)

            lost = await asyncio.gather(*victim_runs)
            lost_after = time.monotonic() - stopped_at
            for result in lost:
                assert result.status == "failed"
                assert result.error_class == "platform_error", result.error
                assert "did not answer" in result.error["message"], result.error
            # found by the liveness check, well before the executions' budget (10 s) ran out
            assert lost_after < liveness + 2.0, lost_after

            await poll(lambda: supervisor.executor_pids()[0] not in (None, victim_pid), 10.0, "a new executor")
        assert watch.worst < 0.1, f"the front end's event loop stalled for {watch.worst:.3f}s"
        assert supervisor.replacements == replacements + 1
        assert "did not answer" in supervisor.last_replacement_reason
        assert supervisor.executor_pids()[1] == other_pid
        # the frozen executor was killed and reaped, not left behind stopped
        assert not our_stopped_child(victim_pid)

        again = await asyncio.gather(*(sandbox.run(t, flow, payload(), budget=5.0) for t in victims))
        assert [r.status for r in again] == ["completed"] * len(victims), [r.error for r in again]
        assert all(r.actions[0]["commands"] == [DONE] for r in again)
    finally:
        if our_stopped_child(victim_pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(victim_pid, signal.SIGKILL)
                os.kill(victim_pid, signal.SIGCONT)


async def _isolates_on(handle, settle: float = 0.0) -> int:
    """The executor's isolate count from a pong to a ping sent after now (pings go out every
    watch interval; a freshly started executor answers its first one only once it is up)."""
    seq = handle.ping_seq
    deadline = time.monotonic() + 10.0
    while handle.pong_seq <= seq and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    await asyncio.sleep(settle)
    return handle.stats["isolates"]


async def test_a_prepared_flow_has_its_isolate_started_before_its_first_execution(sandbox):
    """After a deploy the server prepares the new flow: its executor starts the isolate (a spare
    takes the flow's install) before any execution asks for it, and the first execution uses it."""
    flow = make_flow(SLOW)
    tenant = "t-prepare"
    handle = sandbox.supervisor.executor_for(tenant, flow.key)
    before = await _isolates_on(handle)
    sandbox.prepare(tenant, flow)
    assert await _isolates_on(handle, settle=0.2) == before + 1
    result = await sandbox.run(tenant, flow, payload(workload_event()), budget=5.0)
    assert result.status == "completed", result.error
    assert result.actions[0]["commands"] == [DONE]
    assert await _isolates_on(handle) == before + 1  # the prepared isolate ran it: no second one

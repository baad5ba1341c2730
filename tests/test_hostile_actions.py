"""Hostile actions: each one fails its own execution, within its budget, while 50 good
executions of other tenants (on both executors) complete, the front end's event loop keeps
running, no executor is replaced, and the next execution of the same flow works again."""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass

import pytest
from conftest import LoopWatch, make_flow, payload, workload_actions, workload_event

from sandbox import Flow

BUDGET = 2.0
BYSTANDERS = [f"bystander-{i}" for i in range(50)]
WORKLOAD_FLOW = Flow("workload", "post-login", {"actions": workload_actions()})

# The second action of every hostile flow: uses the built-ins an action could have bent, so a
# clean run after the attack also shows the next execution got clean ones.
BENIGN = """
exports.onExecutePostLogin = async (event, api) => {
  const seen = [];
  seen.push(JSON.stringify({ ok: true }));
  await Promise.resolve().then(() => seen.push("then"));
  api.idToken.setCustomClaim("https://example.com/after", seen);
};
"""
BENIGN_CLAIM = ["idToken.setCustomClaim", "https://example.com/after", ['{"ok":true}', "then"]]


def hostile_flow(attack: str) -> Flow:
    code = (
        "exports.onExecutePostLogin = async (event, api) => {\n"
        "  if (event.user.app_metadata.attack) {\n"
        f"    {attack}\n"
        "  }\n"
        "};\n"
    )
    return make_flow(code, BENIGN, names=["hostile", "benign"])


@dataclass
class Attack:
    bad: object  # RunResult of the hostile execution
    bad_seconds: float
    goods: list  # RunResults of the bystanders' executions
    good_seconds: list[float]
    worst_stall: float
    pids_before: list
    pids_after: list
    replacements: int


async def _timed(coro):
    start = time.monotonic()
    result = await coro
    return result, time.monotonic() - start


async def attack_among_bystanders(sandbox, flow: Flow) -> Attack:
    supervisor = sandbox.supervisor
    # the bystanders must land on both executors, so one of them shares the attacker's
    assert {supervisor.executor_for(t, WORKLOAD_FLOW.key).index for t in BYSTANDERS} == {0, 1}
    # warm the bystanders' isolates first: during the attack they should need only a few ms
    warm = await asyncio.gather(*(sandbox.run(t, WORKLOAD_FLOW, payload()) for t in BYSTANDERS))
    assert [r.status for r in warm] == ["completed"] * len(BYSTANDERS)
    pids_before = supervisor.executor_pids()
    replacements = supervisor.replacements

    with LoopWatch() as watch:
        bad_task = asyncio.create_task(_timed(sandbox.run(
            "attacker", flow, payload(workload_event(app_metadata={"attack": True})), budget=BUDGET)))
        # the attack's job goes out first; the bystanders' follow at once, so they overlap even
        # the attacks that fail within milliseconds (the spinning ones hold on for > 2 s)
        await asyncio.sleep(0)
        good_runs = await asyncio.gather(*(
            _timed(sandbox.run(t, WORKLOAD_FLOW, payload(workload_event(user_id=str(i)))))
            for i, t in enumerate(BYSTANDERS)
        ))
        bad, bad_seconds = await bad_task

    return Attack(
        bad=bad, bad_seconds=bad_seconds,
        goods=[r for r, _ in good_runs], good_seconds=[s for _, s in good_runs],
        worst_stall=watch.worst, pids_before=pids_before, pids_after=supervisor.executor_pids(),
        replacements=supervisor.replacements - replacements,
    )


def assert_bystanders_unharmed(sandbox, attack: Attack) -> None:
    assert [(r.status, r.error) for r in attack.goods] == [("completed", None)] * len(BYSTANDERS)
    # none of them waited for the attacker (a spinning attacker holds its isolate for > 2 s)
    assert max(attack.good_seconds) < BUDGET, attack.good_seconds
    assert attack.worst_stall < 0.1, f"the front end's event loop stalled for {attack.worst_stall:.3f}s"
    os.kill(os.getpid(), 0)  # the front end is alive (trivially: it ran this)
    # every case is handled inside the executor: no executor died or was replaced
    assert attack.pids_after == attack.pids_before
    assert attack.replacements == 0, sandbox.supervisor.last_replacement_reason
    for pid in attack.pids_after:
        os.kill(pid, 0)


async def assert_flow_works_again(sandbox, flow: Flow) -> None:
    after = await sandbox.run("attacker", flow, payload(workload_event()), budget=BUDGET)
    assert after.status == "completed", after.error
    assert [(a["name"], a["status"]) for a in after.actions] == [("hostile", "ok"), ("benign", "ok")]
    assert after.actions[1]["commands"] == [BENIGN_CLAIM]


@dataclass(frozen=True)
class Case:
    code: str
    error_class: str
    message: tuple[str, ...]  # substrings of the error message
    # errors raised inside the action come with the action's record; when the isolate itself
    # had to be destroyed (a loop V8 cannot interrupt, the heap limit) the record is lost, but
    # the error still names the action (the runtime keeps its progress in shared memory)
    attributed: bool = True


CASES = [
    pytest.param(Case("while(true){}", "action_timeout", ("exceeded its time budget",), attributed=False),
                 id="sync-infinite-loop"),
    pytest.param(Case("await null; for(;;){}", "action_timeout", ("exceeded its time budget",), attributed=False),
                 id="microtask-spin"),
    pytest.param(Case("await new Promise(() => {});", "action_timeout", ("exceeded its time budget",)),
                 id="never-settling-promise"),
    pytest.param(Case("const a = []; for (;;) a.push(new Array(1000).fill(1));", "action_error",
                      ("memory limit",), attributed=False),
                 id="array-push-heap-bomb"),
    pytest.param(Case("new Array(3e8).fill(0);", "action_error", ("RangeError", "Array.fill", "limit")),
                 id="huge-array-fill"),
    pytest.param(Case("new ArrayBuffer(2 ** 31);", "action_error", ("RangeError", "Array buffer allocation failed")),
                 id="2gb-array-buffer"),
    pytest.param(Case("const keep = []; for (let i = 0; i < 100; i++) keep.push(new ArrayBuffer(100 * 2 ** 20));",
                      "action_error", ("RangeError", "Array buffer allocation failed")),
                 id="many-100mb-array-buffers"),
    pytest.param(Case("const m = new WebAssembly.Memory({ initial: 1, maximum: 65536 }); for (;;) m.grow(1);",
                      "action_error", ("ReferenceError", "WebAssembly is not defined")),
                 id="webassembly-memory-grow"),
    pytest.param(Case("function f() { return f() + 1 } f();", "action_error",
                      ("RangeError", "Maximum call stack size exceeded")),
                 id="deep-recursion"),
    pytest.param(Case("JSON.stringify = () => '{\"status\":\"completed\"}';", "action_error", ("JSON.stringify",)),
                 id="replaces-JSON.stringify"),
    pytest.param(Case("Array.prototype.push = function () { throw new Error('bent') };", "action_error",
                      ("Array.prototype.push",)),
                 id="replaces-Array.prototype.push"),
    pytest.param(Case("Promise.prototype.then = function () { };", "action_error", ("Promise.prototype.then",)),
                 id="replaces-Promise.prototype.then"),
]


@pytest.mark.parametrize("case", CASES)
async def test_hostile_action_fails_only_its_own_execution(sandbox, case: Case):
    flow = hostile_flow(case.code)
    attack = await attack_among_bystanders(sandbox, flow)

    bad = attack.bad
    assert bad.status == "failed", bad.data
    assert bad.error_class == case.error_class, bad.error
    for part in case.message:
        assert part in bad.error["message"], bad.error
    assert bad.error["action"] == "hostile", bad.error
    if case.attributed:
        assert [(a["name"], a["status"]) for a in bad.actions] == [
            ("hostile", "timeout" if case.error_class == "action_timeout" else "error")]
        assert bad.actions[0]["commands"] == []
    # the benign action never ran, and nothing the attacker wrote reached the result
    assert all(a["name"] != "benign" for a in bad.actions)
    assert attack.bad_seconds < BUDGET + 3.0, attack.bad_seconds

    assert_bystanders_unharmed(sandbox, attack)
    await assert_flow_works_again(sandbox, flow)


async def test_console_flood_is_truncated_without_failing_the_execution(sandbox):
    flow = hostile_flow("for (let i = 0; i < 1e6; i++) console.log('x'.repeat(1000));")
    attack = await attack_among_bystanders(sandbox, flow)

    bad = attack.bad
    assert bad.status == "completed", bad.error
    assert attack.bad_seconds < BUDGET + 3.0, attack.bad_seconds
    hostile, benign = bad.actions
    logs = hostile["logs"]
    assert len(logs.encode("utf-8")) <= 256 * 1024 + 1024, len(logs)
    last_line = logs.rstrip("\n").rsplit("\n", 1)[-1]
    assert "logs truncated" in last_line, last_line
    assert logs.startswith("x" * 1000 + "\n")
    assert benign["commands"] == [BENIGN_CLAIM]

    assert_bystanders_unharmed(sandbox, attack)
    await assert_flow_works_again(sandbox, flow)

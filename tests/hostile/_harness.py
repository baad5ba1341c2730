"""What every hostile-action test in this directory measures around its attack.

An attack runs (once or in a loop) while a bystander tenant runs the standard workload flow
sequentially on the *other* executor. Every test then checks, besides its own expected outcome:

- the server stays healthy: executor pids unchanged and no executor replaced (unless the test is
  about a process-level limit);
- the bystander was unharmed and saw nothing of the attacker: every one of its executions
  completed with exactly the commands and logs of its baseline, without any attacker marker;
- the bystander's p99 latency while the attack runs is at most
  max(2 x baseline p99, baseline p99 + 5 ms).

  Why the floor: the machine running the suite is a noisy 2-core VM where a bystander execution
  takes well under a millisecond, so its baseline p99 is ~1-2 ms and a single scheduler hiccup
  (another process, a GC in the test process itself) adds a few ms that has nothing to do with
  the attack. A doubling of a 1 ms p99 is noise; 5 ms on top of it is not. Each phase runs at
  least ~100 sequential executions, so p99 is the second-worst sample of a phase of 100. The
  machine is shared with other work, so a measurement over its limit is taken again (baseline
  and attack both, up to 3 times; see run_attack): a slowdown the attack causes repeats.
- the front end's event loop (LoopWatch) never stalls for 100 ms or more while the attack runs.
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from conftest import LoopWatch, make_flow, payload, workload_actions, workload_event

from sandbox import Flow

ATTACKER = "attacker-tenant"
# attacker data that must never reach anyone else
ATTACKER_MARK = "ATTACKER-MARK-7f3a"
BYSTANDER_FLOW = Flow("hostile-suite-bystander", "post-login", {"actions": workload_actions()})
BYSTANDER_EVENT = workload_event(user_id="bystander-1", email="bystander@example.com")

BASELINE_RUNS = 100
DURING_RUNS = 100
# bystanders keep running until the attack ends, but never longer than this
DURING_CAP_SECONDS = 15.0
P99_FLOOR_SECONDS = 0.005
# the front end's event loop serves every tenant: an attack must not hold it up
MAX_LOOP_STALL = 0.1


def p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]


def attack_event(user_id: str = "attacker-user", **user: Any) -> dict[str, Any]:
    return workload_event(user_id=user_id, email=f"{user_id}@attacker.example", **user)


def attack_payload(user_id: str = "attacker-user", attack: bool = True, **user: Any) -> bytes:
    """The attacker's own login: app_metadata.attack switches gated() code on."""
    if attack:
        user.setdefault("app_metadata", {}).setdefault("attack", True)
    return payload(attack_event(user_id, **user))


def action(body: str, prelude: str = "") -> str:
    """An action whose handler body is `body` (event and api in scope), after module-scope
    `prelude`."""
    return prelude + "\nexports.onExecutePostLogin = async (event, api) => {\n" + body + "\n};\n"


def gated(attack: str, prelude: str = "", otherwise: str = "") -> str:
    """An action that runs `attack` only for executions whose event carries
    app_metadata.attack (see `attack_payload`), and `otherwise` for everyone else."""
    return action("if (event.user.app_metadata.attack) {\n" + attack + "\n} else {\n" + otherwise + "\n}", prelude)


# The second action of every attack flow: uses the built-ins an attack could have bent, so a
# clean run after the attack shows the next execution got clean ones.
BENIGN = action("""
  const seen = [];
  seen.push(JSON.stringify({ ok: true, admin: ({}).isAdmin === undefined ? "no" : "POLLUTED" }));
  await Promise.resolve().then(() => seen.push("then"));
  seen.push([3, 1, 2].map((x) => x * 2).includes(6) && ![1, 2].includes(3) ? "array-ok" : "ARRAY-BENT");
  api.idToken.setCustomClaim("https://example.com/after", seen);
""")
BENIGN_CLAIM = ["idToken.setCustomClaim", "https://example.com/after", ['{"ok":true,"admin":"no"}', "then", "array-ok"]]


def attack_flow(*codes: str, benign: bool = True, names: list[str] | None = None) -> Flow:
    """A flow of `codes` (named "hostile", or `names`) followed by BENIGN when `benign`."""
    names = names or [f"hostile_{i + 1}" if len(codes) > 1 else "hostile" for i in range(len(codes))]
    if benign:
        return make_flow(*codes, BENIGN, names=[*names, "benign"])
    return make_flow(*codes, names=names)


def bystander_tenant(sandbox, attacker_tenant: str, flow: Flow) -> str:
    """A bystander tenant whose workload flow runs on the other executor than the attack."""
    supervisor = sandbox.supervisor
    attacked = supervisor.executor_for(attacker_tenant, flow.key).index
    for i in range(1000):
        tenant = f"bystander-{i}"
        if supervisor.executor_for(tenant, BYSTANDER_FLOW.key).index != attacked:
            return tenant
    raise AssertionError("no bystander tenant lands on the other executor")


def _comparable(result) -> Any:
    data = orjson.loads(result.json())
    for a in data.get("actions", []):
        for k in ("started_at", "ended_at", "duration_ms"):
            a.pop(k, None)
    return data


@dataclass
class Attempt:
    baseline: list[float] = field(default_factory=list)
    during: list[float] = field(default_factory=list)
    worst_stall: float = 0.0

    @property
    def limit(self) -> float:
        base = p99(self.baseline)
        return max(2 * base, base + P99_FLOOR_SECONDS)

    @property
    def ok(self) -> bool:
        return p99(self.during) <= self.limit and self.worst_stall < MAX_LOOP_STALL

    def summary(self) -> str:
        return (f"bystander p99 baseline {p99(self.baseline) * 1e3:.2f} ms, during {p99(self.during) * 1e3:.2f} ms "
                f"(limit {self.limit * 1e3:.2f} ms; {len(self.during)} runs, max {max(self.during) * 1e3:.1f} ms), "
                f"worst loop stall {self.worst_stall * 1e3:.1f} ms")


@dataclass
class Outcome:
    results: list[Any] = field(default_factory=list)  # what each attack round returned
    seconds: list[float] = field(default_factory=list)  # each round's wall time
    attempts: list[Attempt] = field(default_factory=list)
    # bystander results that differed from the reference or carried attacker data (checked as
    # they come in: keeping thousands of results would make the test process itself pause)
    bystander_problems: list[str] = field(default_factory=list)
    bystander_runs: int = 0
    reference: Any = None
    pids_before: list = field(default_factory=list)
    pids_after: list = field(default_factory=list)
    replacements: int = 0
    replacement_reason: str = ""

    @property
    def result(self):
        return self.results[0]

    def summary(self) -> str:
        return f"attack rounds {len(self.results)}; " + " | ".join(a.summary() for a in self.attempts)


async def _bystander_run(sandbox, tenant: str):
    start = time.monotonic()
    result = await sandbox.run(tenant, BYSTANDER_FLOW, payload(BYSTANDER_EVENT))
    return result, time.monotonic() - start


# attacker (and victim) data that must never reach the bystander
_MARKS = (ATTACKER_MARK, "attacker.example", "victim.person")


def _check_bystander(out: "Outcome", result) -> None:
    out.bystander_runs += 1
    if len(out.bystander_problems) >= 5:
        return
    if _comparable(result) != out.reference:
        out.bystander_problems.append(f"bystander result differs from its baseline: {result.data}")
        return
    text = result.json().decode()
    for mark in _MARKS:
        if mark in text:
            out.bystander_problems.append(f"attacker data {mark!r} reached the bystander: {text[:500]}")


async def run_attack(
    sandbox,
    attack: Callable[[int], Awaitable[Any]],
    *,
    flow: Flow,
    attacker_tenant: str = ATTACKER,
    min_rounds: int = 1,
    max_rounds: int = 1,
    attempts: int = 3,
) -> Outcome:
    """Run `attack(round)` between `min_rounds` and `max_rounds` times (sequentially) while a
    bystander on the other executor runs the workload; `flow` is the attack's flow (to place the
    bystander). Returns everything the checks below need.

    The suite shares a 2-core VM with whatever else runs on it, so one measurement can catch a
    burst of outside load. An attempt whose bystander p99 or loop stall is over its limit is
    measured again -- baseline and attack both -- up to `attempts` times: a slowdown the attack
    causes repeats every time, outside noise rarely does. (Attacks that destroy their isolate
    pass attempts=2 at most: three destroyed sandboxes in a minute quarantine the flow.)"""
    out = Outcome()
    tenant = bystander_tenant(sandbox, attacker_tenant, flow)
    for _ in range(5):  # warm: isolate built, module scope loaded
        first, _ = await _bystander_run(sandbox, tenant)
    assert first.status == "completed", first.data
    out.reference = _comparable(first)
    supervisor = sandbox.supervisor
    out.pids_before = supervisor.executor_pids()
    replacements = supervisor.replacements
    rounds = 0

    for _ in range(attempts):
        attempt = Attempt()
        out.attempts.append(attempt)
        for _ in range(BASELINE_RUNS):
            result, seconds = await _bystander_run(sandbox, tenant)
            attempt.baseline.append(seconds)
            _check_bystander(out, result)
        bystanders_done = asyncio.Event()

        async def attacker() -> None:
            nonlocal rounds
            for i in range(max_rounds):
                if i >= min_rounds and bystanders_done.is_set():
                    break
                start = time.monotonic()
                out.results.append(await attack(rounds))
                rounds += 1
                out.seconds.append(time.monotonic() - start)

        with LoopWatch() as watch:
            attack_task = asyncio.create_task(attacker())
            await asyncio.sleep(0)  # the attack's first job goes out before the bystanders'
            started = time.monotonic()
            while ((len(attempt.during) < DURING_RUNS or not attack_task.done())
                   and time.monotonic() - started < DURING_CAP_SECONDS):
                result, seconds = await _bystander_run(sandbox, tenant)
                attempt.during.append(seconds)
                _check_bystander(out, result)
                if len(attempt.during) >= DURING_RUNS:
                    bystanders_done.set()  # the attack may stop after min_rounds
            await attack_task
        attempt.worst_stall = watch.worst
        if attempt.ok:
            break
    out.pids_after = supervisor.executor_pids()
    out.replacements = supervisor.replacements - replacements
    out.replacement_reason = supervisor.last_replacement_reason
    return out


def assert_healthy(sandbox, out: Outcome, *, replaced_ok: bool = False) -> None:
    """The server stayed healthy and the bystander was neither slowed down nor shown anything."""
    assert not out.bystander_problems, "\n".join(out.bystander_problems)
    assert out.bystander_runs >= BASELINE_RUNS + DURING_RUNS
    if not replaced_ok:
        assert out.pids_after == out.pids_before, out.replacement_reason
        assert out.replacements == 0, out.replacement_reason
    for pid in out.pids_after:
        assert pid is not None
        os.kill(pid, 0)
    # the best attempt decides (see run_attack): every one of them failing is the attack's doing
    best = min(out.attempts, key=lambda a: (not a.ok, p99(a.during) - a.limit))
    assert best.worst_stall < MAX_LOOP_STALL, f"front end's event loop stalled: {out.summary()}"
    assert p99(best.during) <= best.limit, f"bystander slowed down: {out.summary()}"


async def assert_flow_works_again(sandbox, flow: Flow, tenant: str = ATTACKER, *, event: dict | None = None) -> Any:
    """The attack's flow, run for an ordinary user without the attack, completes cleanly and its
    benign action sees clean built-ins."""
    result = await sandbox.run(tenant, flow, payload(event or workload_event(user_id="after-attack")), budget=5.0)
    assert result.status == "completed", result.data
    assert result.actions[-1]["name"] == "benign"
    assert result.actions[-1]["commands"] == [BENIGN_CLAIM], result.actions[-1]
    return result


def assert_rounds_alike(out: Outcome) -> None:
    """A repeated attack got the same outcome every time (timings aside)."""
    first = _comparable(out.results[0])
    for result in out.results[1:]:
        assert _comparable(result) == first, (first, result.data)

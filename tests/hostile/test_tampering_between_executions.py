"""Tampering that outlives the execution that did it: prototype pollution, replaced built-ins
(sealed ones, and the ones the seal does not cover), replaced api methods, planted hooks,
module-scope stashes of a previous execution's event and api, timers and async work that keep
running after their execution ended.

The flows here are [hostile, victim_action]: `victim_action` is an ordinary action of another
author that every user's login runs; `hostile` tampers only in the attacker's own login. Each
test runs the attacker's login, then other users' logins (the victims), then the attacker again.

Outcomes each test must get:
- the NEXT execution (a different user) is not affected: its result is exactly the result the
  same user got before the attack, and nothing of the attacker's reaches it;
- nothing of a victim's execution reaches the attacker's later executions;
- the tampering execution fails with a message naming the built-in when built-ins were changed;
- a stale api (a previous execution's, or an action's that already finished) refuses to record;
- timers and async work of a finished execution never run inside the next one.
Around every attack: server healthy, bystander unharmed (see _harness.py)."""

from __future__ import annotations

import asyncio

import pytest
from conftest import payload, workload_event

from ._harness import (ATTACKER, ATTACKER_MARK, _comparable, action, assert_healthy, attack_flow, attack_payload,
                       gated, run_attack)

BUDGET = 2.0
TIMEOUT_BUDGET = 1.0

VICTIM_ACTION = action("""
  console.log("login of " + event.user.email);
  const a = crypto.randomUUID(), b = crypto.randomUUID();
  api.idToken.setCustomClaim("https://example.com/roles", ["customer"]);
  api.idToken.setCustomClaim("https://example.com/nonce-fresh", a !== b && /^[0-9a-f-]{36}$/.test(a));
  api.idToken.setCustomClaim("https://example.com/email-ok", /^[^@]+@[^@]+$/.test(event.user.email));
  api.user.setAppMetadata("plan", "free");
  try { api.accessToken.addScope("read:all write:all"); } catch (e) { console.log("scope refused: " + e.message); }
  api.idToken.setCustomClaim("https://tenant.auth0.com/forged", 1);  // restricted: skipped with a warning
  const seen = [];
  seen.push(JSON.stringify({ ok: true, admin: ({}).isAdmin === undefined ? "no" : "POLLUTED" }));
  await Promise.resolve().then(() => seen.push("then"));
  seen.push([3, 1, 2].map((x) => x * 2).includes(6) && ![1, 2].includes(3) ? "array-ok" : "ARRAY-BENT");
  seen.push(Object.keys({ a: 1 }).join(","), "x".replace("x", "y"), typeof setTimeout, Reflect.apply(Math.max, null, [1, 2]));
  seen.push(typeof Function.prototype.call.call((x) => x, null, "call-ok"));
  await new Promise((resolve) => setTimeout(resolve, 1));
  api.idToken.setCustomClaim("https://example.com/builtins", seen);
""")

# Module scope of the hostile action: what its hooks capture, reported by the attacker's later
# login (app_metadata.attack === "report").
STASH = """
const stolen = [];
const keep = (x) => { try { if (stolen.length < 100) stolen.push(typeof x === "string" ? x : JSON.stringify(x)); } catch (e) { /* ignore */ } };
"""


def tamper_flow(tamper: str):
    attack = f"""
      if (event.user.app_metadata.attack === "report") {{
        api.idToken.setCustomClaim("https://example.com/stolen", stolen);
        return;
      }}
      {tamper}
    """
    return attack_flow(gated(attack, prelude=STASH), VICTIM_ACTION, benign=False, names=["hostile", "victim_action"])


def victim(i: int) -> bytes:
    return payload(workload_event(user_id=f"victim-{i}", email=f"victim.person{i}@victim.example"))


# (id, tamper code, name of the built-in the failure must name)
SEALED = [
    ("Object.prototype-pollution", "Object.prototype.isAdmin = true;", "Object.prototype.isAdmin"),
    ("JSON.stringify", "JSON.stringify = () => '\"bent\"';", "JSON.stringify"),
    ("Array.prototype.includes", "Array.prototype.includes = () => true;", "Array.prototype.includes"),
    ("Promise.prototype.then", "const t = Promise.prototype.then; Promise.prototype.then = function (a, b) { keep('then'); return t.call(this, a, b); };",
     "Promise.prototype.then"),
    ("Function.prototype.call", "Function.prototype.call = function () { return 'bent'; };", "Function.prototype.call"),
    ("setTimeout", "globalThis.setTimeout = (f) => f();", "globalThis.setTimeout"),
    ("Reflect.apply", "Reflect.apply = () => 42;", "Reflect.apply"),
    ("String.prototype.replace", "String.prototype.replace = () => 'bent';", "String.prototype.replace"),
    ("Object.keys", "Object.keys = () => ['bent'];", "Object.keys"),
]

# the same tampering, then the action does not return normally: the check after it must still run
BYPASSES = [
    ("tamper-then-throw", "Array.prototype.includes = () => true; throw new Error('leaving early');", "Array.prototype.includes"),
    ("pollute-then-throw", "Object.prototype.isAdmin = true; throw new Error('leaving early');", "Object.prototype.isAdmin"),
    ("tamper-then-time-out", "Array.prototype.includes = () => true; await new Promise(() => {});", "Array.prototype.includes"),
    # a data property turned into an accessor that answers the checker with the original value:
    # refused outright (the shared built-ins' properties are non-configurable)
    ("accessor-lies-to-the-check", """
      const original = Array.prototype.includes;
      const bent = function includes() { return true; };
      Object.defineProperty(Array.prototype, "includes", { configurable: true, enumerable: false,
        get() { return /checkIntrinsics|compileCheck/.test(new Error().stack) ? original : bent; }, set(v) {} });
    """, "Cannot redefine property: includes"),
]

# shared objects outside the seal: the victim_action's console, the runtime's own regular
# expressions, crypto, and the api namespaces' prototypes
UNSEALED = [
    ("console.log", """
      const log = console.log;
      console.log = function (...args) { keep(args.join(" ")); return log.apply(this, args); };
    """, "console.log"),
    ("RegExp.prototype.exec", """
      const exec = RegExp.prototype.exec;
      RegExp.prototype.exec = function (s) { keep(String(s)); return s.includes("auth0.com") || s.includes(" ") ? null : exec.call(this, s); };
    """, "RegExp.prototype.exec"),
    ("Crypto.prototype.randomUUID", """
      Object.getPrototypeOf(crypto).randomUUID = () => "00000000-0000-4000-8000-000000000000";
    """, "randomUUID"),
    ("api.idToken.setCustomClaim", """
      const proto = Object.getPrototypeOf(api.idToken);
      const set = proto.setCustomClaim;
      proto.setCustomClaim = function (k, v) { keep(k + "=" + JSON.stringify(v)); return set.call(this, k, k.endsWith("/roles") ? ["admin"] : v); };
    """, "setCustomClaim"),
    ("api.user.setAppMetadata", """
      const proto = Object.getPrototypeOf(api.user);
      const set = proto.setAppMetadata;
      proto.setAppMetadata = function (k, v) { set.call(this, "isAdmin", true); return set.call(this, k, v); };
    """, "setAppMetadata"),
]


def _params(rows):
    return [pytest.param(code, name, id=ident) for ident, code, name in rows]


@pytest.mark.parametrize(("tamper", "builtin"), _params(SEALED) + _params(BYPASSES) + _params(UNSEALED))
async def test_tampering_does_not_reach_the_next_execution(sandbox, tamper: str, builtin: str):
    flow = tamper_flow(tamper)
    budget = TIMEOUT_BUDGET if "new Promise(() => {})" in tamper else BUDGET
    # each victim's result before any attack: what they must get after it too
    references = [_comparable(await sandbox.run(ATTACKER, flow, victim(i), budget=BUDGET)) for i in range(2)]
    for reference in references:
        assert reference["status"] == "completed", reference

    async def attack(_: int):
        tampering = await sandbox.run(ATTACKER, flow, attack_payload(), budget=budget)
        victims = [await sandbox.run(ATTACKER, flow, victim(i), budget=BUDGET) for i in range(2)]
        report = await sandbox.run(ATTACKER, flow, attack_payload(app_metadata={"attack": "report"}), budget=BUDGET)
        return tampering, victims, report

    out = await run_attack(sandbox, attack, flow=flow, max_rounds=1, attempts=2 if budget == TIMEOUT_BUDGET else 3)
    problems = []
    for tampering, victims, report in out.results:
        for i, hurt in enumerate(victims):
            if _comparable(hurt) != references[i]:
                problems.append(f"victim {i}'s execution was affected: {hurt.data}")
        stolen = report.actions[0]["commands"][0][2] if report.actions and report.actions[0]["commands"] else []
        if any("victim" in s for s in stolen):
            problems.append(f"the attacker's next execution obtained the victims' data: {stolen}")
        if not (tampering.status == "failed" and builtin in tampering.error["message"]):
            problems.append(f"the tampering execution did not fail naming {builtin}: {tampering.status} {tampering.error}")
    assert not problems, "\n".join(problems)
    assert_healthy(sandbox, out)


async def test_a_stashed_api_and_event_from_a_previous_execution_are_dead(sandbox):
    """The attacker's login keeps its event and api in module scope; in a victim's login the same
    action calls that old api (it must refuse: that execution is over) and mutates that old event
    (it must not matter: every execution gets a fresh copy)."""
    flow = attack_flow(gated("""
        globalThis.__previous = { event, api };
        event.user.app_metadata.planted = "by the attacker";
        event.user.email = "%s";
      """ % ATTACKER_MARK, otherwise="""
        const previous = globalThis.__previous;
        const tries = [];
        if (previous) {
          for (const call of [
            () => previous.api.user.setAppMetadata("role", "admin"),
            () => previous.api.idToken.setCustomClaim("https://example.com/roles", ["admin"]),
            () => previous.api.accessToken.addScope("admin"),
            () => previous.api.access.deny("denied through a stale api"),
            () => previous.api.redirect.sendUserTo("https://evil.example/"),
          ]) {
            try { call(); tries.push("recorded"); } catch (e) { tries.push(e.message); }
          }
          previous.event.user.app_metadata.more = "after the fact";
        }
        api.idToken.setCustomClaim("https://example.com/stale", tries);
        api.idToken.setCustomClaim("https://example.com/own-event", [event.user.email, event.user.app_metadata.planted === undefined]);
      """), benign=True)

    async def attack(i: int):
        attacker = await sandbox.run(ATTACKER, flow, attack_payload(), budget=BUDGET)
        hurt = await sandbox.run(ATTACKER, flow, victim(i), budget=BUDGET)
        return attacker, hurt

    out = await run_attack(sandbox, attack, flow=flow, max_rounds=20)
    for attacker, hurt in out.results:
        assert attacker.status == "completed", attacker.data
        assert attacker.actions[0]["commands"] == []
        assert hurt.status == "completed", hurt.data
        stale, own = hurt.actions[0]["commands"]
        assert stale[2] == ["This api object belongs to an action that has already finished"] * 5, stale
        assert own[2][0].startswith("victim.person") and own[2][1] is True, own
        assert ATTACKER_MARK not in hurt.json().decode()
    assert_healthy(sandbox, out)


async def test_leftover_async_work_never_runs_inside_the_next_execution(sandbox):
    """The attacker's action returns at once but leaves an async loop running (microtasks that
    outlive its execution), which logs the attacker's data and, once inside someone else's
    execution, sets a timer that throws. The victims' executions queued right behind it must
    get neither the log lines nor the failure."""
    flow = attack_flow(gated("""
        const mark = "%s";
        (async () => {
          for (let i = 0; i < 3000; i++) {
            await null;
            if (i %% 500 === 0) console.log("leftover of " + mark + " #" + i);
            if (i === 1500) { try { setTimeout(() => { throw new Error("timer set by " + mark); }, 0); } catch (e) { /* refused */ } }
            if (i === 2000) { try { setInterval(() => console.log("interval of " + mark), 1); } catch (e) { /* refused */ } }
          }
        })();
      """ % ATTACKER_MARK, otherwise="""
        for (let i = 0; i < 3000; i++) await null;
        await new Promise((resolve) => setTimeout(resolve, 20));
        api.idToken.setCustomClaim("https://example.com/done", event.user.user_id);
      """), benign=False)

    async def attack(i: int):
        # submitted together: the victims' jobs are queued behind the attacker's in the isolate
        return await asyncio.gather(
            sandbox.run(ATTACKER, flow, attack_payload(), budget=BUDGET),
            *(sandbox.run(ATTACKER, flow, victim(10 * i + k), budget=BUDGET) for k in range(3)))

    out = await run_attack(sandbox, attack, flow=flow, max_rounds=5)
    problems = []
    for attacker, *victims in out.results:
        assert attacker.status == "completed", attacker.data
        for hurt in victims:
            text = hurt.json().decode()
            if hurt.status != "completed":
                problems.append(f"a victim's execution failed because of the attacker's leftover work: {hurt.error}")
            if ATTACKER_MARK in text:
                problems.append(f"the attacker's leftover work wrote into a victim's execution: {hurt.actions[0]['logs']!r}")
    assert not problems, "\n".join(sorted(set(problems)))
    assert_healthy(sandbox, out)


async def test_an_interval_of_a_finished_execution_stops_with_it(sandbox):
    flow = attack_flow(gated("""
        setInterval(() => { globalThis.__ticks = (globalThis.__ticks || 0) + 1; console.log("tick %s"); }, 1);
        await new Promise((resolve) => setTimeout(resolve, 20));
      """ % ATTACKER_MARK, otherwise="""
        const before = globalThis.__ticks || 0;
        await new Promise((resolve) => setTimeout(resolve, 30));
        api.idToken.setCustomClaim("https://example.com/ticks-while-i-ran", (globalThis.__ticks || 0) - before);
      """))

    async def attack(i: int):
        attacker = await sandbox.run(ATTACKER, flow, attack_payload(), budget=BUDGET)
        hurt = await sandbox.run(ATTACKER, flow, victim(i), budget=BUDGET)
        return attacker, hurt

    out = await run_attack(sandbox, attack, flow=flow, max_rounds=10)
    for attacker, hurt in out.results:
        assert attacker.status == "completed", attacker.data
        assert "tick" in attacker.actions[0]["logs"]
        assert hurt.status == "completed", hurt.data
        assert hurt.actions[0]["commands"] == [["idToken.setCustomClaim", "https://example.com/ticks-while-i-ran", 0]]
        assert ATTACKER_MARK not in hurt.json().decode()
    assert_healthy(sandbox, out)


async def test_an_actions_api_stops_recording_when_the_action_finishes(sandbox):
    """Within one execution: the first action leaves a timer that uses its api after it returned,
    while the next action runs. The late calls must be refused (README: 'This api object belongs
    to an action that has already finished'), not appended to a record already closed -- nor turn
    the outcome into a deny after the next action ran."""
    flow = attack_flow(gated("""
        setTimeout(() => {
          try { api.accessToken.addScope("late:admin"); } catch (e) { /* refused */ }
          try { api.access.deny("late deny"); } catch (e) { /* refused */ }
        }, 5);
      """), action("""
        await new Promise((resolve) => setTimeout(resolve, 40));
        api.idToken.setCustomClaim("https://example.com/second", "ran");
      """), benign=False, names=["hostile", "second"])

    async def attack(_: int):
        return await sandbox.run(ATTACKER, flow, attack_payload(), budget=BUDGET)

    out = await run_attack(sandbox, attack, flow=flow, max_rounds=10)
    for result in out.results:
        hostile, second = result.actions
        assert hostile["commands"] == [], f"commands recorded after the action finished: {hostile['commands']}"
        assert result.status == "completed", result.data
        assert second["commands"] == [["idToken.setCustomClaim", "https://example.com/second", "ran"]]
    assert_healthy(sandbox, out)

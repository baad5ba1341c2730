"""Error.prepareStackTrace: V8 hands the hook structured call sites, whose getFunction() and
getThis() return the live function and receiver of every frame that is not strict. The runtime
is strict throughout, so its frames (and every frame below the first strict one) must come back
empty; and a hook left installed must not become a way to read other executions.

Outcomes each test must get:
- call sites of errors raised anywhere the runtime calls user code (handler, toJSON, getters,
  toString, timers, thenables, microtasks, module scope, the runtime's own errors and its read of
  an uncaught error's stack) yield only the action's own functions and receivers;
- a hook installed by one execution never receives another user's data: not of executions of
  the same flow in which the hooking action did not run, not of other flows or tenants;
- a hostile hook (throws, returns garbage, recurses) cannot break the error report: the action
  fails with its own message, the next execution works.
Around every attack: server healthy, bystander unharmed (see _harness.py)."""

from __future__ import annotations

import asyncio
import json

from conftest import payload, workload_event

from ._harness import (ATTACKER, action, assert_flow_works_again, assert_healthy, assert_rounds_alike, attack_flow,
                       attack_payload, gated, run_attack)

BUDGET = 5.0

HOOK = r"""
const userObjects = new WeakSet();
const mark = (o) => { /*user*/ userObjects.add(o); return o; };
mark(exports); mark(module);
let apiSeen = [];
const label = (fn) => { /*user*/
  if (fn === undefined || fn === null) return String(fn);
  let src = "";
  try { src = Function.prototype.toString.call(fn); } catch (e) { return "unprintable"; }
  return (src.includes("/*user*/") || src.includes("exports.onExecutePostLogin") ? "user:" : "OTHER:") + (fn.name || "anonymous") + ":" + src.slice(0, 80);
};
const describeThis = (t) => { /*user*/
  if (t === undefined || t === null) return String(t);
  if (t === globalThis) return "global";
  if (userObjects.has(t)) return "user";
  if (apiSeen.includes(t)) return "api";
  return "OTHER:" + Object.prototype.toString.call(t) + ":" + Reflect.ownKeys(t).map(String).slice(0, 12).join(",");
};
const sites = [];
let where = "?";
let inHook = false;
const hook = (error, frames) => { /*user*/
  if (inHook) return "nested";
  inHook = true;
  try {
    for (const f of frames) {
      sites.push({ where, file: String(f.getScriptNameOrSourceURL()), name: String(f.getFunctionName()),
                   fn: label(f.getFunction()), self: describeThis(f.getThis()) });
    }
    // the stack of the hook's own caller (the runtime, when it reads an error's stack)
    const here = {};
    Error.captureStackTrace(here);
    void here.stack;
  } finally { inHook = false; }
  return "stack hidden by hook";
};
const at = (w, f) => { /*user*/ where = w; try { return f(); } catch (e) { void e.stack; } };
// module scope: loadModule and the runtime below it
Error.prepareStackTrace = hook;
at("module", () => { /*user*/ void new Error("module").stack; });
delete Error.prepareStackTrace;
"""

ATTACK = r"""
  sites.length = 0;
  apiSeen = [api, ...Object.values(api)];
  Error.prepareStackTrace = hook;
  try {
    at("handler", () => { /*user*/ void new Error("handler").stack; });
    api.idToken.setCustomClaim("v", mark({ toJSON: function toJSON() { /*user*/ at("toJSON", () => { /*user*/ void new Error("toJSON").stack; }); return 1; } }));
    const selector = mark({});
    Object.defineProperty(selector, "type", { enumerable: true, get: function typeGetter() { /*user*/ at("getter", () => { /*user*/ void new Error("getter").stack; }); return "otp"; } });
    api.authentication.challengeWith(selector);
    api.accessToken.setCustomClaim("reason", String(mark({ toString: function toString() { /*user*/ at("toString", () => { /*user*/ void new Error().stack; }); return "r"; } })));
    at("runtime-TypeError", () => { /*user*/ api.user.setAppMetadata(1, 2); });
    at("runtime-URL", () => { /*user*/ api.redirect.sendUserTo("not a url"); });
    at("runtime-wrapped", () => { /*user*/ api.user.setAppMetadata("k", mark({ toJSON() { /*user*/ throw new Error("inner"); } })); });
    at("runtime-factor", () => { /*user*/ api.authentication.challengeWith(mark({ type: "nope" })); });
    await new Promise((resolve) => setTimeout(function timer() { /*user*/ at("timer", () => { /*user*/ void new Error().stack; }); resolve(); }, 1));
    await mark({ then: function then(resolve) { /*user*/ at("thenable", () => { /*user*/ void new Error().stack; }); resolve(); } });
    queueMicrotask(function micro() { /*user*/ at("microtask", () => { /*user*/ void new Error().stack; }); });
    await null;
    at("after-await", () => { /*user*/ void new Error().stack; });
  } finally {
    delete Error.prepareStackTrace;
  }
  api.idToken.setCustomClaim("https://example.com/sites", sites);
  if (event.user.app_metadata.throwAtEnd) {
    // the runtime reads this error's stack (through the hook) while reporting it
    Error.prepareStackTrace = (e, frames) => { /*user*/ const s = hook(e, frames); console.log(JSON.stringify(sites)); delete Error.prepareStackTrace; return s; };
    where = "runtime-reads-stack";
    sites.length = 0;
    throw new Error("thrown at the end");
  }
"""


def _check_sites(sites: list[dict]) -> None:
    assert sites, "the hook saw no frames"
    for site in sites:
        assert site["fn"] in ("undefined", "null") or site["fn"].startswith("user:"), site
        assert site["self"] in ("undefined", "null", "global", "user", "api"), site
        # a runtime frame (no file name of the action's) never gives up its function or receiver
        if site["file"] != "hostile":
            assert site["fn"] in ("undefined", "null") and site["self"] in ("undefined", "null"), site


async def test_call_sites_yield_only_the_actions_own_functions(sandbox):
    flow = attack_flow(gated(ATTACK, prelude=HOOK))

    async def attack(i: int):
        return await sandbox.run(ATTACKER, flow, attack_payload(), budget=BUDGET)

    out = await run_attack(sandbox, attack, flow=flow, max_rounds=30)
    assert_rounds_alike(out)
    result = out.result
    assert result.status == "completed", result.data
    hostile, benign = result.actions
    claim = hostile["commands"][-1]
    assert claim[:2] == ["idToken.setCustomClaim", "https://example.com/sites"]
    sites = claim[2]
    assert {s["where"] for s in sites} >= {
        "handler", "toJSON", "getter", "toString", "runtime-TypeError", "runtime-URL", "runtime-wrapped",
        "runtime-factor", "timer", "thenable", "microtask", "after-await"}, sites
    _check_sites(sites)
    # the runtime's frames are there (by name), empty
    assert any(s["file"] != "hostile" and s["fn"] == "undefined" for s in sites), sites
    assert benign["commands"][0][0] == "idToken.setCustomClaim"

    # the runtime reading an uncaught error's stack through the hook: still nothing of it
    failed = await sandbox.run(ATTACKER, flow, attack_payload(app_metadata={"attack": True, "throwAtEnd": True}), budget=BUDGET)
    assert failed.status == "failed" and failed.error_class == "action_error", failed.data
    assert failed.error["message"] == "Error: thrown at the end"
    logged = json.loads(failed.actions[0]["logs"].strip().splitlines()[-1])
    assert [s["where"] for s in logged] and {s["where"] for s in logged} == {"runtime-reads-stack"}, logged
    _check_sites(logged)

    assert_healthy(sandbox, out)
    await assert_flow_works_again(sandbox, flow)


# An ordinary first action: refuses suspended accounts with an error that names the account (as
# real actions do). The hooking action comes second, so it never runs for a suspended user.
GATE = action("""
  if (event.user.app_metadata.suspended) throw new Error("suspended account " + event.user.email);
""")

# Installs a hook that stays: Error's own properties are not among the built-ins the runtime
# checks, so it survives into the next executions of this isolate. Every error whose stack is
# read afterwards -- by anyone, the runtime included -- passes through it.
STASH = r"""
const stolen = [];
const keep = (text) => { if (typeof text === "string" && stolen.length < 50) stolen.push(text.slice(0, 200)); };
"""
INSTALL = r"""
  if (!Error.prepareStackTrace) {
    Error.prepareStackTrace = (error, frames) => {
      try { keep(error && error.message); } catch (e) { /* ignore */ }
      for (const f of frames) { try { keep(JSON.stringify(f.getThis())); } catch (e) { /* ignore */ } }
      return "stack hidden by hook";
    };
  }
  api.idToken.setCustomClaim("https://example.com/stolen", stolen);
"""


async def test_a_hook_left_installed_never_sees_another_users_execution(sandbox):
    """Attacker logs in (hook installed), a suspended victim logs in through the same flow (the
    gate throws with the victim's email; the hooking action never runs for the victim), the
    attacker logs in again and reports what the hook captured. The victim's email must not be
    in it, and the victim's failure must be reported with its real stack."""
    flow = attack_flow(GATE, gated(INSTALL, prelude=STASH), benign=False, names=["gate", "hostile"])
    victim = workload_event(user_id="victim", email="victim.person@victim.example", app_metadata={"suspended": True})
    seen_by_victim = []

    async def attack(i: int):
        first = await sandbox.run(ATTACKER, flow, attack_payload(), budget=BUDGET)
        assert first.status == "completed", first.data
        hurt = await sandbox.run(ATTACKER, flow, payload(victim), budget=BUDGET)
        seen_by_victim.append(hurt)
        return await sandbox.run(ATTACKER, flow, attack_payload(), budget=BUDGET)

    out = await run_attack(sandbox, attack, flow=flow, max_rounds=1)
    hurt = seen_by_victim[0]
    assert hurt.status == "failed" and hurt.error["action"] == "gate", hurt.data
    assert hurt.error["message"] == "Error: suspended account victim.person@victim.example"
    result = out.result
    assert result.status == "completed", result.data
    stolen = result.actions[1]["commands"][0][2]

    problems = []
    if any("victim" in s for s in stolen):
        problems.append(f"the attacker's execution obtained the victim's data: {stolen}")
    # the victim's record keeps the real stack of the gate's throw, not the attacker's text
    if "gate:" not in hurt.error.get("stack", "") or "hidden by hook" in hurt.json().decode():
        problems.append(f"the victim's error stack was written by the attacker's hook: {hurt.error}")
    assert not problems, "\n".join(problems)
    assert_healthy(sandbox, out)


async def test_a_hook_never_sees_other_flows_or_tenants(sandbox):
    """The same hook, while other flows of the same tenant and another tenant's flow run on the
    attacker's executor (concurrently, interleaved with the attacker's executions)."""
    flow = attack_flow(GATE, gated(INSTALL, prelude=STASH), benign=False, names=["gate", "hostile"])
    other_flow = attack_flow(GATE, action("api.idToken.setCustomClaim('x', 1);"), benign=False, names=["gate", "other"])
    supervisor = sandbox.supervisor
    attacked = supervisor.executor_for(ATTACKER, flow.key).index
    neighbour = next(t for t in (f"neighbour-{i}" for i in range(1000))
                     if supervisor.executor_for(t, flow.key).index == attacked)
    victim = workload_event(user_id="victim", email="victim.person@victim.example", app_metadata={"suspended": True})

    async def attack(i: int):
        await sandbox.run(ATTACKER, flow, attack_payload(), budget=BUDGET)
        others = await asyncio.gather(
            sandbox.run(ATTACKER, other_flow, payload(victim), budget=BUDGET),
            sandbox.run(neighbour, flow, payload(victim), budget=BUDGET),
            sandbox.run(ATTACKER, flow, attack_payload(), budget=BUDGET),
        )
        for other in others[:2]:
            assert other.status == "failed" and "hidden by hook" not in other.json().decode(), other.data
        return await sandbox.run(ATTACKER, flow, attack_payload(), budget=BUDGET)

    out = await run_attack(sandbox, attack, flow=flow, max_rounds=20)
    for result in out.results:
        assert result.status == "completed", result.data
        stolen = result.actions[1]["commands"][0][2]
        assert not any("victim" in s for s in stolen), stolen
    assert_healthy(sandbox, out)


HOSTILE_HOOKS = {
    "throws": "Error.prepareStackTrace = () => { throw new Error('hook says no'); };",
    "returns-object": "Error.prepareStackTrace = () => ({ toString() { throw new Error('no'); } });",
    "recurses": "Error.prepareStackTrace = (e) => new Error('again').stack;",
    "returns-symbol": "Error.prepareStackTrace = () => Symbol('s');",
    "getter-on-stack": "Error.prepareStackTrace = undefined; Error.captureStackTrace = () => { throw new Error('capture'); };",
}
# what each failure must say: the action's own error, unless the hook changed a built-in the
# runtime shares (Error.captureStackTrace), which is what gets reported then
OWN_FAILURE = "TypeError: the action's own failure"
EXPECTED_MESSAGE = {name: OWN_FAILURE for name in HOSTILE_HOOKS} | {
    "getter-on-stack": "Error: Action modified the built-in Error.captureStackTrace, which actions share with the runtime; "
                       "the change was discarded",
}


async def test_a_hostile_hook_cannot_break_the_error_report(sandbox):
    """Each hook is installed, then the action throws: the failure is reported as the action's
    own error (the hook may cost it its stack), the next execution of the flow works."""
    flows = {name: attack_flow(gated(f"""
      {hook}
      const e = new TypeError("the action's own failure");
      try {{ void e.stack; }} catch (_) {{ /* the hook's problem */ }}
      throw e;
    """, otherwise="delete Error.prepareStackTrace;")) for name, hook in HOSTILE_HOOKS.items()}
    order = list(flows)

    async def attack(i: int):
        name = order[i % len(order)]
        return name, await sandbox.run(ATTACKER, flows[name], attack_payload(), budget=BUDGET)

    out = await run_attack(sandbox, attack, flow=flows[order[0]], min_rounds=len(order), max_rounds=len(order))
    for name, result in out.results:
        assert result.status == "failed", (name, result.data)
        assert result.error_class == "action_error", (name, result.data)
        assert result.error["action"] == "hostile", (name, result.error)
        assert result.error["message"] == EXPECTED_MESSAGE[name], (name, result.error)
        assert result.actions[0]["commands"] == []
    assert_healthy(sandbox, out)
    for flow in flows.values():
        await assert_flow_works_again(sandbox, flow)

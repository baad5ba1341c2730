"""Proxies, Symbol.species, thenables and hostile toJSON / valueOf / toString / getters, handed
to every kind of api argument: metadata values, claims, deny reasons, redirect queries, cache
values and options, factors, SAML values, and the handler's own return value.

Outcome each case must get: the exact command the host receives is plain JSON of what the value
looked like at the moment of the call -- and passes the call's own validation -- or the call
fails with a clear TypeError naming it. Nothing hangs: a getter that spins, or a thenable that
resolves to itself forever, ends the execution at its budget as action_timeout and the isolate
is rebuilt (its module scope starts over). Around every attack: server healthy, bystander
unharmed (see _harness.py)."""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass

import pytest
from conftest import payload, workload_event

from ._harness import (ATTACKER, BENIGN_CLAIM, assert_flow_works_again, assert_healthy, assert_rounds_alike,
                       attack_flow, attack_payload, gated, run_attack)

BUDGET = 2.0
SPIN_BUDGET = 1.0


class _Any:
    def __eq__(self, other: object) -> bool:
        return True

    def __repr__(self) -> str:
        return "ANY"


ANY = _Any()


@dataclass(frozen=True)
class Case:
    code: str
    status: str = "completed"  # or "denied", "redirect", "failed"
    commands: tuple = ()  # the hostile action's exact commands (when it did not fail)
    error: tuple[str, ...] = ()  # substrings of the failure message (status "failed")
    module: bool = False  # `code` is the whole module, not the gated body of the handler


CASES = [
    pytest.param(Case("""
        const p = new Proxy({ real: 1 }, {
          get: (t, k) => k === "toJSON" ? undefined : "proxied-" + String(k),
          ownKeys: () => ["a", "b"],
          getOwnPropertyDescriptor: () => ({ value: "x", enumerable: true, configurable: true }),
        });
        api.user.setAppMetadata("p", p);""",
        commands=(["user.setAppMetadata", "p", {"a": "proxied-a", "b": "proxied-b"}],)), id="proxy-metadata-value"),
    pytest.param(Case("""
        api.idToken.setCustomClaim("arr", new Proxy([1, 2, 3], { get: (t, k) => k === "length" ? 2 : t[k] }));""",
        commands=(["idToken.setCustomClaim", "arr", [1, 2]],)), id="proxy-array-claim"),
    pytest.param(Case("""
        const { proxy, revoke } = Proxy.revocable({}, {}); revoke();
        api.user.setAppMetadata("r", proxy);""",
        status="failed", error=("TypeError: api.user.setAppMetadata: the value cannot be stored as JSON", "revoked")),
        id="revoked-proxy"),
    pytest.param(Case("""
        api.idToken.setCustomClaim("thenable", { then(resolve) { resolve("evil"); }, x: 1 });""",
        commands=(["idToken.setCustomClaim", "thenable", {"x": 1}],)), id="thenable-claim"),
    pytest.param(Case("""
        let reads = 0;
        const v = { x: 1 };
        Object.defineProperty(v, "then", { enumerable: true, get() { reads++; return undefined; } });
        api.idToken.setCustomClaim("v", v);
        api.idToken.setCustomClaim("reads", reads);""",
        commands=(["idToken.setCustomClaim", "v", {"x": 1}], ["idToken.setCustomClaim", "reads", 1])),
        id="then-getter-read-once"),
    pytest.param(Case("""
        let n = 0;
        const v = { toJSON() { return ++n === 1 ? "first" : "later"; } };
        api.user.setUserMetadata("once", v);
        api.user.setUserMetadata("calls", n);""",
        commands=(["user.setUserMetadata", "once", "first"], ["user.setUserMetadata", "calls", 1])),
        id="toJSON-copied-once-at-call-time"),
    pytest.param(Case("""
        api.idToken.setCustomClaim("big", { toJSON() { return 10n; } });""",
        status="failed", error=("TypeError: api.idToken.setCustomClaim: the value cannot be stored as JSON", "BigInt")),
        id="toJSON-returns-bigint"),
    pytest.param(Case("""
        api.idToken.setCustomClaim("throws", { toJSON() { throw new Error("toJSON refuses"); } });""",
        status="failed", error=("TypeError: api.idToken.setCustomClaim: the value cannot be stored as JSON (Error: toJSON refuses)",)),
        id="toJSON-throws"),
    pytest.param(Case("""
        api.access.deny({ toString() { return "from toString"; }, valueOf() { return "from valueOf"; } });""",
        status="denied", commands=(["access.deny", "from toString"],)), id="deny-reason-toString"),
    pytest.param(Case("""
        api.access.deny({ [Symbol.toPrimitive]() { return {}; } });""",
        status="failed", error=("TypeError: Cannot convert object to primitive value",)), id="deny-reason-bad-toPrimitive"),
    pytest.param(Case("""
        api.access.deny(new Proxy({}, { get: (t, k) => k === Symbol.toPrimitive ? () => "proxied reason" : undefined }));""",
        status="denied", commands=(["access.deny", "proxied reason"],)), id="deny-reason-proxy"),
    pytest.param(Case("""
        api.redirect.sendUserTo("https://example.com/cb", { query: {
          a: { toJSON() { return 5; } },
          b: new Proxy({}, { ownKeys: () => ["z"], getOwnPropertyDescriptor: () => ({ value: 1, enumerable: true, configurable: true }), get: () => 1 }),
          c: [1, 2],
          d: { valueOf() { return "v"; }, toString() { return "t"; } },
        } });""",
        status="redirect",
        commands=(["redirect.sendUserTo", "https://example.com/cb", {"a": "5", "b": "[object Object]", "c": "1,2", "d": "[object Object]"}],)),
        id="redirect-query-hostile-values"),
    pytest.param(Case("""
        const r1 = api.cache.set("k", { toString() { return "v"; } });
        const r2 = api.cache.set("k2", "v", { get ttl() { return { valueOf() { return 60000; } }; } });
        const r3 = api.cache.set({ toString() { return "k3"; } }, "v");
        const r4 = api.cache.set("k4", new Proxy(new String("v"), {}));
        api.idToken.setCustomClaim("codes", [r1.type + ":" + r1.code, r2.type, r3.type + ":" + r3.code, r4.type + ":" + r4.code]);""",
        commands=(["cache.set", "k2", {"value": "v", "expires_at": ANY}],
                  ["idToken.setCustomClaim", "codes", ["error:FailedToSetCacheRecord", "success",
                                                       "error:FailedToSetCacheRecord", "error:FailedToSetCacheRecord"]])),
        id="cache-values-and-options"),
    pytest.param(Case("""
        const hostileSpecies = { [Symbol.species]: function () { throw new Error("species used"); } };
        const a = [1, 2]; a.constructor = hostileSpecies;
        api.idToken.setCustomClaim("arr", a);
        const l = [{ type: "otp" }]; l.constructor = hostileSpecies;
        api.authentication.challengeWithAny(l);""",
        commands=(["idToken.setCustomClaim", "arr", [1, 2]], ["authentication.challengeWithAny", [{"type": "otp"}]])),
        id="array-species"),
    pytest.param(Case("""
        api.idToken.setCustomClaim({ toString() { return "claim-from-object"; } }, 1);""",
        status="failed", error=("TypeError: api.idToken.setCustomClaim: claim name must be a string",)), id="claim-name-object"),
    pytest.param(Case("""
        api.transaction.setMetadata("t", { valueOf() { return 1; } });""",
        status="failed", error=("TypeError: api.transaction.setMetadata: value must be a string, number or boolean",)),
        id="transaction-metadata-valueOf"),
    pytest.param(Case("""
        api.session.setExpiresAt({ valueOf() { return 1700000000000; } });""",
        commands=(["session.setExpiresAt", 1700000000000],)), id="session-expiry-valueOf"),
    pytest.param(Case("""
        const v = JSON.parse('{"__proto__": {"isAdmin": true}, "constructor": {"prototype": {"x": 1}}}');
        api.user.setAppMetadata("__proto__", v);
        api.idToken.setCustomClaim("constructor", v);""",
        commands=(["user.setAppMetadata", "__proto__", {"__proto__": {"isAdmin": True}, "constructor": {"prototype": {"x": 1}}}],
                  ["idToken.setCustomClaim", "constructor", {"__proto__": {"isAdmin": True}, "constructor": {"prototype": {"x": 1}}}])),
        id="proto-and-constructor-keys"),
    # The handler's own promise, with a constructor that lies about itself: the runtime adopts it
    # with its captured Promise functions and gets the action's ordinary outcome.
    pytest.param(Case("""
        exports.onExecutePostLogin = (event, api) => {  // not async: the runtime adopts what it returns
          const p = (async () => { if (event.user.app_metadata.attack) api.idToken.setCustomClaim("species", "ran"); })();
          let reads = 0;
          Object.defineProperty(p, "constructor", { get() {
            reads++;
            return reads === 1 ? Promise : function Evil(executor) { executor(() => { throw new Error("evil resolve"); }, () => {}); };
          } });
          return p;
        };""", module=True, commands=(["idToken.setCustomClaim", "species", "ran"],)), id="handler-promise-species"),
]

# Values that change between the moment the call validates them and the moment it copies them
# (a getter answering differently on each read): what is recorded must be what was validated.
TOCTOU = [
    pytest.param("""
        let n = 0;
        const selector = { get type() { return n++ < 2 ? "otp" : "not-a-factor"; } };
        api.authentication.challengeWith(selector);""", id="factor-type-getter"),
    pytest.param("""
        let m = 0;
        const probes = ["b"];
        Object.defineProperty(probes, 0, { enumerable: true, get() { return m++ < 1 ? "ok" : { not: "a string" }; } });
        api.samlResponse.setNameIdentifierProbes(probes);""", id="saml-probes-getter"),
    pytest.param("""
        let k = 0;
        const attr = [1];
        Object.defineProperty(attr, 0, { enumerable: true, get() { return k++ < 1 ? "scalar" : { nested: true }; } });
        api.samlResponse.setAttribute("attr", attr);""", id="saml-attribute-getter"),
]


async def _run_case(sandbox, code: str, module: bool = False):
    flow = attack_flow(code if module else gated(code))

    async def attack(_: int):
        return await sandbox.run(ATTACKER, flow, attack_payload(), budget=BUDGET)

    out = await run_attack(sandbox, attack, flow=flow, max_rounds=30)
    return flow, out


@pytest.mark.parametrize("case", CASES)
async def test_hostile_values_reach_the_host_as_plain_json_or_fail_clearly(sandbox, case: Case):
    flow, out = await _run_case(sandbox, case.code, case.module)
    if "cache.set" not in case.code:  # (its records carry the time)
        assert_rounds_alike(out)
    for result in out.results:
        assert result.status == case.status, result.data
        hostile = result.actions[0]
        if case.status == "failed":
            assert result.error_class == "action_error", result.error
            assert result.error["action"] == "hostile"
            for part in case.error:
                assert part in result.error["message"], result.error
            assert hostile["commands"] == []
        else:
            assert hostile["status"] == "ok", hostile
            assert hostile["commands"] == list(case.commands), hostile["commands"]
            # plain JSON all the way: the commands survive a JSON round trip unchanged
            assert json.loads(json.dumps(hostile["commands"])) == hostile["commands"]
        if case.status == "completed":
            assert result.actions[1]["commands"] == [BENIGN_CLAIM]
    assert_healthy(sandbox, out)
    await assert_flow_works_again(sandbox, flow)


@pytest.mark.parametrize("code", TOCTOU)
async def test_a_value_that_changes_after_validation_is_recorded_as_validated(sandbox, code: str):
    flow, out = await _run_case(sandbox, code)
    for result in out.results:
        # either the call refuses the value, or what is recorded passed the call's validation
        if result.status == "failed":
            assert result.error_class == "action_error" and "TypeError" in result.error["message"], result.error
            continue
        (command,) = result.actions[0]["commands"]
        if command[0] == "authentication.challengeWith":
            assert command[1]["type"] in ("otp", "email", "webauthn-platform", "webauthn-roaming", "recovery-code",
                                          "phone", "push", "push-notification"), f"an invalid factor reached the host: {command}"
        elif command[1] == "nameIdentifierProbes":
            assert all(isinstance(p, str) for p in command[2]), f"a non-string probe reached the host: {command}"
        else:
            assert all(isinstance(v, (str, int, float, bool)) or v is None for v in command[2]), \
                f"a non-scalar SAML attribute reached the host: {command}"
    assert_healthy(sandbox, out)
    await assert_flow_works_again(sandbox, flow)


# The module scope draws a generation number once per isolate: a rebuilt isolate draws anew.
GENERATION = "const GENERATION = Math.random();"
REPORT_GENERATION = 'api.idToken.setCustomClaim("generation", GENERATION);'

SPINNERS = [
    pytest.param("""
        api.user.setAppMetadata("k", { get v() { for (;;) {} } });""", id="spinning-getter-in-metadata"),
    pytest.param("""
        api.access.deny({ toString() { for (;;) {} } });""", id="spinning-toString-in-deny"),
    pytest.param("""
        const selfish = { then(resolve) { resolve(selfish); } };
        await selfish;""", id="thenable-resolving-to-itself"),
    pytest.param("""
        api.redirect.sendUserTo("https://example.com/", { query: new Proxy({}, { ownKeys() { for (;;) {} } }) });""",
        id="spinning-proxy-trap-in-query"),
]


@pytest.mark.parametrize("code", SPINNERS)
async def test_a_value_that_never_finishes_times_out_and_the_isolate_is_rebuilt(sandbox, code: str):
    flow = attack_flow(gated(code, prelude=GENERATION, otherwise=REPORT_GENERATION))
    before = await sandbox.run(ATTACKER, flow, payload(workload_event()), budget=SPIN_BUDGET)
    assert before.status == "completed", before.data

    async def attack(_: int):
        return await sandbox.run(ATTACKER, flow, attack_payload(), budget=SPIN_BUDGET)

    # one round: each one destroys its isolate, and three in a minute would quarantine the flow
    out = await run_attack(sandbox, attack, flow=flow, max_rounds=1, attempts=2)
    result = out.result
    assert result.status == "failed", result.data
    assert result.error_class == "action_timeout", result.error
    assert result.error.get("action") == "hostile", result.error
    assert out.seconds[0] < SPIN_BUDGET + 1.5, out.seconds
    assert_healthy(sandbox, out)
    after = await assert_flow_works_again(sandbox, flow)
    assert after.actions[0]["commands"][0][2] != before.actions[0]["commands"][0][2], "the isolate was not rebuilt"


# -- the host end: what the HTTP server makes of the commands --------------------------------------

def _call(server, method: str, path: str, body: object | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(server.url + path, method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={**server.headers(), "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


@pytest.mark.parametrize("options", ['["x"]', '"a string"', "5", "new Proxy([], {})"])
def test_the_trigger_api_answers_its_documented_shape_for_odd_prompt_options(server, options: str):
    """api.prompt.render's options are copied as JSON whatever they are; the trigger API must
    still answer 200 with its documented shape (README: 'The answer is always 200 with the same
    shape for the same outcome'), and go on serving."""
    name = "prompt-" + str(abs(hash(options)))
    code = f'exports.onExecutePostLogin = async (event, api) => {{ api.prompt.render("p1", {options}); }};'
    status, body = _call(server, "POST", "/api/v2/actions/actions", {
        "name": name, "code": code, "deploy": True, "supported_triggers": [{"id": "post-login", "version": "v3"}]})
    assert status == 201, body
    status, body = _call(server, "PATCH", "/api/v2/actions/triggers/post-login/bindings",
                         {"bindings": [{"ref": {"type": "action_name", "value": name}}]})
    assert status == 200, body
    status, body = _call(server, "POST", "/triggers/post-login/execute",
                         {"event": {"user": {"user_id": "auth0|prompt", "email": "p@example.com"}}})
    try:
        assert status == 200, f"the trigger API answered {status}: {body}"
        assert body["status"] in ("redirect", "failed", "allowed"), body
    finally:
        with urllib.request.urlopen(server.url + "/healthz", timeout=5) as health:
            assert health.status == 200

"""The iterator protocol and prototype getters as a way into the runtime's own paths.

Array destructuring, spread, for...of, yield*, Array.from and JSON.stringify dispatch through
objects every execution of an isolate shares: `%ArrayIteratorPrototype%.next`, the
Symbol.iterator methods of the shared prototypes, the generator prototypes, `toJSON` and
index getters planted on Array.prototype, getters planted on Object.prototype. An action that
replaces one must not get its function run inside the runtime for other executions -- neither
in a later execution of the isolate, nor in the steps that run while it is itself suspended
(those steps carry the payloads of the executions queued behind it).

Each attack runs in a flow [hostile, victim_action]. The victim action iterates in every way
ordinary code does. Outcomes each test must get:
- the tampering execution fails with a message naming what it changed, and the isolate is
  retired, so the victims' executions (before, right behind, and after it) get exactly the
  results they got before the attack;
- the attacker's own execution (its logs, its later executions) sees nothing of the victims';
- around every attack: server healthy, bystander unharmed (see _harness.py).
"""

from __future__ import annotations

import asyncio

import orjson
import pytest
from conftest import payload, workload_event
from test_trigger_runtime import api_client, deploy_flow, execute, make_server  # noqa: F401 - make_server is a fixture
from upstream import upstream  # noqa: F401 - the fixture

from ._harness import ATTACKER, _comparable, action, assert_healthy, attack_flow, attack_payload, gated, run_attack

BUDGET = 2.0

VICTIM_ACTION = action("""
  const [first, second, ...rest] = event.authorization.roles.concat(["x", "y", "z"]);
  const seen = [first, second, rest.length];
  for (const [k, v] of Object.entries({ a: 1, b: 2 })) seen.push(k + v);
  seen.push([...new Set([1, 1, 2])].length, [...new Map([[1, 2]]).keys()][0], [..."ab"].join("+"));
  seen.push(Array.from({ length: 2 }, (_, i) => i).join(","), Math.max(...[4, 9, 2]));
  seen.push([..."a1b2".matchAll(/\\d/g)].map((m) => m[0]).join(""));
  function* gen() { yield 1; yield* [2, 3]; }
  seen.push([...gen()].join(""));
  async function* agen() { yield "p"; yield "q"; }
  let joined = "";
  for await (const x of agen()) joined += x;
  seen.push(joined, [...new Uint8Array([5, 6])].join(""), JSON.stringify([1, [2]]), [7, 8][0]);
  api.idToken.setCustomClaim("https://example.com/iterated", seen);
  api.user.setAppMetadata("last_login_of", event.user.email);
""")

# Module scope of the hostile action: what its hooks capture; the hostile action logs it.
STASH = """
const stolen = [];
const keep = (x) => { try { if (stolen.length < 200) stolen.push(typeof x === "string" ? x : JSON.stringify(x)); } catch (e) { /* ignore */ } };
"""

ARRAY_ITERATOR = "Object.getPrototypeOf([][Symbol.iterator]())"

# (id, tamper code, what the failure must name)
TAMPERS = [
    ("ArrayIterator.next", f"""
      const proto = {ARRAY_ITERATOR}; const next = proto.next;
      proto.next = function () {{ const r = next.call(this); keep(r.value); return r; }};
    """, "%ArrayIteratorPrototype%.next"),
    ("ArrayIterator.next-via-defineProperty", f"""
      const proto = {ARRAY_ITERATOR}; const next = proto.next;
      Object.defineProperty(proto, "next", {{ value: function () {{ const r = next.call(this); keep(r.value); return r; }}, writable: true }});
    """, "%ArrayIteratorPrototype%.next"),
    ("IteratorPrototype[Symbol.iterator]", """
      const proto = Object.getPrototypeOf(Object.getPrototypeOf([][Symbol.iterator]()));
      const own = proto[Symbol.iterator];
      proto[Symbol.iterator] = function () { keep("iterated"); return own.call(this); };
    """, "%IteratorPrototype%"),
    ("Array.prototype[Symbol.iterator]", """
      const values = Array.prototype[Symbol.iterator];
      Array.prototype[Symbol.iterator] = function () { keep(this); return values.call(this); };
    """, "Array.prototype"),
    ("MapIterator.next", """
      const proto = Object.getPrototypeOf(new Map()[Symbol.iterator]()); const next = proto.next;
      proto.next = function () { const r = next.call(this); keep(r.value); return r; };
    """, "%MapIteratorPrototype%.next"),
    ("SetIterator.next", """
      const proto = Object.getPrototypeOf(new Set()[Symbol.iterator]()); const next = proto.next;
      proto.next = function () { const r = next.call(this); keep(r.value); return r; };
    """, "%SetIteratorPrototype%.next"),
    ("StringIterator.next", """
      const proto = Object.getPrototypeOf(""[Symbol.iterator]()); const next = proto.next;
      proto.next = function () { const r = next.call(this); keep(r.value); return r; };
    """, "%StringIteratorPrototype%.next"),
    ("RegExpStringIterator.next", """
      const proto = Object.getPrototypeOf(/a/g[Symbol.matchAll]("a")); const next = proto.next;
      proto.next = function () { const r = next.call(this); keep(r.value); return r; };
    """, "%RegExpStringIteratorPrototype%.next"),
    ("Generator.prototype.next", """
      const proto = Object.getPrototypeOf(function* () {}).prototype; const next = proto.next;
      proto.next = function (v) { const r = next.call(this, v); keep(r.value); return r; };
    """, "%GeneratorPrototype%.next"),
    ("AsyncGenerator.prototype.next", """
      const proto = Object.getPrototypeOf(async function* () {}).prototype; const next = proto.next;
      proto.next = function (v) { keep("async"); return next.call(this, v); };
    """, "%AsyncGeneratorPrototype%.next"),
    ("AsyncIteratorPrototype[Symbol.asyncIterator]", """
      const proto = Object.getPrototypeOf(Object.getPrototypeOf(async function* () {}).prototype);
      const own = proto[Symbol.asyncIterator];
      proto[Symbol.asyncIterator] = function () { keep("async-iterated"); return own.call(this); };
    """, "%AsyncIteratorPrototype%"),
    ("Map.prototype[Symbol.iterator]", """
      const own = Map.prototype[Symbol.iterator];
      Map.prototype[Symbol.iterator] = function () { keep("map"); return own.call(this); };
    """, "Map.prototype"),
    ("TypedArray.prototype[Symbol.iterator]", """
      const proto = Object.getPrototypeOf(Uint8Array.prototype); const own = proto[Symbol.iterator];
      proto[Symbol.iterator] = function () { keep(Array.prototype.join.call(this)); return own.call(this); };
    """, "%TypedArray%.prototype"),
    ("Array.prototype.toJSON", """
      Array.prototype.toJSON = function () { keep(Array.prototype.slice.call(this)); return ["bent"]; };
    """, "Array.prototype.toJSON"),
    ("Array.prototype index getter", """
      Object.defineProperty(Array.prototype, "5", { get() { keep(this); return "planted"; }, configurable: true });
    """, "Array.prototype.5"),
    ("Object.prototype getter named like the host's message", """
      for (const name of ["install", "io", "cancel", "jobs", "resume", "event", "then"]) {
        Object.defineProperty(Object.prototype, name, { get() { keep(this); return undefined; }, configurable: true });
      }
    """, "Object.prototype"),
    ("Object.prototype.toJSON", """
      Object.prototype.toJSON = function () { stolen.push(Object.keys(this).join(",")); return { bent: true }; };
    """, "Object.prototype.toJSON"),
]


def tamper_flow(tamper: str, wait_ms: int):
    """The hostile action tampers, stays suspended for `wait_ms` (steps carrying other
    executions' jobs run meanwhile), then logs whatever its hooks caught."""
    attack = f"""
      {tamper}
      await new Promise((resolve) => setTimeout(resolve, {wait_ms}));
      console.log("stolen: " + JSON.stringify(stolen));
    """
    return attack_flow(gated(attack, prelude=STASH), VICTIM_ACTION, benign=False, names=["hostile", "victim_action"])


def victim(i: int) -> bytes:
    return payload(workload_event(user_id=f"victim-{i}", email=f"victim.person{i}@victim.example"))


def _params():
    return [pytest.param(code, name, id=ident) for ident, code, name in TAMPERS]


@pytest.mark.parametrize(("tamper", "builtin"), _params())
async def test_iterator_tampering_reaches_no_other_execution(sandbox, tamper: str, builtin: str):
    flow = tamper_flow(tamper, wait_ms=60)
    references = [_comparable(await sandbox.run(ATTACKER, flow, victim(i), budget=BUDGET)) for i in range(3)]
    for reference in references:
        assert reference["status"] == "completed", reference
        assert reference["actions"][1]["commands"][0][2][2:] == [
            3, "a1", "b2", 2, 1, "a+b", "0,1", 9, "12", "123", "pq", "56", "[1,[2]]", 7], reference

    async def attack(_: int):
        # submitted together: the victims' jobs reach the isolate in the steps that run while
        # the attacker's action is suspended with its hooks in place
        tampering, *behind = await asyncio.gather(
            sandbox.run(ATTACKER, flow, attack_payload(), budget=BUDGET),
            *(sandbox.run(ATTACKER, flow, victim(i), budget=BUDGET) for i in range(3)))
        after = [await sandbox.run(ATTACKER, flow, victim(i), budget=BUDGET) for i in range(3)]
        return tampering, behind, after

    out = await run_attack(sandbox, attack, flow=flow, max_rounds=1)
    problems = []
    for tampering, behind, after in out.results:
        for group, results in (("queued behind the attack", behind), ("after the attack", after)):
            for i, hurt in enumerate(results):
                if _comparable(hurt) != references[i]:
                    problems.append(f"victim {i} {group} was affected: {hurt.data}")
        text = tampering.json().decode()
        # (the flow's second action is named victim_action: look for the victims' own data)
        if "victim.person" in text or "victim-" in text:
            problems.append(f"the tampering execution obtained the victims' data: {tampering.actions[0].get('logs')!r}")
        if not (tampering.status == "failed" and builtin in (tampering.error or {}).get("message", "")):
            problems.append(f"the tampering execution did not fail naming {builtin}: {tampering.status} {tampering.error}")
    assert not problems, "\n".join(problems)
    assert_healthy(sandbox, out)


# -- through the real server, with I/O: the victims' fetch replies pass through the same steps --

VICTIM_WITH_FETCH = """exports.onExecutePostLogin = async (event, api) => {
  const res = await fetch('https://api.test.example/echo?user=' + encodeURIComponent(event.user.user_id), {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: event.user.user_id }),
  });
  const echo = await res.json();
  const [method, path] = [echo.method, echo.path];
  const names = [];
  for (const [name] of res.headers) names.push(name);
  api.idToken.setCustomClaim('echo', [method, path, JSON.parse(echo.body).user, echo.query, names.includes('content-type')]);
  api.user.setAppMetadata('last_echo', JSON.parse(echo.body).user);
};"""

HOSTILE_THROUGH_SERVER = f"""
{STASH}
exports.onExecutePostLogin = async (event, api) => {{
  if (!event.user.email.startsWith('attacker')) return;
  const proto = {ARRAY_ITERATOR}; const next = proto.next;
  proto.next = function () {{ const r = next.call(this); keep(r.value); return r; }};
  Object.defineProperty(Object.prototype, 'io', {{ get() {{ keep(this); return undefined; }}, configurable: true }});
  await new Promise((resolve) => setTimeout(resolve, 80));
  console.log('stolen: ' + JSON.stringify(stolen));
}};"""


def _login(user_id: str, email: str) -> dict:
    event = workload_event(user_id=user_id, email=email)
    return event


def _as_compared(response: dict) -> dict:
    out = {k: v for k, v in response.items() if k != "execution_id"}
    out["actions"] = [{k: v for k, v in a.items() if k != "duration_ms"} for a in response["actions"]]
    return out


async def test_through_the_server_logins_behind_an_iterator_tampering_one_get_their_own_answers(make_server, upstream):  # noqa: F811
    server = make_server(*upstream.server_flags())
    async with api_client(server) as client:
        await deploy_flow(client, [HOSTILE_THROUGH_SERVER, VICTIM_WITH_FETCH])
        references = [await execute(client, _login(f"victim-{i}", f"victim.person{i}@victim.example")) for i in range(3)]
        for i, reference in enumerate(references):
            assert reference["status"] == "allowed", reference
            user_id = reference["user"]["user_id"]
            assert user_id.endswith(f"victim-{i}"), reference
            echo = reference["id_token_claims"]["echo"]
            assert echo[:3] == ["POST", "/echo", user_id] and echo[4] is True, reference
        for round_ in range(2):
            attacker, *behind = await asyncio.gather(
                execute(client, _login(f"attacker-{round_}", "attacker@attacker.example")),
                *(execute(client, _login(f"victim-{i}", f"victim.person{i}@victim.example")) for i in range(3)))
            assert attacker["status"] == "failed", attacker
            assert "%ArrayIteratorPrototype%.next" in attacker["error"]["message"] \
                or "Object.prototype" in attacker["error"]["message"], attacker["error"]
            assert "victim.person" not in orjson.dumps(attacker).decode(), attacker["actions"]
            for i, got in enumerate(behind):
                assert _as_compared(got) == _as_compared(references[i]), (i, got)
        after = [await execute(client, _login(f"victim-{i}", f"victim.person{i}@victim.example")) for i in range(3)]
        for i, got in enumerate(after):
            assert _as_compared(got) == _as_compared(references[i]), (i, got)

"""Post-login semantics of the runtime (runtime_js/) on real V8, one behaviour per test."""

from __future__ import annotations

import pytest
from conftest import make_flow, payload, workload_event


async def run(sandbox, *codes, event=None, tenant="t-semantics", budget=5.0, **kw):
    return await sandbox.run(tenant, make_flow(*codes, **kw), payload(event), budget=budget)


async def test_module_scope_is_evaluated_once_and_reused_across_executions(sandbox):
    flow = make_flow("""
        let loads = (globalThis.__loads = (globalThis.__loads || 0) + 1);
        let calls = 0;
        exports.onExecutePostLogin = async (event, api) => {
          calls++;
          api.idToken.setCustomClaim("n", [loads, calls]);
        };
    """)
    seen = []
    for _ in range(3):
        result = await sandbox.run("t", flow, payload())
        seen.append(result.actions[0]["commands"][0][2])
    assert seen == [[1, 1], [1, 2], [1, 3]]


async def test_a_top_level_error_is_rethrown_on_every_execution(sandbox):
    flow = make_flow("throw new Error('config missing');\nexports.onExecutePostLogin = async () => {};")
    for _ in range(2):
        result = await sandbox.run("t", flow, payload())
        assert result.status == "failed"
        assert result.error_class == "action_error"
        assert result.error["message"] == "Error: config missing"
        assert result.error["action"] == "action_1"


async def test_a_missing_handler_fails_with_a_message_naming_it(sandbox):
    result = await run(sandbox, "exports.somethingElse = async () => {};")
    assert result.status == "failed"
    assert "onExecutePostLogin" in result.error["message"]


async def test_a_non_object_export_fails_with_a_clear_message(sandbox):
    result = await run(sandbox, "module.exports = 42;")
    assert result.status == "failed"
    assert "must export an object" in result.error["message"]


async def test_a_plain_function_handler_runs_with_a_warning_in_the_logs(sandbox):
    result = await run(sandbox, "exports.onExecutePostLogin = function (event, api) { api.idToken.setCustomClaim('a', 1); };")
    assert result.status == "completed"
    assert result.actions[0]["commands"] == [["idToken.setCustomClaim", "a", 1]]
    assert "not an async function" in result.actions[0]["logs"]


async def test_each_action_gets_a_fresh_copy_of_the_event(sandbox):
    result = await run(
        sandbox,
        "exports.onExecutePostLogin = async (event) => { event.user.email = 'changed'; event.extra = 1; };",
        "exports.onExecutePostLogin = async (event, api) => { api.idToken.setCustomClaim('seen', [event.user.email, event.extra === undefined]); };",
    )
    assert result.actions[1]["commands"] == [["idToken.setCustomClaim", "seen", ["user@example.com", True]]]


async def test_later_actions_see_queued_metadata_and_the_setting_action_does_not(sandbox):
    result = await run(
        sandbox,
        """exports.onExecutePostLogin = async (event, api) => {
             api.user.setAppMetadata('plan', 'gold');
             api.user.setUserMetadata('locale', null);
             api.idToken.setCustomClaim('self', [event.user.app_metadata.plan || null, event.user.user_metadata.locale]);
           };""",
        """exports.onExecutePostLogin = async (event, api) => {
             api.idToken.setCustomClaim('later', [event.user.app_metadata.plan, 'locale' in event.user.user_metadata]);
           };""",
    )
    assert result.actions[0]["commands"][-1] == ["idToken.setCustomClaim", "self", [None, "en-GB"]]
    assert result.actions[1]["commands"] == [["idToken.setCustomClaim", "later", ["gold", False]]]


async def test_deny_lets_the_current_action_finish_and_stops_the_later_ones(sandbox):
    result = await run(
        sandbox,
        "exports.onExecutePostLogin = async (event, api) => { api.access.deny('no'); api.user.setAppMetadata('after_deny', true); };",
        "exports.onExecutePostLogin = async (event, api) => { api.user.setAppMetadata('never', true); };",
    )
    assert result.status == "denied"
    assert [a["name"] for a in result.actions] == ["action_1"]
    assert result.actions[0]["commands"] == [["access.deny", "no"], ["user.setAppMetadata", "after_deny", True]]


async def test_an_uncaught_error_drops_that_actions_commands_and_keeps_earlier_ones(sandbox):
    result = await run(
        sandbox,
        "exports.onExecutePostLogin = async (event, api) => { api.user.setAppMetadata('first', 1); };",
        "exports.onExecutePostLogin = async (event, api) => { api.user.setAppMetadata('second', 2); await null; throw new TypeError('boom'); };",
        "exports.onExecutePostLogin = async (event, api) => { api.user.setAppMetadata('third', 3); };",
    )
    assert result.status == "failed"
    assert result.error_class == "action_error"
    assert result.error["action"] == "action_2"
    assert result.error["message"] == "TypeError: boom"
    assert [a["status"] for a in result.actions] == ["ok", "error"]
    assert result.actions[0]["commands"] == [["user.setAppMetadata", "first", 1]]
    assert result.actions[1]["commands"] == []


async def test_an_error_stack_points_at_the_line_of_the_action_file(sandbox):
    result = await run(sandbox, "\n\nexports.onExecutePostLogin = async () => {\n  null.x;\n};", names=["guard"])
    assert "guard:4:" in result.error["stack"]


async def test_an_error_stack_shows_the_action_and_built_ins_not_the_runtime(sandbox):
    result = await run(sandbox, """exports.onExecutePostLogin = async () => {
      await null;
      function inner() { throw new Error('deep'); }
      [1].map(() => inner());
    };""", names=["guard"])
    lines = result.error["stack"].split("\n")
    assert lines[0] == "Error: deep"
    assert lines[1] == "    at inner (guard:3:32)"
    assert "    at Array.map (<anonymous>)" in lines
    assert lines[-1] == "    at exports.onExecutePostLogin (guard:4:11)"
    for internal in ("runPostLogin", "startNextJob", "step", "<anonymous>:"):
        assert internal not in result.error["stack"], result.error["stack"]


async def test_a_redirect_suspends_the_flow_after_the_current_action(sandbox):
    result = await run(
        sandbox,
        """exports.onExecutePostLogin = async (event, api) => {
             api.redirect.sendUserTo('https://mfa.example.com/start', { query: { n: 1 } });
             api.user.setAppMetadata('pending', true);
           };
           exports.onContinuePostLogin = async (event, api) => { api.user.setAppMetadata('back', true); };""",
        "exports.onExecutePostLogin = async (event, api) => { api.idToken.setCustomClaim('second', true); };",
    )
    assert result.status == "redirect"
    assert result.data["resume_index"] == 0
    assert result.actions[0]["commands"] == [
        ["redirect.sendUserTo", "https://mfa.example.com/start", {"n": "1"}],
        ["user.setAppMetadata", "pending", True],
    ]


async def test_continue_runs_the_same_actions_continue_handler_then_the_rest(sandbox):
    flow = make_flow(
        """exports.onExecutePostLogin = async (event, api) => { api.redirect.sendUserTo('https://x.example.com'); };
           exports.onContinuePostLogin = async (event, api) => { api.user.setAppMetadata('back', event.request.query.ok); };""",
        "exports.onExecutePostLogin = async (event, api) => { api.idToken.setCustomClaim('second', true); };",
    )
    event = workload_event()
    event["request"]["query"] = {"ok": "yes"}
    result = await sandbox.run("t", flow, payload(event, resume={"index": 0}))
    assert result.status == "completed"
    assert [a["commands"] for a in result.actions] == [
        [["user.setAppMetadata", "back", "yes"]],
        [["idToken.setCustomClaim", "second", True]],
    ]


async def test_settimeout_zero_and_intervals_fire(sandbox):
    result = await run(sandbox, """
        exports.onExecutePostLogin = async (event, api) => {
          const order = [];
          await new Promise((resolve) => setTimeout(() => { order.push('t0'); resolve(); }, 0));
          await new Promise((resolve) => setTimeout(resolve, 20));
          let n = 0;
          await new Promise((resolve) => { const id = setInterval(() => { if (++n === 3) { clearInterval(id); resolve(); } }, 5); });
          setImmediate(() => order.push('never-awaited'));
          queueMicrotask(() => order.push('micro'));
          await null;
          api.idToken.setCustomClaim('order', [...order, n]);
        };""")
    assert result.status == "completed", result.error
    assert result.actions[0]["commands"] == [["idToken.setCustomClaim", "order", ["t0", "micro", 3]]]


async def test_console_formats_like_node_and_keeps_logs_per_action(sandbox):
    result = await run(
        sandbox,
        """exports.onExecutePostLogin = async (event) => {
             console.log('user %s has %d logins', event.user.nickname, event.stats.logins_count);
             console.info({ a: 1, b: 'x', c: [1, 2] }, null, undefined);
             console.warn(new Error('careful').message);
           };""",
        "exports.onExecutePostLogin = async () => { console.error('second action'); };",
    )
    assert result.actions[0]["logs"] == "user sam has 12 logins\n{ a: 1, b: 'x', c: [ 1, 2 ] } null undefined\ncareful\n"
    assert result.actions[1]["logs"] == "second action\n"


async def test_console_shows_typed_arrays_like_node(sandbox):
    result = await run(sandbox, """exports.onExecutePostLogin = async () => {
        console.log(new Uint8Array([1, 2, 3]), new Float64Array(0));
        console.log(new Uint8Array(1e6));
      };""")
    lines = result.actions[0]["logs"].splitlines()
    assert lines[0] == "Uint8Array(3) [ 1, 2, 3 ] Float64Array(0) []"
    assert lines[1] == "Uint8Array(1000000) [ " + ", ".join(["0"] * 100) + ", ... 999900 more items ]"


async def test_stack_trace_hooks_work_inside_an_action_and_end_with_it(sandbox):
    result = await run(
        sandbox,
        """exports.onExecutePostLogin = async (event, api) => {
             Error.stackTraceLimit = 1;
             Error.prepareStackTrace = (err, frames) => 'hooked:' + frames.map((f) => f.getFunctionName()).join(',');
             function named() { return new Error('x').stack; }
             api.idToken.setCustomClaim('stack', named());
           };""",
        """exports.onExecutePostLogin = async (event, api) => {
             api.idToken.setCustomClaim('later', [typeof Error.prepareStackTrace, Error.stackTraceLimit, new Error('y').stack.split('\\n')[0]]);
           };""",
    )
    assert result.status == "completed", result.error
    assert result.actions[0]["commands"] == [["idToken.setCustomClaim", "stack", "hooked:named"]]
    assert result.actions[1]["commands"] == [["idToken.setCustomClaim", "later", ["undefined", 10, "Error: y"]]]


async def test_api_methods_cannot_be_replaced(sandbox):
    result = await run(sandbox, """exports.onExecutePostLogin = async (event, api) => {
        api.idToken.setCustomClaim = () => {};
      };""")
    assert result.status == "failed"
    assert result.error["message"] == "TypeError: api.setCustomClaim cannot be replaced: the api's methods are shared with the runtime"


@pytest.mark.parametrize("code, message", [
    ("let o = 1; for (let i = 0; i < 101; i++) o = [o]; api.user.setAppMetadata('deep', o);",
     "RangeError: api.user.setAppMetadata: the value is nested deeper than 100 levels"),
    ("api.access.deny('x'.repeat(2 ** 20));", "RangeError: api.access.deny: this execution's recorded values would exceed"),
])
async def test_oversized_or_too_deep_values_fail_the_call(sandbox, code, message):
    result = await run(sandbox, f"exports.onExecutePostLogin = async (event, api) => {{ {code} }};")
    assert result.status == "failed"
    assert result.error["message"].startswith(message), result.error


async def test_a_long_error_message_is_truncated_with_a_count(sandbox):
    result = await run(sandbox, "exports.onExecutePostLogin = async () => { throw new Error('m'.repeat(10000)); };")
    assert result.error["message"] == "Error: " + "m" * (8192 - 7) + "... [1815 more characters]"
    assert len(result.error["stack"]) < 16 * 1024 + 64


async def test_secrets_are_the_actions_own(sandbox):
    result = await run(
        sandbox,
        "exports.onExecutePostLogin = async (event, api) => { api.idToken.setCustomClaim('s', event.secrets); };",
        "exports.onExecutePostLogin = async (event, api) => { api.idToken.setCustomClaim('s', event.secrets); };",
        secrets=[{"API_KEY": "one"}, {"OTHER": "two"}],
    )
    assert [a["commands"][0][2] for a in result.actions] == [{"API_KEY": "one"}, {"OTHER": "two"}]


async def test_transaction_metadata_is_live_and_carried_to_later_actions(sandbox):
    result = await run(
        sandbox,
        """exports.onExecutePostLogin = async (event, api) => {
             api.transaction.setMetadata('step', 1);
             api.idToken.setCustomClaim('now', event.transaction.metadata.step);
           };""",
        "exports.onExecutePostLogin = async (event, api) => { api.idToken.setCustomClaim('later', event.transaction.metadata.step); };",
    )
    assert result.actions[0]["commands"][-1] == ["idToken.setCustomClaim", "now", 1]
    assert result.actions[1]["commands"] == [["idToken.setCustomClaim", "later", 1]]
    assert result.data["transaction_metadata"] == {"step": 1}


async def test_require_of_an_unknown_module_fails_like_node(sandbox):
    result = await run(sandbox, "const x = require('left-pad');\nexports.onExecutePostLogin = async () => {};")
    assert result.status == "failed"
    assert "Cannot find module 'left-pad'" in result.error["message"]


async def test_proto_keys_in_metadata_are_plain_data(sandbox):
    result = await run(
        sandbox,
        "exports.onExecutePostLogin = async (event, api) => { api.user.setAppMetadata('__proto__', { admin: true }); };",
        "exports.onExecutePostLogin = async (event, api) => { api.idToken.setCustomClaim('admin', event.user.app_metadata.admin === true); api.idToken.setCustomClaim('own', Object.keys(event.user.app_metadata)); };",
    )
    assert result.status == "completed", result.error
    assert result.actions[1]["commands"] == [
        ["idToken.setCustomClaim", "admin", False],
        ["idToken.setCustomClaim", "own", ["__proto__"]],
    ]


@pytest.mark.parametrize("value, message", [
    ("10n", "cannot be stored as JSON"),
    ("(() => { const o = {}; o.self = o; return o; })()", "cannot be stored as JSON"),
])
async def test_values_that_are_not_json_fail_the_call_that_passed_them(sandbox, value, message):
    result = await run(sandbox, f"exports.onExecutePostLogin = async (event, api) => {{ api.user.setAppMetadata('k', {value}); }};")
    assert result.status == "failed"
    assert message in result.error["message"]


async def test_exotic_numbers_are_recorded_as_json_would(sandbox):
    result = await run(sandbox, "exports.onExecutePostLogin = async (event, api) => { api.user.setAppMetadata('k', [NaN, -0, Infinity, undefined, () => 1]); };")
    assert result.actions[0]["commands"] == [["user.setAppMetadata", "k", [None, 0, None, None, None]]]


async def test_web_globals_work_in_actions(sandbox):
    result = await run(sandbox, """
        exports.onExecutePostLogin = async (event, api) => {
          const u = new URL('/cb?x=1#f', 'https://Login.Example.com:443/a/b');
          u.searchParams.append('y', 'a b');
          const bytes = new TextEncoder().encode('héllo');
          api.idToken.setCustomClaim('out', [u.href, bytes.length, new TextDecoder().decode(bytes),
            btoa('hi'), atob('aGk='), typeof crypto.randomUUID()]);
        };""")
    assert result.status == "completed", result.error
    assert result.actions[0]["commands"][0][2] == [
        "https://login.example.com/cb?x=1&y=a+b#f", 6, "héllo", "aGk=", "hi", "string"]


async def test_text_encoder_output_counts_against_the_buffer_budget(sandbox):
    result = await run(sandbox, """
        exports.onExecutePostLogin = async () => {
          const keep = [];
          for (let i = 0; i < 100; i++) keep.push(new TextEncoder().encode('x'.repeat(8 * 1024 * 1024)));
        };""")
    assert result.status == "failed"
    assert "Array buffer allocation failed" in result.error["message"]


async def test_redirect_tokens_round_trip_and_tampering_is_refused(sandbox):
    code = """
        exports.onExecutePostLogin = async (event, api) => {
          const token = api.redirect.encodeToken({ secret: 's3cret', payload: { state: 'st', n: 1 }, expiresInSeconds: 60 });
          const bad = token.slice(0, -2) + (token.endsWith('A') ? 'BB' : 'AA');
          event.request.query = { session_token: token, state: 'st' };
          const ok = api.redirect.validateToken({ secret: 's3cret' });
          let refused = '';
          event.request.query = { session_token: bad, state: 'st' };
          try { api.redirect.validateToken({ secret: 's3cret' }); } catch (e) { refused = e.message; }
          api.idToken.setCustomClaim('r', [ok.n, ok.sub, ok.exp - ok.iat, refused]);
        };"""
    result = await run(sandbox, code)
    assert result.status == "completed", result.error
    n, sub, ttl, refused = result.actions[0]["commands"][0][2]
    assert (n, sub, ttl) == (1, "auth0|42", 60)
    assert refused == "The session token is invalid: Failed signature validation"


async def test_each_actions_start_and_end_times_are_its_own(sandbox):
    """started_at/ended_at are ISO times in milliseconds that follow the clock: an action that
    waits 30 ms ends 30 ms after it started, the next starts no earlier, and a later execution
    on the same isolate is stamped later still."""
    from datetime import datetime

    flow = make_flow("exports.onExecutePostLogin = async () => { await new Promise((r) => setTimeout(r, 30)); };",
                     "exports.onExecutePostLogin = async () => {};")

    def ms(text):
        assert text.endswith("Z") and len(text) == 24, text
        return datetime.fromisoformat(text[:-1] + "+00:00").timestamp() * 1000

    seen = []
    for _ in range(2):
        result = await sandbox.run("t-times", flow, payload())
        first, second = result.actions
        # (the start is read a moment before the duration's clock starts: it may be 1 ms earlier)
        assert ms(first["ended_at"]) - ms(first["started_at"]) - first["duration_ms"] in (0, 1)
        assert first["duration_ms"] >= 30
        assert ms(first["ended_at"]) <= ms(second["started_at"]) <= ms(second["ended_at"])
        seen.append((ms(first["started_at"]), ms(second["ended_at"])))
    assert seen[0][1] <= seen[1][0]


async def test_continue_of_an_action_without_a_continue_handler_goes_on_with_the_next_action(sandbox):
    flow = make_flow(
        "exports.onExecutePostLogin = async (event, api) => { api.redirect.sendUserTo('https://x.example.com'); };",
        "exports.onExecutePostLogin = async (event, api) => { api.idToken.setCustomClaim('second', true); };",
        """exports.onExecutePostLogin = async (event, api) => { api.redirect.sendUserTo('https://y.example.com'); };
           exports.onContinuePostLogin = async () => {};""",
    )
    result = await sandbox.run("t", flow, payload(resume={"index": 0}))
    assert result.status == "redirect", result.data
    assert [a["name"] for a in result.actions] == ["action_2", "action_3"]
    assert result.actions[0]["commands"] == [["idToken.setCustomClaim", "second", True]]
    # the second redirect resumes at the third action, by its position in the flow
    assert result.data["resume_index"] == 2


@pytest.mark.parametrize(("protocol", "query", "expected"), [
    ("oidc-basic-profile", {}, True),
    ("oauth2-refresh-token", {}, False),
    ("oauth2-password", {}, False),
    ("oauth2-resource-owner", {}, False),
    ("oauth2-token-exchange", {}, False),
    ("oidc-basic-profile", {"prompt": "none"}, False),
    ("oidc-basic-profile", {"prompt": "login"}, True),
])
async def test_can_redirect_is_false_where_auth0_cannot_redirect(sandbox, protocol, query, expected):
    event = workload_event()
    event["transaction"]["protocol"] = protocol
    event["request"]["query"] = query
    result = await run(sandbox, """exports.onExecutePostLogin = async (event, api) => {
        event.transaction.protocol = "oidc-basic-profile";  // the action's own copy does not decide it
        api.idToken.setCustomClaim('can', api.redirect.canRedirect());
    };""", event=event)
    assert result.actions[0]["commands"] == [["idToken.setCustomClaim", "can", expected]], result.data


async def test_a_hashbang_first_line_compiles_and_keeps_line_numbers(sandbox):
    result = await run(sandbox, "#!/usr/bin/env node\n'use strict';\nexports.onExecutePostLogin = async (event, api) => {\n  throw new Error('line 4');\n};\n")
    assert result.status == "failed"
    assert result.error["message"] == "Error: line 4"
    assert ":4:" in result.error["stack"], result.error["stack"]


async def test_a_hashbang_first_line_passes_the_build_check():
    import asyncio

    from sandbox.compiler import Compiler
    compiler = Compiler(asyncio.get_running_loop())
    try:
        assert await compiler.check("#!/usr/bin/env node\nexports.onExecutePostLogin = async () => {};\n") == []
        errors = await compiler.check("#!/usr/bin/env node\nexports.onExecutePostLogin = ;\n")
        assert errors and "line 2" in errors[0]["msg"], errors
    finally:
        await compiler.close()

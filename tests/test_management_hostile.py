"""Hostile admin input to the Management API: every bad request gets a 4xx in Auth0's error shape
(never a 500, never a hang) and changes nothing; the server keeps serving afterwards."""

from __future__ import annotations

import asyncio
import gzip
import itertools
import random
import uuid
from http import HTTPStatus
from typing import Any

import httpx
import orjson
import pytest
from conftest import start_server

API = "/api/v2"
ACTIONS = f"{API}/actions/actions"
BINDINGS = f"{API}/actions/triggers/post-login/bindings"
POST_LOGIN = [{"id": "post-login", "version": "v3"}]
CODE = "exports.onExecutePostLogin = async (event, api) => { api.user.setAppMetadata('hostile', false); };\n"
TIMEOUT = httpx.Timeout(30.0)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def assert_rejected(response: httpx.Response, status: int | None = None) -> dict:
    """A 4xx (exactly `status` when given) with Auth0's error body."""
    where = (response.request.method, str(response.request.url)[:200], response.status_code, response.text[:500])
    if status is not None:
        assert response.status_code == status, where
    assert 400 <= response.status_code < 500, where
    assert response.headers.get("content-type", "").startswith("application/json"), where
    body = response.json()
    assert body["statusCode"] == response.status_code, where
    assert body["error"] == HTTPStatus(response.status_code).phrase, where
    assert isinstance(body["message"], str) and body["message"], where
    return body


@pytest.fixture(scope="module")
def http(server):
    with httpx.Client(base_url=server.url, headers=server.headers(), timeout=TIMEOUT) as client:
        yield client


def create(http: httpx.Client, name: str | None = None, deploy: bool = True, **extra: Any) -> dict:
    response = http.post(ACTIONS, json={"name": name or unique("ok"), "supported_triggers": POST_LOGIN,
                                        "code": CODE, "deploy": deploy, **extra})
    assert response.status_code == 201, response.text
    return response.json()


def ref(kind: str, value: str, **extra: Any) -> dict:
    return {"ref": {"type": kind, "value": value}, **extra}


def state(http: httpx.Client) -> dict:
    """Everything a hostile request could have changed, in a comparable form."""
    actions = []
    page = 0
    while True:
        body = http.get(ACTIONS, params={"page": page, "per_page": 100}).json()
        actions += body["actions"]
        if len(body["actions"]) < 100:
            break
        page += 1
    # a deploy or rollback shows in the action itself: updated_at and deployed_version change
    return {"actions": sorted(actions, key=lambda a: a["id"]), "bindings": http.get(BINDINGS).json()["bindings"]}


@pytest.fixture
def unchanged(http):
    """Fails the test when the server's state differs after it from before it."""
    before = state(http)
    yield before
    assert state(http) == before, "a rejected request changed the server's state"


@pytest.fixture(scope="module")
def target(http) -> dict:
    """A deployed action, bound alone to post-login: what PATCHes aim at."""
    action = create(http, unique("target"))
    bound = http.patch(BINDINGS, json={"bindings": [ref("action_id", action["id"])]})
    assert bound.status_code == 200, bound.text
    return action


# -- malformed bodies ----------------------------------------------------------------------

MALFORMED = [
    b"",
    b"{",
    b"not json",
    b'{"name": "x",}',
    b"{'name': 'x'}",
    b'{"name": "x"} trailing',
    b'{"name": "\\ud800"}',
    b'{"name": 1e999}',
    b"\xff\xfe{\x00}",
    b"[]",
    b"null",
    b'"a string"',
    b"42",
    b"NaN",
]


def body_endpoints(action_id: str) -> list[tuple[str, str]]:
    return [
        ("POST", ACTIONS),
        ("PATCH", f"{ACTIONS}/{action_id}"),
        ("POST", f"{ACTIONS}/{action_id}/test"),
        ("PATCH", BINDINGS),
        ("POST", f"{API}/users"),
        ("PATCH", f"{API}/users/auth0%7Cnobody"),
    ]


@pytest.mark.parametrize("raw", MALFORMED, ids=[repr(m)[:30] for m in MALFORMED])
def test_malformed_json_is_a_400(http, target, unchanged, raw):
    for method, path in body_endpoints(target["id"]):
        assert_rejected(http.request(method, path, content=raw, headers={"Content-Type": "application/json"}), 400)


def test_a_10_mb_body_is_a_413(http, target, unchanged):
    big = b'{"name": "' + b"a" * (10 * 2**20) + b'", "supported_triggers": [{"id": "post-login"}]}'

    def chunks():
        for start in range(0, len(big), 64 * 1024):
            yield big[start:start + 64 * 1024]

    for method, path in body_endpoints(target["id"]):
        assert_rejected(http.request(method, path, content=big, headers={"Content-Type": "application/json"}), 413)
        # without a Content-Length the limit holds while reading
        assert_rejected(http.request(method, path, content=chunks(), headers={"Content-Type": "application/json"}), 413)
    assert http.get("/healthz").status_code == 200


def test_a_gzip_bomb_is_a_413(http, target, unchanged):
    bomb = gzip.compress(b'{"name": "' + b"a" * (100 * 2**20) + b'"}', 9)  # ~100 kB that inflates to 100 MB
    for method, path in body_endpoints(target["id"]):
        response = http.request(method, path, content=bomb,
                                headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
        assert_rejected(response, 413)


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "zstd"])
def test_a_body_that_does_not_decode_is_refused(http, target, unchanged, encoding):
    raw = b'{"name": "' + unique("enc").encode() + b'", "supported_triggers": [{"id": "post-login"}], "code": ""}'
    for method, path in body_endpoints(target["id"]):
        response = http.request(method, path, content=raw,
                                headers={"Content-Type": "application/json", "Content-Encoding": encoding})
        assert_rejected(response)


def test_an_over_long_request_line_or_header_is_refused(http, unchanged):
    assert_rejected(http.get(f"{ACTIONS}/{'a' * 10_000}"))
    assert_rejected(http.get(ACTIONS, headers={"X-Padding": "p" * 10_000}))


@pytest.mark.parametrize("shape", ["arrays", "objects", "inside_a_valid_create", "inside_user_metadata"])
def test_json_nested_10000_deep_is_a_400(http, target, unchanged, shape):
    depth = 10_000
    arrays = "[" * depth + "]" * depth
    objects = '{"a":' * depth + "1" + "}" * depth
    if shape == "arrays":
        raw = arrays
    elif shape == "objects":
        raw = objects
    elif shape == "inside_a_valid_create":
        raw = f'{{"name": "{unique("deep")}", "supported_triggers": [{{"id": "post-login"}}], "code": "", "dependencies": {arrays}}}'
    else:
        raw = f'{{"connection": "Username-Password-Authentication", "user_metadata": {objects}}}'
    for method, path in body_endpoints(target["id"]):
        response = http.request(method, path, content=raw.encode(), headers={"Content-Type": "application/json"})
        assert_rejected(response, 400)


# -- wrong types -------------------------------------------------------------------------

WRONG_TYPES = [
    ("name", 123), ("name", None), ("name", ["a"]), ("name", {"a": 1}), ("name", True), ("name", ""), ("name", "   "),
    ("name", "n" * 10_000),
    ("supported_triggers", "post-login"), ("supported_triggers", {"id": "post-login"}), ("supported_triggers", []),
    ("supported_triggers", ["post-login"]), ("supported_triggers", [{"id": 5}]), ("supported_triggers", [{}]),
    ("supported_triggers", [{"id": "post-login", "version": 3}]), ("supported_triggers", [{"id": "post-login", "version": "v999"}]),
    ("supported_triggers", None),
    ("code", ["exports.x = 1"]), ("code", 5), ("code", {"source": "x"}), ("code", True),
    ("secrets", {"KEY": "value"}), ("secrets", "KEY=value"), ("secrets", ["KEY"]), ("secrets", [{"name": 1, "value": "v"}]),
    ("secrets", [{"name": "KEY", "value": 5}]), ("secrets", [{"name": "KEY", "value": {"v": 1}}]), ("secrets", [{"value": "v"}]),
    ("secrets", [{"name": "", "value": "v"}]), ("secrets", [{"name": "A", "value": "1"}, {"name": "A", "value": "2"}]),
    ("deploy", "true"), ("deploy", 1), ("deploy", "yes"), ("deploy", [True]),
    ("dependencies", "lodash"), ("dependencies", [{"name": 1}]), ("dependencies", ["lodash"]),
    ("runtime", 22), ("runtime", "node0"), ("runtime", ["node22"]),
]


@pytest.mark.parametrize("field,value", WRONG_TYPES, ids=[f"{f}={v!r}"[:40] for f, v in WRONG_TYPES])
def test_a_wrong_type_in_create_is_a_400(http, unchanged, field, value):
    body = {"name": unique("typed"), "supported_triggers": POST_LOGIN, "code": CODE, field: value}
    assert_rejected(http.post(ACTIONS, json=body), 400)


@pytest.mark.parametrize("field,value", [(f, v) for f, v in WRONG_TYPES if f != "deploy"],
                         ids=[f"{f}={v!r}"[:40] for f, v in WRONG_TYPES if f != "deploy"])
def test_a_wrong_type_in_update_is_a_400(http, target, unchanged, field, value):
    assert_rejected(http.patch(f"{ACTIONS}/{target['id']}", json={"code": "// would change", field: value}), 400)


def test_missing_required_fields_are_a_400(http, unchanged):
    assert_rejected(http.post(ACTIONS, json={"supported_triggers": POST_LOGIN, "code": CODE}), 400)
    assert_rejected(http.post(ACTIONS, json={"name": unique("no-trigger"), "code": CODE}), 400)
    assert_rejected(http.post(ACTIONS, json={}), 400)


def test_unknown_fields_are_ignored(http):
    name = unique("extra")
    response = http.post(ACTIONS, json={
        "name": name, "supported_triggers": POST_LOGIN, "code": CODE,
        "id": "chosen-id", "tenant_id": "other", "status": "failed", "deployed_version_id": "v-x",
        "__proto__": {"admin": True}, "constructor": {"prototype": {"polluted": True}}, "foo": [1, 2, 3],
    })
    assert response.status_code == 201, response.text
    action = response.json()
    assert action["id"] != "chosen-id"
    assert action["status"] == "built"
    assert "deployed_version" not in action or action["deployed_version"] is None
    assert "foo" not in action and "tenant_id" not in action
    assert http.get(f"{ACTIONS}/{action['id']}").json()["name"] == name
    assert http.get(f"{ACTIONS}/chosen-id").status_code == 404


# -- names, ids and triggers ---------------------------------------------------------------

UNSAFE_NAMES = ["a/b", "/", "../x", "..", ".", "a\\b", "a\x00b", "\x00", "a\nb", "a\rb", "a\tb", "\x1b[31mred",
                "a\x7fb", " padded", "padded "]


@pytest.mark.parametrize("name", UNSAFE_NAMES, ids=[repr(n) for n in UNSAFE_NAMES])
def test_unsafe_action_names_are_a_400(http, target, unchanged, name):
    assert_rejected(http.post(ACTIONS, json={"name": name, "supported_triggers": POST_LOGIN, "code": CODE}), 400)
    assert_rejected(http.patch(f"{ACTIONS}/{target['id']}", json={"name": name}), 400)


# Each renders a name as another in a listing: U+202E shows "admin\u202egnp.exe" as "adminexe.png".
DISGUISED_NAMES = ["admin\u202egnp.exe", "a\u202ab", "a\u202bb", "a\u202cb", "a\u202db", "a\u2066b", "a\u2067b",
                   "a\u2068b", "a\u2069b", "a\u200eb", "a\u200fb", "a\u061cb", "a\x80b", "a\x85b", "a\x9bb", "a\x9fb"]


@pytest.mark.parametrize("name", DISGUISED_NAMES, ids=[repr(n) for n in DISGUISED_NAMES])
def test_bidi_and_c1_control_characters_in_names_are_a_400(http, target, unchanged, name):
    for response in (http.post(ACTIONS, json={"name": name, "supported_triggers": POST_LOGIN, "code": CODE}),
                     http.patch(f"{ACTIONS}/{target['id']}", json={"name": name}),
                     http.patch(BINDINGS, json={"bindings": [ref("action_id", target["id"], display_name=name)]})):
        body = assert_rejected(response, 400)
        assert body["message"].startswith("Payload validation error: "), body


def test_names_in_other_scripts_are_still_accepted(http):
    for name in ("café-ünïcode", "ログイン後", "שם-פעולה", "اسم", "emoji 🚀 action"):
        action = create(http, unique(name))
        assert action["name"].startswith(name)
        assert http.get(f"{ACTIONS}/{action['id']}").json()["name"] == action["name"]


HOSTILE_IDS = ["..%2F..%2Fhealthz", "%2e%2e", "%00", "x%00y", "' OR '1'='1", "%27%3B DROP TABLE actions%3B--",
               "a" * 2000, "%F0%9F%92%A9", "%ff%fe"]


@pytest.mark.parametrize("action_id", HOSTILE_IDS, ids=[i[:20] for i in HOSTILE_IDS])
def test_hostile_action_ids_are_refused(http, unchanged, action_id):
    base = f"{ACTIONS}/{action_id}"
    for method, path, body in [("GET", base, None), ("PATCH", base, {"name": unique("x")}), ("DELETE", base, None),
                               ("DELETE", base + "?force=true", None), ("POST", base + "/deploy", None),
                               ("GET", base + "/versions", None), ("GET", base + "/versions/" + action_id, None),
                               ("POST", base + "/versions/" + action_id + "/deploy", {}),
                               ("POST", base + "/test", {"payload": {"event": {}}}),
                               ("GET", f"{API}/actions/executions/{action_id}", None)]:
        assert_rejected(http.request(method, path, json=body))


UNKNOWN_TRIGGERS = ["pre-login", "POST-LOGIN", "post-login ", "../post-login", "post-login/../x", "", "t" * 5000]


@pytest.mark.parametrize("trigger_id", UNKNOWN_TRIGGERS, ids=[t[:20] for t in UNKNOWN_TRIGGERS])
def test_unknown_trigger_ids_are_refused(http, target, unchanged, trigger_id):
    assert_rejected(http.post(ACTIONS, json={"name": unique("trig"), "supported_triggers": [{"id": trigger_id}], "code": CODE}),
                    400)
    assert_rejected(http.patch(f"{ACTIONS}/{target['id']}", json={"supported_triggers": [{"id": trigger_id}]}), 400)


@pytest.mark.parametrize("trigger_path", ["pre-login", "POST-LOGIN", "%2e%2e", "post-login%2F..", "%00", "t" * 4000])
def test_unknown_triggers_in_the_bindings_path_are_refused(http, target, unchanged, trigger_path):
    path = f"{API}/actions/triggers/{trigger_path}/bindings"
    assert_rejected(http.get(path))
    assert_rejected(http.patch(path, json={"bindings": [ref("action_id", target["id"])]}))
    assert_rejected(http.patch(path, json={"bindings": []}))


def test_more_than_one_supported_trigger_is_a_400(http, unchanged):
    assert_rejected(http.post(ACTIONS, json={"name": unique("two"), "code": CODE,
                                             "supported_triggers": [{"id": "post-login"}, {"id": "post-login"}]}), 400)


# -- bindings ------------------------------------------------------------------------------


def test_binding_an_undeployed_or_unknown_action_is_a_400(http, target, unchanged):
    draft = create(http, unique("undeployed"), deploy=False)
    unchanged.update(state(http))  # the draft itself is the baseline; the refusals below must change nothing
    for binding in (ref("action_id", draft["id"]), ref("action_name", draft["name"]),
                    ref("action_id", str(uuid.uuid4())), ref("action_name", unique("nobody")),
                    ref("binding_id", str(uuid.uuid4())), ref("action_id", "../" + target["id"])):
        assert_rejected(http.patch(BINDINGS, json={"bindings": [ref("action_id", target["id"]), binding]}), 400)


def test_deploying_a_draft_that_did_not_build_is_a_400_naming_the_error(http):
    action = create(http, unique("broken"), deploy=False, code="exports.onExecutePostLogin = async (event, api) => { ;;; )")
    assert action["status"] == "failed", action
    versions_before = http.get(f"{ACTIONS}/{action['id']}/versions").json()
    body = assert_rejected(http.post(f"{ACTIONS}/{action['id']}/deploy"), 400)
    assert body["errorCode"] == "action_not_built" and "failed to build" in body["message"], body
    assert http.get(f"{ACTIONS}/{action['id']}/versions").json() == versions_before  # no version made
    assert http.get(f"{ACTIONS}/{action['id']}").json().get("deployed_version") in (None, {})


def test_binding_an_action_twice_is_a_400(http, target, unchanged):
    for pair in ([ref("action_id", target["id"]), ref("action_id", target["id"])],
                 [ref("action_id", target["id"]), ref("action_name", target["name"])]):
        assert_rejected(http.patch(BINDINGS, json={"bindings": pair}), 400)


def test_more_than_20_bindings_is_a_400(http, target):
    actions = [target] + [create(http, unique("many")) for _ in range(20)]
    before = state(http)
    assert_rejected(http.patch(BINDINGS, json={"bindings": [ref("action_id", a["id"]) for a in actions]}), 400)
    assert state(http) == before
    exactly_20 = http.patch(BINDINGS, json={"bindings": [ref("action_id", a["id"]) for a in actions[:20]]})
    assert exactly_20.status_code == 200, exactly_20.text
    assert len(exactly_20.json()["bindings"]) == 20
    restored = http.patch(BINDINGS, json={"bindings": [ref("action_id", target["id"])]})
    assert restored.status_code == 200, restored.text


MALFORMED_BINDINGS = [
    {}, {"bindings": None}, {"bindings": "all"}, {"bindings": {"ref": {}}}, {"bindings": ["x"]}, {"bindings": [None]},
    {"bindings": [{"ref": "action_id"}]}, {"bindings": [{"ref": {"type": "action_id"}}]},
    {"bindings": [{"ref": {"type": "action_id", "value": ""}}]}, {"bindings": [{"ref": {"type": "action_id", "value": 5}}]},
    {"bindings": [{"ref": {"type": "nope", "value": "x"}}]}, {"bindings": [{"ref": {"value": "x"}}]},
]


@pytest.mark.parametrize("body", MALFORMED_BINDINGS, ids=[orjson.dumps(b).decode()[:40] for b in MALFORMED_BINDINGS])
def test_malformed_binding_lists_are_a_400(http, target, unchanged, body):
    assert_rejected(http.patch(BINDINGS, json=body), 400)


@pytest.mark.parametrize("display_name", [5, "", None, ["x"], "d" * 10_000])
def test_bad_display_names_are_a_400(http, target, unchanged, display_name):
    body = {"bindings": [{"ref": {"type": "action_id", "value": target["id"]}, "display_name": display_name}]}
    assert_rejected(http.patch(BINDINGS, json=body), 400)


# -- limits --------------------------------------------------------------------------------


def test_a_script_over_100_kb_is_a_400(http, target, unchanged):
    padding = "// " + "x" * (100 * 1024) + "\n"
    assert_rejected(http.post(ACTIONS, json={"name": unique("big"), "supported_triggers": POST_LOGIN,
                                             "code": padding + CODE}), 400)
    assert_rejected(http.patch(f"{ACTIONS}/{target['id']}", json={"code": padding + CODE}), 400)
    multibyte = "// " + "\u00e9" * 60_000 + "\n" + CODE  # 60,000 characters, 120,000 bytes
    assert_rejected(http.post(ACTIONS, json={"name": unique("big"), "supported_triggers": POST_LOGIN, "code": multibyte}), 400)


def test_more_than_30_secrets_is_a_400(http, target, unchanged):
    secrets = [{"name": f"S{i}", "value": "v"} for i in range(31)]
    assert_rejected(http.post(ACTIONS, json={"name": unique("secrets"), "supported_triggers": POST_LOGIN,
                                             "code": CODE, "secrets": secrets}), 400)
    assert_rejected(http.patch(f"{ACTIONS}/{target['id']}", json={"secrets": secrets}), 400)


def test_a_secret_over_the_limits_is_a_400(http, target, unchanged):
    for secret in ({"name": "BIG", "value": "v" * 4097}, {"name": "N" * 129, "value": "v"},
                   {"name": "a/b", "value": "v"}, {"name": "a\x00b", "value": "v"}):
        assert_rejected(http.post(ACTIONS, json={"name": unique("secret"), "supported_triggers": POST_LOGIN,
                                                 "code": CODE, "secrets": [secret]}), 400)
        assert_rejected(http.patch(f"{ACTIONS}/{target['id']}", json={"secrets": [secret]}), 400)


def test_secrets_at_the_limits_are_accepted(http):
    secrets = [{"name": f"S{i}", "value": "v"} for i in range(29)] + [{"name": "N" * 128, "value": "v" * 4096}]
    action = create(http, unique("at-limit"), deploy=False, secrets=secrets)
    assert len(action["secrets"]) == 30
    assert all("value" not in s for s in action["secrets"])


GARBAGE_QUERIES = [
    {"page": "-1"}, {"per_page": "abc"}, {"per_page": "0"}, {"per_page": "-5"}, {"per_page": "101"}, {"page": "1.5"},
    {"page": "99999999999999999999999"}, {"page": "0x10"}, {"page": "1e3"}, {"deployed": "maybe"}, {"per_page": "\x00"},
]


@pytest.mark.parametrize("query", GARBAGE_QUERIES, ids=[orjson.dumps(q).decode() for q in GARBAGE_QUERIES])
def test_garbage_query_parameters_are_a_400(http, target, query):
    if "deployed" in query:
        paths = [ACTIONS]
    else:
        paths = [ACTIONS, f"{ACTIONS}/{target['id']}/versions", BINDINGS]
    for path in paths:
        assert_rejected(http.get(path, params=query), 400)


def test_garbage_force_flag_does_not_delete(http, target, unchanged):
    assert_rejected(http.delete(f"{ACTIONS}/{target['id']}", params={"force": "yes please"}))


def test_hostile_user_requests_are_refused(http, unchanged):
    user_id = uuid.uuid4().hex
    created = http.post(f"{API}/users", json={"connection": "Username-Password-Authentication", "user_id": user_id,
                                              "app_metadata": {"plan": "free"}})
    assert created.status_code == 201, created.text
    path = f"{API}/users/auth0%7C{user_id}"
    before = http.get(path).json()
    for body in ({"app_metadata": "plan=gold"}, {"app_metadata": ["plan"]}, {"user_metadata": 5},
                 {"user_id": "auth0|stolen"}, {"app_metadata": {"plan": "gold"}, "user_metadata": "x"}):
        assert_rejected(http.patch(path, json=body), 400)
    for body in ({"user_id": user_id}, {"connection": 5}, {"email": 5, "connection": "c"}, {"app_metadata": "x", "connection": "c"},
                 {"connection": "c", "user_id": ""}):
        assert_rejected(http.post(f"{API}/users", json=body))
    assert http.get(path).json() == before
    assert_rejected(http.get(f"{API}/users/a%00b"))


# -- concurrency -------------------------------------------------------------------------


async def test_100_concurrent_conflicting_binding_patches_leave_exactly_one_of_them(server, http):
    actions = [create(http, unique("race")) for _ in range(4)]
    orders = [list(p) for k in range(1, 5) for p in itertools.permutations(actions, k)]  # 64 distinct orders
    rng = random.Random(7)
    submitted = []
    for i in range(100):
        order = orders[i] if i < len(orders) else rng.sample(actions, rng.randint(1, 4))
        # a display name per request: every submitted list is distinct, and a mix is visible
        submitted.append([(a["id"], f"req{i}-{a['name'][-6:]}") for a in order])

    async with httpx.AsyncClient(base_url=server.url, headers=server.headers(), timeout=TIMEOUT,
                                 limits=httpx.Limits(max_connections=100)) as client:
        async def patch(items):
            body = {"bindings": [ref("action_id", action_id, display_name=display) for action_id, display in items]}
            return await client.patch(BINDINGS, json=body)
        responses = await asyncio.wait_for(asyncio.gather(*(patch(items) for items in submitted)), 60)

        applied = []
        for items, response in zip(submitted, responses):
            assert response.status_code == 200 or 400 <= response.status_code < 500, response.text
            if response.status_code == 200:
                got = [(b["action"]["id"], b["display_name"]) for b in response.json()["bindings"]]
                assert got == items, "a 200 answer must show exactly the list that request submitted"
                applied.append(items)
            else:
                assert_rejected(response)
        assert applied, "not one of the 100 binding updates was applied"

        final = (await client.get(BINDINGS)).json()["bindings"]
        final_items = [(b["action"]["id"], b["display_name"]) for b in final]
        assert final_items in applied, f"the final bindings are not any one submitted list: {final_items}"

    assert http.patch(BINDINGS, json={"bindings": []}).status_code == 200


async def test_concurrent_creates_with_one_name_make_exactly_one_action(server, http):
    name = unique("same-name")
    body = {"name": name, "supported_triggers": POST_LOGIN, "code": CODE}
    async with httpx.AsyncClient(base_url=server.url, headers=server.headers(), timeout=TIMEOUT) as client:
        responses = await asyncio.wait_for(asyncio.gather(*(client.post(ACTIONS, json=body) for _ in range(20))), 60)
    assert sorted(r.status_code for r in responses) == [201] + [409] * 19, [r.text for r in responses]
    for response in responses:
        if response.status_code == 409:
            assert_rejected(response, 409)
    assert http.get(ACTIONS, params={"actionName": name}).json()["total"] == 1


async def test_concurrent_deploys_number_versions_without_gaps_or_repeats(server, http):
    action = create(http, unique("deploys"), deploy=False)
    async with httpx.AsyncClient(base_url=server.url, headers=server.headers(), timeout=TIMEOUT) as client:
        responses = await asyncio.wait_for(
            asyncio.gather(*(client.post(f"{ACTIONS}/{action['id']}/deploy") for _ in range(30))), 60)
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses if r.status_code != 200]
    assert sorted(r.json()["number"] for r in responses) == list(range(1, 31))
    assert http.get(f"{ACTIONS}/{action['id']}").json()["deployed_version"]["number"] == 30
    assert http.get(f"{ACTIONS}/{action['id']}/versions").json()["total"] == 30


def test_renaming_onto_an_existing_name_is_a_409(http, target, unchanged):
    other = http.get(ACTIONS, params={"per_page": 100}).json()["actions"]
    taken = next(a["name"] for a in other if a["id"] != target["id"])
    assert_rejected(http.patch(f"{ACTIONS}/{target['id']}", json={"name": taken}), 409)


@pytest.mark.parametrize("body", [{}, {"payload": "x"}, {"payload": 5}, {"payload": None}, {"payload": []},
                                  {"payload": {"event": "x"}}, {"payload": {"event": []}}])
def test_a_malformed_test_payload_is_a_400(http, target, unchanged, body):
    assert_rejected(http.post(f"{ACTIONS}/{target['id']}/test", json=body), 400)


# -- hostile drafts run by the test endpoint ---------------------------------------------

BUDGET = 2.0
HOSTILE_DRAFTS = {
    "infinite_loop": "exports.onExecutePostLogin = async () => { while (true) {} };",
    "never_settles": "exports.onExecutePostLogin = () => new Promise(() => {});",
    "output_flood": "exports.onExecutePostLogin = async () => { for (;;) console.log('x'.repeat(10000)); };",
    "memory_bomb": "exports.onExecutePostLogin = async () => { const a = []; for (;;) a.push(new Array(1e6).fill(1)); };",
    "deep_recursion": "exports.onExecutePostLogin = async () => { const f = (n) => f(n + 1) + 1; f(0); };",
}


@pytest.fixture(scope="module")
def short_budget_server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("short-budget") / "data", "--execution-budget", str(BUDGET))
    try:
        yield srv
    finally:
        srv.stop()


@pytest.mark.parametrize("kind", HOSTILE_DRAFTS)
async def test_a_hostile_draft_under_test_fails_within_its_budget_and_the_server_keeps_serving(short_budget_server, kind):
    srv = short_budget_server
    async with httpx.AsyncClient(base_url=srv.url, headers=srv.headers(), timeout=TIMEOUT) as client:
        created = await client.post(ACTIONS, json={"name": unique(kind), "supported_triggers": POST_LOGIN,
                                                   "code": HOSTILE_DRAFTS[kind]})
        assert created.status_code == 201, created.text
        action_id = created.json()["id"]
        loop = asyncio.get_running_loop()
        started = loop.time()
        event = {"payload": {"event": {"user": {"user_id": "hostile"}}}}
        running = asyncio.ensure_future(client.post(f"{ACTIONS}/{action_id}/test", json=event))

        slowest = 0.0
        while not running.done():
            probe = loop.time()
            assert (await client.get("/healthz")).status_code == 200
            assert (await client.get(ACTIONS, params={"per_page": 1})).status_code == 200
            slowest = max(slowest, loop.time() - probe)
            await asyncio.sleep(0.1)
        response = await running
        elapsed = loop.time() - started

        assert response.status_code == 200, response.text
        payload = response.json()["payload"]
        assert payload.get("error"), payload
        assert not payload.get("commands")
        assert len(response.content) < 2 * 2**20, "an output flood must come back bounded"
        assert elapsed < BUDGET + 5, f"the test run took {elapsed:.1f} s on a {BUDGET} s budget"
        assert slowest < 1.0, f"the server stalled {slowest:.2f} s while the draft ran"

        fixed = await client.patch(f"{ACTIONS}/{action_id}", json={"code": CODE})
        assert fixed.status_code == 200, fixed.text
        again = await client.post(f"{ACTIONS}/{action_id}/test", json=event)
        assert again.status_code == 200, again.text
        assert again.json()["payload"]["commands"] == [["user.setAppMetadata", "hostile", False]]


# -- afterwards --------------------------------------------------------------------------


def test_the_server_is_still_healthy_and_a_normal_create_works(server, http):
    assert http.get("/healthz").status_code == 200
    action = create(http, unique("after"))
    assert action["status"] == "built"
    assert action["deployed_version"]["number"] == 1
    assert http.get(f"{ACTIONS}/{action['id']}").status_code == 200


def test_no_request_of_this_module_ended_in_an_unhandled_error(server):
    log = (server.data_dir.parent / f"server-{server.port}.log").read_text(errors="replace")
    assert "unhandled error" not in log, log[-4000:]
    assert "Traceback" not in log, log[-4000:]

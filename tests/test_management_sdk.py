"""The Management API as the official SDK (auth0-python) sees it: every actions endpoint and the
users endpoints, driven through the SDK's typed methods against a real `actionhost serve`.

A response the SDK's pydantic models reject surfaces here as a ParsingError, so these tests also
pin our response shapes to Auth0's."""

from __future__ import annotations

import datetime as dt
import time
import uuid

import httpx
import pytest
from auth0.management import (
    ActionBindingRef,
    ActionBindingWithRef,
    ActionSecretRequest,
    ActionTrigger,
    Auth0,
    DeployActionVersionRequestContent,
)
from auth0.management.core.api_error import ApiError
from conftest import workload_event

POST_LOGIN = [ActionTrigger(id="post-login", version="v3")]
SECRET_VALUE = "s3cr3t-value-that-must-never-come-back"


def code_setting(key: str, value: str) -> str:
    return (
        "exports.onExecutePostLogin = async (event, api) => {\n"
        f"  api.user.setAppMetadata({key!r}, {value!r});\n"
        "};\n"
    )


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def api_error(call, *args, **kwargs) -> ApiError:
    """The ApiError the SDK raises for the call; fails when the call succeeds."""
    with pytest.raises(ApiError) as caught:
        call(*args, **kwargs)
    return caught.value


def assert_auth0_error(error: ApiError, status: int) -> None:
    assert error.status_code == status, error
    assert isinstance(error.body, dict), error
    assert error.body["statusCode"] == status
    assert isinstance(error.body["error"], str) and error.body["error"]
    assert isinstance(error.body["message"], str) and error.body["message"]


@pytest.fixture(scope="module")
def client(server) -> Auth0:
    # no retries: a 409 or a 5xx must surface as it is, not be retried away
    return Auth0(base_url=server.api, token=server.token, max_retries=0, timeout=30)


@pytest.fixture
def clear_post_login_bindings(client):
    client.actions.triggers.bindings.update_many("post-login", bindings=[])
    yield
    client.actions.triggers.bindings.update_many("post-login", bindings=[])


def deployed_action(client: Auth0, prefix: str, code: str | None = None):
    return client.actions.create(name=unique(prefix), supported_triggers=POST_LOGIN,
                                 code=code or code_setting("by", prefix), deploy=True)


def by_name(name: str) -> ActionBindingWithRef:
    return ActionBindingWithRef(ref=ActionBindingRef(type="action_name", value=name))


def by_id(action_id: str) -> ActionBindingWithRef:
    return ActionBindingWithRef(ref=ActionBindingRef(type="action_id", value=action_id))


def by_binding(binding_id: str) -> ActionBindingWithRef:
    return ActionBindingWithRef(ref=ActionBindingRef(type="binding_id", value=binding_id))


# -- create / get ------------------------------------------------------------------------


def test_create_returns_a_built_action_whose_secrets_are_names_only(client):
    name = unique("create")
    code = (
        "exports.onExecutePostLogin = async (event, api) => {\n"
        "  api.idToken.setCustomClaim('https://example.com/key', event.secrets.API_KEY.split('').reverse().join(''));\n"
        "};\n"
    )
    created = client.actions.create(
        name=name, supported_triggers=POST_LOGIN, code=code, runtime="node22",
        secrets=[ActionSecretRequest(name="API_KEY", value=SECRET_VALUE),
                 ActionSecretRequest(name="OTHER", value="other-value")],
    )
    assert created.id and created.name == name
    assert [(t.id, t.version) for t in created.supported_triggers] == [("post-login", "v3")]
    assert created.code == code
    assert created.runtime == "node22"
    assert created.status == "built"
    assert created.all_changes_deployed is False
    assert created.deployed_version is None
    assert isinstance(created.created_at, dt.datetime) and isinstance(created.updated_at, dt.datetime)

    assert sorted(s.name for s in created.secrets) == ["API_KEY", "OTHER"]
    for secret in created.secrets:
        assert isinstance(secret.updated_at, dt.datetime)
        assert set(secret.model_dump(exclude_none=True)) == {"name", "updated_at"}
    assert SECRET_VALUE not in created.model_dump_json()
    assert "other-value" not in created.model_dump_json()

    fetched = client.actions.get(created.id)
    assert SECRET_VALUE not in fetched.model_dump_json()
    assert sorted(s.name for s in fetched.secrets) == ["API_KEY", "OTHER"]

    # the value is stored (the action sees it) even though it is never returned
    result = client.actions.test(created.id, payload={"event": workload_event("create-secret")})
    assert ["idToken.setCustomClaim", "https://example.com/key", SECRET_VALUE[::-1]] in result.payload["commands"]

    version = client.actions.deploy(created.id)
    assert sorted(s.name for s in version.secrets) == ["API_KEY", "OTHER"]
    assert SECRET_VALUE not in version.model_dump_json()
    assert SECRET_VALUE not in client.actions.versions.get(created.id, version.id).model_dump_json()


def test_get_returns_what_create_returned_and_404_for_unknown_ids(client):
    created = client.actions.create(name=unique("get"), supported_triggers=POST_LOGIN, code=code_setting("a", "b"))
    fetched = client.actions.get(created.id)
    for field in ("id", "name", "supported_triggers", "code", "runtime", "status", "created_at"):
        assert getattr(fetched, field) == getattr(created, field), field

    error = api_error(client.actions.get, str(uuid.uuid4()))
    assert_auth0_error(error, 404)


def test_a_second_action_with_the_same_name_is_a_409(client):
    name = unique("dup")
    client.actions.create(name=name, supported_triggers=POST_LOGIN, code=code_setting("a", "b"))
    error = api_error(client.actions.create, name=name, supported_triggers=POST_LOGIN, code=code_setting("a", "c"))
    assert_auth0_error(error, 409)
    assert client.actions.list(action_name=name).response.total == 1


def test_create_with_deploy_true_deploys_version_1(client):
    created = deployed_action(client, "deploy-on-create")
    assert created.deployed_version is not None
    assert created.deployed_version.number == 1
    assert created.deployed_version.deployed is True
    assert created.all_changes_deployed is True


# -- list ------------------------------------------------------------------------------


def test_list_filters_by_trigger_name_and_deployed(client):
    deployed = deployed_action(client, "list-deployed")
    draft = client.actions.create(name=unique("list-draft"), supported_triggers=POST_LOGIN, code=code_setting("a", "b"))

    named = client.actions.list(action_name=deployed.name)
    assert [a.id for a in named.items] == [deployed.id]
    assert named.response.total == 1

    named = client.actions.list(trigger_id="post-login", action_name=draft.name)
    assert [a.id for a in named.items] == [draft.id]

    assert client.actions.list(action_name=unique("nobody")).response.total == 0
    assert list(client.actions.list(trigger_id="credentials-exchange", action_name=draft.name)) == []

    deployed_ids = {a.id for a in client.actions.list(deployed=True, per_page=100)}
    undeployed_ids = {a.id for a in client.actions.list(deployed=False, per_page=100)}
    assert deployed.id in deployed_ids and deployed.id not in undeployed_ids
    assert draft.id in undeployed_ids and draft.id not in deployed_ids

    everything = client.actions.list(per_page=100)
    assert everything.response.total == len(deployed_ids) + len(undeployed_ids)
    listed = next(a for a in client.actions.list(action_name=deployed.name))
    assert listed.deployed_version is not None and listed.deployed_version.number == 1


def test_list_pages_through_every_action_exactly_once(client):
    for _ in range(5):
        client.actions.create(name=unique("page"), supported_triggers=POST_LOGIN, code=code_setting("a", "b"))
    total = client.actions.list(per_page=100).response.total
    assert total >= 5

    first = client.actions.list(page=0, per_page=2)
    assert len(first.items) == 2
    assert first.response.total == total
    assert first.response.page == 0 and first.response.per_page == 2

    second = client.actions.list(page=1, per_page=2)
    assert second.response.page == 1
    assert {a.id for a in first.items}.isdisjoint({a.id for a in second.items})

    paged = [a.id for a in client.actions.list(per_page=2)]  # the SDK walks page=0,1,2,... itself
    assert len(paged) == len(set(paged)) == total
    assert set(paged) == {a.id for a in client.actions.list(per_page=100)}

    beyond = client.actions.list(page=int(total), per_page=2)
    assert beyond.items == [] and beyond.response.total == total


# -- update ----------------------------------------------------------------------------


def test_update_changes_name_and_code(client):
    created = client.actions.create(name=unique("upd"), supported_triggers=POST_LOGIN, code=code_setting("v", "1"))
    new_name = unique("upd-renamed")
    new_code = code_setting("v", "2")
    updated = client.actions.update(created.id, name=new_name, code=new_code)
    assert updated.id == created.id
    assert updated.name == new_name
    assert updated.code == new_code
    assert updated.status == "built"
    assert updated.updated_at >= created.updated_at

    fetched = client.actions.get(created.id)
    assert (fetched.name, fetched.code) == (new_name, new_code)
    assert client.actions.list(action_name=created.name).response.total == 0
    assert [a.id for a in client.actions.list(action_name=new_name)] == [created.id]


SYNTAX_ERROR_CODE = (
    "exports.onExecutePostLogin = async (event, api) => {\n"
    "  api.user.setAppMetadata('a', 1);\n"
    "  const broken = ;\n"
    "};\n"
)


def test_a_syntax_error_marks_the_draft_failed_with_errors_naming_the_line(client):
    created = client.actions.create(name=unique("syntax"), supported_triggers=POST_LOGIN, code=code_setting("a", "b"))
    updated = client.actions.update(created.id, code=SYNTAX_ERROR_CODE)
    assert updated.status == "failed"
    for action in (updated, client.actions.get(created.id)):
        errors = getattr(action, "errors", None)  # not in the SDK's Action model; kept as an extra field
        assert isinstance(errors, list) and errors, f"no errors[] on a failed action: {action.model_dump()}"
        assert any("line 3" in (e.get("msg") or "") for e in errors), errors


def test_a_draft_that_does_not_compile_cannot_be_deployed(client):
    created = deployed_action(client, "no-deploy")
    client.actions.update(created.id, code=SYNTAX_ERROR_CODE)

    error = api_error(client.actions.deploy, created.id)
    assert_auth0_error(error, 400)

    after = client.actions.get(created.id)
    assert after.status == "failed"
    assert after.deployed_version is not None and after.deployed_version.number == 1
    assert after.deployed_version.code == code_setting("by", "no-deploy")
    assert client.actions.versions.list(created.id).response.total == 1

    # the failed draft's test run reports the build error rather than running anything
    result = client.actions.test(created.id, payload={"event": workload_event("no-deploy")})
    assert result.payload.get("error"), result.payload
    assert not result.payload.get("commands")


# -- deploy and versions -----------------------------------------------------------------


def test_deploy_numbers_versions_1_2_3_and_moves_the_deployed_flag(client):
    created = client.actions.create(name=unique("versions"), supported_triggers=POST_LOGIN, code=code_setting("v", "1"))
    versions = []
    for n in (1, 2, 3):
        client.actions.update(created.id, code=code_setting("v", str(n)))
        version = client.actions.deploy(created.id)
        assert version.number == n
        assert version.deployed is True
        assert version.action_id == created.id
        assert version.code == code_setting("v", str(n))
        assert version.status == "built"
        assert [(t.id, t.version) for t in version.supported_triggers] == [("post-login", "v3")]
        assert version.action is not None and version.action.id == created.id and version.action.name == created.name
        assert isinstance(version.created_at, dt.datetime)
        versions.append(version)
    assert len({v.id for v in versions}) == 3

    action = client.actions.get(created.id)
    assert action.deployed_version.id == versions[-1].id
    assert action.deployed_version.number == 3
    assert action.all_changes_deployed is True

    listed = client.actions.versions.list(created.id)
    assert listed.response.total == 3
    assert sorted(v.number for v in listed.items) == [1, 2, 3]
    assert [v.number for v in listed.items if v.deployed] == [3]

    for version, deployed in zip(versions, (False, False, True)):
        got = client.actions.versions.get(created.id, version.id)
        assert got.id == version.id and got.number == version.number
        assert got.code == version.code
        assert got.deployed is deployed

    client.actions.update(created.id, code=code_setting("v", "draft"))
    assert client.actions.get(created.id).all_changes_deployed is False
    assert client.actions.get(created.id).deployed_version.code == code_setting("v", "3")

    assert_auth0_error(api_error(client.actions.versions.get, created.id, str(uuid.uuid4())), 404)
    assert_auth0_error(api_error(client.actions.deploy, str(uuid.uuid4())), 404)
    assert_auth0_error(api_error(lambda: client.actions.versions.list(str(uuid.uuid4())).items), 404)


def test_rollback_deploys_a_new_version_copying_the_old_one(client):
    created = client.actions.create(name=unique("rollback"), supported_triggers=POST_LOGIN, code=code_setting("v", "1"))
    v1 = client.actions.deploy(created.id)
    client.actions.update(created.id, code=code_setting("v", "2"))
    v2 = client.actions.deploy(created.id)
    client.actions.update(created.id, code=code_setting("v", "3"))  # an undeployed draft

    rolled = client.actions.versions.deploy(created.id, v1.id)
    assert rolled.number == 3
    assert rolled.id not in (v1.id, v2.id)
    assert rolled.code == code_setting("v", "1")
    assert rolled.deployed is True
    action = client.actions.get(created.id)
    assert action.deployed_version.id == rolled.id
    assert action.code == code_setting("v", "3"), "without update_draft the draft must stay"
    assert action.all_changes_deployed is False
    assert client.actions.versions.get(created.id, v1.id).deployed is False

    rolled = client.actions.versions.deploy(created.id, v2.id, request=DeployActionVersionRequestContent(update_draft=True))
    assert rolled.number == 4
    assert rolled.code == code_setting("v", "2")
    action = client.actions.get(created.id)
    assert action.code == code_setting("v", "2"), "update_draft=True copies the version into the draft"
    assert action.deployed_version.id == rolled.id
    assert action.all_changes_deployed is True

    assert client.actions.versions.list(created.id).response.total == 4
    assert_auth0_error(api_error(client.actions.versions.deploy, created.id, str(uuid.uuid4())), 404)

    # a version is only reachable under its own action
    stranger = deployed_action(client, "rollback-stranger")
    assert_auth0_error(api_error(client.actions.versions.get, stranger.id, v1.id), 404)
    assert_auth0_error(api_error(client.actions.versions.deploy, stranger.id, v1.id), 404)
    assert client.actions.get(stranger.id).deployed_version.number == 1


def test_versions_are_capped_at_50_and_the_deployed_one_is_kept(client):
    created = client.actions.create(name=unique("cap"), supported_triggers=POST_LOGIN, code=code_setting("v", "0"))
    last = None
    for _ in range(52):
        last = client.actions.deploy(created.id)
    assert last.number == 52

    listed = client.actions.versions.list(created.id, per_page=100)
    assert listed.response.total <= 50
    numbers = sorted(v.number for v in listed.items)
    assert len(numbers) == listed.response.total
    assert numbers[-1] == 52
    assert numbers == list(range(53 - len(numbers), 53)), "the newest versions are the ones kept"
    assert client.actions.get(created.id).deployed_version.id == last.id
    assert client.actions.versions.get(created.id, last.id).deployed is True

    # rolling back to the oldest kept version still works and keeps the cap
    oldest = next(v for v in listed.items if v.number == numbers[0])
    rolled = client.actions.versions.deploy(created.id, oldest.id)
    assert rolled.number == 53
    assert client.actions.versions.list(created.id, per_page=100).response.total <= 50
    assert client.actions.get(created.id).deployed_version.id == rolled.id


# -- test ------------------------------------------------------------------------------


def test_test_runs_the_draft_returns_its_commands_and_writes_nothing(client):
    user_id = "auth0|" + uuid.uuid4().hex
    user = client.users.create(connection="Username-Password-Authentication", user_id=user_id,
                               email="tested@example.com", app_metadata={"plan": "free"})
    created = deployed_action(client, "test-draft", code=code_setting("plan", "deployed"))
    draft = (
        "exports.onExecutePostLogin = async (event, api) => {\n"
        "  console.log('draft running for', event.user.user_id);\n"
        "  api.user.setAppMetadata('plan', 'draft');\n"
        "  api.user.setUserMetadata('seen', true);\n"
        "};\n"
    )
    client.actions.update(created.id, code=draft)

    event = workload_event(user_id.split("|", 1)[1])
    event["user"]["app_metadata"] = {"plan": "free"}
    result = client.actions.test(created.id, payload={"event": event})
    payload = result.payload
    assert ["user.setAppMetadata", "plan", "draft"] in payload["commands"]
    assert ["user.setUserMetadata", "seen", True] in payload["commands"]
    assert ["user.setAppMetadata", "plan", "deployed"] not in payload["commands"]
    assert "draft running for" in payload.get("logs", "")
    assert not payload.get("error")
    assert isinstance(payload.get("stats"), dict)

    stored = client.users.get(user_id)
    assert stored.app_metadata == {"plan": "free"}
    assert stored.user_metadata == {}
    assert stored.updated_at == user.updated_at

    thrower = "exports.onExecutePostLogin = async () => { throw new Error('boom from the draft'); };\n"
    client.actions.update(created.id, code=thrower)
    payload = client.actions.test(created.id, payload={"event": event}).payload
    assert "boom from the draft" in str(payload.get("error")), payload
    assert client.users.get(user_id).app_metadata == {"plan": "free"}

    assert_auth0_error(api_error(client.actions.test, str(uuid.uuid4()), payload={"event": event}), 404)


# -- triggers and bindings ----------------------------------------------------------------


def test_triggers_list_includes_post_login(client):
    triggers = client.actions.triggers.list().triggers
    post_login = next(t for t in triggers if t.id == "post-login")
    assert post_login.version == "v3"
    assert post_login.status
    assert "node22" in post_login.runtimes
    assert post_login.default_runtime in post_login.runtimes
    assert isinstance(post_login.compatible_triggers, list)


def test_bindings_run_in_the_submitted_order_and_can_be_reordered(client, clear_post_login_bindings):
    a, b, c = (deployed_action(client, f"bind-{x}") for x in "abc")

    updated = client.actions.triggers.bindings.update_many("post-login", bindings=[
        by_name(a.name),
        by_id(b.id),
        ActionBindingWithRef(ref=ActionBindingRef(type="action_name", value=c.name), display_name="Third one"),
    ])
    assert [x.action.id for x in updated.bindings] == [a.id, b.id, c.id]

    listed = client.actions.triggers.bindings.list("post-login")
    assert [x.action.id for x in listed.items] == [a.id, b.id, c.id]
    assert [x.action.name for x in listed.items] == [a.name, b.name, c.name]
    assert [x.display_name for x in listed.items] == [a.name, b.name, "Third one"]
    assert listed.response.total == 3
    assert all(x.trigger_id == "post-login" and x.id for x in listed.items)
    assert all(isinstance(x.created_at, dt.datetime) for x in listed.items)
    binding_of = {x.action.id: x.id for x in listed.items}
    assert all(x.action.all_changes_deployed is True for x in listed.items)

    reordered = client.actions.triggers.bindings.update_many("post-login", bindings=[
        by_binding(binding_of[c.id]), by_binding(binding_of[a.id]), by_id(b.id),
    ])
    assert [x.action.id for x in reordered.bindings] == [c.id, a.id, b.id]
    assert [x.action.id for x in client.actions.triggers.bindings.list("post-login")] == [c.id, a.id, b.id]

    subset = client.actions.triggers.bindings.update_many("post-login", bindings=[by_id(b.id)])
    assert [x.action.id for x in subset.bindings] == [b.id]
    assert [x.action.id for x in client.actions.triggers.bindings.list("post-login")] == [b.id]

    assert client.actions.triggers.bindings.update_many("post-login", bindings=[]).bindings == []
    assert client.actions.triggers.bindings.list("post-login").items == []


def test_a_binding_shows_when_its_action_has_an_undeployed_draft(client, clear_post_login_bindings):
    drafted, clean = deployed_action(client, "bind-drafted"), deployed_action(client, "bind-clean")
    client.actions.triggers.bindings.update_many("post-login", bindings=[by_id(drafted.id), by_id(clean.id)])
    client.actions.update(drafted.id, code=code_setting("by", "a-new-draft"))
    assert client.actions.get(drafted.id).all_changes_deployed is False

    listed = {x.action.id: x.action.all_changes_deployed for x in client.actions.triggers.bindings.list("post-login")}
    assert listed == {drafted.id: False, clean.id: True}


def test_deleting_a_bound_action_needs_force_and_force_detaches_it(client, clear_post_login_bindings):
    bound, other = deployed_action(client, "del-bound"), deployed_action(client, "del-other")
    client.actions.triggers.bindings.update_many("post-login", bindings=[by_id(bound.id), by_id(other.id)])

    error = api_error(client.actions.delete, bound.id)
    assert 400 <= error.status_code < 500
    assert_auth0_error(error, error.status_code)
    assert client.actions.get(bound.id).id == bound.id
    assert [x.action.id for x in client.actions.triggers.bindings.list("post-login")] == [bound.id, other.id]

    assert client.actions.delete(bound.id, force=True) is None
    assert_auth0_error(api_error(client.actions.get, bound.id), 404)
    assert [x.action.id for x in client.actions.triggers.bindings.list("post-login")] == [other.id]
    assert client.actions.list(action_name=bound.name).response.total == 0
    assert_auth0_error(api_error(lambda: client.actions.versions.list(bound.id).items), 404)

    unbound = client.actions.create(name=unique("del-unbound"), supported_triggers=POST_LOGIN, code=code_setting("a", "b"))
    assert client.actions.delete(unbound.id) is None
    assert_auth0_error(api_error(client.actions.get, unbound.id), 404)
    assert_auth0_error(api_error(client.actions.delete, unbound.id), 404)


# -- executions ------------------------------------------------------------------------


def wait_for_execution(client: Auth0, execution_id: str):
    deadline = time.monotonic() + 10  # the record is written off the hot path
    while True:
        try:
            return client.actions.executions.get(execution_id)
        except ApiError as exc:
            if exc.status_code != 404 or time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_an_execution_record_is_readable_through_the_sdk(server, client, clear_post_login_bindings):
    action = deployed_action(client, "exec", code=code_setting("executed", "yes"))
    client.actions.triggers.bindings.update_many("post-login", bindings=[by_id(action.id)])
    response = httpx.post(f"{server.url}/triggers/post-login/execute", headers=server.headers(),
                          json={"event": workload_event("exec-" + uuid.uuid4().hex[:8])}, timeout=30)
    assert response.status_code == 200, response.text
    execution_id = response.json()["execution_id"]
    execution = wait_for_execution(client, execution_id)
    assert execution.id == execution_id
    assert execution.trigger_id == "post-login"
    assert execution.status
    assert [r.action_name for r in execution.results] == [action.name]
    assert isinstance(execution.created_at, dt.datetime)
    assert isinstance(execution.results[0].started_at, dt.datetime)


def test_an_execution_record_has_one_result_per_action_run_and_the_error_on_the_failing_one(
        server, client, clear_post_login_bindings):
    ok = deployed_action(client, "exec-ok")
    failing = deployed_action(client, "exec-fail",
                              code="exports.onExecutePostLogin = async () => { throw new Error('exec-boom'); };\n")
    never = deployed_action(client, "exec-never")
    client.actions.triggers.bindings.update_many("post-login", bindings=[by_id(ok.id), by_id(failing.id), by_id(never.id)])
    response = httpx.post(f"{server.url}/triggers/post-login/execute", headers=server.headers(),
                          json={"event": workload_event("exec-" + uuid.uuid4().hex[:8])}, timeout=30)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "failed"
    execution = wait_for_execution(client, response.json()["execution_id"])

    assert [r.action_name for r in execution.results] == [ok.name, failing.name], execution.results
    assert execution.results[0].error is None
    assert "exec-boom" in (execution.results[1].error.msg or "")
    assert all(isinstance(r.started_at, dt.datetime) and isinstance(r.ended_at, dt.datetime) for r in execution.results)


def test_an_unknown_execution_is_a_404(client):
    assert_auth0_error(api_error(client.actions.executions.get, "exec_" + uuid.uuid4().hex), 404)


# -- users -----------------------------------------------------------------------------


def test_users_create_get_and_update_merge_metadata(client):
    given = uuid.uuid4().hex
    created = client.users.create(
        connection="Username-Password-Authentication", user_id=given, email="merge@example.com",
        name="Merge Me", password="Str0ng-passw0rd!",
        app_metadata={"plan": "free", "prefs": {"a": 1, "b": 2}, "keep": True},
        user_metadata={"locale": "en-GB", "theme": "dark"},
    )
    user_id = created.user_id
    assert user_id == f"auth0|{given}"
    assert created.email == "merge@example.com"
    assert created.app_metadata == {"plan": "free", "prefs": {"a": 1, "b": 2}, "keep": True}
    assert isinstance(created.created_at, dt.datetime)
    assert "password" not in created.model_dump_json()
    assert created.identities and created.identities[0].connection == "Username-Password-Authentication"

    fetched = client.users.get(user_id)
    assert fetched.user_id == user_id
    assert fetched.name == "Merge Me"
    assert fetched.user_metadata == {"locale": "en-GB", "theme": "dark"}

    updated = client.users.update(
        user_id,
        app_metadata={"plan": None, "prefs": {"c": 3}, "new": [1, 2]},
        user_metadata={"theme": "light"},
        name="Merged",
    )
    expected_app = {"prefs": {"c": 3}, "keep": True, "new": [1, 2]}  # null deletes, nested replaces
    expected_user = {"locale": "en-GB", "theme": "light"}
    assert updated.app_metadata == expected_app
    assert updated.user_metadata == expected_user
    assert updated.name == "Merged"

    fetched = client.users.get(user_id)
    assert fetched.app_metadata == expected_app
    assert fetched.user_metadata == expected_user
    assert fetched.email == "merge@example.com"
    assert "password" not in fetched.model_dump_json()

    # a patch that leaves one metadata out leaves it alone
    client.users.update(user_id, user_metadata={"locale": None})
    fetched = client.users.get(user_id)
    assert fetched.app_metadata == expected_app
    assert fetched.user_metadata == {"theme": "light"}

    assert_auth0_error(api_error(client.users.create, connection="Username-Password-Authentication", user_id=given), 409)
    assert_auth0_error(api_error(client.users.get, "auth0|" + uuid.uuid4().hex), 404)
    assert_auth0_error(api_error(client.users.update, "auth0|" + uuid.uuid4().hex, name="x"), 404)

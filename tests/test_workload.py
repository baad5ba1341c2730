"""The standard workload (bench/workload, bound in file order) through the real sandbox."""

from __future__ import annotations

from conftest import make_flow, payload, workload_actions, workload_event

from sandbox import Flow

WORKLOAD_FLOW = Flow("workload", "post-login", {"actions": workload_actions()})


def commands(result):
    return {a["name"]: a["commands"] for a in result.actions}


async def test_first_login_of_a_verified_user_sets_the_flag_and_the_claims(sandbox):
    result = await sandbox.run("tenant-a", WORKLOAD_FLOW, payload(workload_event()))
    assert result.status == "completed"
    assert result.error is None
    assert commands(result) == {
        "01_expensive_task_once": [["user.setAppMetadata", "didAnExpensiveTask", True]],
        "02_roles_and_plan_claims": [
            ["idToken.setCustomClaim", "https://example.com/roles", ["customer", "beta-tester"]],
            ["accessToken.setCustomClaim", "https://example.com/plan", "free"],
            ["idToken.setCustomClaim", "https://example.com/locale", "en-GB"],
        ],
        "03_require_verified_email": [],
    }
    assert [a["status"] for a in result.actions] == ["ok", "ok", "ok"]


async def test_repeat_login_skips_the_expensive_task_and_logs_why(sandbox):
    event = workload_event(app_metadata={"didAnExpensiveTask": True, "plan": "pro"})
    result = await sandbox.run("tenant-a", WORKLOAD_FLOW, payload(event))
    assert result.status == "completed"
    first, second, _ = result.actions
    assert first["commands"] == []
    assert first["logs"] == "Skipping the expensive task because it already occurred for user@example.com.\n"
    assert ["accessToken.setCustomClaim", "https://example.com/plan", "pro"] in second["commands"]


async def test_unverified_admin_console_user_is_denied_after_the_earlier_actions_ran(sandbox):
    event = workload_event(email_verified=False)
    event["client"]["name"] = "Admin Console"
    result = await sandbox.run("tenant-a", WORKLOAD_FLOW, payload(event))
    assert result.status == "denied"
    assert commands(result)["03_require_verified_email"] == [
        ["access.deny", "Please verify your email before logging in."]
    ]
    # metadata queued before the deny is still part of the result
    assert commands(result)["01_expensive_task_once"] == [["user.setAppMetadata", "didAnExpensiveTask", True]]


async def test_unverified_user_of_another_client_is_allowed(sandbox):
    event = workload_event(email_verified=False)
    result = await sandbox.run("tenant-a", WORKLOAD_FLOW, payload(event))
    assert result.status == "completed"


async def test_flow_built_from_the_same_files_with_another_key_gives_the_same_commands(sandbox):
    other = make_flow(*[a["code"] for a in workload_actions()], names=[a["name"] for a in workload_actions()])
    a = await sandbox.run("tenant-a", WORKLOAD_FLOW, payload())
    b = await sandbox.run("tenant-b", other, payload())
    assert commands(a) == commands(b)

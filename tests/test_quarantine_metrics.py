"""Quarantine of flows that keep destroying their sandbox, and /metrics."""

from __future__ import annotations

import uuid

import httpx
import pytest
from conftest import ADMIN_TOKEN, make_flow, payload, workload_event

from sandbox import Sandbox, SupervisorSettings

SPINNER = "exports.onExecutePostLogin = async (event) => { if (event.user.app_metadata.spin) { await null; for (;;) {} } };"


@pytest.fixture
async def strict_sandbox():
    box = Sandbox(SupervisorSettings(executors=1, quarantine_strikes=2, quarantine_window=60))
    await box.start()
    yield box
    await box.close()


async def test_a_flow_that_keeps_destroying_its_isolate_is_quarantined_until_redeployed(strict_sandbox):
    flow = make_flow(SPINNER)
    bad = payload(workload_event(app_metadata={"spin": True}))
    # the flow's first isolate is built by a fresh executor (~200 ms here, more on a busy VM):
    # built before the half-second budgets below start counting
    assert (await strict_sandbox.run("t", flow, payload(), budget=5)).status == "completed"
    for _ in range(2):
        result = await strict_sandbox.run("t", flow, bad, budget=0.5)
        assert result.error_class == "action_timeout"
    fast = await strict_sandbox.run("t", flow, payload(), budget=0.5)
    assert fast.error_class == "quarantined"
    assert "Deploy a new version" in fast.error["message"]
    # other flows, other tenants: unaffected
    assert (await strict_sandbox.run("t", make_flow("exports.onExecutePostLogin = async () => {};"), payload())).status == "completed"
    # a redeploy is a new flow key; dropping the old one releases it too
    strict_sandbox.forget("t", flow)
    assert (await strict_sandbox.run("t", flow, payload(), budget=2)).status == "completed"


async def test_metrics_count_executions_and_show_quarantine(server):
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=60) as client:
        name = f"m-{uuid.uuid4().hex[:6]}"
        assert client.post("/api/v2/actions/actions", json={
            "name": name, "supported_triggers": [{"id": "post-login"}], "deploy": True,
            "code": "exports.onExecutePostLogin = async (e, api) => { if (e.user.app_metadata.deny) api.access.deny('no'); };"}).status_code == 201
        client.patch("/api/v2/actions/triggers/post-login/bindings", json={"bindings": [{"ref": {"type": "action_name", "value": name}}]})
        client.post("/triggers/post-login/execute", json={"event": {"user": {"user_id": "m1"}}})
        client.post("/triggers/post-login/execute", json={"event": {"user": {"user_id": "m2", "app_metadata": {"deny": True}}}})
        text = httpx.get(server.url + "/metrics", timeout=30).text
        assert 'actionhost_executions_total{error_class="",status="allowed",trigger="post-login"}' in text
        assert 'actionhost_executions_total{error_class="",status="denied",trigger="post-login"}' in text
        assert "actionhost_execution_seconds_bucket" in text
        for name in ("actionhost_isolate_recycles_total", "actionhost_executor_restarts_total",
                     "actionhost_quarantined_flows", "actionhost_profile_writes_total", "actionhost_profile_write_429_retries_total"):
            assert name in text, name
        # the server in this module runs on the embedded SQLite store: its group commits are counted
        counts = {m.split()[0]: float(m.split()[1]) for m in text.splitlines()
                  if m.startswith(("actionhost_sqlite_commits_total", "actionhost_sqlite_writes_total"))}
        assert counts["actionhost_sqlite_writes_total"] >= counts["actionhost_sqlite_commits_total"] > 0
        listing = client.get("/api/v2/actions/quarantine")
        assert listing.status_code == 200 and listing.json() == {"quarantined": []}

"""Outbound requests as the operator sees them through the real server: each action's requests
in its execution record (without the query) and counted in /metrics by outcome."""

from __future__ import annotations

import asyncio
import re

import httpx
from conftest import workload_event
from test_trigger_runtime import api_client, deploy_flow, execute, make_server  # noqa: F401 - make_server is a fixture
from upstream import upstream  # noqa: F401 - the fixture

CALLS = """exports.onExecutePostLogin = async (event, api) => {
  const ok = await fetch('https://api.test.example/echo?secret=never-recorded');
  let refused = 'no';
  try { await fetch('http://169.254.169.254/latest/meta-data/'); } catch (err) { refused = err.cause.code; }
  api.idToken.setCustomClaim('calls', [ok.status, refused]);
};"""


def _counter(text: str, outcome: str) -> float:
    match = re.search(r'^actionhost_egress_requests_total\{outcome="%s"\} ([0-9.e+]+)$' % outcome, text, re.M)
    return float(match.group(1)) if match else 0.0


async def test_each_request_is_in_the_execution_record_and_counted_in_metrics(make_server, upstream):  # noqa: F811
    server = make_server(*upstream.server_flags())
    async with api_client(server) as client:
        await deploy_flow(client, [CALLS])
        before = (await client.get("/metrics")).text
        result = await execute(client, workload_event("egress-1"))
        assert result["status"] == "allowed", result
        assert result["id_token_claims"]["calls"] == [200, "EGRESS_DENIED"]

        record = None
        for _ in range(100):  # records are written in groups, ~20 ms after the response
            r = await client.get(f"/api/v2/actions/executions/{result['execution_id']}")
            if r.status_code == 200:
                record = r.json()
                break
            await asyncio.sleep(0.05)
        assert record is not None
        egress = record["results"][0]["egress"]
        assert [(e["method"], e["host"], e["path"], e["status"], e["outcome"]) for e in egress] == [
            ("GET", "api.test.example", "/echo", 200, "ok"),
            ("GET", "169.254.169.254", "/latest/meta-data/", None, "denied"),
        ], egress
        assert "never-recorded" not in httpx.Response(200, json=record).text
        assert egress[0]["bytes"] > 0 and egress[0]["duration_ms"] >= 0

        after = (await client.get("/metrics")).text
        assert _counter(after, "ok") == _counter(before, "ok") + 1
        assert _counter(after, "denied") == _counter(before, "denied") + 1
        assert re.search(r"^actionhost_egress_seconds_count ([0-9.e+]+)$", after, re.M)

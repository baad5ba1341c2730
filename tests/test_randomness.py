"""Random values an action gets (crypto.getRandomValues, crypto.randomUUID, and node:crypto's
randomBytes / randomUUID / randomInt / randomFillSync) come from the OS CSPRNG through the host,
never from V8's Math.random (xorshift128+, whose state an action can recover from a few outputs).

Both tests below fail on a runtime that derives these values from Math.random: the first
replaces the host's entropy source with known bytes and finds exactly those bytes in the values;
the second seeds V8's Math.random (`--random-seed`) identically in two processes and finds the
same Math.random sequence but different random bytes."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import subprocess
import sys
import uuid
from pathlib import Path

import orjson
import pytest
from conftest import make_flow, payload, workload_event

from sandbox import host_sync
from sandbox.isolate import FlowIsolate, Limits, runtime_source

ROOT = Path(__file__).resolve().parent.parent

ACTION = """
const nodeCrypto = require('crypto');
exports.onExecutePostLogin = async (event, api) => {
  const web = crypto.getRandomValues(new Uint8Array(16));
  const uuid = crypto.randomUUID();
  const bytes = nodeCrypto.randomBytes(24);
  const big = nodeCrypto.randomBytes(5000);
  const filled = nodeCrypto.randomFillSync(Buffer.alloc(8));
  api.idToken.setCustomClaim('r', {
    web: Buffer.from(web).toString('hex'), uuid, nodeUuid: nodeCrypto.randomUUID(),
    bytes: bytes.toString('hex'), big: big.toString('hex'), filled: filled.toString('hex'),
    int: nodeCrypto.randomInt(1000000), math: [Math.random(), Math.random(), Math.random()],
  });
};
"""


async def run_in_process(code: str) -> dict:
    loop = asyncio.get_running_loop()
    isolate = FlowIsolate(loop, runtime_source(), {"kind": "post-login", "actions": [{"name": "a", "code": code, "secrets": {}}]},
                          Limits())
    try:
        await isolate.start()
        result = await isolate.submit(1, "post-login", orjson.dumps({"event": workload_event()}), 10.0)
    finally:
        await isolate.close()
    assert result["status"] == "completed", result
    return result["actions"][0]["commands"][0][2]


async def test_random_values_are_the_bytes_of_the_hosts_entropy_source(monkeypatch):
    given: list[bytes] = []
    counter = itertools.count()

    def known(n: int) -> bytes:
        # distinct, recognisable bytes: any value drawn from somewhere else would not be found here
        block = b"".join(hashlib.sha256(b"known-%d" % next(counter)).digest() for _ in range(-(-n // 32)))[:n]
        given.append(block)
        return block

    monkeypatch.setattr(host_sync, "urandom", known)
    r = await run_in_process(ACTION)
    stream = b"".join(given)
    assert given, "the host's entropy source was never asked"
    for name in ("web", "bytes", "big", "filled"):
        value = bytes.fromhex(r[name])
        assert value in stream, f"{name} did not come from the host's entropy source"
    # the values are taken in order from the host's bytes (no reuse): web, then the UUID's 16 bytes
    at = stream.index(bytes.fromhex(r["web"]))
    raw = bytearray(stream[at + 16 : at + 32])
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    assert r["uuid"] == str(uuid.UUID(bytes=bytes(raw)))
    assert stream.index(bytes.fromhex(r["bytes"])) > at


SEEDED = """
import asyncio, json, sys
sys.path[:0] = [{root!r}, {tests!r}]
from sandbox import driver
driver.V8_FLAGS = driver.V8_FLAGS + ("--random-seed=4242",)
from test_randomness import ACTION, run_in_process
print(json.dumps(asyncio.run(run_in_process(ACTION))))
"""


def test_random_values_do_not_follow_a_seeded_math_random():
    script = SEEDED.format(root=str(ROOT), tests=str(ROOT / "tests"))
    runs = []
    for _ in range(2):
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=ROOT)
        assert done.returncode == 0, done.stderr
        runs.append(orjson.loads(done.stdout.strip().splitlines()[-1]))
    first, second = runs
    assert first["math"] == second["math"], "the seed should make V8's Math.random repeat (test premise)"
    for name in ("web", "uuid", "nodeUuid", "bytes", "big", "filled"):
        assert first[name] != second[name], f"{name} repeated across processes with the same Math.random seed"


async def test_values_differ_across_executions_and_executors(sandbox):
    flow = make_flow(ACTION)
    results = await asyncio.gather(*(sandbox.run(f"t-rand-{i % 2}", flow, payload()) for i in range(8)))
    seen = set()
    for result in results:
        assert result.status == "completed", result.data
        r = result.actions[0]["commands"][0][2]
        for name in ("web", "uuid", "nodeUuid", "bytes"):
            assert r[name] not in seen
            seen.add(r[name])


@pytest.mark.parametrize("name", ["40_crypto.js", "41_host_sync.js", "44_node_crypto.js"])
def test_the_crypto_files_never_use_math_random(name):
    text = (ROOT / "runtime_js" / name).read_text(encoding="utf-8")
    assert "MathRandom(" not in text and "Math.random(" not in text

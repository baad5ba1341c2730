"""Micro-benchmark: the batched-step path vs. one awaited JS promise per trigger.

Both run the standard workload flow (bench/workload) on the same runtime_js in one isolate, in
one process, with 64 triggers in flight:

- batched: sandbox/isolate.py (input via SharedArrayBuffer, one eval per step for every queued
  trigger, results collected in the next step);
- promise: mini-racer's own API, `await (await ctx.eval_cancelable("run(<event>)"))` per
  trigger, which is what a straightforward integration does.

    .venv/bin/python bench/sandbox_paths.py [--seconds 5] [--inflight 64] [--pin 0]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sandbox.isolate import FlowIsolate, Limits, runtime_source  # noqa: E402

WORKLOAD = ROOT / "bench" / "workload"
ACTIONS = [{"name": p.stem, "code": p.read_text(), "secrets": {}} for p in sorted(WORKLOAD.glob("*.js"))]


def event(i: int) -> dict:
    text = (WORKLOAD / "event_template.json").read_text().replace("USERID", str(1 + i % 10000))
    return orjson.loads(text)["event"]


EVENTS = [orjson.dumps({"event": event(i)}) for i in range(1000)]


async def closed_loop(submit, seconds: float, inflight: int) -> tuple[int, float]:
    done = 0
    stop = time.perf_counter() + seconds

    async def worker(w: int) -> None:
        nonlocal done
        i = w
        while time.perf_counter() < stop:
            result = await submit(EVENTS[i % len(EVENTS)])
            assert result["status"] == "completed", result
            done += 1
            i += inflight

    start = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(inflight)))
    return done, time.perf_counter() - start


async def batched(seconds: float, inflight: int) -> float:
    loop = asyncio.get_running_loop()
    isolate = FlowIsolate(loop, runtime_source(), {"kind": "post-login", "actions": ACTIONS}, Limits())
    await isolate.start()
    ids = iter(range(1, 1 << 60))

    def submit(payload: bytes):
        return isolate.submit(next(ids), "post-login", payload, 20.0)

    await closed_loop(submit, 0.5, inflight)  # warm-up
    done, elapsed = await closed_loop(submit, seconds, inflight)
    await isolate.close()
    return done / elapsed


async def promise_per_trigger(seconds: float, inflight: int) -> float:
    from py_mini_racer import MiniRacer

    # The same runtime, plus entry points that install the flow and run one job, returning a
    # promise of its JSON result (appended inside the runtime's closure, bench-only).
    source = runtime_source().rstrip()
    assert source.endswith("})();")
    source = source[: -len("})();")] + """
globalThis.__bench_install = (json) => { installFlow(JSONParse(json)); };
globalThis.__bench_run = (json) => {
  const exec = newExecution(0, "post-login", JSONParse(json));
  active = exec;
  return PromisePrototypeThen(runPostLogin(exec), (r) => { active = null; return JSONStringify(r); });
};
})();"""
    ctx = MiniRacer()
    ctx.eval("globalThis.__actionhost_wake = () => {}; globalThis.__actionhost_inbuf = new SharedArrayBuffer(1024);")
    ctx.eval(source)
    ctx.eval("__bench_install(%s)" % json.dumps(json.dumps({"kind": "post-login", "actions": ACTIONS})))

    async def submit(payload: bytes):
        promise = await ctx.eval_cancelable("__bench_run(%s)" % json.dumps(payload.decode()))
        return orjson.loads(await promise)

    try:
        await closed_loop(submit, 0.5, inflight)
        done, elapsed = await closed_loop(submit, seconds, inflight)
    finally:
        ctx.close()
    return done / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--inflight", type=int, default=64)
    parser.add_argument("--pin", type=int, default=0, help="CPU to pin to (-1: no pinning)")
    args = parser.parse_args()
    if args.pin >= 0:
        os.sched_setaffinity(0, {args.pin})
    sys.setswitchinterval(0.001)
    b = asyncio.run(batched(args.seconds, args.inflight))
    p = asyncio.run(promise_per_trigger(args.seconds, args.inflight))
    print(f"machine: {os.cpu_count()} cores; pinned to {args.pin}; {args.inflight} in flight; {args.seconds:.0f} s each")
    print(f"{'path':<28}{'triggers/s':>12}")
    print(f"{'batched steps':<28}{b:>12,.0f}")
    print(f"{'awaited promise per trigger':<28}{p:>12,.0f}")
    print(f"{'ratio batched / promise':<28}{b / p:>12.1f}x")


if __name__ == "__main__":
    main()

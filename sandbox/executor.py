"""The executor process: owns isolates (LRU per (tenant, flow)) and serves its supervisor.

Started by sandbox/supervisor.py as `python -m sandbox.executor --fd N ...` with one end of a
socketpair. V8 only ever runs here, never in the HTTP process: an input that aborts V8 takes
down this process alone, and the supervisor replaces it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import socket
import sys
import threading
from collections import OrderedDict
from typing import Any

import orjson

from . import packages
from .compiler import Compiler
from .egress import EgressConfig
from .errors import PLATFORM_ERROR, failure
from .frames import FrameWriter, open_frames
from .host_fetch import HostFetch
from .isolate import FlowIsolate, Job, Limits, SparePool, runtime_source


class Executor:
    """Routes jobs to the isolate of their (tenant, flow), creating and evicting isolates."""

    def __init__(self, frames: FrameWriter, limits: Limits, max_isolates: int, max_flows: int,
                 egress: EgressConfig | None = None) -> None:
        self._frames = frames
        self._limits = limits
        self._max_isolates = max_isolates
        self._max_flows = max_flows
        self._runtime = runtime_source()
        self._flows: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()
        self._isolates: OrderedDict[tuple[str, str], FlowIsolate] = OrderedDict()
        self._loop = asyncio.get_running_loop()
        self._compiler = Compiler(self._loop)
        self._spares = SparePool(self._loop, self._runtime, limits)
        self._spares.refill()
        # for flows whose actions have npm packages: Node's built-ins already loaded; filled
        # once the first such flow took one (an executor that never runs one pays nothing)
        self._package_spares = SparePool(self._loop, self._runtime, limits, size=1, preload=True)
        # outbound requests of every isolate here: one client session, made on the first request
        self._fetch = HostFetch(egress)
        self._host_calls = self._fetch.host_calls()
        self.recycles = 0
        # jobs answered from an isolate's thread (`_answer_now`), not yet settled on the loop
        self._answered: set[int] = set()
        self._answered_lock = threading.Lock()
        self.answered_early = 0

    def handle(self, message: list[Any]) -> None:
        op = message[0]
        if op == "run":
            self._run(*message[1:])
        elif op == "ping":
            self._frames.send(["pong", message[1], self.stats()])
        elif op == "prepare":
            self._prepare((message[1], message[2]), message[3])
        elif op == "drop":
            self._drop((message[1], message[2]))
        elif op == "compile":
            self._loop.create_task(self._compile(message[1], message[2]))

    def stats(self) -> dict[str, Any]:
        return {
            "isolates": len(self._isolates),
            "flows": len(self._flows),
            "recycles": self.recycles + sum(i.recycles for i in self._isolates.values()),
            "answered_early": self.answered_early,
            "egress": self._fetch.stats(),
        }

    def _run(self, job_id: int, tenant: str, flow_key: str, kind: str, payload: str, budget: float,
             definition: dict[str, Any] | None) -> None:
        key = (tenant, flow_key)
        if definition is not None:
            self._remember(key, definition)
        install = self._flows.get(key)
        if install is None:
            self._frames.send(["need_flow", job_id])
            return
        self._flows.move_to_end(key)
        future = self._isolate(key, install).submit(job_id, kind, payload.encode("utf-8"), budget)
        future.add_done_callback(lambda f: self._finished(job_id, f))

    def _prepare(self, key: tuple[str, str], definition: dict[str, Any]) -> None:
        """A flow just deployed: start its isolate before its first job arrives."""
        self._remember(key, definition)
        if key not in self._isolates:
            self._loop.create_task(_start_quietly(self._isolate(key, definition)))

    def _remember(self, key: tuple[str, str], definition: dict[str, Any]) -> None:
        self._flows[key] = definition
        self._flows.move_to_end(key)
        while len(self._flows) > self._max_flows:
            self._flows.popitem(last=False)

    def _isolate(self, key: tuple[str, str], install: dict[str, Any]) -> FlowIsolate:
        isolate = self._isolates.get(key)
        if isolate is None:
            packages = any(a.get("packages") for a in install.get("actions", ()) if isinstance(a, dict))
            isolate = FlowIsolate(self._loop, self._runtime, install, self._limits, host_calls=self._host_calls,
                                  spares=self._package_spares if packages else self._spares, answer_now=self._answer_now)
            self._isolates[key] = isolate
            self._evict()
        else:
            self._isolates.move_to_end(key)
        return isolate

    async def _compile(self, job_id: int, code: str) -> None:
        try:
            errors = await self._compiler.check(code)
        except Exception as exc:  # noqa: BLE001 - reported to the caller as a build error
            errors = [{"id": "build_error", "msg": f"could not compile: {exc}", "url": ""}]
        self._frames.send(["done", job_id, {"errors": errors}])

    def _answer_now(self, finished: list[tuple[Job, dict[str, Any]]]) -> None:
        """Results of jobs, sent in one frame from their isolate's thread as soon as the runtime
        reports them (the loop settles the jobs later); a job the loop has settled already was
        answered by the loop."""
        messages = []
        with self._answered_lock:
            for job, result in finished:
                if not job.future.done() and job.id not in self._answered:
                    self._answered.add(job.id)
                    messages.append(["done", job.id, result])
            self.answered_early += len(messages)
        if messages:
            self._frames.send_now(messages)

    def _finished(self, job_id: int, future: asyncio.Future[dict[str, Any]]) -> None:
        with self._answered_lock:
            if job_id in self._answered:
                self._answered.discard(job_id)
                return
        if future.cancelled():
            result = failure(PLATFORM_ERROR, "the execution was cancelled")
        else:
            result = future.result()
        self._frames.send(["done", job_id, result])

    def _evict(self) -> None:
        """Close the least recently used idle isolates beyond the cap."""
        if len(self._isolates) <= self._max_isolates:
            return
        for key in list(self._isolates):
            if len(self._isolates) <= self._max_isolates:
                break
            isolate = self._isolates[key]
            if isolate.pending == 0:
                del self._isolates[key]
                self.recycles += isolate.recycles
                self._loop.create_task(isolate.close())

    def _drop(self, key: tuple[str, str]) -> None:
        self._flows.pop(key, None)
        isolate = self._isolates.pop(key, None)
        if isolate is not None:
            self.recycles += isolate.recycles
            self._loop.create_task(_close_when_idle(isolate))

    async def close(self) -> None:
        self._spares.close()
        self._package_spares.close()
        await self._compiler.close()
        for isolate in self._isolates.values():
            await isolate.close()
        self._isolates.clear()
        await self._fetch.close()


async def _start_quietly(isolate: FlowIsolate) -> None:
    # a failure here is met again, and reported, by the flow's first job
    with contextlib.suppress(Exception):
        await isolate.start()


# Tearing an isolate down costs ~1 ms of the executor's core: right after a deploy it would
# compete with the new flow's first executions.
CLOSE_DELAY = 0.5


async def _close_when_idle(isolate: FlowIsolate) -> None:
    await asyncio.sleep(CLOSE_DELAY)
    while isolate.pending:
        await asyncio.sleep(0.05)
    await isolate.close()


async def serve(sock: socket.socket, limits: Limits, max_isolates: int, max_flows: int,
                egress: EgressConfig | None = None) -> None:
    frames = FrameWriter()
    frames.own_writes(sock)
    executor = Executor(frames, limits, max_isolates, max_flows, egress)
    closed = await open_frames(sock, frames, executor.handle)
    gc.collect()
    gc.freeze()  # startup objects stay for good: full collections need not walk them
    frames.send(["ready", os.getpid()])
    try:
        await closed
    finally:
        await executor.close()
        frames.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="actionhost-executor")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--cpu", type=int, default=-1)
    parser.add_argument("--limits", default="{}")
    parser.add_argument("--egress", default="{}", help="EgressConfig as JSON (sandbox/egress.py)")
    parser.add_argument("--max-isolates", type=int, default=256)
    parser.add_argument("--max-flows", type=int, default=4096)
    parser.add_argument("--nice", type=int, default=0)
    parser.add_argument("--package-root", default=None, help="the built npm packages of actions (sandbox/packages.py)")
    args = parser.parse_args(argv)
    packages.configure(args.package_root)
    if args.cpu >= 0 and hasattr(os, "sched_setaffinity"):
        # isolate threads inherit the mask: each executor's V8 work stays on its core, where a
        # Python<->V8 thread hop costs ~20 us instead of ~80-100 us across cores
        os.sched_setaffinity(0, {args.cpu})
    if args.nice > 0:
        # user code burning CPU here must not starve the front end's event loop on a busy box
        os.nice(args.nice)
    # V8 hands each result to Python under the GIL; a short switch interval keeps that wait short
    sys.setswitchinterval(0.001)
    limits = Limits(**orjson.loads(args.limits))
    egress = EgressConfig.from_json(orjson.loads(args.egress))
    sock = socket.socket(fileno=args.fd)
    try:
        import uvloop

        uvloop.run(serve(sock, limits, args.max_isolates, args.max_flows, egress))
    except ImportError:  # pragma: no cover - uvloop is a pinned dependency
        asyncio.run(serve(sock, limits, args.max_isolates, args.max_flows, egress))


if __name__ == "__main__":
    main()

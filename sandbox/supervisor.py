"""Starts, watches and replaces executor processes, and routes each job to one of them.

A (tenant, flow) always goes to the same executor (by hash), so its isolate and module scope
stay warm. An executor that exits, grows past its RSS cap or stops answering pings is killed
and replaced; the jobs it had in flight fail with `platform_error`, nothing else is touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import socket
import sys
import time
import zlib
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

from .egress import EgressConfig
from .errors import PLATFORM_ERROR, QUARANTINED, failure
from .frames import FrameWriter, open_frames
from .isolate import Limits
from .quarantine import Quarantine

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


@dataclass
class SupervisorSettings:
    executors: int = field(default_factory=lambda: os.cpu_count() or 1)
    pin: bool = True
    # executors yield the CPU to the front end under contention (per process, nothing machine-wide)
    nice: int = 3
    limits: Limits = field(default_factory=Limits)
    # what actions' outbound requests may reach (handed to each executor as --egress)
    egress: EgressConfig = field(default_factory=EgressConfig)
    # the built npm packages of actions (server/npm/), read by require (sandbox/packages.py)
    package_root: str | None = None
    max_isolates: int = 256
    rss_limit: int = 1024 * 2**20
    watch_interval: float = 0.25
    liveness_timeout: float = 5.0
    # the executor enforces each job's budget itself; this is only the backstop for an
    # executor that is alive but has lost track of a job
    answer_grace: float = 5.0
    # a flow whose executions destroy their sandbox this many times within the window fails
    # fast until redeployed
    quarantine_strikes: int = 3
    quarantine_window: float = 60.0


class ExecutorHandle:
    """One executor process and the jobs it has been given."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.process: asyncio.subprocess.Process | None = None
        self.frames: FrameWriter | None = None
        self.ready: asyncio.Future[None] | None = None
        self.pending: dict[int, tuple[asyncio.Future[dict[str, Any]], list[Any]]] = {}
        self.known_flows: set[tuple[str, str]] = set()
        self.last_pong = 0.0
        self.ping_seq = 0
        self.pong_seq = 0  # the ping the latest pong answered
        self.restarts = 0
        self.stats: dict[str, Any] = {}
        self.tasks: list[asyncio.Task[None]] = []

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def rss(self) -> int:
        if self.process is None:
            return 0
        try:
            with open(f"/proc/{self.process.pid}/statm", "rb") as f:
                return int(f.read().split()[1]) * PAGE_SIZE
        except (OSError, IndexError, ValueError):
            return 0


class Supervisor:
    def __init__(self, settings: SupervisorSettings | None = None) -> None:
        self.settings = settings or SupervisorSettings()
        self._handles = [ExecutorHandle(i) for i in range(max(1, self.settings.executors))]
        self._ids = itertools.count(1)
        self._closing = False
        self.replacements = 0
        self.last_replacement_reason = ""
        self.quarantine = Quarantine(self.settings.quarantine_strikes, self.settings.quarantine_window)

    # -- lifetime ----------------------------------------------------------------------

    async def start(self) -> None:
        await asyncio.gather(*(self._spawn(h) for h in self._handles))

    async def close(self) -> None:
        self._closing = True
        for handle in self._handles:
            for task in handle.tasks:
                task.cancel()
            await self._stop(handle, graceful=True)
            self._fail_pending(handle, "the sandbox is shutting down")

    async def _spawn(self, handle: ExecutorHandle) -> None:
        loop = asyncio.get_running_loop()
        handle.ready = loop.create_future()
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
        cpu = cpus[handle.index % len(cpus)] if (self.settings.pin and cpus) else -1
        limits = orjson.dumps(asdict(self.settings.limits)).decode()
        egress = orjson.dumps(self.settings.egress.to_json()).decode()
        try:
            handle.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "sandbox.executor", "--fd", str(child.fileno()),
                "--cpu", str(cpu), "--limits", limits, "--egress", egress, "--max-isolates", str(self.settings.max_isolates), "--nice", str(self.settings.nice),
                *(["--package-root", self.settings.package_root] if self.settings.package_root else []),
                pass_fds=(child.fileno(),), stdin=asyncio.subprocess.DEVNULL,
            )
        finally:
            child.close()
        handle.known_flows = set()
        handle.last_pong = time.monotonic()
        handle.frames = FrameWriter()
        closed = await open_frames(parent, handle.frames, lambda message: self._receive(handle, message))
        handle.tasks = [
            loop.create_task(self._read(handle, closed, handle.process)),
            loop.create_task(self._watch(handle, handle.process)),
        ]

    async def _stop(self, handle: ExecutorHandle, graceful: bool) -> None:
        process = handle.process
        if handle.frames is not None:
            handle.frames.close()
            handle.frames = None
        if process is None or process.returncode is not None:
            return
        if graceful:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(process.wait(), 2.0)
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGKILL)
            await process.wait()

    # -- watching ----------------------------------------------------------------------

    async def _read(self, handle: ExecutorHandle, closed: asyncio.Future[None],
                    process: asyncio.subprocess.Process) -> None:
        await closed  # messages are taken in by _receive as they arrive
        if handle.process is process:
            await self._replace(handle, "the executor exited")

    def _receive(self, handle: ExecutorHandle, message: list[Any]) -> None:
        op = message[0]
        if op == "done":
            entry = handle.pending.pop(message[1], None)
            if entry is not None and not entry[0].done():
                entry[0].set_result(message[2])
        elif op == "need_flow":
            entry = handle.pending.get(message[1])
            if entry is not None and handle.frames is not None:
                handle.frames.send(entry[1])  # the full message carries the definition
        elif op == "pong":
            handle.last_pong = time.monotonic()
            handle.pong_seq = message[1]
            handle.stats = message[2]
        elif op == "ready":
            handle.last_pong = time.monotonic()
            if handle.ready is not None and not handle.ready.done():
                handle.ready.set_result(None)

    async def _watch(self, handle: ExecutorHandle, process: asyncio.subprocess.Process) -> None:
        settings = self.settings
        while handle.process is process and not self._closing:
            await asyncio.sleep(settings.watch_interval)
            if handle.process is not process or process.returncode is not None:
                return
            rss = handle.rss()
            if rss > settings.rss_limit:
                await self._replace(handle, f"the executor used {rss // 2**20} MiB, over its {settings.rss_limit // 2**20} MiB cap")
                return
            if time.monotonic() - handle.last_pong > settings.liveness_timeout:
                await self._replace(handle, f"the executor did not answer for {settings.liveness_timeout:.1f}s")
                return
            if handle.frames is not None:
                handle.ping_seq += 1
                handle.frames.send(["ping", handle.ping_seq])

    async def _replace(self, handle: ExecutorHandle, reason: str) -> None:
        if self._closing or handle.process is None:
            return
        process, handle.process = handle.process, None
        current = asyncio.current_task()
        for task in handle.tasks:
            if task is not current:
                task.cancel()
        if handle.frames is not None:
            handle.frames.close()
            handle.frames = None
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGKILL)
        await process.wait()
        self._fail_pending(handle, f"{reason}; its executions were lost")
        self.replacements += 1
        self.last_replacement_reason = reason
        handle.restarts += 1
        if not self._closing:
            await self._spawn(handle)

    def _fail_pending(self, handle: ExecutorHandle, message: str) -> None:
        pending, handle.pending = handle.pending, {}
        flows = {(m[2], m[3]) for _, m in pending.values() if m[0] == "run"}
        for future, msg in pending.values():
            if not future.done():
                result = failure(PLATFORM_ERROR, message)
                if len(flows) == 1 and msg[0] == "run" and not self._closing:
                    # only one flow was running there: the crash is attributed to it
                    result["error"]["destroyed"] = message
                future.set_result(result)

    # -- jobs --------------------------------------------------------------------------

    def executor_for(self, tenant: str, flow_key: str) -> ExecutorHandle:
        digest = zlib.crc32(f"{tenant}\0{flow_key}".encode())
        return self._handles[digest % len(self._handles)]

    async def run(self, tenant: str, flow_key: str, definition: dict[str, Any], kind: str,
                  payload: str, budget: float) -> dict[str, Any]:
        """Run one job; always returns a result dict (failures are results, never raised)."""
        quarantined = self.quarantine.reason(tenant, flow_key)
        if quarantined is not None:
            return failure(QUARANTINED, quarantined)
        handle = self.executor_for(tenant, flow_key)
        if handle.ready is not None and not handle.ready.done():
            await asyncio.shield(handle.ready)
        if handle.frames is None:
            return failure(PLATFORM_ERROR, "no executor is available")
        job_id = next(self._ids)
        key = (tenant, flow_key)
        first_time = key not in handle.known_flows
        handle.known_flows.add(key)
        message = ["run", job_id, tenant, flow_key, kind, payload, budget, definition]
        loop = asyncio.get_running_loop()
        future: asyncio.Future[dict[str, Any]] = loop.create_future()
        handle.pending[job_id] = (future, message)
        handle.frames.send(message if first_time else message[:7] + [None])
        timer = loop.call_later(budget + self.settings.answer_grace, self._unanswered, handle, job_id)
        try:
            result = await future
        finally:
            timer.cancel()
        destroyed = (result.get("error") or {}).get("destroyed")
        if destroyed:
            self.quarantine.strike(tenant, flow_key, destroyed)
        return result

    def prepare(self, tenant: str, flow_key: str, definition: dict[str, Any]) -> None:
        """Have the flow's executor start its isolate now (a spare takes the flow's install), so
        the first execution after a deploy does not wait for it. Fire and forget."""
        if self.quarantine.reason(tenant, flow_key) is not None:
            return
        handle = self.executor_for(tenant, flow_key)
        if handle.frames is None:
            return
        handle.known_flows.add((tenant, flow_key))
        handle.frames.send(["prepare", tenant, flow_key, definition])

    def _unanswered(self, handle: ExecutorHandle, job_id: int) -> None:
        entry = handle.pending.pop(job_id, None)
        if entry is not None and not entry[0].done():
            entry[0].set_result(failure(PLATFORM_ERROR, "the executor did not answer within the execution budget"))

    async def compile(self, code: str) -> list[dict[str, str]]:
        """Syntax errors of `code` as Auth0 ActionError objects ([] when it compiles)."""
        handle = self._handles[zlib.crc32(code.encode("utf-8", "replace")) % len(self._handles)]
        if handle.ready is not None and not handle.ready.done():
            await asyncio.shield(handle.ready)
        if handle.frames is None:
            return [{"id": "build_error", "msg": "no executor is available", "url": ""}]
        job_id = next(self._ids)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[dict[str, Any]] = loop.create_future()
        message = ["compile", job_id, code]
        handle.pending[job_id] = (future, message)
        handle.frames.send(message)
        timer = loop.call_later(10.0 + self.settings.answer_grace, self._unanswered, handle, job_id)
        try:
            result = await future
        finally:
            timer.cancel()
        if "errors" not in result:
            return [{"id": "build_error", "msg": (result.get("error") or {}).get("message", "compilation failed"), "url": ""}]
        return result["errors"]

    def drop_flow(self, tenant: str, flow_key: str) -> None:
        """Forget a flow everywhere (after a deploy or binding change)."""
        self.quarantine.release(tenant, flow_key)
        for handle in self._handles:
            handle.known_flows.discard((tenant, flow_key))
            if handle.frames is not None:
                handle.frames.send(["drop", tenant, flow_key])

    def executor_pids(self) -> list[int | None]:
        return [h.pid for h in self._handles]

    def status(self) -> list[dict[str, Any]]:
        return [
            {"index": h.index, "pid": h.pid, "rss": h.rss(), "restarts": h.restarts,
             "in_flight": len(h.pending), **h.stats}
            for h in self._handles
        ]

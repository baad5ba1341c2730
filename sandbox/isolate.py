"""One isolate loaded with the runtime and one flow, driven in batched steps with deadlines.

A step is one eval of a constant source: its input (new jobs, I/O replies, cancellations) is
written into a SharedArrayBuffer beforehand, its output is one JSON string with every finished
job, I/O request, the delay to the next timer and the job running now. Jobs that finish in the
microtasks after the step (every async flow) come back the same way with the runtime's wake,
through a second shared buffer, without another step. The runtime runs jobs one
at a time, so when the isolate has to be destroyed (a loop V8 cannot interrupt, the heap limit)
only the running job is lost; the others are handed back to be run on a fresh isolate.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import re
import secrets
import struct
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from . import host_sync
from .driver import Isolate, JSError, StepTimeout
from .errors import ACTION_ERROR, ACTION_TIMEOUT, PLATFORM_ERROR, failure

RUNTIME_DIR = Path(__file__).resolve().parent.parent / "runtime_js"
# why an isolate is recycled when its heap limit was hit: found after a step, in its output, or
# before the next one
OUT_OF_MEMORY = "the isolate ran out of memory"


def runtime_source(directory: Path = RUNTIME_DIR) -> str:
    """All runtime files, in name order, as one strict-mode function body, preceded by the
    names of the vendored npm modules (runtime_js/vendor/dist/, made by vendor/build.sh) on a
    global that 42_node_builtins.js takes and deletes. Their code is not part of it: an isolate
    gets a module's text with the sync host call "builtin.source" the first time an action
    requires it (most never do; carried in every isolate, their source would cost ~0.4 MiB each)."""
    names = list(vendored_modules(directory / "vendor" / "dist"))
    parts = [f"globalThis.__actionhost_vendor = {orjson.dumps(names).decode()};\n", '(function () {\n"use strict";\n']
    for path in sorted(directory.glob("*.js")):
        parts.append(f"// ---- {path.name}\n")
        parts.append(path.read_text(encoding="utf-8"))
        parts.append("\n")
    parts.append("})();\n")
    return "".join(parts)


@functools.cache
def vendored_modules(directory: Path = RUNTIME_DIR / "vendor" / "dist") -> dict[str, bytes]:
    """Vendored module name -> its factory body (dist/modules.json says which file holds it)."""
    index = directory / "modules.json"
    if not index.exists():
        return {}
    return {name: (directory / file).read_bytes() for name, file in orjson.loads(index.read_bytes()).items()}


def _vendored_source(payload: bytes) -> bytes:
    source = vendored_modules().get(payload.decode("utf-8", "replace"))
    if source is None:
        raise host_sync.SyncCallError("no vendored module of that name")
    return source


host_sync.HANDLERS["builtin.source"] = _vendored_source


@dataclass
class Limits:
    """Per-isolate limits; the defaults are SPEC §5's."""

    heap_hard: int = 128 * 2**20
    heap_soft: int = 64 * 2**20
    buffer_budget: int = 64 * 2**20
    input_buffer: int = 256 * 1024
    # what finishes after a step comes back with the wake when it fits here (else a step collects it)
    output_buffer: int = 256 * 1024
    # how long a job may run past its deadline (runtime asked to cancel it) before the
    # isolate is presumed stuck and destroyed
    cancel_grace: float = 0.5
    # a step that carries no long-running user code should answer in far less than this
    idle_step_timeout: float = 2.0


@dataclass
class HostCallContext:
    """What a host-call handler knows of the execution that made the call."""

    job_id: int
    deadline: float  # loop.time(): the handler must answer by then
    state: dict[str, Any]  # the handlers' own per-execution state, dropped when the execution ends


HostCall = Callable[[Any, HostCallContext], Awaitable[Any]]


@dataclass
class _JobCalls:
    ctx: HostCallContext
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


@dataclass
class Job:
    id: int
    kind: str
    payload: bytes  # JSON text, embedded as is in the step input
    deadline: float  # loop.time()
    future: asyncio.Future[dict[str, Any]]
    attempts: int = 0
    cancel_sent: bool = False
    timer: asyncio.TimerHandle | None = field(default=None, repr=False)


class FlowIsolate:
    """Runs the jobs of one (tenant, flow) on one isolate; rebuilds the isolate when it breaks."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        runtime: str,
        install: dict[str, Any],
        limits: Limits,
        host_calls: dict[str, HostCall] | None = None,
        spares: SparePool | None = None,
        answer_now: Callable[[list[tuple[Job, dict[str, Any]]]], None] | None = None,
    ) -> None:
        self._loop = loop
        self._runtime = runtime
        self._install = orjson.dumps({"install": {**install, "buffer_budget": limits.buffer_budget}})
        self._action_names = [a.get("name", "") for a in install.get("actions", ())]
        self._limits = limits
        self._isolate: Isolate | None = None
        self._input: memoryview | None = None
        self._step_source = ""
        self._starting: asyncio.Future[None] | None = None
        self._queued: list[Job] = []  # not yet handed to the runtime
        self._inside: dict[int, Job] = {}  # handed to the runtime, not finished
        self._cancels: list[tuple[int, str]] = []
        self._host_calls = host_calls or {}
        self._calls: dict[int, _JobCalls] = {}  # host calls in flight, by the job that made them
        self._spares = spares
        self._answer_now = answer_now
        self._step_started: float | None = None  # loop.time() of the step in flight
        self._step_seconds = 0.0  # moving average of how long steps take
        self._io_replies: list[list[Any]] = []
        self._driving = False
        self._wake_pending = False
        self._timer: asyncio.TimerHandle | None = None
        self._last_output = 0  # `seq` of the latest runtime output taken in (this isolate)
        self.retiring = ""
        self.recycles = 0
        self.steps = 0
        self.last_used = time.monotonic()
        self.closed = False

    # -- lifetime ----------------------------------------------------------------------

    async def start(self) -> None:
        if self._isolate is not None:
            return
        if self._starting is None:
            self._starting = self._loop.create_future()
            try:
                self._isolate, self._input, self._step_source = await self._loop.run_in_executor(None, self._build)
                self._last_output = 0
                self._starting.set_result(None)
            except BaseException as exc:
                self._starting.set_exception(exc)
                self._starting.exception()  # retrieved: callers re-raise from their own await
                self._starting = None
                raise
            return
        await asyncio.shield(self._starting)

    def _build(self) -> tuple[Isolate, memoryview, str]:
        """Take a spare isolate with the runtime loaded (or load one) and install the flow
        (blocking; runs in a worker thread)."""
        spare = self._spares.take() if self._spares is not None else None
        if spare is None:
            spare = load_runtime(self._loop, self._runtime, self._limits)
        isolate, buffer, step = spare.isolate, spare.buffer, spare.step
        isolate.on_wake = lambda text: self._wake_from(isolate, text)
        isolate.on_wake_text = lambda text: self._answer_early(isolate, text)
        try:
            for more in _write_chunks(buffer, self._install):
                reply = isolate.call_sync(step)
                if not more:
                    out = orjson.loads(reply)
                    if "failure" in out:
                        raise JSError("execute", out["failure"])
            isolate.accept_wake_text()
            return isolate, buffer, step
        except BaseException:
            isolate.close()
            raise

    async def close(self) -> None:
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
        for job in [*self._queued, *self._inside.values()]:
            _settle(job, failure(PLATFORM_ERROR, "the sandbox is shutting down"))
        self._queued.clear()
        self._inside.clear()
        await self._detach()

    def _detach(self) -> asyncio.Future[None]:
        """Take the isolate out of service at once and close it in a worker thread (the close
        waits for V8 code that cannot be interrupted to return). The future tells when it is gone."""
        isolate, self._isolate, self._input = self._isolate, None, None
        self._starting = None
        if isolate is None:
            done: asyncio.Future[None] = self._loop.create_future()
            done.set_result(None)
            return done
        return self._loop.run_in_executor(None, isolate.close)

    @property
    def replies_held(self) -> int:
        """Step replies of the current isolate that waited for a wake instead of waking the loop."""
        return self._isolate.held if self._isolate is not None else 0

    @property
    def pending(self) -> int:
        return len(self._queued) + len(self._inside)

    # -- jobs ------------------------------------------------------------------------

    def submit(self, job_id: int, kind: str, payload: bytes, budget: float) -> asyncio.Future[dict[str, Any]]:
        future: asyncio.Future[dict[str, Any]] = self._loop.create_future()
        job = Job(job_id, kind, payload, self._loop.time() + budget, future)
        job.timer = self._loop.call_at(job.deadline, self._deadline_passed, job)
        self._queued.append(job)
        self.last_used = time.monotonic()
        self._kick()
        return future

    def _deadline_passed(self, job: Job) -> None:
        if job.future.done():
            return
        if job in self._queued:
            self._queued.remove(job)
            _settle(job, failure(ACTION_TIMEOUT, "the execution did not start within its time budget"))
            return
        job.cancel_sent = True
        self._cancels.append((job.id, "Execution exceeded its time budget"))
        job.timer = self._loop.call_later(self._limits.cancel_grace, self._cancel_ignored, job)
        self._kick()

    def _cancel_ignored(self, job: Job) -> None:
        """The runtime was told to cancel `job` and has not answered. Destroy the isolate only if
        it is provably stuck: a step has been in flight far longer than steps take here lately
        (a loop after an `await` never lets the next step start). A step that is merely slow
        (an executor starved of CPU under load) gets more time instead."""
        if job.future.done() or self.closed:
            return
        now = self._loop.time()
        patience = max(self._limits.cancel_grace, 20 * self._step_seconds)
        if self._step_started is not None and now - self._step_started > patience:
            self._recycle_soon("an execution ran past its budget and the isolate did not answer", culprit=job)
            return
        self._kick()
        job.timer = self._loop.call_later(self._limits.cancel_grace, self._cancel_ignored, job)

    # -- driving ---------------------------------------------------------------------

    def _wake(self) -> None:
        self._wake_pending = True
        self._kick()

    def _wake_from(self, isolate: Isolate, text: str | dict[str, Any] | None) -> None:
        """The runtime's wake: with a text, what finished since the last step (taken in as a
        step's output); without, a step is due to collect it."""
        if text is None:
            self._wake()
            return
        if isolate is not self._isolate or self.closed:
            return  # an isolate taken out of service since: its jobs were answered or re-queued
        recycle = self._absorb(text, isolate)
        if recycle is not None:
            self._recycle_soon(recycle[0], memory=recycle[1])

    def _answer_early(self, isolate: Isolate, text: str) -> Any:
        """A wake's text, read on the isolate thread: the jobs it reports finished are answered
        there and then (`answer_now`), before the loop takes the rest in; the loop gets the
        parsed output."""
        out = _parse_step_output(text)
        if out is None:
            return text  # the loop reports it
        answer, inside = self._answer_now, self._inside
        # also with jobs waiting for the next step: the loop would start that step before its
        # answer went out, and on the executor's one core the answer then waits for the step
        if answer is not None and out["done"] and isolate is self._isolate:
            finished = [(inside[job_id], result) for job_id, result in out["done"] if job_id in inside]
            if finished:
                answer(finished)
        return out

    def _kick(self) -> None:
        if self._driving:
            if self._isolate is not None:
                self._isolate.release_held()  # new work for the isolate: a held step reply must not keep it waiting
        elif not self.closed:
            self._driving = True
            self._loop.create_task(self._drive())

    async def _drive(self) -> None:
        try:
            while not self.closed and (self._queued or self._cancels or self._io_replies or self._wake_pending):
                await self._step()
        finally:
            self._driving = False

    def _step_input(self) -> bytes:
        parts: list[bytes] = []
        if self._queued and not self.retiring:
            jobs = self._queued
            self._queued = []
            parts.append(b'"jobs":[' + b",".join(b"[%d,%s,%s]" % (j.id, orjson.dumps(j.kind), j.payload) for j in jobs) + b"]")
            for j in jobs:
                j.attempts += 1
                self._inside[j.id] = j
        if self._cancels:
            parts.append(b'"cancel":' + orjson.dumps(self._cancels))
            self._cancels = []
        if self._io_replies:
            parts.append(b'"io":' + orjson.dumps(self._io_replies))
            self._io_replies = []
        return b"{" + b",".join(parts) + b"}" if parts else b""

    def _step_timeout(self) -> float:
        now = self._loop.time()
        timeout = self._limits.idle_step_timeout
        for job in self._inside.values():
            timeout = max(timeout, job.deadline - now + self._limits.cancel_grace)
        return timeout

    async def _step(self) -> None:
        self._wake_pending = False
        try:
            await self.start()
        except Exception as exc:  # noqa: BLE001 - any failure to build is reported per job
            for job in self._queued:
                _settle(job, failure(PLATFORM_ERROR, f"the sandbox could not start: {exc}"))
            self._queued.clear()
            return
        isolate, buffer = self._isolate, self._input
        assert isolate is not None and buffer is not None
        if isolate.hard_limit_reached():
            # the limit was hit in the microtasks that ran after the last step (a promise chain
            # that allocates): V8 ended them without a word and no more JS runs here. A step now
            # would clear the progress that names the running action, so recycle first.
            await self._recycle(OUT_OF_MEMORY, memory=True)
            return
        data = self._step_input()
        try:
            reply: str | None = None
            for more in _write_chunks(buffer, data):
                self._step_started = started = self._loop.time()
                try:
                    # (only the last chunk's reply can be held: the jobs start with it)
                    reply = await isolate.eval(self._step_source, self._step_timeout(), hold=None if more else self._hold)
                finally:
                    self._step_started = None
                self._step_seconds = 0.8 * self._step_seconds + 0.2 * (self._loop.time() - started)
                if more:
                    reply = None
            assert reply is not None
        except StepTimeout:
            await self._recycle("the isolate did not answer within the execution budget (a loop that cannot be interrupted)")
            return
        except JSError as exc:
            oom = isolate.hard_limit_reached()
            await self._recycle(OUT_OF_MEMORY if oom else f"the isolate failed: {exc.kind}", memory=oom)
            return
        self.steps += 1
        recycle = self._absorb(reply, isolate)
        if recycle is not None:
            await self._recycle(recycle[0], memory=recycle[1])

    def _hold(self, reply: Any) -> bool:
        """Whether a step's reply can wait for the wake that will follow it (called on the isolate
        thread): it says nothing but that the jobs it started are running, and those jobs will
        report with the wake when they finish (or ask for I/O or a timer)."""
        return (isinstance(reply, str) and reply.startswith(_NOTHING_DONE) and reply.endswith("}")
                and reply[len(_NOTHING_DONE):-1].isdigit() and bool(self._inside))

    def _absorb(self, reply: str | dict[str, Any], isolate: Isolate) -> tuple[str, bool] | None:
        """Take in the runtime's output (a step's reply or a wake's text): settle finished jobs,
        start host calls, note requeues and timers. Returns why the isolate must be recycled
        (and whether for memory), or None."""
        out = _parse_step_output(reply) if isinstance(reply, str) else reply
        if out is None:
            # never let one unreadable result hang every job of the step: fail them clearly
            for job in list(self._inside.values()):
                _settle(job, failure(PLATFORM_ERROR, "the execution's result could not be read (nested too deeply)"))
            self._inside.clear()
            return "a step answered with output that cannot be parsed", False
        for job_id, result in out["done"]:
            job = self._inside.pop(job_id, None)
            if job is not None:
                _settle(job, result)
        for request in out.get("io", ()):
            # [request_id, kind, args, job_id] as 70_host.js writes them; anything else is not
            # the runtime's (it never reaches a handler)
            if isinstance(request, list) and 3 <= len(request) <= 4 and isinstance(request[0], int):
                self._start_host_call(request, isolate)
        if "requeue" in out:
            self._requeue(out["requeue"])
            self._kick()
        if "retire" in out and not self.retiring:
            self.retiring = out["retire"]
        if "failure" in out:
            return f"the runtime failed: {out['failure']}", False
        if isolate.hard_limit_reached():
            return OUT_OF_MEMORY, True
        if self.retiring and not self._inside:
            # user code changed shared built-ins: start the next jobs on clean ones
            reason, self.retiring = self.retiring, ""
            return f"an action modified {reason}", False
        seq = out.get("seq", 0)
        if seq > self._last_output:
            # an older output (a step's reply taken in after a later wake's text) would cancel
            # a timer set since
            self._last_output = seq
            self._schedule_timer(out.get("timer", -1))
        return None

    # how long past its job's deadline a host call may go unanswered before it is answered with
    # a failure (the handlers bound themselves by the deadline; this is the backstop)
    HOST_CALL_GRACE = 0.05

    def _start_host_call(self, request: list[Any], isolate: Isolate) -> None:
        """Start a handler for one I/O request of the runtime; one for a job that is gone (or
        no job) is answered with a failure."""
        request_id, kind, args = request[0], request[1], request[2]
        job_id = request[3] if len(request) == 4 else None
        job = self._inside.get(job_id) if isinstance(job_id, int) else None
        if job is None or job.future.done():
            self._io_replies.append([request_id, False, f"host call '{kind}' refused: the execution that made it has ended"])
            self._kick()
            return
        calls = self._calls.get(job.id)
        if calls is None:
            # only jobs that call the host pay for this bookkeeping
            calls = self._calls[job.id] = _JobCalls(HostCallContext(job.id, job.deadline, {}))
            job.future.add_done_callback(lambda _f, ended=job.id: self._end_calls(ended))
        task = self._loop.create_task(self._host_call(request_id, kind, args, calls.ctx, isolate))
        calls.tasks.add(task)
        task.add_done_callback(calls.tasks.discard)

    def _end_calls(self, job_id: int) -> None:
        """The job settled (or left its isolate): drop its handlers' state, cancel what runs."""
        calls = self._calls.pop(job_id, None)
        if calls is not None:
            for task in list(calls.tasks):
                task.cancel()

    async def _host_call(self, request_id: int, kind: Any, args: Any, ctx: HostCallContext, isolate: Isolate) -> None:
        """Answer one host call from the runtime in a later step (never inside this one), by
        the job's deadline at the latest."""
        handler = self._host_calls.get(kind) if isinstance(kind, str) else None
        if handler is None:
            reply = [request_id, False, f"host call '{kind}' is not available"]
        else:
            try:
                async with asyncio.timeout_at(ctx.deadline + self.HOST_CALL_GRACE):
                    reply = [request_id, True, await handler(args, ctx)]
            except TimeoutError:
                reply = [request_id, False, f"host call '{kind}' did not finish within the execution's budget"]
            except asyncio.CancelledError:
                if self.closed:
                    raise
                # the execution ended: the answer only releases the runtime's waiter
                reply = [request_id, False, f"host call '{kind}' cancelled: the execution ended"]
            except Exception as exc:  # noqa: BLE001 - the error goes back to the calling action
                reply = [request_id, False, str(exc)]
        if isolate is not self._isolate or self.closed:
            return  # a fresh isolate numbers its requests anew: this answer is not its
        self._io_replies.append(reply)
        self._kick()

    def _requeue(self, ids: list[int]) -> None:
        for job_id in ids:
            job = self._inside.pop(job_id, None)
            if job is not None:
                self._queued.append(job)

    def _schedule_timer(self, delay_ms: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if delay_ms is not None and delay_ms >= 0:
            self._timer = self._loop.call_later(delay_ms / 1000.0, self._wake)

    async def _recycle(self, reason: str, culprit: Job | None = None, memory: bool = False) -> None:
        """Destroy the isolate; fail the job that was running, run the others again on a fresh one."""
        closing = self._take_out_of_service(reason, culprit, memory)
        if closing is not None:
            await closing

    def _recycle_soon(self, reason: str, culprit: Job | None = None, memory: bool = False) -> None:
        """`_recycle` from a callback: the isolate leaves service now, not in a task that runs
        after the loop's next step (which would hand the jobs the runtime gave back to the very
        isolate being retired, and fail them as having run twice)."""
        closing = self._take_out_of_service(reason, culprit, memory)
        if closing is not None:
            closing.add_done_callback(_retrieve)

    def _take_out_of_service(self, reason: str, culprit: Job | None, memory: bool) -> asyncio.Future[None] | None:
        if self._isolate is None or self.closed:
            return None
        self.recycles += 1
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        running, action_index = _progress(self._input) if self._input is not None else (-1, -1)
        action = self._action_names[action_index] if 0 <= action_index < len(self._action_names) else None
        inside, self._inside = self._inside, {}
        for job_id in inside:
            self._end_calls(job_id)  # a job run again starts with no requests counted
        self._cancels.clear()
        self._io_replies.clear()
        # the jobs are answered before the close completes: an isolate stuck in native code
        # (a walk V8 does not interrupt) may take seconds to close, its jobs' answers must not
        closing = self._detach()
        now = self._loop.time()
        again: list[Job] = []
        for job in inside.values():
            if job is culprit or job.id == running or job.deadline <= now or job.attempts >= 2:
                name = action if job.id == running else None
                if memory:
                    result = failure(ACTION_ERROR, "the flow exceeded the isolate's memory limit", name)
                elif job.deadline <= now or job.cancel_sent:
                    result = failure(ACTION_TIMEOUT, "Execution exceeded its time budget", name)
                else:
                    result = failure(PLATFORM_ERROR, f"the isolate was replaced: {reason}", name)
                if job is culprit or job.id == running:
                    # this execution destroyed its isolate: the supervisor counts it (quarantine)
                    result["error"]["destroyed"] = reason
                _settle(job, result)
            else:
                again.append(job)
        self._queued[:0] = again
        if self._queued:
            self._kick()
        return closing


WARM_UP = RUNTIME_DIR / "warmup.json"
# the synchronous host call's shared buffer (runtime_js/41_host_sync.js): larger requests and
# answers go in chunks of this size; only the pages a call touches cost memory
SYNC_BUFFER = 32 * 1024


# Node's built-ins that npm packages load at require time (axios: stream, http, https, url, zlib,
# util, ...): ~45 ms of an isolate's first execution, done ahead in the spares kept for flows
# with packages
PRELOADED_BUILTINS = ("buffer", "events", "util", "stream", "string_decoder", "url", "querystring", "path", "os",
                      "assert", "zlib", "crypto", "http", "https", "timers", "tty", "diagnostics_channel")


def load_runtime(loop: asyncio.AbstractEventLoop, runtime: str, limits: Limits, preload: bool = False) -> Spare:
    """A new isolate with its limits armed, its wake callback and input buffer in place, the
    runtime loaded and warmed up, but no flow of its own yet (blocking: ~8 ms; with `preload`,
    Node's built-ins PRELOADED_BUILTINS loaded too: ~50 ms)."""
    isolate = Isolate(loop, lambda text: None)
    try:
        isolate.set_heap_limits(limits.heap_hard, limits.heap_soft)
        isolate.install_wake("__actionhost_wake", "__actionhost_outbuf", limits.output_buffer)
        isolate.install_sync("__actionhost_sync", "__actionhost_syncbuf", SYNC_BUFFER, host_sync.dispatch)
        buffer = isolate.new_shared_buffer(limits.input_buffer, "__actionhost_inbuf")
        isolate.call_sync(runtime)
        step = f'__actionhost_step("{secrets.token_hex(16)}")'
        _warm_up(isolate, buffer, step, limits)
        if preload:
            for _ in _write_chunks(buffer, orjson.dumps({"preload": PRELOADED_BUILTINS})):
                isolate.call_sync(step)
        return Spare(isolate, buffer, step)
    except BaseException:
        isolate.close()
        raise


def _warm_up(isolate: Isolate, buffer: memoryview, step: str, limits: Limits) -> None:
    """Run runtime_js/warmup.json's job once: V8 compiles functions on first call, and the
    step, install, flow-runner and api code a flow's first execution would otherwise compile
    (~4 ms) is compiled here, before the isolate is handed to a flow."""
    if not WARM_UP.exists():
        return
    spec = orjson.loads(WARM_UP.read_bytes())
    data = orjson.dumps({"install": {**spec["install"], "buffer_budget": limits.buffer_budget},
                         "jobs": [[0, spec["job"]["kind"], spec["job"]["payload"]]]})
    for more in _write_chunks(buffer, data):
        reply = isolate.call_sync(step)
    for _ in range(100):  # the job ends in the microtasks after a step; a later step reports it
        out = orjson.loads(reply)
        if "failure" in out:
            raise JSError("execute", f"warm-up: {out['failure']}")
        for job_id, result in out["done"]:
            if job_id == 0:
                if result.get("status") != "completed":
                    raise JSError("execute", f"warm-up job did not complete: {result}")
                return
        for _ in _write_chunks(buffer, b""):
            reply = isolate.call_sync(step)
    raise JSError("execute", "warm-up job did not finish")


@dataclass
class Spare:
    isolate: Isolate
    buffer: memoryview
    step: str


class SparePool:
    """A few isolates with the runtime already loaded, so a flow seen for the first time (a new
    deploy, a recycled isolate) only pays for installing its own code. Refilled in the
    background; taken from worker threads."""

    def __init__(self, loop: asyncio.AbstractEventLoop, runtime: str, limits: Limits, size: int = 2,
                 preload: bool = False) -> None:
        self._loop = loop
        self._runtime = runtime
        self._limits = limits
        self._size = size
        self._preload = preload
        self._ready: collections.deque[Spare] = collections.deque()
        self._filling = False
        self.closed = False

    # Building a spare takes ~8 ms of CPU on the executor's core: started right away, it would
    # compete with the first execution of the flow that just took one.
    REFILL_DELAY = 0.1

    def take(self) -> Spare | None:
        try:
            spare = self._ready.popleft()
        except IndexError:
            spare = None
        self._loop.call_soon_threadsafe(self._loop.call_later, self.REFILL_DELAY, self.refill)
        return spare

    def refill(self) -> None:
        if not self._filling and not self.closed and len(self._ready) < self._size:
            self._filling = True
            self._loop.create_task(self._fill())

    async def _fill(self) -> None:
        try:
            while not self.closed and len(self._ready) < self._size:
                spare = await self._loop.run_in_executor(None, load_runtime, self._loop, self._runtime, self._limits,
                                                         self._preload)
                if self.closed:
                    spare.isolate.close()
                    return
                self._ready.append(spare)
        finally:
            self._filling = False

    def close(self) -> None:
        self.closed = True
        while self._ready:
            self._ready.popleft().isolate.close()


# Layout of the shared input buffer (runtime_js/70_host.js): input length and "more" flag,
# then the running job id and action index the runtime keeps up to date, then the input text.
_PROGRESS = struct.Struct("<di")
_TEXT_AT = 24


def _progress(buffer: memoryview) -> tuple[int, int]:
    job, action = _PROGRESS.unpack_from(buffer, 8)
    return int(job), action


def _write_chunks(buffer: memoryview, data: bytes):
    """Write `data` (UTF-8 JSON) into the input buffer as UTF-16LE, in as many chunks as it
    takes; yields `more` before each eval the caller makes."""
    if not data:
        buffer[0:8] = b"\0" * 8
        yield False
        return
    text = data.decode("utf-8").encode("utf-16-le")
    room = (len(buffer) - _TEXT_AT) & ~1
    for start in range(0, len(text), room):
        chunk = text[start : start + room]
        more = start + room < len(text)
        buffer[_TEXT_AT : _TEXT_AT + len(chunk)] = chunk
        buffer[0:8] = (len(chunk) // 2).to_bytes(4, "little") + (1 if more else 0).to_bytes(4, "little")
        yield more


# a step's reply when nothing finished, nothing waits on I/O or a timer, nothing failed (then `seq`)
_NOTHING_DONE = '{"done":[],"io":[],"timer":-1,"seq":'

_LONE_SURROGATE = re.compile(r"(?<!\\)\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _parse_step_output(reply: str) -> dict[str, Any] | None:
    """The step's JSON; lone UTF-16 surrogates (JSON.stringify escapes them, e.g. half an emoji
    cut by slice) become U+FFFD; None when it still cannot be read."""
    try:
        return orjson.loads(reply)
    except orjson.JSONDecodeError:
        pass
    try:
        return orjson.loads(_LONE_SURROGATE.sub(r"\\ufffd", reply))
    except orjson.JSONDecodeError:
        return None


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()  # a failed close is no one's to handle: do not log it as lost


def _settle(job: Job, result: dict[str, Any]) -> None:
    if job.timer is not None:
        job.timer.cancel()
    if not job.future.done():
        job.future.set_result(result)

"""Thin driver over mini-racer's C entry points: one V8 isolate, strings in and out.

Why not the package's own Python API: its `JSPromise`, `JSFunction`, `wrap_py_function` and
object mapping make blocking calls into the isolate from the event-loop thread (a busy isolate
freezes the loop) and read hostile JS objects (a throwing getter aborts the process). Here the
only things that cross are: source strings we choose (constant, so V8's compilation cache
absorbs them), string results, a SharedArrayBuffer whose memory Python writes the step input
into, and an argument-less wake call from JS.

Results are converted on the isolate's own thread inside the C callback (which holds the GIL)
and handed to the asyncio loop with `call_soon_threadsafe`; nothing here ever waits for the
isolate on the loop thread, except `call_sync`, used only on a fresh isolate during setup.

A wake may carry a text: JS leaves it in a second SharedArrayBuffer (the outbox) before calling
the wake, and the callback copies it out while JS waits for the call to return. Work that
finishes in the microtasks after an eval (an async flow) then reaches the host with the wake,
instead of costing one more eval to collect.

Each isolate thread keeps one Python thread state for all its callbacks (`_dispatch`). Without
that, ctypes makes a new one for every callback and deletes it on return: with its 16 KiB frame
stack mapped and unmapped each time, ~25 us per callback here, two callbacks per login. The
state is given up in one last callback when the isolate is closed (`_drain`).

JS can also call the host synchronously (`install_sync`): a second callback and its own shared
buffer carry a request and its answer within one JS call, computed by Python on the isolate's
thread while JS waits (random bytes, digests, RSA/EC, zlib: ~5 us per call). The handlers must be
short: the isolate, and the GIL, are theirs until they return.

An eval's result may also be held back (`hold`): a step that only started jobs has nothing for
the loop, and waking the loop for it competes, on the executor's one core, with the microtasks
that are finishing those jobs. A held result rides along with the next wake instead (one loop
wake per lone trigger instead of two), or is handed over as soon as the owner has new work for
the isolate (`release_held`), or by a check every HOLD_LIMIT while the eval is unanswered.
"""

from __future__ import annotations

import asyncio
import ctypes
import itertools
import json
import threading
from collections.abc import Callable
from typing import Any

from py_mini_racer._dll import MR_CALLBACK, init_mini_racer

# Value type tags of mini-racer 0.14.1 (src/v8_py_frontend/binary_value.h).
_NULL, _BOOL, _INTEGER, _DOUBLE, _STR_UTF8, _UNDEFINED = 1, 2, 3, 4, 5, 11
_SHARED_ARRAY_BUFFER, _ARRAY_BUFFER = 101, 102
_ERRORS = {
    200: "execute",
    201: "parse",
    202: "oom",
    203: "timeout",
    204: "terminated",
    205: "value",
    206: "key",
}

# V8 flags, set once per process before the first isolate. Garbage collection stays on each
# isolate's own thread (its cost lands on the isolate that made the garbage, inside its step).
# Optimising compilation runs on V8's worker threads: with `--single-threaded` a Maglev or
# TurboFan compile of a hot runtime function ran as a task on the isolate's thread and held
# every job of the flow for 50-90 ms (seen at the benchmark's warm-up and again ~4,000 steps in).
# (`--single-threaded-gc`, which should be the same GC list, crashed mini-racer 0.14.1 here.)
V8_FLAGS = (
    "--no-concurrent-marking", "--no-parallel-marking", "--no-parallel-scavenge", "--no-concurrent-sweeping",
    "--no-parallel-compaction", "--no-parallel-pointer-update", "--no-parallel-weak-ref-clearing",
    "--no-concurrent-array-buffer-sweeping", "--no-cppheap-concurrent-marking",
)


class JSError(Exception):
    """JS threw, was terminated, or ran out of memory; `kind` is one of _ERRORS' values."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message


class StepTimeout(Exception):
    """An eval did not answer before its deadline (the isolate may be spinning)."""


# The C API that keeps an isolate thread's Python thread state between callbacks: called with
# the GIL held, so through `pythonapi` (which does not release it).
_gil_ensure = ctypes.pythonapi.PyGILState_Ensure
_gil_ensure.restype = ctypes.c_int
_gil_release = ctypes.pythonapi.PyGILState_Release
_gil_release.argtypes = [ctypes.c_int]
_gil_release.restype = None

# A held result reaches the loop at the latest this long after it was held (when no wake comes
# and no new work arrives: a job waiting on a promise that never settles)
HOLD_LIMIT = 0.002


# The synchronous host call (Isolate.install_sync; runtime_js/41_host_sync.js)
SYNC_PUT, SYNC_CALL, SYNC_MORE, SYNC_OK, SYNC_ERROR = 1, 2, 3, 4, 5
SYNC_DATA_AT = 16
SYNC_REQUEST_MAX = 16 * 2**20


class SyncCallError(Exception):
    """Raised by a synchronous host call's handler: the calling JS gets a `name` (Error,
    TypeError, RangeError) with `message` and, when given, Node's `code`."""

    def __init__(self, message: str, name: str = "Error", code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.name = name
        self.code = code


def _json_error(name: str, message: str, code: str | None) -> bytes:
    return json.dumps({"name": name, "message": message, "code": code}).encode("utf-8")


_dll: Any = None
_dll_lock = threading.Lock()
# Isolates are built and destroyed on worker threads. mini-racer 0.14.1 is not safe doing two of
# these at once: two creations tripped a V8 address-space initialisation check, and a creation
# beside a destruction crashed the process (SIGSEGV in mr_init_context / mr_free_context, seen
# when a spare was built while a recycled isolate was closed). One lock serialises both.
_lifecycle_lock = threading.Lock()
DRAIN_WAIT = 0.25  # seconds close() waits for the isolate thread's queue to empty (see _drain)


def library() -> Any:
    """The loaded libmini_racer with V8 initialised (once per process)."""
    global _dll
    with _dll_lock:
        if _dll is None:
            _dll = init_mini_racer(flags=V8_FLAGS, ignore_duplicate_init=True)
        return _dll


class Isolate:
    """One V8 isolate (with its own native thread) driven without blocking the loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, on_wake: Callable[[str | None], None]) -> None:
        self._dll = library()
        self._loop = loop
        self.on_wake = on_wake  # settable: a pre-built isolate gets its owner later
        # called on the isolate thread with a wake's text before it goes to the loop; what it
        # returns goes to `on_wake` instead of the text (settable, like on_wake)
        self.on_wake_text: Callable[[str], Any] | None = None
        self._outbox: memoryview | None = None
        self._ids = itertools.count(1)
        self._handlers: dict[int, Callable[[Any], None]] = {}
        self._waiting: dict[int, asyncio.Future[Any]] = {}  # evals not answered yet
        self._tasks: dict[int, int] = {}  # callback id -> mini-racer task id of those evals
        self._held: list[tuple[asyncio.Future[Any], Any]] = []  # answered, not handed to the loop yet
        self._held_lock = threading.Lock()
        self.held = 0  # results held back so far (each saved the loop a wake unless released early)
        self._code: dict[str, Any] = {}
        self._buffers: list[Any] = []  # raw handles keeping SharedArrayBuffers alive
        # the isolate thread's Python thread state, kept from its first callback until close
        self._keep_thread_state = True
        self._kept: tuple[int, int] | None = None  # (thread ident, PyGILState_Ensure's state)
        self._callback = MR_CALLBACK(self._dispatch)  # must outlive the context
        # held to check `closed` and queue an eval (or cancel one) as one step, and by close() to
        # set it: nothing is queued or cancelled once close() has begun (see _drain)
        self._enqueue_lock = threading.Lock()
        with _lifecycle_lock:
            self._ctx = self._dll.mr_init_context(self._callback)
        self.closed = False

    # -- callbacks: these run on the isolate thread with the GIL held ----------------------

    def _dispatch(self, callback_id: int, raw: Any) -> None:
        if self._keep_thread_state:
            if self._kept is None:
                # one more reference to this thread's state, held until close: ctypes' own
                # release at the end of each callback then leaves it in place
                self._kept = (threading.get_ident(), _gil_ensure())
        elif self._kept is not None and self._kept[0] == threading.get_ident():
            _gil_release(self._kept[1])  # ctypes' release at the end of this call deletes it
            self._kept = None
        handler = self._handlers.get(callback_id)
        if handler is None:  # a late answer to an abandoned eval
            self._dll.mr_free_value(self._ctx, raw)
            return
        handler(raw)

    def _convert(self, raw: Any) -> Any:
        """Turn a result into str/int/float/bool/None/JSError; anything else is refused."""
        c = raw.contents
        t = c.type
        try:
            if t == _STR_UTF8:
                return ctypes.string_at(c.value.value_ptr, c.len).decode("utf-8", "replace")
            if t == _INTEGER:
                return int(c.value.int_val)
            if t == _BOOL:
                return bool(c.value.int_val)
            if t == _DOUBLE:
                return float(c.value.double_val)
            if t in (_NULL, _UNDEFINED):
                return None
            if t in _ERRORS:
                text = ctypes.string_at(c.value.value_ptr, c.len).decode("utf-8", "replace")
                return JSError(_ERRORS[t], text)
            return JSError("value", f"unexpected result type {t}")
        finally:
            self._dll.mr_free_value(self._ctx, raw)

    # -- evaluation ----------------------------------------------------------------------

    def _code_handle(self, source: str, keep: bool) -> Any:
        handle = self._code.get(source) if keep else None
        if handle is None:
            data = source.encode("utf-8")
            handle = self._dll.mr_alloc_string_val(self._ctx, data, len(data), _STR_UTF8)
            if keep:
                self._code[source] = handle
        return handle

    async def eval(self, source: str, timeout: float, *, keep_source: bool = True,
                   hold: Callable[[Any], bool] | None = None) -> Any:
        """Evaluate `source`; the result must be a primitive. On timeout the running JS is
        terminated (TerminateExecution) and StepTimeout raised; if the isolate never picked
        the task up (a spinning microtask), the caller must close the isolate. A result for
        which `hold(result)` is true (called on the isolate thread) is held back, see above."""
        loop = self._loop
        future: asyncio.Future[Any] = loop.create_future()
        callback_id = next(self._ids)

        def on_result(raw: Any) -> None:
            self._handlers.pop(callback_id, None)
            value = self._convert(raw)
            if hold is not None and hold(value):
                with self._held_lock:
                    self._held.append((future, value))
                self.held += 1
                return
            self._waiting.pop(callback_id, None)
            loop.call_soon_threadsafe(_settle, future, value)

        with self._enqueue_lock:  # (close() on another thread: this eval is queued before its last one, or not at all)
            if self.closed:
                raise JSError("terminated", "isolate closed")
            self._handlers[callback_id] = on_result
            self._waiting[callback_id] = future
            handle = self._code_handle(source, keep_source)
            task = self._tasks[callback_id] = self._dll.mr_eval(self._ctx, handle, callback_id)
            if not keep_source:
                self._dll.mr_free_value(self._ctx, handle)
        timer = loop.call_later(timeout, _expire, future, timeout)
        release: list[asyncio.TimerHandle] = []
        if hold is not None:
            # checked every HOLD_LIMIT while the eval is unanswered, not once: a step longer
            # than that may still have its result held after the first check
            def fallback() -> None:
                self.release_held()
                if not future.done():
                    release[0] = loop.call_later(HOLD_LIMIT, fallback)

            release.append(loop.call_later(HOLD_LIMIT, fallback))
        try:
            value = await future
        except BaseException:
            self._handlers.pop(callback_id, None)
            with self._enqueue_lock:
                if not self.closed:
                    self._dll.mr_cancel_task(self._ctx, task)
            raise
        finally:
            timer.cancel()
            if release:
                release[0].cancel()
            self._waiting.pop(callback_id, None)
            self._tasks.pop(callback_id, None)
        if isinstance(value, JSError):
            raise value
        return value

    def release_held(self) -> None:
        """Hand held results to their evals now (loop thread)."""
        if self._held:
            _settle_all(self._take_held())

    def _take_held(self) -> list[tuple[asyncio.Future[Any], Any]]:
        with self._held_lock:
            held, self._held = self._held, []
        return held

    def call_sync(self, source: str) -> Any:
        """Blocking eval for setup of a fresh isolate only (no user code has run yet)."""
        done = threading.Event()
        box: list[Any] = []
        callback_id = next(self._ids)

        def on_result(raw: Any) -> None:
            self._handlers.pop(callback_id, None)
            box.append(self._convert(raw))
            done.set()

        self._handlers[callback_id] = on_result
        data = source.encode("utf-8")
        handle = self._dll.mr_alloc_string_val(self._ctx, data, len(data), _STR_UTF8)
        self._dll.mr_eval(self._ctx, handle, callback_id)
        self._dll.mr_free_value(self._ctx, handle)
        done.wait()
        if isinstance(box[0], JSError):
            raise box[0]
        return box[0]

    def install_wake(self, global_name: str, outbox: str | None = None, outbox_size: int = 0) -> None:
        """Put a JS->Python wake function at globalThis[global_name] (setup only; the runtime
        takes it into a closure and deletes the global before user code runs). With `outbox`,
        a SharedArrayBuffer of `outbox_size` bytes at globalThis[outbox] carries a text with
        the wake: Int32 [0] its length in UTF-16 units (0: none), Int32 [1] set to 1 by
        `accept_wake_text` once the owner takes texts, the text from byte 8. The wake's own
        arguments are never read."""
        if outbox is not None:
            self._outbox = self.new_shared_buffer(outbox_size, outbox)
        callback_id = next(self._ids)

        def on_wake(raw: Any) -> None:
            self._dll.mr_free_value(self._ctx, raw)
            text: Any = self._take_wake_text()
            if text is not None and self.on_wake_text is not None:
                try:
                    text = self.on_wake_text(text)
                except Exception:  # noqa: BLE001 - the loop then takes the text in as it is
                    pass
            held = self._take_held() if self._held else None
            if held:  # the held results first: the wake's text is newer than any of them
                self._loop.call_soon_threadsafe(self._deliver, held, text)
            else:
                self._loop.call_soon_threadsafe(self.on_wake, text)

        self._handlers[callback_id] = on_wake
        function = self._dll.mr_make_js_callback(self._ctx, callback_id)
        self._set_global(global_name, function)

    def install_sync(self, global_name: str, buffer_name: str, size: int,
                     handler: Callable[[str, bytes], bytes]) -> None:
        """Put a synchronous JS->Python call at globalThis[global_name], with its SharedArrayBuffer
        of `size` bytes at globalThis[buffer_name] (setup only; the runtime takes both into a
        closure and deletes the globals before user code runs). JS writes a request into the
        buffer and calls the function; the callback runs `handler(kind, payload)` right there, on
        the isolate's thread (JS waits for the call to return, no loop hop), and leaves the
        answer in the buffer. Layout (runtime_js/41_host_sync.js): Int32 [0] op, [1] byte length
        of the chunk at byte SYNC_DATA_AT, [2] from JS 1 on a request's first chunk (what an
        interrupted request left is dropped), from the host the bytes of the answer still to
        come; ops are
        SYNC_PUT (a request chunk, more follow), SYNC_CALL (the last chunk: run the call),
        SYNC_MORE (the next answer chunk). The host answers with [0] = SYNC_OK or SYNC_ERROR
        (the chunk is then a JSON {name, message, code}). A request is `kind` (ASCII) + NUL +
        payload, at most SYNC_REQUEST_MAX bytes; the function's own arguments are never read."""
        box = self.new_shared_buffer(size, buffer_name)
        header = box[0:SYNC_DATA_AT].cast("i")
        room = size - SYNC_DATA_AT
        request = bytearray()
        # the answer being handed over, and how much of it JS has taken
        state: dict[str, Any] = {"overflow": False, "answer": b"", "at": 0}
        callback_id = next(self._ids)

        def put(status: int, data: bytes, at: int = 0) -> None:
            n = min(len(data) - at, room)
            box[SYNC_DATA_AT : SYNC_DATA_AT + n] = data[at : at + n]
            rest = len(data) - at - n
            state["answer"], state["at"] = (data, at + n) if rest else (b"", 0)
            header[1] = n
            header[2] = rest
            header[0] = status

        def fail(name: str, message: str, code: str | None = None) -> None:
            put(SYNC_ERROR, _json_error(name, message, code))

        def on_call(raw: Any) -> None:
            self._dll.mr_free_value(self._ctx, raw)
            try:
                op, n = header[0], header[1]
                if n < 0 or n > room:
                    fail("Error", "malformed host call")
                    return
                if op == SYNC_MORE:
                    put(SYNC_OK, state["answer"], state["at"])
                    return
                if op not in (SYNC_PUT, SYNC_CALL):
                    fail("Error", "malformed host call")
                    return
                if header[2] == 1:  # a new request
                    del request[:]
                    state["overflow"] = False
                if len(request) + n > SYNC_REQUEST_MAX:
                    state["overflow"] = True
                if not state["overflow"]:
                    request.extend(box[SYNC_DATA_AT : SYNC_DATA_AT + n])
                if op == SYNC_PUT:
                    header[0] = SYNC_OK
                    return
                data, overflow = bytes(request), state["overflow"]
                del request[:]
                state["overflow"] = False
                if overflow:
                    fail("RangeError", f"the data is over the host call limit of {SYNC_REQUEST_MAX} bytes",
                         "ERR_OUT_OF_RANGE")
                    return
                kind, sep, payload = data.partition(b"\0")
                if not sep:
                    fail("Error", "malformed host call")
                    return
                put(SYNC_OK, bytes(handler(kind.decode("ascii", "replace"), payload)))
            except SyncCallError as exc:
                fail(exc.name, exc.message, exc.code)
            except Exception as exc:  # noqa: BLE001 - reported to the calling JS, never raised here
                fail("Error", f"host call failed: {type(exc).__name__}: {exc}")

        self._handlers[callback_id] = on_call
        function = self._dll.mr_make_js_callback(self._ctx, callback_id)
        self._set_global(global_name, function)

    def _deliver(self, held: list[tuple[asyncio.Future[Any], Any]], text: Any) -> None:
        _settle_all(held)
        self.on_wake(text)

    def accept_wake_text(self) -> None:
        """From now on the owner takes texts with the wake (before: plain wakes only, so setup
        code that collects output with `call_sync` finds it where it looks)."""
        if self._outbox is not None and not self.closed:
            self._outbox[4:8] = (1).to_bytes(4, "little")

    def _take_wake_text(self) -> str | None:
        """The text JS left in the outbox (called on the isolate thread while JS waits)."""
        box = self._outbox
        if box is None:
            return None
        units = int.from_bytes(box[0:4], "little")
        if units <= 0 or 8 + 2 * units > len(box):
            return None
        text = bytes(box[8 : 8 + 2 * units]).decode("utf-16-le", "replace")
        box[0:4] = b"\0\0\0\0"
        return text

    def new_shared_buffer(self, size: int, global_name: str) -> memoryview:
        """Create a SharedArrayBuffer of `size` bytes at globalThis[global_name] and return its
        memory, writable from Python (setup, or between steps when no JS runs)."""
        done = threading.Event()
        box: list[Any] = []
        callback_id = next(self._ids)

        def on_result(raw: Any) -> None:
            self._handlers.pop(callback_id, None)
            c = raw.contents
            if c.type == _SHARED_ARRAY_BUFFER:
                box.append(raw)  # keep the handle: it keeps the buffer alive
            else:
                box.append(self._convert(raw))
            done.set()

        self._handlers[callback_id] = on_result
        source = f"globalThis[{global_name!r}] = new SharedArrayBuffer({int(size)})"
        data = source.encode("utf-8")
        handle = self._dll.mr_alloc_string_val(self._ctx, data, len(data), _STR_UTF8)
        self._dll.mr_eval(self._ctx, handle, callback_id)
        self._dll.mr_free_value(self._ctx, handle)
        done.wait()
        raw = box[0]
        if isinstance(raw, JSError):
            raise raw
        if not hasattr(raw, "contents"):
            raise JSError("value", "shared buffer was not created")
        self._buffers.append(raw)
        c = raw.contents
        return memoryview((ctypes.c_ubyte * c.len).from_address(c.value.value_ptr)).cast("B")

    def _set_global(self, name: str, value_handle: Any) -> None:
        done = threading.Event()
        box: list[Any] = []
        callback_id = next(self._ids)

        def on_result(raw: Any) -> None:
            self._handlers.pop(callback_id, None)
            box.append(raw)
            done.set()

        self._handlers[callback_id] = on_result
        data = b"globalThis"
        code = self._dll.mr_alloc_string_val(self._ctx, data, len(data), _STR_UTF8)
        self._dll.mr_eval(self._ctx, code, callback_id)
        self._dll.mr_free_value(self._ctx, code)
        done.wait()
        global_object = box[0]
        key = name.encode("utf-8")
        key_handle = self._dll.mr_alloc_string_val(self._ctx, key, len(key), _STR_UTF8)
        result = self._dll.mr_set_object_item(self._ctx, global_object, key_handle, value_handle)
        for h in (result, key_handle, value_handle, global_object):
            self._dll.mr_free_value(self._ctx, h)

    # -- limits and lifetime -------------------------------------------------------------

    def set_heap_limits(self, hard: int, soft: int) -> None:
        """Arm the limits (on a fresh isolate: a reached hard limit means it is replaced). After
        each GC, used heap over `soft` asks V8 to collect harder; over `hard` terminates JS."""
        self._dll.mr_set_hard_memory_limit(self._ctx, hard)
        self._dll.mr_set_soft_memory_limit(self._ctx, soft)

    def hard_limit_reached(self) -> bool:
        with self._enqueue_lock:
            return (not self.closed) and bool(self._dll.mr_hard_memory_limit_reached(self._ctx))

    def close(self) -> None:
        """Destroy the isolate: terminates any JS still running (even a spinning microtask)
        and joins its thread. Blocks ~1 ms: call it off the event loop."""
        with self._enqueue_lock:
            if self.closed:
                return
            self.closed = True
        self._handlers.clear()
        # an eval still waiting will never be answered now: end it (close runs off the loop)
        for future in list(self._waiting.values()):
            self._loop.call_soon_threadsafe(_settle, future, JSError("terminated", "the isolate was closed"))
        self._waiting.clear()
        self._drain()
        for handle in self._code.values():
            self._dll.mr_free_value(self._ctx, handle)
        for handle in self._buffers:
            self._dll.mr_free_value(self._ctx, handle)
        self._code.clear()
        self._buffers.clear()
        # (an isolate stuck in a walk V8 does not interrupt holds this lock, and so the next
        # isolate's creation, until the walk ends: seconds at worst, see the README's limits)
        with _lifecycle_lock:
            self._dll.mr_free_context(self._ctx)

    def _drain(self) -> None:
        """Leave no eval to run while the context is freed. mini-racer's context destructor
        stops JavaScript, then lets the isolate thread run what is still queued while it tears
        down: an eval run then crashed the process (SIGSEGV in CodeEvaluator::Eval, about one
        full test run in five), while a cancelled one only answers "terminated".
        One last eval is queued (its callback has the thread give up the Python thread state
        it kept, see _dispatch) and every eval still unanswered is cancelled, which terminates
        one that is running. The queue runs in order: once the last eval answers, nothing is
        left. If it does not answer soon, JS is spinning where no task can interrupt it (a
        microtask loop: only freeing the context ends it), and the last eval is cancelled too."""
        drained = threading.Event()
        self._keep_thread_state = False
        callback_id = next(self._ids)

        def on_result(raw: Any) -> None:
            self._handlers.pop(callback_id, None)
            self._dll.mr_free_value(self._ctx, raw)
            drained.set()

        self._handlers[callback_id] = on_result
        handle = self._code_handle("0", keep=False)
        last = self._dll.mr_eval(self._ctx, handle, callback_id)
        self._dll.mr_free_value(self._ctx, handle)
        for task in list(self._tasks.values()):
            self._dll.mr_cancel_task(self._ctx, task)
        self._tasks.clear()
        if not drained.wait(DRAIN_WAIT):
            self._dll.mr_cancel_task(self._ctx, last)


def _expire(future: asyncio.Future[Any], timeout: float) -> None:
    if not future.done():
        future.set_exception(StepTimeout(f"no answer within {timeout:.3f}s"))


def _settle(future: asyncio.Future[Any], value: Any) -> None:
    if not future.done():
        future.set_result(value)


def _settle_all(held: list[tuple[asyncio.Future[Any], Any]]) -> None:
    for future, value in held:
        _settle(future, value)

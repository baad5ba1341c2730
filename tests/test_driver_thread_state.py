"""An isolate's thread keeps one Python thread state for all its callbacks into Python, and gives
it back when the isolate is closed, idle or stuck in JS (sandbox/driver.py, `_dispatch`)."""

from __future__ import annotations

import asyncio
import ctypes
import threading

import pytest

from sandbox.driver import Isolate, StepTimeout

_api = ctypes.pythonapi
_api.PyInterpreterState_Main.restype = ctypes.c_void_p
_api.PyInterpreterState_ThreadHead.restype = ctypes.c_void_p
_api.PyInterpreterState_ThreadHead.argtypes = [ctypes.c_void_p]
_api.PyThreadState_Next.restype = ctypes.c_void_p
_api.PyThreadState_Next.argtypes = [ctypes.c_void_p]


def thread_states() -> int:
    """Python thread states alive in this interpreter."""
    count, state = 0, _api.PyInterpreterState_ThreadHead(_api.PyInterpreterState_Main())
    while state:
        count += 1
        state = _api.PyThreadState_Next(state)
    return count


async def close(isolate: Isolate) -> None:
    await asyncio.get_running_loop().run_in_executor(None, isolate.close)


async def test_callbacks_from_one_isolate_share_one_python_thread_state() -> None:
    isolate = Isolate(asyncio.get_running_loop(), lambda text: None)
    local = threading.local()  # per Python thread state: gone with the state
    seen: list[int | None] = []

    def note(value: object) -> bool:  # called on the isolate's thread, inside its callback
        seen.append(getattr(local, "calls", None))
        local.calls = len(seen)
        return False

    try:
        for _ in range(3):
            await isolate.eval("1 + 1", 5, hold=note)
    finally:
        await close(isolate)
    assert seen == [None, 1, 2]


async def test_closing_idle_isolates_gives_their_thread_states_back() -> None:
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, lambda: None)  # the worker thread that closes has its own
    before = thread_states()
    isolates = [Isolate(loop, lambda text: None) for _ in range(8)]
    for isolate in isolates:
        await isolate.eval("1", 5)
        await isolate.eval("2", 5)
    assert thread_states() == before + 8
    for isolate in isolates:
        await close(isolate)
    assert thread_states() == before


async def test_an_isolate_stuck_in_js_gives_its_thread_state_back_when_closed() -> None:
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, lambda: None)
    before = thread_states()
    isolate = Isolate(loop, lambda text: None)
    await isolate.eval("1", 5)
    assert thread_states() == before + 1
    # a loop in a microtask: V8 cannot interrupt it, the next eval never starts
    await isolate.eval("Promise.resolve().then(() => { while (true) {} }); 1", 5)
    with pytest.raises(StepTimeout):
        await isolate.eval("2", 0.2)
    await asyncio.wait_for(close(isolate), 10)
    assert thread_states() == before

"""Frames between the supervisor and an executor, over a real socket pair: every message arrives
once and in order however the stream is cut, also when it was waiting before the connection was
opened (under uvloop the first read can run before `open_frames` returns), and a frame that
announces too much ends it."""

from __future__ import annotations

import asyncio
import random
import socket

import orjson
import pytest
import uvloop

from sandbox.frames import HEADER, MAX_FRAME, FrameWriter, open_frames


async def _until(condition, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.005)


async def _receiving() -> tuple[socket.socket, list, asyncio.Future[None]]:
    """A socket to write raw bytes into, the messages read from its other end, and that end's
    closed future."""
    left, right = socket.socketpair()
    got: list = []
    closed = await open_frames(right, FrameWriter(), got.append)
    return left, got, closed


async def test_messages_of_every_size_arrive_once_and_in_order() -> None:
    left, got, closed = await _receiving()
    writer = FrameWriter()
    await open_frames(left, writer, lambda m: None)
    rng = random.Random(7)
    sent = [["run", i, "x" * rng.choice((0, 10, 5_000, 300_000, 2_000_000))] for i in range(120)]
    for message in sent:
        writer.send(message)
        if rng.random() < 0.4:
            await asyncio.sleep(0)  # a new frame now and then; several messages per frame otherwise
    await _until(lambda: len(got) == len(sent))
    assert got == sent
    writer.close()
    await asyncio.wait_for(closed, 5)


async def test_a_frame_cut_into_single_bytes_is_read_whole() -> None:
    left, got, closed = await _receiving()
    body = orjson.dumps([["done", 1, {"status": "completed"}], ["pong", 2, {}]])
    for byte in HEADER.pack(len(body)) + body:
        left.send(bytes([byte]))
        await asyncio.sleep(0)
    await _until(lambda: len(got) == 2)
    assert got == [["done", 1, {"status": "completed"}], ["pong", 2, {}]]
    left.close()
    await asyncio.wait_for(closed, 5)


async def test_a_frame_announcing_more_than_the_limit_ends_the_stream() -> None:
    left, got, closed = await _receiving()
    left.send(HEADER.pack(MAX_FRAME + 1) + b"[")
    await asyncio.wait_for(closed, 5)
    assert got == []
    left.close()


@pytest.mark.parametrize("loop_factory", [asyncio.new_event_loop, uvloop.new_event_loop], ids=["asyncio", "uvloop"])
def test_messages_waiting_before_the_connection_opens_are_answered(loop_factory) -> None:
    """The executor's side: a request already in the socket reaches the handler, and what the
    handler sends (even before the writer's transport exists) goes out."""

    async def scenario() -> list:
        left, right = socket.socketpair()
        body = orjson.dumps([["ping", i] for i in range(3)])
        left.sendall(HEADER.pack(len(body)) + body)
        frames = FrameWriter()
        frames.send(["ready", 1])  # queued before there is a connection
        await open_frames(right, frames, lambda m: frames.send(["pong", m[1]]))
        replies: list = []
        await open_frames(left, FrameWriter(), replies.append)
        await _until(lambda: len(replies) == 4)
        return replies

    loop = loop_factory()
    try:
        assert loop.run_until_complete(scenario()) == [["ready", 1], ["pong", 0], ["pong", 1], ["pong", 2]]
    finally:
        loop.close()


@pytest.mark.parametrize("loop_factory", [asyncio.new_event_loop, uvloop.new_event_loop], ids=["asyncio", "uvloop"])
def test_frames_written_at_once_from_threads_arrive_whole_and_in_each_senders_order(loop_factory) -> None:
    """The executor's own writes: isolate threads send frames (`send_now`) while the loop sends
    its own; frames far larger than the socket's buffer (which then waits to be drained by the
    loop) are never cut into by another."""
    import threading

    async def scenario() -> tuple[list, list]:
        left, right = socket.socketpair()
        writer = FrameWriter()
        writer.own_writes(left)
        await open_frames(left, writer, lambda m: None)
        got: list = []
        closed = await open_frames(right, FrameWriter(), got.append)
        sizes = (0, 10, 5_000, 300_000, 2_000_000)

        def sender(name: str) -> None:
            rng = random.Random(name)
            for i in range(25):
                batch = [[name, i, j, "x" * rng.choice(sizes)] for j in range(rng.choice((1, 3)))]
                writer.send_now(batch)

        threads = [threading.Thread(target=sender, args=(f"thread-{n}",)) for n in range(4)]
        for t in threads:
            t.start()
        rng = random.Random(3)
        for i in range(60):
            writer.send(["loop", i, 0, "y" * rng.choice(sizes)])
            await asyncio.sleep(0)
        await asyncio.get_running_loop().run_in_executor(None, lambda: [t.join() for t in threads])
        expected = [m for n in range(4) for m in _sent_by(f"thread-{n}", sizes)]
        await _until(lambda: len(got) == len(expected) + 60, timeout=30)
        writer.close()
        await asyncio.wait_for(closed, 5)
        return got, expected

    loop = loop_factory()
    try:
        got, expected = loop.run_until_complete(scenario())
    finally:
        loop.close()
    for name in [f"thread-{n}" for n in range(4)]:
        assert [m for m in got if m[0] == name] == [m for m in expected if m[0] == name]
    assert [m[1] for m in got if m[0] == "loop"] == list(range(60))


def _sent_by(name: str, sizes: tuple[int, ...]) -> list:
    """What `sender(name)` above sends, in order (the same seeded choices)."""
    rng = random.Random(name)
    out = []
    for i in range(25):
        out += [[name, i, j, "x" * rng.choice(sizes)] for j in range(rng.choice((1, 3)))]
    return out

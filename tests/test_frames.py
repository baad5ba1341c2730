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

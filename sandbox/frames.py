"""Length-prefixed frames of batched messages between the supervisor and its executors.

A frame is a 4-byte big-endian length and an orjson array of messages; everything a side
queues during one turn of its event loop goes out as one frame. Arriving frames are parsed in
the loop's read callback and each message handed on at once: no reader task to wake, no await
per frame. The executor's side also writes frames straight from its isolates' threads
(`own_writes`, `send_now`): a finished job's answer does not wait for a turn of the loop.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
from collections.abc import Callable
from typing import Any, cast

import orjson

HEADER = struct.Struct(">I")
MAX_FRAME = 256 * 2**20


class FrameWriter:
    """Queues messages and writes them as one frame at the end of the loop turn. Messages sent
    before the connection is made wait in the outbox until it is.

    With `own_writes`, the writer writes to the socket itself instead of through the transport
    (which then only reads), under a lock: `send_now` may then be called from any thread and
    writes its frame at once, without a turn of the loop."""

    def __init__(self) -> None:
        self._writer: asyncio.WriteTransport | None = None
        self._outbox: list[Any] = []
        self._scheduled = False
        self.closed = False
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._unsent = bytearray()  # what the socket did not take yet (own writes)
        self._loop: asyncio.AbstractEventLoop | None = None

    def own_writes(self, sock: socket.socket) -> None:
        """Write to (a duplicate of) `sock` directly from now on (call on the loop thread,
        before the connection is opened)."""
        self._loop = asyncio.get_running_loop()
        self._sock = sock.dup()
        self._sock.setblocking(False)

    def send_now(self, messages: list[Any]) -> None:
        """Write `messages` as one frame now (any thread; needs `own_writes`)."""
        if self.closed or self._sock is None:
            return
        self._write(_frame(messages))

    def _write(self, data: bytes) -> None:
        sock, loop = self._sock, self._loop
        assert sock is not None and loop is not None
        with self._lock:
            if self.closed:
                return
            if self._unsent:
                self._unsent += data
                return
            try:
                sent = sock.send(data)
            except BlockingIOError:
                sent = 0
            except OSError:
                self.closed = True
                return
            if sent < len(data):
                self._unsent += data[sent:]
                loop.call_soon_threadsafe(self._watch_writable)

    def _watch_writable(self) -> None:
        if self._sock is not None and not self.closed:
            assert self._loop is not None
            self._loop.add_writer(self._sock.fileno(), self._drain)

    def _drain(self) -> None:
        sock, loop = self._sock, self._loop
        assert sock is not None and loop is not None
        with self._lock:
            try:
                sent = sock.send(self._unsent) if not self.closed else 0
            except BlockingIOError:
                return
            except OSError:
                self.closed = True
                sent = 0
            del self._unsent[:sent]
            if self._unsent and not self.closed:
                return
        loop.remove_writer(sock.fileno())

    def send(self, message: Any) -> None:
        if self.closed:
            return
        self._outbox.append(message)
        self._schedule()

    def attach(self, transport: asyncio.WriteTransport) -> None:
        self._writer = transport
        if self._outbox:
            self._schedule()

    def _schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._scheduled = False
        if self.closed or not self._outbox or self._writer is None:
            return
        frame = _frame(self._outbox)
        self._outbox = []
        if self._sock is not None:
            self._write(frame)
            return
        try:
            self._writer.write(frame)
        except (ConnectionError, RuntimeError):
            self.closed = True

    def close(self) -> None:
        with self._lock:
            self.closed = True
        if self._sock is not None:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.remove_writer(self._sock.fileno())
            self._sock.close()
        if self._writer is None:
            return
        try:
            self._writer.close()
        except RuntimeError:
            pass


class _FrameProtocol(asyncio.Protocol):
    def __init__(self, frames: FrameWriter, on_message: Callable[[Any], None], closed: asyncio.Future[None]) -> None:
        self._frames = frames
        self._on_message = on_message
        self._closed = closed
        self._buffer = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._frames.attach(cast(asyncio.WriteTransport, transport))  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        if buffer:  # the rest of a frame that came in parts: parsed once it is whole
            buffer += data
            if len(buffer) < HEADER.size or len(buffer) < HEADER.size + _length(buffer, 0):
                return
            data = bytes(buffer)
            buffer.clear()
        view = memoryview(data)
        offset, size = 0, len(view)
        while size - offset >= HEADER.size:
            end = offset + HEADER.size + _length(view, offset)
            if end > size:
                break
            messages = orjson.loads(view[offset + HEADER.size:end])
            offset = end
            for message in messages:
                self._on_message(message)
        if offset < size:
            buffer += view[offset:]
            if len(buffer) >= HEADER.size:
                _length(buffer, 0)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._closed.done():
            self._closed.set_result(None)


def _frame(messages: list[Any]) -> bytes:
    body = orjson.dumps(messages)
    return HEADER.pack(len(body)) + body


def _length(data: Any, offset: int) -> int:
    (length,) = HEADER.unpack_from(data, offset)
    if length > MAX_FRAME:
        raise ValueError(f"frame of {length} bytes exceeds {MAX_FRAME}")  # the loop closes the transport
    return length


async def open_frames(sock: socket.socket, frames: FrameWriter, on_message: Callable[[Any], None]) -> asyncio.Future[None]:
    """Frames over the connected socket `sock`: `frames` writes to it, `on_message` gets every
    message received, in order, from the loop's read callback (which may run before this
    returns, so both must be ready to use). The future is done when the stream ends, or breaks:
    a malformed frame closes it."""
    loop = asyncio.get_running_loop()
    closed: asyncio.Future[None] = loop.create_future()
    await loop.create_unix_connection(lambda: _FrameProtocol(frames, on_message, closed), sock=sock)
    return closed

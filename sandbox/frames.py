"""Length-prefixed frames of batched messages between the supervisor and its executors.

A frame is a 4-byte big-endian length and an orjson array of messages; everything a side
queues during one turn of its event loop goes out as one frame.
"""

from __future__ import annotations

import asyncio
import struct
from typing import Any

import orjson

HEADER = struct.Struct(">I")
MAX_FRAME = 256 * 2**20


class FrameWriter:
    """Queues messages and writes them as one frame at the end of the loop turn."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        self._outbox: list[Any] = []
        self._scheduled = False
        self.closed = False

    def send(self, message: Any) -> None:
        if self.closed:
            return
        self._outbox.append(message)
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._scheduled = False
        if self.closed or not self._outbox:
            return
        body = orjson.dumps(self._outbox)
        self._outbox = []
        try:
            self._writer.write(HEADER.pack(len(body)) + body)
        except (ConnectionError, RuntimeError):
            self.closed = True

    def close(self) -> None:
        self.closed = True
        try:
            self._writer.close()
        except RuntimeError:
            pass


async def read_frame(reader: asyncio.StreamReader) -> list[Any] | None:
    """The next frame's messages, or None at end of stream."""
    try:
        header = await reader.readexactly(HEADER.size)
        (length,) = HEADER.unpack(header)
        if length > MAX_FRAME:
            raise ValueError(f"frame of {length} bytes exceeds {MAX_FRAME}")
        body = await reader.readexactly(length)
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    return orjson.loads(body)

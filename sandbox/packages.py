"""The files of actions' npm packages, read by the isolate's `require` (runtime_js/lazy/cjs.js)
through the synchronous host call "package.source".

The server builds each action's dependency tree into a content-addressed directory (one
sub-directory per package, named by the hex SHA-512 of its tarball: server/npm/) before any
execution needs it; an executor only reads from there, never from the network. The request is
"<hex key>/<path inside the package>", taken by the runtime from the action's tree manifest;
the path is checked again here so that nothing outside the package directory is ever read.

The answer is the file's text as a JSON string of ASCII (non-ASCII as \\u escapes): the isolate
turns it into a string with its native JSON.parse, where decoding UTF-8 in JS took ~5 ms per
40 KB before that code was compiled. A leading byte-order mark is dropped, as Node does.
"""

from __future__ import annotations

import json
import re
from collections import OrderedDict
from pathlib import Path

from . import host_sync
from .driver import SyncCallError

# where the packages are (the executor's --package-root); None: actions have no packages here
root: Path | None = None

FILE_MAX = 16 * 2**20  # larger than any tree the build accepts a single file of
_KEY = re.compile(r"[0-9a-f]{128}")

# Answers already made, by request: a package directory never changes (it is named by its
# tarball's hash), so the next isolate of a flow (a redeploy, a recycled isolate) gets its
# files without the disk, the path checks and the encoding (~0.13 ms a file, 11 ms for axios).
CACHE_BYTES = 64 * 2**20
_answers: OrderedDict[bytes, bytes] = OrderedDict()
_cached_bytes = 0


def configure(directory: str | Path | None) -> None:
    global root, _cached_bytes
    root = Path(directory).resolve() if directory else None
    _answers.clear()
    _cached_bytes = 0


def package_source(payload: bytes) -> bytes:
    global _cached_bytes
    known = _answers.get(payload)
    if known is not None:
        _answers.move_to_end(payload)
        return known
    answer = _read(payload)
    _answers[payload] = answer
    _cached_bytes += len(answer)
    while _cached_bytes > CACHE_BYTES and _answers:
        _cached_bytes -= len(_answers.popitem(last=False)[1])
    return answer


def _read(payload: bytes) -> bytes:
    if root is None:
        raise SyncCallError("this server has no npm packages")
    try:
        request = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise SyncCallError("malformed package path") from None
    key, _, rel = request.partition("/")
    parts = rel.split("/")
    if (not _KEY.fullmatch(key) or not rel or "\0" in rel or "\\" in rel
            or any(part in ("", ".", "..") for part in parts)):
        raise SyncCallError("malformed package path")
    base = root / key
    path = base.joinpath(*parts)
    try:
        # a symlink is never unpacked (server/npm/), but the check costs nothing
        resolved = path.resolve(strict=True)
        if not resolved.is_relative_to(base.resolve(strict=True)) or not resolved.is_file():
            raise FileNotFoundError(rel)
        if resolved.stat().st_size > FILE_MAX:
            raise SyncCallError(f"package file too large: {rel}")
        data = resolved.read_bytes()
    except OSError:
        raise SyncCallError(f"package file missing from the package cache: {rel}", "Error", "ENOENT") from None
    text = data.decode("utf-8", "replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    return json.dumps(text).encode("ascii")


host_sync.HANDLERS["package.source"] = package_source

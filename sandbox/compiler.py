"""Syntax check of module source, with the line and column of the first error.

No user code ever runs here, so one isolate per executor serves every tenant: the source is
compiled behind a `throw 0;` (V8 parses a whole script before running any of it, and the first
statement throws if the parse succeeds), then through the Function constructor, which parses
the body on its own and so refuses source that tries to close the module wrapper early.
"""

from __future__ import annotations

import asyncio
import re

import orjson

from .driver import Isolate, JSError, StepTimeout

WRAPPER = "throw 0;(function (exports, require, module, __filename, __dirname) {"
_LOCATION = re.compile(r"^<anonymous>:(\d+): (.*)$")
COMPILES_PER_ISOLATE = 2000  # each check leaves compile garbage; start afresh now and then


class Compiler:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._isolate: Isolate | None = None
        self._uses = 0
        self._lock = asyncio.Lock()

    async def check(self, code: str) -> list[dict[str, str]]:
        """[] when `code` compiles as a CommonJS module, else one error {id, msg, url}."""
        async with self._lock:
            if self._isolate is None or self._uses >= COMPILES_PER_ISOLATE:
                await self.close()
                self._isolate = Isolate(self._loop, lambda text: None)
                self._uses = 0
            self._uses += 1
            try:
                return await self._check(self._isolate, code)
            except StepTimeout:
                await self.close()
                return [_error("The code took too long to compile")]

    async def _check(self, isolate: Isolate, code: str) -> list[dict[str, str]]:
        code = without_hashbang(code)
        try:
            await isolate.eval(WRAPPER + code + "\n})", 5.0, keep_source=False)
        except JSError as exc:
            if exc.kind == "parse":
                first = exc.message.split("\n", 1)[0]
                match = _LOCATION.match(first)
                if match:
                    line = int(match.group(1))  # the wrapper shares line 1 with the code
                    caret = exc.message.split("\n")
                    column = caret[2].index("^") + 1 if len(caret) > 2 and "^" in caret[2] else 0
                    if line == 1:
                        column = max(1, column - len(WRAPPER))
                    where = f"line {line}" + (f", column {column}" if column else "")
                    return [_error(f"{match.group(2)} ({where})")]
                return [_error(first)]
            if exc.kind != "execute":
                return [_error(exc.message.split("\n", 1)[0])]
        probe = (
            "(() => { try { new Function('exports', 'require', 'module', '__filename', '__dirname', %s); return ''; }"
            " catch (e) { return String(e); } })()" % orjson.dumps(code).decode()
        )
        message = await isolate.eval(probe, 5.0, keep_source=False)
        return [_error(message)] if message else []

    async def close(self) -> None:
        isolate, self._isolate = self._isolate, None
        if isolate is not None:
            await self._loop.run_in_executor(None, isolate.close)


def without_hashbang(code: str) -> str:
    """Node accepts a first line `#!...` in a module (a script made executable); inside a wrapper
    it is a syntax error, so it becomes a comment of the same length (lines and columns stay).
    runtime_js/50_modules.js does the same before compiling."""
    return "//" + code[2:] if code.startswith("#!") else code


def _error(message: str) -> dict[str, str]:
    return {"id": "syntax_error", "msg": message, "url": ""}

"""A local HTTPS (and HTTP) API for tests of outbound requests: an aiohttp server on 127.0.0.1
with a certificate from its own trustme CA, in a thread of its own (its own event loop), so a
test's loop, an executor process and the upstream never wait on each other.

Reach it as a real action would reach an API: by name (`api.test.example`, TLS;
`plain.test.example`, plain HTTP), through the
operator's mappings `upstream.resolve` (--egress-resolve) and CA file `upstream.ca_file`
(--egress-ca-file). Routes:
  /echo            JSON: method, path, query (decoded), raw_query, headers (lower-case pairs), body (text)
  /redirect        ?to=URL&status=302 -> that status with Location: URL
  /loop            ?n=K -> 302 to /loop?n=K+1, for ever
  /big             ?bytes=N -> N bytes of "x", streamed in 64 KiB chunks (?length=0: chunked)
  /slow            ?seconds=S -> waits, then {"slept": S}
  /gzip, /br       a JSON body sent compressed (content-encoding gzip / br)
  /cookies         two Set-Cookie headers
  /status          ?code=N -> that status, empty body
Every request is counted in `upstream.hits[path]`; `most_in_flight` is the most /slow requests
served at once.
"""

from __future__ import annotations

import asyncio
import collections
import gzip
import socket
import ssl
import threading
from pathlib import Path

import brotli
import orjson
import pytest
import trustme
from aiohttp import web

HOST = "api.test.example"
PLAIN_HOST = "plain.test.example"


class Upstream:
    def __init__(self, directory: Path) -> None:
        self.ca = trustme.CA()
        self.ca_file = str(directory / "upstream-ca.pem")
        self.ca.cert_pem.write_to_path(self.ca_file)
        self._cert = self.ca.issue_cert(HOST, "*.test.example", "127.0.0.1")
        self.hits: collections.Counter[str] = collections.Counter()
        self.in_flight = self.most_in_flight = 0  # of /slow, at once
        self.https_port = 0
        self.http_port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    # -- what tests use ---------------------------------------------------------------

    def url(self, path: str, scheme: str = "https") -> str:
        """https://api.test.example/PATH (TLS) or http://plain.test.example/PATH (plain HTTP)."""
        return f"https://{HOST}{path}" if scheme == "https" else f"http://{PLAIN_HOST}{path}"

    def literal(self, path: str, scheme: str = "https") -> str:
        """The same route by its real address (127.0.0.1:port), which the default policy refuses."""
        return f"{scheme}://127.0.0.1:{self.https_port if scheme == 'https' else self.http_port}{path}"

    def server_flags(self) -> list[str]:
        """`actionhost serve` flags that let actions reach this server by name, trusting its CA."""
        flags = ["--egress-ca-file", str(self.ca_file)]
        for entry in self.resolve:
            flags += ["--egress-resolve", entry]
        return flags

    @property
    def resolve(self) -> list[str]:
        """The --egress-resolve entries that make both names reach this server."""
        return [f"{HOST}=127.0.0.1:{self.https_port}", f"{PLAIN_HOST}=127.0.0.1:{self.http_port}"]

    # -- lifetime ----------------------------------------------------------------------

    def start(self) -> None:
        ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(ready,), name="upstream", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the test upstream did not start")

    def stop(self) -> None:
        if self._loop is not None:
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    def _serve(self, ready: threading.Event) -> None:
        loop = self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        loop.run_until_complete(self._start())
        ready.set()
        loop.run_forever()
        pending = asyncio.all_tasks(loop)  # handlers still sleeping (/slow) when the test ended
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.close()

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/echo", self._echo)
        app.router.add_route("*", "/redirect", self._redirect)
        app.router.add_route("*", "/loop", self._loop_redirect)
        app.router.add_get("/big", self._big)
        app.router.add_get("/slow", self._slow)
        app.router.add_get("/gzip", self._gzip)
        app.router.add_get("/br", self._br)
        app.router.add_get("/cookies", self._cookies)
        app.router.add_route("*", "/status", self._status)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._cert.configure_cert(context)
        for tls in (context, None):
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", 0))
            site = web.SockSite(self._runner, sock, ssl_context=tls)
            await site.start()
            if tls is not None:
                self.https_port = sock.getsockname()[1]
            else:
                self.http_port = sock.getsockname()[1]

    async def _shutdown(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # -- routes ------------------------------------------------------------------------

    async def _echo(self, request: web.Request) -> web.Response:
        self.hits["/echo"] += 1
        body = await request.read()
        return web.json_response({
            "method": request.method, "path": request.path, "query": request.query_string,
            "raw_query": request.rel_url.raw_query_string,
            "headers": [[k.lower(), v] for k, v in request.headers.items()],
            "body": body.decode("utf-8", "replace"),
        }, dumps=lambda v: orjson.dumps(v).decode())

    async def _redirect(self, request: web.Request) -> web.Response:
        self.hits["/redirect"] += 1
        await request.read()
        status = int(request.query.get("status", "302"))
        return web.Response(status=status, headers={"Location": request.query["to"]}, text="moved")

    async def _loop_redirect(self, request: web.Request) -> web.Response:
        self.hits["/loop"] += 1
        n = int(request.query.get("n", "0"))
        return web.Response(status=302, headers={"Location": f"/loop?n={n + 1}"})

    async def _big(self, request: web.Request) -> web.StreamResponse:
        self.hits["/big"] += 1
        size = int(request.query.get("bytes", "0"))
        response = web.StreamResponse()
        if request.query.get("length") != "0":
            response.content_length = size
        await response.prepare(request)
        chunk = b"x" * 65536
        sent = 0
        try:
            while sent < size:
                if request.transport is None or request.transport.is_closing():
                    return response  # the client hung up (cut off at its cap)
                piece = chunk[: min(len(chunk), size - sent)]
                await response.write(piece)
                sent += len(piece)
        except (ConnectionResetError, asyncio.CancelledError):
            return response
        await response.write_eof()
        return response

    async def _slow(self, request: web.Request) -> web.Response:
        self.hits["/slow"] += 1
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            seconds = float(request.query.get("seconds", "1"))
            await asyncio.sleep(seconds)
            return web.json_response({"slept": seconds})
        finally:
            self.in_flight -= 1

    async def _gzip(self, request: web.Request) -> web.Response:
        self.hits["/gzip"] += 1
        return web.Response(body=gzip.compress(b'{"compressed":"gzip"}'),
                            headers={"Content-Encoding": "gzip", "Content-Type": "application/json"})

    async def _br(self, request: web.Request) -> web.Response:
        self.hits["/br"] += 1
        return web.Response(body=brotli.compress(b'{"compressed":"br"}'),
                            headers={"Content-Encoding": "br", "Content-Type": "application/json"})

    async def _cookies(self, request: web.Request) -> web.Response:
        self.hits["/cookies"] += 1
        response = web.Response(text="ok")
        response.headers.add("Set-Cookie", "a=1; Path=/")
        response.headers.add("Set-Cookie", "b=2; Path=/")
        return response

    async def _status(self, request: web.Request) -> web.Response:
        self.hits["/status"] += 1
        await request.read()
        return web.Response(status=int(request.query.get("code", "200")))


@pytest.fixture(scope="module")
def upstream(tmp_path_factory):
    server = Upstream(tmp_path_factory.mktemp("upstream"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def egress_box(upstream):
    """A sandbox (one executor, test-sized limits) whose actions reach this upstream by name."""
    from sandbox import EgressConfig, Limits, Sandbox, SupervisorSettings

    box = Sandbox(SupervisorSettings(
        executors=1,
        limits=Limits(heap_hard=64 * 2**20, heap_soft=32 * 2**20, buffer_budget=32 * 2**20),
        rss_limit=768 * 2**20,
        liveness_timeout=3.0,
        egress=EgressConfig(resolve=upstream.resolve, ca_file=upstream.ca_file),
    ))
    await box.start()
    try:
        yield box
    finally:
        await box.close()

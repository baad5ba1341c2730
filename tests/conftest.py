"""Shared fixtures: a real sandbox (executor processes, real V8) and the standard workload."""

from __future__ import annotations

import asyncio
import copy
import gc
import itertools
from pathlib import Path
from typing import Any

import orjson
import pytest

from sandbox import Flow, Limits, Sandbox, SupervisorSettings

WORKLOAD = Path(__file__).resolve().parent.parent / "bench" / "workload"
_flow_ids = itertools.count(1)


def workload_actions() -> list[dict[str, Any]]:
    return [
        {"name": path.stem, "code": path.read_text(encoding="utf-8"), "secrets": {}}
        for path in sorted(WORKLOAD.glob("*.js"))
    ]


def workload_event(user_id: str = "42", **user_overrides: Any) -> dict[str, Any]:
    template = (WORKLOAD / "event_template.json").read_text(encoding="utf-8").replace("USERID", user_id)
    event = orjson.loads(template)["event"]
    event["user"].update(user_overrides)
    return event


def make_flow(*codes: str, names: list[str] | None = None, secrets: list[dict[str, str]] | None = None) -> Flow:
    """A post-login flow of the given action sources, under a key no other test uses."""
    actions = []
    for i, code in enumerate(codes):
        name = names[i] if names else f"action_{i + 1}"
        actions.append({"name": name, "code": code, "secrets": secrets[i] if secrets else {}})
    return Flow(f"test-flow-{next(_flow_ids)}", "post-login", {"actions": actions})


def payload(event: dict[str, Any] | None = None, **extra: Any) -> bytes:
    return orjson.dumps({"event": copy.deepcopy(event) if event is not None else workload_event(), **extra})


class LoopWatch:
    """Measures how late the event loop wakes up: the longest stall while it runs."""

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            start = loop.time()
            await asyncio.sleep(self.interval)
            self.worst = max(self.worst, loop.time() - start - self.interval)

    def __enter__(self) -> "LoopWatch":
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


@pytest.fixture
async def sandbox():
    """Two executor processes with test-sized limits."""
    box = Sandbox(SupervisorSettings(
        executors=2,
        limits=Limits(heap_hard=64 * 2**20, heap_soft=32 * 2**20, buffer_budget=32 * 2**20),
        rss_limit=768 * 2**20,
        liveness_timeout=3.0,
    ))
    await box.start()
    # as `actionhost serve` does after startup: what the test run has built up so far (hundreds
    # of tests' objects in this process) is kept out of the cycle collector, whose full
    # collections over it took 20-57 ms in the hostile files alone, and stalled this loop --
    # the front end under test -- past its 0.1 s limit once in a whole-suite CI run
    gc.collect()
    gc.freeze()
    try:
        yield box
    finally:
        await box.close()


# -- a real `actionhost serve` on loopback -------------------------------------------------

import os  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import ssl  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402
from dataclasses import dataclass  # noqa: E402

ADMIN_TOKEN = "test-admin-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    process: subprocess.Popen
    port: int
    data_dir: Path
    token: str = ADMIN_TOKEN
    scheme: str = "http"  # "https" when started with --tls-cert/--tls-key

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    @property
    def api(self) -> str:
        return self.url + "/api/v2"

    def headers(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}"}

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        """Run `actionhost ARGS --data-dir <this server's>` and return the finished process."""
        return subprocess.run([sys.executable, "-m", "server.cli", *args, "--data-dir", str(self.data_dir)],
                              capture_output=True, text=True, timeout=60, check=False)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(data_dir: Path, *extra: str, env: dict[str, str] | None = None, port: int | None = None) -> Server:
    port = port or free_port()
    # the suite never needs the internet: an action's dependencies go to a closed local port
    # unless the test gives a registry (--npm-registry, tests/npm_registry.py)
    environment = {**os.environ, "ACTIONHOST_ADMIN_TOKEN": ADMIN_TOKEN, "ACTIONHOST_NPM_REGISTRY": "http://127.0.0.1:9/",
                   **(env or {})}
    log = open(data_dir.parent / f"server-{port}.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "serve", "--port", str(port), "--data-dir", str(data_dir),
         "--executors", "2", *extra],
        env=environment, stdout=log, stderr=subprocess.STDOUT,
    )
    tls = "--tls-cert" in extra
    server = Server(process, port, data_dir, scheme="https" if tls else "http")
    # the health check only waits for the listener; certificate checks are the tests' business
    health_ssl = ssl._create_unverified_context() if tls else None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"actionhost serve exited with {process.returncode}; see {log.name}")
        try:
            with urllib.request.urlopen(server.url + "/healthz", timeout=1, context=health_ssl) as r:
                if r.status == 200:
                    return server
        except OSError:
            time.sleep(0.1)
    server.stop()
    raise RuntimeError("actionhost serve did not become healthy within 60 s")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One `actionhost serve` per test module, on a fresh data dir."""
    data_dir = tmp_path_factory.mktemp("actionhost") / "data"
    srv = start_server(data_dir)
    try:
        yield srv
    finally:
        srv.stop()

"""Bystander latency during another tenant's flood, with a remote profile store (issue 22, item 7).

One `actionhost serve --profile-store` in front of a local user store (in this process, a few ms
per request like a store across a network). Tenant "flooder" sends logins far over its
Write-User limit; tenant "bystander" logs in one user at a time, 20 logins a second (well
within its own limit, so what it measures is the other tenant's effect). Measured: the bystander's
latency p50/p99 when quiet, then during the flood; the goal is a flooded p99 within 2x the quiet
one. Two floods:
  limit      the flooder is over its Write-User limit (the default in front of a remote store,
             50/s with a burst of 100), so its writes wait for tokens;
  store-429  the store answers the flooder's writes 429 with a reset 2 s ahead, so its writes
             wait out resets.

    .venv/bin/python bench/profile_store_fairness.py [--mode limit|store-429|both] [--root DIR]

--root runs the server from another checkout (to compare with an older commit)."""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
ADMIN = "ah_bench_admin_token_for_fairness_0123456789"
SET_KEY = "exports.onExecutePostLogin = async (event, api) => { api.user.setAppMetadata('seen', event.transaction.id); };"


class UserStore:
    """GET/POST/PATCH /api/v2/users with Auth0's merge; every user exists (created on first
    read). `refuse(user_id)` says which writes to answer 429 (reset 2 s ahead)."""

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.users: dict[str, dict[str, Any]] = {}
        self.refuse = lambda user_id: False
        self.requests: Counter[str] = Counter()
        self.runner: web.AppRunner | None = None
        self.url = ""

    def _user(self, user_id: str) -> dict[str, Any]:
        return self.users.setdefault(user_id, {"user_id": user_id, "app_metadata": {}, "user_metadata": {}})

    async def get(self, request: web.Request) -> web.Response:
        self.requests["GET"] += 1
        await asyncio.sleep(self.latency)
        return web.json_response(self._user(request.match_info["id"]))

    async def create(self, request: web.Request) -> web.Response:
        self.requests["POST"] += 1
        body = await request.json()
        await asyncio.sleep(self.latency)
        return web.json_response(self._user(body["user_id"]), status=201)

    async def patch(self, request: web.Request) -> web.Response:
        user_id = request.match_info["id"]
        body = await request.json()
        await asyncio.sleep(self.latency)
        if self.refuse(user_id):
            self.requests["PATCH 429"] += 1
            return web.json_response({"statusCode": 429}, status=429, headers={
                "X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(math.ceil(time.time() + 2))})
        self.requests["PATCH"] += 1
        user = self._user(user_id)
        for part in ("app_metadata", "user_metadata"):
            for k, v in (body.get(part) or {}).items():
                user[part][k] = v
        return web.json_response(user)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/api/v2/users/{id}", self.get)
        app.router.add_post("/api/v2/users", self.create)
        app.router.add_patch("/api/v2/users/{id}", self.patch)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.url = "http://127.0.0.1:%d" % site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(root: Path, data: Path, store_url: str, flags: list[str]) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "ACTIONHOST_ADMIN_TOKEN": ADMIN, "ACTIONHOST_PROFILE_STORE_TOKEN": "store-token"}
    log = open(data.parent / f"server-{port}.log", "w")
    process = subprocess.Popen([sys.executable, "-m", "server.cli", "serve", "--port", str(port), "--data-dir", str(data),
                                "--profile-store", store_url, *flags], cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1) as r:
                if r.status == 200:
                    return process, url
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the server did not start")


def create_tenant(root: Path, data: Path, name: str) -> str:
    out = subprocess.run([sys.executable, "-m", "server.cli", "tenants", "create", name, "--data-dir", str(data)],
                         cwd=root, check=True, capture_output=True, text=True).stdout
    return next(word for word in out.split() if word.startswith("ah_"))


async def deploy(session: aiohttp.ClientSession, url: str, token: str) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    async with session.post(url + "/api/v2/actions/actions", headers=headers, json={
            "name": "set-key", "supported_triggers": [{"id": "post-login", "version": "v3"}], "code": SET_KEY,
            "deploy": True}) as r:
        assert r.status == 201, await r.text()
    async with session.patch(url + "/api/v2/actions/triggers/post-login/bindings", headers=headers,
                             json={"bindings": [{"ref": {"type": "action_name", "value": "set-key"}}]}) as r:
        assert r.status == 200, await r.text()


def event(user: str, tx: str) -> dict[str, Any]:
    return {"user": {"user_id": user, "email": f"{user.split('|')[1]}@example.com", "app_metadata": {}, "user_metadata": {}},
            "transaction": {"id": tx}, "stats": {"logins_count": 1}}


async def login(session: aiohttp.ClientSession, url: str, token: str, user: str, tx: str) -> tuple[float, str]:
    started = time.monotonic()
    async with session.post(url + "/triggers/post-login/execute", headers={"Authorization": f"Bearer {token}"},
                            json={"event": event(user, tx)}) as r:
        body = await r.json(content_type=None)
    status = body.get("status", "?") if r.status == 200 else f"http {r.status}"
    if status == "failed":
        status += ":" + (body.get("error") or {}).get("class", "?")
    return time.monotonic() - started, status


async def bystander(session: aiohttp.ClientSession, url: str, token: str, n: int, tag: str,
                    rate: float = 20.0) -> tuple[list[float], Counter]:
    """`n` logins one at a time, started `rate` a second (or as fast as they answer)."""
    latencies, outcomes = [], Counter()
    started = time.monotonic()
    for i in range(n):
        await asyncio.sleep(max(0.0, started + i / rate - time.monotonic()))
        elapsed, status = await login(session, url, token, f"auth0|b{i % 50}", f"{tag}{i}")
        latencies.append(elapsed)
        outcomes[status] += 1
    return latencies, outcomes


def p(latencies: list[float], q: float) -> float:
    ordered = sorted(latencies)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


async def run(mode: str, root: Path, n: int, in_flight: int, latency: float, rounds: int) -> dict[str, Any]:
    store = UserStore(latency)
    await store.start()
    with tempfile.TemporaryDirectory(prefix="ah-fair-") as tmp:
        data = Path(tmp) / "data"
        flags = ["--executors", "1", "--execution-budget", "20"]
        if mode == "store-429":
            flags += ["--write-rate", "100000", "--write-burst", "100000"]
            store.refuse = lambda user_id: user_id.startswith("auth0|a")
        process, url = start_server(root, data, store.url, flags)
        try:
            token_b = create_tenant(root, data, "bystander")
            connector = aiohttp.TCPConnector(limit=in_flight + 10)
            async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
                await deploy(session, url, ADMIN)
                await deploy(session, url, token_b)
                await bystander(session, url, token_b, 20, "warm")
                quiet: list[float] = []
                flooded: list[float] = []
                quiet_outcomes: Counter = Counter()
                flooded_outcomes: Counter = Counter()
                flood_outcomes: Counter = Counter()
                # quiet and flooded phases alternate, so that noise from elsewhere on a shared
                # machine falls on both
                for r in range(rounds):
                    latencies, outcomes = await bystander(session, url, token_b, n, f"quiet{r}-")
                    quiet += latencies
                    quiet_outcomes += outcomes
                    stop = asyncio.Event()

                    async def flooder(j: int, stop: asyncio.Event = stop, r: int = r) -> None:
                        i = 0
                        while not stop.is_set():
                            _, status = await login(session, url, ADMIN, f"auth0|a{j}-{i % 20}", f"a{r}-{j}-{i}")
                            flood_outcomes[status] += 1
                            i += 1

                    flood = [asyncio.create_task(flooder(j)) for j in range(in_flight)]
                    await asyncio.sleep(3.0)  # the flooder is over its limit, its writes waiting
                    latencies, outcomes = await bystander(session, url, token_b, n, f"flood{r}-")
                    flooded += latencies
                    flooded_outcomes += outcomes
                    stop.set()
                    await asyncio.gather(*flood)
        finally:
            process.terminate()
            process.wait(timeout=30)
    await store.stop()
    return {"mode": mode, "quiet": quiet, "flooded": flooded, "quiet_outcomes": quiet_outcomes,
            "flooded_outcomes": flooded_outcomes, "flood_outcomes": flood_outcomes, "store": store.requests}


def report(result: dict[str, Any]) -> str:
    q, f = result["quiet"], result["flooded"]
    ratio = p(f, 0.99) / p(q, 0.99)
    return (f"{result['mode']:>9}: bystander quiet p50 {statistics.median(q) * 1000:7.1f} ms  p99 {p(q, 0.99) * 1000:7.1f} ms"
            f" | during the flood p50 {statistics.median(f) * 1000:7.1f} ms  p99 {p(f, 0.99) * 1000:7.1f} ms"
            f"  max {max(f) * 1000:7.1f} ms | p99 ratio {ratio:.2f}x ({'within' if ratio <= 2 else 'OVER'} 2x)\n"
            f"           bystander outcomes quiet {dict(result['quiet_outcomes'])}, flooded {dict(result['flooded_outcomes'])}\n"
            f"           flooder outcomes {dict(result['flood_outcomes'])}; store requests {dict(result['store'])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=["limit", "store-429", "both"], default="both")
    parser.add_argument("--root", type=Path, default=ROOT, help="checkout to run the server from")
    parser.add_argument("--logins", type=int, default=200, help="bystander logins per phase")
    parser.add_argument("--rounds", type=int, default=3, help="quiet and flooded phases, alternating")
    parser.add_argument("--in-flight", type=int, default=200, help="flooder logins in flight")
    parser.add_argument("--store-latency", type=float, default=0.005, help="seconds the store takes per request")
    args = parser.parse_args()
    for mode in (["limit", "store-429"] if args.mode == "both" else [args.mode]):
        print(report(asyncio.run(run(mode, args.root.resolve(), args.logins, args.in_flight, args.store_latency,
                                      args.rounds))), flush=True)


if __name__ == "__main__":
    main()

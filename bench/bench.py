"""The benchmark: one run, one machine, one table. `bench/run` calls this.

Measures, each as the median of --runs repetitions:
  1. trigger throughput over loopback with wrk (standard and write-heavy flow), p50/p99 at
     saturation and at half of peak (paced with wrk's per-request delay);
  2. the same against the Node.js node:vm reference server (bench/node_ref), and the ratio;
  3. the sandbox floor: the standard flow batched into one bare isolate, no HTTP;
  4. lone-trigger latency (one connection, one request at a time) p50/p99, and the driver's
     two-hop floor (one trigger at a time straight into an isolate, no HTTP) for comparison;
  5. cold start: a deploy of a new version, then the first execution of it; the same for an
     action that requires axios (npm, from a local registry: bench/npm_registry/), with its
     build time and the lone latency of the flow with it;
  6. RSS per warm isolate (100 tenants' flows warm in one executor) and total RSS;
  7. the egress flow (the standard flow plus one outbound fetch per login to a local upstream,
     bench/upstream.js) at saturation and lone, against the Node reference making the same call.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sandbox import Flow, Sandbox, SupervisorSettings  # noqa: E402
from sandbox.isolate import FlowIsolate, Limits, runtime_source  # noqa: E402

WORKLOAD = ROOT / "bench" / "workload"
WRITE_HEAVY = ROOT / "bench" / "workload_write_heavy"
EGRESS = ROOT / "bench" / "workload_egress"
NPM = ROOT / "bench" / "workload_npm"
NPM_REGISTRY = ROOT / "bench" / "npm_registry"
EGRESS_HOST = "risk.bench.example"
TOKEN = "bench-" + uuid.uuid4().hex
LUA = ROOT / "bench" / "post_event.lua"
TEMPLATE = WORKLOAD / "event_template.json"


def files(write_heavy: bool, egress: bool = False) -> list[Path]:
    out = sorted(WORKLOAD.glob("*.js"))
    if write_heavy:
        out += sorted(WRITE_HEAVY.glob("*.js"))
    if egress:
        out += sorted(EGRESS.glob("*.js"))
    return out


class Upstream:
    """The egress flow's remote API (bench/upstream.js), on loopback."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(["node", str(ROOT / "bench" / "upstream.js"), "--port", "0"],
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
        line = self.process.stdout.readline() if self.process.stdout else ""
        match = re.match(r"listening on (\d+)", line)
        if not match:
            self.process.kill()
            raise RuntimeError(f"bench upstream did not start: {line!r}")
        self.port = int(match.group(1))

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(port: int, process: subprocess.Popen, timeout: float = 60) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not become healthy")


def wrk(port: int, seconds: float, connections: int, threads: int = 2, delay_ms: float = 0) -> dict[str, float]:
    env = {**os.environ, "BENCH_EVENT_TEMPLATE": str(TEMPLATE), "BENCH_TOKEN": TOKEN,
           "BENCH_DELAY_MS": str(int(delay_ms))}
    out = subprocess.run(
        ["wrk", f"-t{min(threads, connections)}", f"-c{connections}", f"-d{max(1, int(seconds))}s", "--latency", "-s", str(LUA),
         f"http://127.0.0.1:{port}"], capture_output=True, text=True, env=env, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    percentiles = {}
    for pct, value, unit in re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M):
        percentiles[pct] = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {"rps": rps, "p50": percentiles.get("50", 0.0), "p99": percentiles.get("99", 0.0),
            "non2xx": float(errors.group(1)) if errors else 0.0}


class ActionhostServer:
    def __init__(self, write_heavy: bool, executors: int, upstream: Upstream | None = None,
                 npm_registry: str | None = None) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="actionhost-bench-"))
        env = {**os.environ, "ACTIONHOST_ADMIN_TOKEN": TOKEN}
        extra = [] if upstream is None else ["--egress-resolve", f"{EGRESS_HOST}=127.0.0.1:{upstream.port}"]
        extra += ["--npm-registry", npm_registry] if npm_registry else []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "server.cli", "serve", "--port", str(self.port), "--data-dir", str(self.dir / "data"),
             "--executors", str(executors), "--write-rate", "1000000", "--write-burst", "1000000", *extra],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
        wait_healthy(self.port, self.process)
        self.deploy(write_heavy, egress=upstream is not None)

    def call(self, method: str, path: str, body: Any = None) -> Any:
        import urllib.request

        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", method=method,
            data=orjson.dumps(body) if body is not None else None,
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            raw = response.read()
            return orjson.loads(raw) if raw else None

    def deploy(self, write_heavy: bool, egress: bool = False) -> None:
        refs = []
        for path in files(write_heavy, egress):
            secrets = [{"name": "RISK_API", "value": f"http://{EGRESS_HOST}"}, {"name": "RISK_TOKEN", "value": "bench"}] \
                if path.parent == EGRESS else []
            self.call("POST", "/api/v2/actions/actions", {
                "name": path.stem, "supported_triggers": [{"id": "post-login", "version": "v3"}],
                "code": path.read_text(), "deploy": True, "secrets": secrets})
            refs.append({"ref": {"type": "action_name", "value": path.stem}})
        self.call("PATCH", "/api/v2/actions/triggers/post-login/bindings", {"bindings": refs})

    def bind_after_standard(self, name: str) -> None:
        refs = [{"ref": {"type": "action_name", "value": p.stem}} for p in files(False)] + [
            {"ref": {"type": "action_name", "value": name}}]
        self.call("PATCH", "/api/v2/actions/triggers/post-login/bindings", {"bindings": refs})

    def add_twin_action(self) -> None:
        """bench/workload_npm's action without its dependency (a plain object for the client),
        bound after the standard flow: what the axios flow is compared with."""
        path = sorted(NPM.glob("*.js"))[0]
        code = path.read_text().replace("require('axios')", "{ create: (config) => ({ get() {}, config }) }")
        self.call("POST", "/api/v2/actions/actions", {
            "name": path.stem + "_twin", "supported_triggers": [{"id": "post-login", "version": "v3"}], "code": code,
            "deploy": True})
        self.bind_after_standard(path.stem + "_twin")

    def add_npm_action(self) -> float:
        """Create bench/workload_npm's action (axios from the local registry) and bind it after
        the standard flow in place of its twin; the ms from its create to its status `built`."""
        path = sorted(NPM.glob("*.js"))[0]
        index = orjson.loads((NPM_REGISTRY / "index.json").read_bytes())
        started = time.perf_counter()
        action = self.call("POST", "/api/v2/actions/actions", {
            "name": path.stem, "supported_triggers": [{"id": "post-login", "version": "v3"}], "code": path.read_text(),
            "dependencies": index["dependencies"]})
        while action["status"] == "pending":
            time.sleep(0.01)
            action = self.call("GET", f"/api/v2/actions/actions/{action['id']}")
        built = time.perf_counter()
        assert action["status"] == "built", action
        self.call("POST", f"/api/v2/actions/actions/{action['id']}/deploy")
        self.bind_after_standard(path.stem)
        return (built - started) * 1000

    def cold_start(self, times: int = 5, name: str = "01_expensive_task_once") -> tuple[float, float, float]:
        """Medians of (deploy ms, first execution after it ms, one warm execution ms) for new
        versions of the action `name`, over one kept-alive connection (as a login server holds
        one to actionhost), so a new connection per call is not part of the figure."""
        import http.client

        action = self.call("GET", f"/api/v2/actions/actions?actionName={name}")["actions"][0]
        event = TEMPLATE.read_text().replace("USERID", "1").encode()
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        connection.connect()
        connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}

        def send(method: str, path: str, body: bytes | None) -> Any:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            raw = response.read()
            assert response.status < 300, raw
            return orjson.loads(raw)

        deploys, firsts, warms = [], [], []
        try:
            for _ in range(times):
                code = action["code"] + f"\n// {uuid.uuid4()}\n"
                send("PATCH", f"/api/v2/actions/actions/{action['id']}", orjson.dumps({"code": code}))
                started = time.perf_counter()
                send("POST", f"/api/v2/actions/actions/{action['id']}/deploy", None)
                deployed = time.perf_counter()
                result = send("POST", "/triggers/post-login/execute", event)
                done = time.perf_counter()
                assert result["status"] == "allowed", result
                send("POST", "/triggers/post-login/execute", event)
                warm_done = time.perf_counter()
                deploys.append((deployed - started) * 1000)
                firsts.append((done - deployed) * 1000)
                warms.append((warm_done - done) * 1000)
                time.sleep(0.2)
        finally:
            connection.close()
        return median(deploys), median(firsts), median(warms)

    def rss(self) -> int:
        total = 0
        for pid in [self.process.pid, *children(self.process.pid)]:
            total += rss_of(pid)
        return total

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


class NodeServer:
    def __init__(self, write_heavy: bool, sync_timeout: bool, upstream: Upstream | None = None) -> None:
        self.port = free_port()
        args = ["node", str(ROOT / "bench" / "node_ref" / "server.js"), "--port", str(self.port), "--actions", str(WORKLOAD)]
        if write_heavy:
            args.append("--write-heavy")
        if not sync_timeout:
            args.append("--no-sync-timeout")
        if upstream is not None:
            args += ["--actions", str(EGRESS), "--secret", f"RISK_API=http://127.0.0.1:{upstream.port}", "--secret", "RISK_TOKEN=bench"]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
        wait_healthy(self.port, self.process)

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()


def children(pid: int) -> list[int]:
    try:
        out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    except FileNotFoundError:
        return []
    return [int(p) for p in out.split()]


def rss_of(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def event_payload(i: int) -> bytes:
    return orjson.dumps({"event": orjson.loads(TEMPLATE.read_text().replace("USERID", str(1 + i % 10000)))["event"]})


def actions_of(write_heavy: bool) -> list[dict[str, Any]]:
    return [{"name": p.stem, "code": p.read_text(), "secrets": {}} for p in files(write_heavy)]


async def sandbox_floor(seconds: float) -> tuple[float, float, float]:
    """(batched triggers/s with 64 in flight, lone p50 ms, lone p99 ms) on one bare isolate."""
    loop = asyncio.get_running_loop()
    isolate = FlowIsolate(loop, runtime_source(), {"kind": "post-login", "actions": actions_of(False)}, Limits())
    await isolate.start()
    payloads = [event_payload(i) for i in range(1000)]
    ids = iter(range(1, 1 << 60))
    lone = []
    for i in range(2000):
        t = time.perf_counter()
        await isolate.submit(next(ids), "post-login", payloads[i % 1000], 20.0)
        lone.append((time.perf_counter() - t) * 1000)
    done = 0
    stop = time.perf_counter() + seconds

    async def worker(w: int) -> None:
        nonlocal done
        i = w
        while time.perf_counter() < stop:
            await isolate.submit(next(ids), "post-login", payloads[i % 1000], 20.0)
            done += 1
            i += 64

    start = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(64)))
    rate = done / (time.perf_counter() - start)
    await isolate.close()
    lone.sort()
    return rate, lone[len(lone) // 2], lone[int(len(lone) * 0.99)]


async def rss_per_isolate(count: int = 100) -> tuple[float, float]:
    """(MiB per warm isolate, MiB total of the executor) with `count` tenants' flows warm."""
    sandbox = Sandbox(SupervisorSettings(executors=1, max_isolates=count + 10))
    await sandbox.start()
    try:
        flow_actions = actions_of(False)
        await sandbox.run("warmup", Flow("warm", "post-login", {"actions": flow_actions}), event_payload(0))
        pid = sandbox.supervisor.executor_pids()[0]
        assert pid is not None
        await asyncio.sleep(0.5)
        before = rss_of(pid)
        for i in range(count):
            result = await sandbox.run(f"tenant-{i}", Flow(f"flow-{i}", "post-login", {"actions": flow_actions}), event_payload(i))
            assert result.status in ("completed", "denied"), result.data
        await asyncio.sleep(0.5)
        after = rss_of(pid)
        return (after - before) / count / 2**20, after / 2**20
    finally:
        await sandbox.close()


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="repetitions per figure (the median is reported)")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--executors", type=int, default=0, help="actionhost executors (0: one per core)")
    parser.add_argument("--no-egress", action="store_true", help="leave out the egress flow (one outbound call per login)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("bench: wrk is needed (Debian: apt-get install wrk)")
    if shutil.which("node") is None:
        sys.exit("bench: node is needed for the reference server")
    executors = args.executors or (os.cpu_count() or 1)
    rows: list[tuple[str, str]] = []
    results: dict[str, list[float]] = {}

    def add(key: str, value: float) -> None:
        results.setdefault(key, []).append(value)

    print(f"bench: {args.runs} run(s), {args.seconds:.0f} s per wrk run, {args.connections} connections", file=sys.stderr)
    for run in range(args.runs):
        for heavy in (False, True):
            label = "write" if heavy else "std"
            registry = None if heavy else local_npm_registry()
            server = ActionhostServer(heavy, executors, npm_registry=registry.url if registry else None)
            try:
                wrk(server.port, 3, args.connections)  # warm-up: every isolate built, caches filled
                sat = wrk(server.port, args.seconds, args.connections)
                add(f"ah_{label}_rps", sat["rps"])
                add(f"ah_{label}_p50", sat["p50"])
                add(f"ah_{label}_p99", sat["p99"])
                add(f"ah_{label}_non2xx", sat["non2xx"])
                half = sat["rps"] / 2
                paced = wrk(server.port, args.seconds, args.connections, delay_ms=args.connections * 1000 / half)
                add(f"ah_{label}_half_rps", paced["rps"])
                add(f"ah_{label}_half_p50", paced["p50"])
                add(f"ah_{label}_half_p99", paced["p99"])
                if not heavy:
                    lone = wrk(server.port, args.seconds / 2, 1, threads=1)
                    add("ah_lone_p50", lone["p50"])
                    add("ah_lone_p99", lone["p99"])
                    deploy_ms, first_ms, warm_ms = server.cold_start()
                    add("cold_deploy_ms", deploy_ms)
                    add("cold_first_ms", first_ms)
                    add("cold_warm_ms", warm_ms)
                    server.add_twin_action()
                    wrk(server.port, 1, 1, threads=1)  # its isolate warm
                    twin = wrk(server.port, args.seconds / 2, 1, threads=1)
                    add("twin_lone_p50", twin["p50"])
                    add("npm_build_ms", server.add_npm_action())
                    deploy_ms, first_ms, warm_ms = server.cold_start(name=sorted(NPM.glob("*.js"))[0].stem)
                    add("npm_cold_deploy_ms", deploy_ms)
                    add("npm_cold_first_ms", first_ms)
                    add("npm_cold_warm_ms", warm_ms)
                    wrk(server.port, 1, 1, threads=1)
                    lone = wrk(server.port, args.seconds / 2, 1, threads=1)
                    add("npm_lone_p50", lone["p50"])
                    add("npm_lone_p99", lone["p99"])
                    add("ah_total_rss_mb", server.rss() / 2**20)
            finally:
                server.stop()
                if registry is not None:
                    registry.__exit__(None, None, None)
            for sync_timeout in (True, False):
                node = NodeServer(heavy, sync_timeout)
                try:
                    wrk(node.port, 2, args.connections)
                    sat = wrk(node.port, args.seconds, args.connections)
                    key = f"node_{label}_{'guarded' if sync_timeout else 'unguarded'}"
                    add(f"{key}_rps", sat["rps"])
                    add(f"{key}_p99", sat["p99"])
                finally:
                    node.stop()
        if not args.no_egress:
            egress_flow(args, add)
        floor_rate, floor_p50, floor_p99 = asyncio.run(sandbox_floor(args.seconds / 2))
        add("floor_rps", floor_rate)
        add("floor_lone_p50", floor_p50)
        add("floor_lone_p99", floor_p99)
        per_isolate, executor_total = asyncio.run(rss_per_isolate())
        add("rss_per_isolate_mb", per_isolate)
        add("rss_executor_mb", executor_total)
        print(f"bench: run {run + 1}/{args.runs} done", file=sys.stderr)

    m = {k: median(v) for k, v in results.items()}

    def runs(values: list[float], fmt: str) -> str:
        """The lowest and highest of the runs, so a median near a target shows how near."""
        return f"  (runs {min(values):{fmt}}-{max(values):{fmt}})" if len(values) > 1 else ""

    def ratios(a: str, b: str) -> list[float]:  # per run: both figures were taken in that run
        return [x / y for x, y in zip(results[a], results[b])]

    for label, name in (("std", "standard flow"), ("write", "write-heavy flow")):
        rows.append((f"{name}: actionhost at saturation",
                     f"{m[f'ah_{label}_rps']:,.0f} req/s  p50 {m[f'ah_{label}_p50']:.2f} ms  p99 {m[f'ah_{label}_p99']:.2f} ms"
                     + (f"  ({m[f'ah_{label}_non2xx']:.0f} non-2xx)" if m[f'ah_{label}_non2xx'] else "")
                     + runs(results[f"ah_{label}_rps"], ",.0f")))
        rows.append((f"{name}: actionhost at half of peak",
                     f"{m[f'ah_{label}_half_rps']:,.0f} req/s  p50 {m[f'ah_{label}_half_p50']:.2f} ms  p99 {m[f'ah_{label}_half_p99']:.2f} ms"
                     + runs(results[f"ah_{label}_half_p99"], ".2f")))
        for mode, explain in (("guarded", "vm timeout on each action, like actionhost's budget"),
                              ("unguarded", "no sync timeout: a loop would hang it")):
            rps = m[f"node_{label}_{mode}_rps"]
            rows.append((f"{name}: node:vm reference, {explain}",
                         f"{rps:,.0f} req/s  p99 {m[f'node_{label}_{mode}_p99']:.2f} ms  ratio actionhost/node {m[f'ah_{label}_rps'] / rps:.2f}x"
                         + runs(ratios(f"ah_{label}_rps", f"node_{label}_{mode}_rps"), ".2f")))
    if "ah_egress_rps" in m:
        rows.append(("egress flow (one fetch per login to a local API): actionhost at saturation",
                     f"{m['ah_egress_rps']:,.0f} req/s  p50 {m['ah_egress_p50']:.2f} ms  p99 {m['ah_egress_p99']:.2f} ms"
                     + (f"  ({m['ah_egress_non2xx']:.0f} non-2xx)" if m['ah_egress_non2xx'] else "")
                     + (f"  ({m['ah_egress_unscored']:.0f} of 20 logins without a score)" if m['ah_egress_unscored'] else "")
                     + runs(results["ah_egress_rps"], ",.0f")))
        rows.append(("egress flow: actionhost, lone login (1 connection)",
                     f"p50 {m['ah_egress_lone_p50']:.2f} ms  p99 {m['ah_egress_lone_p99']:.2f} ms"))
        rps = m["node_egress_guarded_rps"]
        rows.append(("egress flow: node:vm reference (its own fetch), vm timeout on each action",
                     f"{rps:,.0f} req/s  p99 {m['node_egress_guarded_p99']:.2f} ms  ratio actionhost/node {m['ah_egress_rps'] / rps:.2f}x"
                     + runs(ratios("ah_egress_rps", "node_egress_guarded_rps"), ".2f")))
    rows.append(("sandbox floor: standard flow batched in a bare isolate, no HTTP", f"{m['floor_rps']:,.0f} triggers/s"))
    rows.append(("lone trigger over HTTP (1 connection)", f"p50 {m['ah_lone_p50']:.2f} ms  p99 {m['ah_lone_p99']:.2f} ms"))
    rows.append(("driver two-hop floor (one trigger at a time into an isolate)",
                 f"p50 {m['floor_lone_p50']:.3f} ms  p99 {m['floor_lone_p99']:.3f} ms  "
                 f"(lone HTTP p50 / floor p50 = {m['ah_lone_p50'] / m['floor_lone_p50']:.1f}x)"
                 + runs(ratios("ah_lone_p50", "floor_lone_p50"), ".1f")))
    rows.append(("cold start: deploy a new version / first execution after it / total (kept-alive client)",
                 f"{m['cold_deploy_ms']:.1f} ms / {m['cold_first_ms']:.1f} ms / {m['cold_deploy_ms'] + m['cold_first_ms']:.1f} ms"
                 f"  (a warm execution over the same client: {m['cold_warm_ms']:.1f} ms)"))
    rows.append(("npm: build of an action requiring axios 1.7.8 (26 packages, local registry, create -> built)",
                 f"{m['npm_build_ms']:.0f} ms"))
    rows.append(("npm: cold start of that action: deploy / first execution / total (kept-alive client)",
                 f"{m['npm_cold_deploy_ms']:.1f} ms / {m['npm_cold_first_ms']:.1f} ms / "
                 f"{m['npm_cold_deploy_ms'] + m['npm_cold_first_ms']:.1f} ms  (warm: {m['npm_cold_warm_ms']:.1f} ms; "
                 f"total / no-dependency total {(m['npm_cold_deploy_ms'] + m['npm_cold_first_ms']) / (m['cold_deploy_ms'] + m['cold_first_ms']):.1f}x)"
                 + runs([(a + b) / (c + d) for a, b, c, d in zip(results["npm_cold_deploy_ms"], results["npm_cold_first_ms"],
                                                                  results["cold_deploy_ms"], results["cold_first_ms"])], ".1f")))
    rows.append(("npm: lone trigger over HTTP, standard flow + the axios action (warm)",
                 f"p50 {m['npm_lone_p50']:.2f} ms  p99 {m['npm_lone_p99']:.2f} ms  (/ the same flow with its twin "
                 f"without the dependency, p50 {m['twin_lone_p50']:.2f} ms: {m['npm_lone_p50'] / m['twin_lone_p50']:.2f}x)"
                 + runs(ratios("npm_lone_p50", "twin_lone_p50"), ".2f")))
    rows.append(("RSS per warm isolate (100 tenants' flows, one executor)",
                 f"{m['rss_per_isolate_mb']:.2f} MiB  (executor total {m['rss_executor_mb']:.0f} MiB; "
                 f"whole server after the run {m['ah_total_rss_mb']:.0f} MiB)"))
    width = max(len(r[0]) for r in rows)
    print(f"machine: {os.cpu_count()} cores ({platform_line()}); actionhost with {executors} executor(s); "
          f"figures are medians of {args.runs} run(s), {args.seconds:.0f} s of wrk each, {args.connections} connections")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


def local_npm_registry() -> Any:
    """The bench's npm registry: bench/npm_registry's tarballs served on loopback (the tests'
    LocalRegistry), started; stop it with __exit__."""
    sys.path.insert(0, str(ROOT / "tests"))
    from npm_registry import LocalRegistry

    registry = LocalRegistry().__enter__()
    for package in orjson.loads((NPM_REGISTRY / "index.json").read_bytes())["packages"]:
        registry.publish(package["name"], package["version"], {}, dependencies=package["dependencies"],
                         data=(NPM_REGISTRY / package["file"]).read_bytes())
    return registry


def egress_flow(args: argparse.Namespace, add: Any) -> None:
    """The egress flow against actionhost and the Node reference, both calling the same upstream."""
    upstream = Upstream()
    try:
        server = ActionhostServer(False, args.executors or (os.cpu_count() or 1), upstream)
        try:
            # every login of the flow must have reached the upstream: a refused call fails open
            # (no score) and would make the figure meaningless
            unscored = 0
            for i in range(20):
                result = server.call("POST", "/triggers/post-login/execute", orjson.loads(event_payload(i)))
                if result["id_token_claims"].get("https://example.com/risk") != 0.12:
                    unscored += 1
            add("ah_egress_unscored", unscored)
            wrk(server.port, 3, args.connections)
            sat = wrk(server.port, args.seconds, args.connections)
            add("ah_egress_rps", sat["rps"])
            add("ah_egress_p50", sat["p50"])
            add("ah_egress_p99", sat["p99"])
            add("ah_egress_non2xx", sat["non2xx"])
            lone = wrk(server.port, args.seconds / 2, 1, threads=1)
            add("ah_egress_lone_p50", lone["p50"])
            add("ah_egress_lone_p99", lone["p99"])
        finally:
            server.stop()
        node = NodeServer(False, True, upstream)
        try:
            wrk(node.port, 2, args.connections)
            sat = wrk(node.port, args.seconds, args.connections)
            add("node_egress_guarded_rps", sat["rps"])
            add("node_egress_guarded_p99", sat["p99"])
        finally:
            node.stop()
    finally:
        upstream.stop()


def platform_line() -> str:
    try:
        model = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        model = "unknown cpu"
    return model


if __name__ == "__main__":
    main()

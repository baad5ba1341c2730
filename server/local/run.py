"""`actionhost run`: run action files as one flow, on a laptop, with the server's own sandbox,
runtime, command merge and profile write; print what happened.

Exit status: 0 allowed (or redirect), 1 denied or failed, 2 bad input."""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any

import orjson

from sandbox import EgressConfig, Flow, Sandbox, SupervisorSettings

from ..flows.action_cache import ActionCache
from ..flows.catalogue import trigger
from ..flows.execution_log import ExecutionLog
from ..flows.redirect_states import RedirectStates
from ..flows.trigger_runner import TriggerRunner
from ..npm import BuildError, NpmLimits, PackageCache, Registry, RegistryConfig, build_tree, manifest
from ..profiles.rate_limit import TokenBucketLimiter
from ..profiles.sqlite_profiles import SqliteProfiles
from ..profiles.writer import ProfileWriter
from ..store.repository import Repository
from ..store.sqlite import SqliteStore

TENANT = "local"
EXIT_OK, EXIT_REFUSED, EXIT_BAD_INPUT = 0, 1, 2


class BadInput(Exception):
    """Something the user gave cannot be run; the message names the file and the position."""


@dataclass
class Packages:
    """`--dependency` packages: installed into `cache` from `registry` once, before the runs."""
    dependencies: list[dict[str, str]]
    cache: Path
    registry: RegistryConfig = field(default_factory=RegistryConfig)
    limits: NpmLimits = field(default_factory=NpmLimits)

    async def install(self) -> dict[str, Any] | None:
        if not self.dependencies:
            return None
        started = time.perf_counter()
        try:
            async with Registry(self.registry) as registry:
                tree = await build_tree(self.dependencies, registry, PackageCache(self.cache), self.limits)
        except BuildError as exc:
            raise BadInput(f"--dependency: {exc.message}") from None
        print(f"actionhost run: {len(tree['packages'])} package(s) ready in {self.cache} "
              f"({time.perf_counter() - started:.1f} s)", file=sys.stderr, flush=True)
        return manifest(tree)


def parse_dependencies(given: list[str]) -> list[dict[str, str]]:
    """NAME@VERSION (a scoped @scope/name@1.2.3 too); NAME alone is NAME@latest."""
    out = []
    for item in given:
        name, at, version = item.rpartition("@")
        if not at or not name:  # no version, or only a scope's @
            name, version = item, "latest"
        if not name:
            raise BadInput(f"--dependency {item!r}: give NAME@VERSION, e.g. axios@1.7.8")
        out.append({"name": name, "version": version or "latest"})
    return out


def sample_event() -> str:
    return resources.files("server.local").joinpath("sample_event.json").read_text(encoding="utf-8")


class StaticFlows:
    """The flow made of the files given on the command line (stands in for the FlowCache)."""

    def __init__(self, flow: Flow) -> None:
        self._flow = flow

    async def flow(self, tenant: str, trigger_id: str) -> Flow:
        return self._flow


def parse_secrets(pairs: list[str]) -> dict[str, str]:
    secrets: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise BadInput(f"--secret {pair!r}: expected NAME=VALUE")
        secrets[name] = value
    return secrets


def load_event(path: str) -> dict[str, Any]:
    try:
        raw = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as exc:
        raise BadInput(f"{path}: {exc.strerror}") from None
    try:
        event = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadInput(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    if isinstance(event, dict) and isinstance(event.get("event"), dict):
        event = event["event"]  # accept the trigger API's {"event": ...} body too
    if not isinstance(event, dict):
        raise BadInput(f"{path}: the event must be a JSON object")
    user = event.get("user")
    if not isinstance(user, dict) or not isinstance(user.get("user_id"), str) or not user["user_id"]:
        raise BadInput(f"{path}: event.user.user_id is required (try: actionhost run --sample-event > event.json)")
    return event


async def compile_files(sandbox: Sandbox, files: list[Path]) -> list[dict[str, Any]]:
    actions = []
    for path in files:
        try:
            code = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise BadInput(f"{path}: {getattr(exc, 'strerror', None) or exc}") from None
        errors = await sandbox.compile(code)
        if errors:
            message = errors[0]["msg"]
            raise BadInput(f"{path}:{_position(message)}: {message}")
        actions.append({"name": str(path), "code": code})
    return actions


def _position(message: str) -> str:
    """'line:column' from a compile message like '... (line 3, column 7)'."""
    import re

    match = re.search(r"\(line (\d+)(?:, column (\d+))?\)", message)
    if not match:
        return "1"
    return match.group(1) + (f":{match.group(2)}" if match.group(2) else "")


async def run_once(files: list[Path], event: dict[str, Any], secrets: dict[str, str], trigger_id: str,
                   user_store: Path | None, budget: float, sandbox: Sandbox,
                   packages: dict[str, Any] | None = None) -> dict[str, Any]:
    known = trigger(trigger_id)
    if known is None:
        raise BadInput(f"--trigger {trigger_id}: unknown trigger")
    actions = await compile_files(sandbox, files)
    for action in actions:
        action["secrets"] = secrets
        if packages:
            action["packages"] = packages
    key = "local:" + str(time.monotonic_ns())  # every run loads the files afresh
    flow = Flow(key, known.job_kind, {"actions": actions})
    with tempfile.TemporaryDirectory(prefix="actionhost-run-") as scratch:
        directory = user_store or Path(scratch)
        directory.mkdir(parents=True, exist_ok=True)
        store = SqliteStore(directory / "users.db")
        await store.open()
        try:
            profiles = SqliteProfiles(store)
            writer = ProfileWriter(profiles, TokenBucketLimiter(1e9, 1_000_000))
            log = ExecutionLog(Repository(store), keep_days=10)
            runner = TriggerRunner(sandbox, StaticFlows(flow), writer, ActionCache(),  # type: ignore[arg-type]
                                   RedirectStates(store), log, budget)
            response = await runner.execute(TENANT, trigger_id, {"event": event})
        finally:
            await store.close()
    sandbox.forget(TENANT, flow)
    return response


def render(response: dict[str, Any]) -> str:
    """The response for a person: per action, then the outcome."""
    lines = []
    for action in response["actions"]:
        lines.append(f"● {action['action_name']}  {action['status']}  {action['duration_ms']} ms")
        for log_line in (action.get("logs") or "").splitlines():
            lines.append(f"    │ {log_line}")
    status = response["status"]
    lines.append("")
    lines.append(f"status: {status}")
    if response.get("deny"):
        lines.append(f"  deny reason: {response['deny']['reason']}")
    if response.get("redirect"):
        lines.append(f"  redirect: {response['redirect'].get('url') or response['redirect']}")
    if response.get("error"):
        err = response["error"]
        where = f" in {err['action']}" if err.get("action") else ""
        location = _location(err.get("stack"), err.get("action"))
        if location:
            where = f" at {location}"
        lines.append(f"  error ({err['class']}){where}: {err['message']}")
    for label, key in (("id token claims", "id_token_claims"), ("access token claims", "access_token_claims")):
        if response.get(key):
            lines.append(f"{label}: {orjson.dumps(response[key]).decode()}")
    scopes = response.get("access_token_scopes") or {}
    if scopes.get("add") or scopes.get("remove"):
        lines.append(f"scopes: +{scopes.get('add')} -{scopes.get('remove')}")
    for key in ("multifactor", "authentication", "session", "refresh_token", "saml", "prompt"):
        if response.get(key):
            lines.append(f"{key}: {orjson.dumps(response[key]).decode()}")
    user = response["user"]
    lines.append(f"user {user['user_id']}:")
    lines.append(f"  app_metadata:  {orjson.dumps(user['app_metadata']).decode()}")
    lines.append(f"  user_metadata: {orjson.dumps(user['user_metadata']).decode()}")
    return "\n".join(lines)


def _location(stack: str | None, action: str | None) -> str | None:
    """'file:line:column' of the innermost stack frame inside the action's own file."""
    if not stack or not action:
        return None
    import re

    match = re.search(re.escape(action) + r":(\d+):(\d+)", stack)
    return f"{action}:{match.group(1)}:{match.group(2)}" if match else None


def exit_status(response: dict[str, Any]) -> int:
    return EXIT_OK if response["status"] in ("allowed", "redirect") else EXIT_REFUSED


async def main(files: list[str], event_path: str, secrets: list[str], trigger_id: str, user_store: str | None,
               as_json: bool, watch: bool, budget: float, egress: EgressConfig | None = None,
               packages: Packages | None = None) -> int:
    paths = [Path(f) for f in files]
    try:
        installed = await packages.install() if packages else None
    except BadInput as exc:
        print(f"actionhost run: {exc}", file=sys.stderr, flush=True)
        return EXIT_BAD_INPUT
    sandbox = Sandbox(SupervisorSettings(executors=1, pin=False, egress=egress or EgressConfig(),
                                         package_root=str(packages.cache.resolve()) if installed else None))
    await sandbox.start()
    try:
        last_seen: dict[Path, float] = {}
        status = EXIT_OK
        while True:
            try:
                event = load_event(event_path)
                response = await run_once(paths, event, parse_secrets(secrets), trigger_id,
                                          Path(user_store) if user_store else None, budget, sandbox, installed)
                print(orjson.dumps(response, option=orjson.OPT_INDENT_2).decode() if as_json else render(response), flush=True)
                status = exit_status(response)
            except BadInput as exc:
                print(f"actionhost run: {exc}", file=sys.stderr, flush=True)
                status = EXIT_BAD_INPUT
            if not watch:
                return status
            watched = [*paths] + ([Path(event_path)] if event_path != "-" else [])
            last_seen = {p: _mtime(p) for p in watched}
            print(f"\nactionhost run: watching {len(watched)} file(s); Ctrl-C to stop", file=sys.stderr, flush=True)
            while all(_mtime(p) == last_seen[p] for p in watched):
                await asyncio.sleep(0.3)
            print("\n" + "─" * 60, flush=True)
    finally:
        await sandbox.close()


def _mtime(path: Path) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return -1.0

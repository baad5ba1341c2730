"""`actionhost deploy DIR` and `actionhost export DIR`: the actions and trigger bindings of a
directory in the layout `auth0-deploy-cli` uses (its "directory" format), applied to or read from
a server through the Management API (actionhost, or Auth0 itself).

The layout (what `a0deploy export --format directory` writes and `a0deploy import` reads):

    DIR/actions/<name>.json        {"name", "code": "./actions/<name>/code.js", "runtime",
                                    "dependencies", "secrets": [{"name", "value"?}],
                                    "supported_triggers": [{"id", "version"}], "deployed": bool}
    DIR/actions/<name>/code.js     the action's code
    DIR/triggers/triggers.json     {"<trigger id>": [{"action_name", "display_name"}, ...]}

As in `auth0-deploy-cli`, `##KEY##` and `@@KEY@@` in these files are replaced from the JSON object
in AUTH0_KEYWORD_REPLACE_MAPPINGS (`@@KEY@@` by the value as JSON), an action is deployed only
when its file says `"deployed": true`, a trigger missing from triggers.json keeps its bindings,
and actions on the server that are not in DIR are left alone.

`deploy` is idempotent: an action's draft is patched only in the fields that differ from the file
(code, runtime, dependencies, supported triggers, secret names); it is deployed only when its
deployed version differs from its draft; bindings are replaced only when the ordered list of
(action, display name) differs. Secret values are write-only, so they cannot be compared: a
secret's value is sent when the action is created, when the set of secret names changes, or with
--update-secrets. `export` writes secrets as names only, as `auth0-deploy-cli` does.

Exit status: 0 done, 1 the server refused or could not be reached, 2 bad input (the message names
the file)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import ssl
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    import aiohttp

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
ACTIONS_DIR, TRIGGERS_DIR, TRIGGERS_FILE = "actions", "triggers", "triggers.json"
KEYWORDS_ENV = "AUTH0_KEYWORD_REPLACE_MAPPINGS"
DEFAULT_URL = "http://127.0.0.1:8080"
BUILD_WAIT = 120.0  # seconds to wait for an action to leave the `pending` build state
_UNRESOLVED = re.compile(r"^(##[A-Z0-9_]+##|@@[A-Z0-9_]+@@)$")  # auth0-deploy-cli's own test


class BadInput(Exception):
    """The directory (or the command line) cannot be deployed; the message names the file."""


class Failed(Exception):
    """The server refused a call or could not be reached."""


# -- command line ------------------------------------------------------------------------

def add_arguments(deploy: argparse.ArgumentParser, export: argparse.ArgumentParser) -> None:
    for parser in (deploy, export):
        parser.add_argument("directory", metavar="DIR", type=Path)
        parser.add_argument("--url", default=os.environ.get("ACTIONHOST_URL") or DEFAULT_URL,
                            help=f"the server (env ACTIONHOST_URL; default {DEFAULT_URL}); "
                                 "only Auth0's own Management API calls are used, so https://TENANT.auth0.com is meant to work too")
        parser.add_argument("--token", default=None,
                            help="a Management API token (better: env ACTIONHOST_TOKEN, which keeps it out of `ps`)")
        parser.add_argument("--ca-cert", type=Path, default=None, metavar="PATH",
                            help="PEM CA certificate(s) to trust for an https --url with a private CA")
    deploy.add_argument("--update-secrets", action="store_true",
                        help="send every secret value given in DIR even when the secret names are unchanged "
                             "(values are write-only, so deploy cannot tell whether they changed)")


def main(args: argparse.Namespace) -> int:
    command = args.command
    try:
        token = args.token or os.environ.get("ACTIONHOST_TOKEN")
        if not token:
            raise BadInput("give a Management API token: env ACTIONHOST_TOKEN (or --token); "
                           "for a local server: ACTIONHOST_TOKEN=$(cat actionhost-data/admin-token)")
        if command == "deploy":
            layout = load_directory(args.directory, keyword_mappings())
            return asyncio.run(_deploy(layout, args, token))
        return asyncio.run(_export(args.directory, args, token))
    except BadInput as exc:
        print(f"actionhost {command}: {exc}", file=sys.stderr, flush=True)
        return EXIT_BAD_INPUT
    except Failed as exc:
        print(f"actionhost {command}: {exc}", file=sys.stderr, flush=True)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print(f"actionhost {command}: interrupted", file=sys.stderr)
        return EXIT_FAILED


async def _deploy(layout: "Layout", args: argparse.Namespace, token: str) -> int:
    async with Api(args.url, token, args.ca_cert) as api:
        await deploy(layout, api, update_secrets=args.update_secrets)
    return EXIT_OK


async def _export(root: Path, args: argparse.Namespace, token: str) -> int:
    async with Api(args.url, token, args.ca_cert) as api:
        await export(root, api)
    return EXIT_OK


def say(line: str) -> None:
    print(line, flush=True)


# -- reading the directory ---------------------------------------------------------------

@dataclass
class DesiredAction:
    file: str  # as shown in messages: actions/<name>.json
    name: str
    code: str
    supported_triggers: list[dict[str, str]]
    runtime: str | None = None  # None: not managed (the server's default on create)
    dependencies: list[dict[str, str]] | None = None
    secrets: list[dict[str, str | None]] | None = None  # [{name, value|None}]
    deployed: bool = False


@dataclass
class Layout:
    root: Path
    actions: list[DesiredAction] | None  # None: no actions/ folder, actions not managed
    triggers: dict[str, list[dict[str, str]]] | None  # None: no triggers/ folder
    triggers_file: str = f"{TRIGGERS_DIR}/{TRIGGERS_FILE}"


def keyword_mappings() -> dict[str, Any]:
    raw = os.environ.get(KEYWORDS_ENV)
    if not raw:
        return {}
    try:
        mappings = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise BadInput(f"{KEYWORDS_ENV} is not valid JSON: {exc}") from None
    if not isinstance(mappings, dict):
        raise BadInput(f"{KEYWORDS_ENV} must be a JSON object of KEYWORD: value")
    return mappings


def replace_keywords(text: str, mappings: dict[str, Any]) -> str:
    """auth0-deploy-cli's replacement: `@@KEY@@` (optionally quoted) becomes the value as JSON,
    then `##KEY##` becomes the value as text."""
    for key, value in mappings.items():
        as_json = json.dumps(value, ensure_ascii=False)
        text = re.sub(f"'@@{re.escape(key)}@@'|\"@@{re.escape(key)}@@\"|@@{re.escape(key)}@@", lambda _m: as_json, text)
    for key, value in mappings.items():
        as_text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        text = text.replace(f"##{key}##", as_text)
    return text


def _read_text(path: Path, shown: str, mappings: dict[str, Any]) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput(f"{shown}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise BadInput(f"{shown}: cannot read it: {exc.strerror}") from None
    return replace_keywords(text, mappings) if mappings else text


def _read_json(path: Path, shown: str, mappings: dict[str, Any]) -> Any:
    text = _read_text(path, shown, mappings)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInput(f"{shown}: invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None


def load_directory(root: Path, mappings: dict[str, Any] | None = None) -> Layout:
    """Read and check everything before any call is made; BadInput names the file."""
    mappings = mappings or {}
    if not root.is_dir():
        raise BadInput(f"{root}: not a directory")
    actions_dir, triggers_dir = root / ACTIONS_DIR, root / TRIGGERS_DIR
    if not actions_dir.is_dir() and not triggers_dir.is_dir():
        raise BadInput(f"{root}: has neither {ACTIONS_DIR}/ nor {TRIGGERS_DIR}/ (the auth0-deploy-cli directory layout)")
    actions: list[DesiredAction] | None = None
    if actions_dir.is_dir():
        actions = []
        seen: dict[str, str] = {}
        for path in sorted(p for p in actions_dir.glob("*.json") if p.is_file()):
            action = _load_action(root, path, mappings)
            if action.name in seen:
                raise BadInput(f"{action.file}: the action name '{action.name}' is also used by {seen[action.name]}")
            seen[action.name] = action.file
            actions.append(action)
    triggers = None
    triggers_file = f"{TRIGGERS_DIR}/{TRIGGERS_FILE}"
    if triggers_dir.is_dir():
        path = triggers_dir / TRIGGERS_FILE
        if not path.is_file():
            candidates = sorted(p for p in triggers_dir.glob("*.json") if p.is_file())
            if len(candidates) > 1:
                raise BadInput(f"{TRIGGERS_DIR}/: several JSON files and no {TRIGGERS_FILE}; keep one")
            path = candidates[0] if candidates else path
        if path.is_file():
            triggers_file = f"{TRIGGERS_DIR}/{path.name}"
            triggers = _check_triggers(_read_json(path, triggers_file, mappings), triggers_file)
    return Layout(root, actions, triggers, triggers_file)


def _load_action(root: Path, path: Path, mappings: dict[str, Any]) -> DesiredAction:
    shown = f"{ACTIONS_DIR}/{path.name}"
    data = _read_json(path, shown, mappings)
    if not isinstance(data, dict):
        raise BadInput(f"{shown}: must be a JSON object describing one action")

    def fail(what: str) -> BadInput:
        return BadInput(f"{shown}: {what}")

    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise fail("'name' must be a non-empty string")
    code_path = data.get("code")
    if not isinstance(code_path, str) or not code_path:
        raise fail(f"'code' must be the path of the action's code file, e.g. \"./{ACTIONS_DIR}/{sanitize(name)}/code.js\"")
    base = root.resolve()
    code_file = (base / code_path.replace("\\", "/")).resolve()
    if base not in code_file.parents:
        raise fail(f"the code file {code_path} is outside {root}")
    if not code_file.is_file():
        raise fail(f"the code file {code_path} does not exist")
    code = _read_text(code_file, code_path, mappings)

    triggers = data.get("supported_triggers")
    if (not isinstance(triggers, list) or not triggers
            or not all(isinstance(t, dict) and isinstance(t.get("id"), str) and isinstance(t.get("version", ""), str)
                       for t in triggers)):
        raise fail("'supported_triggers' must be a list of {\"id\", \"version\"}, e.g. [{\"id\": \"post-login\", \"version\": \"v3\"}]")
    action = DesiredAction(shown, name, code, [{k: t[k] for k in ("id", "version") if k in t} for t in triggers])

    if "runtime" in data and data["runtime"] is not None:
        if not isinstance(data["runtime"], str):
            raise fail("'runtime' must be a string such as \"node22\"")
        action.runtime = data["runtime"]
    if "dependencies" in data and data["dependencies"] is not None:
        deps = data["dependencies"]
        if not isinstance(deps, list) or not all(
                isinstance(d, dict) and isinstance(d.get("name"), str) and isinstance(d.get("version", ""), str) for d in deps):
            raise fail("'dependencies' must be a list of {\"name\", \"version\"}")
        action.dependencies = [{"name": d["name"], "version": d.get("version", "latest")} for d in deps]
    if "secrets" in data and data["secrets"] is not None:
        action.secrets = _check_secrets(data["secrets"], fail)
    if "deployed" in data and data["deployed"] is not None:
        if not isinstance(data["deployed"], bool):
            raise fail("'deployed' must be true or false")
        action.deployed = data["deployed"]
    if data.get("modules"):
        raise fail("'modules' (shared action modules) are not supported by actionhost; inline the code or use 'dependencies'")
    return action


def _check_secrets(secrets: Any, fail: Any) -> list[dict[str, str | None]]:
    if isinstance(secrets, str):
        raise fail(f"'secrets' is the text {secrets[:40]!r}; an unreplaced keyword? (set {KEYWORDS_ENV})")
    if not isinstance(secrets, list):
        raise fail("'secrets' must be a list of {\"name\", \"value\"}")
    out: list[dict[str, str | None]] = []
    names = set()
    for item in secrets:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
            raise fail("each secret must be {\"name\", \"value\"} with a non-empty name")
        value = item.get("value")
        if value is not None and not isinstance(value, str):
            raise fail(f"the value of secret '{item['name']}' must be a string")
        if isinstance(value, str) and _UNRESOLVED.match(value):
            raise fail(f"the value of secret '{item['name']}' is the keyword {value}, which {KEYWORDS_ENV} does not define")
        if item["name"] in names:
            raise fail(f"the secret '{item['name']}' is listed twice")
        names.add(item["name"])
        out.append({"name": item["name"], "value": value})
    return out


def _check_triggers(data: Any, shown: str) -> dict[str, list[dict[str, str]]]:
    if not isinstance(data, dict):
        raise BadInput(f"{shown}: must be a JSON object of trigger id → [{{\"action_name\", \"display_name\"}}, ...]")
    out: dict[str, list[dict[str, str]]] = {}
    for trigger_id, bindings in data.items():
        if not isinstance(bindings, list):
            raise BadInput(f"{shown}: '{trigger_id}' must be a list of {{\"action_name\", \"display_name\"}}")
        items = []
        for b in bindings:
            if not isinstance(b, dict) or not isinstance(b.get("action_name"), str) or not b["action_name"]:
                raise BadInput(f"{shown}: each binding of '{trigger_id}' needs an \"action_name\"")
            display = b.get("display_name")
            if display is not None and (not isinstance(display, str) or not display):
                raise BadInput(f"{shown}: the display_name of '{b['action_name']}' on '{trigger_id}' must be a non-empty string")
            items.append({"action_name": b["action_name"], "display_name": display or b["action_name"]})
        names = [i["action_name"] for i in items]
        if len(set(names)) != len(names):
            raise BadInput(f"{shown}: an action is bound to '{trigger_id}' more than once")
        out[trigger_id] = items
    return out


_ILLEGAL = re.compile(r'[/?<>\\:*|"]|[\x00-\x1f\x80-\x9f]')
_WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$", re.IGNORECASE)


def sanitize(name: str) -> str:
    """The file name auth0-deploy-cli gives an action (npm sanitize-filename, '-' for bad characters)."""
    def once(s: str, repl: str) -> str:
        s = _ILLEGAL.sub(repl, s)
        s = re.sub(r"^\.+$", repl, s)
        s = _WINDOWS_RESERVED.sub(repl, s)
        stripped = s.rstrip(". ")
        if stripped != s:
            s = stripped + repl
        return s.encode("utf-8")[:255].decode("utf-8", "ignore")
    return once(once(name, "-"), "") if name else "undefined"


# -- the Management API ------------------------------------------------------------------

class ApiError(Failed):
    def __init__(self, status: int, method: str, path: str, message: str) -> None:
        super().__init__(f"{method} {path}: {status} {message}")
        self.status = status


class Api:
    """A small Management API v2 client: bearer token, JSON, 429s waited out."""

    def __init__(self, url: str, token: str, ca_cert: Path | None = None, timeout: float = 60.0) -> None:
        base = url.rstrip("/")
        if base.endswith("/api/v2"):
            base = base[: -len("/api/v2")]
        if not re.match(r"^https?://[^/]+", base):
            raise BadInput(f"--url {url}: expected http(s)://HOST[:PORT]")
        self.base = base
        self._token = token
        self._timeout = timeout
        self._ssl: ssl.SSLContext | bool = True
        if ca_cert is not None:
            if not ca_cert.is_file():
                raise BadInput(f"--ca-cert {ca_cert}: no such file")
            try:
                self._ssl = ssl.create_default_context(cafile=str(ca_cert))
            except ssl.SSLError as exc:
                raise BadInput(f"--ca-cert {ca_cert}: not a PEM certificate: {exc}") from None
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> "Api":
        import aiohttp  # here, so that building the command line parser stays light

        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self._timeout),
            headers={"Authorization": f"Bearer {self._token}", "User-Agent": "actionhost-deploy"})
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._session is not None
        await self._session.close()

    async def call(self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None) -> Any:
        import aiohttp

        assert self._session is not None
        url = self.base + "/api/v2" + path
        data = orjson.dumps(body) if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        for attempt in range(6):
            try:
                async with self._session.request(method, url, data=data, params=params, headers=headers, ssl=self._ssl) as r:
                    raw = await r.read()
                    if r.status == 429 and attempt < 5:
                        await asyncio.sleep(_retry_after(r.headers))
                        continue
                    if r.status >= 400:
                        raise ApiError(r.status, method, "/api/v2" + path, _error_message(r.status, raw))
                    return orjson.loads(raw) if raw else None
            except aiohttp.ClientConnectorCertificateError as exc:
                raise Failed(f"the TLS certificate of {self.base} is not trusted ({exc.certificate_error}); "
                             "give its CA with --ca-cert PATH") from None
            except aiohttp.ClientConnectorError as exc:
                raise Failed(f"cannot connect to {self.base}: {exc.os_error or exc}") from None
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                raise Failed(f"{method} {url}: {type(exc).__name__}: {exc}") from None
        raise AssertionError("unreachable")

    async def list_actions(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        page = 0
        while True:
            body = await self.call("GET", "/actions/actions", params={"page": page, "per_page": 100})
            items = body.get("actions", [])
            out.extend(items)
            if not items or len(out) >= body.get("total", 0):
                return out
            page += 1

    async def bindings(self, trigger_id: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        page = 0
        while True:
            body = await self.call("GET", f"/actions/triggers/{trigger_id}/bindings", params={"page": page, "per_page": 50})
            items = body.get("bindings", [])
            out.extend(items)
            if not items or len(out) >= body.get("total", len(out)) or len(items) < 50:
                return out
            page += 1


def _retry_after(headers: Any) -> float:
    try:
        if "Retry-After" in headers:
            return min(60.0, max(0.1, float(headers["Retry-After"])))
        if "X-RateLimit-Reset" in headers:
            return min(60.0, max(0.1, float(headers["X-RateLimit-Reset"]) - time.time()))
    except ValueError:
        pass
    return 1.0


def _error_message(status: int, raw: bytes) -> str:
    try:
        body = orjson.loads(raw)
        if isinstance(body, dict) and body.get("message"):
            return f"{body.get('error', '')}: {body['message']}".lstrip(": ")
    except orjson.JSONDecodeError:
        pass
    return raw[:200].decode("utf-8", "replace") or f"HTTP {status}"


# -- deploy ------------------------------------------------------------------------------

@dataclass
class Summary:
    created: int = 0
    updated: int = 0
    deployed: int = 0
    bound: int = 0
    unchanged: int = 0
    not_in_dir: int = 0
    lines: list[str] = field(default_factory=list)

    def line(self, verb: str, what: str) -> None:
        text = f"{verb:<10} {what}"
        self.lines.append(text)
        say(text)

    def text(self) -> str:
        if not (self.created or self.updated or self.deployed or self.bound):
            out = f"no changes ({self.unchanged} unchanged)"
        else:
            out = (f"{self.created} created, {self.updated} updated, {self.deployed} deployed, "
                   f"{self.bound} trigger{'s' if self.bound != 1 else ''} bound, {self.unchanged} unchanged")
        if self.not_in_dir:
            out += f"; {self.not_in_dir} action{'s' if self.not_in_dir != 1 else ''} on the server but not in the directory left as they are"
        return out


def _secret_names(items: list[dict[str, Any]]) -> list[str]:
    return sorted(s["name"] for s in items)


def _deps_key(deps: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return sorted((d.get("name", ""), d.get("version", "latest")) for d in deps)


def _triggers_differ(wanted: list[dict[str, str]], current: list[dict[str, Any]]) -> bool:
    if [t["id"] for t in wanted] != [t.get("id") for t in current]:
        return True
    return any("version" in w and w["version"] != c.get("version") for w, c in zip(wanted, current))


def _secrets_body(secrets: list[dict[str, str | None]]) -> list[dict[str, str]]:
    return [{"name": s["name"], "value": s["value"]} if s["value"] is not None else {"name": s["name"]} for s in secrets]


def plan_action(want: DesiredAction, current: dict[str, Any] | None, update_secrets: bool) -> tuple[str, dict[str, Any], list[str]]:
    """('create' | 'update' | 'none', request body, names of the changed fields). BadInput for a
    secret that would be created without a value."""
    known = set() if current is None else {s["name"] for s in current.get("secrets", [])}
    for s in want.secrets or []:
        if s["value"] is None and s["name"] not in known:
            raise BadInput(f"{want.file}: the secret '{s['name']}' has no value and is not on the server yet; give it "
                           f"\"value\" (e.g. \"##{re.sub(r'[^A-Z0-9_]', '_', s['name'].upper())}##\" with {KEYWORDS_ENV})")
    if current is None:
        body: dict[str, Any] = {"name": want.name, "code": want.code, "supported_triggers": want.supported_triggers}
        if want.runtime is not None:
            body["runtime"] = want.runtime
        if want.dependencies is not None:
            body["dependencies"] = want.dependencies
        if want.secrets:
            body["secrets"] = _secrets_body(want.secrets)
        return "create", body, []
    body = {}
    if want.code != current.get("code"):
        body["code"] = want.code
    if want.runtime is not None and want.runtime != current.get("runtime"):
        body["runtime"] = want.runtime
    if want.dependencies is not None and _deps_key(want.dependencies) != _deps_key(current.get("dependencies", [])):
        body["dependencies"] = want.dependencies
    if _triggers_differ(want.supported_triggers, current.get("supported_triggers", [])):
        body["supported_triggers"] = want.supported_triggers
    if want.secrets is not None:
        names_differ = _secret_names(want.secrets) != _secret_names(current.get("secrets", []))
        if names_differ or (update_secrets and any(s["value"] is not None for s in want.secrets)):
            body["secrets"] = _secrets_body(want.secrets)
    return ("update" if body else "none"), body, sorted(body)


async def _wait_built(api: Api, action: dict[str, Any], file: str) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + BUILD_WAIT
    waited = False
    while action.get("status") not in ("built", "failed"):
        if loop.time() > deadline:
            raise Failed(f"{file}: action '{action['name']}' was still {action.get('status')} after {BUILD_WAIT:.0f} s")
        if not waited:
            say(f"{'building':<10} action {action['name']} (waiting for the server to build it)")
            waited = True
        await asyncio.sleep(1.0)
        action = await api.call("GET", f"/actions/actions/{action['id']}")
    if action["status"] == "failed":
        detail = "; ".join(str(e.get("msg") or e.get("message") or e) for e in action.get("errors") or []) or "no detail"
        raise Failed(f"{file}: action '{action['name']}' does not build: {detail}")
    return action


async def deploy(layout: Layout, api: Api, update_secrets: bool = False) -> Summary:
    summary = Summary()
    say(f"actionhost deploy: {layout.root} → {api.base}")
    server = {a["name"]: a for a in await api.list_actions()}
    desired = layout.actions or []
    # check everything that can be checked before the first change
    plans = [(want, *plan_action(want, server.get(want.name), update_secrets)) for want in desired]
    if layout.triggers:
        trigger_ids = {t["id"] for t in (await api.call("GET", "/actions/triggers")).get("triggers", [])}
        by_name = {w.name: w for w in desired}
        for trigger_id, items in layout.triggers.items():
            if trigger_id not in trigger_ids:
                raise BadInput(f"{layout.triggers_file}: '{trigger_id}' is not a trigger of this server "
                               f"({', '.join(sorted(trigger_ids))})")
            for item in items:
                name = item["action_name"]
                if name not in by_name and name not in server:
                    raise BadInput(f"{layout.triggers_file}: binds '{name}' to {trigger_id}, but there is no such action "
                                   f"in {ACTIONS_DIR}/ or on the server")
                if name in by_name and not by_name[name].deployed and not (server.get(name) or {}).get("deployed_version"):
                    raise BadInput(f"{layout.triggers_file}: binds '{name}' to {trigger_id}, but it has never been deployed; "
                                   f"set \"deployed\": true in {by_name[name].file}")
    summary.not_in_dir = len(set(server) - {w.name for w in desired}) if layout.actions is not None else 0

    for want, kind, body, changed in plans:
        try:
            if kind == "create":
                action = await api.call("POST", "/actions/actions", body)
                summary.created += 1
                summary.line("created", f"action {want.name} ({want.file})")
            elif kind == "update":
                action = await api.call("PATCH", f"/actions/actions/{server[want.name]['id']}", body)
                summary.updated += 1
                summary.line("updated", f"action {want.name} ({', '.join(changed)})")
            else:
                action = server[want.name]
            deployed_now = False
            if want.deployed and not (action.get("deployed_version") and action.get("all_changes_deployed")):
                action = await _wait_built(api, action, want.file)
                version = await api.call("POST", f"/actions/actions/{action['id']}/deploy")
                summary.deployed += 1
                deployed_now = True
                summary.line("deployed", f"action {want.name} (version {version.get('number', '?')})")
            if kind == "none" and not deployed_now:
                summary.unchanged += 1
                summary.line("unchanged", f"action {want.name}")
        except ApiError as exc:
            raise Failed(f"{want.file}: action '{want.name}': {exc}") from None

    for trigger_id, items in (layout.triggers or {}).items():
        current = [(b["action"]["name"], b.get("display_name")) for b in await api.bindings(trigger_id)]
        wanted = [(i["action_name"], i["display_name"]) for i in items]
        names = ", ".join(n for n, _ in wanted) or "(none)"
        if current == wanted:
            summary.unchanged += 1
            summary.line("unchanged", f"trigger {trigger_id}: {names}")
            continue
        refs = [{"ref": {"type": "action_name", "value": n}, "display_name": d} for n, d in wanted]
        try:
            await api.call("PATCH", f"/actions/triggers/{trigger_id}/bindings", {"bindings": refs})
        except ApiError as exc:
            raise Failed(f"{layout.triggers_file}: trigger '{trigger_id}': {exc}") from None
        summary.bound += 1
        summary.line("bound", f"trigger {trigger_id}: {names}")
    say(f"actionhost deploy: {summary.text()}")
    return summary


# -- export ------------------------------------------------------------------------------

def _dump_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def action_file(action: dict[str, Any], code_ref: str) -> dict[str, Any]:
    """An action's description as auth0-deploy-cli's directory export writes it."""
    return {
        "name": action["name"],
        "code": code_ref,
        "runtime": action.get("runtime"),
        "status": action.get("status"),
        "dependencies": action.get("dependencies", []),
        # values are write-only; names only, as auth0-deploy-cli exports them
        "secrets": [{"name": s["name"]} for s in action.get("secrets", [])],
        "supported_triggers": action.get("supported_triggers", []),
        "deployed": bool(action.get("all_changes_deployed")),
    }


async def export(root: Path, api: Api) -> int:
    if root.exists() and not root.is_dir():
        raise BadInput(f"{root}: exists and is not a directory")
    say(f"actionhost export: {api.base} → {root}")
    actions = sorted(await api.list_actions(), key=lambda a: a["name"])
    files: dict[str, str] = {}
    for a in actions:
        name = sanitize(a["name"])
        if name in files:
            raise Failed(f"the actions '{files[name]}' and '{a['name']}' would both be written to {ACTIONS_DIR}/{name}.json")
        files[name] = a["name"]
    actions_dir = root / ACTIONS_DIR
    actions_dir.mkdir(parents=True, exist_ok=True)
    for a in actions:
        name = sanitize(a["name"])
        (actions_dir / name).mkdir(exist_ok=True)
        (actions_dir / name / "code.js").write_text(a.get("code", ""), encoding="utf-8", newline="")
        _dump_json(actions_dir / f"{name}.json", action_file(a, f"./{ACTIONS_DIR}/{name}/code.js"))
        state = "deployed" if a.get("all_changes_deployed") else "draft not deployed"
        secrets = f", {len(a.get('secrets', []))} secret name(s), values not exported" if a.get("secrets") else ""
        say(f"{'exported':<10} action {a['name']} → {ACTIONS_DIR}/{name}.json ({state}{secrets})")
    for stale in sorted(p.stem for p in actions_dir.glob("*.json") if p.is_file() and p.stem not in files):
        say(f"{'note':<10} {ACTIONS_DIR}/{stale}.json is not an action on the server (left in place)")

    triggers: dict[str, list[dict[str, str]]] = {}
    listed = await api.call("GET", "/actions/triggers")
    for trigger_id in dict.fromkeys(t["id"] for t in listed.get("triggers", [])):
        bindings = await api.bindings(trigger_id)
        if bindings:
            triggers[trigger_id] = [{"action_name": b["action"]["name"], "display_name": b.get("display_name")} for b in bindings]
            say(f"{'exported':<10} trigger {trigger_id}: {', '.join(b['action_name'] for b in triggers[trigger_id])}")
    (root / TRIGGERS_DIR).mkdir(exist_ok=True)
    _dump_json(root / TRIGGERS_DIR / TRIGGERS_FILE, triggers)
    say(f"actionhost export: {len(actions)} action{'s' if len(actions) != 1 else ''} and the bindings of "
        f"{len(triggers)} trigger{'s' if len(triggers) != 1 else ''} written to {root}")
    return len(actions)

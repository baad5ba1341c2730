"""Builds the aiohttp application from Settings; owns every resource's lifetime."""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from pathlib import Path

from aiohttp import web

from sandbox import Limits as SandboxLimits
from sandbox import Sandbox, SupervisorSettings

from .actions import model
from .actions.builds import DependencyBuilds
from .actions.service import ActionService
from .access_tokens import AccessTokenVerifier, Keyring
from .auth import ACCESS_TOKENS, DEFAULT_TENANT, SCOPES, TOKEN_CACHE, TokenCache, TokenStore, auth_middleware, new_token
from .errors import error_middleware
from .http.limits import PARSER_LINE_LIMIT, quiet_client_errors, request_size_middleware
from .http.security_headers import add_security_headers, answer_parser_errors_without_echo
from .metrics import METRICS, Metrics, RuntimeCollector, metrics_handler
from .flows.action_cache import ActionCache
from .flows.execution_log import ExecutionLog
from .flows.flow_cache import FlowCache
from .flows.login_roles import LoginRoles
from .flows.redirect_states import RedirectStates
from .flows.trigger_runner import TriggerRunner
from .http import actions as actions_http
from .http import clients as clients_http
from .http import compat as compat_http
from .http import oauth as oauth_http
from .http import openapi as openapi_http
from .http import roles as roles_http
from .http import triggers as triggers_http
from .http import users as users_http
from .http.keys import (ACTIONS, CLIENTS, KEYRING, LIMITER, LOGIN_ROLES, PROFILES, REPOSITORY, ROLES, SANDBOX, SETTINGS,
                        TOKENS, TRIGGERS, WRITER)
from .machine_clients import ClientDirectory
from .npm import PackageCache
from .profiles.rate_limit import NoWriteLimit, TokenBucketLimiter
from .profiles.remote_profiles import RemoteProfiles
from .profiles.sqlite_profiles import SqliteProfiles
from .profiles.writer import ProfileWriter
from .profiles.writer_metrics import WriterCollector
from .settings import Settings
from .store.machine_clients import SqliteMachineClients
from .store.repository import Repository
from .store.roles import SqliteRoles
from .store.secret_box import SecretBox, load_key
from .store.signing_keys import SqliteSigningKeys
from .store.sqlite import SqliteStore

DATABASE_FILE = "actionhost.db"
NPM_CACHE_DIR = "npm"  # in the data dir: the unpacked npm packages of actions (server/npm/cache.py)
# with several nodes, a cached flow is rebuilt after this long even if an invalidation was lost
FLOW_MAX_AGE_SHARED = 30.0
ADMIN_TOKEN_FILE = "admin-token"


async def open_store(data_dir: Path) -> SqliteStore:
    data_dir.mkdir(parents=True, exist_ok=True)
    store = SqliteStore(data_dir / DATABASE_FILE)
    await store.open()
    return store


async def bootstrap_admin_token(tokens: TokenStore, settings: Settings) -> str | None:
    """The default tenant and its admin token; returns a newly generated token (to print once)."""
    await tokens.ensure_tenant(DEFAULT_TENANT)
    if settings.admin_token:
        await tokens.add(DEFAULT_TENANT, settings.admin_token, list(SCOPES), "admin (ACTIONHOST_ADMIN_TOKEN)")
        return None
    if await tokens.has_tokens(DEFAULT_TENANT):
        return None
    token = new_token()
    await tokens.add(DEFAULT_TENANT, token, list(SCOPES), "admin (generated)")
    path = settings.data_dir / ADMIN_TOKEN_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    return token


GC_YOUNG_THRESHOLD = 20_000


@dataclass
class Backend:
    """Where rows live: the embedded SQLite file, or PostgreSQL shared by several nodes."""

    repository: Any
    tokens: Any
    profiles: Any
    states: Any
    sqlite: Any = None  # the embedded store, whose group commits /metrics counts
    clients: Any = None  # machine clients of /oauth/token
    signing_keys: Any = None  # the keys that sign its access tokens
    roles: Any = None


@contextlib.asynccontextmanager
async def open_backend(settings: Settings) -> AsyncIterator[Backend]:
    if settings.database_url:
        # imported here: a one-node install never loads the PostgreSQL driver
        from .flows.postgres_redirect_states import PostgresRedirectStates
        from .postgres_tokens import PostgresTokenStore
        from .profiles.postgres_profiles import PostgresProfiles
        from .store.postgres import PostgresStore
        from .store.postgres_machine_clients import PostgresMachineClients
        from .store.postgres_repository import PostgresRepository
        from .store.postgres_roles import PostgresRoles
        from .store.postgres_signing_keys import PostgresSigningKeys

        if not settings.secret_key:
            raise SystemExit("actionhost: --database-url needs ACTIONHOST_SECRET_KEY, shared by every node, "
                             "so that each node can open the secrets the others sealed")
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        pg = PostgresStore(settings.database_url)
        await pg.open()
        try:
            yield Backend(PostgresRepository(pg), PostgresTokenStore(pg), PostgresProfiles(pg),
                          PostgresRedirectStates(pg, settings.redirect_state_ttl), clients=PostgresMachineClients(pg),
                          signing_keys=PostgresSigningKeys(pg), roles=PostgresRoles(pg))
        finally:
            await pg.close()
        return
    store = await open_store(settings.data_dir)
    try:
        yield Backend(Repository(store), TokenStore(store), SqliteProfiles(store),
                      RedirectStates(store, settings.redirect_state_ttl), sqlite=store, clients=SqliteMachineClients(store),
                      signing_keys=SqliteSigningKeys(store), roles=SqliteRoles(store))
    finally:
        await store.close()


@dataclass
class SharedState:
    """State every node must agree on: the Write-User limit and api.cache (in this process for
    one node, in Redis for several), and flow invalidations (broadcast through Redis)."""

    limiter: Any
    cache: Any


@contextlib.asynccontextmanager
async def open_shared_state(settings: Settings, flows: FlowCache) -> AsyncIterator[SharedState]:
    limit = settings.write_limit()
    if not settings.redis_url:
        yield SharedState(TokenBucketLimiter(*limit) if limit else NoWriteLimit(), ActionCache())
        return
    import redis.asyncio as aioredis

    from .flows.invalidation import RedisInvalidation
    from .flows.redis_action_cache import RedisActionCache
    from .profiles.redis_rate_limit import RedisTokenBucketLimiter

    # a bounded pool that waits for a free connection rather than failing under a burst
    client = aioredis.Redis(connection_pool=aioredis.BlockingConnectionPool.from_url(
        settings.redis_url, max_connections=64, timeout=10))
    await client.ping()
    invalidation = RedisInvalidation(client, flows.invalidate_local)
    await invalidation.start()
    flows.broadcast = invalidation.publish
    flows.max_age = FLOW_MAX_AGE_SHARED
    try:
        yield SharedState(RedisTokenBucketLimiter(client, *limit) if limit else NoWriteLimit(),
                          RedisActionCache(client))
    finally:
        await invalidation.close()
        await client.aclose()


def build_app(settings: Settings, sandbox_settings: SupervisorSettings | None = None) -> web.Application:
    # bodies are inflated by http/body.py, which bounds the inflated size and answers 4xx; the
    # parser's own line limits are raised so that http/limits.py can refuse long URLs and headers
    # with a JSON answer (beyond these, aiohttp answers a plain-text 400 itself)
    app = web.Application(client_max_size=settings.max_body, handler_args={
        "auto_decompress": False, "max_line_size": PARSER_LINE_LIMIT, "max_field_size": PARSER_LINE_LIMIT})
    app[SETTINGS] = settings
    app[METRICS] = Metrics()

    async def resources(app: web.Application) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            backend = await stack.enter_async_context(open_backend(settings))
            generated = await bootstrap_admin_token(backend.tokens, settings)
            if generated:
                print(f"actionhost: admin token for tenant '{DEFAULT_TENANT}' (shown once; also in "
                      f"{settings.data_dir / ADMIN_TOKEN_FILE}):\n{generated}", flush=True)
            # actions' npm packages, unpacked once per node; the executors read them from there
            package_root = (settings.data_dir / NPM_CACHE_DIR).resolve()
            package_root.mkdir(parents=True, exist_ok=True)
            sandbox = Sandbox(dataclasses.replace(sandbox_settings or SupervisorSettings(
                executors=settings.executors or (os.cpu_count() or 1),
                max_isolates=settings.max_isolates,
                rss_limit=settings.executor_rss_limit_mb * 2**20,
                limits=SandboxLimits(),
                egress=settings.egress,
            ), package_root=str(package_root)))
            await sandbox.start()
            stack.push_async_callback(sandbox.close)
            repo = backend.repository
            box = SecretBox(load_key(settings.secret_key, settings.data_dir))
            limits = model.Limits(script_max_bytes=settings.script_max_bytes, max_secrets=settings.max_secrets,
                                  max_bindings=settings.max_bindings)
            service: ActionService
            builds = DependencyBuilds(repo, PackageCache(package_root), settings.npm, settings.npm_limits)
            stack.push_async_callback(builds.close)
            flows = FlowCache(repo, sandbox, lambda t, a, s: service.open_secrets(t, a, s), packages=builds.packages)
            service = ActionService(repo, sandbox, box, flows, limits, settings.execution_budget, builds)
            await builds.resume()
            builds.start_pruning()
            shared = await stack.enter_async_context(open_shared_state(settings, flows))
            remote: RemoteProfiles | None = None
            if settings.profile_store:
                remote = RemoteProfiles(settings.profile_store, settings.profile_store_token or "",
                                        timeout=settings.profile_store_timeout,
                                        max_response=settings.profile_store_max_response)
                await remote.open()
                stack.push_async_callback(remote.close)
            writer = ProfileWriter(remote or backend.profiles, shared.limiter)
            log = ExecutionLog(repo, settings.executions_kept_days)
            log.start()
            stack.push_async_callback(log.close)
            app[SANDBOX] = sandbox
            app[REPOSITORY] = repo
            app[ACTIONS] = service
            app[PROFILES] = backend.profiles
            app[TOKENS] = backend.tokens
            app[TOKEN_CACHE] = TokenCache(backend.tokens)
            clients = ClientDirectory(backend.clients)
            keyring = Keyring(backend.signing_keys, box)
            app[CLIENTS] = clients
            app[KEYRING] = keyring
            app[ACCESS_TOKENS] = AccessTokenVerifier(keyring, clients.current, settings.token_audiences)
            app[ROLES] = backend.roles
            app[LIMITER] = shared.limiter
            app[WRITER] = writer
            app[LOGIN_ROLES] = LoginRoles(backend.roles)
            app[TRIGGERS] = TriggerRunner(sandbox, flows, writer, shared.cache, backend.states, log,
                                          settings.execution_budget, app[METRICS], roles=app[LOGIN_ROLES])
            app[METRICS].watch(RuntimeCollector(sandbox, writer, log, backend.sqlite))
            app[METRICS].watch(WriterCollector(writer))
            # what exists now lives as long as the server: out of the cycle collector's way, so
            # its full collections walk only what requests create (measured under the
            # benchmark: longest full collection 34-57 ms before, 8-11 ms after)
            gc.collect()
            gc.freeze()
            # a request's garbage is freed by reference counting; what the collector finds is
            # rare. At the default threshold (700) it ran ~30 times a second under the
            # benchmark's half load (young collections 0.24-0.36 ms each, middle ones 1.5-2.3
            # ms, ~2% of the front end's time, each a pause of every request in flight)
            gc.set_threshold(GC_YOUNG_THRESHOLD, 10, 10)
            yield

    app.cleanup_ctx.append(resources)
    app.middlewares.append(error_middleware)
    app.middlewares.append(request_size_middleware)
    app.middlewares.append(auth_middleware)
    quiet_client_errors()
    answer_parser_errors_without_echo()
    app.on_response_prepare.append(add_security_headers)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_handler)
    app.router.add_routes(actions_http.routes)
    app.router.add_routes(compat_http.routes)
    app.router.add_routes(openapi_http.routes)
    app.router.add_routes(users_http.routes)
    app.router.add_routes(roles_http.routes)
    app.router.add_routes(clients_http.routes)
    app.router.add_routes(oauth_http.routes)
    app.router.add_routes(triggers_http.routes)
    return app


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})

"""Every knob of `actionhost serve`, from flags with ACTIONHOST_<FLAG> environment twins."""

from __future__ import annotations

import argparse
import os
import re
import ssl
from dataclasses import dataclass, field
from pathlib import Path

from sandbox.egress import EgressConfig, PatternError, Policy, parse_size

from .npm import NpmLimits, RegistryConfig, check_registry_url


@dataclass
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path("./actionhost-data")
    admin_token: str | None = None
    secret_key: str | None = None
    executors: int = 0  # 0: one per core
    execution_budget: float = 20.0
    # the Write-User limit; None: REMOTE_WRITE_LIMIT with --profile-store or --database-url, no
    # limit on the embedded SQLite store (it protects a store other than ours)
    write_rate: float | None = None
    write_burst: int | None = None
    max_body: int = 1024 * 1024
    script_max_bytes: int = 100 * 1000
    max_bindings: int = 20
    max_secrets: int = 30
    executions_kept_days: int = 10
    max_isolates: int = 256
    executor_rss_limit_mb: int = 1024
    redirect_state_ttl: float = 15 * 60.0
    database_url: str | None = None  # postgresql://...: several nodes share it; None: SQLite
    redis_url: str | None = None  # redis://...: shared rate limit, api.cache, invalidations
    profile_store: str | None = None  # base URL of a Management-API user service; None: SQLite
    profile_store_token: str | None = None
    profile_store_timeout: float = 5.0  # seconds per request to the profile store (within the budget)
    profile_store_max_response: int = 1024 * 1024  # bytes of one answer of the profile store read at most
    tls_cert: Path | None = None  # both set: serve HTTPS (TLS 1.2+)
    tls_key: Path | None = None
    egress: EgressConfig = field(default_factory=EgressConfig)  # actions' outbound requests
    # the audiences POST /oauth/token grants and the Management API accepts in access tokens
    # (https://host/api/v2/); empty: the one of the host each request came to
    token_audiences: tuple[str, ...] = ()
    access_token_ttl: int = 86400  # seconds an access token of /oauth/token is valid (Auth0's default)
    npm: RegistryConfig = field(default_factory=RegistryConfig)  # where actions' npm dependencies come from
    npm_limits: NpmLimits = field(default_factory=NpmLimits)

    def write_limit(self) -> tuple[float, int] | None:
        """(writes per second, burst) of the Write-User limit, or None for no limit."""
        if self.write_rate is None and self.write_burst is None and not (self.profile_store or self.database_url):
            return None
        rate, burst = REMOTE_WRITE_LIMIT
        return (self.write_rate if self.write_rate is not None else rate,
                self.write_burst if self.write_burst is not None else burst)


REMOTE_WRITE_LIMIT = (50.0, 100)  # Write-User default in front of a remote store or PostgreSQL


def _env(name: str) -> str | None:
    return os.environ.get("ACTIONHOST_" + name.upper().replace("-", "_"))


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of `serve`; each defaults to its ACTIONHOST_* twin, then to Settings' default."""
    d = Settings()

    def flag(name: str, kind: type, default: object, help: str) -> None:
        env = _env(name)
        parser.add_argument("--" + name, type=kind, default=kind(env) if env is not None else default,
                            help=f"{help} (env ACTIONHOST_{name.upper().replace('-', '_')}; default {default})")

    flag("host", str, d.host, "address to listen on")
    flag("port", int, d.port, "port to listen on")
    flag("data-dir", Path, d.data_dir, "directory of the SQLite database, the secret key and the admin token")
    flag("executors", int, d.executors, "V8 executor processes (0: one per core)")
    flag("execution-budget", float, d.execution_budget, "wall-time budget of one trigger execution, seconds")
    flag("write-rate", float, d.write_rate, "Write-User rate limit per tenant, writes per second (None: 50 with "
         "--profile-store or --database-url, no limit on the embedded store)")
    flag("write-burst", int, d.write_burst, "Write-User burst per tenant (None: 100 when a limit applies)")
    flag("max-isolates", int, d.max_isolates, "warm isolates kept per executor")
    flag("executor-rss-limit-mb", int, d.executor_rss_limit_mb, "RSS above which an executor is replaced, MiB")
    flag("redirect-state-ttl", float, d.redirect_state_ttl, "seconds a redirect's state stays valid for /continue")
    flag("database-url", str, None, "PostgreSQL for actions, executions and profiles, shared by several nodes "
         "(postgresql://...); without it, SQLite in the data dir")
    flag("redis-url", str, None, "Redis for the Write-User limit, api.cache and flow invalidation shared by "
         "several nodes (redis://...); without it, in this process")
    flag("profile-store", str, None, "base URL of a Management API (Auth0, another actionhost) that keeps the user "
         "profiles; its token comes from ACTIONHOST_PROFILE_STORE_TOKEN")
    flag("profile-store-timeout", float, d.profile_store_timeout, "seconds one request to --profile-store may take "
         "(a retry after it still has to fit the execution budget)")
    flag("profile-store-max-response", parse_size, "1MiB", "bytes of one answer of --profile-store read at most; "
         "a longer one is cut there and is a failed attempt")
    flag("tls-cert", Path, None, "PEM certificate chain: with --tls-key, serve HTTPS (TLS 1.2+)")
    flag("tls-key", Path, None, "PEM private key of --tls-cert")
    parser.add_argument("--token-audience", action="append", default=None, metavar="URL",
                        help="audience of the Management API in access tokens, e.g. https://actions.example.com/api/v2/ "
                             "(repeatable; env ACTIONHOST_TOKEN_AUDIENCE, comma-separated; default: https://<the "
                             "request's Host>/api/v2/)")
    flag("access-token-ttl", int, d.access_token_ttl, "seconds an access token of POST /oauth/token is valid")
    add_egress_arguments(parser)
    add_npm_arguments(parser)


def _group_flag(group: argparse._ArgumentGroup, name: str, kind: object, default: object, help: str,
                metavar: str | None) -> None:
    """--NAME in `group`, defaulting to its ACTIONHOST_* twin, then to `default`."""
    env = _env(name)
    group.add_argument("--" + name, type=kind, default=kind(env) if env is not None else default, metavar=metavar,
                       help=f"{help} (env ACTIONHOST_{name.upper().replace('-', '_')}; default {default})")


def add_npm_arguments(parser: argparse.ArgumentParser) -> None:
    """Where actions' npm dependencies are fetched from when an action is built, and how large
    an action's tree may be; the registry's token comes from ACTIONHOST_NPM_TOKEN."""
    registry, limits = RegistryConfig(), NpmLimits()
    group = parser.add_argument_group("npm dependencies of actions")

    def flag(name: str, kind: object, default: object, help: str, metavar: str | None = None) -> None:
        _group_flag(group, name, kind, default, help, metavar)

    flag("npm-registry", str, registry.url, "npm registry (or mirror) actions' dependencies are fetched from at "
         "build time; its token comes from ACTIONHOST_NPM_TOKEN", "URL")
    flag("npm-max-tree-size", parse_size, "256MiB", "unpacked size of one action's dependency tree")
    flag("npm-max-files", int, limits.tree_max_files, "files in one action's dependency tree")
    flag("npm-max-packages", int, limits.max_packages, "packages in one action's dependency tree")


def npm_from_args(args: argparse.Namespace) -> tuple[RegistryConfig, NpmLimits]:
    url = check_registry_url(args.npm_registry)
    size = args.npm_max_tree_size if isinstance(args.npm_max_tree_size, int) else parse_size(str(args.npm_max_tree_size))
    for name, value in (("--npm-max-tree-size", size), ("--npm-max-files", args.npm_max_files),
                        ("--npm-max-packages", args.npm_max_packages)):
        if value < 1:
            raise ValueError(f"{name} {value}: must be at least 1")
    return (RegistryConfig(url=url, token=os.environ.get("ACTIONHOST_NPM_TOKEN") or None),
            NpmLimits(tree_max_bytes=size, tree_max_files=args.npm_max_files, max_packages=args.npm_max_packages))


def add_egress_arguments(parser: argparse.ArgumentParser) -> None:
    """The egress flags (what actions' outbound requests may reach), shared by `serve` and
    `run`; each defaults to its ACTIONHOST_EGRESS_* twin (lists: comma- or space-separated)."""
    d = EgressConfig()
    group = parser.add_argument_group("outbound requests of actions (egress)")

    def listed(name: str, metavar: str, help: str) -> None:
        env = "ACTIONHOST_" + name.upper().replace("-", "_")
        group.add_argument("--" + name, action="append", default=None, metavar=metavar,
                           help=f"{help} (repeatable; env {env}, comma-separated)")

    def flag(name: str, kind: object, default: object, help: str, metavar: str | None = None) -> None:
        _group_flag(group, name, kind, default, help, metavar)

    listed("egress-allow", "PATTERN", "let hosts matching PATTERN (host, *.domain, IP or CIDR) reach private "
           "addresses, which are refused by default")
    listed("egress-deny", "PATTERN", "refuse hosts or addresses matching PATTERN, whatever else allows them "
           "('*': no outbound requests at all)")
    listed("egress-resolve", "PATTERN=ADDRESS:PORT", "connect requests to matching hosts to ADDRESS:PORT (like "
           "curl --resolve), keeping the URL's host for TLS and Host; allowed even to a private address")
    flag("egress-ca-file", str, None, "PEM file of extra CA certificates trusted for outbound TLS", "PEM")
    flag("egress-proxy", str, None, "HTTP proxy for outbound requests (http://host:port); else HTTPS_PROXY/"
         "HTTP_PROXY, with NO_PROXY", "URL")
    flag("egress-max-concurrent", int, d.max_concurrent, "requests one execution may have in flight (more wait)")
    flag("egress-max-requests", int, d.max_requests, "requests one execution may make")
    flag("egress-max-response-bytes", parse_size, "10MiB", "response body cap per request (cut off beyond)")
    flag("egress-max-request-bytes", parse_size, "10MiB", "request body cap per request")


def egress_from_args(args: argparse.Namespace) -> EgressConfig:
    """The egress configuration of the flags, their environment twins and the proxy variables;
    ValueError naming the flag when one cannot be used."""

    def listed(name: str) -> list[str]:
        given = getattr(args, name.replace("-", "_"))
        if given is None:
            given = [_env(name) or ""]
        return [item for entry in given for item in re.split(r"[\s,]+", entry) if item]

    def size(value: object) -> int:
        return value if isinstance(value, int) else parse_size(str(value))

    config = EgressConfig(
        allow=listed("egress-allow"), deny=listed("egress-deny"), resolve=listed("egress-resolve"),
        ca_file=args.egress_ca_file or None, proxy=args.egress_proxy or None,
        max_concurrent=args.egress_max_concurrent, max_requests=args.egress_max_requests,
        max_response_bytes=size(args.egress_max_response_bytes), max_request_bytes=size(args.egress_max_request_bytes),
    ).with_environment_proxies()
    try:
        Policy(config)
    except PatternError as exc:
        raise ValueError(str(exc)) from None
    for name, value in (("--egress-max-concurrent", config.max_concurrent), ("--egress-max-requests", config.max_requests)):
        if value < 1:
            raise ValueError(f"{name} {value}: must be at least 1")
    if config.ca_file:
        try:
            ssl.create_default_context().load_verify_locations(config.ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise ValueError(f"--egress-ca-file {config.ca_file}: cannot load CA certificates: {exc}") from None
    return config


def token_audiences_from_args(args: argparse.Namespace) -> tuple[str, ...]:
    given = args.token_audience if args.token_audience is not None else [_env("token-audience") or ""]
    audiences = tuple(dict.fromkeys(a for entry in given for a in re.split(r"[\s,]+", entry) if a))
    for audience in audiences:
        scheme, _, rest = audience.partition("://")
        if scheme not in ("http", "https") or not rest.split("/", 1)[0]:
            raise ValueError(f"--token-audience {audience}: must be an http(s) URL, e.g. https://actions.example.com/api/v2/")
    return audiences


def _profile_store_max_response(value: object) -> int:
    size = value if isinstance(value, int) else parse_size(str(value))
    if size < 1024:
        raise ValueError(f"--profile-store-max-response {value}: must be at least 1KiB (a user profile is a few kB)")
    return size


def settings_from_args(args: argparse.Namespace) -> Settings:
    if args.access_token_ttl < 1:
        raise ValueError(f"--access-token-ttl {args.access_token_ttl}: must be at least 1")
    npm = npm_from_args(args)
    return Settings(
        host=args.host,
        port=args.port,
        data_dir=args.data_dir,
        admin_token=os.environ.get("ACTIONHOST_ADMIN_TOKEN") or None,
        secret_key=os.environ.get("ACTIONHOST_SECRET_KEY") or None,
        executors=args.executors,
        execution_budget=args.execution_budget,
        write_rate=args.write_rate,
        write_burst=args.write_burst,
        max_isolates=args.max_isolates,
        executor_rss_limit_mb=args.executor_rss_limit_mb,
        redirect_state_ttl=args.redirect_state_ttl,
        database_url=args.database_url or None,
        redis_url=args.redis_url or None,
        profile_store=args.profile_store or None,
        profile_store_token=os.environ.get("ACTIONHOST_PROFILE_STORE_TOKEN") or None,
        profile_store_timeout=args.profile_store_timeout,
        profile_store_max_response=_profile_store_max_response(args.profile_store_max_response),
        tls_cert=args.tls_cert or None,
        tls_key=args.tls_key or None,
        egress=egress_from_args(args),
        token_audiences=token_audiences_from_args(args),
        access_token_ttl=args.access_token_ttl,
        npm=npm[0],
        npm_limits=npm[1],
    )


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    """The server's TLS context when --tls-cert and --tls-key are both set (TLS 1.2 or later);
    None for plain HTTP. ValueError, saying which file is wrong, on a bad pair."""
    if settings.tls_cert is None and settings.tls_key is None:
        return None
    if settings.tls_cert is None or settings.tls_key is None:
        raise ValueError("--tls-cert and --tls-key go together (ACTIONHOST_TLS_CERT, ACTIONHOST_TLS_KEY)")
    for what, path in (("--tls-cert", settings.tls_cert), ("--tls-key", settings.tls_key)):
        if not path.is_file():
            raise ValueError(f"{what} {path}: no such file")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(settings.tls_cert, settings.tls_key)
    except (ssl.SSLError, OSError) as exc:
        raise ValueError(f"cannot load the certificate {settings.tls_cert} with the key {settings.tls_key}: {exc}") from None
    return context

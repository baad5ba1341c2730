"""`actionhost` command line: serve, tokens, tenants, clients."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from .settings import (Settings, add_egress_arguments, add_npm_arguments, add_serve_arguments, egress_from_args,
                       npm_from_args, settings_from_args, tls_context)

TENANT_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="actionhost",
        description="Run Auth0-compatible JavaScript Actions in V8 isolates.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the server (Management API, trigger API) on the embedded SQLite store")
    add_serve_arguments(serve)

    data_dir_default = Path(os.environ.get("ACTIONHOST_DATA_DIR", Settings().data_dir))
    tokens = sub.add_parser("tokens", help="manage API tokens")
    tokens_sub = tokens.add_subparsers(dest="tokens_command", metavar="ACTION", required=True)
    create = tokens_sub.add_parser("create", help="create a token and print it (once)")
    create.add_argument("--scopes", required=True, help="space- or comma-separated scopes, e.g. 'read:actions execute:triggers'")
    create.add_argument("--tenant", default="default")
    create.add_argument("--description", default="")
    create.add_argument("--data-dir", type=Path, default=data_dir_default)

    tenants = sub.add_parser("tenants", help="manage tenants")
    tenants_sub = tenants.add_subparsers(dest="tenants_command", metavar="ACTION", required=True)
    tenant_create = tenants_sub.add_parser("create", help="create a tenant and print its admin token (once)")
    tenant_create.add_argument("name")
    tenant_create.add_argument("--data-dir", type=Path, default=data_dir_default)

    clients = sub.add_parser("clients", help="manage machine clients (client credentials for POST /oauth/token)",
                             description="Machine clients of the store `serve` uses: SQLite in --data-dir, or PostgreSQL "
                                         "with --database-url / ACTIONHOST_DATABASE_URL.")
    clients_sub = clients.add_subparsers(dest="clients_command", metavar="ACTION", required=True)
    client_create = clients_sub.add_parser("create", help="create a client and print its client_id and client_secret "
                                                          "(the secret once)")
    client_create.add_argument("--name", required=True)
    client_create.add_argument("--scopes", required=True, help="space- or comma-separated scopes its tokens may have, "
                                                               "e.g. 'read:users update:users'")
    client_create.add_argument("--tenant", default="default")
    client_list = clients_sub.add_parser("list", help="list a tenant's clients: client_id, name, scopes")
    client_list.add_argument("--tenant", default="default")
    client_delete = clients_sub.add_parser("delete", help="delete a client; its tokens stop working within seconds")
    client_delete.add_argument("client_id")
    for p in (client_create, client_list, client_delete):
        p.add_argument("--data-dir", type=Path, default=data_dir_default)
        p.add_argument("--database-url", default=os.environ.get("ACTIONHOST_DATABASE_URL") or None,
                       help="PostgreSQL of a scale-out deployment (env ACTIONHOST_DATABASE_URL)")

    run = sub.add_parser("run", help="run action files as one flow, locally, and print what they did",
                         description="Run ACTION.js files (in order) as one post-login flow in the same sandbox and "
                                     "runtime the server uses. Exit status: 0 allowed, 1 denied or failed, 2 bad input.")
    run.add_argument("files", nargs="*", metavar="ACTION.js")
    run.add_argument("--event", help="the event as JSON (a file, or - for stdin)")
    run.add_argument("--sample-event", action="store_true", help="print a realistic post-login event and exit")
    run.add_argument("--user-store", metavar="DIR", help="keep user profiles in DIR between runs (default: forget them)")
    run.add_argument("--secret", action="append", default=[], metavar="NAME=VALUE", help="a secret for event.secrets (repeatable)")
    run.add_argument("--trigger", default="post-login")
    run.add_argument("--json", action="store_true", help="print the trigger API's JSON response")
    run.add_argument("--watch", action="store_true", help="run again whenever a file changes")
    run.add_argument("--budget", type=float, default=20.0, help="seconds the execution may take")
    run.add_argument("--dependency", action="append", default=[], metavar="NAME@VERSION",
                     help="an npm package the actions require, as in the action's dependencies (repeatable; "
                          "NAME alone means NAME@latest); installed from --npm-registry into --npm-cache before the run")
    run.add_argument("--npm-cache", type=Path, default=Path(os.environ.get("ACTIONHOST_NPM_CACHE") or
                                                           Path.home() / ".cache" / "actionhost" / "npm"),
                     help="where packages are unpacked (env ACTIONHOST_NPM_CACHE; default ~/.cache/actionhost/npm)")
    add_egress_arguments(run)
    add_npm_arguments(run)

    deploy = sub.add_parser("deploy", help="create/update, deploy and bind the actions of an auth0-deploy-cli directory on a server",
                            description="Apply DIR (auth0-deploy-cli's directory layout: actions/NAME.json + actions/NAME/code.js, "
                                        "triggers/triggers.json) to a server through the Management API, changing only what "
                                        "differs; prints one line per action and trigger. Exit status: 0 done, 1 the server "
                                        "refused or could not be reached, 2 bad input.")
    export = sub.add_parser("export", help="write a server's actions and trigger bindings as an auth0-deploy-cli directory",
                            description="Write the actions (draft code) and trigger bindings of a server into DIR in "
                                        "auth0-deploy-cli's directory layout; secret values are not exported (names only).")
    from .local.deploy_dir import add_arguments as add_deploy_dir_arguments

    add_deploy_dir_arguments(deploy, export)

    sub.add_parser("types", help="print the typings of event and api (actions.d.ts) for your editor")
    sub.add_parser("version", help="print the version")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "serve":
        try:
            settings = settings_from_args(args)
        except ValueError as exc:
            print(f"actionhost serve: {exc}", file=sys.stderr)
            return 2
        return serve(settings)
    if args.command == "tokens":
        return asyncio.run(create_token(args))
    if args.command == "tenants":
        return asyncio.run(create_tenant(args))
    if args.command == "clients":
        return asyncio.run(manage_clients(args))
    if args.command == "run":
        return run_actions(args, parser)
    if args.command in ("deploy", "export"):
        from .local import deploy_dir

        return deploy_dir.main(args)
    if args.command == "types":
        from .http.actions import typings_text

        print(typings_text(), end="")
        return 0
    if args.command == "version":
        from importlib.metadata import version

        print(version("actionhost"))
        return 0
    parser.print_help()
    return 0


def run_actions(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from .local import run

    if args.sample_event:
        print(run.sample_event(), end="")
        return 0
    if not args.files or not args.event:
        print("actionhost run: give ACTION.js file(s) and --event EVENT.json "
              "(a sample: actionhost run --sample-event > event.json)", file=sys.stderr)
        return run.EXIT_BAD_INPUT
    try:
        egress = egress_from_args(args)
        registry, limits = npm_from_args(args)
        dependencies = run.parse_dependencies(args.dependency)
    except (ValueError, run.BadInput) as exc:
        print(f"actionhost run: {exc}", file=sys.stderr)
        return run.EXIT_BAD_INPUT
    try:
        return asyncio.run(run.main(args.files, args.event, args.secret, args.trigger, args.user_store,
                                    args.json, args.watch, args.budget, egress,
                                    run.Packages(dependencies, args.npm_cache, registry, limits)))
    except KeyboardInterrupt:
        return 0


def serve(settings: Settings) -> int:
    from aiohttp import web

    from .app import build_app

    try:
        ssl_context = tls_context(settings)
    except ValueError as exc:
        print(f"actionhost serve: {exc}", file=sys.stderr)
        return 2
    sys.setswitchinterval(0.001)
    app = build_app(settings)
    scheme = "https" if ssl_context else "http"
    print(f"actionhost: serving on {scheme}://{settings.host}:{settings.port} (data in {settings.data_dir})", flush=True)
    try:
        import uvloop

        loop_factory = uvloop.new_event_loop
    except ImportError:  # pragma: no cover - uvloop is a pinned dependency
        loop_factory = None
    web.run_app(app, host=settings.host, port=settings.port, ssl_context=ssl_context, print=None, access_log=None,
                loop=loop_factory() if loop_factory else None)
    return 0


async def create_token(args: argparse.Namespace) -> int:
    from .app import open_store
    from .auth import TokenStore, check_scopes, new_token

    scopes = [s for s in re.split(r"[\s,]+", args.scopes) if s]
    try:
        check_scopes(scopes)
    except ValueError as exc:
        print(f"actionhost: {exc}", file=sys.stderr)
        return 2
    store = await open_store(args.data_dir)
    try:
        tokens = TokenStore(store)
        if await tokens.ensure_tenant(args.tenant) and args.tenant != "default":
            print(f"actionhost: created tenant '{args.tenant}'", file=sys.stderr)
        token = new_token()
        await tokens.add(args.tenant, token, scopes, args.description)
    finally:
        await store.close()
    print(token)
    return 0


async def create_tenant(args: argparse.Namespace) -> int:
    from .app import open_store
    from .auth import SCOPES, TokenStore, new_token

    if not TENANT_NAME.match(args.name):
        print("actionhost: a tenant name is 1-63 lowercase letters, digits and '-'", file=sys.stderr)
        return 2
    store = await open_store(args.data_dir)
    try:
        tokens = TokenStore(store)
        if not await tokens.ensure_tenant(args.name):
            print(f"actionhost: tenant '{args.name}' already exists", file=sys.stderr)
            return 1
        token = new_token()
        await tokens.add(args.name, token, list(SCOPES), "admin")
    finally:
        await store.close()
    print(token)
    return 0


@contextlib.asynccontextmanager
async def open_client_store(args: argparse.Namespace) -> AsyncIterator[tuple[Any, Any]]:
    """(machine clients, tokens and tenants) of the store `serve` would use with these flags."""
    if args.database_url:
        from .postgres_tokens import PostgresTokenStore
        from .store.postgres import PostgresStore
        from .store.postgres_machine_clients import PostgresMachineClients

        pg = PostgresStore(args.database_url, min_size=1, max_size=2)
        await pg.open()
        try:
            yield PostgresMachineClients(pg), PostgresTokenStore(pg)
        finally:
            await pg.close()
        return
    from .app import open_store
    from .auth import TokenStore
    from .store.machine_clients import SqliteMachineClients

    store = await open_store(args.data_dir)
    try:
        yield SqliteMachineClients(store), TokenStore(store)
    finally:
        await store.close()


async def manage_clients(args: argparse.Namespace) -> int:
    from .auth import DEFAULT_TENANT, check_scopes
    from .machine_clients import ClientDirectory

    if args.clients_command == "create":
        scopes = [s for s in re.split(r"[\s,]+", args.scopes) if s]
        try:
            check_scopes(scopes)
        except ValueError as exc:
            print(f"actionhost: {exc}", file=sys.stderr)
            return 2
    async with open_client_store(args) as (store, tokens):
        if args.clients_command == "delete":
            client = await store.get(args.client_id)
            if client is None or not await store.delete(client.tenant, client.client_id):
                print(f"actionhost: no client '{args.client_id}'", file=sys.stderr)
                return 1
            print(f"deleted client {client.client_id} ({client.name}) of tenant '{client.tenant}'")
            return 0
        if args.tenant == DEFAULT_TENANT:
            await tokens.ensure_tenant(DEFAULT_TENANT)
        elif not await store.tenant_exists(args.tenant):
            print(f"actionhost: no tenant '{args.tenant}' (actionhost tenants create {args.tenant})", file=sys.stderr)
            return 1
        if args.clients_command == "list":
            page = 0
            while True:
                clients, total = await store.list_clients(args.tenant, page, 100)
                for client in clients:
                    print(f"{client.client_id}  {client.name}  {' '.join(client.scopes)}")
                page += 1
                if page * 100 >= total or not clients:
                    return 0
        client, secret = await ClientDirectory(store).create(args.tenant, args.name, scopes)
    # shell-friendly: `actionhost clients create ... > client.env` then `. ./client.env`
    print(f"client_id={client.client_id}")
    print(f"client_secret={secret}")
    print("actionhost: the client_secret is shown once; only its hash is stored", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

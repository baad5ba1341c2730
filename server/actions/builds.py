"""The builds of actions' npm dependencies: run in the background after a create or update,
their outcome stored on the draft (pending -> built | failed), resumed after a restart.

The tarballs a build fetched go into the store beside the tree, so a node that did not build
an action (PostgreSQL deployments) unpacks exactly the same files from there when a flow needs
them, and nothing is fetched from the registry while a trigger executes.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone
from typing import Any

from ..npm import BuildError, NpmLimits, PackageCache, Registry, RegistryConfig, build_tree, ensure_unpacked, manifest
from ..store.repository import Repository
from ..timeutil import now_iso

log = logging.getLogger("actionhost.builds")

BUILD_TIMEOUT = 300.0  # seconds one build may take, registry round trips included
BUILDS_AT_ONCE = 4  # builds running together on a node; more wait (each fetches 8 tarballs at once)
# tarballs and unpacked packages no tree names any more are removed once idle this long (longer
# than a build takes, so what a running build stored is never taken before its tree lands)
PRUNE_IDLE = 3600.0
PRUNE_EVERY = 3600.0


class DependencyBuilds:
    def __init__(self, repo: Repository, cache: PackageCache, registry: RegistryConfig, limits: NpmLimits) -> None:
        self._repo = repo
        self.cache = cache
        self._registry = registry
        self._limits = limits
        self._running: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._slots = asyncio.Semaphore(BUILDS_AT_ONCE)
        self._pruner: asyncio.Task[None] | None = None

    @staticmethod
    def reusable(tree: dict[str, Any] | None, dependencies: list[dict[str, str]]) -> bool:
        """Whether a draft's tree was built from these very dependencies (a code-only edit)."""
        return bool(tree) and tree["dependencies"] == dependencies  # type: ignore[index]

    def start(self, tenant: str, action_id: str, code: str, dependencies: list[dict[str, str]]) -> None:
        """Build in the background; the outcome lands only if the draft still has this code and
        these dependencies (a later edit starts its own build, and its outcome wins)."""
        key = (tenant, action_id)
        superseded = self._running.get(key)
        if superseded is not None:
            superseded.cancel()  # its outcome would be dropped anyway: the draft changed since
        task = asyncio.get_running_loop().create_task(self._build(tenant, action_id, code, dependencies))
        self._running[key] = task
        task.add_done_callback(lambda t: self._running.get(key) is t and self._running.pop(key))

    async def wait(self, tenant: str, action_id: str, timeout: float) -> None:
        """Until the build of this action running here ends, or `timeout` seconds."""
        task = self._running.get((tenant, action_id))
        if task is not None:
            await asyncio.wait([task], timeout=timeout)

    async def resume(self) -> None:
        """Start again every build a stopped server left pending."""
        for tenant, action_id in await self._repo.pending_builds():
            action = await self._repo.get_action(tenant, action_id)
            if action is not None and action["status"] == "pending":
                self.start(tenant, action_id, action["code"], action["dependencies"])

    async def packages(self, tenant: str, tree: dict[str, Any] | None) -> dict[str, Any] | None:
        """The manifest an isolate loads a tree with, its packages unpacked here first."""
        if not tree:
            return None
        await ensure_unpacked(tree, self.cache, lambda key: self._repo.get_tarball(tenant, key))
        return manifest(tree)

    def start_pruning(self) -> None:
        self._pruner = asyncio.get_running_loop().create_task(self._prune_forever())

    async def prune(self, idle: float = PRUNE_IDLE) -> tuple[int, int]:
        """(tarballs deleted from the store, packages removed from this node's cache)."""
        cutoff = datetime.now(timezone.utc) - timedelta(seconds=idle)
        tarballs = await self._repo.prune_tarballs(cutoff.isoformat(timespec="milliseconds").replace("+00:00", "Z"))
        packages = await asyncio.to_thread(self.cache.sweep, await self._repo.tarball_keys_in_use(), idle)
        if tarballs or packages:
            log.info("npm cleanup: %d stored tarballs and %d cached packages no tree uses", tarballs, packages)
        return tarballs, packages

    async def _prune_forever(self) -> None:
        while True:
            try:
                await self.prune()
            except Exception:  # noqa: BLE001 - the next round tries again
                log.exception("npm cleanup failed")
            await asyncio.sleep(PRUNE_EVERY)

    async def close(self) -> None:
        if self._pruner is not None:
            self._pruner.cancel()
        for task in list(self._running.values()):
            task.cancel()
        await asyncio.gather(*self._running.values(), return_exceptions=True)

    async def _build(self, tenant: str, action_id: str, code: str, dependencies: list[dict[str, str]]) -> None:
        async with self._slots:
            outcome = await self._install(tenant, dependencies, action_id)
        try:
            await self._repo.finish_build(tenant, action_id, code, dependencies, outcome)
        except Exception:  # noqa: BLE001 - the draft stays pending; the next start builds it again
            log.exception("the outcome of the npm build of action %s (tenant %s) could not be stored", action_id, tenant)

    async def _install(self, tenant: str, dependencies: list[dict[str, str]], action_id: str) -> dict[str, Any]:
        try:
            async with Registry(self._registry) as registry:
                tree = await asyncio.wait_for(build_tree(dependencies, registry, self.cache, self._limits), BUILD_TIMEOUT)
            stored = []
            for package in tree["packages"].values():
                data = self.cache.tarball(package["key"])
                if data is None:
                    raise BuildError("package_missing", f"The tarball of {package['name']}@{package['version']} left the cache.")
                stored.append(self._repo.put_tarball(tenant, package["key"], data))
            # together: the store's writer commits them as one group (one by one, 26 tarballs
            # took ~1 s of commits on SQLite)
            await asyncio.gather(*stored)
            outcome: dict[str, Any] = {"status": "built", "errors": [], "tree": tree}
        except BuildError as exc:
            outcome = {"status": "failed", "errors": [exc.entry()], "tree": None}
        except asyncio.TimeoutError:
            outcome = {"status": "failed", "errors": [BuildError(
                "build_timeout", f"Installing the dependencies took longer than {BUILD_TIMEOUT:.0f} s.").entry()], "tree": None}
        except asyncio.CancelledError:
            raise  # the server is stopping: the draft stays pending and the build resumes at start
        except Exception:  # noqa: BLE001 - reported on the action, and the details logged
            log.exception("the npm build of action %s (tenant %s) failed", action_id, tenant)
            outcome = {"status": "failed", "errors": [BuildError(
                "build_error", "Installing the dependencies failed on the server; see its log.").entry()], "tree": None}
        outcome["built_at"] = now_iso()
        return outcome

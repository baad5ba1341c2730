"""An action's declared npm dependencies made into the tree `require` loads: resolved, fetched,
checked and unpacked when the action is built (never while a trigger executes).

Resolution follows npm's: a declared dependency is taken at the version given (exact, a range,
or a dist-tag such as `latest`), a transitive one at the highest version its range allows
(npm's preference for the `latest` tag when it satisfies included), and each is placed as high
in the `node_modules` hierarchy as it can be without shadowing another: deduplicated like npm,
nested under its dependent where two versions are needed. Optional dependencies that do not
resolve, or are for another platform, or need an install script, are left out, as npm leaves
out the ones that fail; peer dependencies are installed beside their dependent, as npm 7+ does.

The tree records every package's install path, exact version, integrity, tarball key and files;
a version pins it, so a rollback loads exactly what was deployed then.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import platform
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import nodesemver

from .cache import Budget, NpmLimits, PackageCache, is_key, tarball_key
from .errors import BuildError
from .registry import Registry

MAX_DECLARED = 100  # dependencies one action may declare

TREE_FORMAT = 1
FETCHES = 8  # tarballs fetched at once
_ARCH = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine().lower(), platform.machine())


@dataclass
class _Package:
    path: str
    name: str
    version: str
    meta: dict[str, Any]
    optional: bool
    files: list[str] = field(default_factory=list)
    key: str = ""


async def build_tree(dependencies: list[dict[str, str]], registry: Registry, cache: PackageCache,
                     limits: NpmLimits) -> dict[str, Any]:
    """The tree of `dependencies` ([{name, version}], Auth0's shape), every package unpacked in
    `cache`; BuildError saying what is wrong otherwise."""
    placed = await _resolve(dependencies, registry, limits)
    budget = Budget(limits)
    gate = asyncio.Semaphore(FETCHES)

    async def fetch(package: _Package) -> None:
        async with gate:
            await _fetch(package, registry, cache, budget)

    await _all([fetch(p) for p in placed.values()])
    for path, package in list(placed.items()):
        if package.optional and package.key == "":
            del placed[path]  # an optional package that could not be unpacked is left out
    return {
        "lockfileVersion": TREE_FORMAT,
        "dependencies": dependencies,
        "packages": {path: {
            "name": p.name, "version": p.version,
            "integrity": p.meta.get("dist", {}).get("integrity") or p.meta.get("dist", {}).get("shasum", ""),
            "resolved": p.meta.get("dist", {}).get("tarball", ""),
            "key": p.key,
            "dependencies": _edges(p.meta, "dependencies"),
            "files": p.files,
        } for path, p in sorted(placed.items())},
        "size": budget.bytes,
        "file_count": budget.files,
    }


def manifest(tree: dict[str, Any] | None) -> dict[str, dict[str, Any]] | None:
    """What the isolate's loader gets (runtime_js/lazy/cjs.js): install path -> key and files."""
    if not tree:
        return None
    return {path: {"key": p["key"], "files": p["files"]} for path, p in tree["packages"].items()}


async def ensure_unpacked(tree: dict[str, Any], cache: PackageCache, stored_tarball: Any) -> None:
    """Every package of a built tree present in this node's cache, from the tarballs the build
    kept in the store (`stored_tarball(key) -> bytes | None`): a node that did not build the
    action gets the same files, and nothing is fetched from the registry here."""
    for path, package in tree["packages"].items():
        key = package["key"]
        if cache.has(key):
            continue
        data = cache.tarball(key) or await stored_tarball(key)
        if data is None or tarball_key(data) != key:
            raise BuildError("package_missing", f"The tarball of {package['name']}@{package['version']} is missing from the store.")
        await asyncio.to_thread(cache.unpack, key, data, f"{package['name']}@{package['version']}")


# -- resolution ---------------------------------------------------------------------------

async def _resolve(dependencies: list[dict[str, str]], registry: Registry, limits: NpmLimits) -> dict[str, _Package]:
    placed: dict[str, _Package] = {}
    seen: set[str] = set()
    for dep in dependencies:
        if dep["name"] in seen:
            raise BuildError("invalid_dependency", f"The dependency '{dep['name']}' is declared more than once.")
        seen.add(dep["name"])
        check_name(dep["name"])
        registry.packument(dep["name"])  # fetched at once, all together
    edges: deque[tuple[str, str, str, bool]] = deque(("", d["name"], d["version"] or "latest", False) for d in dependencies)
    while edges:
        origin, name, spec, optional = edges.popleft()
        try:
            check_name(name)  # a packument's dependency names become install paths
        except BuildError:
            if optional:
                continue
            raise
        target = _place(placed, origin, name, spec)
        if target is None:
            continue
        try:
            meta = await _pick(registry, name, spec, declared=origin == "")
            _check_platform(name, meta)
            if optional and meta.get("hasInstallScript"):
                raise BuildError("native_addon", f"{name} has an install script")
        except BuildError:
            if optional:
                continue
            raise
        package = _Package(target, name, meta["version"], meta, optional)
        placed[target] = package
        if len(placed) > limits.max_packages:
            raise BuildError("package_too_large", f"The dependencies need more than {limits.max_packages} packages "
                                                  "(the limit of an action's npm tree).")
        queued = len(edges)
        bundled = meta.get("bundleDependencies") or meta.get("bundledDependencies") or []
        bundled = set(bundled) if isinstance(bundled, list) else set(_edges(meta, "dependencies")) if bundled is True else set()
        peer_meta = meta.get("peerDependenciesMeta") if isinstance(meta.get("peerDependenciesMeta"), dict) else {}
        optional_deps = _edges(meta, "optionalDependencies")
        for dep_name, dep_spec in sorted({**_edges(meta, "dependencies"), **optional_deps}.items()):
            if dep_name not in bundled:
                edges.append((target, dep_name, dep_spec, optional or dep_name in optional_deps))
        for dep_name, dep_spec in sorted(_edges(meta, "peerDependencies").items()):
            if not (peer_meta.get(dep_name) or {}).get("optional") and dep_name not in bundled:
                # beside the dependent, where it can see it: from the dependent's parent
                edges.append((_parent(target), dep_name, dep_spec, optional))
        for _, dep_name, _, _ in itertools.islice(edges, queued, None):
            if _valid_name(dep_name):
                registry.packument(dep_name)  # fetched while the queue ahead is resolved
    return placed


def _place(placed: dict[str, _Package], origin: str, name: str, spec: str) -> str | None:
    """Where a dependency of the package at `origin` ("" is the action) goes; None when a
    package it would find from there (as Node's lookup walks up) already satisfies it."""
    level = origin
    while True:
        found = placed.get(f"{level}/node_modules/{name}" if level else f"node_modules/{name}")
        if found is not None:
            if _satisfies(found.version, spec):
                return None
            # another version is visible from here: this one goes under its dependent, where
            # nothing else looks (placing it higher could shadow what others resolved)
            return f"{origin}/node_modules/{name}" if origin else f"node_modules/{name}"
        if not level:
            return f"node_modules/{name}"
        level = _parent(level)


def _parent(path: str) -> str:
    cut = path.rfind("/node_modules/")
    return path[:cut] if cut >= 0 else ""


def _satisfies(version: str, spec: str) -> bool:
    if spec in ("", "*", "latest"):
        return True
    try:
        return bool(nodesemver.satisfies(version, spec, loose=True))
    except Exception:  # noqa: BLE001 - a tag or an unparsable range: resolve it afresh
        return False


async def _pick(registry: Registry, name: str, spec: str, declared: bool) -> dict[str, Any]:
    if spec.startswith(("git", "http:", "https:", "file:", "link:", "npm:", "workspace:")) or "/" in spec:
        raise BuildError("invalid_dependency", f"The dependency '{name}' is given as '{spec[:200]}': only versions, "
                                               "ranges and dist-tags from the npm registry are supported.")
    doc = await registry.packument(name)
    versions: dict[str, Any] = doc["versions"]
    tags = doc.get("dist-tags") if isinstance(doc.get("dist-tags"), dict) else {}
    chosen: str | None = None
    if spec in versions:
        chosen = spec
    elif spec in tags or spec == "":
        chosen = tags.get(spec or "latest")
    else:
        latest = tags.get("latest")
        if isinstance(latest, str) and latest in versions and _satisfies(latest, spec or "*"):
            chosen = latest  # npm prefers the latest tag when the range allows it
        else:
            try:
                chosen = nodesemver.max_satisfying(list(versions), spec or "*", loose=True)
            except Exception:  # noqa: BLE001 - not a range node-semver can read
                raise BuildError("invalid_dependency", f"The version '{spec[:200]}' of '{name}' is not a version, "
                                                       "a range or a dist-tag.") from None
    if not isinstance(chosen, str) or not isinstance(versions.get(chosen), dict):
        where = "" if declared else " (needed by another package)"
        raise BuildError("no_such_version", f"No version of '{name}' matches '{spec[:200]}'{where}.")
    meta = versions[chosen]
    meta.setdefault("version", chosen)
    if not isinstance(meta.get("dist"), dict) or not isinstance(meta["dist"].get("tarball"), str):
        raise BuildError("registry_error", f"The npm registry lists {name}@{chosen} without a tarball.")
    return meta


def check_name(name: str) -> None:
    # npm's rules for a package name: at most 214 characters, URL-safe, @scope/name (upper
    # case only in old packages, which npm still installs)
    body = name[1:] if name.startswith("@") else name
    scope, _, rest = body.partition("/") if name.startswith("@") else ("", "", body)
    ok = 0 < len(name) <= 214 and all(
        part and part[0] not in "._" and all(c.isascii() and (c.isalnum() or c in "-._~") for c in part)
        for part in ([scope, rest] if name.startswith("@") else [rest]))
    if not ok:
        raise BuildError("invalid_dependency", f"'{name[:214]}' is not a valid npm package name.")


def _valid_name(name: str) -> bool:
    try:
        check_name(name)
    except BuildError:
        return False
    return True


def _check_platform(name: str, meta: dict[str, Any]) -> None:
    for field_name, ours in (("os", "linux"), ("cpu", _ARCH)):
        wanted = meta.get(field_name)
        if not isinstance(wanted, list) or not wanted:
            continue
        allowed = [w for w in wanted if isinstance(w, str) and not w.startswith("!")]
        if f"!{ours}" in wanted or (allowed and ours not in allowed):
            raise BuildError("unsupported_platform", f"{name}@{meta.get('version')} is for {field_name} "
                                                     f"{', '.join(map(str, wanted))}, not {ours}.")


def _edges(meta: dict[str, Any], kind: str) -> dict[str, str]:
    value = meta.get(kind)
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str)}


# -- fetching -----------------------------------------------------------------------------

async def _fetch(package: _Package, registry: Registry, cache: PackageCache, budget: Budget) -> None:
    what = f"{package.name}@{package.version}"
    dist = package.meta["dist"]
    try:
        known = _sha512_key(dist.get("integrity"))
        data = cache.tarball(known) if known else None
        if data is None:
            data = await registry.tarball(package.name, package.version, dist["tarball"])
            verify(data, dist, what)
        key = tarball_key(data)
        package.files = await asyncio.to_thread(cache.unpack, key, data, what, budget)
        package.key = key
    except BuildError:
        if not package.optional:
            raise


def verify(data: bytes, dist: dict[str, Any], what: str) -> None:
    """The tarball matches its `dist.integrity` (SRI, the strongest hash given), or for old
    packages without one its `dist.shasum`."""
    wanted: dict[str, str] = {}
    integrity = dist.get("integrity")
    if isinstance(integrity, str):
        for token in integrity.split():
            algorithm, _, digest = token.partition("-")
            if algorithm in ("sha512", "sha384", "sha256", "sha1"):
                wanted.setdefault(algorithm, digest.split("?")[0])
    for algorithm in ("sha512", "sha384", "sha256", "sha1"):
        if algorithm in wanted:
            actual = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
            if actual != wanted[algorithm]:
                raise BuildError("integrity_mismatch", f"The tarball of {what} does not match its integrity "
                                                       f"({algorithm}-{wanted[algorithm][:20]}...): refused.")
            return
    shasum = dist.get("shasum")
    if isinstance(shasum, str) and shasum:
        if hashlib.sha1(data).hexdigest() != shasum.lower():
            raise BuildError("integrity_mismatch", f"The tarball of {what} does not match its shasum: refused.")
        return
    raise BuildError("integrity_mismatch", f"The npm registry gives no integrity for {what}: refused.")


def _sha512_key(integrity: Any) -> str | None:
    if not isinstance(integrity, str):
        return None
    for token in integrity.split():
        if token.startswith("sha512-"):
            try:
                key = base64.b64decode(token[7:].split("?")[0], validate=True).hex()
            except ValueError:
                return None
            return key if is_key(key) else None
    return None


async def _all(jobs: list[Any]) -> None:
    """Run the jobs together; the first failure cancels the others and is raised."""
    tasks = [asyncio.ensure_future(j) for j in jobs]
    try:
        await asyncio.gather(*tasks)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

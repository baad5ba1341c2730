"""Building an action's npm tree (server/npm/) against a local registry: npm's resolution and
placement, integrity, the limits, what a hostile tarball gets, and what the cache saves."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path
from typing import Any

import pytest

from npm_registry import LocalRegistry, tarball
from server.npm import BuildError, NpmLimits, PackageCache, Registry, RegistryConfig, build_tree, ensure_unpacked, manifest
from server.npm.build import verify


@pytest.fixture
def registry():
    with LocalRegistry() as r:
        yield r


async def build(registry: LocalRegistry, cache_dir: Path, deps: dict[str, str], limits: NpmLimits = NpmLimits(),
                token: str | None = None) -> dict[str, Any]:
    async with Registry(RegistryConfig(url=registry.url, token=token, timeout=10)) as client:
        return await build_tree([{"name": n, "version": v} for n, v in deps.items()], client, PackageCache(cache_dir), limits)


async def failure(registry: LocalRegistry, cache_dir: Path, deps: dict[str, str], **kw: Any) -> BuildError:
    with pytest.raises(BuildError) as caught:
        await build(registry, cache_dir, deps, **kw)
    return caught.value


def versions(tree: dict[str, Any]) -> dict[str, str]:
    return {path: p["version"] for path, p in tree["packages"].items()}


async def test_a_declared_version_is_taken_exactly_and_its_dependencies_at_the_highest_satisfying(registry, tmp_path):
    for v in ("1.0.0", "1.4.2", "1.9.0", "2.0.0"):
        registry.publish("dep", v, {"index.js": f"module.exports = '{v}'"})
    registry.publish("dep", "1.10.0-beta.1", {"index.js": ""}, tag="next")
    registry.publish("app", "3.0.0", {"index.js": ""}, dependencies={"dep": "^1.2.0"})
    registry.publish("app", "3.1.0", {"index.js": ""}, dependencies={"dep": "^1.2.0"})
    tree = await build(registry, tmp_path, {"app": "3.0.0"})
    # latest is 2.0.0, outside ^1.2.0: the highest 1.x that is not a prerelease
    assert versions(tree) == {"node_modules/app": "3.0.0", "node_modules/dep": "1.9.0"}
    assert tree["dependencies"] == [{"name": "app", "version": "3.0.0"}]
    assert tree["packages"]["node_modules/app"]["dependencies"] == {"dep": "^1.2.0"}


async def test_latest_and_other_dist_tags_resolve_through_the_packument(registry, tmp_path):
    registry.publish("lib", "1.0.0", {"index.js": ""})
    registry.publish("lib", "2.0.0", {"index.js": ""})
    registry.publish("lib", "3.0.0-rc.1", {"index.js": ""}, tag="next")
    registry.tags["lib"]["latest"] = "1.0.0"  # latest is whatever the tag says, not the highest
    assert versions(await build(registry, tmp_path, {"lib": "latest"})) == {"node_modules/lib": "1.0.0"}
    assert versions(await build(registry, tmp_path, {"lib": "next"})) == {"node_modules/lib": "3.0.0-rc.1"}
    assert versions(await build(registry, tmp_path, {"lib": ""})) == {"node_modules/lib": "1.0.0"}


async def test_npm_prefers_the_latest_tag_when_the_range_allows_it(registry, tmp_path):
    registry.publish("lib", "1.5.0", {"index.js": ""})
    registry.publish("lib", "1.6.0", {"index.js": ""}, tag=None)  # published later, not tagged
    registry.publish("app", "1.0.0", {"index.js": ""}, dependencies={"lib": "^1.0.0"})
    assert versions(await build(registry, tmp_path, {"app": "1.0.0"}))["node_modules/lib"] == "1.5.0"


async def test_shared_dependencies_are_deduplicated_and_conflicting_ones_nested_under_their_dependent(registry, tmp_path):
    registry.publish("util", "1.2.0", {"index.js": "module.exports = 1"})
    registry.publish("util", "2.1.0", {"index.js": "module.exports = 2"})
    registry.publish("a", "1.0.0", {"index.js": ""}, dependencies={"util": "^1.0.0"})
    registry.publish("b", "1.0.0", {"index.js": ""}, dependencies={"util": "^1.1.0"})
    registry.publish("c", "1.0.0", {"index.js": ""}, dependencies={"util": "^2.0.0"})
    tree = await build(registry, tmp_path, {"a": "1.0.0", "b": "1.0.0", "c": "1.0.0"})
    assert versions(tree) == {
        "node_modules/a": "1.0.0", "node_modules/b": "1.0.0", "node_modules/c": "1.0.0",
        "node_modules/util": "1.2.0", "node_modules/c/node_modules/util": "2.1.0",
    }
    # only one tarball per version, however many dependents
    assert sorted(registry.tarball_requests()) == sorted(["-/a-1.0.0.tgz", "-/b-1.0.0.tgz", "-/c-1.0.0.tgz",
                                                          "-/util-1.2.0.tgz", "-/util-2.1.0.tgz"])


async def test_circular_dependencies_resolve_to_one_copy_of_each(registry, tmp_path):
    registry.publish("ping", "1.0.0", {"index.js": ""}, dependencies={"pong": "^1.0.0"})
    registry.publish("pong", "1.0.0", {"index.js": ""}, dependencies={"ping": "^1.0.0"})
    assert versions(await build(registry, tmp_path, {"ping": "1.0.0"})) == {"node_modules/ping": "1.0.0", "node_modules/pong": "1.0.0"}


async def test_peer_dependencies_are_installed_beside_the_dependent_and_optional_peers_are_not(registry, tmp_path):
    registry.publish("core", "4.0.0", {"index.js": ""})
    registry.publish("extra", "1.0.0", {"index.js": ""})
    registry.publish("plugin", "1.0.0", {"index.js": ""}, peerDependencies={"core": "^4.0.0", "extra": "*"},
                     peerDependenciesMeta={"extra": {"optional": True}})
    assert versions(await build(registry, tmp_path, {"plugin": "1.0.0"})) == {"node_modules/plugin": "1.0.0", "node_modules/core": "4.0.0"}


async def test_optional_dependencies_that_cannot_be_installed_are_left_out(registry, tmp_path):
    registry.publish("mac-only", "1.0.0", {"index.js": ""}, os=["darwin"])
    registry.publish("native-speedup", "1.0.0", {"index.js": "", "binding.gyp": "{}"}, hasInstallScript=True)
    registry.publish("portable", "1.0.0", {"index.js": ""})
    registry.publish("app", "1.0.0", {"index.js": ""}, optionalDependencies={
        "mac-only": "^1.0.0", "native-speedup": "^1.0.0", "missing-everywhere": "^1.0.0", "portable": "^1.0.0"})
    assert versions(await build(registry, tmp_path, {"app": "1.0.0"})) == {"node_modules/app": "1.0.0", "node_modules/portable": "1.0.0"}


async def test_the_tree_lists_every_file_and_the_cache_holds_them_under_the_tarball_key(registry, tmp_path):
    registry.publish("lib", "1.0.0", {"index.js": "module.exports = 42", "lib/util.js": "", "data/x.json": "{}"})
    tree = await build(registry, tmp_path, {"lib": "1.0.0"})
    package = tree["packages"]["node_modules/lib"]
    assert package["files"] == ["data/x.json", "index.js", "lib/util.js", "package.json"]
    assert package["integrity"].startswith("sha512-") and package["resolved"].endswith("/-/lib-1.0.0.tgz")
    assert (tmp_path / package["key"] / "index.js").read_text() == "module.exports = 42"
    assert tree["file_count"] == 4 and tree["size"] == sum((tmp_path / package["key"] / f).stat().st_size for f in package["files"])
    assert manifest(tree) == {"node_modules/lib": {"key": package["key"], "files": package["files"]}}


async def test_a_second_build_of_cached_packages_fetches_packuments_only(registry, tmp_path):
    registry.publish("lib", "1.0.0", {"index.js": ""})
    first = await build(registry, tmp_path, {"lib": "1.0.0"})
    registry.requests.clear()
    assert await build(registry, tmp_path, {"lib": "1.0.0"}) == first
    assert registry.requests == ["lib"]


async def test_unknown_packages_and_versions_fail_with_auth0_style_codes(registry, tmp_path):
    registry.publish("lib", "1.0.0", {"index.js": ""})
    registry.publish("needs-ghost", "1.0.0", {"index.js": ""}, dependencies={"lib": "^7.0.0"})
    unknown = await failure(registry, tmp_path, {"no-such-package": "1.0.0"})
    assert unknown.code == "unknown_package" and "'no-such-package' does not exist" in unknown.message
    version = await failure(registry, tmp_path, {"lib": "9.9.9"})
    assert version.code == "no_such_version" and version.message == "No version of 'lib' matches '9.9.9'."
    transitive = await failure(registry, tmp_path, {"needs-ghost": "1.0.0"})
    assert transitive.code == "no_such_version" and "(needed by another package)" in transitive.message
    assert unknown.entry() == {"id": "unknown_package", "msg": unknown.message, "url": ""}


@pytest.mark.parametrize("spec", ["git+https://github.com/x/y.git", "file:../lib", "github:x/y", "npm:other@1", "x/y"])
async def test_dependencies_not_from_the_registry_are_refused(registry, tmp_path, spec):
    registry.publish("lib", "1.0.0", {"index.js": ""})
    assert (await failure(registry, tmp_path, {"lib": spec})).code == "invalid_dependency"


@pytest.mark.parametrize("name", ["", "../etc", "a/b", ".hidden", "@scope/", "has space", "x" * 215, "é"])
async def test_invalid_package_names_are_refused_before_asking_the_registry(registry, tmp_path, name):
    assert (await failure(registry, tmp_path, {name: "1.0.0"})).code == "invalid_dependency"
    assert registry.requests == []


async def test_a_tarball_that_does_not_match_its_integrity_is_refused_and_not_cached(registry, tmp_path):
    registry.publish("lib", "1.0.0", {"index.js": ""})
    registry.tamper("lib", "1.0.0")
    error = await failure(registry, tmp_path, {"lib": "1.0.0"})
    assert error.code == "integrity_mismatch" and "lib@1.0.0" in error.message
    assert [p.name for p in tmp_path.iterdir()] == []


def test_integrity_uses_the_strongest_hash_given_and_shasum_only_without_one():
    data = b"tarball bytes"
    entry = LocalRegistry().publish("x", "1.0.0", {}, data=data)["dist"]
    verify(data, entry, "x@1.0.0")
    verify(data, {"integrity": "sha1-AAAA " + entry["integrity"]}, "x@1.0.0")  # sha1 is not consulted
    verify(data, {"shasum": entry["shasum"]}, "x@1.0.0")
    for dist in ({"integrity": entry["integrity"][:-4] + "AAA="}, {"shasum": "0" * 40}, {}):
        with pytest.raises(BuildError) as caught:
            verify(data, dist, "x@1.0.0")
        assert caught.value.code == "integrity_mismatch"


async def test_the_tree_size_file_count_and_package_count_limits(registry, tmp_path):
    registry.publish("big", "1.0.0", {"blob.js": "x" * 300_000})
    registry.publish("many", "1.0.0", {f"f{i}.js": "" for i in range(30)})
    for i in range(5):
        registry.publish(f"p{i}", "1.0.0", {"index.js": ""}, dependencies={f"p{i + 1}": "1.0.0"} if i < 4 else None)
    size = await failure(registry, tmp_path, {"big": "1.0.0"}, limits=NpmLimits(tree_max_bytes=200_000))
    assert size.code == "package_too_large" and "more than 200000 bytes" in size.message and "big@1.0.0" in size.message
    files = await failure(registry, tmp_path / "2", {"many": "1.0.0"}, limits=NpmLimits(tree_max_files=20))
    assert files.code == "package_too_large" and "more than 20 files" in files.message
    count = await failure(registry, tmp_path / "3", {"p0": "1.0.0"}, limits=NpmLimits(max_packages=3))
    assert count.code == "package_too_large" and "more than 3 packages" in count.message
    assert len(versions(await build(registry, tmp_path / "4", {"p0": "1.0.0"}, limits=NpmLimits(max_packages=5)))) == 5


async def test_a_package_that_needs_a_native_addon_fails_to_build_saying_so(registry, tmp_path):
    registry.publish("bcrypt-like", "5.0.0", {"binding.gyp": "{}", "index.js": "require('./build/Release/x.node')"},
                     scripts={"install": "node-gyp rebuild"}, hasInstallScript=True)
    error = await failure(registry, tmp_path, {"bcrypt-like": "5.0.0"})
    assert error.code == "native_addon" and "bcrypt-like@5.0.0" in error.message and "install scripts are never run" in error.message


async def test_install_scripts_of_pure_packages_are_not_run_and_do_not_stop_the_build(registry, tmp_path):
    registry.publish("funding", "1.0.0", {"index.js": "", "postinstall.js": "require('fs').writeFileSync('/tmp/pwned', '')"},
                     scripts={"postinstall": "node postinstall.js"}, hasInstallScript=True)
    assert versions(await build(registry, tmp_path, {"funding": "1.0.0"})) == {"node_modules/funding": "1.0.0"}
    assert not Path("/tmp/pwned").exists()


def hostile_members() -> list[tarfile.TarInfo]:
    out = []
    for name, kind in (("package/link.js", tarfile.SYMTYPE), ("package/hard.js", tarfile.LNKTYPE),
                       ("package/dev", tarfile.CHRTYPE), ("package/../../escape.js", tarfile.REGTYPE),
                       ("/abs/escape.js", tarfile.REGTYPE), ("package/a\\b.js", tarfile.REGTYPE)):
        info = tarfile.TarInfo(name)
        info.type = kind
        info.linkname = "/etc/passwd" if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE) else ""
        info.size = 3 if kind == tarfile.REGTYPE else 0
        out.append(info)
    return out


async def test_links_devices_and_paths_outside_the_package_are_never_unpacked(registry, tmp_path):
    data = tarball({"package.json": {"name": "evil", "version": "1.0.0"}, "index.js": ""}, extra=hostile_members())
    registry.publish("evil", "1.0.0", {}, data=data)
    tree = await build(registry, tmp_path / "cache", {"evil": "1.0.0"})
    package = tree["packages"]["node_modules/evil"]
    assert package["files"] == ["index.js", "package.json"]
    assert sorted(p.name for p in (tmp_path / "cache" / package["key"]).iterdir()) == ["index.js", "package.json"]
    assert not (tmp_path / "escape.js").exists() and not (tmp_path / "cache" / "escape.js").exists()


async def test_a_gzip_bomb_ends_the_build_at_the_tree_limit(registry, tmp_path):
    info = tarfile.TarInfo("package/zeros.js")
    info.size = 50 * 2**20
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as archive:
        archive.addfile(info, io.BytesIO(bytes(info.size)))
    registry.publish("bomb", "1.0.0", {}, data=gzip.compress(raw.getvalue()))
    error = await failure(registry, tmp_path, {"bomb": "1.0.0"}, limits=NpmLimits(tree_max_bytes=4 * 2**20, file_max_bytes=64 * 2**20))
    assert error.code == "package_too_large"


async def test_a_tarball_that_is_not_a_tarball_fails_cleanly(registry, tmp_path):
    registry.publish("junk", "1.0.0", {}, data=b"this is not gzip")
    error = await failure(registry, tmp_path, {"junk": "1.0.0"})
    assert error.code == "invalid_package" and "junk@1.0.0" in error.message


async def test_an_unreachable_registry_and_registry_errors_are_build_failures(registry, tmp_path):
    unreachable = LocalRegistry()
    with unreachable:
        url = unreachable.url
    async with Registry(RegistryConfig(url=url, timeout=2)) as client:
        with pytest.raises(BuildError) as caught:
            await build_tree([{"name": "lib", "version": "1.0.0"}], client, PackageCache(tmp_path), NpmLimits())
    assert caught.value.code == "registry_unreachable" and "could not be reached" in caught.value.message
    registry.status = 500
    assert (await failure(registry, tmp_path, {"lib": "1.0.0"})).code == "registry_error"
    assert registry.requests == ["lib"] * 3  # the first try and two retries


async def test_the_registry_token_goes_to_the_registry_only(registry, tmp_path):
    registry.publish("lib", "1.0.0", {"index.js": ""})
    registry.token = "s3cret"
    assert (await failure(registry, tmp_path, {"lib": "1.0.0"})).code == "registry_error"
    registry.requests.clear()
    registry.authorizations.clear()
    await build(registry, tmp_path, {"lib": "1.0.0"}, token="s3cret")
    assert registry.authorizations == ["Bearer s3cret", "Bearer s3cret"]
    with LocalRegistry() as elsewhere:  # a tarball on another origin does not get the token
        data = registry.tarballs["-/lib-1.0.0.tgz"]
        elsewhere.tarballs["-/lib-2.0.0.tgz"] = data
        entry = registry.publish("lib", "2.0.0", {}, data=data)
        entry["dist"]["tarball"] = elsewhere.url + "-/lib-2.0.0.tgz"
        await build(registry, tmp_path / "other", {"lib": "2.0.0"}, token="s3cret")
        assert elsewhere.authorizations == [None]


async def test_scoped_packages_are_asked_for_with_an_escaped_slash(registry, tmp_path):
    registry.publish("@slack/webhook", "7.0.0", {"index.js": ""})
    tree = await build(registry, tmp_path, {"@slack/webhook": "7.0.0"})
    assert versions(tree) == {"node_modules/@slack/webhook": "7.0.0"}
    assert registry.requests[0] == "@slack/webhook"  # sent as @slack%2fwebhook, unquoted by the fixture


async def test_a_node_that_did_not_build_the_tree_unpacks_it_from_the_stored_tarballs(registry, tmp_path):
    registry.publish("lib", "1.0.0", {"index.js": "module.exports = 1"})
    tree = await build(registry, tmp_path / "builder", {"lib": "1.0.0"})
    key = tree["packages"]["node_modules/lib"]["key"]
    stored = {key: (tmp_path / "builder" / f"{key}.tgz").read_bytes()}
    registry.requests.clear()

    async def from_store(k: str) -> bytes | None:
        return stored.get(k)
    other = PackageCache(tmp_path / "other-node")
    await ensure_unpacked(tree, other, from_store)
    assert other.files(key) == ["index.js", "package.json"] and registry.requests == []
    stored[key] = b"corrupt"
    with pytest.raises(BuildError) as caught:
        await ensure_unpacked(tree, PackageCache(tmp_path / "third"), from_store)
    assert caught.value.code == "package_missing"


async def test_a_packument_naming_a_dependency_outside_node_modules_is_refused(registry, tmp_path):
    registry.publish("sneaky", "1.0.0", {"index.js": ""}, dependencies={"../../escape": "1.0.0"})
    registry.publish("sneaky-optional", "1.0.0", {"index.js": ""}, optionalDependencies={"../x": "1.0.0"})
    error = await failure(registry, tmp_path, {"sneaky": "1.0.0"})
    assert error.code == "invalid_dependency" and "'../../escape' is not a valid npm package name" in error.message
    assert versions(await build(registry, tmp_path, {"sneaky-optional": "1.0.0"})) == {"node_modules/sneaky-optional": "1.0.0"}
    assert not any(".." in r for r in registry.requests)


async def test_the_cleanup_removes_what_no_tree_uses_from_the_store_and_the_cache(registry, tmp_path):
    import os

    from server.actions.builds import DependencyBuilds
    from server.store.repository import Repository
    from server.store.sqlite import SqliteStore
    from server.auth import TokenStore

    registry.publish("kept", "1.0.0", {"index.js": ""})
    registry.publish("dropped", "1.0.0", {"index.js": ""})
    cache_dir = tmp_path / "npm"
    kept = await build(registry, cache_dir, {"kept": "1.0.0"})
    dropped = await build(registry, cache_dir, {"dropped": "1.0.0"})
    kept_key, dropped_key = (t["packages"][p]["key"] for t, p in ((kept, "node_modules/kept"), (dropped, "node_modules/dropped")))
    store = SqliteStore(tmp_path / "db.sqlite")
    await store.open()
    try:
        await TokenStore(store).ensure_tenant("acme")
        repo = Repository(store)
        for key in (kept_key, dropped_key):
            await repo.put_tarball("acme", key, (cache_dir / f"{key}.tgz").read_bytes())
        await repo.insert_action("acme", {"name": "a", "supported_triggers": [{"id": "post-login", "version": "v3"}],
                                          "code": "", "dependencies": kept["dependencies"], "runtime": "node22", "secrets": [],
                                          "status": "built", "errors": [], "built_at": None, "tree": kept})
        (cache_dir / ".unpack-crashed-build").mkdir()
        builds = DependencyBuilds(repo, PackageCache(cache_dir), RegistryConfig(url=registry.url), NpmLimits())
        assert await builds.prune(idle=3600) == (0, 0)  # all of it was used within the hour
        old = os.stat(cache_dir).st_mtime - 7200
        for entry in cache_dir.iterdir():
            os.utime(entry, (old, old))
        assert await builds.prune(idle=3600) == (0, 1)  # the store's rows are fresh; the cache's are not
        assert sorted(p.name for p in cache_dir.iterdir()) == sorted([kept_key, f"{kept_key}.tgz"])
        assert await builds.prune(idle=0) == (1, 0)
        assert await repo.get_tarball("acme", dropped_key) is None and await repo.get_tarball("acme", kept_key) is not None
    finally:
        await store.close()

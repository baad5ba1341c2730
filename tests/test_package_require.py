"""require() over an action's npm packages (runtime_js/lazy/cjs.js, sandbox/packages.py).

Each test lays packages out as the build does (server/npm/: one directory per package under the
package root, named by a 128-hex key) and runs actions whose manifest maps install paths to
them, in a real isolate. What the loader must do is Node 22's CommonJS resolution: the cases
below are taken from Node's modules documentation and checked against Node 20 on this machine
where it agrees (require(esm) aside).
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any

import orjson
import pytest

from conftest import payload, workload_event
from sandbox import host_sync, packages
from sandbox.driver import SyncCallError
from sandbox.isolate import FlowIsolate, Limits, runtime_source


class Tree:
    """Packages laid out under a package root, and the manifest an action gets."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.manifest: dict[str, Any] = {}

    def add(self, path: str, files: dict[str, Any], key_seed: str | None = None) -> str:
        key = hashlib.sha512((key_seed or path).encode()).hexdigest()
        base = self.root / key
        for rel, content in files.items():
            target = base / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(orjson.dumps(content) if isinstance(content, dict) else content.encode())
        self.manifest[path] = {"key": key, "files": sorted(files)}
        return key


@pytest.fixture
def tree(tmp_path: Path):
    packages.configure(tmp_path)
    yield Tree(tmp_path)
    packages.configure(None)


async def run(actions: list[dict[str, Any]], times: int = 1) -> list[dict[str, Any]]:
    loop = asyncio.get_running_loop()
    isolate = FlowIsolate(loop, runtime_source(), {"kind": "post-login", "actions": actions}, Limits())
    await isolate.start()
    try:
        return [await isolate.submit(i + 1, "post-login", payload(workload_event()), 20.0) for i in range(times)]
    finally:
        await isolate.close()


def action(code: str, manifest: dict[str, Any] | None, name: str = "act") -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "code": code, "secrets": {}}
    if manifest is not None:
        out["packages"] = manifest
    return out


def claims(result: dict[str, Any]) -> dict[str, Any]:
    assert result["status"] == "completed", result
    return {c[1]: c[2] for r in result["actions"] for c in r["commands"] if c[0] == "idToken.setCustomClaim"}


# an action that evaluates each expression and reports its value, or the error's code and message
PROBE = """
exports.onExecutePostLogin = async (event, api) => {
  const probes = %s;
  for (const [name, fn] of Object.entries(probes)) {
    let value;
    try { value = fn(); } catch (e) { value = { code: e.code, message: e.message }; }
    api.idToken.setCustomClaim(name, value === undefined ? null : value);
  }
};
"""


def probe(**expressions: str) -> str:
    body = ", ".join(f"{orjson.dumps(name).decode()}: () => ({expr})" for name, expr in expressions.items())
    return PROBE % ("{" + body + "}")


async def test_resolution_follows_node(tree: Tree) -> None:
    tree.add("node_modules/main-field", {"package.json": {"name": "main-field", "main": "lib/entry"},
                                         "lib/entry.js": "exports.v = 'main-field'; exports.f = __filename; exports.d = __dirname;"})
    tree.add("node_modules/index-only", {"package.json": {"name": "index-only"}, "index.js": "module.exports = 'index-only';"})
    tree.add("node_modules/no-pkg", {"index.json": '{"json": true}'})
    tree.add("node_modules/main-dir", {"package.json": {"main": "./dist"}, "dist/index.js": "module.exports = 'main-dir';"})
    tree.add("node_modules/bad-main", {"package.json": {"main": "missing.js"}, "index.js": "module.exports = 'fallback-index';"})
    tree.add("node_modules/rel", {"package.json": {"name": "rel"},
                                  "index.js": "module.exports = [require('./a'), require('./a.js'), require('./dir'), require('../rel/b.json').b, require('/node_modules/rel/a')];",
                                  "a.js": "module.exports = 'a';", "dir/index.js": "module.exports = 'dir';", "b.json": '{"b": 2}'})
    tree.add("node_modules/@scope/pkg", {"package.json": {"name": "@scope/pkg", "version": "3.1.0"}, "index.js": "module.exports = 'scoped';",
                                         "extra.js": "module.exports = 'scoped-extra';"})
    # a nested copy wins over the top-level one for the package that nests it (npm's placement)
    tree.add("node_modules/dep", {"package.json": {"name": "dep", "version": "2.0.0"}, "index.js": "module.exports = 'dep@2';"})
    tree.add("node_modules/uses-old", {"package.json": {"name": "uses-old"}, "index.js": "module.exports = require('dep');"})
    tree.add("node_modules/uses-old/node_modules/dep", {"package.json": {"name": "dep", "version": "1.0.0"}, "index.js": "module.exports = 'dep@1';"})
    tree.add("node_modules/uses-new", {"package.json": {"name": "uses-new"}, "index.js": "module.exports = require('dep');"})
    code = probe(
        main="require('main-field').v", filename="require('main-field').f", dirname="require('main-field').d",
        index="require('index-only')", json="require('no-pkg')", mainDir="require('main-dir')", badMain="require('bad-main')",
        rel="require('rel')", scoped="require('@scope/pkg')", scopedSub="require('@scope/pkg/extra')",
        nestedOld="require('uses-old')", nestedNew="require('uses-new')",
        resolve="require.resolve('@scope/pkg/extra')", resolveBuiltin="require.resolve('node:path')",
        missing="require('nope')", missingSub="require('index-only/nope')",
    )
    got = claims((await run([action(code, tree.manifest)]))[0])
    assert got["main"] == "main-field"
    assert got["filename"] == "/node_modules/main-field/lib/entry.js"
    assert got["dirname"] == "/node_modules/main-field/lib"
    assert got["index"] == "index-only"
    assert got["json"] == {"json": True}
    assert got["mainDir"] == "main-dir"
    assert got["badMain"] == "fallback-index"
    assert got["rel"] == ["a", "a", "dir", 2, "a"]
    assert (got["scoped"], got["scopedSub"]) == ("scoped", "scoped-extra")
    assert (got["nestedOld"], got["nestedNew"]) == ("dep@1", "dep@2")
    assert got["resolve"] == "/node_modules/@scope/pkg/extra.js"
    assert got["resolveBuiltin"] == "node:path"
    assert got["missing"]["code"] == "MODULE_NOT_FOUND"
    assert got["missing"]["message"] == "Cannot find module 'nope'\nRequire stack:\n- /act"
    assert got["missingSub"]["code"] == "MODULE_NOT_FOUND"


async def test_exports_and_imports_maps(tree: Tree) -> None:
    tree.add("node_modules/cond", {
        "package.json": {"name": "cond", "exports": {
            ".": {"import": "./esm/index.mjs", "browser": "./browser.js", "node": {"require": "./node.cjs"}, "default": "./default.js"},
            "./feature": ["invalid-bare-target-is-skipped", "./feature.js"],
            "./valid-first": ["./missing.js", "./feature.js"],
            "./lib/*": "./src/*.js",
            "./lib/private/*": None,
            "./package.json": "./package.json",
        }, "imports": {"#internal": {"node": "./internal.js"}, "#dep": "dep", "#fs": "fs"}},
        "esm/index.mjs": "export default 1;", "browser.js": "module.exports = 'browser';", "node.cjs": "module.exports = require('#internal');",
        "default.js": "module.exports = 'default';", "feature.js": "module.exports = 'feature';", "src/a.js": "module.exports = 'src-a';",
        "src/private/x.js": "module.exports = 'private';", "internal.js": "module.exports = 'node-require via #internal:' + require('#dep') + ':' + typeof require('#fs').stat;",
        "self.js": "module.exports = require('cond/feature');",
    })
    tree.add("node_modules/dep", {"package.json": {"name": "dep"}, "index.js": "module.exports = 'dep';"})
    tree.add("node_modules/sugar", {"package.json": {"name": "sugar", "exports": "./main.js"}, "main.js": "module.exports = 'sugar';",
                                    "other.js": "module.exports = 'hidden';"})
    tree.add("node_modules/mixed", {"package.json": {"name": "mixed", "exports": {".": "./a.js", "require": "./b.js"}}, "a.js": "", "b.js": ""})
    tree.add("node_modules/escape", {"package.json": {"name": "escape", "exports": {"./x": "../dep/index.js", "./*": "./*"}}, "ok.js": "module.exports = 1;"})
    code = probe(
        main="require('cond')", feature="require('cond/feature')", pattern="require('cond/lib/a')",
        nulled="require('cond/lib/private/x')", notExported="require('cond/src/a.js')", pj="require('cond/package.json').name",
        self="require('/node_modules/cond/self.js')", sugar="require('sugar')", sugarHidden="require('sugar/other.js')",
        validFirst="require('cond/valid-first')", mixed="require('mixed')", escape="require('escape/x')", traversal="require('escape/../dep/index.js')",
        resolved="require.resolve('cond')",
    )
    got = claims((await run([action(code, tree.manifest)]))[0])
    assert got["main"] == "node-require via #internal:dep:function"
    assert got["feature"] == "feature"
    assert got["pattern"] == "src-a"
    assert got["nulled"]["code"] == "ERR_PACKAGE_PATH_NOT_EXPORTED"
    assert got["notExported"] == {"code": "ERR_PACKAGE_PATH_NOT_EXPORTED", "message":
                                  "Package subpath './src/a.js' is not defined by \"exports\" in /node_modules/cond/package.json"}
    assert got["pj"] == "cond"
    assert got["self"] == "feature"
    assert got["sugar"] == "sugar"
    assert got["sugarHidden"]["code"] == "ERR_PACKAGE_PATH_NOT_EXPORTED"
    assert got["mixed"]["code"] == "ERR_INVALID_PACKAGE_CONFIG"
    # a fallback list skips invalid targets only: a valid one names the file, present or not (as Node)
    assert got["validFirst"]["code"] == "MODULE_NOT_FOUND" and "/node_modules/cond/missing.js" in got["validFirst"]["message"]
    assert got["escape"] == {"code": "ERR_INVALID_PACKAGE_TARGET", "message": "Invalid \"exports\" target \"../dep/index.js\" defined "
                             "for './x' in the package config /node_modules/escape/package.json; targets must start with \"./\""}
    # "escape/../dep/index.js" is the subpath "./../dep/index.js": "./*" matches it, but ".." may not be the match
    assert got["traversal"]["code"] == "ERR_INVALID_MODULE_SPECIFIER"
    assert got["resolved"] == "/node_modules/cond/node.cjs"


async def test_cycles_module_object_and_cache(tree: Tree) -> None:
    tree.add("node_modules/cycle", {
        "package.json": {"name": "cycle"},
        "index.js": "exports.early = 'a-early'; const b = require('./b'); exports.late = 'a-late'; exports.seenByB = b.seen; exports.bDone = b.done;",
        "b.js": "const a = require('./index'); exports.seen = [a.early, a.late === undefined]; exports.done = true;",
    })
    tree.add("node_modules/counter", {"package.json": {"name": "counter"},
                                      "index.js": "globalThis.__evaluations = (globalThis.__evaluations || 0) + 1; module.exports = { n: globalThis.__evaluations, id: module.id, loaded: module.loaded, paths: module.paths.slice(0, 2), childOf: module.parent && module.parent.id, req: typeof module.require };"})
    tree.add("node_modules/throws-once", {"package.json": {"name": "throws-once"},
                                          "index.js": "globalThis.__tries = (globalThis.__tries || 0) + 1; if (globalThis.__tries === 1) throw new Error('first load fails'); module.exports = 'second load works';"})
    code = """
const top = require('counter');
exports.onExecutePostLogin = async (event, api) => {
  const c = require('cycle');
  api.idToken.setCustomClaim('cycle', [c.early, c.late, c.seenByB, c.bDone]);
  api.idToken.setCustomClaim('counter', require('counter'));
  api.idToken.setCustomClaim('same', require('counter') === top);
  api.idToken.setCustomClaim('cacheKeys', Object.keys(require.cache).length >= 0);
  let first;
  try { require('throws-once'); } catch (e) { first = e.message; }
  api.idToken.setCustomClaim('retry', [first, first ? require('throws-once') : 'cached']);
};
"""
    first, second = await run([action(code, tree.manifest)], times=2)
    got = claims(first)
    assert got["cycle"] == ["a-early", "a-late", ["a-early", True], True]
    assert got["counter"] == {"n": 1, "id": "/node_modules/counter/index.js", "loaded": False,
                              "paths": ["/node_modules/counter/node_modules", "/node_modules"], "childOf": ".", "req": "function"}
    assert got["same"] is True
    # a module that threw is not cached (Node drops it): the next require evaluates it again
    assert got["retry"] == ["first load fails", "second load works"]
    # module scope lives as long as the isolate: the second execution evaluates nothing again
    assert claims(second)["counter"]["n"] == 1
    assert claims(second)["retry"] == [None, "cached"]


async def test_builtins_win_and_library_stand_ins(tree: Tree) -> None:
    # a package named like a built-in is shadowed by it, as in Node ("events/" names the package)
    tree.add("node_modules/events", {"package.json": {"name": "events", "main": "npm-events.js"}, "npm-events.js": "module.exports = 'npm events';"})
    tree.add("node_modules/uses-fs", {"package.json": {"name": "uses-fs"},
                                      "index.js": "const fs = require('fs'), net = require('node:net'); class S extends net.Socket {}; module.exports = { read: () => fs.readFileSync('/etc/passwd'), kind: typeof fs.createReadStream, cls: typeof S };"})
    code = probe(
        builtin="typeof require('events').EventEmitter", npm="require('events/')",
        lib="({kind: require('uses-fs').kind, cls: require('uses-fs').cls})", libCall="require('uses-fs').read()",
        own="require('fs')", ownNode="require('node:child_process')",
    )
    got = claims((await run([action(code, tree.manifest)]))[0])
    assert got["builtin"] == "function"
    assert got["npm"] == "npm events"
    assert got["lib"] == {"kind": "function", "cls": "function"}
    assert got["libCall"]["code"] == "ERR_ACCESS_DENIED"
    assert "fs.readFileSync was called" in got["libCall"]["message"] and "no file system" in got["libCall"]["message"]
    # the action's own require of one is refused at once (the Node surface's rule)
    assert got["own"]["code"] == "ERR_ACCESS_DENIED"
    assert got["ownNode"]["code"] == "ERR_ACCESS_DENIED"


async def test_require_of_es_modules_works_as_in_node_22_12(tree: Tree) -> None:
    tree.add("node_modules/esm-only", {
        "package.json": {"name": "esm-only", "version": "5.0.0", "type": "module", "main": "index.js"},
        "index.js": "import { helper } from './lib.js';\nimport cjs from 'cjs-dep';\nimport * as ns from 'cjs-dep';\n"
                    "export default function greet(who) { return helper(who) + cjs.suffix; }\n"
                    "export const meta = [import.meta.url, import.meta.filename, import.meta.dirname];\n"
                    "export const named = ns.suffix;\nexport { counter, bump } from './lib.js';\nexport * from './more.js';\n"
                    "export const later = () => import('./lib.js').then((m) => m.helper('dyn'));\n",
        "lib.js": "export let counter = 0;\nexport function bump() { counter += 1; }\nexport const helper = (s) => `hi ${s}`;\n",
        "more.js": "export const extra = 'star';\n",
    })
    tree.add("node_modules/cjs-dep", {"package.json": {"name": "cjs-dep"}, "index.js": "module.exports = { suffix: '!' };"})
    tree.add("node_modules/mjs", {"package.json": {"name": "mjs", "version": "1.2.3", "main": "index.mjs"}, "index.mjs": "export default 7;"})
    tree.add("node_modules/dual", {"package.json": {"name": "dual", "exports": {".": {"import": "./esm.mjs", "require": "./cjs.js"}}},
                                   "esm.mjs": "export const kind = 'esm';", "cjs.js": "exports.kind = 'cjs';"})
    tree.add("node_modules/uses-dual", {"package.json": {"name": "uses-dual", "type": "module"},
                                        "index.js": "import { kind } from 'dual';\nexport const seen = kind;"})
    tree.add("node_modules/tla", {"package.json": {"name": "tla", "type": "module"}, "index.js": "export const x = await Promise.resolve(1);"})
    tree.add("node_modules/cjs-in-esm", {"package.json": {"name": "cjs-in-esm", "type": "module", "main": "index.cjs"},
                                         "index.cjs": "module.exports = 'cjs file in an ESM package';"})
    tree.add("node_modules/native", {"package.json": {"name": "native", "version": "0.1.0", "main": "build/addon.node"},
                                     "build/addon.node": "\x7fELF"})
    code = """
const esm = require('esm-only');
exports.onExecutePostLogin = async (event, api) => {
  esm.bump();
  const out = { greet: esm.default('you'), esModule: esm.__esModule, meta: esm.meta, named: esm.named, counter: esm.counter,
                extra: esm.extra, later: await esm.later(), mjs: require('mjs').default, dual: [require('dual').kind, require('uses-dual').seen],
                cjs: require('cjs-in-esm') };
  for (const [name, id] of [['tla', 'tla'], ['native', 'native']]) {
    try { require(id); out[name] = 'loaded'; } catch (e) { out[name] = { code: e.code, message: e.message }; }
  }
  api.idToken.setCustomClaim('r', out);
};"""
    got = claims((await run([action(code, tree.manifest)]))[0])["r"]
    assert got["greet"] == "hi you!" and got["esModule"] is True
    assert got["meta"] == ["file:///node_modules/esm-only/index.js", "/node_modules/esm-only/index.js", "/node_modules/esm-only"]
    assert got["named"] == "!" and got["counter"] == 1  # a live binding: the export follows the module's variable
    assert got["extra"] == "star" and got["later"] == "hi dyn" and got["mjs"] == 7
    assert got["dual"] == ["cjs", "esm"]  # require takes the require condition, an import the import condition
    assert got["cjs"] == "cjs file in an ESM package"
    assert got["tla"]["code"] == "ERR_REQUIRE_ASYNC_MODULE" and "/node_modules/tla/index.js" in got["tla"]["message"]
    assert got["native"]["code"] == "ERR_DLOPEN_FAILED" and "native@0.1.0" in got["native"]["message"]


async def test_an_es_module_with_a_syntax_error_names_its_file(tree: Tree) -> None:
    tree.add("node_modules/broken-esm", {"package.json": {"name": "broken-esm", "version": "2.0.0", "type": "module"},
                                         "index.js": "export const = 1;"})
    got = claims((await run([action(probe(broken="require('broken-esm')"), tree.manifest)]))[0])
    assert "/node_modules/broken-esm/index.js (package broken-esm@2.0.0)" in got["broken"]["message"]


async def test_code_is_compiled_once_per_isolate_and_each_action_has_its_own_instance(tree: Tree) -> None:
    key = tree.add("node_modules/shared", {"package.json": {"name": "shared"}, "index.js": "module.exports = { box: [] };"}, key_seed="shared@1")
    manifest = dict(tree.manifest)
    code = """
exports.onExecutePostLogin = async (event, api) => {
  const s = require('shared');
  s.box.push(1);
  api.idToken.setCustomClaim('%s', s.box.length);
};
"""
    results = await run([action(code % "a", manifest, name="a"), action(code % "b", manifest, name="b")], times=2)
    assert claims(results[0]) == {"a": 1, "b": 1}
    assert claims(results[1]) == {"a": 2, "b": 2}
    assert len(key) == 128


async def test_a_syntax_error_in_a_package_names_the_file(tree: Tree) -> None:
    tree.add("node_modules/broken", {"package.json": {"name": "broken"}, "index.js": "module.exports = {;"})
    tree.add("node_modules/bad-json", {"package.json": {"name": "bad-json"}, "data.json": "{nope"})
    code = probe(syntax="require('broken')", json="require('bad-json/data.json')")
    got = claims((await run([action(code, tree.manifest)]))[0])
    assert "Unexpected token" in got["syntax"]["message"]
    assert got["json"]["message"].startswith("/node_modules/bad-json/data.json: ")


async def test_an_action_without_packages_gets_module_not_found(tree: Tree) -> None:
    got = claims((await run([action(probe(pkg="require('axios')", resolve="require.resolve('axios')"), None)]))[0])
    assert got["pkg"]["code"] == "MODULE_NOT_FOUND"
    assert got["resolve"]["code"] == "MODULE_NOT_FOUND"


@pytest.mark.parametrize("request_path", [
    "zz/index.js", "a" * 128 + "/../" + "b" * 128 + "/index.js", "a" * 128 + "/./index.js", "a" * 128 + "//index.js",
    "a" * 128 + "/", "a" * 128, "A" * 128 + "/index.js", "a" * 128 + "/x\\..\\y", "a" * 128 + "/x\0",
])
def test_the_host_reads_nothing_outside_a_package(tree: Tree, request_path: str) -> None:
    with pytest.raises(SyncCallError, match="malformed package path"):
        host_sync.dispatch("package.source", request_path.encode())


def test_the_host_answers_json_text_without_bom_and_refuses_symlinks(tree: Tree, tmp_path: Path) -> None:
    key = tree.add("node_modules/x", {"index.js": "\ufeffmodule.exports = 'é';"})
    assert orjson.loads(host_sync.dispatch("package.source", f"{key}/index.js".encode())) == "module.exports = 'é';"
    secret = tmp_path / "secret.txt"
    secret.write_text("secret")
    (tmp_path / key / "link.js").symlink_to(secret)
    with pytest.raises(SyncCallError, match="missing from the package cache"):
        host_sync.dispatch("package.source", f"{key}/link.js".encode())
    with pytest.raises(SyncCallError, match="missing from the package cache"):
        host_sync.dispatch("package.source", f"{key}/absent.js".encode())


def test_answers_are_kept_per_content_addressed_file_within_a_byte_cap(tree: Tree, monkeypatch) -> None:
    key = tree.add("node_modules/x", {"a.js": "module.exports = 'a';", "b.js": "module.exports = 'b';"})
    first = host_sync.dispatch("package.source", f"{key}/a.js".encode())
    (tree.root / key / "a.js").unlink()  # a package directory never changes: the answer is kept
    assert host_sync.dispatch("package.source", f"{key}/a.js".encode()) == first
    monkeypatch.setattr(packages, "CACHE_BYTES", len(first) + 1)
    host_sync.dispatch("package.source", f"{key}/b.js".encode())  # over the cap: the oldest answer goes
    with pytest.raises(SyncCallError, match="missing from the package cache"):
        host_sync.dispatch("package.source", f"{key}/a.js".encode())
    with pytest.raises(SyncCallError, match="malformed package path"):  # refusals are never kept
        host_sync.dispatch("package.source", b"zz/a.js")


async def test_a_spare_for_flows_with_packages_has_nodes_builtins_loaded_before_its_flow(tree: Tree, monkeypatch) -> None:
    from sandbox.isolate import SparePool

    loop = asyncio.get_running_loop()
    pool = SparePool(loop, runtime_source(), Limits(), size=1, preload=True)
    pool.refill()
    for _ in range(200):
        if pool._ready:
            break
        await asyncio.sleep(0.05)
    asked: list[str] = []
    real = host_sync.HANDLERS["builtin.source"]
    monkeypatch.setitem(host_sync.HANDLERS, "builtin.source", lambda payload: asked.append(payload.decode()) or real(payload))
    tree.add("node_modules/uses-stream", {"package.json": {"name": "uses-stream"}, "index.js": "module.exports = require('stream').Readable.name;"})
    code = "const r = require('uses-stream'); exports.onExecutePostLogin = async (e, api) => { api.idToken.setCustomClaim('r', [r, typeof require('zlib').gzipSync, typeof require('perf_hooks').performance.now]); };"
    isolate = FlowIsolate(loop, runtime_source(), {"kind": "post-login", "actions": [action(code, tree.manifest)]}, Limits(), spares=pool)
    await isolate.start()
    try:
        result = await isolate.submit(1, "post-login", payload(workload_event()), 20.0)
    finally:
        await isolate.close()
        pool.close()
    assert claims(result) == {"r": ["Readable", "function", "function"]}
    assert "stream" not in asked and "buffer" not in asked  # loaded by the spare, before the flow
    assert asked == ["perf_hooks"]  # what it did not preload comes on demand, as ever

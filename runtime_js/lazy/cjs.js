// Node's CommonJS loader over an action's npm packages (built by the server: server/npm/), on
// the first require of one. The action's file is /<action name>; its packages sit in
// /node_modules/... as npm placed them, each file known from the action's tree manifest
// ({"node_modules/axios": {"key": <hex>, "files": [...]}}) and its text read from the host on
// first load (sync host call "package.source", sandbox/packages.py).
//
// Resolution follows Node 22's documented algorithm (the "All together" pseudo-code of the
// modules documentation, and the ESM resolver's PACKAGE_EXPORTS_RESOLVE / PACKAGE_IMPORTS_RESOLVE
// for "exports" and "imports" with the conditions "require", "node", "node-addons", "default"):
// relative and absolute paths, node_modules lookup up the directory tree, package.json "main",
// index files, the extensions .js, .json, .node, package self-reference and "#" imports.
// ES modules (.mjs, or .js under "type": "module") are refused as Node 22 refuses them without
// require(esm); native addons (.node) are refused, since actions cannot load them.
//
// A package's code is compiled once per isolate (shared by the actions of the flow that
// depend on the same package version) and evaluated once per action, on its first require;
// module scope then lives as long as the isolate, as the action's own does.

const {
  ArrayIsArray, ArrayPrototypeIndexOf, ArrayPrototypeJoin, ArrayPrototypePop, ArrayPrototypePush, ErrorCtor, JSONParse,
  JSONStringify, ObjectCreate, ObjectDefineProperty, ObjectFreeze, ObjectKeys, ObjectPrototypeHasOwnProperty, ReflectApply,
  RegExpPrototypeTest, SafeMap,
  StringCtor, StringPrototypeCharCodeAt, StringPrototypeIndexOf, StringPrototypeReplace, StringPrototypeSlice,
  StringPrototypeSplit, StringPrototypeStartsWith, SyntaxErrorCtor, TypeErrorCtor, asciiText, builtinFor, compileModule,
  describeReceived, esmToCjs, hostSync, isBuiltinName, nodeError,
} = rt;

// The conditions of require, and of the imports of an ES module (require(esm) below). Node 22.10+
// adds "module-sync" to both; it is left out here: the ES module it selects is often written for
// Node's require(esm) alone (`export { x as 'module.exports' }`), which the transform cannot read,
// and the package's "default" or "require" target is the same code as CommonJS.
const REQUIRE_CONDITIONS = ["require", "node", "node-addons"];
const IMPORT_CONDITIONS = ["import", "node", "node-addons"];
let conditions = REQUIRE_CONDITIONS;
const compiled = new SafeMap(); // "<key>/<path>" -> the module's compiled wrapper (per isolate)

function endsWith(s, suffix) {
  return s.length >= suffix.length && StringPrototypeSlice(s, s.length - suffix.length) === suffix;
}

function lastSlash(s) {
  for (let i = s.length - 1; i >= 0; i--) if (StringPrototypeCharCodeAt(s, i) === 47) return i;
  return -1;
}

function dirname(path) {
  const i = lastSlash(path);
  return i <= 0 ? "/" : StringPrototypeSlice(path, 0, i);
}

function basename(path) {
  return StringPrototypeSlice(path, lastSlash(path) + 1);
}

// "/a/./b/../c" -> "/a/c"; never above the root
function normalize(path) {
  const parts = StringPrototypeSplit(path, "/");
  const out = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    if (part === "" || part === ".") continue;
    if (part === "..") { if (out.length > 0) ArrayPrototypePop(out); continue; }
    ArrayPrototypePush(out, part);
  }
  return "/" + ArrayPrototypeJoin(out, "/");
}

function join(dir, rel) {
  return normalize(dir === "/" ? "/" + rel : dir + "/" + rel);
}

// -- the tree ---------------------------------------------------------------------------

// packages: the action's manifest; action: the action's file name ("/<name>")
function createTree(packages, action) {
  const files = new SafeMap(); // absolute path -> "<key>/<path in package>"
  const dirs = new SafeMap();  // absolute directory -> true
  const names = ObjectKeys(packages);
  for (let i = 0; i < names.length; i++) {
    const entry = packages[names[i]];
    if (entry === null || typeof entry !== "object" || typeof entry.key !== "string" || !ArrayIsArray(entry.files)) continue;
    const base = normalize("/" + names[i]);
    addDirectory(dirs, base);
    const list = entry.files;
    for (let f = 0; f < list.length; f++) {
      const path = join(base, StringCtor(list[f]));
      files.set(path, entry.key + "/" + StringPrototypeSlice(path, base.length + 1));
      addDirectory(dirs, dirname(path));
    }
  }
  return { files, dirs, action, packageJsons: new SafeMap(), cache: ObjectCreate(null), mainModule: undefined };
}

function addDirectory(dirs, dir) {
  while (!dirs.has(dir)) {
    dirs.set(dir, true);
    if (dir === "/") return;
    dir = dirname(dir);
  }
}

function readText(tree, path) {
  return JSONParse(asciiText(hostSync("package.source", tree.files.get(path))));
}

// the parsed package.json of `dir`, or null when it has none
function packageJson(tree, dir) {
  let pj = tree.packageJsons.get(dir);
  if (pj !== undefined) return pj;
  const path = join(dir, "package.json");
  pj = null;
  if (tree.files.has(path)) {
    try {
      const value = JSONParse(readText(tree, path));
      pj = value !== null && typeof value === "object" && !ArrayIsArray(value) ? value : {};
    } catch (err) {
      throw nodeError(ErrorCtor, "Invalid package config " + path + ".", "ERR_INVALID_PACKAGE_CONFIG");
    }
  }
  tree.packageJsons.set(dir, pj);
  return pj;
}

function own(object, key) {
  return object !== null && typeof object === "object" && ObjectPrototypeHasOwnProperty(object, key) ? object[key] : undefined;
}

// the nearest directory at or above `dir` holding a package.json (its package scope)
function packageScope(tree, dir) {
  for (;;) {
    if (basename(dir) === "node_modules") return null;
    if (packageJson(tree, dir) !== null) return dir;
    if (dir === "/") return null;
    dir = dirname(dir);
  }
}

// -- resolution (Node's require.resolve) --------------------------------------------------

function notFound(request, parent) {
  const stack = [];
  for (let m = parent; m !== undefined && m !== null; m = m.parent) ArrayPrototypePush(stack, m.filename);
  const lines = [];
  for (let i = 0; i < stack.length; i++) ArrayPrototypePush(lines, "- " + stack[i]);
  const err = new ErrorCtor("Cannot find module '" + request + "'\nRequire stack:\n" + ArrayPrototypeJoin(lines, "\n"));
  ObjectDefineProperty(err, "code", { value: "MODULE_NOT_FOUND", writable: true, enumerable: true, configurable: true });
  ObjectDefineProperty(err, "requireStack", { value: stack, writable: true, enumerable: true, configurable: true });
  return err;
}

function tryFile(tree, path) {
  return tree.files.has(path) ? path : undefined;
}

function loadAsFile(tree, path) {
  let found = tryFile(tree, path);
  if (found === undefined) found = tryFile(tree, path + ".js");
  if (found === undefined) found = tryFile(tree, path + ".json");
  if (found === undefined) found = tryFile(tree, path + ".node");
  return found;
}

function loadIndex(tree, dir) {
  let found = tryFile(tree, join(dir, "index.js"));
  if (found === undefined) found = tryFile(tree, join(dir, "index.json"));
  if (found === undefined) found = tryFile(tree, join(dir, "index.node"));
  return found;
}

function loadAsDirectory(tree, dir, request, parent) {
  if (!tree.dirs.has(dir)) return undefined;
  const pj = packageJson(tree, dir);
  const main = own(pj, "main");
  if (typeof main === "string" && main !== "") {
    const target = join(dir, main);
    let found = loadAsFile(tree, target);
    if (found === undefined) found = loadIndex(tree, target);
    if (found === undefined) found = loadIndex(tree, dir); // (deprecated in Node, still done)
    if (found === undefined) {
      const err = notFound(request, parent);
      err.message = "Cannot find module '" + target + "'. Please verify that the package.json has a valid \"main\" entry";
      err.path = join(dir, "package.json");
      err.requestPath = request;
      throw err;
    }
    return found;
  }
  return loadIndex(tree, dir);
}

function nodeModulesPaths(dir) {
  const out = [];
  for (;;) {
    if (basename(dir) !== "node_modules") ArrayPrototypePush(out, dir === "/" ? "/node_modules" : dir + "/node_modules");
    if (dir === "/") return out;
    dir = dirname(dir);
  }
}

// "@scope/name/sub/path" -> ["@scope/name", "/sub/path"]; "name" -> ["name", ""]
function splitPackage(request) {
  let end = StringPrototypeIndexOf(request, "/");
  if (StringPrototypeStartsWith(request, "@")) {
    if (end === -1) return undefined;
    end = StringPrototypeIndexOf(request, "/", end + 1);
  }
  if (end === -1) return [request, ""];
  return [StringPrototypeSlice(request, 0, end), StringPrototypeSlice(request, end)];
}

function resolveFilename(tree, request, parent) {
  const outer = conditions;
  conditions = parent.esm === true ? IMPORT_CONDITIONS : REQUIRE_CONDITIONS;
  try {
    return resolveFrom(tree, request, parent);
  } finally {
    conditions = outer;
  }
}

function resolveFrom(tree, request, parent) {
  const fromDir = parent.path;
  if (request === "." || request === ".." || StringPrototypeStartsWith(request, "./") || StringPrototypeStartsWith(request, "../")
      || StringPrototypeStartsWith(request, "/")) {
    const target = StringPrototypeStartsWith(request, "/") ? normalize(request) : join(fromDir, request);
    const trailing = endsWith(request, "/") || request === "." || request === "..";
    let found = trailing ? undefined : loadAsFile(tree, target);
    if (found === undefined) found = loadAsDirectory(tree, target, request, parent);
    if (found !== undefined) return found;
    throw notFound(request, parent);
  }
  if (StringPrototypeStartsWith(request, "#")) {
    const found = resolveImports(tree, request, fromDir, parent);
    if (found !== undefined) return found;
    throw notFound(request, parent);
  }
  const split = splitPackage(request);
  if (split === undefined) throw notFound(request, parent);
  const self = resolveSelf(tree, split, fromDir, request, parent);
  if (self !== undefined) return self;
  const dirs = nodeModulesPaths(fromDir);
  for (let i = 0; i < dirs.length; i++) {
    const packageDir = dirs[i] + "/" + split[0];
    if (tree.dirs.has(packageDir)) {
      const exports = own(packageJson(tree, packageDir), "exports");
      if (exports !== undefined && exports !== null) {
        return existing(tree, resolveExports(packageDir, "." + split[1], exports), request, parent);
      }
    }
    const target = normalize(dirs[i] + "/" + request);
    let found = endsWith(request, "/") ? undefined : loadAsFile(tree, target);
    if (found === undefined) found = loadAsDirectory(tree, target, request, parent);
    if (found !== undefined) return found;
  }
  throw notFound(request, parent);
}

// a package requiring itself by its own name, through its "exports"
function resolveSelf(tree, split, fromDir, request, parent) {
  const scope = packageScope(tree, fromDir);
  if (scope === null) return undefined;
  const pj = packageJson(tree, scope);
  const exports = own(pj, "exports");
  if (exports === undefined || exports === null || own(pj, "name") !== split[0]) return undefined;
  return existing(tree, resolveExports(scope, "." + split[1], exports), request, parent);
}

function existing(tree, path, request, parent) {
  if (tree.files.has(path)) return path;
  throw notFound(path, parent);
}

function invalidTarget(packageDir, subpath, target) {
  return nodeError(ErrorCtor, "Invalid \"exports\" target " + JSONStringify(target) + " defined for '" + subpath
    + "' in the package config " + packageDir + "/package.json"
    + (typeof target === "string" && !StringPrototypeStartsWith(target, "./") ? "; targets must start with \"./\"" : ""),
  "ERR_INVALID_PACKAGE_TARGET");
}

function notExported(packageDir, subpath) {
  return nodeError(ErrorCtor, subpath === "."
    ? "No \"exports\" main defined in " + packageDir + "/package.json"
    : "Package subpath '" + subpath + "' is not defined by \"exports\" in " + packageDir + "/package.json",
  "ERR_PACKAGE_PATH_NOT_EXPORTED");
}

// a map's keys either all start with "." (subpaths) or none do (conditions)
function isConditionalSugar(packageDir, exports) {
  if (typeof exports === "string" || ArrayIsArray(exports)) return true;
  if (exports === null || typeof exports !== "object") return false;
  const keys = ObjectKeys(exports);
  let dots = 0;
  for (let i = 0; i < keys.length; i++) if (StringPrototypeStartsWith(keys[i], ".")) dots++;
  if (dots !== 0 && dots !== keys.length) {
    throw nodeError(ErrorCtor, "Invalid package config " + packageDir + "/package.json. \"exports\" cannot contain some keys starting with '.' and some not. The exports object must either be an object of package subpath keys or an object of main entry condition name keys only.", "ERR_INVALID_PACKAGE_CONFIG");
  }
  return dots === 0;
}

function resolveExports(packageDir, subpath, exports) {
  const sugar = isConditionalSugar(packageDir, exports);
  let found;
  if (subpath === ".") {
    const main = sugar ? exports : own(exports, ".");
    if (main !== undefined) found = resolveTarget(packageDir, subpath, main, undefined, false, false);
  } else if (!sugar) {
    found = resolveMapped(packageDir, subpath, exports, false);
  }
  if (found === undefined || found === null) throw notExported(packageDir, subpath);
  return found;
}

// PACKAGE_IMPORTS_EXPORTS_RESOLVE: an exact key, else the best "*" pattern key
function resolveMapped(packageDir, subpath, map, imports) {
  if (ObjectPrototypeHasOwnProperty(map, subpath) && StringPrototypeIndexOf(subpath, "*") === -1) {
    return resolveTarget(packageDir, subpath, map[subpath], undefined, false, imports);
  }
  const keys = ObjectKeys(map);
  let bestKey = "", bestMatch;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    const star = StringPrototypeIndexOf(key, "*");
    if (star === -1 || StringPrototypeIndexOf(key, "*", star + 1) !== -1) continue;
    const prefix = StringPrototypeSlice(key, 0, star);
    const suffix = StringPrototypeSlice(key, star + 1);
    if (subpath !== prefix && StringPrototypeStartsWith(subpath, prefix) && subpath.length >= key.length
        && endsWith(subpath, suffix) && patternKeyCompare(bestKey, key) === 1) {
      bestKey = key;
      bestMatch = StringPrototypeSlice(subpath, prefix.length, subpath.length - suffix.length);
    }
  }
  if (bestKey === "") return undefined;
  return resolveTarget(packageDir, subpath, map[bestKey], bestMatch, true, imports);
}

// PATTERN_KEY_COMPARE: 1 when keyB sorts first (longer prefix, then longer key)
function patternKeyCompare(keyA, keyB) {
  if (keyA === "") return 1;
  const starA = StringPrototypeIndexOf(keyA, "*"), starB = StringPrototypeIndexOf(keyB, "*");
  const baseA = starA === -1 ? keyA.length : starA + 1, baseB = starB === -1 ? keyB.length : starB + 1;
  if (baseA > baseB) return -1;
  if (baseB > baseA) return 1;
  if (starA === -1) return 1;
  if (starB === -1) return -1;
  if (keyA.length > keyB.length) return -1;
  if (keyB.length > keyA.length) return 1;
  return 0;
}

const INVALID_SEGMENT = /(^|\\|\/)((\.|%2e)(\.|%2e)?|(n|%6e|%4e)(o|%6f|%4f)(d|%64|%44)(e|%65|%45)_(m|%6d|%4d)(o|%6f|%4f)(d|%64|%44)(u|%75|%55)(l|%6c|%4c)(e|%65|%45)(s|%73|%53))?(\\|\/|$)/i;

// PACKAGE_TARGET_RESOLVE: a path string, an array of fallbacks, an object of conditions, null
function resolveTarget(packageDir, subpath, target, patternMatch, isPattern, imports) {
  if (typeof target === "string") {
    if (!StringPrototypeStartsWith(target, "./")) {
      if (imports && !StringPrototypeStartsWith(target, "../") && !StringPrototypeStartsWith(target, "/")) {
        // an import mapped to a package ("#dep": "some-package"): resolved from the package
        return { bare: isPattern ? replaceStars(target, patternMatch) : target };
      }
      throw invalidTarget(packageDir, subpath, target);
    }
    if (RegExpPrototypeTest(INVALID_SEGMENT, StringPrototypeSlice(target, 2))) throw invalidTarget(packageDir, subpath, target);
    const resolved = packageDir + "/" + StringPrototypeSlice(target, 2);
    if (patternMatch === undefined) return normalize(resolved);
    if (RegExpPrototypeTest(INVALID_SEGMENT, patternMatch)) {
      throw nodeError(TypeErrorCtor, "Invalid module \"" + subpath + "\" request is not a valid match in pattern \"" + target
        + "\" for the \"" + (imports ? "imports" : "exports") + "\" resolution of " + packageDir + "/package.json", "ERR_INVALID_MODULE_SPECIFIER");
    }
    return normalize(replaceStars(resolved, patternMatch));
  }
  if (ArrayIsArray(target)) {
    let lastError;
    for (let i = 0; i < target.length; i++) {
      let found;
      try {
        found = resolveTarget(packageDir, subpath, target[i], patternMatch, isPattern, imports);
      } catch (err) {
        if (err !== null && typeof err === "object" && err.code === "ERR_INVALID_PACKAGE_TARGET") { lastError = err; continue; }
        throw err;
      }
      if (found === undefined) continue;
      if (found === null) { lastError = null; continue; }
      return found;
    }
    if (lastError !== undefined && lastError !== null) throw lastError;
    return lastError;
  }
  if (target !== null && typeof target === "object") {
    const keys = ObjectKeys(target);
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i];
      if (key === "default" || ArrayPrototypeIndexOf(conditions, key) !== -1) {
        const found = resolveTarget(packageDir, subpath, target[key], patternMatch, isPattern, imports);
        if (found === undefined) continue;
        return found;
      }
    }
    return undefined;
  }
  if (target === null) return null;
  throw invalidTarget(packageDir, subpath, target);
}

function replaceStars(text, match) {
  const parts = StringPrototypeSplit(text, "*");
  return ArrayPrototypeJoin(parts, match);
}

// "#name" through the "imports" of the nearest package.json
function resolveImports(tree, request, fromDir, parent) {
  if (request === "#" || StringPrototypeStartsWith(request, "#/")) {
    throw nodeError(TypeErrorCtor, "Invalid module \"" + request + "\" is not a valid internal imports specifier name", "ERR_INVALID_MODULE_SPECIFIER");
  }
  const scope = packageScope(tree, fromDir);
  const imports = scope === null ? undefined : own(packageJson(tree, scope), "imports");
  let found;
  if (imports !== undefined && imports !== null && typeof imports === "object" && !ArrayIsArray(imports)) {
    found = resolveMapped(scope, request, imports, true);
  }
  if (found === undefined || found === null) {
    throw nodeError(TypeErrorCtor, "Package import specifier \"" + request + "\" is not defined" + (scope === null ? "" : " in package " + scope + "/package.json")
      + " imported from " + parent.filename, "ERR_PACKAGE_IMPORT_NOT_DEFINED");
  }
  if (typeof found === "object") {
    // a bare target: a built-in or a package, resolved as a require from the package's scope
    if (isBuiltinName(found.bare)) return found.bare;
    return resolveFilename(tree, found.bare, { path: scope, filename: scope + "/package.json", parent: parent, esm: parent.esm });
  }
  return existing(tree, found, request, parent);
}

// -- loading ------------------------------------------------------------------------------

function packageOf(tree, filename) {
  const scope = packageScope(tree, dirname(filename));
  if (scope === null) return "";
  const pj = packageJson(tree, scope);
  const name = own(pj, "name"), version = own(pj, "version");
  return typeof name === "string" ? " (package " + name + (typeof version === "string" ? "@" + version : "") + ")" : "";
}

function isModuleFile(tree, filename) {
  if (endsWith(filename, ".mjs")) return true;
  if (endsWith(filename, ".cjs") || !endsWith(filename, ".js")) return false;
  const scope = packageScope(tree, dirname(filename));
  return scope !== null && own(packageJson(tree, scope), "type") === "module";
}

// require(esm), as Node 22.12+ does it: the ES module's source made CommonJS once per isolate
// (internal/esm_to_cjs: sucrase's imports transform, lines kept), its exports with __esModule
// and `default` (what require returns, as Node's namespace object), its `import.meta` defined
// per module. Sucrase reads import/export only: it never runs the code it is given.
let esmConverter = null;
function esmSource(tree, filename) {
  const text = readText(tree, filename);
  if (esmConverter === null) esmConverter = esmToCjs();
  let converted;
  try {
    converted = esmConverter(text, filename);
  } catch (err) {
    const message = err !== null && typeof err === "object" ? StringCtor(err.message) : StringCtor(err);
    throw nodeError(SyntaxErrorCtor, filename + packageOf(tree, filename) + ": " + message, "ERR_INVALID_ESM_SYNTAX");
  }
  const meta = "const __actionhost_import_meta = { url: " + JSONStringify("file://" + filename) + ", filename: "
    + JSONStringify(filename) + ", dirname: " + JSONStringify(dirname(filename)) + " };";
  // after the directive that makes it strict, as every ES module is, on the same line
  const directive = "\"use strict\";";
  const body = StringPrototypeStartsWith(converted, directive) ? StringPrototypeSlice(converted, directive.length) : converted;
  return directive + meta + body;
}

function requireAsyncError(filename, parent) {
  return nodeError(ErrorCtor, "require() cannot be used on an ESM graph with top-level await. Use import() instead.\n  From "
    + parent.filename + " \n  Requiring " + filename, "ERR_REQUIRE_ASYNC_MODULE");
}

class Module {
  constructor(filename, parent, tree, esm) {
    this.id = filename;
    this.path = dirname(filename);
    this.exports = {};
    this.filename = filename;
    this.loaded = false;
    this.children = [];
    this.paths = nodeModulesPaths(this.path);
    ObjectDefineProperty(this, "parent", { value: parent, writable: true, enumerable: false, configurable: true });
    // an ES module's imports resolve with the import conditions (resolveFilename)
    if (esm) ObjectDefineProperty(this, "esm", { value: true, enumerable: false });
    this.require = makeRequire(tree, this);
  }
}
ObjectFreeze(Module.prototype);

function loadFile(tree, filename, parent) {
  // a "#" import mapped to a built-in
  if (!StringPrototypeStartsWith(filename, "/")) return builtinFor(filename, true);
  const cached = tree.cache[filename];
  if (cached !== undefined) {
    if (parent !== undefined && ArrayPrototypeIndexOf(parent.children, cached) === -1) ArrayPrototypePush(parent.children, cached);
    return cached.exports;
  }
  if (endsWith(filename, ".node")) {
    throw nodeError(ErrorCtor, "Cannot load native addon " + filename + packageOf(tree, filename)
      + ": actions cannot load native addons; use a package that is plain JavaScript", "ERR_DLOPEN_FAILED");
  }
  const esm = isModuleFile(tree, filename);
  const module = new Module(filename, parent, tree, esm);
  tree.cache[filename] = module;
  if (parent !== undefined) ArrayPrototypePush(parent.children, module);
  let threw = true;
  try {
    if (endsWith(filename, ".json")) {
      try {
        module.exports = JSONParse(readText(tree, filename));
      } catch (err) {
        if (err !== null && typeof err === "object") err.message = filename + ": " + err.message;
        throw err;
      }
    } else {
      const key = tree.files.get(filename);
      let fn = compiled.get(key);
      if (fn === undefined) {
        if (esm) {
          try {
            fn = compileModule(filename, esmSource(tree, filename));
          } catch (err) {
            // an await at the top level is legal in a module, not in the function it became
            if (err !== null && typeof err === "object" && err.name === "SyntaxError"
                && StringPrototypeIndexOf(StringCtor(err.message), "await is only valid") !== -1) throw requireAsyncError(filename, parent);
            throw err;
          }
        } else {
          fn = compileModule(filename, readText(tree, filename));
        }
        compiled.set(key, fn);
      }
      ReflectApply(fn, module.exports, [module.exports, module.require, module, filename, module.path]);
    }
    threw = false;
  } finally {
    if (threw) delete tree.cache[filename];
  }
  module.loaded = true;
  return module.exports;
}

function validateRequest(id) {
  if (typeof id !== "string") {
    throw nodeError(TypeErrorCtor, "The \"id\" argument must be of type string. Received " + describeReceived(id), "ERR_INVALID_ARG_TYPE");
  }
  if (id === "") throw nodeError(TypeErrorCtor, "The argument 'id' must be a non-empty string. Received ''", "ERR_INVALID_ARG_VALUE");
}

// require for a module of the tree: built-ins first (for library code, a built-in an action
// cannot have is a stand-in that fails when used: libraries load `fs` or `net` for paths an
// action never takes), then the tree
function makeRequire(tree, module) {
  const require = function require(id) {
    validateRequest(id);
    const builtin = builtinFor(id, true);
    if (builtin !== undefined) return builtin;
    return loadFile(tree, resolveFilename(tree, id, module), module);
  };
  const resolve = function resolve(id) {
    validateRequest(id);
    if (isBuiltinName(id)) return id;
    return resolveFilename(tree, id, module);
  };
  resolve.paths = function paths(id) {
    return isBuiltinName(StringCtor(id)) ? null : nodeModulesPaths(module.path);
  };
  require.resolve = resolve;
  require.cache = tree.cache;
  require.main = tree.mainModule;
  return require;
}

// The action's own require of a request that is not a built-in: the module object standing for
// the action's file is made on first use.
function requireFromAction(tree, id, resolveOnly) {
  if (tree.mainModule === undefined) {
    const main = ObjectCreate(null);
    main.id = ".";
    main.filename = tree.action;
    main.path = "/";
    main.children = [];
    main.parent = null;
    tree.mainModule = main;
  }
  const filename = resolveFilename(tree, id, tree.mainModule);
  return resolveOnly ? filename : loadFile(tree, filename, tree.mainModule);
}

return { createTree, requireFromAction };

// CommonJS loading of action code, once per isolate: module scope is evaluated on first use and
// reused by later executions; a top-level error is kept and rethrown on every execution.
// Code is compiled with the captured Function constructor (the body is parsed on its own, so
// action source cannot close the wrapper and run code outside it).

const MODULE_PARAMS = ["exports", "require", "module", "__filename", "__dirname"];
const FUNCTION_BODY_LINE_OFFSET = 2; // "(function anonymous(...\n) {\n" precedes the body

function compileModule(name, code) {
  const args = ArrayPrototypeSlice(MODULE_PARAMS);
  // a first line "#!..." (Node accepts it) becomes a comment of the same length (sandbox/compiler.py)
  const source = StringPrototypeStartsWith(code, "#!") ? "//" + StringPrototypeSlice(code, 2) : code;
  ArrayPrototypePush(args, source + "\n//# sourceURL=" + name);
  return ReflectApply(FunctionCtor, undefined, args);
}

// Stack and syntax-error positions refer to the wrapper; report them as lines of the file.
// Frames of the runtime's own code (one anonymous script: "<anonymous>:line:col") are dropped:
// a stack names the action's lines and built-ins ("Array.map (<anonymous>)", as in Node), never
// the host's step machinery.
const RegExpCtor = RegExp;
const RUNTIME_FRAME = /\n[ \t]+at [^\n]*<anonymous>:\d+:\d+\)?(?=\n|$)/g;

function fileStack(stack, name) {
  if (typeof stack !== "string") return stack;
  const escaped = StringPrototypeReplace(name, /[.*+?^${}()|[\]\\]/g, "\\$&");
  const renumbered = StringPrototypeReplace(stack, new RegExpCtor(escaped + ":(\\d+):(\\d+)", "g"),
    (_, line, col) => name + ":" + MathMax(1, NumberCtor(line) - FUNCTION_BODY_LINE_OFFSET) + ":" + col);
  return StringPrototypeReplace(renumbered, RUNTIME_FRAME, "");
}

// An action's require: Node's built-in modules (42_node_builtins.js: exports, or an error for
// one an action cannot have), then the action's npm packages (lazy/cjs.js), else Node's
// MODULE_NOT_FOUND.
function makeRequire(module) {
  const name = module.name;
  const notFound = (id) => {
    const err = new ErrorCtor("Cannot find module '" + StringCtor(id) + "'\nRequire stack:\n- /" + name);
    ObjectDefineProperty(err, "code", { value: "MODULE_NOT_FOUND", writable: true, enumerable: true, configurable: true });
    ObjectDefineProperty(err, "requireStack", { value: ["/" + name], writable: true, enumerable: true, configurable: true });
    return err;
  };
  const require = function require(id) {
    if (typeof id !== "string") {
      throw nodeError(TypeErrorCtor, 'The "id" argument must be of type string. Received ' + describeReceived(id), "ERR_INVALID_ARG_TYPE");
    }
    if (id === "") throw nodeError(TypeErrorCtor, "The argument 'id' must be a non-empty string. Received ''", "ERR_INVALID_ARG_VALUE");
    const builtin = lookupBuiltin(id);
    if (builtin !== undefined) return builtin;
    if (module.packages === undefined) throw notFound(id);
    return cjsImpl().requireFromAction(packageTree(module), id, false);
  };
  require.resolve = function resolve(id) {
    if (isBuiltinName(id)) return id;
    if (module.packages === undefined || typeof id !== "string" || id === "") throw notFound(id);
    return cjsImpl().requireFromAction(packageTree(module), id, true);
  };
  require.cache = ObjectCreate(null);
  return require;
}

// The action's npm packages as the loader sees them (lazy/cjs.js), made on its first require.
function packageTree(module) {
  if (module.tree === undefined) module.tree = cjsImpl().createTree(module.packages, "/" + module.name);
  return module.tree;
}

let cjsLoaded = null;
function cjsImpl() {
  if (cjsLoaded === null) {
    cjsLoaded = lazyRuntime("cjs", {
      ArrayIsArray, ArrayPrototypeIndexOf, ArrayPrototypeJoin, ArrayPrototypePop, ArrayPrototypePush, ErrorCtor, JSONParse,
      JSONStringify, ObjectCreate, ObjectDefineProperty, ObjectFreeze, ObjectKeys, ObjectPrototypeHasOwnProperty, ReflectApply,
      RegExpPrototypeTest, SafeMap, StringCtor, StringPrototypeCharCodeAt, StringPrototypeIndexOf, StringPrototypeReplace,
      StringPrototypeSlice, StringPrototypeSplit, StringPrototypeStartsWith, SyntaxErrorCtor, TypeErrorCtor, asciiText,
      builtinFor, compileModule, describeReceived, esmToCjs: () => requireBuiltin("internal/esm_to_cjs"), hostSync,
      isBuiltinName, nodeError,
    });
  }
  return cjsLoaded;
}

// A built-in for library code in a package: as for an action, but one an action cannot have
// (fs, net, child_process, ...) is a stand-in whose functions fail when called. Libraries load
// them for paths an action never takes (form-data requires fs at its top, for file streams).
const ProxyCtor = Proxy;
const deniedStandIns = new SafeMap();
function builtinFor(id, library) {
  try {
    return lookupBuiltin(id);
  } catch (err) {
    if (!library || err === null || typeof err !== "object" || ObjectGetPrototypeOf(err) !== ErrorCtor.prototype
        || ReflectGetOwnPropertyDescriptor(err, "code") === undefined || err.code !== "ERR_ACCESS_DENIED") throw err;
    return deniedStandIn(StringPrototypeStartsWith(id, "node:") ? StringPrototypeSlice(id, 5) : id, err.message);
  }
}

function deniedStandIn(name, reason) {
  let standIn = deniedStandIns.get(name);
  if (standIn !== undefined) return standIn;
  const members = new SafeMap();
  const member = (key) => {
    let fn = members.get(key);
    if (fn === undefined) {
      fn = function () {
        throw nodeError(ErrorCtor, reason + ": " + name + "." + key + " was called", "ERR_ACCESS_DENIED");
      };
      ObjectFreeze(fn.prototype);
      ObjectFreeze(fn);
      members.set(key, fn);
    }
    return fn;
  };
  standIn = new ProxyCtor(ObjectCreate(null), {
    get(target, key) {
      // (a module namespace check or a thenable check finds nothing)
      return typeof key !== "string" || key === "__esModule" || key === "then" || key === "default" ? undefined : member(key);
    },
    set() { return false; },
    defineProperty() { return false; },
    deleteProperty() { return false; },
    setPrototypeOf() { return false; },
  });
  deniedStandIns.set(name, standIn);
  return standIn;
}

// module: {name, code, state: "new"|"loaded"|"failed", exports, error}
function loadModule(module) {
  if (module.state === "loaded") return module.exports;
  if (module.state === "failed") throw module.error;
  try {
    const fn = compileModule(module.name, module.code);
    const box = { exports: {} };
    ReflectApply(fn, box.exports, [box.exports, makeRequire(module), box, "/" + module.name, "/"]);
    module.exports = box.exports;
    module.state = "loaded";
    return module.exports;
  } catch (err) {
    module.state = "failed";
    module.error = err;
    throw err;
  }
}

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
// one an action cannot have), then npm packages (requirePackage), else Node's MODULE_NOT_FOUND.
function makeRequire(name) {
  const notFound = (id) => {
    const err = new ErrorCtor("Cannot find module '" + StringCtor(id) + "'\nRequire stack:\n- " + name);
    ObjectDefineProperty(err, "code", { value: "MODULE_NOT_FOUND", writable: true, enumerable: true, configurable: true });
    ObjectDefineProperty(err, "requireStack", { value: [name], writable: true, enumerable: true, configurable: true });
    return err;
  };
  const require = function require(id) {
    if (typeof id !== "string") {
      throw nodeError(TypeErrorCtor, 'The "id" argument must be of type string. Received ' + describeReceived(id), "ERR_INVALID_ARG_TYPE");
    }
    if (id === "") throw nodeError(TypeErrorCtor, "The argument 'id' must be a non-empty string. Received ''", "ERR_INVALID_ARG_VALUE");
    const builtin = lookupBuiltin(id);
    if (builtin !== undefined) return builtin;
    const pkg = requirePackage(id, name);
    if (pkg !== undefined) return pkg;
    throw notFound(id);
  };
  require.resolve = function resolve(id) {
    if (isBuiltinName(id)) return id;
    throw notFound(id);
  };
  require.cache = ObjectCreate(null);
  return require;
}

// The seam for npm packages bundled with an action (a later issue): exports of package `id`
// required from action `from`, or undefined when there is none.
function requirePackage(id, from) {
  return undefined;
}

// module: {name, code, state: "new"|"loaded"|"failed", exports, error}
function loadModule(module) {
  if (module.state === "loaded") return module.exports;
  if (module.state === "failed") throw module.error;
  try {
    const fn = compileModule(module.name, module.code);
    const box = { exports: {} };
    ReflectApply(fn, box.exports, [box.exports, makeRequire(module.name), box, "/" + module.name, "/"]);
    module.exports = box.exports;
    module.state = "loaded";
    return module.exports;
  } catch (err) {
    module.state = "failed";
    module.error = err;
    throw err;
  }
}

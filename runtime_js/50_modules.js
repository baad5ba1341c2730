// CommonJS loading of action code, once per isolate: module scope is evaluated on first use and
// reused by later executions; a top-level error is kept and rethrown on every execution.
// Code is compiled with the captured Function constructor (the body is parsed on its own, so
// action source cannot close the wrapper and run code outside it).

const MODULE_PARAMS = ["exports", "require", "module", "__filename", "__dirname"];
const FUNCTION_BODY_LINE_OFFSET = 2; // "(function anonymous(...\n) {\n" precedes the body

function compileModule(name, code) {
  const args = ArrayPrototypeSlice(MODULE_PARAMS);
  ArrayPrototypePush(args, code + "\n//# sourceURL=" + name);
  return ReflectApply(FunctionCtor, undefined, args);
}

// Stack and syntax-error positions refer to the wrapper; report them as lines of the file.
// Frames of the runtime's own code (one anonymous script: "<anonymous>:line:col") are dropped:
// a stack names the action's lines and built-ins ("Array.map (<anonymous>)", as in Node), never
// the host's step machinery.
const RUNTIME_FRAME = /\n[ \t]+at [^\n]*<anonymous>:\d+:\d+\)?(?=\n|$)/g;

function fileStack(stack, name) {
  if (typeof stack !== "string") return stack;
  const escaped = StringPrototypeReplace(name, /[.*+?^${}()|[\]\\]/g, "\\$&");
  const renumbered = StringPrototypeReplace(stack, new RegExp(escaped + ":(\\d+):(\\d+)", "g"),
    (_, line, col) => name + ":" + MathMax(1, NumberCtor(line) - FUNCTION_BODY_LINE_OFFSET) + ":" + col);
  return StringPrototypeReplace(renumbered, RUNTIME_FRAME, "");
}

function makeRequire(name) {
  return function require(id) {
    const err = new ErrorCtor("Cannot find module '" + StringCtor(id) + "'\nRequire stack:\n- " + name);
    err.code = "MODULE_NOT_FOUND";
    throw err;
  };
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

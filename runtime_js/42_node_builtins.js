// Node's built-in modules for an action's require(), and the `process`, `Buffer` and `global`
// globals. A module is built once per isolate, on its first require. Most are npm packages or
// actionhost's own library code bundled under runtime_js/vendor/ (build.sh): their text is not
// part of the runtime (it would cost every isolate memory) but comes from the host on first
// require (sync host call "builtin.source"), and runs as library code with the action's
// built-ins. This file's own code uses captured intrinsics only.
//
// Other runtime files add modules with registerBuiltin(name, factory) at their top level.

const builtinFactories = new SafeMap(); // name -> factory()
const builtinExports = new SafeMap();   // name -> exports, once built
const builtinBuilding = new SafeMap();  // name -> {exports} while its factory runs (cycles)

// Names of the vendored modules, from the loader's prefix (sandbox/isolate.py runtime_source()).
const VENDORED = globalThis.__actionhost_vendor !== undefined ? globalThis.__actionhost_vendor : [];
delete globalThis.__actionhost_vendor;

function registerBuiltin(name, factory) {
  builtinFactories.set(name, factory);
}

// A vendored bundle is compiled as function (module, exports, require) by the Function
// constructor: its own scope, none of the runtime's, and stack frames naming it as Node's do
// ("node:buffer:1:2345"). (Looked up in VENDORED, not registered: a closure per module at load
// is heap every isolate carries.)
function buildVendored(name) {
  const source = asciiText(hostSync("builtin.source", name));
  const bundle = ReflectApply(FunctionCtor, undefined, ["module", "exports", "require", source + "\n//# sourceURL=node:" + name]);
  const module = { exports: {} };
  builtinBuilding.set(name, module);
  ReflectApply(bundle, module.exports, [module, module.exports, vendorRequire]);
  return module.exports;
}

// The bundles are ASCII (esbuild's charset=ascii escapes the rest): decoded natively, a chunk
// at a time (utf8Decode, not yet compiled when the first module loads, takes ~5 ms per 40 KB).
function asciiText(bytes) {
  const length = TypedArrayPrototypeGetLength(bytes);
  let text = "";
  for (let i = 0; i < length; i += 8192) {
    const chunk = new Uint8ArrayCtor(TypedArrayPrototypeGetBuffer(bytes), TypedArrayPrototypeGetByteOffset(bytes) + i, MathMin(8192, length - i));
    text += ReflectApply(StringFromCharCode, null, chunk);
  }
  return text;
}

// A bundle's require: built-ins (the "internal/" ones included), npm's shims of built-ins
// ("process/", "buffer/"), and abort-controller, which Node 22 has as globals.
function vendorRequire(id) {
  let name = StringCtor(id);
  if (name.length > 1 && name[name.length - 1] === "/") name = StringPrototypeSlice(name, 0, -1);
  if (name === "abort-controller") {
    if (typeof globalThis.AbortController === "function" && typeof globalThis.AbortSignal === "function") {
      return { AbortController: globalThis.AbortController, AbortSignal: globalThis.AbortSignal };
    }
    return requireBuiltin("internal/abort_controller");
  }
  return requireBuiltin(name);
}

// Node 22's built-ins that an action cannot have, with the reason, refused at require; the ones
// marked NOT_YET are available once the runtime file that implements them registers them.
const NO_FS = "actions have no file system";
const NO_PROCESSES = "actions cannot start processes or threads";
const NO_SOCKETS = "actions have no sockets: use fetch, http or https";
const NO_INTERNALS = "actions cannot reach the runtime's internals";
const NO_TERMINAL = "actions have no terminal";
const NOT_YET = "not implemented in actions";
const DENIED_MODULES = {
  __proto__: null,
  fs: NO_FS, "fs/promises": NO_FS, child_process: NO_PROCESSES, cluster: NO_PROCESSES, worker_threads: NO_PROCESSES,
  net: NO_SOCKETS, tls: NO_SOCKETS, dgram: NO_SOCKETS, http2: NO_SOCKETS, dns: NO_SOCKETS, "dns/promises": NO_SOCKETS,
  _tls_common: NO_SOCKETS, _tls_wrap: NO_SOCKETS, _stream_wrap: NO_SOCKETS, _http_server: NO_SOCKETS,
  vm: NO_INTERNALS, v8: NO_INTERNALS, inspector: NO_INTERNALS, "inspector/promises": NO_INTERNALS, module: NO_INTERNALS,
  repl: NO_INTERNALS, trace_events: NO_INTERNALS, wasi: NO_INTERNALS,
  readline: NO_TERMINAL, "readline/promises": NO_TERMINAL,
  "path/win32": "actions run on Linux: use path or path/posix",
  async_hooks: NOT_YET, domain: NOT_YET, constants: NOT_YET,
  "stream/consumers": NOT_YET, crypto: NOT_YET, zlib: NOT_YET, http: NOT_YET, https: NOT_YET, _http_agent: NOT_YET,
  _http_client: NOT_YET, _http_common: NOT_YET, _http_incoming: NOT_YET, _http_outgoing: NOT_YET,
};
// Only reachable with the node: prefix in Node 22.
const NODE_PREFIX_ONLY = { __proto__: null, test: NOT_YET, "test/reporters": NOT_YET, sea: NO_INTERNALS, sqlite: NO_FS };

function codedError(Ctor, message, code) {
  const err = new Ctor(message);
  ObjectDefineProperty(err, "code", { value: code, writable: true, enumerable: true, configurable: true });
  return err;
}

// exports of built-in `id` (with or without "node:"); undefined when Node has no built-in of
// that name (the caller reports MODULE_NOT_FOUND); throws for one an action cannot have.
function lookupBuiltin(id) {
  if (typeof id !== "string" || StringPrototypeStartsWith(id, "internal/")) return undefined;
  return builtinExportsOf(id);
}

function builtinExportsOf(id) {
  const prefixed = StringPrototypeStartsWith(id, "node:");
  const name = prefixed ? StringPrototypeSlice(id, 5) : id;
  let exports = builtinExports.get(name);
  if (exports !== undefined) return exports;
  const building = builtinBuilding.get(name);
  if (building !== undefined) return building.exports;
  const factory = builtinFactories.get(name);
  const vendored = factory === undefined && ArrayPrototypeIndexOf(VENDORED, name) !== -1;
  const alias = factory === undefined ? BUILTIN_ALIASES[name] : undefined;
  if (factory === undefined && !vendored && alias === undefined) {
    const reason = DENIED_MODULES[name] !== undefined ? DENIED_MODULES[name] : prefixed ? NODE_PREFIX_ONLY[name] : undefined;
    if (reason !== undefined) {
      const err = codedError(ErrorCtor, "Module '" + id + "' is not available to actions (" + reason + ")", "ERR_ACCESS_DENIED");
      ObjectDefineProperty(err, "moduleName", { value: id, writable: true, enumerable: true, configurable: true });
      throw err;
    }
    if (prefixed) throw codedError(ErrorCtor, "No such built-in module: " + id, "ERR_UNKNOWN_BUILTIN_MODULE");
    return undefined;
  }
  builtinBuilding.set(name, { exports: undefined });
  try {
    exports = factory !== undefined ? factory() : vendored ? buildVendored(name) : aliasExports(alias);
  } finally {
    builtinBuilding.delete(name);
  }
  builtinExports.set(name, exports);
  // shared by every later execution of the isolate, as the built-ins are (95_seal.js)
  if (!StringPrototypeStartsWith(name, "internal/")) sealBuiltinModule(name, exports);
  return exports;
}

function requireBuiltin(id) {
  const exports = builtinExportsOf(StringCtor(id));
  if (exports === undefined) throw codedError(ErrorCtor, "Cannot find module '" + StringCtor(id) + "'", "MODULE_NOT_FOUND");
  return exports;
}

function isBuiltinName(id) {
  if (typeof id !== "string" || StringPrototypeStartsWith(id, "internal/")) return false;
  const prefixed = StringPrototypeStartsWith(id, "node:");
  const name = prefixed ? StringPrototypeSlice(id, 5) : id;
  return builtinFactories.has(name) || ArrayPrototypeIndexOf(VENDORED, name) !== -1 || BUILTIN_ALIASES[name] !== undefined ||
    DENIED_MODULES[name] !== undefined || (prefixed && NODE_PREFIX_ONLY[name] !== undefined);
}

// ---- process.nextTick ------------------------------------------------------------------------
// As in Node, ticks run after the code that queued them and before the promise jobs that code
// queued after them -- when it runs in a step (the first action's synchronous start, a timer)
// -- or, queued from a promise job (code after an await), once the promise jobs have run dry
// (afterMicrotasks, 70_host.js). Ticks queued by a tick run in the same pass. Each tick is part
// of the execution that queued it: it dies with it, as its timers do, and a throwing tick fails it.
let tickQueue = [];
function runTicks() {
  for (let i = 0; i < tickQueue.length; i++) runAs(tickQueue[i].owner, tickQueue[i].fn, tickQueue[i].args);
  tickQueue = [];
}
function nextTick(fn, ...args) {
  if (typeof fn !== "function") {
    throw codedError(TypeErrorCtor, 'The "callback" argument must be of type function. Received ' + describeReceived(fn), "ERR_INVALID_ARG_TYPE");
  }
  ArrayPrototypePush(tickQueue, { owner: activeExecution(), fn, args });
  if (tickQueue.length !== 1) return;
  if (host.inStep) PromisePrototypeThen(PromiseResolve(undefined), runTicks);
  else afterMicrotasks(runTicks);
}

// ---- globals ---------------------------------------------------------------------------------

const RUNTIME_STARTED = DateNow();
const runtimeTimers = {
  setTimeout: globalThis.setTimeout, clearTimeout: globalThis.clearTimeout, setInterval: globalThis.setInterval,
  clearInterval: globalThis.clearInterval, setImmediate: globalThis.setImmediate, clearImmediate: globalThis.clearImmediate,
};

// What the vendored modules need of the runtime (an action's require refuses "internal/").
// `tty`: an action has no terminal, so no descriptor is one (libraries such as `debug` and
// `supports-color` ask at load time); its stream classes cannot be opened, as on a descriptor
// that is not a terminal.
registerBuiltin("tty", () => {
  function noTerminal() { throw codedError(ErrorCtor, "TTY initialization failed: actions have no terminal", "ERR_TTY_INIT_FAILED"); }
  return { isatty: function isatty(fd) { return false; }, ReadStream: function ReadStream() { noTerminal(); },
           WriteStream: function WriteStream() { noTerminal(); } };
});

registerBuiltin("internal/runtime", () => ({
  URL, URLSearchParams, nextTick, startedAt: RUNTIME_STARTED,
  setTimeout: runtimeTimers.setTimeout, clearTimeout: runtimeTimers.clearTimeout,
  setInterval: runtimeTimers.setInterval, clearInterval: runtimeTimers.clearInterval,
  setImmediate: runtimeTimers.setImmediate, clearImmediate: runtimeTimers.clearImmediate,
  log(level, text) { logSink(level === "error" || level === "warn" ? level : "log", StringCtor(text)); },
  bufferBytes() { return bufferLive; },
}));

// process and Buffer are built on first use (an action that never touches them pays nothing);
// the first read replaces the accessor with the plain data property Node has.
function defineNodeGlobal(name, value) {
  ObjectDefineProperty(globalThis, name, { value, writable: true, configurable: true, enumerable: false });
}
// Once made it is sealed like the other globals (95_seal.js): an assignment before the first
// read makes the original first, so the check sees the change.
function defineLazyGlobal(name, build) {
  const materialize = () => {
    const value = build();
    defineNodeGlobal(name, value);
    sealMadeLater([[globalThis, "globalThis", [name]]]);
    return value;
  };
  ObjectDefineProperty(globalThis, name, {
    get() { return materialize(); },
    set(value) { materialize(); globalThis[name] = value; },
    configurable: true, enumerable: false,
  });
}
defineLazyGlobal("process", () => requireBuiltin("process"));
defineLazyGlobal("Buffer", () => requireBuiltin("buffer").Buffer);
defineLazyGlobal("performance", () => requireBuiltin("perf_hooks").performance);
defineLazyGlobal("structuredClone", () => requireBuiltin("internal/structured_clone"));
// the WHATWG streams, as Node 22 has them as globals (stream/web)
const WEB_STREAM_GLOBALS = ["ReadableStream", "ReadableStreamDefaultReader", "ReadableStreamBYOBReader",
  "ReadableStreamBYOBRequest", "ReadableByteStreamController", "ReadableStreamDefaultController", "TransformStream",
  "TransformStreamDefaultController", "WritableStream", "WritableStreamDefaultWriter", "WritableStreamDefaultController",
  "ByteLengthQueuingStrategy", "CountQueuingStrategy", "TextEncoderStream", "TextDecoderStream"];
for (let i = 0; i < WEB_STREAM_GLOBALS.length; i++) {
  const name = WEB_STREAM_GLOBALS[i];
  if (typeof globalThis[name] === "undefined") defineLazyGlobal(name, () => requireBuiltin("stream/web")[name]);
}
defineNodeGlobal("global", globalThis);

// ---- aliases ---------------------------------------------------------------------------------

// name -> "module" or "module property" it stands for ("" for the console global)
const BUILTIN_ALIASES = {
  __proto__: null, console: "", sys: "util", "path/posix": "path", "assert/strict": "assert strict",
  "util/types": "util types", "stream/promises": "stream promises", "timers/promises": "timers promises",
  _stream_readable: "stream Readable", _stream_writable: "stream Writable", _stream_duplex: "stream Duplex",
  _stream_transform: "stream Transform", _stream_passthrough: "stream PassThrough",
};
function aliasExports(alias) {
  if (alias === "") return globalThis.console;
  const space = StringPrototypeIndexOf(alias, " ");
  if (space === -1) return requireBuiltin(alias);
  return requireBuiltin(StringPrototypeSlice(alias, 0, space))[StringPrototypeSlice(alias, space + 1)];
}

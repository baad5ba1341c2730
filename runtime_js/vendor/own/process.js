// Node's `process` for actions (the global and the module): Node 22's version strings, an empty
// env, nextTick (the runtime's: ticks belong to the execution that queued them), hrtime at
// millisecond resolution (no finer clock is offered to actions), stdout/stderr writes as log
// lines, listeners that only an action's own emit fires, and what would leave the sandbox
// (exit, kill, chdir, ...) refused. actionhost's own code, run as library code.
"use strict";

const runtime = require("internal/runtime");

const PID = 1;
let last = 0;
function elapsedMs() {
  const now = Date.now();
  if (now > last) last = now; // never goes back, as a monotonic clock
  return last - runtime.startedAt;
}

function invalidArgType(name, expected, value) {
  const err = new TypeError(`The "${name}" argument must be ${expected}. Received ${value === null ? "null" : typeof value}`);
  err.code = "ERR_INVALID_ARG_TYPE";
  return err;
}

function hrtime(previous) {
  const ms = elapsedMs();
  let seconds = Math.floor(ms / 1000);
  let nanos = (ms - seconds * 1000) * 1e6;
  if (previous !== undefined) {
    if (!Array.isArray(previous) || previous.length !== 2) throw invalidArgType("time", "an instance of Array of length 2", previous);
    seconds -= previous[0];
    nanos -= previous[1];
    if (nanos < 0) { seconds--; nanos += 1e9; }
  }
  return [seconds, nanos];
}
hrtime.bigint = () => BigInt(elapsedMs()) * 1000000n;

function refused(what) {
  return function () {
    const err = new Error(`process.${what}() is not available to actions; return from the handler (or throw) to end it`);
    err.code = "ERR_ACCESS_DENIED";
    throw err;
  };
}

function emitWarning(warning, type, code) {
  let name = "Warning";
  if (type !== null && typeof type === "object") {
    if (typeof type.type === "string") name = type.type;
    if (typeof type.code === "string") code = type.code;
  } else if (typeof type === "string") {
    name = type;
  }
  let text;
  if (warning instanceof Error) { name = warning.name; text = warning.message; } else text = String(warning);
  runtime.log("warn", `(node:${PID}) ${typeof code === "string" ? `[${code}] ` : ""}${name}: ${text}`);
}

function stdStream(level, fd) {
  return {
    fd, isTTY: false, writable: true,
    write(chunk, encoding, callback) {
      let text = typeof chunk === "string" ? chunk : new TextDecoder().decode(chunk);
      if (text.endsWith("\n")) text = text.slice(0, -1);
      runtime.log(level, text);
      const done = typeof encoding === "function" ? encoding : callback;
      if (typeof done === "function") runtime.nextTick(done);
      return true;
    },
    on() { return this; }, once() { return this; }, off() { return this; }, removeListener() { return this; },
    emit() { return false; }, end() {},
  };
}

const listeners = new Map(); // event -> [{fn, once}]
function addListener(event, fn, once, prepend) {
  if (typeof fn !== "function") throw invalidArgType("listener", "of type function", fn);
  if (!listeners.has(event)) listeners.set(event, []);
  if (prepend) listeners.get(event).unshift({ fn, once }); else listeners.get(event).push({ fn, once });
  return process;
}
function removeListener(event, fn) {
  const list = listeners.get(event);
  if (list !== undefined) {
    const at = list.findLastIndex((l) => l.fn === fn);
    if (at !== -1) list.splice(at, 1);
  }
  return process;
}

const process = {
  version: "v22.12.0",
  versions: {
    node: "22.12.0", acorn: "8.14.0", ada: "2.9.2", ares: "1.34.3", brotli: "1.1.0", cjs_module_lexer: "1.4.1",
    icu: "76.1", llhttp: "9.2.1", modules: "127", napi: "9", nghttp2: "1.64.0", openssl: "3.0.15+quic",
    simdjson: "3.10.1", simdutf: "5.6.1", undici: "6.21.0", unicode: "16.0", uv: "1.49.1", uvwasi: "0.0.21",
    v8: "12.4.254.21-node.21", zlib: "1.3.0.1-motley-82a5fec",
  },
  release: { name: "node", lts: "Jod" },
  platform: "linux",
  arch: "x64",
  argv: ["/usr/local/bin/node", "/action.js"],
  argv0: "node",
  execArgv: [],
  execPath: "/usr/local/bin/node",
  env: {},
  pid: PID,
  ppid: 0,
  config: { target_defaults: {}, variables: {} },
  features: { inspector: false, ipv6: true, tls: false, typescript: false },
  stdout: stdStream("log", 1),
  stderr: stdStream("error", 2),
  nextTick: runtime.nextTick,
  hrtime,
  uptime: () => elapsedMs() / 1000,
  cwd: () => "/",
  umask: () => 0o22,
  memoryUsage: Object.assign(
    () => ({ rss: 0, heapTotal: 0, heapUsed: 0, external: runtime.bufferBytes(), arrayBuffers: runtime.bufferBytes() }),
    { rss: () => 0 }),
  cpuUsage: () => ({ user: 0, system: 0 }),
  resourceUsage: () => ({}),
  emitWarning,
  exit: refused("exit"),
  reallyExit: refused("reallyExit"),
  abort: refused("abort"),
  kill: refused("kill"),
  chdir: refused("chdir"),
  dlopen: refused("dlopen"),
  binding: refused("binding"),
  setuid: refused("setuid"),
  on: (event, fn) => addListener(event, fn, false, false),
  addListener: (event, fn) => addListener(event, fn, false, false),
  prependListener: (event, fn) => addListener(event, fn, false, true),
  once: (event, fn) => addListener(event, fn, true, false),
  prependOnceListener: (event, fn) => addListener(event, fn, true, true),
  off: removeListener,
  removeListener,
  removeAllListeners(event) {
    if (event === undefined) listeners.clear(); else listeners.delete(event);
    return process;
  },
  emit(event, ...args) {
    const list = listeners.get(event);
    if (list === undefined || list.length === 0) return false;
    for (const l of [...list]) {
      if (l.once) removeListener(event, l.fn);
      Reflect.apply(l.fn, process, args);
    }
    return true;
  },
  listeners: (event) => (listeners.get(event) || []).map((l) => l.fn),
  listenerCount: (event) => (listeners.get(event) || []).length,
  eventNames: () => [...listeners.keys()].filter((e) => listeners.get(e).length > 0),
  setMaxListeners: () => process,
  getMaxListeners: () => 10,
};
Object.defineProperty(process, Symbol.toStringTag, { value: "process", configurable: true });
// accessors, as in Node: an action may set them (the module is sealed like the built-ins, and an
// accessor's value is its own to change)
let exitCode;
let title = "node";
Object.defineProperty(process, "exitCode", {
  get() { return exitCode; },
  set(code) {
    if (code !== undefined && code !== null && !Number.isInteger(typeof code === "string" && code !== "" ? Number(code) : code)) {
      throw invalidArgType("code", "of type number", code);
    }
    exitCode = code;
  },
  enumerable: true, configurable: true,
});
Object.defineProperty(process, "title", {
  get() { return title; },
  set(value) { title = String(value); },
  enumerable: true, configurable: true,
});

module.exports = process;

// Snapshot of the built-ins user code shares with the runtime, taken after every runtime file
// has installed its globals. After each action the flow runner compares: an action that
// replaced one of them (or planted a property on a shared prototype) has its execution failed
// and the isolate retired, so the next execution starts with clean built-ins.

const SEALED = [];
// `only` limits the check to those keys (globalThis: new globals are allowed, since sloppy-mode
// actions create them by assignment); otherwise new or deleted keys count as changes too.
// FIXED_SHAPE instead of a key list: every key the object has now is checked by identity, and the
// object is made non-extensible instead of having its keys counted after each action (a count
// is a ReflectOwnKeys array per object per action: over the iterator prototypes alone it took
// ~25% off the sandbox floor). Nothing can be planted there; an assignment of a new key throws
// in strict code and does nothing in sloppy code.
const FIXED_SHAPE = "fixed";
const ObjectPreventExtensions = Object.preventExtensions;
function sealOwnProperties(object, label, only) {
  const fixed = only === FIXED_SHAPE;
  if (fixed) ObjectPreventExtensions(object);
  const keys = only === undefined || fixed ? ReflectOwnKeys(object) : only;
  const dataKeys = [], dataValues = [], accessorKeys = [], accessorGetters = [], fixedKeys = [];
  for (let i = 0; i < keys.length; i++) {
    let d = ReflectGetOwnPropertyDescriptor(object, keys[i]);
    if (d === undefined) continue;
    // non-configurable (still writable, so no override mistake): an action cannot swap a data
    // property for an accessor that answers this check with the original value, nor delete it
    if (d.configurable && !(object === ErrorCtor && keys[i] === "stackTraceLimit")) {
      ObjectDefineProperty(object, keys[i], { configurable: false });
      d = ReflectGetOwnPropertyDescriptor(object, keys[i]);
    }
    if (ObjectPrototypeHasOwnProperty(d, "value")) { ArrayPrototypePush(dataKeys, keys[i]); ArrayPrototypePush(dataValues, d.value); }
    else if (d.configurable) { ArrayPrototypePush(accessorKeys, keys[i]); ArrayPrototypePush(accessorGetters, d.get); }
    else ArrayPrototypePush(fixedKeys, keys[i]); // cannot be changed at all: nothing to check after each action
  }
  ArrayPrototypePush(SEALED, {
    object, label, perExecution: fixed, count: only === undefined ? keys.length : -1, // (FIXED_SHAPE: not extensible, no count)
    dataKeys, dataValues, accessorKeys, accessorGetters, fixedKeys, proto: ObjectGetPrototypeOf(object),
  });
}

// The built-ins ordinary action code leans on, and whose replacement would change what later
// executions' code computes. The runtime itself never uses them (00_primordials.js).
const SEALED_GLOBALS = ["Object", "Function", "Array", "String", "Number", "Boolean", "Symbol", "BigInt",
  "Promise", "JSON", "Reflect", "Proxy", "Math", "Date", "RegExp", "Error", "TypeError", "RangeError",
  "SyntaxError", "Map", "Set", "WeakMap", "WeakSet", "ArrayBuffer", "SharedArrayBuffer", "Uint8Array",
  "DataView", "parseInt", "parseFloat", "isNaN", "isFinite", "encodeURIComponent", "decodeURIComponent",
  "encodeURI", "decodeURI", "escape", "unescape", "eval", "setTimeout", "clearTimeout", "setInterval",
  "clearInterval", "queueMicrotask", "URL", "URLSearchParams", "TextEncoder", "TextDecoder", "atob", "btoa",
  "crypto", "undefined", "NaN", "Infinity", "globalThis"];
// [object, label, keys-to-check or undefined for all keys plus a check for planted keys]. A
// planted key on Object.prototype shows up in every event object of every later execution; on
// the others listed with their keys it is checked by identity only (counting keys of the big
// prototypes costs ~1 us each).
const allKeys = (object) => ReflectOwnKeys(object);
const SEALED_OBJECTS = [
  [globalThis, "globalThis", SEALED_GLOBALS],
  [Object.prototype, "Object.prototype"], [Function.prototype, "Function.prototype"],
  [JSON, "JSON"], [Promise, "Promise"], [Promise.prototype, "Promise.prototype"], [Array, "Array"],
  [Object, "Object", allKeys(Object)],
  [String.prototype, "String.prototype", allKeys(String.prototype)], [Reflect, "Reflect", allKeys(Reflect)],
  // the runtime's captured RegExp methods still call `this.exec`; console and crypto are shared
  // by every execution of the isolate; Error's knobs are reset before each check (above)
  [RegExp.prototype, "RegExp.prototype"], [Error, "Error"], [globalThis.console, "console"],
  // Array.prototype's own keys are counted too: a planted `toJSON` or index getter there would
  // run inside every JSON.stringify and array read of later executions
  [Array.prototype, "Array.prototype"],
];
// The iterator protocol: destructuring, spread, for...of, yield* and Array.from in user code (and
// in libraries the runtime vendors) call these `next` methods and the Symbol.iterator methods of
// the shared prototypes; a replaced one would run inside every later execution's iteration.
const GeneratorFunctionPrototype = ObjectGetPrototypeOf(function* () {});
const AsyncGeneratorFunctionPrototype = ObjectGetPrototypeOf(async function* () {});
const ITERATOR_PROTOTYPES = [
  [IteratorPrototype, "%IteratorPrototype%"],
  [ObjectGetPrototypeOf([][SymbolIterator]()), "%ArrayIteratorPrototype%"],
  [ObjectGetPrototypeOf(new Map()[SymbolIterator]()), "%MapIteratorPrototype%"],
  [ObjectGetPrototypeOf(new Set()[SymbolIterator]()), "%SetIteratorPrototype%"],
  [ObjectGetPrototypeOf(""[SymbolIterator]()), "%StringIteratorPrototype%"],
  [ObjectGetPrototypeOf(/a/g[Symbol.matchAll]("a")), "%RegExpStringIteratorPrototype%"],
  [ObjectGetPrototypeOf(AsyncGeneratorFunctionPrototype.prototype), "%AsyncIteratorPrototype%"],
  [GeneratorFunctionPrototype, "%GeneratorFunction.prototype%"],
  [GeneratorFunctionPrototype.prototype, "%GeneratorPrototype%"],
  [AsyncGeneratorFunctionPrototype, "%AsyncGeneratorFunction.prototype%"],
  [AsyncGeneratorFunctionPrototype.prototype, "%AsyncGeneratorPrototype%"],
  [Map.prototype, "Map.prototype"], [Set.prototype, "Set.prototype"],
  [TypedArrayPrototype, "%TypedArray%.prototype"],
];
if (typeof globalThis.Iterator === "function") ArrayPrototypePush(ITERATOR_PROTOTYPES, [globalThis.Iterator, "Iterator"]);
// (Intl.Segmenter's segment iterators are left out: reaching their prototypes means building a
// segmenter, which loads ICU break-iterator data into every isolate, ~0.25 MiB each.)
for (let i = 0; i < ITERATOR_PROTOTYPES.length; i++) {
  ArrayPrototypePush(SEALED_OBJECTS, [ITERATOR_PROTOTYPES[i][0], ITERATOR_PROTOTYPES[i][1], FIXED_SHAPE]);
}
if (typeof globalThis.crypto === "object") ArrayPrototypePush(SEALED_OBJECTS, [globalThis.crypto, "crypto"], [ObjectGetPrototypeOf(globalThis.crypto), "Crypto.prototype"]);

// Error.prepareStackTrace and Error.stackTraceLimit are Node's knobs for stack traces, which
// actions and libraries set: allowed while an action runs, put back after it (before the check)
// so a hook never sees a later action's errors. The runtime is strict code, so a hook's call
// sites never yield the runtime's functions or receivers. A hook made undeletable stays and is
// reported by the check as a change to Error.
const STACK_TRACE_LIMIT = ReflectGetOwnPropertyDescriptor(ErrorCtor, "stackTraceLimit");
function resetErrorKnobs() {
  ReflectDeleteProperty(ErrorCtor, "prepareStackTrace");
  ReflectDefineProperty(ErrorCtor, "stackTraceLimit", STACK_TRACE_LIMIT);
}

// Returns "Label.key" of the first built-in that changed, or null. Runs after every action, so
// the comparisons are compiled into straight-line code with named property loads (a loop of
// keyed loads over these objects costs ~10 us per call; this costs well under 1 us). Each batch
// of sealed objects gets its own compiled function (the load-time set, then one per module
// sealed later), kept as short as it can be: it is source text, bytecode and feedback in every
// isolate (at ~75 characters a key the load-time check alone was ~0.4 MiB of each isolate).
// Two tiers. After every action (a change fails the action that made it): the identity of every
// data property of the built-ins sealed by key list or key count, and their prototypes. Once per
// execution, when it ends and before the next execution can start: the key counts (a planted
// key; each count is a ReflectOwnKeys array, ~0.2-2 us per object, ~6 us per action for the
// load-time set, three quarters of what the check cost after each action), and the fixed-shape
// objects (iterator prototypes, the Node surface: far more keys, and nothing the flow runner
// itself goes through). A planted key is so seen after the execution's last action, which is
// the one the error names.
const actionChecks = [];
const executionChecks = [];
function compileCheck(from, to, counts) {
  const lines = ["let o, v, k;"];
  for (let i = from; i < to; i++) {
    const s = SEALED[i];
    if (counts) {
      if (s.count !== -1) ArrayPrototypePush(lines, "if(n(s[" + i + "].object).length!==" + s.count + ")return " + (i * 100000 - 2) + ";");
      continue;
    }
    ArrayPrototypePush(lines, "o=s[" + i + "].object;v=s[" + i + "].dataValues;k=s[" + i + "].dataKeys;"
      + "if(p(o)!==s[" + i + "].proto)return " + (i * 100000 - 1) + ";");
    for (let k = 0; k < s.dataKeys.length; k++) {
      const key = s.dataKeys[k];
      const access = typeof key === "string" && RegExpPrototypeTest(/^[A-Za-z_$][A-Za-z0-9_$]*$/, key) ? "o." + key : "o[k[" + k + "]]";
      const value = s.dataValues[k];
      // NaN (globalThis.NaN, Number.NaN) is unchanged while it is still not equal to itself
      ArrayPrototypePush(lines, value !== value ? "if(" + access + "===" + access + ")return " + (i * 100000 + k) + ";"
        : "if(" + access + "!==v[" + k + "])return " + (i * 100000 + k) + ";");
    }
  }
  if (lines.length === 1) return;
  ArrayPrototypePush(lines, "return -3;");
  const fn = ReflectApply(FunctionCtor, undefined, ["s", "p", "n", ArrayPrototypeJoin(lines, "\n")]);
  ArrayPrototypePush(SEALED[from].perExecution || counts ? executionChecks : actionChecks, () => fn(SEALED, ObjectGetPrototypeOf, ReflectOwnKeys));
}

// SEALED[from..] compiled in functions of about CHECK_CHUNK_KEYS keys each: V8 optimises a
// small function and leaves a huge one in its baseline tiers, where each comparison costs
// several times more. The key counts of the batch go in one function of their own.
const CHECK_CHUNK_KEYS = 120;
function compileChecks(from) {
  let start = from, keys = 0;
  for (let i = from; i < SEALED.length; i++) {
    if (i > start && SEALED[i].perExecution !== SEALED[start].perExecution) { compileCheck(start, i, false); start = i; keys = 0; }
    keys += SEALED[i].dataKeys.length + 1;
    if (keys >= CHECK_CHUNK_KEYS) { compileCheck(start, i + 1, false); start = i + 1; keys = 0; }
  }
  if (start < SEALED.length) compileCheck(start, SEALED.length, false);
  compileCheck(from, SEALED.length, true);
}

// After each action: "Label.key" of the first per-action built-in that changed, or null.
function checkIntrinsics() {
  if (fetchGlobalReplaced !== null) return "globalThis." + fetchGlobalReplaced;
  return runChecks(actionChecks);
}

// When an execution ends: the same for the per-execution tier.
function checkIntrinsicsAtEnd() {
  return runChecks(executionChecks);
}

function runChecks(checks) {
  for (let c = 0; c < checks.length; c++) {
    const code = checks[c]();
    if (code === -3) continue;
    const s = SEALED[MathFloor((code + 2) / 100000)];
    if (code % 100000 === 99999) return s.label + ".__proto__";
    if (code % 100000 === 99998) return describeKeyChange(s);
    return s.label + "." + StringCtor(s.dataKeys[code % 100000]);
  }
  for (let i = 0; i < SEALED.length; i++) {
    const s = SEALED[i];
    for (let k = 0; k < s.accessorKeys.length; k++) {
      const d = ReflectGetOwnPropertyDescriptor(s.object, s.accessorKeys[k]);
      if (d === undefined || d.get !== s.accessorGetters[k]) return s.label + "." + StringCtor(s.accessorKeys[k]);
    }
  }
  return null;
}

function describeKeyChange(s) {
  const keys = ReflectOwnKeys(s.object);
  for (let k = 0; k < keys.length; k++) {
    if (ArrayPrototypeIndexOf(s.dataKeys, keys[k]) === -1 && ArrayPrototypeIndexOf(s.accessorKeys, keys[k]) === -1
        && ArrayPrototypeIndexOf(s.fixedKeys, keys[k]) === -1) {
      return s.label + "." + StringCtor(keys[k]);
    }
  }
  return s.label + " (a property was deleted)";
}

// The Node surface's globals (48_fetch.js, 44_node_crypto.js) and their classes: shared by every
// execution of the isolate like the built-ins, and the runtime's fetch and http code runs through
// their prototypes for every execution.
// (The fetch family is built on first use and seals itself: 48_fetch.js.)
const SURFACE_GLOBALS = ["DOMException", "SubtleCrypto", "Crypto", "CryptoKey", "global"];
const surfacePresent = [];
for (let i = 0; i < SURFACE_GLOBALS.length; i++) {
  const d = ReflectGetOwnPropertyDescriptor(globalThis, SURFACE_GLOBALS[i]);
  if (d === undefined || !ObjectPrototypeHasOwnProperty(d, "value")) continue;
  ArrayPrototypePush(surfacePresent, SURFACE_GLOBALS[i]);
  if (typeof d.value === "function" && d.value.prototype !== null && typeof d.value.prototype === "object") {
    ArrayPrototypePush(SEALED_OBJECTS, [d.value, SURFACE_GLOBALS[i], FIXED_SHAPE],
      [d.value.prototype, SURFACE_GLOBALS[i] + ".prototype", FIXED_SHAPE]);
  }
}
ArrayPrototypePush(SEALED_OBJECTS, [globalThis, "globalThis", surfacePresent]);

for (let i = 0; i < SEALED_OBJECTS.length; i++) sealOwnProperties(SEALED_OBJECTS[i][0], SEALED_OBJECTS[i][1], SEALED_OBJECTS[i][2]);
compileChecks(0);

// Built-ins made after load -- a Node module on its first require (42_node_builtins.js), the
// `process` and `Buffer` globals on first use -- are sealed when they are made, and the check is
// compiled again with them: a module's exports, and each exported function with its prototype
// (Buffer.prototype, EventEmitter.prototype, Readable.prototype, ...), are as shared as Array.prototype.
// (vars, not consts: sealMadeLater may be called while earlier files load, before this line runs)
var sealPending;
var sealReady = true;
if (sealPending !== undefined) {
  const from = SEALED.length;
  for (let i = 0; i < sealPending.length; i++) sealLaterEntry(sealPending[i]);
  compileChecks(from);
  sealPending = undefined;
}

// [object, label] (fixed shape), or [object, label, keys] for globalThis's lazily made globals
function sealLaterEntry(entry) {
  sealOwnProperties(entry[0], entry[1], entry[2] === undefined ? FIXED_SHAPE : entry[2]);
}

function sealMadeLater(entries) {
  if (sealReady !== true) {
    if (sealPending === undefined) sealPending = [];
    for (let i = 0; i < entries.length; i++) ArrayPrototypePush(sealPending, entries[i]);
    return;
  }
  const from = SEALED.length;
  for (let i = 0; i < entries.length; i++) sealLaterEntry(entries[i]);
  compileChecks(from);
}

function sealBuiltinModule(name, exports) {
  if (exports === null || (typeof exports !== "object" && typeof exports !== "function")) return;
  const label = "require('" + name + "')";
  const entries = [[exports, label]];
  const seen = [exports];
  const addClass = (fn, fnLabel) => {
    if (fn !== exports) {
      if (ArrayPrototypeIndexOf(seen, fn) !== -1) return;
      ArrayPrototypePush(seen, fn);
      ArrayPrototypePush(entries, [fn, fnLabel]);
    }
    const proto = ReflectGetOwnPropertyDescriptor(fn, "prototype");
    if (proto !== undefined && ObjectPrototypeHasOwnProperty(proto, "value") && proto.value !== null
        && typeof proto.value === "object" && ArrayPrototypeIndexOf(seen, proto.value) === -1) {
      ArrayPrototypePush(seen, proto.value);
      ArrayPrototypePush(entries, [proto.value, fnLabel + ".prototype"]);
    }
  };
  if (typeof exports === "function") addClass(exports, label);
  const keys = ObjectKeys(exports);
  for (let i = 0; i < keys.length; i++) {
    const d = ReflectGetOwnPropertyDescriptor(exports, keys[i]);
    if (d !== undefined && ObjectPrototypeHasOwnProperty(d, "value") && typeof d.value === "function") {
      addClass(d.value, label + "." + keys[i]);
    }
  }
  sealMadeLater(entries);
}

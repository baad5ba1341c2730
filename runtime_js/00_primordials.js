// Captured intrinsics: every runtime file below uses these copies, taken before any user code
// runs, so an action that replaces JSON, Array.prototype.*, Promise or Object.prototype methods
// cannot bend what the runtime records or hands back to the host.
//
// All runtime files are concatenated, in name order, into one strict-mode function body by the
// sandbox loader: names declared here are visible to the later files and to nothing else.

const uncurryThis = Function.prototype.bind.bind(Function.prototype.call);
const ReflectApply = Reflect.apply;
const ReflectOwnKeys = Reflect.ownKeys;
const ReflectGetOwnPropertyDescriptor = Reflect.getOwnPropertyDescriptor;
const ReflectDeleteProperty = Reflect.deleteProperty;
const ReflectDefineProperty = Reflect.defineProperty;

const ObjectCreate = Object.create;
const ObjectDefineProperty = Object.defineProperty;
const ObjectFreeze = Object.freeze;
const ObjectKeys = Object.keys;
const ObjectGetPrototypeOf = Object.getPrototypeOf;
const ObjectGetOwnPropertyNames = Object.getOwnPropertyNames;
const ObjectPrototypeHasOwnProperty = uncurryThis(Object.prototype.hasOwnProperty);
const ObjectPrototypeToString = uncurryThis(Object.prototype.toString);
const ObjectIs = Object.is;

const AtomicsWaitAsync = Atomics.waitAsync;
const AtomicsNotify = Atomics.notify;

const ArrayIsArray = Array.isArray;
const ArrayPrototypePush = uncurryThis(Array.prototype.push);
const ArrayPrototypeJoin = uncurryThis(Array.prototype.join);
const ArrayPrototypeSlice = uncurryThis(Array.prototype.slice);
const ArrayPrototypeSplice = uncurryThis(Array.prototype.splice);
const ArrayPrototypeIndexOf = uncurryThis(Array.prototype.indexOf);
const ArrayPrototypeShift = uncurryThis(Array.prototype.shift);

const StringCtor = String;
const NumberCtor = Number;
const NumberIsFinite = Number.isFinite;
const NumberIsInteger = Number.isInteger;
const StringFromCharCode = String.fromCharCode;
const StringPrototypeSlice = uncurryThis(String.prototype.slice);
const StringPrototypeStartsWith = uncurryThis(String.prototype.startsWith);
const StringPrototypeIndexOf = uncurryThis(String.prototype.indexOf);
const StringPrototypeReplace = uncurryThis(String.prototype.replace);
const StringPrototypeSplit = uncurryThis(String.prototype.split);
const StringPrototypeToLowerCase = uncurryThis(String.prototype.toLowerCase);
const StringPrototypeTrim = uncurryThis(String.prototype.trim);
const RegExpPrototypeTest = uncurryThis(RegExp.prototype.test);

const JSONParse = JSON.parse;
const JSONStringify = JSON.stringify;
const MathMin = Math.min;
const MathMax = Math.max;
const MathFloor = Math.floor;
const MathRound = Math.round;
const DateNow = Date.now;
const DateCtor = Date;
const DatePrototypeToISOString = uncurryThis(Date.prototype.toISOString);

const ErrorCtor = Error;
const TypeErrorCtor = TypeError;
const SyntaxErrorCtor = SyntaxError;
const RangeErrorCtor = RangeError;
const ErrorCaptureStackTrace = Error.captureStackTrace;

const PromiseCtor = Promise;
const PromiseResolve = (value) => ReflectApply(Promise.resolve, PromiseCtor, [value]);
const PromisePrototypeThen = uncurryThis(Promise.prototype.then);

const MapCtor = Map;
const MapPrototypeGet = uncurryThis(Map.prototype.get);
const MapPrototypeSet = uncurryThis(Map.prototype.set);
const MapPrototypeHas = uncurryThis(Map.prototype.has);
const MapPrototypeDelete = uncurryThis(Map.prototype.delete);
const MapPrototypeKeys = uncurryThis(Map.prototype.keys);
const MapIteratorNext = uncurryThis(ObjectGetPrototypeOf(new Map().keys()).next);
const MapSize = uncurryThis(ReflectGetOwnPropertyDescriptor(Map.prototype, "size").get);

const FunctionCtor = Function;
const FunctionPrototypeToString = uncurryThis(Function.prototype.toString);
const SymbolCtor = Symbol;
const Int32ArrayCtor = Int32Array;
const SharedArrayBufferCtor = SharedArrayBuffer;
const Float64ArrayCtor = Float64Array;
const Uint16ArrayCtor = Uint16Array;
const TypedArrayPrototypeSubarray = uncurryThis(ObjectGetPrototypeOf(Uint16Array.prototype).subarray);

// A Map whose methods cannot be swapped from under the runtime.
class SafeMap {
  constructor() { this.map = new MapCtor(); }
  get(k) { return MapPrototypeGet(this.map, k); }
  set(k, v) { MapPrototypeSet(this.map, k, v); return this; }
  has(k) { return MapPrototypeHas(this.map, k); }
  delete(k) { return MapPrototypeDelete(this.map, k); }
  get size() { return MapSize(this.map); }
  keys() {
    const out = [];
    const it = MapPrototypeKeys(this.map);
    for (;;) {
      const step = MapIteratorNext(it);
      if (step.done) return out;
      ArrayPrototypePush(out, step.value);
    }
  }
}
ObjectFreeze(SafeMap.prototype);

function isPlainObject(value) {
  if (value === null || typeof value !== "object" || ArrayIsArray(value)) return false;
  const proto = ObjectGetPrototypeOf(value);
  return proto === null || proto === ObjectPrototype;
}
const ObjectPrototype = Object.prototype;

// Copy a JSON-compatible value through the captured JSON functions: strips functions, symbols,
// getters' identities and prototypes; throws on cycles and BigInt (the caller reports it).
function jsonClone(value) {
  if (value === undefined) return undefined;
  const text = JSONStringify(value);
  return text === undefined ? undefined : JSONParse(text);
}

// JSON text of runtime-built data (step output, job results) for the host. Native JSON.stringify
// looks up `toJSON` on every object it meets: on runtime-built objects and arrays that lookup
// reaches Object.prototype and Array.prototype, where an action may have planted one (the seal
// finds it only after that action ends, and steps run while it is suspended). While either holds
// a `toJSON` -- or Array.prototype was given another prototype -- the text is built here by hand,
// from own keys and indices only.
function runtimeStringify(value) {
  if (ObjectPrototypeHasOwnProperty(ArrayPrototype, "toJSON") || ObjectPrototypeHasOwnProperty(ObjectPrototype, "toJSON")
      || ObjectGetPrototypeOf(ArrayPrototype) !== ObjectPrototype) {
    return plainStringify(value, 0);
  }
  return JSONStringify(value);
}
const ArrayPrototype = Array.prototype;
const PLAIN_STRINGIFY_DEPTH = 256;

function plainStringify(value, depth) {
  if (value === null) return "null";
  const type = typeof value;
  if (type === "string" || type === "boolean") return JSONStringify(value);
  if (type === "number") return NumberIsFinite(value) ? JSONStringify(value) : "null";
  if (type !== "object") return undefined; // undefined, functions, symbols; a BigInt throws below
  if (depth > PLAIN_STRINGIFY_DEPTH) throw new RangeErrorCtor("value nested too deeply for the host");
  const parts = [];
  if (ArrayIsArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item = ObjectPrototypeHasOwnProperty(value, i) ? plainStringify(value[i], depth + 1) : "null";
      ArrayPrototypePush(parts, item === undefined ? "null" : item);
    }
    return "[" + ArrayPrototypeJoin(parts, ",") + "]";
  }
  const keys = ObjectKeys(value);
  for (let i = 0; i < keys.length; i++) {
    const item = plainStringify(value[keys[i]], depth + 1);
    if (item !== undefined) ArrayPrototypePush(parts, JSONStringify(keys[i]) + ":" + item);
  }
  return "{" + ArrayPrototypeJoin(parts, ",") + "}";
}

function errorMessage(err) {
  try {
    if (err !== null && typeof err === "object" && typeof err.message === "string") {
      const name = typeof err.name === "string" ? err.name : "Error";
      return name + ": " + err.message;
    }
    return StringCtor(err);
  } catch (_) {
    return "a value that cannot be printed was thrown";
  }
}

function errorStack(err) {
  try {
    if (err !== null && typeof err === "object" && typeof err.stack === "string") return err.stack;
  } catch (_) { /* hostile getter */ }
  return undefined;
}

// Captures for URL, encoding and crypto (20_url.js, 30_encoding.js, 40_crypto.js). The typed-array
// constructors are taken here because 60_limits.js swaps the globals for counting wrappers.
const StringPrototypeCharCodeAt = uncurryThis(String.prototype.charCodeAt);
const StringPrototypeCodePointAt = uncurryThis(String.prototype.codePointAt);
const StringPrototypeToUpperCase = uncurryThis(String.prototype.toUpperCase);
const StringPrototypeNormalize = typeof String.prototype.normalize === "function" ? uncurryThis(String.prototype.normalize) : undefined;
const StringFromCodePoint = String.fromCodePoint;
const ArrayPrototypePop = uncurryThis(Array.prototype.pop);
const SymbolIterator = Symbol.iterator;
const SymbolToStringTag = Symbol.toStringTag;
const SymbolToPrimitive = Symbol.toPrimitive;
const MathRandom = Math.random;
const Uint8ArrayCtor = Uint8Array;
const ArrayBufferIsView = ArrayBuffer.isView;
const ArrayBufferPrototypeGetByteLength = uncurryThis(ReflectGetOwnPropertyDescriptor(ArrayBuffer.prototype, "byteLength").get);
const SharedArrayBufferPrototypeGetByteLength = typeof SharedArrayBuffer === "function"
  ? uncurryThis(ReflectGetOwnPropertyDescriptor(SharedArrayBuffer.prototype, "byteLength").get) : undefined;
const TypedArrayPrototype = ObjectGetPrototypeOf(Uint8Array.prototype);
const TypedArrayPrototypeGetBuffer = uncurryThis(ReflectGetOwnPropertyDescriptor(TypedArrayPrototype, "buffer").get);
const TypedArrayPrototypeGetByteOffset = uncurryThis(ReflectGetOwnPropertyDescriptor(TypedArrayPrototype, "byteOffset").get);
const TypedArrayPrototypeGetByteLength = uncurryThis(ReflectGetOwnPropertyDescriptor(TypedArrayPrototype, "byteLength").get);
const TypedArrayPrototypeGetLength = uncurryThis(ReflectGetOwnPropertyDescriptor(TypedArrayPrototype, "length").get);
const TypedArrayPrototypeGetSymbolToStringTag = uncurryThis(ReflectGetOwnPropertyDescriptor(TypedArrayPrototype, Symbol.toStringTag).get);
const TypedArrayPrototypeSet = uncurryThis(TypedArrayPrototype.set);
const DataViewPrototypeGetBuffer = uncurryThis(ReflectGetOwnPropertyDescriptor(DataView.prototype, "buffer").get);
const DataViewPrototypeGetByteOffset = uncurryThis(ReflectGetOwnPropertyDescriptor(DataView.prototype, "byteOffset").get);
const DataViewPrototypeGetByteLength = uncurryThis(ReflectGetOwnPropertyDescriptor(DataView.prototype, "byteLength").get);
const ObjectSetPrototypeOf = Object.setPrototypeOf;
const IteratorPrototype = ObjectGetPrototypeOf(ObjectGetPrototypeOf([][Symbol.iterator]()));

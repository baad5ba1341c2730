// The global structuredClone(value, { transfer }) of Node 22 (the HTML structured clone
// algorithm): primitives, wrappers of primitives, Date, RegExp, Map, Set, ArrayBuffer, typed
// arrays and DataView (views sharing a buffer still share the cloned one), Error and its
// standard subclasses (name, message, stack, cause), arrays and plain objects (own enumerable
// string keys, read once; prototypes become Object.prototype), with cycles and shared
// references kept. Functions, symbols, WeakMap/WeakSet/WeakRef, Promise and other platform
// objects fail with a DataCloneError, as in Node. Transferring detaches the given ArrayBuffers.
// actionhost's own code, run as library code.
"use strict";

const ERRORS = { Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError };
const TYPED = [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
  Float32Array, Float64Array, BigInt64Array, BigUint64Array];
if (typeof Float16Array === "function") TYPED.push(Float16Array);
const toTag = (value) => Object.prototype.toString.call(value).slice(8, -1);

function dataCloneError(what) {
  return new DOMException(`${what} could not be cloned.`, "DataCloneError");
}

function describe(value) {
  if (typeof value === "function") return String(value).split("\n")[0].slice(0, 80);
  if (typeof value === "symbol") return value.toString();
  return `#<${toTag(value)}>`;
}

function cloneBuffer(buffer, memory) {
  const copy = buffer.slice(0);
  memory.set(buffer, copy);
  return copy;
}

function clone(value, memory) {
  if (value === null || (typeof value !== "object" && typeof value !== "function")) {
    if (typeof value === "symbol") throw dataCloneError(describe(value));
    return value;
  }
  if (typeof value === "function") throw dataCloneError(describe(value));
  if (memory.has(value)) return memory.get(value);
  const tag = toTag(value);
  switch (tag) {
    case "Boolean": case "Number": case "String": case "BigInt": {
      const copy = Object(value.valueOf());
      memory.set(value, copy);
      return copy;
    }
    case "Date": {
      const copy = new Date(value.getTime());
      memory.set(value, copy);
      return copy;
    }
    case "RegExp": {
      const copy = new RegExp(value.source, value.flags);
      memory.set(value, copy);
      return copy;
    }
    case "ArrayBuffer":
      return cloneBuffer(value, memory);
    case "SharedArrayBuffer":
      throw dataCloneError(describe(value));
    case "DataView": {
      const buffer = clone(value.buffer, memory);
      const copy = new DataView(buffer, value.byteOffset, value.byteLength);
      memory.set(value, copy);
      return copy;
    }
    case "Map": {
      const copy = new Map();
      memory.set(value, copy);
      for (const [k, v] of Array.from(value)) copy.set(clone(k, memory), clone(v, memory));
      return copy;
    }
    case "Set": {
      const copy = new Set();
      memory.set(value, copy);
      for (const v of Array.from(value)) copy.add(clone(v, memory));
      return copy;
    }
    case "Error": {
      const Ctor = ERRORS[value.name] !== undefined && Object.hasOwn(ERRORS, value.name) ? ERRORS[value.name] : Error;
      const copy = Object.create(Ctor.prototype);
      memory.set(value, copy);
      const define = (key, v) => Object.defineProperty(copy, key, { value: v, writable: true, configurable: true, enumerable: false });
      const message = Object.getOwnPropertyDescriptor(value, "message");
      if (message !== undefined && "value" in message) define("message", String(message.value));
      if (typeof value.stack === "string") define("stack", value.stack);
      if (Object.hasOwn(value, "cause")) define("cause", clone(value.cause, memory));
      return copy;
    }
    case "Array": {
      const copy = new Array(value.length);
      memory.set(value, copy);
      for (const key of Object.keys(value)) copy[key] = clone(value[key], memory);
      return copy;
    }
    case "Object":
      break;
    default:
      if (ArrayBuffer.isView(value)) {
        const Ctor = TYPED.find((T) => value instanceof T) ?? TYPED.find((T) => T.name === tag);
        if (Ctor === undefined) throw dataCloneError(describe(value));
        const buffer = clone(value.buffer, memory);
        const copy = new Ctor(buffer, value.byteOffset, value.length);
        memory.set(value, copy);
        return copy;
      }
      if (tag !== "Arguments" && Object.getPrototypeOf(value) !== null && !isOrdinaryObject(value)) {
        throw dataCloneError(describe(value));
      }
  }
  const copy = {};
  memory.set(value, copy);
  for (const key of Object.keys(value)) copy[key] = clone(value[key], memory);
  return copy;
}

// class instances and objects with another prototype are cloned as plain objects; platform
// objects (Promise, WeakMap, ...) are not, as their tag says
const NOT_CLONEABLE = new Set(["Promise", "WeakMap", "WeakSet", "WeakRef", "FinalizationRegistry", "Generator",
  "AsyncGenerator", "Module"]);
function isOrdinaryObject(value) {
  return !NOT_CLONEABLE.has(toTag(value));
}

module.exports = function structuredClone(value, options) {
  if (arguments.length === 0) {
    const err = new TypeError('The "value" argument must be specified');
    err.code = "ERR_MISSING_ARGS";
    throw err;
  }
  if (options !== undefined && (options === null || typeof options !== "object")) {
    const err = new TypeError('The "options" argument must be of type object.');
    err.code = "ERR_INVALID_ARG_TYPE";
    throw err;
  }
  const transfer = options !== undefined && options.transfer !== undefined ? Array.from(options.transfer) : [];
  for (const item of transfer) {
    if (toTag(item) !== "ArrayBuffer") throw dataCloneError(describe(item));
  }
  const copy = clone(value, new Map());
  // transferred buffers are detached in the sender, as postMessage does
  for (const item of transfer) if (typeof item.transfer === "function") item.transfer();
  return copy;
};

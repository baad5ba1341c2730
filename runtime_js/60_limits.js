// Memory the V8 heap limit cannot see, and operations V8 cannot interrupt, bounded before user
// code runs: ArrayBuffer / SharedArrayBuffer / typed-array backing stores count against a
// per-isolate budget, WebAssembly and Atomics.wait are removed, and the Array methods that walk
// a huge sparse length in uninterruptible native loops (or abort the process, as
// `new Array(3e8).fill(0)` does) refuse lengths beyond ARRAY_WALK_MAX.

const ARRAY_WALK_MAX = 1 << 24;
const ReflectConstruct = Reflect.construct;

function toIndex(value) {
  const n = NumberCtor(value);
  return n >= 0 ? MathFloor(n) : 0;
}

// Replace a constructor with a counting twin that is indistinguishable for ordinary code:
// same prototype (prototype.constructor points at the twin), statics, species and instanceof.
function countingConstructor(Original, bytesOf) {
  const twin = function (...args) {
    if (new.target === undefined) throw new TypeErrorCtor("Constructor " + Original.name + " requires 'new'");
    const bytes = bytesOf(args);
    if (bytes > BUFFER_BUDGET - bufferLive) reserveBuffer(bytes);
    const made = ReflectConstruct(Original, args, new.target === twin ? Original : new.target);
    reserveBuffer(bytes, made);
    return made;
  };
  const keys = ReflectOwnKeys(Original);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    if (key === "prototype" || key === "length" || key === "name" || key === SymbolCtor.species) continue;
    ObjectDefineProperty(twin, key, ReflectGetOwnPropertyDescriptor(Original, key));
  }
  // statics a constructor inherits (Uint8Array.from/of from %TypedArray%) stay reachable
  ObjectSetPrototypeOf(twin, ObjectGetPrototypeOf(Original));
  ObjectDefineProperty(twin, "name", { value: Original.name });
  ObjectDefineProperty(twin, "length", { value: Original.length });
  ObjectDefineProperty(twin, "prototype", { value: Original.prototype, writable: false });
  ObjectDefineProperty(twin, SymbolCtor.species, { get() { return this; }, configurable: true });
  ObjectDefineProperty(Original.prototype, "constructor", { value: twin, writable: true, configurable: true });
  ObjectDefineProperty(globalThis, Original.name, { value: twin, writable: true, configurable: true, enumerable: false });
  return twin;
}

function bufferBytes(args) {
  let bytes = toIndex(args[0]);
  const options = args[1];
  if (options !== null && typeof options === "object") {
    const max = options.maxByteLength;
    if (max !== undefined) bytes = MathMax(bytes, toIndex(max));
  }
  return bytes;
}
countingConstructor(ArrayBuffer, bufferBytes);
countingConstructor(SharedArrayBuffer, bufferBytes);

const TYPED_ARRAYS = [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array,
  Uint32Array, Float32Array, Float64Array, BigInt64Array, BigUint64Array];
if (typeof Float16Array === "function") ArrayPrototypePush(TYPED_ARRAYS, Float16Array);
for (let i = 0; i < TYPED_ARRAYS.length; i++) {
  const T = TYPED_ARRAYS[i];
  const size = T.BYTES_PER_ELEMENT;
  countingConstructor(T, (args) => {
    const first = args[0];
    if (first === null || first === undefined) return 0;
    if (typeof first !== "object") return toIndex(first) * size;
    // a view on an existing buffer allocates nothing; an array-like or iterable is copied
    const tag = ObjectPrototypeToString(first);
    if (tag === "[object ArrayBuffer]" || tag === "[object SharedArrayBuffer]") return 0;
    let length = 0;
    try { length = toIndex(first.length); } catch (_) { length = 0; }
    return length * size;
  });
}

// Copies that resize a buffer allocate a new backing store.
for (const Buffer of [ArrayBuffer, SharedArrayBuffer]) {
  for (const name of ["transfer", "transferToFixedLength", "grow"]) {
    const original = Buffer.prototype[name];
    if (typeof original !== "function") continue;
    ObjectDefineProperty(Buffer.prototype, name, {
      value: { [name](newLength) {
        if (newLength !== undefined) reserveBuffer(toIndex(newLength));
        return ReflectApply(original, this, arguments);
      } }[name],
      writable: true, configurable: true,
    });
  }
}

// Array methods whose native loops walk `length` without checking for termination.
const ARRAY_WALKERS = ["fill", "copyWithin", "sort", "splice", "unshift", "reverse", "slice",
  "toSorted", "toSpliced", "toReversed", "with", "flat", "flatMap", "map", "filter", "join",
  "indexOf", "lastIndexOf", "includes", "concat", "forEach", "reduce", "reduceRight", "some",
  "every", "find", "findIndex", "findLast", "findLastIndex", "keys", "values", "entries", "at"];
for (let i = 0; i < ARRAY_WALKERS.length; i++) {
  const name = ARRAY_WALKERS[i];
  const original = Array.prototype[name];
  if (typeof original !== "function") continue;
  const guarded = { [name]() {
    if (this !== null && this !== undefined) {
      const length = this.length;
      if (length > ARRAY_WALK_MAX) {
        throw new RangeErrorCtor("Array." + name + " refused: length " + length +
          " exceeds the sandbox's limit of " + ARRAY_WALK_MAX + " elements");
      }
    }
    return ReflectApply(original, this, arguments);
  } }[name];
  ObjectDefineProperty(guarded, "length", { value: original.length });
  ObjectDefineProperty(Array.prototype, name, { value: guarded, writable: true, configurable: true, enumerable: false });
}

// split() of a huge string builds its array in one native step that aborts the process
// ("invalid size") before any limit can act
{
  const split = String.prototype.split;
  ObjectDefineProperty(String.prototype, "split", {
    value: { split(separator, limit) {
      if (typeof this === "string" && this.length > ARRAY_WALK_MAX && limit === undefined) {
        throw new RangeErrorCtor("String.split refused: a string of " + this.length + " characters exceeds the sandbox's limit of " + ARRAY_WALK_MAX);
      }
      return ReflectApply(split, this, arguments);
    } }.split,
    writable: true, configurable: true, enumerable: false,
  });
}

// Listing the keys of a typed array or a string makes one string per index in a native loop
// that neither checks for termination nor lets the heap limit act (Object.getOwnPropertyNames of
// a Uint8Array(1e7) grows the process past 700 MiB): refused past KEY_WALK_MAX indices.
const KEY_WALK_MAX = 1 << 20;
function indexCount(o) {
  if (typeof o === "string") return o.length;
  if (o === null || typeof o !== "object" || !ArrayBufferIsView(o)) return 0;
  try { return TypedArrayPrototypeGetLength(o); } catch (_) { return 0; } // a DataView has no indices
}
function guardKeyWalk(holder, name, label, argIndexes) {
  const original = holder[name];
  const guarded = { [name]() {
    for (let i = 0; i < argIndexes.length; i++) {
      const at = argIndexes[i];
      if (at === -1) { // every argument from the second on (Object.assign's sources)
        for (let k = 1; k < arguments.length; k++) checkKeyWalk(arguments[k], label);
      } else checkKeyWalk(arguments[at], label);
    }
    return ReflectApply(original, this, arguments);
  } }[name];
  ObjectDefineProperty(guarded, "length", { value: original.length });
  ObjectDefineProperty(holder, name, { value: guarded, writable: true, configurable: true, enumerable: false });
}
function checkKeyWalk(o, label) {
  const n = indexCount(o);
  if (n > KEY_WALK_MAX) {
    throw new RangeErrorCtor(label + " refused: listing " + n + " indexed keys exceeds the sandbox's limit of " + KEY_WALK_MAX);
  }
}
for (const name of ["keys", "values", "entries", "getOwnPropertyNames", "getOwnPropertyDescriptors"]) {
  guardKeyWalk(Object, name, "Object." + name, [0]);
}
guardKeyWalk(Object, "assign", "Object.assign", [-1]);
guardKeyWalk(Reflect, "ownKeys", "Reflect.ownKeys", [0]);

delete globalThis.WebAssembly;
delete Atomics.wait;
// waitAsync resolves in a task of the isolate's own loop, outside any execution: it is the
// runtime's fence between jobs (70_host.js), not a way for user code to run later
delete Atomics.waitAsync;

// Node's deep equality (assert.deepEqual / deepStrictEqual, util.isDeepStrictEqual): own
// enumerable keys and symbols, prototypes and [[Class]] in strict mode, Map/Set contents
// (object keys matched deeply), Dates, RegExps, boxed primitives, typed arrays by content,
// Errors by name and message, cycles. actionhost's own code, run as library code.
"use strict";

const uncurry = (fn) => Function.prototype.call.bind(fn);
const objectToString = uncurry(Object.prototype.toString);
const propertyIsEnumerable = uncurry(Object.prototype.propertyIsEnumerable);
const hasOwn = uncurry(Object.prototype.hasOwnProperty);
const dateGetTime = uncurry(Date.prototype.getTime);
const typedArrayTag = uncurry(Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), Symbol.toStringTag).get);

function isPrimitive(v) { return v === null || (typeof v !== "object" && typeof v !== "function"); }

function enumerableKeys(value, strict) {
  const keys = Object.keys(value);
  if (strict) {
    const symbols = Object.getOwnPropertySymbols(value);
    for (const s of symbols) if (propertyIsEnumerable(value, s)) keys.push(s);
  }
  return keys;
}

function isIndexKey(key) { return typeof key === "string" && /^(0|[1-9][0-9]*)$/.test(key); }

function isDeepEqual(a, b, strict, memos) {
  if (a === b) return a !== 0 || !strict || Object.is(a, b);
  if (strict) {
    if (typeof a !== "object") return typeof a === "number" && Number.isNaN(a) && Number.isNaN(b);
    if (typeof b !== "object" || a === null || b === null) return false;
    if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  } else {
    if (a === null || typeof a !== "object") {
      if (b === null || typeof b !== "object") return a == b || (Number.isNaN(a) && Number.isNaN(b)); // eslint-disable-line eqeqeq
      return false;
    }
    if (b === null || typeof b !== "object") return false;
  }
  const aTag = objectToString(a);
  if (aTag !== objectToString(b)) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    if (a.length !== b.length) return false;
    return keysEqual(a, b, strict, memos, true);
  }
  if (aTag === "[object Object]" && !(a instanceof Error) && !(b instanceof Error)) {
    return keysEqual(a, b, strict, memos, false);
  }
  if (aTag === "[object Date]") {
    if (dateGetTime(a) !== dateGetTime(b)) return false;
  } else if (a instanceof RegExp) {
    if (!(b instanceof RegExp) || a.source !== b.source || a.flags !== b.flags || a.lastIndex !== b.lastIndex) return false;
  } else if (a instanceof Error || aTag === "[object Error]") {
    if (a.message !== b.message || a.name !== b.name) return false;
    if (hasOwn(a, "cause") !== hasOwn(b, "cause") || (hasOwn(a, "cause") && !isDeepEqual(a.cause, b.cause, strict, memos))) return false;
  } else if (ArrayBuffer.isView(a)) {
    if (typedArrayTag(a) !== typedArrayTag(b)) return false;
    const ab = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    const bb = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    if (!strict && typedArrayTag(a) !== undefined && (typedArrayTag(a).startsWith("Float"))) {
      if (a.length !== b.length) return false;
      for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    } else {
      if (ab.length !== bb.length) return false;
      for (let i = 0; i < ab.length; i++) if (ab[i] !== bb[i]) return false;
    }
    return keysEqualFiltered(a, b, strict, memos);
  } else if (aTag === "[object ArrayBuffer]" || aTag === "[object SharedArrayBuffer]") {
    const ab = new Uint8Array(a), bb = new Uint8Array(b);
    if (ab.length !== bb.length) return false;
    for (let i = 0; i < ab.length; i++) if (ab[i] !== bb[i]) return false;
  } else if (aTag === "[object Number]" || aTag === "[object String]" || aTag === "[object Boolean]" ||
             aTag === "[object BigInt]" || aTag === "[object Symbol]") {
    if (!Object.is(a.valueOf(), b.valueOf())) return false;
  }
  if (a instanceof Set || aTag === "[object Set]") {
    if (a.size !== b.size) return false;
    return keysEqual(a, b, strict, memos, false) && withMemo(a, b, memos, (m) => setEquiv(a, b, strict, m));
  }
  if (a instanceof Map || aTag === "[object Map]") {
    if (a.size !== b.size) return false;
    return keysEqual(a, b, strict, memos, false) && withMemo(a, b, memos, (m) => mapEquiv(a, b, strict, m));
  }
  if (aTag === "[object WeakMap]" || aTag === "[object WeakSet]" || aTag === "[object Promise]") return a === b || keysEqual(a, b, strict, memos, false);
  return keysEqual(a, b, strict, memos, false);
}

function keysEqualFiltered(a, b, strict, memos) {
  const ak = enumerableKeys(a, strict).filter((k) => !isIndexKey(k));
  const bk = enumerableKeys(b, strict).filter((k) => !isIndexKey(k));
  if (ak.length !== bk.length) return false;
  return compareKeyLists(a, b, ak, strict, memos);
}

function keysEqual(a, b, strict, memos, isArray) {
  const ak = enumerableKeys(a, strict);
  const bk = enumerableKeys(b, strict);
  if (ak.length !== bk.length) return false;
  for (const k of ak) if (!propertyIsEnumerable(b, k)) return false;
  if (isArray) {
    // holes: strict mode tells a hole from undefined
    for (let i = 0; i < a.length; i++) {
      if (hasOwn(a, i) !== hasOwn(b, i) && strict) return false;
    }
  }
  return withMemo(a, b, memos, (m) => compareKeyLists(a, b, ak, strict, m));
}

function withMemo(a, b, memos, compare) {
  if (memos === undefined) memos = { a: new Map(), b: new Map(), position: 0 };
  else {
    const memoA = memos.a.get(a);
    if (memoA !== undefined) {
      const memoB = memos.b.get(b);
      if (memoB !== undefined) return memoA === memoB;
    }
    memos.position++;
  }
  memos.a.set(a, memos.position);
  memos.b.set(b, memos.position);
  const result = compare(memos);
  memos.a.delete(a);
  memos.b.delete(b);
  return result;
}

function compareKeyLists(a, b, keys, strict, memos) {
  for (const key of keys) {
    if (!isDeepEqual(a[key], b[key], strict, memos)) return false;
  }
  return true;
}

function setEquiv(a, b, strict, memos) {
  let pending = null;
  for (const value of a) {
    if (!isPrimitive(value)) {
      if (pending === null) pending = [];
      pending.push(value);
    } else if (!b.has(value)) {
      if (strict) return false;
      // loose: 1 matches '1'
      if (!setHasLoose(b, value)) return false;
    }
  }
  if (pending !== null) {
    const candidates = [];
    for (const value of b) if (!isPrimitive(value)) candidates.push(value);
    for (const value of pending) {
      const at = candidates.findIndex((c) => isDeepEqual(value, c, strict, memos));
      if (at === -1) return false;
      candidates.splice(at, 1);
    }
  }
  return true;
}

function setHasLoose(set, value) {
  for (const v of set) if (isPrimitive(v) && v == value) return true; // eslint-disable-line eqeqeq
  return false;
}

function mapEquiv(a, b, strict, memos) {
  let pending = null;
  for (const [key, value] of a) {
    if (!isPrimitive(key)) {
      if (pending === null) pending = [];
      pending.push([key, value]);
    } else {
      if (!b.has(key)) {
        if (strict) return false;
        let found = false;
        for (const [k2, v2] of b) {
          if (isPrimitive(k2) && k2 == key && isDeepEqual(value, v2, strict, memos)) { found = true; break; } // eslint-disable-line eqeqeq
        }
        if (!found) return false;
      } else if (!isDeepEqual(value, b.get(key), strict, memos)) {
        return false;
      }
    }
  }
  if (pending !== null) {
    const candidates = [];
    for (const entry of b) if (!isPrimitive(entry[0])) candidates.push(entry);
    for (const [key, value] of pending) {
      const at = candidates.findIndex((c) => isDeepEqual(key, c[0], strict, memos) && isDeepEqual(value, c[1], strict, memos));
      if (at === -1) return false;
      candidates.splice(at, 1);
    }
  }
  return true;
}

module.exports = { isDeepEqual: (a, b, strict) => isDeepEqual(a, b, strict, undefined) };

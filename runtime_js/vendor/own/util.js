// Node's `util` for actions: inspect (Node's layout rules: depth 2, breakLength 80, compact 3,
// circular references, Map/Set, class names, util.inspect.custom), format, promisify,
// callbackify, inherits, deprecate, types, isDeepStrictEqual, TextEncoder/TextDecoder.
// actionhost's own code (no npm package has Node's current inspect), bundled like the vendored
// packages and run, as they are, as library code for the action.
"use strict";

const deepEqual = require("internal/deep_equal");

const customInspect = Symbol.for("nodejs.util.inspect.custom");
const customPromisify = Symbol.for("nodejs.util.promisify.custom");

const uncurry = (fn) => Function.prototype.call.bind(fn);
const objectToString = uncurry(Object.prototype.toString);
const hasOwn = uncurry(Object.prototype.hasOwnProperty);
const typedArrayTag = uncurry(Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), Symbol.toStringTag).get);
const typedArrayLength = uncurry(Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), "length").get);
const arrayBufferByteLength = uncurry(Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, "byteLength").get);
const sharedArrayBufferByteLength = typeof SharedArrayBuffer === "function"
  ? uncurry(Object.getOwnPropertyDescriptor(SharedArrayBuffer.prototype, "byteLength").get) : null;
const dataViewByteLength = uncurry(Object.getOwnPropertyDescriptor(DataView.prototype, "byteLength").get);
const mapSize = uncurry(Object.getOwnPropertyDescriptor(Map.prototype, "size").get);
const setSize = uncurry(Object.getOwnPropertyDescriptor(Set.prototype, "size").get);
const mapEntries = uncurry(Map.prototype.entries);
const setValues = uncurry(Set.prototype.values);
const dateGetTime = uncurry(Date.prototype.getTime);
const dateToISOString = uncurry(Date.prototype.toISOString);
const regexpToString = uncurry(RegExp.prototype.toString);
const regexpSource = uncurry(Object.getOwnPropertyDescriptor(RegExp.prototype, "source").get);
const errorToString = uncurry(Error.prototype.toString);
const weakMapHas = uncurry(WeakMap.prototype.has);
const weakSetHas = uncurry(WeakSet.prototype.has);
const numberValueOf = uncurry(Number.prototype.valueOf);
const stringValueOf = uncurry(String.prototype.valueOf);
const booleanValueOf = uncurry(Boolean.prototype.valueOf);
const bigintValueOf = uncurry(BigInt.prototype.valueOf);
const symbolValueOf = uncurry(Symbol.prototype.valueOf);
const symbolToString = uncurry(Symbol.prototype.toString);
const functionToString = uncurry(Function.prototype.toString);
const MapIteratorPrototype = Object.getPrototypeOf(new Map()[Symbol.iterator]());
const SetIteratorPrototype = Object.getPrototypeOf(new Set()[Symbol.iterator]());
const GeneratorPrototype = Object.getPrototypeOf(function* () {}).prototype;
const AsyncFunctionPrototype = Object.getPrototypeOf(async function () {});
const GeneratorFunctionPrototype = Object.getPrototypeOf(function* () {});
const AsyncGeneratorFunctionPrototype = Object.getPrototypeOf(async function* () {});

function brand(check) {
  return (value) => {
    if (value === null || typeof value !== "object") return false;
    try { check(value); return true; } catch (_) { return false; }
  };
}

const types = {
  isDate: brand(dateGetTime),
  isRegExp: (v) => {
    if (v === null || typeof v !== "object") return false;
    try { regexpSource(v); return v !== RegExp.prototype; } catch (_) { return false; }
  },
  isMap: brand(mapSize),
  isSet: brand(setSize),
  isWeakMap: brand((v) => weakMapHas(v, {})),
  isWeakSet: brand((v) => weakSetHas(v, {})),
  isArrayBuffer: brand(arrayBufferByteLength),
  isSharedArrayBuffer: (v) => sharedArrayBufferByteLength !== null && brand(sharedArrayBufferByteLength)(v),
  isAnyArrayBuffer: (v) => types.isArrayBuffer(v) || types.isSharedArrayBuffer(v),
  isDataView: brand(dataViewByteLength),
  isArrayBufferView: (v) => ArrayBuffer.isView(v),
  isTypedArray: (v) => typedArrayTag(v) !== undefined,
  isNumberObject: brand(numberValueOf),
  isStringObject: brand(stringValueOf),
  isBooleanObject: brand(booleanValueOf),
  isBigIntObject: brand(bigintValueOf),
  isSymbolObject: brand(symbolValueOf),
  isBoxedPrimitive: (v) => types.isNumberObject(v) || types.isStringObject(v) || types.isBooleanObject(v) ||
    types.isBigIntObject(v) || types.isSymbolObject(v),
  isPromise: (v) => v instanceof Promise || (v !== null && typeof v === "object" && objectToString(v) === "[object Promise]"),
  isNativeError: (v) => v instanceof Error || (v !== null && typeof v === "object" && objectToString(v) === "[object Error]"),
  isAsyncFunction: (v) => typeof v === "function" && (Object.getPrototypeOf(v) === AsyncFunctionPrototype ||
    Object.getPrototypeOf(v) === AsyncGeneratorFunctionPrototype),
  isGeneratorFunction: (v) => typeof v === "function" && (Object.getPrototypeOf(v) === GeneratorFunctionPrototype ||
    Object.getPrototypeOf(v) === AsyncGeneratorFunctionPrototype),
  isGeneratorObject: (v) => v !== null && typeof v === "object" && objectToString(v) === "[object Generator]",
  isMapIterator: (v) => v !== null && typeof v === "object" && Object.getPrototypeOf(v) === MapIteratorPrototype,
  isSetIterator: (v) => v !== null && typeof v === "object" && Object.getPrototypeOf(v) === SetIteratorPrototype,
  isArgumentsObject: (v) => v !== null && typeof v === "object" && objectToString(v) === "[object Arguments]",
  isProxy: () => false,
  isExternal: () => false,
  isModuleNamespaceObject: (v) => v !== null && typeof v === "object" && objectToString(v) === "[object Module]",
  isKeyObject: (v) => v !== null && typeof v === "object" && typeof v.export === "function" && typeof v.asymmetricKeyType !== "undefined",
  isCryptoKey: (v) => v !== null && typeof v === "object" && objectToString(v) === "[object CryptoKey]",
};
for (const name of ["Uint8Array", "Uint8ClampedArray", "Uint16Array", "Uint32Array", "Int8Array", "Int16Array",
  "Int32Array", "Float32Array", "Float64Array", "BigInt64Array", "BigUint64Array", "Float16Array"]) {
  types["is" + name] = (v) => typedArrayTag(v) === name;
}

// ---- inspect ---------------------------------------------------------------------------------

const inspectDefaultOptions = {
  showHidden: false, depth: 2, colors: false, customInspect: true, showProxy: false, maxArrayLength: 100,
  maxStringLength: 10000, breakLength: 80, compact: 3, sorted: false, getters: false, numericSeparator: false,
};

const META = ["\\x00", "\\x01", "\\x02", "\\x03", "\\x04", "\\x05", "\\x06", "\\x07", "\\b", "\\t", "\\n", "\\x0B", "\\f",
  "\\r", "\\x0E", "\\x0F", "\\x10", "\\x11", "\\x12", "\\x13", "\\x14", "\\x15", "\\x16", "\\x17", "\\x18", "\\x19", "\\x1A",
  "\\x1B", "\\x1C", "\\x1D", "\\x1E", "\\x1F"];

function strEscape(str) {
  let quote = "'";
  if (str.includes("'")) {
    if (!str.includes('"')) quote = '"';
    else if (!str.includes("`") && !str.includes("${")) quote = "`";
  }
  let out = "";
  for (let i = 0; i < str.length; i++) {
    const c = str.charCodeAt(i);
    if (c < 32) out += META[c];
    else if (c === 0x7f) out += "\\x7F";
    else if (str[i] === quote || str[i] === "\\") out += "\\" + str[i];
    else out += str[i];
  }
  return quote + out + quote;
}

const IDENTIFIER = /^[a-zA-Z_][a-zA-Z_0-9]*$/;

function formatKey(key) {
  if (typeof key === "symbol") return "[" + symbolToString(key) + "]";
  if (IDENTIFIER.test(key)) return key;
  return strEscape(key);
}

function formatNumber(n, separators) {
  if (Object.is(n, -0)) return "-0";
  const s = String(n);
  if (!separators || !Number.isInteger(n) || Math.abs(n) < 1000) return s;
  return s.replace(/\B(?=(\d{3})+(?!\d))/g, "_");
}

function formatPrimitive(value, ctx) {
  switch (typeof value) {
    case "string": {
      let trailer = "";
      if (value.length > ctx.maxStringLength) {
        const remaining = value.length - ctx.maxStringLength;
        value = value.slice(0, ctx.maxStringLength);
        trailer = `... ${remaining} more character${remaining > 1 ? "s" : ""}`;
      }
      return strEscape(value) + trailer;
    }
    case "number": return formatNumber(value, ctx.numericSeparator);
    case "bigint": return String(value) + "n";
    case "boolean": return value ? "true" : "false";
    case "undefined": return "undefined";
    case "symbol": return symbolToString(value);
  }
  return String(value);
}

function constructorName(obj) {
  let proto = obj;
  for (let i = 0; i < 1000 && proto !== null; i++) {
    const d = Object.getOwnPropertyDescriptor(proto, "constructor");
    if (d !== undefined && typeof d.value === "function" && typeof d.value.name === "string" && d.value.name !== "") {
      return d.value.name;
    }
    proto = Object.getPrototypeOf(proto);
  }
  return null;
}

function getPrefix(ctor, tag, fallback, size) {
  if (ctor === null) {
    if (tag !== "" && fallback !== tag) return `[${fallback}${size}: null prototype] [${tag}] `;
    return `[${fallback}${size}: null prototype] `;
  }
  if (tag !== "" && ctor !== tag) return `${ctor}${size} [${tag}] `;
  return `${ctor}${size} `;
}

function functionBase(value, ctor, tag) {
  let type = "Function";
  if (types.isGeneratorFunction(value)) type = "Generator" + type;
  if (types.isAsyncFunction(value)) type = "Async" + type;
  let source = "";
  try { source = functionToString(value); } catch (_) { /* a revoked proxy */ }
  if (source.startsWith("class") && /^class(\s|\{)/.test(source)) {
    let base = `[class ${value.name || "(anonymous)"}`;
    const superclass = Object.getPrototypeOf(value);
    if (superclass !== null && superclass !== Function.prototype && superclass.name) base += ` extends ${superclass.name}`;
    return base + "]";
  }
  let base = `[${type}`;
  if (ctor === null) base += " (null prototype)";
  base += value.name === "" || typeof value.name !== "string" ? " (anonymous)" : `: ${value.name}`;
  base += "]";
  if (ctor !== type && ctor !== null) base += ` ${ctor}`;
  if (tag !== "" && ctor !== tag) base += ` [${tag}]`;
  return base;
}

function ownKeys(value, showHidden) {
  const keys = showHidden ? Object.getOwnPropertyNames(value) : Object.keys(value);
  const symbols = Object.getOwnPropertySymbols(value);
  for (const s of symbols) {
    if (showHidden || Object.prototype.propertyIsEnumerable.call(value, s)) keys.push(s);
  }
  return keys;
}

function formatValue(ctx, value, recurseTimes, typedArray) {
  if (typeof value !== "object" && typeof value !== "function") return formatPrimitive(value, ctx);
  if (value === null) return "null";
  if (ctx.customInspect) {
    let custom;
    try { custom = value[customInspect]; } catch (_) { custom = undefined; }
    if (typeof custom === "function" && custom !== inspect &&
        !(hasOwn(value, "constructor") && value.constructor.prototype === value)) {
      const depth = ctx.depth === null ? null : ctx.depth - recurseTimes;
      const options = { ...ctx, depth, stylize: (s) => s };
      delete options.seen; delete options.circular; delete options.indentationLvl; delete options.currentDepth;
      const ret = custom.call(value, depth, options, inspect);
      if (ret !== value) {
        if (typeof ret !== "string") return formatValue(ctx, ret, recurseTimes);
        return ret.replaceAll("\n", `\n${" ".repeat(ctx.indentationLvl)}`);
      }
    }
  }
  if (ctx.seen.includes(value)) {
    let index = 1;
    if (ctx.circular === undefined) {
      ctx.circular = new Map();
      ctx.circular.set(value, index);
    } else {
      index = ctx.circular.get(value);
      if (index === undefined) {
        index = ctx.circular.size + 1;
        ctx.circular.set(value, index);
      }
    }
    return `[Circular *${index}]`;
  }
  return formatRaw(ctx, value, recurseTimes, typedArray);
}

function formatRaw(ctx, value, recurseTimes, typedArray) {
  let keys;
  const ctor = constructorName(value);
  let tag = "";
  try {
    const t = value[Symbol.toStringTag];
    if (typeof t === "string") tag = t;
  } catch (_) { /* hostile getter */ }
  let base = "";
  let formatter = formatObjectEntries;
  let braces;
  let noIterator = true;
  let extrasType = "object";

  if (Array.isArray(value)) {
    const prefix = ctor !== "Array" || tag !== "" ? getPrefix(ctor, tag, "Array", `(${value.length})`) : "";
    keys = ownKeys(value, ctx.showHidden).filter((k) => typeof k === "symbol" || !isIndex(k, value.length));
    braces = [`${prefix}[`, "]"];
    if (value.length === 0 && keys.length === 0) return `${braces[0]}]`;
    extrasType = "array";
    formatter = formatArray;
    noIterator = false;
  } else if (types.isSet(value)) {
    const size = setSize(value);
    const prefix = getPrefix(ctor, tag, "Set", `(${size})`);
    keys = ownKeys(value, ctx.showHidden);
    formatter = formatSet;
    if (size === 0 && keys.length === 0) return `${prefix}{}`;
    braces = [`${prefix}{`, "}"];
    noIterator = false;
  } else if (types.isMap(value)) {
    const size = mapSize(value);
    const prefix = getPrefix(ctor, tag, "Map", `(${size})`);
    keys = ownKeys(value, ctx.showHidden);
    formatter = formatMap;
    if (size === 0 && keys.length === 0) return `${prefix}{}`;
    braces = [`${prefix}{`, "}"];
    noIterator = false;
  } else if (types.isTypedArray(value)) {
    const length = typedArrayLength(value);
    const fallback = typedArrayTag(value);
    keys = ownKeys(value, ctx.showHidden).filter((k) => typeof k === "symbol" || !isIndex(k, length));
    const prefix = getPrefix(ctor, tag === fallback ? "" : tag, fallback, `(${length})`);
    braces = [`${prefix}[`, "]"];
    if (length === 0 && keys.length === 0) return `${braces[0]}]`;
    formatter = formatTypedArray;
    extrasType = "array";
    noIterator = false;
  } else if (types.isMapIterator(value) || types.isSetIterator(value)) {
    keys = ownKeys(value, ctx.showHidden);
    braces = [`[${tag}] {`, "}"];
    formatter = (c, v) => [];
    noIterator = false;
  }
  if (noIterator) {
    keys = ownKeys(value, ctx.showHidden);
    braces = ["{", "}"];
    if (ctor === "Object" && tag === "") {
      if (types.isArgumentsObject(value)) braces[0] = "[Arguments] [";
      if (keys.length === 0) return braces[0] === "{" ? "{}" : "[Arguments] []";
    } else if (typeof value === "function") {
      base = functionBase(value, ctor, tag);
      if (keys.length === 0) return base;
    } else if (types.isRegExp(value)) {
      base = regexpToString(ctor !== null ? value : new RegExp(value));
      const prefix = getPrefix(ctor, tag, "RegExp", "");
      if (prefix !== "RegExp ") base = `${prefix}${base}`;
      if (keys.length === 0) return base;
    } else if (types.isDate(value)) {
      const t = dateGetTime(value);
      base = Number.isNaN(t) ? "Invalid Date" : dateToISOString(value);
      const prefix = getPrefix(ctor, tag, "Date", "");
      if (prefix !== "Date ") base = `${prefix}${base}`;
      if (keys.length === 0) return base;
    } else if (types.isNativeError(value)) {
      base = formatError(value);
      keys = keys.filter((k) => k !== "stack" && k !== "message");
      if (keys.length === 0) return base;
    } else if (types.isAnyArrayBuffer(value)) {
      const name = types.isArrayBuffer(value) ? "ArrayBuffer" : "SharedArrayBuffer";
      const prefix = getPrefix(ctor, tag, name, "");
      if (typedArray === undefined) formatter = formatArrayBuffer;
      else if (keys.length === 0) return prefix + `{ byteLength: ${formatNumber(value.byteLength, false)} }`;
      braces[0] = `${prefix}{`;
      keys.unshift("byteLength");
    } else if (types.isDataView(value)) {
      braces[0] = `${getPrefix(ctor, tag, "DataView", "")}{`;
      keys.unshift("byteLength", "byteOffset", "buffer");
    } else if (types.isPromise(value)) {
      braces[0] = `${getPrefix(ctor, tag, "Promise", "")}{`;
      formatter = () => ["<unknown>"];
    } else if (types.isWeakSet(value) || types.isWeakMap(value)) {
      braces[0] = `${getPrefix(ctor, tag, types.isWeakSet(value) ? "WeakSet" : "WeakMap", "")}{`;
      formatter = () => ["<items unknown>"];
    } else if (types.isBoxedPrimitive(value)) {
      let type, primitive;
      if (types.isNumberObject(value)) { type = "Number"; primitive = formatPrimitive(numberValueOf(value), ctx); }
      else if (types.isStringObject(value)) {
        type = "String"; primitive = formatPrimitive(stringValueOf(value), ctx);
        keys = keys.filter((k) => typeof k === "symbol" || !isIndex(k, stringValueOf(value).length));
      }
      else if (types.isBooleanObject(value)) { type = "Boolean"; primitive = formatPrimitive(booleanValueOf(value), ctx); }
      else if (types.isBigIntObject(value)) { type = "BigInt"; primitive = formatPrimitive(bigintValueOf(value), ctx); }
      else { type = "Symbol"; primitive = formatPrimitive(symbolValueOf(value), ctx); }
      base = `[${type}`;
      if (type !== ctor) base += ctor === null ? " (null prototype)" : ` (${ctor})`;
      base += `: ${primitive}]`;
      if (tag !== "" && tag !== ctor) base += ` [${tag}]`;
      if (keys.length === 0) return base;
    } else {
      if (ctor === null) braces[0] = `${getPrefix(ctor, tag, "Object", "")}{`;
      else if (ctor !== "Object" || tag !== "") braces[0] = `${getPrefix(ctor, tag, "Object", "")}{`;
      if (keys.length === 0) return `${braces[0]}}`;
    }
  }

  if (ctx.depth !== null && recurseTimes > ctx.depth) {
    let name = ctor === null ? "Object: null prototype" : ctor;
    if (tag !== "" && tag !== ctor) name += ` [${tag}]`;
    return `[${Array.isArray(value) ? "Array" : name}]`;
  }
  recurseTimes += 1;
  ctx.seen.push(value);
  ctx.currentDepth = recurseTimes;
  let output;
  try {
    output = formatter(ctx, value, recurseTimes);
    for (let i = 0; i < keys.length; i++) output.push(formatProperty(ctx, value, recurseTimes, keys[i], extrasType));
  } finally {
    ctx.seen.pop();
  }
  if (ctx.circular !== undefined) {
    const index = ctx.circular.get(value);
    if (index !== undefined) {
      const reference = `<ref *${index}>`;
      if (base === "") braces[0] = `${reference} ${braces[0]}`;
      else base = `${reference} ${base}`;
    }
  }
  if (ctx.sorted) {
    const comparator = ctx.sorted === true ? undefined : ctx.sorted;
    if (extrasType === "object") output.sort(comparator);
  }
  const res = reduceToSingleString(ctx, output, base, braces, extrasType, recurseTimes, value);
  const newLength = ctx.budget + res.length;
  ctx.budget = newLength;
  return res;
}

function isIndex(key, length) {
  if (typeof key !== "string" || !/^(0|[1-9][0-9]*)$/.test(key)) return false;
  return Number(key) < length;
}

function formatError(err) {
  let stack;
  try { stack = err.stack; } catch (_) { stack = undefined; }
  if (typeof stack === "string" && stack !== "") return stack;
  try { return `[${errorToString(err)}]`; } catch (_) { return "[Error]"; }
}

function formatObjectEntries() { return []; }

function formatArrayBuffer(ctx, value) {
  let bytes;
  try { bytes = new Uint8Array(value); } catch (_) { return ["<detached>"]; }
  const shown = Math.min(ctx.maxArrayLength, bytes.length);
  let hex = "";
  for (let i = 0; i < shown; i++) hex += (i ? " " : "") + (bytes[i] < 16 ? "0" : "") + bytes[i].toString(16);
  const remaining = bytes.length - shown;
  if (remaining > 0) hex += ` ... ${remaining} more byte${remaining > 1 ? "s" : ""}`;
  return [`[Uint8Contents]: <${hex}>`];
}

function formatArray(ctx, value, recurseTimes) {
  const length = value.length;
  const shown = Math.min(Math.max(0, ctx.maxArrayLength), length);
  const output = [];
  let holes = 0;
  let i = 0;
  for (; i < length && output.length < shown; i++) {
    if (!hasOwn(value, i)) { holes++; continue; }
    if (holes > 0) { output.push(`<${holes} empty item${holes > 1 ? "s" : ""}>`); holes = 0; if (output.length >= shown) break; }
    output.push(formatArrayValue(ctx, value, recurseTimes, i));
  }
  if (holes > 0 && output.length < shown) { output.push(`<${holes} empty item${holes > 1 ? "s" : ""}>`); }
  const remaining = length - i;
  if (remaining > 0) output.push(`... ${remaining} more item${remaining > 1 ? "s" : ""}`);
  return output;
}

function formatArrayValue(ctx, value, recurseTimes, index) {
  const desc = Object.getOwnPropertyDescriptor(value, index);
  if (desc.value === undefined && desc.get !== undefined) return desc.set !== undefined ? "[Getter/Setter]" : "[Getter]";
  if (desc.value === undefined && desc.set !== undefined) return "[Setter]";
  ctx.indentationLvl += 2;
  const str = formatValue(ctx, desc.value, recurseTimes);
  ctx.indentationLvl -= 2;
  return str;
}

function formatTypedArray(ctx, value) {
  const length = typedArrayLength(value);
  const shown = Math.min(Math.max(0, ctx.maxArrayLength), length);
  const output = [];
  for (let i = 0; i < shown; i++) {
    const v = value[i];
    output.push(typeof v === "bigint" ? `${v}n` : formatNumber(v, ctx.numericSeparator));
  }
  if (length > shown) output.push(`... ${length - shown} more item${length - shown > 1 ? "s" : ""}`);
  if (ctx.showHidden) {
    ctx.indentationLvl += 2;
    for (const key of ["BYTES_PER_ELEMENT", "length", "byteLength", "byteOffset", "buffer"]) {
      output.push(`[${key}]: ${formatValue(ctx, value[key], ctx.currentDepth, true)}`);
    }
    ctx.indentationLvl -= 2;
  }
  return output;
}

function formatSet(ctx, value, recurseTimes) {
  const output = [];
  const it = setValues(value);
  ctx.indentationLvl += 2;
  let n = 0;
  for (let step = it.next(); !step.done; step = it.next()) {
    if (n++ >= ctx.maxArrayLength) { output.push(`... ${setSize(value) - ctx.maxArrayLength} more items`); break; }
    output.push(formatValue(ctx, step.value, recurseTimes));
  }
  ctx.indentationLvl -= 2;
  return output;
}

function formatMap(ctx, value, recurseTimes) {
  const output = [];
  const it = mapEntries(value);
  ctx.indentationLvl += 2;
  let n = 0;
  for (let step = it.next(); !step.done; step = it.next()) {
    if (n++ >= ctx.maxArrayLength) { output.push(`... ${mapSize(value) - ctx.maxArrayLength} more items`); break; }
    output.push(`${formatValue(ctx, step.value[0], recurseTimes)} => ${formatValue(ctx, step.value[1], recurseTimes)}`);
  }
  ctx.indentationLvl -= 2;
  return output;
}

function formatProperty(ctx, value, recurseTimes, key, type) {
  let name, str;
  const desc = Object.getOwnPropertyDescriptor(value, key) || { value: value[key], enumerable: true };
  if (desc.value !== undefined || !("get" in desc || "set" in desc)) {
    const diff = ctx.compact !== true || type !== "object" ? 2 : 3;
    ctx.indentationLvl += diff;
    str = formatValue(ctx, desc.value, recurseTimes);
    ctx.indentationLvl -= diff;
  } else if (desc.get !== undefined) {
    const label = desc.set !== undefined ? "Getter/Setter" : "Getter";
    if (ctx.getters) {
      try {
        const got = desc.get.call(value);
        ctx.indentationLvl += 2;
        str = `[${label}: ${formatValue(ctx, got, recurseTimes)}]`;
        ctx.indentationLvl -= 2;
      } catch (err) {
        str = `[${label}: <Inspection threw (${err && err.message})>]`;
      }
    } else {
      str = `[${label}]`;
    }
  } else {
    str = desc.set !== undefined ? "[Setter]" : "undefined";
  }
  if (type === "array-value") return str;
  name = typeof key === "symbol" ? `[${symbolToString(key)}]` : desc.enumerable === false ? `[${formatKey(key).replace(/^\[|\]$/g, "")}]` : formatKey(key);
  return `${name}: ${str}`;
}

function isBelowBreakLength(ctx, output, start, base) {
  let totalLength = output.length + start;
  if (totalLength + output.length > ctx.breakLength) return false;
  for (let i = 0; i < output.length; i++) {
    totalLength += output[i].length;
    if (totalLength > ctx.breakLength) return false;
  }
  return base === "" || !base.includes("\n");
}

// Node's columns for arrays of more than six short entries
function groupArrayElements(ctx, output, value) {
  let totalLength = 0;
  let maxLength = 0;
  let outputLength = output.length;
  if (ctx.maxArrayLength < output.length) outputLength--; // not the "... more items" entry
  const separatorSpace = 2;
  const dataLen = new Array(outputLength);
  for (let i = 0; i < outputLength; i++) {
    const len = output[i].length;
    dataLen[i] = len;
    totalLength += len + separatorSpace;
    if (maxLength < len) maxLength = len;
  }
  const actualMax = maxLength + separatorSpace;
  if (actualMax * 3 + ctx.indentationLvl < ctx.breakLength && (totalLength / actualMax > 5 || maxLength <= 6)) {
    const averageBias = Math.sqrt(actualMax - totalLength / output.length);
    const biasedMax = Math.max(actualMax - 3 - averageBias, 1);
    const columns = Math.min(
      Math.round(Math.sqrt(2.5 * biasedMax * outputLength) / biasedMax),
      Math.floor((ctx.breakLength - ctx.indentationLvl) / actualMax),
      ctx.compact * 4,
      15);
    if (columns <= 1) return output;
    const tmp = [];
    const maxLineLength = [];
    for (let i = 0; i < columns; i++) {
      let lineLength = 0;
      for (let j = i; j < output.length; j += columns) if (dataLen[j] > lineLength) lineLength = dataLen[j];
      maxLineLength.push(lineLength + separatorSpace);
    }
    let padStart = true;
    if (value !== undefined) {
      for (let i = 0; i < output.length; i++) {
        if (typeof value[i] !== "number" && typeof value[i] !== "bigint") { padStart = false; break; }
      }
    }
    for (let i = 0; i < outputLength; i += columns) {
      const max = Math.min(i + columns, outputLength);
      let str = "";
      let j = i;
      for (; j < max - 1; j++) {
        const cell = `${output[j]}, `;
        str += padStart ? cell.padStart(maxLineLength[j - i], " ") : cell.padEnd(maxLineLength[j - i], " ");
      }
      str += padStart ? output[j].padStart(maxLineLength[j - i] - separatorSpace, " ") : output[j];
      tmp.push(str);
    }
    if (ctx.maxArrayLength < output.length) tmp.push(output[outputLength]);
    output = tmp;
  }
  return output;
}

function reduceToSingleString(ctx, output, base, braces, extrasType, recurseTimes, value) {
  if (ctx.compact !== true) {
    if (typeof ctx.compact === "number" && ctx.compact >= 1) {
      const entries = output.length;
      if (extrasType === "array" && entries > 6) output = groupArrayElements(ctx, output, value);
      if (ctx.currentDepth - recurseTimes < ctx.compact && entries === output.length) {
        const start = output.length + ctx.indentationLvl + braces[0].length + base.length + 10;
        if (isBelowBreakLength(ctx, output, start, base)) {
          const joined = output.join(", ");
          if (!joined.includes("\n")) {
            return `${base ? `${base} ` : ""}${braces[0]} ${joined} ${braces[1]}`;
          }
        }
      }
    }
    const indentation = `\n${" ".repeat(ctx.indentationLvl)}`;
    return `${base ? `${base} ` : ""}${braces[0]}${indentation}  ${output.join(`,${indentation}  `)}${indentation}${braces[1]}`;
  }
  if (isBelowBreakLength(ctx, output, 0, base)) {
    return `${braces[0]}${base ? ` ${base}` : ""} ${output.join(", ")} ${braces[1]}`;
  }
  const indentation = " ".repeat(ctx.indentationLvl);
  const ln = base === "" && braces[0].length === 1 ? " " : `${base ? ` ${base}` : ""}\n${indentation}  `;
  return `${braces[0]}${ln}${output.join(`,\n${indentation}  `)} ${braces[1]}`;
}

function inspect(value, opts) {
  const ctx = {
    budget: 0, indentationLvl: 0, seen: [], currentDepth: 0, circular: undefined,
    showHidden: inspectDefaultOptions.showHidden, depth: inspectDefaultOptions.depth, colors: inspectDefaultOptions.colors,
    customInspect: inspectDefaultOptions.customInspect, showProxy: inspectDefaultOptions.showProxy,
    maxArrayLength: inspectDefaultOptions.maxArrayLength, maxStringLength: inspectDefaultOptions.maxStringLength,
    breakLength: inspectDefaultOptions.breakLength, compact: inspectDefaultOptions.compact,
    sorted: inspectDefaultOptions.sorted, getters: inspectDefaultOptions.getters,
    numericSeparator: inspectDefaultOptions.numericSeparator,
  };
  if (arguments.length > 1) {
    // the legacy signature: inspect(value, showHidden, depth, colors)
    if (arguments.length > 2 && arguments[2] !== undefined) ctx.depth = arguments[2];
    if (arguments.length > 3 && arguments[3] !== undefined) ctx.colors = arguments[3];
    if (typeof opts === "boolean") ctx.showHidden = opts;
    else if (opts !== null && typeof opts === "object") {
      for (const key of Object.keys(opts)) {
        if (hasOwn(inspectDefaultOptions, key) || key === "stylize") ctx[key] = opts[key];
      }
    }
  }
  if (ctx.depth === Infinity) ctx.depth = null;
  if (ctx.maxArrayLength === null) ctx.maxArrayLength = Infinity;
  if (ctx.maxStringLength === null) ctx.maxStringLength = Infinity;
  return formatValue(ctx, value, 0);
}
inspect.custom = customInspect;
Object.defineProperty(inspect, "defaultOptions", {
  get() { return inspectDefaultOptions; },
  set(options) {
    if (options === null || typeof options !== "object") throw new TypeError('The "options" argument must be of type object');
    Object.assign(inspectDefaultOptions, options);
  },
});
inspect.colors = Object.assign(Object.create(null), { bold: [1, 22], italic: [3, 23], underline: [4, 24], inverse: [7, 27],
  white: [37, 39], grey: [90, 39], black: [30, 39], blue: [34, 39], cyan: [36, 39], green: [32, 39], magenta: [35, 39],
  red: [31, 39], yellow: [33, 39] });
inspect.styles = Object.assign(Object.create(null), { special: "cyan", number: "yellow", bigint: "yellow", boolean: "yellow",
  undefined: "grey", null: "bold", string: "green", symbol: "green", date: "magenta", regexp: "red", module: "underline" });

// ---- format ----------------------------------------------------------------------------------

function formatWithOptions(inspectOptions, ...args) {
  const first = args[0];
  let a = 0;
  let str = "";
  let join = "";
  if (typeof first === "string") {
    if (args.length === 1) return first;
    let tempStr;
    let lastPos = 0;
    for (let i = 0; i < first.length - 1; i++) {
      if (first.charCodeAt(i) === 37) { // '%'
        const nextChar = first.charCodeAt(++i);
        if (a + 1 !== args.length) {
          switch (nextChar) {
            case 115: { // 's'
              const arg = args[++a];
              if (typeof arg === "number") tempStr = formatNumber(arg, false);
              else if (typeof arg === "bigint") tempStr = `${arg}n`;
              else if (typeof arg !== "object" || arg === null || !hasBuiltInToString(arg)) tempStr = String(arg);
              else tempStr = inspect(arg, { ...inspectOptions, depth: 0, colors: false, compact: 3 });
              break;
            }
            case 106: // 'j'
              try { tempStr = JSON.stringify(args[++a]); } catch (err) { tempStr = "[Circular]"; }
              break;
            case 100: { // 'd'
              const n = args[++a];
              if (typeof n === "bigint") tempStr = `${n}n`;
              else if (typeof n === "symbol") tempStr = "NaN";
              else tempStr = formatNumber(Number(n), false);
              break;
            }
            case 79: tempStr = inspect(args[++a], inspectOptions); break; // 'O'
            case 111: tempStr = inspect(args[++a], { ...inspectOptions, showHidden: true, showProxy: true, depth: 4 }); break; // 'o'
            case 105: { // 'i'
              const n = args[++a];
              if (typeof n === "bigint") tempStr = `${n}n`;
              else if (typeof n === "symbol") tempStr = "NaN";
              else tempStr = formatNumber(Number.parseInt(n), false);
              break;
            }
            case 102: { // 'f'
              const n = args[++a];
              tempStr = typeof n === "symbol" ? "NaN" : formatNumber(Number.parseFloat(n), false);
              break;
            }
            case 99: a += 1; tempStr = ""; break; // 'c'
            case 37: str += first.slice(lastPos, i); lastPos = i + 1; continue; // '%'
            default: continue;
          }
          if (lastPos !== i - 1) str += first.slice(lastPos, i - 1);
          str += tempStr;
          lastPos = i + 1;
        } else if (nextChar === 37) {
          str += first.slice(lastPos, i);
          lastPos = i + 1;
        }
      }
    }
    if (lastPos !== 0) {
      a++;
      join = " ";
      if (lastPos < first.length) str += first.slice(lastPos);
    }
  }
  while (a < args.length) {
    const value = args[a];
    str += join;
    str += typeof value !== "string" ? inspect(value, inspectOptions) : value;
    join = " ";
    a++;
  }
  return str;
}

// Node's rule for %s: an object whose toString is its own or its (non-built-in) class's is
// printed with String(), the others are inspected
const builtInObjects = new Set(Object.getOwnPropertyNames(globalThis).filter((e) => /^[A-Z][a-zA-Z0-9]+$/.test(e)));
function hasBuiltInToString(value) {
  if (typeof value[Symbol.toPrimitive] === "function") return false;
  if (typeof value.toString !== "function") return true;
  if (hasOwn(value, "toString")) return false;
  let pointer = value;
  do { pointer = Object.getPrototypeOf(pointer); } while (pointer !== null && !hasOwn(pointer, "toString"));
  if (pointer === null) return true;
  const descriptor = Object.getOwnPropertyDescriptor(pointer, "constructor");
  return descriptor !== undefined && typeof descriptor.value === "function" && builtInObjects.has(descriptor.value.name);
}

function format(...args) { return formatWithOptions(undefined, ...args); }

// ---- functions -------------------------------------------------------------------------------

function invalidArgType(name, expected, actual) {
  const err = new TypeError(`The "${name}" argument must be of type ${expected}. Received ${describe(actual)}`);
  err.code = "ERR_INVALID_ARG_TYPE";
  return err;
}
function describe(value) {
  if (value == null) return String(value);
  if (typeof value === "function") return `function ${value.name}`;
  if (typeof value === "object") return value.constructor && value.constructor.name ? `an instance of ${value.constructor.name}` : inspect(value, { depth: -1 });
  let shown = inspect(value, { colors: false });
  if (shown.length > 28) shown = `${shown.slice(0, 25)}...`;
  return `type ${typeof value} (${shown})`;
}

function promisify(original) {
  if (typeof original !== "function") throw invalidArgType("original", "function", original);
  if (original[customPromisify]) {
    const fn = original[customPromisify];
    if (typeof fn !== "function") throw invalidArgType("util.promisify.custom", "function", fn);
    return Object.defineProperty(fn, customPromisify, { value: fn, enumerable: false, writable: false, configurable: true });
  }
  function fn(...args) {
    return new Promise((resolve, reject) => {
      Reflect.apply(original, this, [...args, (err, ...values) => {
        if (err) return reject(err);
        resolve(values[0]);
      }]);
    });
  }
  Object.setPrototypeOf(fn, Object.getPrototypeOf(original));
  Object.defineProperty(fn, customPromisify, { value: fn, enumerable: false, writable: false, configurable: true });
  const descriptors = Object.getOwnPropertyDescriptors(original);
  for (const key of Reflect.ownKeys(descriptors)) {
    if (key === "length" || key === "name" || key === "prototype" || key === customPromisify) continue;
    Object.defineProperty(fn, key, descriptors[key]);
  }
  return fn;
}
promisify.custom = customPromisify;

function callbackify(original) {
  if (typeof original !== "function") throw invalidArgType("original", "function", original);
  function callbackified(...args) {
    const callback = args.pop();
    if (typeof callback !== "function") throw invalidArgType("last argument", "function", callback);
    const onRejected = (reason) => {
      if (!reason) {
        const err = new Error("Promise was rejected with a falsy value");
        err.code = "ERR_FALSY_VALUE_REJECTION";
        err.reason = reason;
        reason = err;
      }
      process.nextTick(callback, reason);
    };
    Reflect.apply(original, this, args).then((ret) => process.nextTick(callback, null, ret), onRejected);
  }
  Object.defineProperty(callbackified, "name", { value: `${original.name}Callbackified` });
  Object.defineProperty(callbackified, "length", { value: original.length + 1 });
  return callbackified;
}

function inherits(ctor, superCtor) {
  if (ctor === undefined || ctor === null) throw invalidArgType("ctor", "function", ctor);
  if (superCtor === undefined || superCtor === null) throw invalidArgType("superCtor", "function", superCtor);
  if (superCtor.prototype === undefined) throw invalidArgType("superCtor.prototype", "object", superCtor.prototype);
  Object.defineProperty(ctor, "super_", { value: superCtor, writable: true, configurable: true });
  Object.setPrototypeOf(ctor.prototype, superCtor.prototype);
}

const deprecationsWarned = new Set();
function deprecate(fn, msg, code) {
  if (typeof fn !== "function") throw invalidArgType("fn", "function", fn);
  let warned = false;
  function deprecated(...args) {
    if (!warned) {
      warned = true;
      if (code === undefined || !deprecationsWarned.has(code)) {
        if (code !== undefined) deprecationsWarned.add(code);
        process.emitWarning(msg, "DeprecationWarning", code);
      }
    }
    if (new.target) return Reflect.construct(fn, args, new.target);
    return Reflect.apply(fn, this, args);
  }
  Object.setPrototypeOf(deprecated, fn);
  if (fn.prototype) deprecated.prototype = fn.prototype;
  return deprecated;
}

function debuglog() {
  const logger = () => {};
  logger.enabled = false;
  return logger;
}

function stripVTControlCharacters(str) {
  if (typeof str !== "string") throw invalidArgType("str", "string", str);
  // eslint-disable-next-line no-control-regex
  return str.replace(/[\u001B\u009B][[\]()#;?]*(?:(?:(?:(?:;[-a-zA-Z\d/#&.:=?%@~_]+)*|[a-zA-Z\d]+(?:;[-a-zA-Z\d/#&.:=?%@~_]*)*)?\u0007)|(?:(?:\d{1,4}(?:;\d{0,4})*)?[\dA-PR-TZcf-ntqry=><~]))/g, "");
}

function toUSVString(input) {
  return String(input).replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, "\uFFFD");
}

function isDeepStrictEqual(a, b) { return deepEqual.isDeepEqual(a, b, true); }

module.exports = {
  format, formatWithOptions, inspect, promisify, callbackify, inherits, deprecate, debuglog, debug: debuglog,
  isDeepStrictEqual, types, TextEncoder: globalThis.TextEncoder, TextDecoder: globalThis.TextDecoder,
  stripVTControlCharacters, toUSVString, styleText: (format, text) => String(text),
  getSystemErrorName: (n) => `Unknown system error ${n}`,
  aborted: (signal) => new Promise((resolve) => {
    if (signal.aborted) resolve(); else signal.addEventListener("abort", () => resolve(), { once: true });
  }),
  // deprecated in Node 22, still present there
  _extend: (target, source) => { if (source !== null && typeof source === "object") Object.assign(target, source); return target; },
  isArray: Array.isArray,
  isBoolean: (v) => typeof v === "boolean",
  isBuffer: (v) => globalThis.Buffer !== undefined && globalThis.Buffer.isBuffer(v),
  isDate: types.isDate,
  isError: types.isNativeError,
  isFunction: (v) => typeof v === "function",
  isNull: (v) => v === null,
  isNullOrUndefined: (v) => v === null || v === undefined,
  isNumber: (v) => typeof v === "number",
  isObject: (v) => v !== null && typeof v === "object",
  isPrimitive: (v) => v === null || (typeof v !== "object" && typeof v !== "function"),
  isRegExp: types.isRegExp,
  isString: (v) => typeof v === "string",
  isSymbol: (v) => typeof v === "symbol",
  isUndefined: (v) => v === undefined,
};

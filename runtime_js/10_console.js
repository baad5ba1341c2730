// console: log/info/warn/error/debug formatted like Node's util.format, captured for the
// execution that is running (the flow runner's logSink), bounded per call and per execution.

const CONSOLE_MAX_LINE = 16 * 1024;
const INSPECT_MAX_ITEMS = 100;
const INSPECT_MAX_DEPTH = 2;

function inspectString(s, quoted) {
  if (!quoted) return s;
  return "'" + StringPrototypeReplace(s, /'/g, "\\'") + "'";
}

function inspect(value, depth, seen, quoted) {
  switch (typeof value) {
    case "string": return inspectString(value, quoted);
    case "number": return ObjectIs(value, -0) ? "-0" : StringCtor(value);
    case "bigint": return StringCtor(value) + "n";
    case "boolean": return value ? "true" : "false";
    case "undefined": return "undefined";
    case "symbol": return ReflectApply(SymbolCtor.prototype.toString, value, []);
    case "function": {
      let name = "";
      try { const d = ReflectGetOwnPropertyDescriptor(value, "name"); if (d && typeof d.value === "string") name = d.value; } catch (_) { /* proxy */ }
      return name ? "[Function: " + name + "]" : "[Function (anonymous)]";
    }
  }
  if (value === null) return "null";
  if (ArrayPrototypeIndexOf(seen, value) !== -1) return "[Circular *]";
  const tag = ObjectPrototypeToString(value);
  if (tag === "[object Error]") {
    const stack = errorStack(value);
    return stack !== undefined ? stack : errorMessage(value);
  }
  if (tag === "[object Date]") {
    try { return DatePrototypeToISOString(value); } catch (_) { return "Invalid Date"; }
  }
  if (ArrayBufferIsView(value)) return inspectView(value, tag, depth, seen);
  const isArray = ArrayIsArray(value);
  if (depth > INSPECT_MAX_DEPTH) return isArray ? "[Array]" : "[Object]";
  ArrayPrototypePush(seen, value);
  const parts = [];
  const keys = ReflectOwnKeys(value);
  let shown = 0;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    if (isArray && key === "length") continue;
    const desc = ReflectGetOwnPropertyDescriptor(value, key);
    if (desc === undefined || !desc.enumerable) continue;
    if (shown++ >= INSPECT_MAX_ITEMS) { ArrayPrototypePush(parts, "... more items"); break; }
    let shownValue;
    if (ObjectPrototypeHasOwnProperty(desc, "value")) shownValue = inspect(desc.value, depth + 1, seen, true);
    else shownValue = desc.get && desc.set ? "[Getter/Setter]" : desc.get ? "[Getter]" : "[Setter]";
    if (isArray && typeof key === "string" && RegExpPrototypeTest(/^(0|[1-9][0-9]*)$/, key)) {
      ArrayPrototypePush(parts, shownValue);
    } else {
      const shownKey = typeof key === "symbol" ? "[" + inspect(key, 0, seen, false) + "]"
        : RegExpPrototypeTest(/^[A-Za-z_$][A-Za-z0-9_$]*$/, key) ? key : inspectString(key, true);
      ArrayPrototypePush(parts, shownKey + ": " + shownValue);
    }
  }
  ArrayPrototypeSplice(seen, seen.length - 1, 1);
  if (isArray) return parts.length ? "[ " + ArrayPrototypeJoin(parts, ", ") + " ]" : "[]";
  return parts.length ? "{ " + ArrayPrototypeJoin(parts, ", ") + " }" : "{}";
}

// A typed array as Node shows it: `Uint8Array(3) [ 1, 2, 3 ]`, the first INSPECT_MAX_ITEMS
// elements read by index (listing its keys would walk every index in native code).
function inspectView(value, tag, depth, seen) {
  let length;
  try { length = TypedArrayPrototypeGetLength(value); } catch (_) { return "DataView {}"; }
  const name = StringPrototypeSlice(tag, 8, -1);
  if (depth > INSPECT_MAX_DEPTH) return "[" + name + "]";
  const parts = [];
  const shown = MathMin(length, INSPECT_MAX_ITEMS);
  for (let i = 0; i < shown; i++) ArrayPrototypePush(parts, inspect(value[i], depth + 1, seen, true));
  if (length > shown) ArrayPrototypePush(parts, "... " + (length - shown) + " more items");
  return name + "(" + length + ") " + (parts.length ? "[ " + ArrayPrototypeJoin(parts, ", ") + " ]" : "[]");
}

function safeInspect(value, quoted) {
  try {
    return inspect(value, 0, [], quoted);
  } catch (err) {
    return "[value that cannot be inspected: " + errorMessage(err) + "]";
  }
}

// util.format: %s %d %i %f %j %o %O %% in a leading string, the rest joined by spaces.
function formatLogArgs(args) {
  let out = "";
  let next = 0;
  if (args.length > 0 && typeof args[0] === "string") {
    const fmt = args[0];
    next = 1;
    let i = 0;
    while (i < fmt.length && out.length < CONSOLE_MAX_LINE) {
      const at = StringPrototypeIndexOf(fmt, "%", i);
      if (at === -1 || at === fmt.length - 1) { out += StringPrototypeSlice(fmt, i); break; }
      out += StringPrototypeSlice(fmt, i, at);
      const c = fmt[at + 1];
      if (c === "%") { out += "%"; }
      else if (next < args.length && (c === "s" || c === "d" || c === "i" || c === "f" || c === "j" || c === "o" || c === "O")) {
        const arg = args[next++];
        if (c === "s") out += typeof arg === "string" ? arg : safeInspect(arg, false);
        else if (c === "d" || c === "f") out += typeof arg === "object" ? "NaN" : StringCtor(NumberCtor(arg));
        else if (c === "i") out += typeof arg === "object" ? "NaN" : StringCtor(MathFloor(NumberCtor(arg)));
        else if (c === "j") { try { out += JSONStringify(arg); } catch (_) { out += "[Circular]"; } }
        else out += safeInspect(arg, true);
      } else { out += "%" + c; }
      i = at + 2;
    }
  }
  for (let k = next; k < args.length && out.length < CONSOLE_MAX_LINE; k++) {
    if (out.length > 0 || k > 0) out += " ";
    out += safeInspect(args[k], false);
  }
  if (out.length > CONSOLE_MAX_LINE) out = StringPrototypeSlice(out, 0, CONSOLE_MAX_LINE) + "... [line truncated]";
  return out;
}

function makeConsole() {
  const level = (name) => function () {
    // arguments is copied through a captured slice: user code may have replaced Array.from.
    logSink(name, formatLogArgs(ArrayPrototypeSlice(arguments)));
  };
  const c = {
    log: level("log"), info: level("info"), warn: level("warn"), error: level("error"),
    debug: level("debug"), trace: level("trace"),
  };
  return c;
}

ObjectDefineProperty(globalThis, "console", {
  value: makeConsole(), writable: true, configurable: true, enumerable: false,
});

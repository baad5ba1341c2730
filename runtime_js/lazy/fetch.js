// The WHATWG fetch surface as Node 22 has it, compiled on first use by 48_fetch.js (undici): fetch, Request, Response, Headers,
// FormData, Blob, File, AbortController, AbortSignal, and the EventTarget, Event and
// CustomEvent they stand on. The isolate only describes a request; the executor's host side
// performs it (hostCall "fetch", wire format in sandbox/host_fetch.py) under the egress policy,
// and the reply becomes a Response here. Bodies are held whole, as bytes counted against the
// buffer budget; there is no streaming in either direction.
//
// Like every runtime file: no iterator protocol, spread or destructuring of arrays on the
// runtime's own paths, captured intrinsics only (00_primordials.js and the captures below).

const {
  ArrayIsArray, ArrayPrototypeIndexOf, ArrayPrototypeJoin, ArrayPrototypePush, ArrayPrototypeSlice, ArrayPrototypeSplice, BASE64_ALPHABET, BASE64_VALUES,
  DOMExceptionCtor, DateNow, ErrorCtor, Int16ArrayCtor, IteratorPrototype, JSONParse, JSONStringify, MathFloor,
  MathMax, MathMin, MathRandom, NumberCtor, NumberIsFinite, NumberIsInteger, ObjectCreate, ObjectDefineProperty,
  ObjectFreeze, ObjectKeys, ObjectPrototypeHasOwnProperty, ObjectSetPrototypeOf, PromiseCtor, PromisePrototypeThen, PromiseReject, PromiseResolve,
  RangeErrorCtor, ReflectApply, ReflectGetOwnPropertyDescriptor, SafeMap, StringCtor, StringFromCharCode, StringPrototypeCharCodeAt, StringPrototypeIndexOf,
  StringPrototypePadStart, StringPrototypeReplace, StringPrototypeSlice, StringPrototypeSplit, StringPrototypeToLowerCase, StringPrototypeToUpperCase, StringPrototypeTrim, SymbolAsyncIterator,
  SymbolIterator, SymbolToStringTag, TypeErrorCtor, TypedArrayPrototypeGetBuffer, TypedArrayPrototypeGetLength, TypedArrayPrototypeSet, TypedArrayPrototypeSubarray, UTF8_CHUNK,
  Uint16ArrayCtor, Uint8ArrayCtor, WeakMapCtor, WeakMapPrototypeDelete, WeakMapPrototypeGet, WeakMapPrototypeSet, WeakRefCtor, WeakRefPrototypeDeref,
  activeExecution, addTimer, describeReceived, errorMessage, hostCall, nodeError, reserveBuffer, runAs,
  urlInvalidError, urlParseRecord, urlSerialize, urlToUSV, uspList, uspParse, uspSerialize, uspSort, utf8Decode,
  utf8DecodeRun, utf8Encode, utf8NewState, viewBytes,
} = rt;


const FETCH_BODY_MAX = 10 * 1024 * 1024;   // request bodies refused before they reach the host
const NO_OPTIONS = ObjectFreeze(ObjectCreate(null));   // no getter planted on Object.prototype reads as an option
const noop = () => {};

function ownValue(object, key) {
  if (object === null || typeof object !== "object") return undefined;
  return ObjectPrototypeHasOwnProperty(object, key) ? object[key] : undefined;
}

function setToStringTag(Class, tag) {
  ObjectDefineProperty(Class.prototype, SymbolToStringTag, { value: tag, configurable: true });
}

function newBytes(n) {
  const out = new Uint8ArrayCtor(n);
  reserveBuffer(n, out);
  return out;
}

function copyBytes(src) {
  const n = TypedArrayPrototypeGetLength(src);
  const out = newBytes(n);
  TypedArrayPrototypeSet(out, src);
  return out;
}

function concatBytes(chunks, total) {
  const out = newBytes(total);
  let at = 0;
  for (let i = 0; i < chunks.length; i++) {
    TypedArrayPrototypeSet(out, chunks[i], at);
    at += TypedArrayPrototypeGetLength(chunks[i]);
  }
  return out;
}

function bytesToArrayBuffer(bytes) {
  return TypedArrayPrototypeGetBuffer(copyBytes(bytes));
}

function isObjectLike(value) {
  return value !== null && (typeof value === "object" || typeof value === "function");
}

// Walk a caller's sequence with the caller's own iterator protocol (arrays by index: the
// runtime does not call a replaced Array.prototype[Symbol.iterator]).
function forEachOfSequence(sequence, fn, what) {
  if (ArrayIsArray(sequence)) {
    for (let i = 0; i < sequence.length; i++) fn(sequence[i]);
    return;
  }
  const method = sequence[SymbolIterator];
  if (typeof method !== "function") throw new TypeErrorCtor(what + " is not iterable");
  const iterator = ReflectApply(method, sequence, []);
  if (!isObjectLike(iterator)) throw new TypeErrorCtor("Result of the Symbol.iterator method is not an object");
  const next = iterator.next;
  for (;;) {
    const step = ReflectApply(next, iterator, []);
    if (!isObjectLike(step)) throw new TypeErrorCtor("Iterator result " + StringCtor(step) + " is not an object");
    if (step.done) return;
    fn(step.value);
  }
}

function sequenceToList(sequence, what) {
  const out = [];
  forEachOfSequence(sequence, (v) => { out[out.length] = v; }, what);
  return out;
}

// ---- base64 for the wire -------------------------------------------------------------------

const B64_CODES = new Uint8ArrayCtor(64);
for (let i = 0; i < 64; i++) B64_CODES[i] = StringPrototypeCharCodeAt(BASE64_ALPHABET, i);
const B64_VALUES = new Int16ArrayCtor(256);
for (let i = 0; i < 256; i++) B64_VALUES[i] = i < 128 ? BASE64_VALUES[i] : -1;
// scratch space for building strings a chunk at a time (String.fromCharCode over a typed array)
const TEXT_CHUNK = 16384;
const textScratch = new Uint16ArrayCtor(TEXT_CHUNK);

function base64Encode(bytes) {
  const n = TypedArrayPrototypeGetLength(bytes);
  const codes = B64_CODES;
  const out16 = textScratch;
  let out = "";
  let w = 0;
  let i = 0;
  for (; i + 2 < n; i += 3) {
    const v = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out16[w] = codes[v >> 18];
    out16[w + 1] = codes[(v >> 12) & 63];
    out16[w + 2] = codes[(v >> 6) & 63];
    out16[w + 3] = codes[v & 63];
    w += 4;
    if (w === TEXT_CHUNK) { out += ReflectApply(StringFromCharCode, undefined, out16); w = 0; }
  }
  if (w > 0) out += ReflectApply(StringFromCharCode, undefined, TypedArrayPrototypeSubarray(out16, 0, w));
  if (n - i === 1) {
    const v = bytes[i] << 16;
    out += BASE64_ALPHABET[v >> 18] + BASE64_ALPHABET[(v >> 12) & 63] + "==";
  } else if (n - i === 2) {
    const v = (bytes[i] << 16) | (bytes[i + 1] << 8);
    out += BASE64_ALPHABET[v >> 18] + BASE64_ALPHABET[(v >> 12) & 63] + BASE64_ALPHABET[(v >> 6) & 63] + "=";
  }
  return out;
}

// Padded or unpadded standard base64 from the host; null when it is not base64.
function base64Decode(s) {
  let n = s.length;
  while (n > 0 && StringPrototypeCharCodeAt(s, n - 1) === 0x3D) n--;
  if (n % 4 === 1) return null;
  const out = newBytes(MathFloor((n * 3) / 4));
  const values = B64_VALUES;
  let w = 0;
  let i = 0;
  for (; i + 3 < n; i += 4) {
    const a = values[StringPrototypeCharCodeAt(s, i) & 0xFF], b = values[StringPrototypeCharCodeAt(s, i + 1) & 0xFF];
    const c = values[StringPrototypeCharCodeAt(s, i + 2) & 0xFF], d = values[StringPrototypeCharCodeAt(s, i + 3) & 0xFF];
    if ((a | b | c | d) < 0) return null;
    const v = (a << 18) | (b << 12) | (c << 6) | d;
    out[w] = v >> 16;
    out[w + 1] = (v >> 8) & 0xFF;
    out[w + 2] = v & 0xFF;
    w += 3;
  }
  let acc = 0, bits = 0;
  for (; i < n; i++) {
    const v = values[StringPrototypeCharCodeAt(s, i) & 0xFF];
    if (v < 0) return null;
    acc = ((acc << 6) | v) & 0xFFFFFF;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[w++] = (acc >> bits) & 0xFF;
    }
  }
  // a character above 0xFF folds onto a valid one through `& 0xFF`: check the text is ASCII
  return isAsciiText(s, n) ? out : null;
}

function isAsciiText(s, n) {
  for (let i = 0; i < n; i++) if (StringPrototypeCharCodeAt(s, i) > 0x7F) return false;
  return true;
}

// ---- Event, EventTarget, CustomEvent ------------------------------------------------------

const EVENT_NONE = 0, EVENT_AT_TARGET = 2;
const EVENT_INTERNAL = {};
let eventSetTrusted;            // (event) -> void
let eventPrepare;               // (event, target) -> void, before a dispatch
let eventStopped;               // (event) -> stopImmediatePropagation was called
let eventFinish;                // (event) -> void, after a dispatch
let eventDefaultPrevented;      // (event) -> boolean
let eventTargetAdd;             // (target, type, listener) -> void
let eventTargetRemove;          // (target, type, listener) -> void
let eventTargetDispatch;        // (target, event) -> !defaultPrevented, the runtime's own dispatch

function missingArgs(name) {
  return nodeError(TypeErrorCtor, 'The "' + name + '" argument must be specified', "ERR_MISSING_ARGS");
}

class Event {
  #type;
  #bubbles;
  #cancelable;
  #composed;
  #defaultPrevented = false;
  #timeStamp;
  #target = null;
  #phase = EVENT_NONE;
  #stopImmediate = false;
  #propagationStopped = false;
  #dispatching = false;
  #trusted = false;

  static {
    eventSetTrusted = (e) => { e.#trusted = true; };
    eventPrepare = (e, target) => { e.#target = target; e.#phase = EVENT_AT_TARGET; e.#dispatching = true; };
    eventStopped = (e) => e.#stopImmediate;
    eventFinish = (e) => { e.#phase = EVENT_NONE; e.#dispatching = false; };
    eventDefaultPrevented = (e) => e.#cancelable && e.#defaultPrevented;
  }

  constructor(type, options = undefined) {
    if (arguments.length === 0) throw missingArgs("type");
    if (options !== undefined && options !== null && typeof options !== "object" && typeof options !== "function") {
      throw nodeError(TypeErrorCtor, 'The "options" argument must be of type object.', "ERR_INVALID_ARG_TYPE");
    }
    this.#type = `${type}`;
    this.#bubbles = !!(options && options.bubbles);
    this.#cancelable = !!(options && options.cancelable);
    this.#composed = !!(options && options.composed);
    this.#timeStamp = DateNow();
  }

  get type() { return this.#type; }
  get target() { return this.#target; }
  get currentTarget() { return this.#dispatching ? this.#target : null; }
  get srcElement() { return this.#target; }
  get eventPhase() { return this.#phase; }
  get bubbles() { return this.#bubbles; }
  get cancelable() { return this.#cancelable; }
  get composed() { return this.#composed; }
  get defaultPrevented() { return this.#cancelable && this.#defaultPrevented; }
  get timeStamp() { return this.#timeStamp; }
  get isTrusted() { return this.#trusted; }
  get returnValue() { return !this.defaultPrevented; }
  get cancelBubble() { return this.#propagationStopped; }
  set cancelBubble(value) { if (value) this.#propagationStopped = true; }
  composedPath() { return this.#dispatching ? [this.#target] : []; }
  preventDefault() { this.#defaultPrevented = true; }
  stopPropagation() { this.#propagationStopped = true; }
  stopImmediatePropagation() { this.#propagationStopped = true; this.#stopImmediate = true; }
}
setToStringTag(Event, "Event");
{
  const phases = ["NONE", "CAPTURING_PHASE", "AT_TARGET", "BUBBLING_PHASE"];
  for (let i = 0; i < phases.length; i++) {
    ObjectDefineProperty(Event, phases[i], { value: i, enumerable: true });
    ObjectDefineProperty(Event.prototype, phases[i], { value: i, enumerable: true });
  }
}

class CustomEvent extends Event {
  #detail;
  constructor(type, options = undefined) {
    if (arguments.length === 0) throw missingArgs("type");
    super(type, options);
    this.#detail = options !== undefined && options !== null && options.detail !== undefined ? options.detail : null;
  }
  get detail() { return this.#detail; }
}
setToStringTag(CustomEvent, "CustomEvent");

// A listener's error goes where Node sends it (an uncaught exception): it fails the running
// execution, after the dispatch, never into the code that dispatched.
function reportListenerError(err) {
  const owner = activeExecution();
  PromisePrototypeThen(PromiseResolve(undefined), () => runAs(owner, (e) => { throw e; }, [err]));
}

class EventTarget {
  #listeners = new SafeMap();   // type -> [{callback, capture, once, removed}]

  static {
    eventTargetDispatch = (target, event) => target.#dispatch(event);
    eventTargetAdd = (target, type, callback) => target.#add(type, callback, false, false);
    eventTargetRemove = (target, type, callback) => {
      const list = target.#listeners.get(type);
      if (list === undefined) return;
      for (let i = 0; i < list.length; i++) {
        if (list[i].callback === callback && !list[i].capture) { target.#remove(type, list[i]); return; }
      }
    };
  }

  addEventListener(type, callback, options = undefined) {
    if (arguments.length < 2) throw nodeError(TypeErrorCtor, 'The "type" and "listener" arguments must be specified', "ERR_MISSING_ARGS");
    if (callback === null || callback === undefined) return;
    const name = `${type}`;
    let capture = false, once = false, signal;
    if (typeof options === "boolean") capture = options;
    else if (options !== undefined && options !== null) {
      capture = !!options.capture;
      once = !!options.once;
      signal = options.signal;
      if (signal !== undefined && !isAbortSignal(signal)) {
        throw nodeError(TypeErrorCtor, 'The "options.signal" property must be an instance of AbortSignal. Received ' + describeReceived(signal), "ERR_INVALID_ARG_TYPE");
      }
    }
    if (signal !== undefined && signalAborted(signal)) return;
    const entry = this.#add(name, callback, capture, once);
    if (entry !== null && signal !== undefined) {
      signalAddAlgorithm(signal, () => this.#remove(name, entry));
    }
  }

  #add(name, callback, capture, once) {
    let list = this.#listeners.get(name);
    if (list === undefined) { list = []; this.#listeners.set(name, list); }
    for (let i = 0; i < list.length; i++) {
      if (list[i].callback === callback && list[i].capture === capture) return null;
    }
    const entry = { callback, capture, once, removed: false };
    ArrayPrototypePush(list, entry);
    return entry;
  }

  removeEventListener(type, callback, options = undefined) {
    const name = `${type}`;
    const capture = typeof options === "boolean" ? options : !!(options !== undefined && options !== null && options.capture);
    const list = this.#listeners.get(name);
    if (list === undefined) return;
    for (let i = 0; i < list.length; i++) {
      if (list[i].callback === callback && list[i].capture === capture) { this.#remove(name, list[i]); return; }
    }
  }

  #remove(name, entry) {
    entry.removed = true;
    const list = this.#listeners.get(name);
    if (list === undefined) return;
    const at = ArrayPrototypeIndexOf(list, entry);
    if (at !== -1) ArrayPrototypeSplice(list, at, 1);
  }

  dispatchEvent(event) {
    if (!isEvent(event)) {
      throw nodeError(TypeErrorCtor, 'The "event" argument must be an instance of Event. Received ' + describeReceived(event), "ERR_INVALID_ARG_TYPE");
    }
    return this.#dispatch(event);
  }

  #dispatch(event) {
    const type = eventType(event);
    eventPrepare(event, this);
    const list = this.#listeners.get(type);
    if (list !== undefined) {
      const snapshot = ArrayPrototypeSlice(list);
      for (let i = 0; i < snapshot.length; i++) {
        const entry = snapshot[i];
        if (entry.removed) continue;
        if (entry.once) this.#remove(type, entry);
        try {
          const callback = entry.callback;
          if (typeof callback === "function") ReflectApply(callback, this, [event]);
          else {
            const handle = callback.handleEvent;
            if (typeof handle === "function") ReflectApply(handle, callback, [event]);
          }
        } catch (err) {
          reportListenerError(err);
        }
        if (eventStopped(event)) break;
      }
    }
    eventFinish(event);
    return !eventDefaultPrevented(event);
  }
}
setToStringTag(EventTarget, "EventTarget");

let eventType;
let isEvent;
{
  const typeGetter = ReflectGetOwnPropertyDescriptor(Event.prototype, "type").get;
  eventType = (e) => ReflectApply(typeGetter, e, []);
  isEvent = (e) => {
    if (!isObjectLike(e)) return false;
    try { ReflectApply(typeGetter, e, []); return true; } catch (_) { return false; }
  };
}

// An `on<type>` attribute: a listener that takes its place among the others when first set.
function defineEventHandler(Class, type) {
  const handlers = new WeakMapCtor();   // target -> {fn, listener}
  ObjectDefineProperty(Class.prototype, "on" + type, {
    get() {
      const h = WeakMapPrototypeGet(handlers, this);
      return h === undefined ? null : h.fn;
    },
    set(value) {
      let h = WeakMapPrototypeGet(handlers, this);
      const fn = typeof value === "function" || (value !== null && typeof value === "object") ? value : null;
      if (h === undefined) {
        if (fn === null) return;
        const holder = { fn, listener: null };
        holder.listener = function (event) {
          const current = holder.fn;
          if (typeof current === "function") return ReflectApply(current, this, [event]);
        };
        WeakMapPrototypeSet(handlers, this, holder);
        eventTargetAdd(this, type, holder.listener);
        return;
      }
      if (fn === null) {
        eventTargetRemove(this, type, h.listener);
        WeakMapPrototypeDelete(handlers, this);
        return;
      }
      h.fn = fn;
    },
    enumerable: true, configurable: true,
  });
}

// ---- AbortController, AbortSignal ---------------------------------------------------------

const SIGNAL_INTERNAL = {};
let signalAborted;              // (signal) -> boolean
let signalReason;               // (signal) -> reason
let signalAbort;                // (signal, reason) -> void
let signalAddAlgorithm;         // (signal, fn) -> void; fn runs on abort, before the event
let signalRemoveAlgorithm;      // (signal, fn) -> void
let signalAddWeakDependent;     // (signal, dependent) -> void
let isAbortSignal;

function abortError() {
  return new DOMExceptionCtor("This operation was aborted", "AbortError");
}

function timeoutError() {
  return new DOMExceptionCtor("The operation was aborted due to timeout", "TimeoutError");
}

class AbortSignal extends EventTarget {
  #aborted = false;
  #reason = undefined;
  #algorithms = [];
  // signals that abort with this one: AbortSignal.any's (held), a Request's (a WeakRef, as
  // undici does: a long-lived controller used for every request must not keep them all)
  #dependents = [];
  #dependentsPruned = 0;

  static {
    isAbortSignal = (s) => isObjectLike(s) && #aborted in s;
    signalAborted = (s) => s.#aborted;
    signalReason = (s) => s.#reason;
    signalAddAlgorithm = (s, fn) => { ArrayPrototypePush(s.#algorithms, fn); };
    signalRemoveAlgorithm = (s, fn) => {
      const at = ArrayPrototypeIndexOf(s.#algorithms, fn);
      if (at !== -1) ArrayPrototypeSplice(s.#algorithms, at, 1);
    };
    signalAddWeakDependent = (s, dependent) => {
      ArrayPrototypePush(s.#dependents, new WeakRefCtor(dependent));
      const list = s.#dependents;
      if (list.length < 64 || list.length < 2 * s.#dependentsPruned) return;
      const kept = [];
      for (let i = 0; i < list.length; i++) {
        if (isAbortSignal(list[i]) || WeakRefPrototypeDeref(list[i]) !== undefined) ArrayPrototypePush(kept, list[i]);
      }
      s.#dependents = kept;
      s.#dependentsPruned = kept.length;
    };
    // as the spec's "signal abort": every dependent has its reason before any event fires;
    // the signal's own steps run first, then its dependents', in order
    signalAbort = (s, reason) => {
      if (s.#aborted) return;
      s.#aborted = true;
      s.#reason = reason === undefined ? abortError() : reason;
      const order = [s];
      for (let i = 0; i < order.length; i++) {
        const dependents = order[i].#dependents;
        order[i].#dependents = [];
        for (let k = 0; k < dependents.length; k++) {
          const d = isAbortSignal(dependents[k]) ? dependents[k] : WeakRefPrototypeDeref(dependents[k]);
          if (d === undefined || d.#aborted) continue;
          d.#aborted = true;
          d.#reason = s.#reason;
          ArrayPrototypePush(order, d);
        }
      }
      for (let i = 0; i < order.length; i++) {
        const target = order[i];
        const algorithms = target.#algorithms;
        target.#algorithms = [];
        for (let k = 0; k < algorithms.length; k++) {
          try { algorithms[k](); } catch (err) { reportListenerError(err); }
        }
        const event = new Event("abort");
        eventSetTrusted(event);
        eventTargetDispatch(target, event);
      }
    };
  }

  constructor(token = undefined) {
    if (token !== SIGNAL_INTERNAL) throw nodeError(TypeErrorCtor, "Illegal constructor", "ERR_ILLEGAL_CONSTRUCTOR");
    super();
  }

  get aborted() { return this.#aborted; }
  get reason() { return this.#reason; }

  throwIfAborted() {
    if (this.#aborted) throw this.#reason;
  }

  static abort(reason = undefined) {
    const signal = new AbortSignal(SIGNAL_INTERNAL);
    signal.#aborted = true;
    signal.#reason = reason === undefined ? abortError() : reason;
    return signal;
  }

  static timeout(delay) {
    if (typeof delay !== "number") {
      throw nodeError(TypeErrorCtor, 'The "delay" argument must be of type number. Received ' + describeReceived(delay), "ERR_INVALID_ARG_TYPE");
    }
    if (!NumberIsInteger(delay) || delay < 0 || delay > 4294967295) {
      throw nodeError(RangeErrorCtor, 'The value of "delay" is out of range. It must be >= 0 && <= 4294967295. Received ' + StringCtor(delay), "ERR_OUT_OF_RANGE");
    }
    const signal = new AbortSignal(SIGNAL_INTERNAL);
    // a timer of the running execution: it dies with it, and never holds the execution open
    addTimer(() => signalAbort(signal, timeoutError()), delay, [], false);
    return signal;
  }

  static any(signals) {
    const list = sequenceToList(signals, "The \"signals\" argument");
    for (let i = 0; i < list.length; i++) {
      if (!isAbortSignal(list[i])) {
        throw nodeError(TypeErrorCtor, 'The "signals[' + i + ']" argument must be an instance of AbortSignal. Received ' + describeReceived(list[i]), "ERR_INVALID_ARG_TYPE");
      }
    }
    const result = new AbortSignal(SIGNAL_INTERNAL);
    for (let i = 0; i < list.length; i++) {
      if (list[i].#aborted) {
        result.#aborted = true;
        result.#reason = list[i].#reason;
        return result;
      }
    }
    for (let i = 0; i < list.length; i++) ArrayPrototypePush(list[i].#dependents, result);
    return result;
  }
}
setToStringTag(AbortSignal, "AbortSignal");
defineEventHandler(AbortSignal, "abort");

class AbortController {
  #signal = new AbortSignal(SIGNAL_INTERNAL);
  get signal() { return this.#signal; }
  abort(reason = undefined) { signalAbort(this.#signal, reason); }
}
setToStringTag(AbortController, "AbortController");

// A signal that aborts when `source` does (a Request's own signal).
function followingSignal(source) {
  const signal = new AbortSignal(SIGNAL_INTERNAL);
  if (source === null || source === undefined) return signal;
  if (signalAborted(source)) { signalAbort(signal, signalReason(source)); return signal; }
  signalAddWeakDependent(source, signal);
  return signal;
}

// ---- Blob, File ---------------------------------------------------------------------------

const BLOB_INTERNAL = {};
let blobPending = null;
let blobBytes;                  // (blob) -> its bytes (never handed out: copies are)
let blobType;                   // (blob) -> its type
let isBlob;

function blobTypeOf(value) {
  const type = `${value}`;
  for (let i = 0; i < type.length; i++) {
    const c = StringPrototypeCharCodeAt(type, i);
    if (c < 0x20 || c > 0x7E) return "";
  }
  return StringPrototypeToLowerCase(type);
}

function nativeLineEndings(s) {
  if (StringPrototypeIndexOf(s, "\r") === -1) return s;
  return StringPrototypeReplace(s, /\r\n?/g, "\n");
}

class Blob {
  #bytes;
  #type;

  static {
    blobBytes = (b) => b.#bytes;
    blobType = (b) => b.#type;
    isBlob = (b) => isObjectLike(b) && #bytes in b;
  }

  constructor(sources = undefined, options = undefined) {
    if (sources === BLOB_INTERNAL && blobPending !== null) {
      this.#bytes = blobPending.bytes;
      this.#type = blobPending.type;
      blobPending = null;
      return;
    }
    if (options !== undefined && options !== null && typeof options !== "object" && typeof options !== "function") {
      throw nodeError(TypeErrorCtor, 'The "options" argument must be of type object. Received ' + describeReceived(options), "ERR_INVALID_ARG_TYPE");
    }
    const type = options === undefined || options === null || options.type === undefined ? "" : blobTypeOf(options.type);
    let endings = "transparent";
    if (options !== undefined && options !== null && options.endings !== undefined) {
      endings = `${options.endings}`;
      if (endings !== "transparent" && endings !== "native") {
        throw nodeError(TypeErrorCtor, "The \"options.endings\" property must be one of: 'transparent', 'native'. Received '" + endings + "'", "ERR_INVALID_ARG_VALUE");
      }
    }
    const chunks = [];
    let total = 0;
    if (sources !== undefined) {
      if (!isObjectLike(sources) || typeof sources[SymbolIterator] !== "function") {
        throw nodeError(TypeErrorCtor, 'The "sources" argument must be a sequence. Received ' + describeReceived(sources), "ERR_INVALID_ARG_TYPE");
      }
      forEachOfSequence(sources, (part) => {
        let bytes;
        if (isBlob(part)) bytes = part.#bytes;
        else {
          bytes = viewBytes(part);
          if (bytes === undefined) {
            const text = urlToUSV(part);
            bytes = utf8Encode(endings === "native" ? nativeLineEndings(text) : text);
          }
        }
        total += TypedArrayPrototypeGetLength(bytes);
        if (total > FETCH_BODY_MAX * 10) throw new RangeErrorCtor("Blob refused: over " + FETCH_BODY_MAX * 10 + " bytes");
        ArrayPrototypePush(chunks, bytes);
      }, 'The "sources" argument');
    }
    this.#bytes = concatBytes(chunks, total);
    this.#type = type;
  }

  get size() { return TypedArrayPrototypeGetLength(this.#bytes); }
  get type() { return this.#type; }

  slice(start = undefined, end = undefined, contentType = undefined) {
    const size = TypedArrayPrototypeGetLength(this.#bytes);
    let from = start === undefined ? 0 : MathFloor(NumberCtor(start)) || 0;
    let to = end === undefined ? size : MathFloor(NumberCtor(end)) || 0;
    from = from < 0 ? MathMax(size + from, 0) : MathMin(from, size);
    to = to < 0 ? MathMax(size + to, 0) : MathMin(to, size);
    const span = MathMax(to - from, 0);
    const bytes = newBytes(span);
    TypedArrayPrototypeSet(bytes, TypedArrayPrototypeSubarray(this.#bytes, from, from + span));
    return makeBlob(bytes, contentType === undefined ? "" : blobTypeOf(contentType));
  }

  text() {
    try { return PromiseResolve(decodeUtf8Body(this.#bytes)); } catch (err) { return PromiseReject(err); }
  }
  arrayBuffer() {
    try { return PromiseResolve(bytesToArrayBuffer(this.#bytes)); } catch (err) { return PromiseReject(err); }
  }
  bytes() {
    try { return PromiseResolve(copyBytes(this.#bytes)); } catch (err) { return PromiseReject(err); }
  }
  stream() { return makeByteStream(copyBytes(this.#bytes), null); }
}
setToStringTag(Blob, "Blob");

function makeBlob(bytes, type) {
  blobPending = { bytes, type };
  return new Blob(BLOB_INTERNAL);
}

let isFile;
let fileName;                   // (file) -> name
let fileLastModified;           // (file) -> lastModified
class File extends Blob {
  #name;
  #lastModified;

  static {
    isFile = (f) => isObjectLike(f) && #name in f;
    fileName = (f) => f.#name;
    fileLastModified = (f) => f.#lastModified;
  }

  constructor(fileBits, fileName, options = undefined) {
    if (arguments.length < 2) throw missingArgs("fileBits\" and \"fileName");
    super(fileBits, options);
    this.#name = `${fileName}`;
    let lastModified = DateNow();
    if (options !== undefined && options !== null && options.lastModified !== undefined) {
      const n = NumberCtor(options.lastModified);
      lastModified = NumberIsFinite(n) ? MathFloor(n) : 0;
    }
    this.#lastModified = lastModified;
  }

  get name() { return this.#name; }
  get lastModified() { return this.#lastModified; }
}
setToStringTag(File, "File");

function makeFile(bytes, name, type, lastModified) {
  blobPending = { bytes, type };
  const file = new File(BLOB_INTERNAL, name, { lastModified });
  return file;
}

// ---- a minimal ReadableStream over a whole body --------------------------------------------
// What `response.body` and `blob.stream()` return: one chunk, then the end. Enough for
// `getReader().read()` loops and `for await (const chunk of res.body)`; not a global.

let streamTake;                 // (stream) -> bytes or null, marking it read
let streamLocked;               // (stream) -> boolean
let isReadableStream;

class ReadableStream {
  #bytes;
  #onRead;
  #locked = false;
  #done = false;

  static {
    isReadableStream = (s) => isObjectLike(s) && #bytes in s;
    streamLocked = (s) => s.#locked;
    streamTake = (s) => {
      if (s.#done) return null;
      s.#done = true;
      const bytes = s.#bytes;
      s.#bytes = null;
      if (s.#onRead !== null) s.#onRead();
      return bytes;
    };
  }

  constructor(token, bytes, onRead) {
    if (token !== STREAM_INTERNAL) throw new TypeErrorCtor("ReadableStream cannot be constructed in actions here; use a Blob or a string body");
    this.#bytes = bytes;
    this.#onRead = onRead;
  }

  get locked() { return this.#locked; }

  cancel() {
    streamTake(this);
    return PromiseResolve(undefined);
  }

  getReader(options = undefined) {
    if (options !== undefined && options !== null && options.mode !== undefined) {
      throw nodeError(TypeErrorCtor, "The \"options.mode\" property must be 'byob' only where supported; it is not here", "ERR_INVALID_ARG_VALUE");
    }
    if (this.#locked) throw nodeError(TypeErrorCtor, "Invalid state: ReadableStream is locked", "ERR_INVALID_STATE");
    this.#locked = true;
    return new ReadableStreamDefaultReader(STREAM_INTERNAL, this, () => { this.#locked = false; });
  }

  values() {
    const reader = this.getReader();
    return new ReadableStreamAsyncIterator(STREAM_INTERNAL, reader);
  }

  [SymbolAsyncIterator]() { return this.values(); }
}
setToStringTag(ReadableStream, "ReadableStream");
const STREAM_INTERNAL = {};

class ReadableStreamDefaultReader {
  #stream;
  #release;
  constructor(token, stream, release) {
    if (token !== STREAM_INTERNAL) throw new TypeErrorCtor("Illegal constructor");
    this.#stream = stream;
    this.#release = release;
  }
  read() {
    if (this.#stream === null) return PromiseReject(nodeError(TypeErrorCtor, "Invalid state: The reader is not attached to a stream", "ERR_INVALID_STATE"));
    const bytes = streamTake(this.#stream);
    if (bytes === null || TypedArrayPrototypeGetLength(bytes) === 0) return PromiseResolve({ value: undefined, done: true });
    return PromiseResolve({ value: bytes, done: false });
  }
  releaseLock() {
    if (this.#stream === null) return;
    this.#stream = null;
    this.#release();
  }
  cancel() {
    if (this.#stream !== null) streamTake(this.#stream);
    return PromiseResolve(undefined);
  }
  get closed() { return PromiseResolve(undefined); }
}
setToStringTag(ReadableStreamDefaultReader, "ReadableStreamDefaultReader");

class ReadableStreamAsyncIterator {
  #reader;
  constructor(token, reader) {
    if (token !== STREAM_INTERNAL) throw new TypeErrorCtor("Illegal constructor");
    this.#reader = reader;
  }
  next() { return this.#reader.read(); }
  return(value = undefined) {
    this.#reader.cancel();
    this.#reader.releaseLock();
    return PromiseResolve({ value, done: true });
  }
  [SymbolAsyncIterator]() { return this; }
}

function makeByteStream(bytes, onRead) {
  return new ReadableStream(STREAM_INTERNAL, bytes, onRead);
}

// Iterators built by the runtime over a live list (Headers' sorted pairs, FormData's
// entries), their `next` the runtime's own; Node names each kind by its owner.
const ITERATOR_INTERNAL = {};
class ListIterator {
  #owner;
  #listOf;
  #kind;
  #index = 0;
  constructor(token, owner, listOf, kind) {
    if (token !== ITERATOR_INTERNAL) throw new TypeErrorCtor("Illegal constructor");
    this.#owner = owner;
    this.#listOf = listOf;
    this.#kind = kind;
  }
  next() {
    const list = this.#listOf(this.#owner);
    if (this.#index >= list.length) return { value: undefined, done: true };
    const entry = list[this.#index++];
    const value = this.#kind === "keys" ? entry[0] : this.#kind === "values" ? entry[1] : [entry[0], entry[1]];
    return { value, done: false };
  }
  [SymbolIterator]() { return this; }
}
ObjectSetPrototypeOf(ListIterator.prototype, IteratorPrototype);
class HeadersIterator extends ListIterator {}
setToStringTag(HeadersIterator, "Headers Iterator");
class FormDataIterator extends ListIterator {}
setToStringTag(FormDataIterator, "FormData Iterator");

// ---- Headers ------------------------------------------------------------------------------

function isTokenCode(c) {
  return (c >= 0x61 && c <= 0x7A) || (c >= 0x41 && c <= 0x5A) || (c >= 0x30 && c <= 0x39) ||
    c === 0x21 || (c >= 0x23 && c <= 0x27) || c === 0x2A || c === 0x2B || c === 0x2D || c === 0x2E ||
    c === 0x5E || c === 0x5F || c === 0x60 || c === 0x7C || c === 0x7E;
}

function isHttpToken(s) {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) if (!isTokenCode(StringPrototypeCharCodeAt(s, i))) return false;
  return true;
}

function toByteString(value, prefix) {
  const s = `${value}`;
  for (let i = 0; i < s.length; i++) {
    const c = StringPrototypeCharCodeAt(s, i);
    if (c > 0xFF) {
      throw new TypeErrorCtor(prefix + ": Cannot convert argument to a ByteString because the character at index " +
        i + " has a value of " + c + " which is greater than 255.");
    }
  }
  return s;
}

function isHttpWhitespace(c) { return c === 0x09 || c === 0x0A || c === 0x0D || c === 0x20; }

function normalizeHeaderValue(value) {
  let a = 0, b = value.length;
  while (a < b && isHttpWhitespace(StringPrototypeCharCodeAt(value, a))) a++;
  while (b > a && isHttpWhitespace(StringPrototypeCharCodeAt(value, b - 1))) b--;
  return a === 0 && b === value.length ? value : StringPrototypeSlice(value, a, b);
}

function isValidHeaderValue(value) {
  for (let i = 0; i < value.length; i++) {
    const c = StringPrototypeCharCodeAt(value, i);
    if (c === 0 || c === 0x0A || c === 0x0D) return false;
  }
  return true;
}

function headerName(name, prefix) {
  const s = toByteString(name, prefix);
  if (!isHttpToken(s)) throw new TypeErrorCtor(prefix + ': "' + s + '" is an invalid header name.');
  return StringPrototypeToLowerCase(s);
}

function headerValue(value, prefix) {
  const s = normalizeHeaderValue(toByteString(value, prefix));
  if (!isValidHeaderValue(s)) throw new TypeErrorCtor(prefix + ': "' + s + '" is an invalid header value.');
  return s;
}

let headersList;                // (headers) -> [{name, value}] in insertion order, names lower-case
let headersSorted;              // (headers) -> [[name, value]] sorted and combined (not to hand out)
let headersSetGuard;            // (headers, guard) -> void
let headersAppendChecked;       // (headers, name, value, prefix) -> void
let headersGetInternal;         // (headers, lowerName) -> combined value or null
let headersDeleteInternal;      // (headers, lowerName) -> void
let isHeaders;

class Headers {
  #list = [];
  #guard = "none";
  #sorted = null;

  static {
    headersList = (h) => h.#list;
    headersSorted = (h) => h.#sortedList();
    headersSetGuard = (h, guard) => { h.#guard = guard; };
    headersAppendChecked = (h, name, value, prefix) => h.#append(name, value, prefix);
    headersGetInternal = (h, name) => h.#get(name);
    headersDeleteInternal = (h, name) => h.#delete(name);
    isHeaders = (h) => isObjectLike(h) && #list in h;
  }

  constructor(init = undefined) {
    if (init === undefined) return;
    fillHeaders(this, init, "Headers constructor");
  }

  #checkGuard() {
    if (this.#guard === "immutable") throw new TypeErrorCtor("immutable");
  }

  #append(name, value, prefix) {
    const n = headerName(name, prefix);
    const v = headerValue(value, prefix);
    this.#checkGuard();
    ArrayPrototypePush(this.#list, { name: n, value: v });
    this.#sorted = null;
  }

  #get(n) {
    const list = this.#list;
    let out = null;
    for (let i = 0; i < list.length; i++) {
      if (list[i].name !== n) continue;
      out = out === null ? list[i].value : out + ", " + list[i].value;
    }
    return out;
  }

  #delete(n) {
    const list = this.#list;
    const kept = [];
    for (let i = 0; i < list.length; i++) if (list[i].name !== n) kept[kept.length] = list[i];
    if (kept.length !== list.length) { this.#list = kept; this.#sorted = null; }
  }

  #sortedList() {
    if (this.#sorted !== null) return this.#sorted;
    const sorted = uspSort(ArrayPrototypeSlice(this.#list)); // 20_url.js: stable, by code units
    const out = [];
    for (let i = 0; i < sorted.length; i++) {
      const e = sorted[i];
      const last = out.length > 0 ? out[out.length - 1] : null;
      if (e.name !== "set-cookie" && last !== null && last[0] === e.name) last[1] = last[1] + ", " + e.value;
      else out[out.length] = [e.name, e.value];
    }
    this.#sorted = out;
    return out;
  }

  append(name, value) {
    if (arguments.length < 2) throw new TypeErrorCtor("Headers.append: 2 arguments required, but only " + arguments.length + " present.");
    this.#append(name, value, "Headers.append");
  }

  delete(name) {
    if (arguments.length < 1) throw new TypeErrorCtor("Headers.delete: 1 argument required, but only 0 present.");
    const n = headerName(name, "Headers.delete");
    this.#checkGuard();
    this.#delete(n);
  }

  get(name) {
    if (arguments.length < 1) throw new TypeErrorCtor("Headers.get: 1 argument required, but only 0 present.");
    return this.#get(headerName(name, "Headers.get"));
  }

  getSetCookie() {
    const list = this.#list;
    const out = [];
    for (let i = 0; i < list.length; i++) if (list[i].name === "set-cookie") out[out.length] = list[i].value;
    return out;
  }

  has(name) {
    if (arguments.length < 1) throw new TypeErrorCtor("Headers.has: 1 argument required, but only 0 present.");
    const n = headerName(name, "Headers.has");
    const list = this.#list;
    for (let i = 0; i < list.length; i++) if (list[i].name === n) return true;
    return false;
  }

  set(name, value) {
    if (arguments.length < 2) throw new TypeErrorCtor("Headers.set: 2 arguments required, but only " + arguments.length + " present.");
    const n = headerName(name, "Headers.set");
    const v = headerValue(value, "Headers.set");
    this.#checkGuard();
    const list = this.#list;
    const kept = [];
    let found = false;
    for (let i = 0; i < list.length; i++) {
      if (list[i].name !== n) { kept[kept.length] = list[i]; continue; }
      if (!found) { found = true; kept[kept.length] = { name: n, value: v }; }
    }
    if (!found) kept[kept.length] = { name: n, value: v };
    this.#list = kept;
    this.#sorted = null;
  }

  forEach(callback, thisArg = undefined) {
    if (typeof callback !== "function") {
      throw new TypeErrorCtor("Headers.forEach: Argument 1 could not be converted to: Function.");
    }
    // live: the callback may change the headers while they are walked
    for (let i = 0; i < this.#sortedList().length; i++) {
      const entry = this.#sortedList()[i];
      ReflectApply(callback, thisArg, [entry[1], entry[0], this]);
    }
  }

  keys() { this.#list; return new HeadersIterator(ITERATOR_INTERNAL, this, headersSorted, "keys"); }
  values() { this.#list; return new HeadersIterator(ITERATOR_INTERNAL, this, headersSorted, "values"); }
  entries() { this.#list; return new HeadersIterator(ITERATOR_INTERNAL, this, headersSorted, "entries"); }
}
ObjectDefineProperty(Headers.prototype, SymbolIterator, { value: Headers.prototype.entries, writable: true, configurable: true, enumerable: false });
setToStringTag(Headers, "Headers");

function fillHeaders(headers, init, prefix) {
  if (!isObjectLike(init)) {
    throw new TypeErrorCtor(prefix + ": Expected init to be an instance of Headers, a sequence of [name, value] pairs, or a record.");
  }
  if (isHeaders(init)) {
    const pairs = headersSorted(init);
    const copy = [];
    for (let i = 0; i < pairs.length; i++) copy[i] = pairs[i];
    for (let i = 0; i < copy.length; i++) headersAppendChecked(headers, copy[i][0], copy[i][1], prefix);
    return;
  }
  const method = init[SymbolIterator];
  if (method !== undefined && method !== null) {
    if (typeof method !== "function") throw new TypeErrorCtor(prefix + ": Expected init to be iterable.");
    forEachOfSequence(init, (pair) => {
      if (!isObjectLike(pair)) throw new TypeErrorCtor(prefix + ": Expected each header to be a [name, value] pair.");
      const items = sequenceToList(pair, prefix + ": A header");
      if (items.length !== 2) {
        throw new TypeErrorCtor(prefix + ": expected name/value pair to be length 2, found " + items.length + ".");
      }
      headersAppendChecked(headers, items[0], items[1], prefix);
    }, prefix + ": init");
    return;
  }
  const keys = ObjectKeys(init);
  for (let i = 0; i < keys.length; i++) headersAppendChecked(headers, keys[i], init[keys[i]], prefix);
}


// ---- FormData -----------------------------------------------------------------------------

let formDataEntries;            // (fd) -> [[name, value]] (value: string or File)
let isFormData;

function formDataValue(value, filename, prefix) {
  if (isBlob(value)) {
    let name;
    if (filename !== undefined) name = `${filename}`;
    else if (isFile(value)) return value;
    else name = "blob";
    return makeFile(blobBytes(value), name, blobType(value), isFile(value) ? fileLastModified(value) : DateNow());
  }
  if (filename !== undefined) {
    throw new TypeErrorCtor(prefix + ": Failed to convert value to 'Blob'.");
  }
  return urlToUSV(value);
}

class FormData {
  #entries = [];

  static {
    formDataEntries = (fd) => fd.#entries;
    isFormData = (fd) => isObjectLike(fd) && #entries in fd;
  }

  constructor(form = undefined) {
    if (form !== undefined) {
      throw new TypeErrorCtor("FormData constructor: Argument 1 is not supported: there are no HTML forms in actions");
    }
  }

  append(name, value, filename = undefined) {
    if (arguments.length < 2) throw new TypeErrorCtor("FormData.append: 2 arguments required, but only " + arguments.length + " present.");
    const n = urlToUSV(name);
    ArrayPrototypePush(this.#entries, [n, formDataValue(value, filename, "FormData.append")]);
  }

  delete(name) {
    if (arguments.length < 1) throw new TypeErrorCtor("FormData.delete: 1 argument required, but only 0 present.");
    const n = urlToUSV(name);
    const kept = [];
    for (let i = 0; i < this.#entries.length; i++) if (this.#entries[i][0] !== n) kept[kept.length] = this.#entries[i];
    this.#entries = kept;
  }

  get(name) {
    if (arguments.length < 1) throw new TypeErrorCtor("FormData.get: 1 argument required, but only 0 present.");
    const n = urlToUSV(name);
    for (let i = 0; i < this.#entries.length; i++) if (this.#entries[i][0] === n) return this.#entries[i][1];
    return null;
  }

  getAll(name) {
    if (arguments.length < 1) throw new TypeErrorCtor("FormData.getAll: 1 argument required, but only 0 present.");
    const n = urlToUSV(name);
    const out = [];
    for (let i = 0; i < this.#entries.length; i++) if (this.#entries[i][0] === n) out[out.length] = this.#entries[i][1];
    return out;
  }

  has(name) {
    if (arguments.length < 1) throw new TypeErrorCtor("FormData.has: 1 argument required, but only 0 present.");
    const n = urlToUSV(name);
    for (let i = 0; i < this.#entries.length; i++) if (this.#entries[i][0] === n) return true;
    return false;
  }

  set(name, value, filename = undefined) {
    if (arguments.length < 2) throw new TypeErrorCtor("FormData.set: 2 arguments required, but only " + arguments.length + " present.");
    const n = urlToUSV(name);
    const entry = [n, formDataValue(value, filename, "FormData.set")];
    const kept = [];
    let found = false;
    for (let i = 0; i < this.#entries.length; i++) {
      if (this.#entries[i][0] !== n) { kept[kept.length] = this.#entries[i]; continue; }
      if (!found) { found = true; kept[kept.length] = entry; }
    }
    if (!found) kept[kept.length] = entry;
    this.#entries = kept;
  }

  forEach(callback, thisArg = undefined) {
    if (typeof callback !== "function") {
      throw new TypeErrorCtor("FormData.forEach: Argument 1 could not be converted to: Function.");
    }
    for (let i = 0; i < this.#entries.length; i++) {
      const entry = this.#entries[i];
      ReflectApply(callback, thisArg, [entry[1], entry[0], this]);
    }
  }

  keys() { this.#entries; return new FormDataIterator(ITERATOR_INTERNAL, this, formDataEntries, "keys"); }
  values() { this.#entries; return new FormDataIterator(ITERATOR_INTERNAL, this, formDataEntries, "values"); }
  entries() { this.#entries; return new FormDataIterator(ITERATOR_INTERNAL, this, formDataEntries, "entries"); }
}
ObjectDefineProperty(FormData.prototype, SymbolIterator, { value: FormData.prototype.entries, writable: true, configurable: true, enumerable: false });
setToStringTag(FormData, "FormData");

function escapeFormName(s) {
  return StringPrototypeReplace(StringPrototypeReplace(StringPrototypeReplace(s, /\n/g, "%0A"), /\r/g, "%0D"), /"/g, "%22");
}

// what escapeFormName wrote, read back (as busboy and undici's parser do)
function unescapeFormName(s) {
  if (StringPrototypeIndexOf(s, "%") === -1) return s;
  return StringPrototypeReplace(s, /%(0A|0D|22)/gi, (_, hex) => hex === "22" ? '"' : (hex === "0A" || hex === "0a") ? "\n" : "\r");
}

function normalizeLinebreaks(s) {
  if (StringPrototypeIndexOf(s, "\r") === -1 && StringPrototypeIndexOf(s, "\n") === -1) return s;
  return StringPrototypeReplace(s, /\r\n|\r|\n/g, "\r\n");
}

// multipart/form-data as undici writes it: {bytes, type}
function encodeMultipart(fd) {
  let digits = StringCtor(MathFloor(MathRandom() * 1e11));
  digits = StringPrototypePadStart(digits, 11, "0");
  const boundary = "----formdata-undici-0" + digits;
  const prefix = "--" + boundary + "\r\nContent-Disposition: form-data";
  const chunks = [];
  let total = 0;
  const add = (bytes) => {
    total += TypedArrayPrototypeGetLength(bytes);
    if (total > FETCH_BODY_MAX * 10) throw new RangeErrorCtor("FormData body refused: over " + FETCH_BODY_MAX * 10 + " bytes");
    ArrayPrototypePush(chunks, bytes);
  };
  const entries = formDataEntries(fd);
  for (let i = 0; i < entries.length; i++) {
    const name = entries[i][0];
    const value = entries[i][1];
    if (typeof value === "string") {
      add(utf8Encode(prefix + '; name="' + escapeFormName(normalizeLinebreaks(name)) + '"\r\n\r\n' + normalizeLinebreaks(value) + "\r\n"));
    } else {
      const type = blobType(value);
      add(utf8Encode(prefix + '; name="' + escapeFormName(normalizeLinebreaks(name)) + '"; filename="' +
        escapeFormName(fileName(value)) + '"\r\nContent-Type: ' + (type !== "" ? type : "application/octet-stream") + "\r\n\r\n"));
      add(blobBytes(value));
      add(utf8Encode("\r\n"));
    }
  }
  add(utf8Encode("--" + boundary + "--\r\n"));
  return { bytes: concatBytes(chunks, total), type: "multipart/form-data; boundary=" + boundary };
}

// The parameters of a Content-Type value: "multipart/form-data; boundary=x" -> essence and map.
function parseMimeType(value) {
  if (value === null) return null;
  const parts = StringPrototypeSplit(value, ";");
  const essence = StringPrototypeToLowerCase(StringPrototypeTrim(parts[0]));
  const params = ObjectCreate(null);
  for (let i = 1; i < parts.length; i++) {
    const eq = StringPrototypeIndexOf(parts[i], "=");
    if (eq === -1) continue;
    const key = StringPrototypeToLowerCase(StringPrototypeTrim(StringPrototypeSlice(parts[i], 0, eq)));
    let v = StringPrototypeTrim(StringPrototypeSlice(parts[i], eq + 1));
    if (v.length >= 2 && v[0] === '"' && v[v.length - 1] === '"') v = StringPrototypeSlice(v, 1, -1);
    if (!(key in params)) params[key] = v;
  }
  return { essence, params };
}

function indexOfBytes(bytes, needle, from) {
  const n = TypedArrayPrototypeGetLength(bytes);
  const m = needle.length;
  const first = needle[0];
  for (let i = from; i + m <= n; i++) {
    if (bytes[i] !== first) continue;
    let k = 1;
    while (k < m && bytes[i + k] === needle[k]) k++;
    if (k === m) return i;
  }
  return -1;
}

function asciiOf(bytes, from, to) {
  let out = "";
  for (let i = from; i < to; i += UTF8_CHUNK) {
    const units = [];
    const stop = MathMin(to, i + UTF8_CHUNK);
    for (let k = i; k < stop; k++) units[units.length] = bytes[k];
    out += ReflectApply(StringFromCharCode, undefined, units);
  }
  return out;
}

function formDataParseError() {
  return new TypeErrorCtor("Response.formData: Could not parse content as FormData.");
}

function parseDispositionParam(header, key) {
  // key="value" or key=value, after a ';'
  const lower = StringPrototypeToLowerCase(header);
  let at = 0;
  for (;;) {
    at = StringPrototypeIndexOf(lower, key + "=", at);
    if (at === -1) return null;
    const before = at === 0 ? ";" : lower[at - 1];
    if (before === ";" || before === " " || before === "\t") break;
    at += key.length;
  }
  let i = at + key.length + 1;
  if (header[i] === '"') {
    let out = "";
    i++;
    while (i < header.length && header[i] !== '"') {
      if (header[i] === "\\" && i + 1 < header.length) i++;
      out += header[i++];
    }
    return out;
  }
  let end = StringPrototypeIndexOf(header, ";", i);
  if (end === -1) end = header.length;
  return StringPrototypeTrim(StringPrototypeSlice(header, i, end));
}

function parseMultipart(bytes, boundary) {
  const fd = new FormData();
  const delimiter = utf8Encode("--" + boundary);
  const n = TypedArrayPrototypeGetLength(bytes);
  let at = indexOfBytes(bytes, delimiter, 0);
  if (at === -1) throw formDataParseError();
  const entries = formDataEntries(fd);
  for (;;) {
    at += delimiter.length;
    if (at + 1 < n && bytes[at] === 0x2D && bytes[at + 1] === 0x2D) return fd; // closing delimiter
    if (at + 1 < n && bytes[at] === 0x0D && bytes[at + 1] === 0x0A) at += 2;
    else throw formDataParseError();
    const headersEnd = indexOfBytes(bytes, [0x0D, 0x0A, 0x0D, 0x0A], at);
    if (headersEnd === -1) throw formDataParseError();
    const headerText = utf8Decode(TypedArrayPrototypeSubarray(bytes, at, headersEnd));
    const lines = StringPrototypeSplit(headerText, "\r\n");
    let name = null, filename = null, type = "";
    for (let i = 0; i < lines.length; i++) {
      const colon = StringPrototypeIndexOf(lines[i], ":");
      if (colon === -1) continue;
      const key = StringPrototypeToLowerCase(StringPrototypeTrim(StringPrototypeSlice(lines[i], 0, colon)));
      const value = StringPrototypeTrim(StringPrototypeSlice(lines[i], colon + 1));
      if (key === "content-disposition") {
        name = parseDispositionParam(value, "name");
        filename = parseDispositionParam(value, "filename");
      } else if (key === "content-type") {
        type = value;
      }
    }
    if (name === null) throw formDataParseError();
    name = unescapeFormName(name);
    if (filename !== null) filename = unescapeFormName(filename);
    const bodyStart = headersEnd + 4;
    const next = indexOfBytes(bytes, delimiter, bodyStart);
    if (next === -1 || next < bodyStart + 2) throw formDataParseError();
    const body = TypedArrayPrototypeSubarray(bytes, bodyStart, next - 2); // the CRLF before the delimiter
    if (filename !== null) {
      ArrayPrototypePush(entries, [name, makeFile(copyBytes(body), filename, blobTypeOf(type), DateNow())]);
    } else {
      ArrayPrototypePush(entries, [name, decodeUtf8Body(body)]);
    }
    at = next;
  }
}

// ---- bodies -------------------------------------------------------------------------------

// UTF-8 decode as the body readers do (a leading BOM dropped, malformed bytes as U+FFFD): ASCII
// stretches a chunk at a time through String.fromCharCode, the rest by the full decoder.
function decodeUtf8Body(bytes) {
  const n = TypedArrayPrototypeGetLength(bytes);
  let start = 0;
  if (n >= 3 && bytes[0] === 0xEF && bytes[1] === 0xBB && bytes[2] === 0xBF) start = 3;
  let out = "";
  const state = utf8NewState();
  state.bomSeen = true;
  for (let at = start; at < n; at += TEXT_CHUNK) {
    const end = MathMin(n, at + TEXT_CHUNK);
    let ascii = state.bytesNeeded === 0;
    for (let i = at; ascii && i < end; i++) if (bytes[i] > 0x7F) ascii = false;
    if (ascii) out += ReflectApply(StringFromCharCode, undefined, TypedArrayPrototypeSubarray(bytes, at, end));
    else out += utf8DecodeRun(bytes, at, end, state, false, false, false);
  }
  if (state.bytesNeeded !== 0) out += "\uFFFD";
  return out;
}

// {bytes (Uint8Array, not shared with user code), type (Content-Type to add, or null)}
function extractBody(object) {
  if (typeof object === "string") return { bytes: utf8Encode(object), type: "text/plain;charset=UTF-8" };
  if (isObjectLike(object)) {
    let params = null;
    try { params = uspList(object); } catch (_) { params = null; }
    if (params !== null) {
      return { bytes: utf8Encode(uspSerialize(params)), type: "application/x-www-form-urlencoded;charset=UTF-8" };
    }
    if (isBlob(object)) return { bytes: blobBytes(object), type: blobType(object) !== "" ? blobType(object) : null };
    if (isFormData(object)) return encodeMultipart(object);
    const view = viewBytes(object);
    if (view !== undefined) return { bytes: copyBytes(view), type: null };
    if (isReadableStream(object)) {
      const bytes = streamTake(object);
      if (bytes === null) throw new TypeErrorCtor("Response body object should not be disturbed or locked");
      return { bytes, type: null };
    }
  }
  return { bytes: utf8Encode(`${object}`), type: "text/plain;charset=UTF-8" };
}

function newBodyState(bytes) {
  return { bytes, used: false, stream: null };
}

function bodyUnusable(body) {
  return body.used || (body.stream !== null && streamLocked(body.stream));
}

function bodyStream(body) {
  if (body.bytes === null) return null;
  if (body.stream === null) {
    body.stream = makeByteStream(body.bytes, () => { body.used = true; });
  }
  return body.stream;
}

function contentTypeOf(headers) {
  return headersGetInternal(headers, "content-type");
}

// The body mixin's readers: kind is "text" | "json" | "arrayBuffer" | "blob" | "bytes" | "formData"
function consumeBody(body, headers, kind, prefix) {
  try {
    if (bodyUnusable(body)) throw new TypeErrorCtor("Body is unusable: Body has already been read");
    let bytes = body.bytes;
    if (bytes !== null) {
      body.used = true;
      if (body.stream !== null) streamTake(body.stream);
    } else {
      bytes = EMPTY_BYTES;
    }
    let result;
    if (kind === "text") result = decodeUtf8Body(bytes);
    else if (kind === "json") result = JSONParse(decodeUtf8Body(bytes));
    else if (kind === "arrayBuffer") result = bytesToArrayBuffer(bytes);
    else if (kind === "bytes") result = copyBytes(bytes);
    else if (kind === "blob") {
      const type = contentTypeOf(headers);
      result = makeBlob(bytes, type === null ? "" : blobTypeOf(type));
    } else {
      const mime = parseMimeType(contentTypeOf(headers));
      if (mime !== null && mime.essence === "multipart/form-data" && typeof mime.params.boundary === "string") {
        result = parseMultipart(bytes, mime.params.boundary);
      } else if (mime !== null && mime.essence === "application/x-www-form-urlencoded") {
        result = new FormData();
        const list = uspParse(decodeUtf8Body(bytes));
        const entries = formDataEntries(result);
        for (let i = 0; i < list.length; i++) ArrayPrototypePush(entries, [list[i].name, list[i].value]);
      } else {
        throw new TypeErrorCtor('Content-Type was not one of "multipart/form-data" or "application/x-www-form-urlencoded".');
      }
    }
    return PromiseResolve(result);
  } catch (err) {
    return PromiseReject(err);
  }
}
const EMPTY_BYTES = new Uint8ArrayCtor(0);

// ---- Request ------------------------------------------------------------------------------

const FORBIDDEN_METHODS = ["CONNECT", "TRACE", "TRACK"];
const NORMALIZED_METHODS = ["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"];
const REDIRECT_MODES = ["follow", "error", "manual"];

function normalizeMethod(value) {
  const method = toByteString(value, "Request constructor");
  if (!isHttpToken(method)) throw new TypeErrorCtor("'" + method + "' is not a valid HTTP method.");
  const upper = StringPrototypeToUpperCase(method);
  if (ArrayPrototypeIndexOf(FORBIDDEN_METHODS, upper) !== -1) throw new TypeErrorCtor("'" + method + "' HTTP method is unsupported.");
  return ArrayPrototypeIndexOf(NORMALIZED_METHODS, upper) !== -1 ? upper : method;
}

function parseRequestUrl(input) {
  const text = urlToUSV(input);
  const record = urlParseRecord(text, undefined);
  if (record === null) throw new TypeErrorCtor("Failed to parse URL from " + text, { cause: urlInvalidError(text, undefined) });
  if (record.username !== "" || record.password !== "") {
    throw new TypeErrorCtor("Request cannot be constructed from a URL that includes credentials: " + text);
  }
  return urlSerialize(record, false);
}

function enumOption(value, allowed, what) {
  const s = `${value}`;
  if (ArrayPrototypeIndexOf(allowed, s) === -1) {
    throw new TypeErrorCtor("Request constructor: " + what + " '" + s + "' is not one of " + ArrayPrototypeJoin(allowed, ", ") + ".");
  }
  return s;
}

let requestState;               // (request) -> its state
let isRequest;

class Request {
  #s;

  static {
    requestState = (r) => r.#s;
    isRequest = (r) => isObjectLike(r) && #s in r;
  }

  constructor(input, init = undefined) {
    if (arguments.length === 0) throw new TypeErrorCtor("Request constructor: 1 argument required, but only 0 present.");
    if (init !== undefined && init !== null && typeof init !== "object" && typeof init !== "function") {
      throw new TypeErrorCtor("Request constructor: Expected init to be a dictionary.");
    }
    const options = init === undefined || init === null ? NO_OPTIONS : init;
    let base = null;
    const s = {
      method: "GET", url: "", headers: null, body: newBodyState(null), signal: null, redirect: "follow",
      keepalive: false, mode: "cors", credentials: "same-origin", cache: "default", referrer: "about:client",
      referrerPolicy: "", integrity: "",
    };
    if (isRequest(input)) {
      base = input.#s;
      s.url = base.url;
      s.method = base.method;
      s.redirect = base.redirect;
      s.keepalive = base.keepalive;
      s.mode = base.mode;
      s.credentials = base.credentials;
      s.cache = base.cache;
      s.referrer = base.referrer;
      s.referrerPolicy = base.referrerPolicy;
      s.integrity = base.integrity;
    } else {
      s.url = parseRequestUrl(input);
    }
    const method = options.method;
    if (method !== undefined) s.method = normalizeMethod(method);
    const redirect = options.redirect;
    if (redirect !== undefined) s.redirect = enumOption(redirect, REDIRECT_MODES, "redirect");
    const mode = options.mode;
    if (mode !== undefined) {
      s.mode = enumOption(mode, ["same-origin", "no-cors", "cors", "navigate", "websocket"], "mode");
      if (s.mode === "navigate") throw new TypeErrorCtor("Request constructor: invalid request mode navigate.");
    }
    const credentials = options.credentials;
    if (credentials !== undefined) s.credentials = enumOption(credentials, ["omit", "same-origin", "include"], "credentials");
    const cache = options.cache;
    if (cache !== undefined) s.cache = enumOption(cache, ["default", "no-store", "reload", "no-cache", "force-cache", "only-if-cached"], "cache");
    if (options.keepalive !== undefined) s.keepalive = !!options.keepalive;
    if (options.integrity !== undefined) s.integrity = `${options.integrity}`;
    if (options.referrer !== undefined) s.referrer = `${options.referrer}` === "" ? "" : "about:client";
    if (options.referrerPolicy !== undefined) s.referrerPolicy = `${options.referrerPolicy}`;
    if (options.window !== undefined && options.window !== null) throw new TypeErrorCtor("Request constructor: 'window' option must be null.");

    let signal = base !== null ? base.signal : null;
    if (options.signal !== undefined) {
      signal = options.signal;
      if (signal !== null && !isAbortSignal(signal)) {
        throw new TypeErrorCtor("Request constructor: Expected signal (\"" + StringCtor(signal) + "\") to be an instance of AbortSignal.");
      }
    }
    s.signal = followingSignal(signal);

    const headers = new Headers();
    headersSetGuard(headers, "request");
    const headersInit = options.headers;
    if (headersInit !== undefined) fillHeaders(headers, headersInit, "Request constructor");
    else if (base !== null) fillHeaders(headers, base.headers, "Request constructor");
    s.headers = headers;

    const bodyInit = options.body;
    const hasInitBody = bodyInit !== undefined && bodyInit !== null;
    if ((hasInitBody || (base !== null && base.body.bytes !== null)) && (s.method === "GET" || s.method === "HEAD")) {
      throw new TypeErrorCtor("Request with GET/HEAD method cannot have body.");
    }
    if (hasInitBody) {
      const extracted = extractBody(bodyInit);
      s.body = newBodyState(extracted.bytes);
      if (extracted.type !== null && headersGetInternal(headers, "content-type") === null) {
        headersAppendChecked(headers, "content-type", extracted.type, "Request constructor");
      }
    } else if (base !== null && base.body.bytes !== null) {
      if (bodyUnusable(base.body)) throw new TypeErrorCtor("Cannot construct a Request with a Request object that has already been used.");
      s.body = newBodyState(base.body.bytes);
      base.body.used = true;   // the body moved to the new request
    }
    this.#s = s;
  }

  get method() { return this.#s.method; }
  get url() { return this.#s.url; }
  get headers() { return this.#s.headers; }
  get destination() { return ""; }
  get referrer() { return this.#s.referrer; }
  get referrerPolicy() { return this.#s.referrerPolicy; }
  get mode() { return this.#s.mode; }
  get credentials() { return this.#s.credentials; }
  get cache() { return this.#s.cache; }
  get redirect() { return this.#s.redirect; }
  get integrity() { return this.#s.integrity; }
  get keepalive() { return this.#s.keepalive; }
  get isReloadNavigation() { return false; }
  get isHistoryNavigation() { return false; }
  get signal() { return this.#s.signal; }
  get duplex() { return "half"; }
  get body() { return bodyStream(this.#s.body); }
  get bodyUsed() { return this.#s.body.bytes !== null && this.#s.body.used; }

  clone() {
    const s = this.#s;
    if (bodyUnusable(s.body)) throw new TypeErrorCtor("Request.clone: Body has already been consumed.");
    const copy = new Request(this);
    // new Request(this) moved the body: both keep it
    s.body.used = false;
    return copy;
  }

  text() { return consumeBody(this.#s.body, this.#s.headers, "text", "Request"); }
  json() { return consumeBody(this.#s.body, this.#s.headers, "json", "Request"); }
  arrayBuffer() { return consumeBody(this.#s.body, this.#s.headers, "arrayBuffer", "Request"); }
  blob() { return consumeBody(this.#s.body, this.#s.headers, "blob", "Request"); }
  bytes() { return consumeBody(this.#s.body, this.#s.headers, "bytes", "Request"); }
  formData() { return consumeBody(this.#s.body, this.#s.headers, "formData", "Request"); }
}
setToStringTag(Request, "Request");

// ---- Response -----------------------------------------------------------------------------

const RESPONSE_INTERNAL = {};
let responsePending = null;
const NULL_BODY_STATUSES = [101, 103, 204, 205, 304];
const REDIRECT_STATUSES = [301, 302, 303, 307, 308];

function isReasonPhrase(text) {
  for (let i = 0; i < text.length; i++) {
    const c = StringPrototypeCharCodeAt(text, i);
    if (!(c === 0x09 || (c >= 0x20 && c <= 0x7E) || (c >= 0x80 && c <= 0xFF))) return false;
  }
  return true;
}

class Response {
  #s;

  constructor(body = null, init = undefined) {
    if (body === RESPONSE_INTERNAL && responsePending !== null) {
      this.#s = responsePending;
      responsePending = null;
      return;
    }
    if (init !== undefined && init !== null && typeof init !== "object" && typeof init !== "function") {
      throw new TypeErrorCtor("Response constructor: Expected init to be a dictionary.");
    }
    const options = init === undefined || init === null ? NO_OPTIONS : init;
    let status = 200;
    if (options.status !== undefined) {
      status = NumberCtor(options.status);
      status = NumberIsFinite(status) ? MathFloor(status) : 0;
      if (status < 200 || status > 599) throw new RangeErrorCtor('init["status"] must be in the range of 200 to 599, inclusive.');
    }
    let statusText = "";
    if (options.statusText !== undefined) {
      statusText = toByteString(options.statusText, "Response constructor");
      if (!isReasonPhrase(statusText)) throw new TypeErrorCtor("Invalid statusText");
    }
    const headers = new Headers();
    headersSetGuard(headers, "response");
    if (options.headers !== undefined) fillHeaders(headers, options.headers, "Response constructor");
    let bodyState = newBodyState(null);
    if (body !== null && body !== undefined) {
      if (ArrayPrototypeIndexOf(NULL_BODY_STATUSES, status) !== -1) {
        throw new TypeErrorCtor("Response constructor: Invalid response status code " + status);
      }
      const extracted = extractBody(body);
      bodyState = newBodyState(extracted.bytes);
      if (extracted.type !== null && headersGetInternal(headers, "content-type") === null) {
        headersAppendChecked(headers, "content-type", extracted.type, "Response constructor");
      }
    }
    this.#s = { type: "default", status, statusText, headers, url: "", redirected: false, body: bodyState };
  }

  static error() {
    return makeResponse({ type: "error", status: 0, statusText: "", headers: immutableHeaders([]), url: "", redirected: false, body: newBodyState(null) });
  }

  static json(data, init = undefined) {
    const text = JSONStringify(data);
    if (text === undefined) throw new TypeErrorCtor("Value is not JSON serializable");
    const response = new Response(null, init);
    const s = response.#s;
    if (ArrayPrototypeIndexOf(NULL_BODY_STATUSES, s.status) !== -1) {
      throw new TypeErrorCtor("Response constructor: Invalid response status code " + s.status);
    }
    s.body = newBodyState(utf8Encode(text));
    if (headersGetInternal(s.headers, "content-type") === null) {
      headersAppendChecked(s.headers, "content-type", "application/json", "Response.json");
    }
    return response;
  }

  static redirect(url, status = 302) {
    const location = parseRequestUrlForRedirect(url);
    const code = NumberCtor(status);
    if (ArrayPrototypeIndexOf(REDIRECT_STATUSES, code) === -1) throw new RangeErrorCtor("Invalid status code " + StringCtor(status));
    return makeResponse({ type: "default", status: code, statusText: "", headers: immutableHeaders([["location", location]]), url: "", redirected: false, body: newBodyState(null) });
  }

  get type() { return this.#s.type; }
  get url() { return this.#s.url; }
  get redirected() { return this.#s.redirected; }
  get status() { return this.#s.status; }
  get ok() { return this.#s.status >= 200 && this.#s.status <= 299; }
  get statusText() { return this.#s.statusText; }
  get headers() { return this.#s.headers; }
  get body() { return bodyStream(this.#s.body); }
  get bodyUsed() { return this.#s.body.bytes !== null && this.#s.body.used; }

  clone() {
    const s = this.#s;
    if (bodyUnusable(s.body)) throw new TypeErrorCtor("Response.clone: Body has already been consumed.");
    const headers = new Headers();
    fillHeadersRaw(headers, s.headers);
    headersSetGuard(headers, s.type === "default" ? "response" : "immutable");
    return makeResponse({ type: s.type, status: s.status, statusText: s.statusText, headers, url: s.url,
      redirected: s.redirected, body: newBodyState(s.body.bytes) });
  }

  text() { return consumeBody(this.#s.body, this.#s.headers, "text", "Response"); }
  json() { return consumeBody(this.#s.body, this.#s.headers, "json", "Response"); }
  arrayBuffer() { return consumeBody(this.#s.body, this.#s.headers, "arrayBuffer", "Response"); }
  blob() { return consumeBody(this.#s.body, this.#s.headers, "blob", "Response"); }
  bytes() { return consumeBody(this.#s.body, this.#s.headers, "bytes", "Response"); }
  formData() { return consumeBody(this.#s.body, this.#s.headers, "formData", "Response"); }
}
setToStringTag(Response, "Response");

function parseRequestUrlForRedirect(url) {
  const text = urlToUSV(url);
  const record = urlParseRecord(text, undefined);
  if (record === null) throw new TypeErrorCtor("Failed to parse URL from " + text, { cause: urlInvalidError(text, undefined) });
  return urlSerialize(record, false);
}

function makeResponse(state) {
  responsePending = state;
  return new Response(RESPONSE_INTERNAL);
}

// Headers from pairs the host or the runtime vouches for (names lower-case, values checked).
function immutableHeaders(pairs) {
  const headers = new Headers();
  const list = headersList(headers);
  for (let i = 0; i < pairs.length; i++) ArrayPrototypePush(list, { name: pairs[i][0], value: pairs[i][1] });
  headersSetGuard(headers, "immutable");
  return headers;
}

function fillHeadersRaw(target, source) {
  const from = headersList(source);
  const to = headersList(target);
  for (let i = 0; i < from.length; i++) ArrayPrototypePush(to, { name: from[i].name, value: from[i].value });
}

// ---- fetch --------------------------------------------------------------------------------

let fetchTagSeq = 0;

function causeError(code, message, name) {
  const cause = nodeError(ErrorCtor, StringCtor(message), code);
  if (name !== undefined) ObjectDefineProperty(cause, "name", { value: name, writable: true, configurable: true, enumerable: false });
  return cause;
}

function fetchFailed(code, message, name) {
  return new TypeErrorCtor("fetch failed", { cause: causeError(code, message, name) });
}

function recordTrace(exec, reply) {
  const trace = ownValue(reply, "trace");
  if (trace === undefined || exec === null) return;
  if (!ObjectPrototypeHasOwnProperty(exec, "egress")) return;
  const egress = exec.egress;
  if (ArrayIsArray(egress)) ArrayPrototypePush(egress, trace);
}

// Send one request to the host. desc: {method, url, headers: [[name, value]], body: Uint8Array
// or null, redirect}. Resolves with the host's {ok: true, ...} reply; rejects as fetch does.
function hostFetch(desc, signal) {
  return new PromiseCtor((resolve, reject) => {
    const exec = activeExecution();
    if (exec === null || exec.finished) {
      reject(fetchFailed("ERR_NO_EXECUTION", "outbound requests can only be made while an action is executing"));
      return;
    }
    if (signal !== null && signalAborted(signal)) { reject(signalReason(signal)); return; }
    const body = desc.body;
    if (body !== null && TypedArrayPrototypeGetLength(body) > FETCH_BODY_MAX) {
      reject(fetchFailed("REQUEST_TOO_LARGE", "the request body is " + TypedArrayPrototypeGetLength(body) +
        " bytes, over the limit of " + FETCH_BODY_MAX + " bytes"));
      return;
    }
    const tag = ++fetchTagSeq;
    const args = {
      method: desc.method, url: desc.url, headers: desc.headers,
      body: body === null ? null : base64Encode(body), redirect: desc.redirect, tag,
    };
    let settled = false;
    let onAbort = null;
    if (signal !== null) {
      onAbort = () => {
        if (settled) return;
        settled = true;
        reject(signalReason(signal));
        let cancel;
        try { cancel = hostCall("fetch.abort", { tag }); } catch (_) { return; }
        PromisePrototypeThen(cancel, noop, noop);
      };
      signalAddAlgorithm(signal, onAbort);
    }
    const done = () => { if (onAbort !== null) signalRemoveAlgorithm(signal, onAbort); };
    let call;
    try {
      call = hostCall("fetch", args);
    } catch (err) {
      done();
      settled = true;
      reject(fetchFailed("EHOSTCALL", errorMessage(err)));
      return;
    }
    PromisePrototypeThen(call, (reply) => {
      done();
      recordTrace(exec, reply);
      if (settled) return;
      settled = true;
      if (ownValue(reply, "ok") === true) { resolve(reply); return; }
      const error = ownValue(reply, "error");
      const code = ownValue(error, "code");
      const message = ownValue(error, "message");
      reject(fetchFailed(typeof code === "string" ? code : "EPROTO",
        typeof message === "string" ? message : "the request failed"));
    }, (err) => {
      done();
      if (settled) return;
      settled = true;
      const message = ownValue(err, "message");
      reject(fetchFailed("EHOSTCALL", typeof message === "string" ? message : errorMessage(err)));
    });
  });
}

// Headers undici refuses to send (it manages the connection itself).
function checkRequestHeaders(pairs) {
  const out = [];
  for (let i = 0; i < pairs.length; i++) {
    const name = pairs[i][0];
    const value = pairs[i][1];
    if (name === "connection") {
      const v = StringPrototypeToLowerCase(value);
      if (v !== "close" && v !== "keep-alive") throw fetchFailed("UND_ERR_INVALID_ARG", "invalid connection header", "InvalidArgumentError");
      continue;
    }
    if (name === "transfer-encoding" || name === "keep-alive" || name === "upgrade") {
      throw fetchFailed("UND_ERR_INVALID_ARG", "invalid " + name + " header", "InvalidArgumentError");
    }
    if (name === "expect") throw fetchFailed("UND_ERR_NOT_SUPPORTED", "expect header not supported", "NotSupportedError");
    if (name === "content-length") continue;  // the host sends the body's own length
    out[out.length] = [name, value];
  }
  return out;
}

const DEFAULT_REQUEST_HEADERS = [["accept", "*/*"], ["accept-language", "*"], ["sec-fetch-mode", "cors"], ["user-agent", "node"]];

function responseFromReply(reply, method) {
  let status = ownValue(reply, "status");
  status = typeof status === "number" ? status : 0;
  const statusText = ownValue(reply, "status_text");
  const url = ownValue(reply, "url");
  const pairs = [];
  const raw = ownValue(reply, "headers");
  if (ArrayIsArray(raw)) {
    for (let i = 0; i < raw.length; i++) {
      const pair = raw[i];
      if (!ArrayIsArray(pair) || pair.length !== 2 || typeof pair[0] !== "string" || typeof pair[1] !== "string") continue;
      pairs[pairs.length] = [StringPrototypeToLowerCase(pair[0]), pair[1]];
    }
  }
  let bytes = null;
  const body = ownValue(reply, "body");
  if (typeof body === "string" && method !== "HEAD" && ArrayPrototypeIndexOf(NULL_BODY_STATUSES, status) === -1) {
    bytes = base64Decode(body);
    if (bytes === null) throw fetchFailed("EPROTO", "the response body from the host was not base64");
  }
  return makeResponse({
    type: "basic", status, statusText: typeof statusText === "string" ? statusText : "",
    headers: immutableHeaders(pairs), url: typeof url === "string" ? url : "",
    redirected: ownValue(reply, "redirected") === true, body: newBodyState(bytes),
  });
}

function fetch(input, init = undefined) {
  try {
    if (arguments.length === 0) throw new TypeErrorCtor("fetch: 1 argument required, but only 0 present.");
    const request = new Request(input, init);
    const s = requestState(request);
    const record = urlParseRecord(s.url, undefined);
    if (record === null || (record.scheme !== "http" && record.scheme !== "https")) {
      return PromiseReject(fetchFailed("BAD_URL", "unknown scheme"));
    }
    const pairs = checkRequestHeaders(headersSorted(s.headers));
    for (let i = 0; i < DEFAULT_REQUEST_HEADERS.length; i++) {
      const d = DEFAULT_REQUEST_HEADERS[i];
      if (headersGetInternal(s.headers, d[0]) === null) pairs[pairs.length] = [d[0], d[1]];
    }
    const body = s.body.bytes;
    if (body !== null) s.body.used = true;
    const method = s.method;
    return PromisePrototypeThen(
      hostFetch({ method, url: urlSerialize(record, true), headers: pairs, body, redirect: s.redirect }, s.signal),
      (reply) => responseFromReply(reply, method));
  } catch (err) {
    return PromiseReject(err);
  }
}

return {
  fetch, Request, Response, Headers, FormData, Blob, File, AbortController, AbortSignal, EventTarget, Event, CustomEvent,
  // what lazy/http.js uses of it
  EMPTY_BYTES, base64Decode, base64Encode, concatBytes, copyBytes, hostFetch, isAbortSignal, isHttpToken, isObjectLike,
  ownValue, reportListenerError, signalAborted, signalAddAlgorithm, signalReason,
};

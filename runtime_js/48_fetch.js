// The WHATWG fetch surface (fetch, Request, Response, Headers, FormData, Blob, File,
// AbortController, AbortSignal, EventTarget, Event, CustomEvent) as Node 22 has it. The
// implementation is runtime_js/lazy/fetch.js, compiled the first time an action touches one of
// these globals (most never do: carried by every isolate, its ~75 KB of source and classes cost
// ~0.4 MiB each); the host hands its text over with the sync host call "runtime.source" and it
// gets the runtime's captured intrinsics and helpers (lazyRuntime, 44_node_crypto.js), never the
// globals an action may have replaced by then.
//
// The globals are accessors that cannot be redefined (the runtime shares them with every
// execution, 95_seal.js): reading one builds the surface; assigning one is recorded and fails
// the execution that did it, as replacing a built-in does.

// captured now, before any user code: the lazy file runs later
const StringPrototypeLastIndexOf = uncurryThis(String.prototype.lastIndexOf);
const StringPrototypePadStart = uncurryThis(String.prototype.padStart);
const SymbolAsyncIterator = Symbol.asyncIterator;
const PromiseRejectStatic = Promise.reject;
const PromiseReject = (err) => ReflectApply(PromiseRejectStatic, PromiseCtor, [err]);
const WeakMapCtor = WeakMap;
const WeakMapPrototypeGet = uncurryThis(WeakMap.prototype.get);
const WeakMapPrototypeSet = uncurryThis(WeakMap.prototype.set);
const WeakMapPrototypeDelete = uncurryThis(WeakMap.prototype.delete);
const NumberPrototypeToString = uncurryThis(Number.prototype.toString);
const DOMExceptionCtor = DOMException;
const WeakRefCtor = WeakRef;
const WeakRefPrototypeDeref = uncurryThis(WeakRef.prototype.deref);
const Int16ArrayCtor = Int16Array;

const FETCH_GLOBALS = ["fetch", "Request", "Response", "Headers", "FormData", "Blob", "File", "AbortController",
  "AbortSignal", "EventTarget", "Event", "CustomEvent"];
let fetchLoaded = null;
let fetchGlobalReplaced = null; // the name of a fetch global an action assigned, for the seal check
const fetchOverrides = new SafeMap();

function fetchImpl() {
  if (fetchLoaded === null) {
    fetchLoaded = lazyRuntime("fetch", {
    ArrayIsArray, ArrayPrototypeIndexOf, ArrayPrototypeJoin, ArrayPrototypePush, ArrayPrototypeSlice,
    ArrayPrototypeSplice, BASE64_ALPHABET, BASE64_VALUES, DOMExceptionCtor, DateNow, ErrorCtor,
    Int16ArrayCtor, IteratorPrototype, JSONParse, JSONStringify, MathFloor, MathMax, MathMin, MathRandom,
    NumberCtor, NumberIsFinite, NumberIsInteger, ObjectCreate, ObjectDefineProperty, ObjectFreeze,
    ObjectKeys, ObjectPrototypeHasOwnProperty, ObjectSetPrototypeOf, PromiseCtor, PromisePrototypeThen,
    PromiseReject, PromiseResolve, RangeErrorCtor, ReflectApply, ReflectGetOwnPropertyDescriptor, SafeMap,
    StringCtor, StringFromCharCode, StringPrototypeCharCodeAt, StringPrototypeIndexOf,
    StringPrototypePadStart, StringPrototypeReplace, StringPrototypeSlice, StringPrototypeSplit,
    StringPrototypeToLowerCase, StringPrototypeToUpperCase, StringPrototypeTrim, SymbolAsyncIterator,
    SymbolIterator, SymbolToStringTag, TypeErrorCtor, TypedArrayPrototypeGetBuffer,
    TypedArrayPrototypeGetLength, TypedArrayPrototypeSet, TypedArrayPrototypeSubarray, UTF8_CHUNK,
    Uint16ArrayCtor, Uint8ArrayCtor, WeakMapCtor, WeakMapPrototypeDelete, WeakMapPrototypeGet,
    WeakMapPrototypeSet, WeakRefCtor, WeakRefPrototypeDeref, activeExecution, addTimer, describeReceived,
    errorMessage, hostCall, nodeError, reserveBuffer, runAs, urlInvalidError, urlParseRecord, urlSerialize,
    urlToUSV, uspList, uspParse, uspSerialize, uspSort, utf8Decode, utf8DecodeRun, utf8Encode, utf8NewState,
    viewBytes
    });
    // the classes and their prototypes are as shared as the globals (95_seal.js)
    const entries = [];
    for (let i = 0; i < FETCH_GLOBALS.length; i++) {
      const value = fetchLoaded[FETCH_GLOBALS[i]];
      ArrayPrototypePush(entries, [value, FETCH_GLOBALS[i]]);
      if (value.prototype !== undefined) ArrayPrototypePush(entries, [value.prototype, FETCH_GLOBALS[i] + ".prototype"]);
    }
    sealMadeLater(entries);
  }
  return fetchLoaded;
}

for (let i = 0; i < FETCH_GLOBALS.length; i++) {
  const name = FETCH_GLOBALS[i];
  ObjectDefineProperty(globalThis, name, {
    get() { return fetchOverrides.has(name) ? fetchOverrides.get(name) : fetchImpl()[name]; },
    set(value) { fetchOverrides.set(name, value); if (fetchGlobalReplaced === null) fetchGlobalReplaced = name; },
    enumerable: name === "fetch", // as in Node
    configurable: false,
  });
}

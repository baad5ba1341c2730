// Node's `crypto` module (require('crypto') / 'node:crypto') and WebCrypto's `crypto.subtle`.
// Their implementation is runtime_js/lazy/node_crypto.js, compiled the first time an action
// uses either (most never do: carried by every isolate it would cost ~0.2 MiB each); the host
// hands its text over with the sync host call "runtime.source". It is compiled as a function of
// the runtime's captured intrinsics and helpers (lazyRuntime), so it never touches the globals an
// action may have replaced by then. What has to exist before user code runs is here: the
// `subtle` property of globalThis.crypto, the SubtleCrypto and CryptoKey globals, the module's
// registration.

const CryptoBigInt = BigInt;
const CryptoNumberIsSafeInteger = Number.isSafeInteger;
const CryptoArrayIncludes = uncurryThis(Array.prototype.includes);
const cryptoReject = (value) => ReflectApply(Promise.reject, PromiseCtor, [value]);

const globalCrypto = globalThis.crypto;
const CryptoPrototype = ObjectGetPrototypeOf(globalCrypto);
const CryptoPrototypeRandomUUID = CryptoPrototype.randomUUID;
const CryptoPrototypeGetRandomValues = CryptoPrototype.getRandomValues;
const FunctionCtorForLazy = FunctionCtor;

// Compiles runtime_js/lazy/<name>.js as function (rt) and returns what it returns.
function lazyRuntime(name, rt) {
  // ASCII files (tests/test_node_crypto.py checks), decoded as 42_node_builtins.js decodes its bundles
  const source = asciiText(hostSync("runtime.source", name));
  const fn = ReflectApply(FunctionCtorForLazy, undefined, ["rt", "\"use strict\";\n" + source + "\n//# sourceURL=node:internal/" + name]);
  return ReflectApply(fn, undefined, [rt]);
}

let cryptoLoaded = null;
function cryptoImpl() {
  if (cryptoLoaded === null) {
    cryptoLoaded = lazyRuntime("node_crypto", {
        ArrayBufferIsView, ArrayBufferPrototypeGetByteLength, ArrayIsArray, ArrayPrototypeJoin,
        ArrayPrototypePush, ArrayPrototypeSlice, BASE64URL_ALPHABET, BASE64_ALPHABET, BASE64_VALUES,
        DOMException, ErrorCtor, JSONParse, JSONStringify, MathFloor, MathMax, MathMin, NumberCtor,
        NumberIsFinite, NumberIsInteger, ObjectDefineProperty, ObjectFreeze, ObjectGetPrototypeOf,
        ObjectKeys, ObjectPrototypeHasOwnProperty, ObjectSetPrototypeOf, PromiseCtor,
        PromisePrototypeThen, PromiseResolve, RangeErrorCtor, ReflectApply,
        SharedArrayBufferPrototypeGetByteLength, StringCtor, StringFromCharCode,
        StringPrototypeCharCodeAt, StringPrototypeReplace, StringPrototypeSlice,
        StringPrototypeStartsWith, StringPrototypeToLowerCase, SymbolToStringTag, TypeErrorCtor,
        TypedArrayPrototypeGetBuffer, TypedArrayPrototypeGetByteLength, TypedArrayPrototypeGetLength,
        TypedArrayPrototypeGetSymbolToStringTag, TypedArrayPrototypeSet, Uint8ArrayCtor,
        activeExecution, base64EncodeWith, base64UrlEncode, bytesSlice, describeReceived, hostSync,
        jsonClone, nodeError, randomFill, requireBuiltin, reserveBuffer, runAs, utf8Decode,
        utf8Encode, viewBytes, CryptoBigInt, CryptoNumberIsSafeInteger, CryptoArrayIncludes,
        cryptoReject, globalCrypto, CryptoPrototypeRandomUUID, CryptoPrototypeGetRandomValues
    });
  }
  return cryptoLoaded;
}

function cryptoSubtleCall(name, args) {
  try {
    const impl = cryptoImpl().subtle;
    return PromiseResolve(ReflectApply(impl[name], undefined, args));
  } catch (err) {
    return cryptoReject(err);
  }
}

function cryptoSubtleUnavailable(name) {
  return cryptoReject(new DOMException(name + " is not available in the sandbox", "NotSupportedError"));
}

const SUBTLE_TOKEN = {};
class SubtleCrypto {
  constructor(token) { if (token !== SUBTLE_TOKEN) throw new TypeErrorCtor("Illegal constructor"); }
  digest(algorithm, data) { return cryptoSubtleCall("digest", [algorithm, data]); }
  importKey(format, keyData, algorithm, extractable, keyUsages) {
    return cryptoSubtleCall("importKey", [format, keyData, algorithm, extractable, keyUsages]);
  }
  exportKey(format, key) { return cryptoSubtleCall("exportKey", [format, key]); }
  sign(algorithm, key, data) { return cryptoSubtleCall("sign", [algorithm, key, data]); }
  verify(algorithm, key, signature, data) { return cryptoSubtleCall("verify", [algorithm, key, signature, data]); }
  generateKey(algorithm, extractable, keyUsages) { return cryptoSubtleCall("generateKey", [algorithm, extractable, keyUsages]); }
  encrypt(algorithm, key, data) { return cryptoSubtleCall("encrypt", [algorithm, key, data]); }
  decrypt(algorithm, key, data) { return cryptoSubtleCall("decrypt", [algorithm, key, data]); }
  deriveBits() { return cryptoSubtleUnavailable("deriveBits"); }
  deriveKey() { return cryptoSubtleUnavailable("deriveKey"); }
  wrapKey() { return cryptoSubtleUnavailable("wrapKey"); }
  unwrapKey() { return cryptoSubtleUnavailable("unwrapKey"); }
}
ObjectDefineProperty(SubtleCrypto.prototype, SymbolToStringTag, { value: "SubtleCrypto", configurable: true });
const cryptoSubtle = new SubtleCrypto(SUBTLE_TOKEN);

ObjectDefineProperty(CryptoPrototype, "subtle", { get: function subtle() { return cryptoSubtle; }, enumerable: true, configurable: true });
ObjectDefineProperty(globalThis, "SubtleCrypto", { value: SubtleCrypto, writable: true, configurable: true, enumerable: false });
ObjectDefineProperty(globalThis, "Crypto", { value: globalCrypto.constructor, writable: true, configurable: true, enumerable: false });
// CryptoKey is the implementation's class: the global is an accessor until first read
ObjectDefineProperty(globalThis, "CryptoKey", {
  get: function CryptoKey() {
    const value = cryptoImpl().CryptoKey;
    ObjectDefineProperty(globalThis, "CryptoKey", { value, writable: true, configurable: true, enumerable: false });
    return value;
  },
  set: function CryptoKey(value) {
    ObjectDefineProperty(globalThis, "CryptoKey", { value, writable: true, configurable: true, enumerable: false });
  },
  configurable: true, enumerable: false,
});

if (typeof registerBuiltin === "function") registerBuiltin("crypto", () => cryptoImpl().module());

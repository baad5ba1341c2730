// node:crypto's implementation (require('crypto'), and the work behind crypto.subtle), compiled
// on first use by 44_node_crypto.js: an isolate whose actions never use them does not carry this
// code (~0.2 MiB per isolate). It runs as a function of `rt`, the runtime's captured intrinsics
// and helpers, taken before any user code ran; it must use only those (no globals: an action may
// have replaced them by the time this is compiled). The host does the work through hostSync
// (41_host_sync.js, sandbox/host_sync.py): digests and HMACs with hashlib, RSA / EC / Ed25519
// keys, signatures, key generation and AES ciphers with `cryptography`, random bytes from the OS. One
// synchronous host call costs ~5 us, less than a JS digest of a short string costs before V8 has
// optimised it, and keeps the isolate free of a JS hash library.
//
// Keys: a KeyObject keeps its bytes in private fields (DER: PKCS#8 for a private key, SPKI for a
// public one; the raw bytes of a secret key), so user code can reach them only through export().

const {
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
  TypedArrayPrototypeGetSymbolToStringTag, TypedArrayPrototypeSet, Uint8ArrayCtor, activeExecution,
  base64EncodeWith, base64UrlEncode, bytesSlice, describeReceived, hostSync, jsonClone, nodeError,
  randomFill, requireBuiltin, reserveBuffer, runAs, utf8Decode, utf8Encode, viewBytes,
  CryptoBigInt, CryptoNumberIsSafeInteger, CryptoArrayIncludes, cryptoReject, globalCrypto,
  CryptoPrototypeRandomUUID, CryptoPrototypeGetRandomValues
} = rt;

// ---- bytes in, bytes out -----------------------------------------------------------------------

function cryptoInvalidArg(name, expected, value) {
  return nodeError(TypeErrorCtor, 'The "' + name + '" argument must be ' + expected + ". Received " + describeReceived(value),
    "ERR_INVALID_ARG_TYPE");
}

const CRYPTO_HEX_DIGITS = "0123456789abcdef";

function cryptoHexDecode(s) {
  const n = MathFloor(s.length / 2);
  const out = new Uint8ArrayCtor(n);
  reserveBuffer(n, out);
  let i = 0;
  for (; i < n; i++) {
    const hi = cryptoHexValue(StringPrototypeCharCodeAt(s, 2 * i));
    const lo = cryptoHexValue(StringPrototypeCharCodeAt(s, 2 * i + 1));
    if (hi < 0 || lo < 0) break; // as Node: decoding stops at the first invalid pair
    out[i] = hi * 16 + lo;
  }
  return i === n ? out : bytesSlice(out, 0, i);
}

function cryptoHexValue(c) {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  c |= 0x20;
  return c >= 0x61 && c <= 0x66 ? c - 0x61 + 10 : -1;
}

// Node's lenient base64: both alphabets, padding and whitespace ignored, stops at "=".
function cryptoBase64Decode(s) {
  const out = new Uint8ArrayCtor(MathFloor((s.length * 3) / 4) + 3);
  let acc = 0, bits = 0, w = 0;
  for (let i = 0; i < s.length; i++) {
    const c = StringPrototypeCharCodeAt(s, i);
    if (c === 0x3D) break;
    const v = c < 128 ? BASE64_VALUES[c] : -1;
    if (v === -1) continue;
    acc = ((acc << 6) | v) & 0xFFFFFF;
    bits += 6;
    if (bits >= 8) { bits -= 8; out[w++] = (acc >> bits) & 0xFF; }
  }
  reserveBuffer(w, out);
  return bytesSlice(out, 0, w);
}

function cryptoLatin1Bytes(s, mask) {
  const out = new Uint8ArrayCtor(s.length);
  reserveBuffer(s.length, out);
  for (let i = 0; i < s.length; i++) out[i] = StringPrototypeCharCodeAt(s, i) & mask;
  return out;
}

function cryptoUtf16leBytes(s) {
  const out = new Uint8ArrayCtor(s.length * 2);
  reserveBuffer(s.length * 2, out);
  for (let i = 0; i < s.length; i++) {
    const c = StringPrototypeCharCodeAt(s, i);
    out[2 * i] = c & 0xFF;
    out[2 * i + 1] = c >> 8;
  }
  return out;
}

function cryptoEncoding(encoding) {
  if (encoding === undefined || encoding === null) return "utf8";
  const e = StringPrototypeToLowerCase(StringCtor(encoding));
  if (e === "utf8" || e === "utf-8") return "utf8";
  if (e === "hex" || e === "base64" || e === "base64url" || e === "ascii" || e === "buffer") return e;
  if (e === "latin1" || e === "binary") return "latin1";
  if (e === "utf16le" || e === "utf-16le" || e === "ucs2" || e === "ucs-2") return "utf16le";
  return "";
}

// A string in `encoding`, or the bytes of a Buffer / typed array / DataView / ArrayBuffer, as a
// Uint8Array. A view is returned as is (no copy) unless `copy`.
function cryptoBytes(data, encoding, name, copy) {
  if (typeof data === "string") {
    const e = cryptoEncoding(encoding);
    if (e === "hex") return cryptoHexDecode(data);
    if (e === "base64" || e === "base64url") return cryptoBase64Decode(data);
    if (e === "latin1") return cryptoLatin1Bytes(data, 0xFF);
    if (e === "ascii") return cryptoLatin1Bytes(data, 0xFF);
    if (e === "utf16le") return cryptoUtf16leBytes(data);
    if (e === "") throw nodeError(TypeErrorCtor, "Unknown encoding: " + StringCtor(encoding), "ERR_UNKNOWN_ENCODING");
    return utf8Encode(data);
  }
  const view = viewBytes(data);
  if (view === undefined) {
    throw cryptoInvalidArg(name, "of type string or an instance of Buffer, TypedArray, or DataView", data);
  }
  if (!copy) return view;
  const n = TypedArrayPrototypeGetLength(view);
  const out = new Uint8ArrayCtor(n);
  reserveBuffer(n, out);
  TypedArrayPrototypeSet(out, view);
  return out;
}

let CryptoBufferPrototype = null; // Buffer.prototype, taken when the first Buffer is returned
function cryptoBuffer(bytes) {
  if (CryptoBufferPrototype === null) cryptoInitBuffer();
  if (CryptoBufferPrototype !== null) ObjectSetPrototypeOf(bytes, CryptoBufferPrototype);
  return bytes;
}

function cryptoLatin1Text(bytes, mask) {
  let text = "";
  const n = TypedArrayPrototypeGetLength(bytes);
  for (let i = 0; i < n; i += 8192) {
    const chunk = [];
    const stop = MathMin(n, i + 8192);
    for (let k = i; k < stop; k++) chunk[chunk.length] = bytes[k] & mask;
    text += ReflectApply(StringFromCharCode, undefined, chunk);
  }
  return text;
}

// bytes (a fresh Uint8Array) as Node returns them for `encoding`: a Buffer when none is given.
function cryptoOutput(bytes, encoding) {
  if (encoding === undefined || encoding === null) return cryptoBuffer(bytes);
  const e = cryptoEncoding(encoding);
  const n = TypedArrayPrototypeGetLength(bytes);
  if (e === "hex") {
    let out = "";
    for (let i = 0; i < n; i++) out += CRYPTO_HEX_DIGITS[bytes[i] >> 4] + CRYPTO_HEX_DIGITS[bytes[i] & 15];
    return out;
  }
  if (e === "base64") return base64EncodeWith(bytes, n, BASE64_ALPHABET, true);
  if (e === "base64url") return base64EncodeWith(bytes, n, BASE64URL_ALPHABET, false);
  if (e === "latin1") return cryptoLatin1Text(bytes, 0xFF);
  if (e === "ascii") return cryptoLatin1Text(bytes, 0x7F);
  if (e === "utf8") return utf8Decode(bytes);
  if (e === "utf16le") {
    let out = "";
    for (let i = 0; i + 1 < n; i += 2) out += StringFromCharCode(bytes[i] | (bytes[i + 1] << 8));
    return out;
  }
  return cryptoBuffer(bytes); // "buffer" and encodings Node does not know give a Buffer
}

function cryptoConcat(list, total) {
  const out = new Uint8ArrayCtor(total);
  reserveBuffer(total, out);
  let at = 0;
  for (let i = 0; i < list.length; i++) {
    TypedArrayPrototypeSet(out, list[i], at);
    at += TypedArrayPrototypeGetLength(list[i]);
  }
  return out;
}

// The host's answers in fields (sandbox/host_sync.py `pack`): 4-byte little-endian length, bytes.
function cryptoSplitFields(bytes) {
  const out = [];
  const n = TypedArrayPrototypeGetLength(bytes);
  let at = 0;
  while (at + 4 <= n) {
    const size = bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] * 0x1000000);
    ArrayPrototypePush(out, bytesSlice(bytes, at + 4, size));
    at += 4 + size;
  }
  return out;
}

// JSON of a flat object of primitives, without consulting any toJSON an action planted.
function cryptoOptionsText(object) {
  const keys = ObjectKeys(object);
  const parts = [];
  for (let i = 0; i < keys.length; i++) {
    const v = object[keys[i]];
    if (v === undefined) continue;
    const t = typeof v;
    const text = t === "string" || t === "boolean" || (t === "number" && NumberIsFinite(v)) || v === null
      ? JSONStringify(v) : "null";
    ArrayPrototypePush(parts, JSONStringify(keys[i]) + ":" + text);
  }
  return "{" + ArrayPrototypeJoin(parts, ",") + "}";
}

function cryptoOwnOr(object, key, fallback) {
  return object !== null && typeof object === "object" && ObjectPrototypeHasOwnProperty(object, key) ? object[key] : fallback;
}

// Calls back as Node does: later (here, in a microtask of the same execution), errors first.
function cryptoCallbackLater(callback, err, value) {
  const exec = activeExecution();
  PromisePrototypeThen(PromiseResolve(undefined), () => {
    if (exec === null) ReflectApply(callback, undefined, [err, value]);
    else runAs(exec, callback, [err, value]);
  });
}

function cryptoCheckCallback(callback) {
  if (typeof callback !== "function") throw cryptoInvalidArg("callback", "of type function", callback);
}

// Runs `work` now and hands its result or error to `callback` later.
function cryptoWithCallback(callback, work) {
  cryptoCheckCallback(callback);
  let value, error = null;
  try { value = work(); } catch (err) { error = err; }
  cryptoCallbackLater(callback, error, value);
}

// ---- digests and HMACs -------------------------------------------------------------------------

const HASH_NAMES = ["md5", "sha1", "sha224", "sha256", "sha384", "sha512", "sha512-224", "sha512-256",
  "sha3-224", "sha3-256", "sha3-384", "sha3-512", "shake128", "shake256", "ripemd160"];
const HASH_ALIASES = {
  __proto__: null, "rsa-md5": "md5", "rsa-sha1": "sha1", "rsa-sha224": "sha224", "rsa-sha256": "sha256",
  "rsa-sha384": "sha384", "rsa-sha512": "sha512", "rsa-sha512/224": "sha512-224", "rsa-sha512/256": "sha512-256",
  "sha-1": "sha1", "sha-224": "sha224", "sha-256": "sha256", "sha-384": "sha384", "sha-512": "sha512",
  "sha2-224": "sha224", "sha2-256": "sha256", "sha2-384": "sha384", "sha2-512": "sha512", "sha512/224": "sha512-224",
  "sha512/256": "sha512-256", "ecdsa-with-sha1": "sha1", "ecdsa-with-sha256": "sha256", "ecdsa-with-sha384": "sha384",
  "ecdsa-with-sha512": "sha512", "sha1withrsaencryption": "sha1", "sha256withrsaencryption": "sha256",
  "sha384withrsaencryption": "sha384", "sha512withrsaencryption": "sha512", "rsa-ripemd160": "ripemd160",
  "ripemd": "ripemd160", "rmd160": "ripemd160", "rsa-sha3-256": "sha3-256", "rsa-sha3-384": "sha3-384", "rsa-sha3-512": "sha3-512",
};
const HASH_INPUT_MAX = 16 * 1024 * 1024; // sandbox/host_sync.py HASH_INPUT_MAX

// The host's name of a digest, or "" when Node would not know it.
function cryptoHashName(algorithm) {
  if (typeof algorithm !== "string") return "";
  const lower = StringPrototypeToLowerCase(algorithm);
  const alias = HASH_ALIASES[lower];
  const name = alias !== undefined ? alias : lower;
  return CryptoArrayIncludes(HASH_NAMES, name) ? name : "";
}

function checkedHashName(algorithm, label) {
  if (typeof algorithm !== "string") throw cryptoInvalidArg(label, "of type string", algorithm);
  const name = cryptoHashName(algorithm);
  if (name === "") throw nodeError(ErrorCtor, "Digest method not supported", "ERR_CRYPTO_INVALID_DIGEST");
  return name;
}

// Data given to update(), copied (Node reads it at once: later changes to a buffer do not count).
class CryptoDataSink {
  constructor() { this.parts = []; this.size = 0; this.done = false; }
  add(data, encoding, finalizedCode) {
    if (this.done) throw nodeError(ErrorCtor, "Digest already called", finalizedCode);
    const view = cryptoBytes(data, encoding, "data", false);
    const n = TypedArrayPrototypeGetLength(view);
    if (this.size + n > HASH_INPUT_MAX) {
      throw nodeError(RangeErrorCtor, "the data is over the sandbox's limit of " + HASH_INPUT_MAX + " bytes per digest", "ERR_OUT_OF_RANGE");
    }
    // a buffer is copied (a string was decoded into a new one already)
    ArrayPrototypePush(this.parts, typeof data === "string" ? view : cryptoBytes(view, undefined, "data", true));
    this.size += n;
  }
  finish(finalizedCode) {
    if (this.done) throw nodeError(ErrorCtor, "Digest already called", finalizedCode);
    this.done = true;
    const bytes = this.parts.length === 1 ? this.parts[0] : cryptoConcat(this.parts, this.size);
    this.parts = [];
    return bytes;
  }
  clone() {
    const other = new CryptoDataSink();
    if (this.size > 0) ArrayPrototypePush(other.parts, cryptoConcat(this.parts, this.size));
    other.size = this.size;
    return other;
  }
}

function hostDigest(name, bytes, outputLength) {
  const fields = [name, bytes];
  if (outputLength !== undefined) ArrayPrototypePush(fields, "" + outputLength);
  return hostSync("hash", fields);
}

class Hash {
  #name; #sink; #outputLength;
  constructor(algorithm, options) {
    this.#name = checkedHashName(algorithm, "algorithm");
    this.#sink = new CryptoDataSink();
    const length = cryptoOwnOr(options, "outputLength", undefined);
    if (length !== undefined && !(CryptoNumberIsSafeInteger(length) && length >= 0)) {
      throw nodeError(RangeErrorCtor, 'The value of "options.outputLength" is out of range.', "ERR_OUT_OF_RANGE");
    }
    this.#outputLength = length;
  }
  update(data, inputEncoding) {
    this.#sink.add(data, inputEncoding, "ERR_CRYPTO_HASH_FINALIZED");
    return this;
  }
  digest(outputEncoding) {
    const bytes = this.#sink.finish("ERR_CRYPTO_HASH_FINALIZED");
    return cryptoOutput(hostDigest(this.#name, bytes, this.#outputLength), outputEncoding);
  }
  copy(options) {
    if (this.#sink.done) throw nodeError(ErrorCtor, "Digest already called", "ERR_CRYPTO_HASH_FINALIZED");
    const other = new Hash(this.#name, options !== undefined ? options : { outputLength: this.#outputLength });
    other.#sink = this.#sink.clone();
    return other;
  }
}

class Hmac {
  #name; #key; #sink;
  constructor(algorithm, key, options) {
    this.#name = checkedHashName(algorithm, "hmac");
    if (StringPrototypeStartsWith(this.#name, "shake")) throw nodeError(TypeErrorCtor, "Invalid digest: " + algorithm, "ERR_CRYPTO_INVALID_DIGEST");
    this.#key = secretBytesOf(key, cryptoOwnOr(options, "encoding", undefined), "key");
    this.#sink = new CryptoDataSink();
  }
  update(data, inputEncoding) {
    this.#sink.add(data, inputEncoding, "ERR_CRYPTO_HASH_FINALIZED");
    return this;
  }
  digest(outputEncoding) {
    const bytes = this.#sink.finish("ERR_CRYPTO_HASH_FINALIZED");
    return cryptoOutput(hostSync("hmac", [this.#name, this.#key, bytes]), outputEncoding);
  }
}

// ---- random ------------------------------------------------------------------------------------

const RANDOM_BYTES_MAX = 2147483647;

function randomBytesNow(size) {
  if (typeof size !== "number") throw cryptoInvalidArg("size", "of type number", size);
  if (!(size >= 0 && size <= RANDOM_BYTES_MAX) || !NumberIsInteger(size)) {
    throw nodeError(RangeErrorCtor, 'The value of "size" is out of range. It must be >= 0 && <= ' + RANDOM_BYTES_MAX + ". Received " + StringCtor(size), "ERR_OUT_OF_RANGE");
  }
  const out = new Uint8ArrayCtor(size);
  reserveBuffer(size, out);
  const chunk = 65536;
  for (let at = 0; at < size; at += chunk) randomFill(bytesSlice(out, at, MathMin(chunk, size - at)));
  return cryptoBuffer(out);
}

function cryptoRandomBytes(size, callback) {
  if (callback === undefined) return randomBytesNow(size);
  cryptoCheckCallback(callback);
  const bytes = randomBytesNow(size);
  cryptoCallbackLater(callback, null, bytes);
  return undefined;
}

function randomFillSync(buffer, offset, size) {
  const view = viewBytes(buffer);
  if (view === undefined) throw cryptoInvalidArg("buf", "an instance of ArrayBuffer or ArrayBufferView", buffer);
  const length = TypedArrayPrototypeGetLength(view);
  const elementSize = ArrayBufferIsView(buffer) && TypedArrayPrototypeGetSymbolToStringTag(buffer) !== undefined
    ? TypedArrayPrototypeGetByteLength(buffer) / MathMax(1, TypedArrayPrototypeGetLength(buffer)) : 1;
  const start = offset === undefined ? 0 : offset * elementSize;
  const count = size === undefined ? length - start : size * elementSize;
  if (!(NumberIsInteger(start) && start >= 0 && start <= length)) {
    throw nodeError(RangeErrorCtor, 'The value of "offset" is out of range.', "ERR_OUT_OF_RANGE");
  }
  if (!(NumberIsInteger(count) && count >= 0 && start + count <= length)) {
    throw nodeError(RangeErrorCtor, 'The value of "size + offset" is out of range.', "ERR_OUT_OF_RANGE");
  }
  const chunk = 65536;
  for (let at = 0; at < count; at += chunk) randomFill(bytesSlice(view, start + at, MathMin(chunk, count - at)));
  return buffer;
}

function randomFillAsync(buffer, offset, size, callback) {
  if (typeof offset === "function") { callback = offset; offset = undefined; size = undefined; }
  else if (typeof size === "function") { callback = size; size = undefined; }
  cryptoCheckCallback(callback);
  randomFillSync(buffer, offset, size);
  cryptoCallbackLater(callback, null, buffer);
}

const RANDOM_INT_RANGE_MAX = 0xFFFFFFFFFFFF; // 2**48 - 1, as Node
function randomIntNow(min, max) {
  if (!CryptoNumberIsSafeInteger(min)) throw cryptoInvalidArg("min", "a safe integer", min);
  if (!CryptoNumberIsSafeInteger(max)) throw cryptoInvalidArg("max", "a safe integer", max);
  if (max <= min) {
    throw nodeError(RangeErrorCtor, 'The value of "max" is out of range. It must be greater than the value of "min" (' + min + "). Received " + max, "ERR_OUT_OF_RANGE");
  }
  const range = max - min;
  if (range > RANDOM_INT_RANGE_MAX) {
    throw nodeError(RangeErrorCtor, 'The value of "max - min" is out of range. It must be <= ' + RANDOM_INT_RANGE_MAX + ". Received " + range, "ERR_OUT_OF_RANGE");
  }
  // rejection sampling over 48-bit values: no modulo bias
  const limit = 0x1000000000000 - (0x1000000000000 % range);
  const b = new Uint8ArrayCtor(6);
  for (;;) {
    randomFill(b);
    const x = ((b[0] * 0x10000 + b[1] * 0x100 + b[2]) * 0x1000000) + (b[3] * 0x10000 + b[4] * 0x100 + b[5]);
    if (x < limit) return min + (x % range);
  }
}

function cryptoRandomInt(min, max, callback) {
  if (typeof max === "undefined" || typeof max === "function") { callback = max; max = min; min = 0; }
  if (callback === undefined) return randomIntNow(min, max);
  cryptoCheckCallback(callback);
  const value = randomIntNow(min, max);
  cryptoCallbackLater(callback, null, value);
  return undefined;
}

function randomUUIDNode(options) {
  if (options !== undefined && (options === null || typeof options !== "object")) {
    throw cryptoInvalidArg("options", "of type object", options);
  }
  return ReflectApply(CryptoPrototypeRandomUUID, globalCrypto, []);
}

function cryptoTimingSafeEqual(a, b) {
  const x = ArrayBufferIsView(a) || cryptoIsArrayBuffer(a) ? viewBytes(a) : undefined;
  if (x === undefined) throw cryptoInvalidArg("buf1", "an instance of ArrayBuffer, Buffer, TypedArray, or DataView", a);
  const y = ArrayBufferIsView(b) || cryptoIsArrayBuffer(b) ? viewBytes(b) : undefined;
  if (y === undefined) throw cryptoInvalidArg("buf2", "an instance of ArrayBuffer, Buffer, TypedArray, or DataView", b);
  const n = TypedArrayPrototypeGetLength(x);
  if (n !== TypedArrayPrototypeGetLength(y)) {
    throw nodeError(RangeErrorCtor, "Input buffers must have the same byte length", "ERR_CRYPTO_TIMING_SAFE_EQUAL_LENGTH");
  }
  let diff = 0;
  for (let i = 0; i < n; i++) diff |= x[i] ^ y[i];
  return diff === 0;
}

function cryptoIsArrayBuffer(value) {
  if (value === null || typeof value !== "object") return false;
  try { ArrayBufferPrototypeGetByteLength(value); return true; } catch (_) { /* not one */ }
  if (SharedArrayBufferPrototypeGetByteLength === undefined) return false;
  try { SharedArrayBufferPrototypeGetByteLength(value); return true; } catch (_) { return false; }
}

// ---- key derivation ----------------------------------------------------------------------------

function keyLengthOf(keylen) {
  if (!(NumberIsInteger(keylen) && keylen >= 0 && keylen <= RANDOM_BYTES_MAX)) {
    if (typeof keylen !== "number") throw cryptoInvalidArg("keylen", "of type number", keylen);
    throw nodeError(RangeErrorCtor, 'The value of "keylen" is out of range.', "ERR_OUT_OF_RANGE");
  }
  return keylen;
}

function pbkdf2Sync(password, salt, iterations, keylen, digest) {
  const p = secretBytesOf(password, undefined, "password");
  const s = secretBytesOf(salt, undefined, "salt");
  if (!(NumberIsInteger(iterations) && iterations >= 1 && iterations <= 2147483647)) {
    if (typeof iterations !== "number") throw cryptoInvalidArg("iterations", "of type number", iterations);
    throw nodeError(RangeErrorCtor, 'The value of "iterations" is out of range.', "ERR_OUT_OF_RANGE");
  }
  keyLengthOf(keylen);
  const name = checkedHashName(digest, "digest");
  return cryptoBuffer(hostSync("pbkdf2", [name, p, s, cryptoOptionsText({ iterations, keylen })]));
}

function pbkdf2(password, salt, iterations, keylen, digest, callback) {
  cryptoWithCallback(callback, () => pbkdf2Sync(password, salt, iterations, keylen, digest));
}

// HKDF (RFC 5869); Node answers with an ArrayBuffer
function hkdfSync(digest, ikm, salt, info, keylen) {
  const name = checkedHashName(digest, "digest");
  const key = secretBytesOf(ikm, undefined, "ikm");
  const s = cryptoBytes(salt, undefined, "salt", false);
  const i = cryptoBytes(info, undefined, "info", false);
  keyLengthOf(keylen);
  return cryptoArrayBufferOf(hostSync("hkdf", [name, key, s, i, "" + keylen]));
}

function hkdf(digest, ikm, salt, info, keylen, callback) {
  cryptoWithCallback(callback, () => hkdfSync(digest, ikm, salt, info, keylen));
}

function scryptSync(password, salt, keylen, options) {
  const p = secretBytesOf(password, undefined, "password");
  const s = secretBytesOf(salt, undefined, "salt");
  keyLengthOf(keylen);
  const o = options === undefined || options === null ? {} : options;
  const pick = (a, b, fallback) => (o[a] !== undefined ? o[a] : o[b] !== undefined ? o[b] : fallback);
  const params = { N: pick("N", "cost", 16384), r: pick("r", "blockSize", 8), p: pick("p", "parallelization", 1),
    keylen, maxmem: o.maxmem !== undefined ? o.maxmem : 32 * 1024 * 1024 };
  return cryptoBuffer(hostSync("scrypt", [p, s, cryptoOptionsText(params)]));
}

function scrypt(password, salt, keylen, options, callback) {
  if (typeof options === "function") { callback = options; options = undefined; }
  cryptoWithCallback(callback, () => scryptSync(password, salt, keylen, options));
}

// ---- keys --------------------------------------------------------------------------------------

const KEY_TOKEN = {};
let keyInternals = null; // (key) -> {kind, bytes, info} or null, for this file only

class KeyObject {
  #kind; #bytes; #info;
  constructor(token, kind, bytes, info) {
    if (token !== KEY_TOKEN) throw new TypeErrorCtor("Illegal constructor");
    this.#kind = kind;
    this.#bytes = bytes;
    this.#info = info;
  }
  static {
    keyInternals = (key) => (key !== null && typeof key === "object" && #kind in key
      ? { kind: key.#kind, bytes: key.#bytes, info: key.#info } : null);
  }
  static from(key) {
    const inner = cryptoKeyInternals(key);
    if (inner === null) throw cryptoInvalidArg("key", "an instance of CryptoKey", key);
    return inner.keyObject;
  }
  get type() { return this.#kind; }
  get asymmetricKeyType() { return this.#kind === "secret" ? undefined : this.#info.asymmetricKeyType; }
  get asymmetricKeyDetails() {
    if (this.#kind === "secret") return undefined;
    const d = this.#info.details;
    const out = {};
    if (ObjectPrototypeHasOwnProperty(d, "modulusLength")) out.modulusLength = d.modulusLength;
    if (ObjectPrototypeHasOwnProperty(d, "publicExponent")) out.publicExponent = CryptoBigInt(d.publicExponent);
    if (ObjectPrototypeHasOwnProperty(d, "namedCurve")) out.namedCurve = d.namedCurve;
    return out;
  }
  get symmetricKeySize() { return this.#kind === "secret" ? TypedArrayPrototypeGetLength(this.#bytes) : undefined; }
  export(options) {
    if (this.#kind === "secret") {
      if (options !== undefined && options !== null && options.format === "jwk") {
        return { kty: "oct", k: base64UrlEncode(this.#bytes) };
      }
      return cryptoBuffer(cryptoBytes(this.#bytes, undefined, "key", true));
    }
    if (options === null || typeof options !== "object") throw cryptoInvalidArg("options", "of type object", options);
    const format = options.format === undefined ? "pem" : options.format;
    const request = { kind: this.#kind, format, type: options.type, cipher: options.cipher,
      passphrase: options.passphrase === undefined ? undefined : typeof options.passphrase === "string"
        ? options.passphrase : utf8Decode(cryptoBytes(options.passphrase, undefined, "passphrase", false)) };
    if (format !== "jwk" && request.type === undefined) {
      throw nodeError(TypeErrorCtor, "The property 'options.type' is invalid. Received undefined", "ERR_INVALID_ARG_VALUE");
    }
    const out = hostSync("key.export", [cryptoOptionsText(request), this.#bytes]);
    if (format === "jwk") return JSONParse(utf8Decode(out));
    if (format === "pem") return utf8Decode(out);
    return cryptoBuffer(out);
  }
  equals(other) {
    const inner = keyInternals(other);
    if (inner === null) throw cryptoInvalidArg("otherKeyObject", "an instance of KeyObject", other);
    if (inner.kind !== this.#kind) return false;
    const a = this.#bytes, b = inner.bytes;
    if (TypedArrayPrototypeGetLength(a) !== TypedArrayPrototypeGetLength(b)) return false;
    let diff = 0;
    for (let i = 0; i < TypedArrayPrototypeGetLength(a); i++) diff |= a[i] ^ b[i];
    return diff === 0;
  }
  toCryptoKey(algorithm, extractable, keyUsages) {
    return cryptoKeyFromKeyObject(this, normalizeAlgorithm(algorithm, "importKey"), extractable, keyUsages);
  }
}
ObjectDefineProperty(KeyObject.prototype, SymbolToStringTag, { value: "KeyObject", configurable: true });
class SecretKeyObject extends KeyObject {}
class PublicKeyObject extends KeyObject {}
class PrivateKeyObject extends KeyObject {}

function newKeyObject(kind, bytes, info) {
  if (kind === "secret") return new SecretKeyObject(KEY_TOKEN, kind, bytes, null);
  if (kind === "public") return new PublicKeyObject(KEY_TOKEN, kind, bytes, info);
  return new PrivateKeyObject(KEY_TOKEN, kind, bytes, info);
}

// The host's answer to key.parse / key.generate / key.raw: [JSON info, DER].
function keyFromHost(answer) {
  const parts = cryptoSplitFields(answer);
  const info = JSONParse(utf8Decode(parts[0]));
  return newKeyObject(info.type, cryptoBytes(parts[1], undefined, "key", true), info);
}

// Bytes of a secret: a string (in `encoding`), a buffer, a secret KeyObject or CryptoKey.
function secretBytesOf(key, encoding, name) {
  const inner = keyInternals(key);
  if (inner !== null) {
    if (inner.kind !== "secret") {
      throw nodeError(TypeErrorCtor, "Invalid key object type " + inner.kind + ", expected secret.", "ERR_CRYPTO_INVALID_KEY_OBJECT_TYPE");
    }
    return inner.bytes;
  }
  const ck = cryptoKeyInternals(key);
  if (ck !== null) return secretBytesOf(ck.keyObject, undefined, name);
  if (typeof key !== "string" && viewBytes(key) === undefined) {
    throw cryptoInvalidArg(name, "of type string or an instance of ArrayBuffer, Buffer, TypedArray, DataView, KeyObject, or CryptoKey", key);
  }
  return cryptoBytes(key, encoding, name, true);
}

function createSecretKey(key, encoding) {
  if (typeof key !== "string" && viewBytes(key) === undefined) {
    throw cryptoInvalidArg("key", "of type string or an instance of ArrayBuffer, Buffer, TypedArray, or DataView", key);
  }
  return newKeyObject("secret", cryptoBytes(key, encoding, "key", true), null);
}

// Node's key argument (a PEM string or buffer, {key, format, type, passphrase, encoding}, a JWK
// with format 'jwk', a KeyObject or a CryptoKey) as a KeyObject of `kind` ('private' or
// 'public'; a public one may be derived from a private key). Options of the object form
// (padding, saltLength, dsaEncoding) are returned beside it.
function keyObjectOf(input, kind, label) {
  let key = input;
  let options = null;
  const ck = cryptoKeyInternals(key);
  if (ck !== null) key = ck.keyObject;
  let inner = keyInternals(key);
  if (inner === null && key !== null && typeof key === "object" && !ArrayBufferIsView(key) && !cryptoIsArrayBuffer(key)) {
    options = key;
    key = options.key;
    const ck2 = cryptoKeyInternals(key);
    if (ck2 !== null) key = ck2.keyObject;
    inner = keyInternals(key);
  }
  if (inner !== null) {
    if (inner.kind === "secret") {
      throw nodeError(TypeErrorCtor, "Invalid key object type secret, expected " + kind + ".", "ERR_CRYPTO_INVALID_KEY_OBJECT_TYPE");
    }
    if (kind === "private" && inner.kind !== "private") {
      throw nodeError(TypeErrorCtor, "Invalid key object type public, expected private.", "ERR_CRYPTO_INVALID_KEY_OBJECT_TYPE");
    }
    return { key, options };
  }
  let format = options !== null && options.format !== undefined ? options.format : "pem";
  let data;
  if (format === "jwk") {
    if (key === null || typeof key !== "object") throw cryptoInvalidArg("key.key", "of type object", key);
    data = utf8Encode(JSONStringify(jsonClone(key)));
  } else if (typeof key === "string") {
    data = cryptoBytes(key, options !== null ? options.encoding : undefined, label, false);
  } else if (viewBytes(key) !== undefined) {
    data = viewBytes(key);
  } else {
    throw cryptoInvalidArg(label, "of type string or an instance of ArrayBuffer, Buffer, TypedArray, DataView, KeyObject, or CryptoKey", key);
  }
  if (format !== "pem" && format !== "der" && format !== "jwk") {
    throw nodeError(TypeErrorCtor, "The property 'key.format' is invalid. Received " + StringCtor(format), "ERR_INVALID_ARG_VALUE");
  }
  let passphrase = options !== null ? options.passphrase : undefined;
  if (passphrase !== undefined && passphrase !== null && typeof passphrase !== "string") {
    passphrase = utf8Decode(cryptoBytes(passphrase, undefined, "passphrase", false));
  }
  const request = { kind, format, type: options !== null ? options.type : undefined, passphrase };
  return { key: keyFromHost(hostSync("key.parse", [cryptoOptionsText(request), data])), options };
}

function createPrivateKey(key) {
  const made = keyObjectOf(key, "private", "key").key;
  return made;
}

function createPublicKey(key) {
  const got = keyObjectOf(key, "public", "key").key;
  const inner = keyInternals(got);
  if (inner.kind === "public") return got;
  const request = { kind: "public", format: "der", type: "pkcs8" };
  return keyFromHost(hostSync("key.parse", [cryptoOptionsText(request), inner.bytes]));
}

// ---- signatures --------------------------------------------------------------------------------

function signOptions(hash, keyInput, options) {
  const from = (name) => {
    const inKey = options !== null ? options[name] : undefined;
    return inKey !== undefined ? inKey : undefined;
  };
  const dsa = from("dsaEncoding");
  if (dsa !== undefined && dsa !== "der" && dsa !== "ieee-p1363") {
    throw nodeError(TypeErrorCtor, "The property 'options.dsaEncoding' is invalid. Received " + StringCtor(dsa), "ERR_INVALID_ARG_VALUE");
  }
  return { hash: hash === "" ? undefined : hash, padding: from("padding"), saltLength: from("saltLength"), dsaEncoding: dsa };
}

function signNow(hash, bytes, keyInput) {
  const got = keyObjectOf(keyInput, "private", "key");
  const inner = keyInternals(got.key);
  let name = hash;
  if (name === "" && inner.info.asymmetricKeyType !== "ed25519") name = "sha256";
  const o = signOptions(name, keyInput, got.options);
  o.kind = "private";
  return hostSync("key.sign", [cryptoOptionsText(o), inner.bytes, bytes]);
}

function verifyNow(hash, bytes, keyInput, signature) {
  const got = keyObjectOf(keyInput, "public", "key");
  const inner = keyInternals(got.key);
  let name = hash;
  if (name === "" && inner.info.asymmetricKeyType !== "ed25519") name = "sha256";
  const o = signOptions(name, keyInput, got.options);
  o.kind = inner.kind;
  const answer = hostSync("key.verify", [cryptoOptionsText(o), inner.bytes, bytes, signature]);
  return answer[0] === 1;
}

function signatureHash(algorithm) {
  if (algorithm === undefined || algorithm === null) return "";
  return checkedHashName(algorithm, "algorithm");
}

class Sign {
  #hash; #sink;
  constructor(algorithm) {
    if (typeof algorithm !== "string") throw cryptoInvalidArg("algorithm", "of type string", algorithm);
    const name = cryptoHashName(algorithm);
    if (name === "") throw nodeError(ErrorCtor, "Invalid digest: " + algorithm, "ERR_CRYPTO_INVALID_DIGEST");
    this.#hash = name;
    this.#sink = new CryptoDataSink();
  }
  update(data, inputEncoding) {
    this.#sink.add(data, inputEncoding, "ERR_CRYPTO_SIGN_KEY_REQUIRED");
    return this;
  }
  write(data, encoding) { this.update(data, encoding); return true; }
  end(data, encoding) { if (data !== undefined && data !== null) this.update(data, encoding); return this; }
  sign(privateKey, outputEncoding) {
    if (privateKey === undefined || privateKey === null || privateKey === "") {
      throw nodeError(ErrorCtor, "No key provided to sign", "ERR_CRYPTO_SIGN_KEY_REQUIRED");
    }
    const bytes = this.#sink.finish("ERR_CRYPTO_HASH_FINALIZED");
    return cryptoOutput(signNow(this.#hash, bytes, privateKey), outputEncoding);
  }
}

class Verify {
  #hash; #sink;
  constructor(algorithm) {
    if (typeof algorithm !== "string") throw cryptoInvalidArg("algorithm", "of type string", algorithm);
    const name = cryptoHashName(algorithm);
    if (name === "") throw nodeError(ErrorCtor, "Invalid digest: " + algorithm, "ERR_CRYPTO_INVALID_DIGEST");
    this.#hash = name;
    this.#sink = new CryptoDataSink();
  }
  update(data, inputEncoding) {
    this.#sink.add(data, inputEncoding, "ERR_CRYPTO_HASH_FINALIZED");
    return this;
  }
  write(data, encoding) { this.update(data, encoding); return true; }
  end(data, encoding) { if (data !== undefined && data !== null) this.update(data, encoding); return this; }
  verify(publicKey, signature, signatureEncoding) {
    const bytes = this.#sink.finish("ERR_CRYPTO_HASH_FINALIZED");
    const sig = cryptoBytes(signature, signatureEncoding, "signature", false);
    return verifyNow(this.#hash, bytes, publicKey, sig);
  }
}

function cryptoSign(algorithm, data, key, callback) {
  const hash = signatureHash(algorithm);
  const bytes = cryptoBytes(data, undefined, "data", false);
  if (callback === undefined) return cryptoBuffer(signNow(hash, bytes, key));
  cryptoWithCallback(callback, () => cryptoBuffer(signNow(hash, bytes, key)));
  return undefined;
}

function cryptoVerify(algorithm, data, key, signature, callback) {
  const hash = signatureHash(algorithm);
  const bytes = cryptoBytes(data, undefined, "data", false);
  const sig = cryptoBytes(signature, undefined, "signature", false);
  if (callback === undefined) return verifyNow(hash, bytes, key, sig);
  cryptoWithCallback(callback, () => verifyNow(hash, bytes, key, sig));
  return undefined;
}

// ---- ciphers -----------------------------------------------------------------------------------

const CIPHER_NAMES = ["aes-128-cbc", "aes-192-cbc", "aes-256-cbc", "aes-128-ctr", "aes-192-ctr", "aes-256-ctr",
  "aes-128-ecb", "aes-192-ecb", "aes-256-ecb", "aes-128-gcm", "aes-192-gcm", "aes-256-gcm", "aes128", "aes192",
  "aes256", "id-aes128-gcm", "id-aes192-gcm", "id-aes256-gcm"];

// Everything given to update() so far goes to the host at each call (sandbox/host_sync.py
// `cipher` is stateless); each call returns the part of the output not returned before.
class CipherBase {
  #algorithm; #key; #iv; #decrypt; #sink; #returned; #padding; #aad; #tag; #tagLength; #done;
  constructor(decrypt, algorithm, key, iv, options) {
    if (typeof algorithm !== "string") throw cryptoInvalidArg("cipher", "of type string", algorithm);
    const name = StringPrototypeToLowerCase(algorithm);
    if (!CryptoArrayIncludes(CIPHER_NAMES, name)) throw nodeError(TypeErrorCtor, "Invalid cipher type", "ERR_CRYPTO_UNKNOWN_CIPHER");
    this.#algorithm = name;
    this.#decrypt = decrypt;
    this.#key = secretBytesOf(key, undefined, "key");
    this.#iv = iv === null || iv === undefined ? cryptoBytes("", undefined, "iv", true) : cryptoBytes(iv, undefined, "iv", true);
    this.#sink = new CryptoDataSink();
    this.#returned = 0;
    this.#padding = true;
    this.#aad = cryptoBytes("", undefined, "aad", true);
    this.#tag = cryptoBytes("", undefined, "tag", true);
    this.#tagLength = cryptoOwnOr(options, "authTagLength", undefined);
    this.#done = false;
    this.#run(false); // the host checks the key and IV lengths now, as Node does
  }
  #run(final) {
    const data = this.#sink.size === 0 ? cryptoBytes("", undefined, "data", true) : cryptoConcat(this.#sink.parts, this.#sink.size);
    if (this.#sink.parts.length > 1) { this.#sink.parts = [data]; }
    const request = { algorithm: this.#algorithm, decrypt: this.#decrypt, final, autoPadding: this.#padding,
      authTagLength: this.#tagLength };
    const parts = cryptoSplitFields(hostSync("cipher", [cryptoOptionsText(request), this.#key, this.#iv, data, this.#aad, this.#tag]));
    const out = parts[0];
    const n = TypedArrayPrototypeGetLength(out);
    const fresh = cryptoBytes(bytesSlice(out, this.#returned, n - this.#returned), undefined, "out", true);
    this.#returned = n;
    if (final && TypedArrayPrototypeGetLength(parts[1]) > 0) this.#tag = cryptoBytes(parts[1], undefined, "tag", true);
    return fresh;
  }
  update(data, inputEncoding, outputEncoding) {
    if (this.#done) throw nodeError(ErrorCtor, "Unsupported state", "ERR_CRYPTO_INVALID_STATE");
    this.#sink.add(data, inputEncoding, "ERR_CRYPTO_INVALID_STATE");
    return cryptoOutput(this.#run(false), outputEncoding);
  }
  final(outputEncoding) {
    if (this.#done) throw nodeError(ErrorCtor, "Unsupported state", "ERR_CRYPTO_INVALID_STATE");
    this.#done = true;
    return cryptoOutput(this.#run(true), outputEncoding);
  }
  setAutoPadding(autoPadding) { this.#padding = autoPadding !== false; return this; }
  setAAD(buffer) { this.#aad = cryptoBytes(buffer, undefined, "buffer", true); return this; }
  getAuthTag() {
    if (this.#decrypt || !this.#done || TypedArrayPrototypeGetLength(this.#tag) === 0) {
      throw nodeError(ErrorCtor, "Invalid state for operation getAuthTag", "ERR_CRYPTO_INVALID_STATE");
    }
    return cryptoBuffer(cryptoBytes(this.#tag, undefined, "tag", true));
  }
  setAuthTag(tag) {
    if (!this.#decrypt || this.#done) throw nodeError(ErrorCtor, "Invalid state for operation setAuthTag", "ERR_CRYPTO_INVALID_STATE");
    this.#tag = cryptoBytes(tag, undefined, "buffer", true);
    return this;
  }
}
class Cipheriv extends CipherBase {
  constructor(algorithm, key, iv, options) { super(false, algorithm, key, iv, options); }
}
class Decipheriv extends CipherBase {
  constructor(algorithm, key, iv, options) { super(true, algorithm, key, iv, options); }
}

// ---- key generation ----------------------------------------------------------------------------

function encodeGeneratedKey(key, encoding) {
  if (encoding === undefined || encoding === null) return key;
  const out = key.export(encoding);
  return out;
}

function generateKeyPairSync(type, options) {
  if (typeof type !== "string") throw cryptoInvalidArg("type", "of type string", type);
  const o = options === undefined || options === null ? {} : options;
  const request = { type };
  if (type === "rsa") {
    request.modulusLength = o.modulusLength;
    request.publicExponent = o.publicExponent !== undefined ? o.publicExponent : 65537;
  } else if (type === "ec") {
    request.namedCurve = o.namedCurve;
  } else if (type !== "ed25519") {
    throw nodeError(TypeErrorCtor, "The argument 'type' must be a supported key type. Received '" + type + "'", "ERR_INVALID_ARG_VALUE");
  }
  const privateKey = keyFromHost(hostSync("key.generate", utf8Encode(cryptoOptionsText(request))));
  const publicKey = createPublicKey(privateKey);
  return {
    publicKey: encodeGeneratedKey(publicKey, o.publicKeyEncoding),
    privateKey: encodeGeneratedKey(privateKey, o.privateKeyEncoding),
  };
}

function generateKeyPair(type, options, callback) {
  if (typeof options === "function") { callback = options; options = undefined; }
  cryptoCheckCallback(callback);
  let pair = null, error = null;
  try { pair = generateKeyPairSync(type, options); } catch (err) { error = err; }
  const exec = activeExecution();
  PromisePrototypeThen(PromiseResolve(undefined), () => {
    const args = error !== null ? [error] : [null, pair.publicKey, pair.privateKey];
    if (exec === null) ReflectApply(callback, undefined, args);
    else runAs(exec, callback, args);
  });
}

function generateKeySync(type, options) {
  const length = cryptoOwnOr(options, "length", undefined);
  if (type !== "hmac" && type !== "aes") {
    throw nodeError(TypeErrorCtor, "The argument 'type' must be one of: 'hmac', 'aes'. Received '" + StringCtor(type) + "'", "ERR_INVALID_ARG_VALUE");
  }
  if (!(NumberIsInteger(length) && length >= 8 && length <= 65536 && (type === "hmac" || length === 128 || length === 192 || length === 256))) {
    throw nodeError(RangeErrorCtor, 'The value of "options.length" is out of range.', "ERR_OUT_OF_RANGE");
  }
  const bytes = new Uint8ArrayCtor(MathFloor(length / 8));
  randomFill(bytes);
  return newKeyObject("secret", bytes, null);
}

function generateKey(type, options, callback) {
  cryptoWithCallback(callback, () => generateKeySync(type, options));
}

// ---- WebCrypto ---------------------------------------------------------------------------------

const WEB_HASHES = { __proto__: null, "sha-1": "SHA-1", "sha-256": "SHA-256", "sha-384": "SHA-384", "sha-512": "SHA-512" };
const WEB_ALGORITHMS = { __proto__: null, hmac: "HMAC", "aes-gcm": "AES-GCM", "aes-cbc": "AES-CBC", "rsassa-pkcs1-v1_5": "RSASSA-PKCS1-v1_5", "rsa-pss": "RSA-PSS",
  ecdsa: "ECDSA", ed25519: "Ed25519" };
const WEB_CURVES = { __proto__: null, "P-256": "prime256v1", "P-384": "secp384r1", "P-521": "secp521r1" };
const NODE_TO_WEB_CURVE = { __proto__: null, prime256v1: "P-256", secp384r1: "P-384", secp521r1: "P-521" };

function cryptoWebError(message, name) { return new DOMException(message, name); }

function webHashName(hash) {
  const name = typeof hash === "string" ? hash : hash !== null && typeof hash === "object" ? hash.name : undefined;
  const canonical = typeof name === "string" ? WEB_HASHES[StringPrototypeToLowerCase(name)] : undefined;
  if (canonical === undefined) throw cryptoWebError("Unrecognized algorithm name", "NotSupportedError");
  return canonical;
}

function hostHashOfWeb(name) { return StringPrototypeToLowerCase(StringPrototypeReplace(name, "-", "")); }

// {name, hash?, namedCurve?, saltLength?, length?} in WebCrypto's canonical spelling.
function normalizeAlgorithm(algorithm, op) {
  const given = typeof algorithm === "string" ? { name: algorithm } : algorithm;
  if (given === null || typeof given !== "object" || typeof given.name !== "string") {
    throw cryptoWebError("Algorithm: Unrecognized name", "NotSupportedError");
  }
  const lower = StringPrototypeToLowerCase(given.name);
  if (op === "digest") {
    return { name: webHashName(given.name) };
  }
  const name = WEB_ALGORITHMS[lower];
  if (name === undefined) throw cryptoWebError("Unrecognized algorithm name", "NotSupportedError");
  const out = { name };
  if (given.hash !== undefined) out.hash = { name: webHashName(given.hash) };
  if (given.namedCurve !== undefined) out.namedCurve = StringCtor(given.namedCurve);
  if (given.saltLength !== undefined) out.saltLength = given.saltLength;
  if (given.length !== undefined) out.length = given.length;
  if (given.modulusLength !== undefined) out.modulusLength = given.modulusLength;
  if (given.publicExponent !== undefined) out.publicExponent = given.publicExponent;
  return out;
}

const CRYPTO_KEY_TOKEN = {};
let cryptoKeyInternals = (key) => null;

class CryptoKey {
  #type; #extractable; #algorithm; #usages; #keyObject;
  constructor(token, type, extractable, algorithm, usages, keyObject) {
    if (token !== CRYPTO_KEY_TOKEN) throw new TypeErrorCtor("Illegal constructor");
    this.#type = type;
    this.#extractable = extractable;
    this.#algorithm = algorithm;
    this.#usages = usages;
    this.#keyObject = keyObject;
  }
  static {
    cryptoKeyInternals = (key) => (key !== null && typeof key === "object" && #type in key
      ? { type: key.#type, extractable: key.#extractable, algorithm: key.#algorithm, usages: key.#usages, keyObject: key.#keyObject } : null);
  }
  get type() { return this.#type; }
  get extractable() { return this.#extractable; }
  get algorithm() { return this.#algorithm; }
  get usages() { return ArrayPrototypeSlice(this.#usages); }
}
ObjectDefineProperty(CryptoKey.prototype, SymbolToStringTag, { value: "CryptoKey", configurable: true });

const USAGES_OF = { __proto__: null, secret: ["sign", "verify"], private: ["sign"], public: ["verify"] };
const AES_USAGES = ["encrypt", "decrypt", "wrapKey", "unwrapKey"];
function isAes(name) { return name === "AES-GCM" || name === "AES-CBC"; }

function checkUsages(type, usages, algorithmName) {
  if (!ArrayIsArray(usages)) throw new TypeErrorCtor("keyUsages must be a sequence");
  const allowed = isAes(algorithmName) ? AES_USAGES : USAGES_OF[type];
  const out = [];
  for (let i = 0; i < usages.length; i++) {
    const u = StringCtor(usages[i]);
    if (!CryptoArrayIncludes(allowed, u)) throw cryptoWebError("Unsupported key usage for a " + type + " key", "SyntaxError");
    if (!CryptoArrayIncludes(out, u)) ArrayPrototypePush(out, u);
  }
  if (type !== "public" && out.length === 0) throw cryptoWebError("Usages cannot be empty when creating a key.", "SyntaxError");
  return out;
}

function cryptoKeyFromKeyObject(keyObject, algorithm, extractable, usages) {
  const inner = keyInternals(keyObject);
  const alg = { name: algorithm.name };
  if (isAes(algorithm.name)) {
    if (inner.kind !== "secret") throw cryptoWebError("Invalid key type", "DataError");
    const bits = TypedArrayPrototypeGetLength(inner.bytes) * 8;
    if (bits !== 128 && bits !== 192 && bits !== 256) throw cryptoWebError("Invalid key length", "DataError");
    alg.length = bits;
  } else if (algorithm.name === "HMAC") {
    if (inner.kind !== "secret") throw cryptoWebError("Invalid key type", "DataError");
    if (algorithm.hash === undefined) throw new TypeErrorCtor("HMAC import needs a hash");
    alg.hash = algorithm.hash;
    alg.length = TypedArrayPrototypeGetLength(inner.bytes) * 8;
  } else {
    if (inner.kind === "secret") throw cryptoWebError("Invalid key type", "DataError");
    const keyType = inner.info.asymmetricKeyType;
    const d = inner.info.details;
    if (algorithm.name === "ECDSA") {
      if (keyType !== "ec") throw cryptoWebError("Invalid key type", "DataError");
      const curve = NODE_TO_WEB_CURVE[d.namedCurve];
      if (algorithm.namedCurve !== undefined && algorithm.namedCurve !== curve) throw cryptoWebError("Named curve mismatch", "DataError");
      alg.namedCurve = curve;
    } else if (algorithm.name === "Ed25519") {
      if (keyType !== "ed25519") throw cryptoWebError("Invalid key type", "DataError");
    } else {
      if (keyType !== "rsa") throw cryptoWebError("Invalid key type", "DataError");
      if (algorithm.hash === undefined) throw new TypeErrorCtor("RSA import needs a hash");
      alg.modulusLength = d.modulusLength;
      alg.publicExponent = cryptoExponentBytes(d.publicExponent);
      alg.hash = algorithm.hash;
    }
  }
  return new CryptoKey(CRYPTO_KEY_TOKEN, inner.kind, !!extractable, alg, checkUsages(inner.kind, usages, alg.name), keyObject);
}

function cryptoExponentBytes(decimal) {
  let n = NumberCtor(decimal);
  const out = [];
  while (n > 0) { ArrayPrototypePush(out, n % 256); n = MathFloor(n / 256); }
  const bytes = new Uint8ArrayCtor(out.length);
  for (let i = 0; i < out.length; i++) bytes[i] = out[out.length - 1 - i];
  return bytes;
}

function cryptoWebBytes(data, name) {
  const view = viewBytes(data);
  if (view === undefined) throw new TypeErrorCtor("Failed to execute '" + name + "': argument is not a BufferSource");
  return cryptoBytes(view, undefined, name, true);
}

function cryptoArrayBufferOf(bytes) {
  // a fresh Uint8Array from the host covers its whole buffer
  return TypedArrayPrototypeGetBuffer(bytes);
}

function importKeyNow(format, keyData, algorithm, extractable, usages) {
  const alg = normalizeAlgorithm(algorithm, "importKey");
  let keyObject;
  if (alg.name === "HMAC" || isAes(alg.name)) {
    if (format === "raw") keyObject = newKeyObject("secret", cryptoWebBytes(keyData, "importKey"), null);
    else if (format === "jwk") {
      if (keyData === null || typeof keyData !== "object" || keyData.kty !== "oct" || typeof keyData.k !== "string") {
        throw cryptoWebError("Invalid JWK keyData", "DataError");
      }
      const bytes = cryptoBase64Decode(keyData.k);
      keyObject = newKeyObject("secret", cryptoBytes(bytes, undefined, "k", true), null);
    } else throw cryptoWebError("Unsupported key format for HMAC", "NotSupportedError");
  } else if (format === "raw") {
    if (alg.name !== "ECDSA" && alg.name !== "Ed25519") throw cryptoWebError("Unsupported key format", "NotSupportedError");
    const curve = alg.name === "Ed25519" ? "Ed25519" : alg.namedCurve;
    keyObject = keyFromHost(hostSync("key.raw", [cryptoOptionsText({ namedCurve: curve }), cryptoWebBytes(keyData, "importKey")]));
  } else if (format === "jwk") {
    if (keyData === null || typeof keyData !== "object") throw cryptoWebError("Invalid JWK keyData", "DataError");
    const kind = keyData.d !== undefined ? "private" : "public";
    keyObject = keyObjectOf({ key: keyData, format: "jwk" }, kind, "keyData").key;
    if (kind === "public" && keyInternals(keyObject).kind !== "public") keyObject = createPublicKey(keyObject);
  } else if (format === "spki" || format === "pkcs8") {
    const kind = format === "spki" ? "public" : "private";
    keyObject = keyObjectOf({ key: cryptoWebBytes(keyData, "importKey"), format: "der", type: format }, kind, "keyData").key;
  } else {
    throw cryptoWebError("Unsupported key format", "NotSupportedError");
  }
  return cryptoKeyFromKeyObject(keyObject, alg, extractable, usages);
}

function exportKeyNow(format, key) {
  const inner = cryptoKeyInternals(key);
  if (inner === null) throw new TypeErrorCtor("key is not a CryptoKey");
  if (!inner.extractable) throw cryptoWebError("key is not extractable", "InvalidAccessError");
  const ko = keyInternals(inner.keyObject);
  if (inner.type === "secret") {
    if (format === "raw") return cryptoArrayBufferOf(cryptoBytes(ko.bytes, undefined, "key", true));
    if (format === "jwk") {
      const jwkAlg = isAes(inner.algorithm.name)
        ? "A" + inner.algorithm.length + StringPrototypeSlice(inner.algorithm.name, 4)
        : "HS" + StringPrototypeSlice(inner.algorithm.hash.name, 4);
      return { kty: "oct", k: base64UrlEncode(ko.bytes), alg: jwkAlg,
        key_ops: ArrayPrototypeSlice(inner.usages), ext: true };
    }
    throw cryptoWebError("Unsupported export format", "NotSupportedError");
  }
  if (format === "jwk") {
    const jwk = inner.keyObject.export({ format: "jwk" });
    jwk.key_ops = ArrayPrototypeSlice(inner.usages);
    jwk.ext = true;
    return jwk;
  }
  if (format === "spki" && inner.type === "public") return cryptoArrayBufferOf(inner.keyObject.export({ format: "der", type: "spki" }));
  if (format === "pkcs8" && inner.type === "private") return cryptoArrayBufferOf(inner.keyObject.export({ format: "der", type: "pkcs8" }));
  if (format === "raw" && inner.type === "public" && inner.algorithm.name !== "RSASSA-PKCS1-v1_5" && inner.algorithm.name !== "RSA-PSS") {
    return cryptoArrayBufferOf(hostSync("key.export", [cryptoOptionsText({ kind: "public", format: "raw" }), ko.bytes]));
  }
  throw cryptoWebError("Unsupported export format", "InvalidAccessError");
}

function webSignOptions(alg, keyAlg) {
  if (keyAlg.name === "HMAC" || keyAlg.name === "Ed25519") return {};
  if (keyAlg.name === "ECDSA") {
    if (alg.hash === undefined) throw new TypeErrorCtor("ECDSA needs a hash");
    return { hash: hostHashOfWeb(alg.hash.name), dsaEncoding: "ieee-p1363" };
  }
  const hash = hostHashOfWeb(keyAlg.hash.name);
  if (keyAlg.name === "RSA-PSS") {
    if (!NumberIsInteger(alg.saltLength)) throw new TypeErrorCtor("RSA-PSS needs a saltLength");
    return { hash, padding: 6, saltLength: alg.saltLength };
  }
  return { hash, padding: 1 };
}

function webKeyFor(key, alg, usage) {
  const inner = cryptoKeyInternals(key);
  if (inner === null) throw new TypeErrorCtor("key is not a CryptoKey");
  if (inner.algorithm.name !== alg.name) throw cryptoWebError("The requested operation is not valid for the provided key", "InvalidAccessError");
  if (!CryptoArrayIncludes(inner.usages, usage)) throw cryptoWebError("The requested operation is not valid for the provided key", "InvalidAccessError");
  return inner;
}

function webSignNow(algorithm, key, data) {
  const alg = normalizeAlgorithm(algorithm, "sign");
  const inner = webKeyFor(key, alg, "sign");
  const bytes = cryptoWebBytes(data, "sign");
  const ko = keyInternals(inner.keyObject);
  if (alg.name === "HMAC") {
    return cryptoArrayBufferOf(hostSync("hmac", [hostHashOfWeb(inner.algorithm.hash.name), ko.bytes, bytes]));
  }
  const o = webSignOptions(alg, inner.algorithm);
  o.kind = "private";
  return cryptoArrayBufferOf(hostSync("key.sign", [cryptoOptionsText(o), ko.bytes, bytes]));
}

function webVerifyNow(algorithm, key, signature, data) {
  const alg = normalizeAlgorithm(algorithm, "verify");
  const inner = webKeyFor(key, alg, "verify");
  const sig = cryptoWebBytes(signature, "verify");
  const bytes = cryptoWebBytes(data, "verify");
  const ko = keyInternals(inner.keyObject);
  if (alg.name === "HMAC") {
    const mac = hostSync("hmac", [hostHashOfWeb(inner.algorithm.hash.name), ko.bytes, bytes]);
    return TypedArrayPrototypeGetLength(mac) === TypedArrayPrototypeGetLength(sig) && cryptoTimingSafeEqual(mac, sig);
  }
  const o = webSignOptions(alg, inner.algorithm);
  o.kind = ko.kind;
  const answer = hostSync("key.verify", [cryptoOptionsText(o), ko.bytes, bytes, sig]);
  return answer[0] === 1;
}

// AES-GCM (ciphertext || tag, as WebCrypto) and AES-CBC (PKCS#7 padding), by the host's cipher
function webCipherNow(decrypt, algorithm, key, data) {
  const alg = normalizeAlgorithm(algorithm, decrypt ? "decrypt" : "encrypt");
  const inner = webKeyFor(key, alg, decrypt ? "decrypt" : "encrypt");
  if (!isAes(alg.name)) throw cryptoWebError("The requested operation is not valid for the provided key", "InvalidAccessError");
  const ko = keyInternals(inner.keyObject);
  const given = typeof algorithm === "object" && algorithm !== null ? algorithm : {};
  const iv = cryptoWebBytes(given.iv, "iv");
  let bytes = cryptoWebBytes(data, decrypt ? "decrypt" : "encrypt");
  const gcm = alg.name === "AES-GCM";
  const tagLength = gcm ? (given.tagLength === undefined ? 128 : given.tagLength) : 0;
  if (gcm && (tagLength % 8 !== 0 || tagLength < 32 || tagLength > 128)) throw cryptoWebError("Invalid tagLength", "OperationError");
  if (!gcm && TypedArrayPrototypeGetLength(iv) !== 16) throw cryptoWebError("algorithm.iv must contain exactly 16 bytes", "OperationError");
  let tag = cryptoBytes("", undefined, "tag", true);
  if (gcm && decrypt) {
    const n = TypedArrayPrototypeGetLength(bytes);
    const t = tagLength / 8;
    if (n < t) throw cryptoWebError("The provided data is too small.", "OperationError");
    tag = bytesSlice(bytes, n - t, t);
    bytes = bytesSlice(bytes, 0, n - t);
  }
  const aad = gcm && given.additionalData !== undefined ? cryptoWebBytes(given.additionalData, "additionalData")
    : cryptoBytes("", undefined, "aad", true);
  const request = { algorithm: "aes-" + inner.algorithm.length + (gcm ? "-gcm" : "-cbc"), decrypt, final: true, autoPadding: true,
    authTagLength: gcm ? tagLength / 8 : undefined };
  let parts;
  try {
    parts = cryptoSplitFields(hostSync("cipher", [cryptoOptionsText(request), ko.bytes, iv, bytes, aad, tag]));
  } catch (err) {
    throw cryptoWebError(decrypt ? "The operation failed for an operation-specific reason" : errorMessageOf(err), "OperationError");
  }
  if (gcm && !decrypt) return cryptoArrayBufferOf(cryptoConcat([parts[0], parts[1]], TypedArrayPrototypeGetLength(parts[0]) + TypedArrayPrototypeGetLength(parts[1])));
  return cryptoArrayBufferOf(cryptoBytes(parts[0], undefined, "out", true));
}

function errorMessageOf(err) {
  return err !== null && typeof err === "object" && typeof err.message === "string" ? err.message : "operation failed";
}

function webGenerateKeyNow(algorithm, extractable, usages) {
  const alg = normalizeAlgorithm(algorithm, "generateKey");
  if (isAes(alg.name)) {
    const key = generateKeySync("aes", { length: alg.length });
    return cryptoKeyFromKeyObject(key, alg, extractable, usages);
  }
  if (alg.name === "HMAC") {
    if (alg.hash === undefined) throw new TypeErrorCtor("HMAC needs a hash");
    const bits = alg.length !== undefined ? alg.length : (alg.hash.name === "SHA-384" || alg.hash.name === "SHA-512" ? 1024 : 512);
    const key = generateKeySync("hmac", { length: bits });
    return cryptoKeyFromKeyObject(key, alg, extractable, usages);
  }
  let pair;
  if (alg.name === "ECDSA") {
    const curve = WEB_CURVES[alg.namedCurve];
    if (curve === undefined) throw cryptoWebError("Unrecognized namedCurve", "NotSupportedError");
    pair = generateKeyPairSync("ec", { namedCurve: curve });
  } else if (alg.name === "Ed25519") {
    pair = generateKeyPairSync("ed25519", {});
  } else {
    const e = alg.publicExponent === undefined ? 65537 : cryptoBytesToNumber(cryptoWebBytes(alg.publicExponent, "generateKey"));
    pair = generateKeyPairSync("rsa", { modulusLength: alg.modulusLength, publicExponent: e });
  }
  const publicUsages = [], privateUsages = [];
  for (let i = 0; i < usages.length; i++) {
    ArrayPrototypePush(usages[i] === "verify" ? publicUsages : privateUsages, usages[i]);
  }
  return {
    publicKey: cryptoKeyFromKeyObject(pair.publicKey, alg, true, publicUsages),
    privateKey: cryptoKeyFromKeyObject(pair.privateKey, alg, extractable, privateUsages),
  };
}

function cryptoBytesToNumber(bytes) {
  let n = 0;
  for (let i = 0; i < TypedArrayPrototypeGetLength(bytes); i++) n = n * 256 + bytes[i];
  return n;
}

function cryptoWebPromise(work, args) {
  try {
    return PromiseResolve(ReflectApply(work, undefined, args));
  } catch (err) {
    return cryptoReject(err);
  }
}

// ---- the module --------------------------------------------------------------------------------

const CRYPTO_CONSTANTS = {
  OPENSSL_VERSION_NUMBER: 805306608, SSL_OP_ALL: 2147485776, SSL_OP_NO_SSLv2: 0, SSL_OP_NO_SSLv3: 33554432,
  SSL_OP_NO_TLSv1: 67108864, ENGINE_METHOD_ALL: 65535, ENGINE_METHOD_NONE: 0, DH_CHECK_P_NOT_SAFE_PRIME: 2,
  DH_CHECK_P_NOT_PRIME: 1, DH_UNABLE_TO_CHECK_GENERATOR: 4, DH_NOT_SUITABLE_GENERATOR: 8,
  RSA_PKCS1_PADDING: 1, RSA_NO_PADDING: 3, RSA_PKCS1_OAEP_PADDING: 4, RSA_X931_PADDING: 5,
  RSA_PKCS1_PSS_PADDING: 6, RSA_PSS_SALTLEN_DIGEST: -1, RSA_PSS_SALTLEN_MAX_SIGN: -2, RSA_PSS_SALTLEN_AUTO: -2,
  defaultCoreCipherList: "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256",
  TLS1_VERSION: 769, TLS1_1_VERSION: 770, TLS1_2_VERSION: 771, TLS1_3_VERSION: 772,
  POINT_CONVERSION_COMPRESSED: 2, POINT_CONVERSION_UNCOMPRESSED: 4, POINT_CONVERSION_HYBRID: 6,
};

function cryptoUnavailable(name) {
  return function unavailable() {
    throw nodeError(ErrorCtor, "crypto." + name + " is not available to actions in this sandbox", "ERR_FEATURE_UNAVAILABLE_ON_PLATFORM");
  };
}

// Buffer.prototype for the Buffers this module returns, taken once per isolate when the first
// one is returned (an action that only asks for hex digests never builds the buffer module)
function cryptoInitBuffer() {
  if (CryptoBufferPrototype !== null) return;
  try {
    const B = requireBuiltin("buffer").Buffer;
    if (typeof B === "function" && B.prototype !== null && typeof B.prototype === "object") CryptoBufferPrototype = B.prototype;
  } catch (_) { CryptoBufferPrototype = null; }
}

function cryptoModule() {
  const webcrypto = globalCrypto;
  const exports = {
    createHash: (algorithm, options) => new Hash(algorithm, options),
    hash: (algorithm, data, outputEncoding) => {
      const name = checkedHashName(algorithm, "algorithm");
      if (typeof data !== "string" && viewBytes(data) === undefined) {
        throw cryptoInvalidArg("data", "of type string or an instance of Buffer, TypedArray, or DataView", data);
      }
      return cryptoOutput(hostDigest(name, cryptoBytes(data, undefined, "data", false), undefined),
        outputEncoding === undefined ? "hex" : outputEncoding);
    },
    createHmac: (algorithm, key, options) => new Hmac(algorithm, key, options),
    createSign: (algorithm) => new Sign(algorithm),
    createVerify: (algorithm) => new Verify(algorithm),
    sign: cryptoSign,
    verify: cryptoVerify,
    createPrivateKey, createPublicKey, createSecretKey,
    generateKeyPairSync, generateKeyPair, generateKeySync, generateKey,
    randomBytes: cryptoRandomBytes, randomFillSync, randomFill: randomFillAsync, randomInt: cryptoRandomInt, randomUUID: randomUUIDNode,
    pseudoRandomBytes: cryptoRandomBytes, prng: cryptoRandomBytes, rng: cryptoRandomBytes,
    getRandomValues: (array) => ReflectApply(CryptoPrototypeGetRandomValues, webcrypto, [array]),
    timingSafeEqual: cryptoTimingSafeEqual,
    pbkdf2Sync, pbkdf2, scryptSync, scrypt,
    getHashes: () => ["RSA-MD5", "RSA-RIPEMD160", "RSA-SHA1", "RSA-SHA224", "RSA-SHA256", "RSA-SHA384", "RSA-SHA512",
      "md5", "ripemd160", "sha1", "sha224", "sha256", "sha3-224", "sha3-256", "sha3-384", "sha3-512", "sha384",
      "sha512", "sha512-224", "sha512-256", "shake128", "shake256"],
    getCurves: () => ["prime256v1", "secp256k1", "secp384r1", "secp521r1"],
    getCiphers: () => ArrayPrototypeSlice(CIPHER_NAMES),
    getFips: () => 0,
    setFips: cryptoUnavailable("setFips"),
    constants: ObjectFreeze(CRYPTO_CONSTANTS),
    KeyObject, Hash, Hmac, Sign, Verify,
    webcrypto, subtle: globalCrypto.subtle,
    createCipheriv: (algorithm, key, iv, options) => new Cipheriv(algorithm, key, iv, options),
    createDecipheriv: (algorithm, key, iv, options) => new Decipheriv(algorithm, key, iv, options),
    Cipheriv, Decipheriv,
    publicEncrypt: cryptoUnavailable("publicEncrypt"), privateDecrypt: cryptoUnavailable("privateDecrypt"),
    privateEncrypt: cryptoUnavailable("privateEncrypt"), publicDecrypt: cryptoUnavailable("publicDecrypt"),
    createECDH: cryptoUnavailable("createECDH"), createDiffieHellman: cryptoUnavailable("createDiffieHellman"),
    diffieHellman: cryptoUnavailable("diffieHellman"), hkdfSync, hkdf,
  };
  return exports;
}

return {
  module: cryptoModule,
  CryptoKey,
  subtle: {
    digest: (algorithm, data) => {
      const alg = normalizeAlgorithm(algorithm, "digest");
      return cryptoArrayBufferOf(hostDigest(hostHashOfWeb(alg.name), cryptoWebBytes(data, "digest"), undefined));
    },
    importKey: importKeyNow, exportKey: exportKeyNow, sign: webSignNow, verify: webVerifyNow, generateKey: webGenerateKeyNow,
    encrypt: (algorithm, key, data) => webCipherNow(false, algorithm, key, data),
    decrypt: (algorithm, key, data) => webCipherNow(true, algorithm, key, data),
  },
  // for node:zlib (lazy/node_zlib.js)
  shared: { cryptoInvalidArg, cryptoOwnOr, cryptoOptionsText, cryptoBuffer, cryptoWithCallback,
    cryptoConcat, cryptoBytes, cryptoCallbackLater },
};

// node:zlib's implementation, compiled on first require by 46_zlib.js (see lazy/node_crypto.js
// for how lazy runtime code is run: a function of `rt`, no globals). gzip / deflate / raw deflate
// / brotli are compressed and decompressed by the host (Python's zlib and brotli,
// sandbox/host_sync.py) through the synchronous host call. The host stops decompressing at the
// output cap (maxOutputLength, at most 16 MiB): a decompression bomb fails with Node's
// RangeError [ERR_BUFFER_TOO_LARGE] and never inflates past it. Input is capped at 8 MiB per
// call. The stream forms (createGzip, ...) collect their input and (de)compress it once the
// input ends.

const { ArrayPrototypePush, ErrorCtor, Int32ArrayCtor, ObjectDefineProperty, ObjectFreeze, ObjectKeys, ObjectSetPrototypeOf, RangeErrorCtor, ReflectApply, StringCtor, StringPrototypeSlice, StringPrototypeStartsWith, StringPrototypeToLowerCase, TypedArrayPrototypeGetLength, hostSync, nodeError, requireBuiltin, utf8Encode, viewBytes } = rt;
const { cryptoInvalidArg, cryptoOwnOr, cryptoOptionsText, cryptoBuffer, cryptoWithCallback, cryptoConcat, cryptoBytes, cryptoCallbackLater } = rt.crypto;

const ZLIB_OUTPUT_MAX = 16 * 1024 * 1024; // sandbox/host_sync.py ZLIB_OUTPUT_MAX

const ZLIB_CONSTANTS = {
  Z_NO_FLUSH: 0, Z_PARTIAL_FLUSH: 1, Z_SYNC_FLUSH: 2, Z_FULL_FLUSH: 3, Z_FINISH: 4, Z_BLOCK: 5,
  Z_OK: 0, Z_STREAM_END: 1, Z_NEED_DICT: 2, Z_ERRNO: -1, Z_STREAM_ERROR: -2, Z_DATA_ERROR: -3,
  Z_MEM_ERROR: -4, Z_BUF_ERROR: -5, Z_VERSION_ERROR: -6,
  Z_NO_COMPRESSION: 0, Z_BEST_SPEED: 1, Z_BEST_COMPRESSION: 9, Z_DEFAULT_COMPRESSION: -1,
  Z_FILTERED: 1, Z_HUFFMAN_ONLY: 2, Z_RLE: 3, Z_FIXED: 4, Z_DEFAULT_STRATEGY: 0, ZLIB_VERNUM: 4865,
  DEFLATE: 1, INFLATE: 2, GZIP: 3, GUNZIP: 4, DEFLATERAW: 5, INFLATERAW: 6, UNZIP: 7,
  BROTLI_DECODE: 8, BROTLI_ENCODE: 9,
  Z_MIN_WINDOWBITS: 8, Z_MAX_WINDOWBITS: 15, Z_DEFAULT_WINDOWBITS: 15, Z_MIN_CHUNK: 64,
  Z_MAX_CHUNK: Infinity, Z_DEFAULT_CHUNK: 16384, Z_MIN_MEMLEVEL: 1, Z_MAX_MEMLEVEL: 9,
  Z_DEFAULT_MEMLEVEL: 8, Z_MIN_LEVEL: -1, Z_MAX_LEVEL: 9, Z_DEFAULT_LEVEL: -1,
  BROTLI_OPERATION_PROCESS: 0, BROTLI_OPERATION_FLUSH: 1, BROTLI_OPERATION_FINISH: 2,
  BROTLI_OPERATION_EMIT_METADATA: 3, BROTLI_PARAM_MODE: 0, BROTLI_MODE_GENERIC: 0, BROTLI_MODE_TEXT: 1,
  BROTLI_MODE_FONT: 2, BROTLI_DEFAULT_MODE: 0, BROTLI_PARAM_QUALITY: 1, BROTLI_MIN_QUALITY: 0,
  BROTLI_MAX_QUALITY: 11, BROTLI_DEFAULT_QUALITY: 11, BROTLI_PARAM_LGWIN: 2, BROTLI_MIN_WINDOW_BITS: 10,
  BROTLI_MAX_WINDOW_BITS: 24, BROTLI_LARGE_MAX_WINDOW_BITS: 30, BROTLI_DEFAULT_WINDOW: 22,
  BROTLI_PARAM_LGBLOCK: 3, BROTLI_MIN_INPUT_BLOCK_BITS: 16, BROTLI_MAX_INPUT_BLOCK_BITS: 24,
  BROTLI_PARAM_DISABLE_LITERAL_CONTEXT_MODELING: 4, BROTLI_PARAM_SIZE_HINT: 5, BROTLI_PARAM_LARGE_WINDOW: 6,
  BROTLI_PARAM_NPOSTFIX: 7, BROTLI_PARAM_NDIRECT: 8, BROTLI_DECODER_RESULT_ERROR: 0,
  BROTLI_DECODER_RESULT_SUCCESS: 1, BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT: 2,
  BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT: 3, BROTLI_DECODER_PARAM_DISABLE_RING_BUFFER_REALLOCATION: 0,
  BROTLI_DECODER_PARAM_LARGE_WINDOW: 1,
};
const ZLIB_ERRNO = { __proto__: null, Z_DATA_ERROR: -3, Z_BUF_ERROR: -5, Z_STREAM_ERROR: -2, Z_MEM_ERROR: -4 };

function zlibNumber(options, name, fallback, min, max) {
  const v = cryptoOwnOr(options, name, undefined);
  if (v === undefined || v === null) return fallback;
  if (typeof v !== "number" || !(v >= min && v <= max)) {
    throw nodeError(RangeErrorCtor, 'The value of "options.' + name + '" is out of range. It must be >= ' + min + " and <= " + max + ". Received " + StringCtor(v), "ERR_OUT_OF_RANGE");
  }
  return v;
}

// The host's options for format (gzip, deflate, raw, unzip, brotli) from Node's options object.
function zlibRequest(format, options, decompress) {
  if (options !== undefined && options !== null && typeof options !== "object") {
    throw cryptoInvalidArg("options", "of type object", options);
  }
  const request = { format };
  request.maxOutputLength = zlibNumber(options, "maxOutputLength", ZLIB_OUTPUT_MAX, 1, 9007199254740991);
  if (format === "brotli") {
    const params = cryptoOwnOr(options, "params", undefined);
    const param = (id, fallback) => {
      if (params === undefined || params === null || typeof params !== "object") return fallback;
      const v = params[id];
      return typeof v === "number" ? v : typeof v === "boolean" ? (v ? 1 : 0) : fallback;
    };
    request.quality = param(1, 11);
    request.mode = param(0, 0);
    request.lgwin = param(2, 22);
    return request;
  }
  if (!decompress) {
    request.level = zlibNumber(options, "level", -1, -1, 9);
    request.memLevel = zlibNumber(options, "memLevel", 8, 1, 9);
    request.strategy = zlibNumber(options, "strategy", 0, 0, 4);
  }
  request.windowBits = zlibNumber(options, "windowBits", 15, decompress ? 0 : 8, 15);
  return request;
}

function zlibInput(buffer) {
  if (typeof buffer === "string") return utf8Encode(buffer);
  const view = viewBytes(buffer);
  if (view === undefined) {
    throw cryptoInvalidArg("buffer", "of type string or an instance of Buffer, TypedArray, DataView, or ArrayBuffer", buffer);
  }
  return view;
}

function zlibRun(format, decompress, buffer, options) {
  const request = zlibRequest(format, options, decompress);
  const data = zlibInput(buffer);
  let out;
  try {
    out = hostSync(decompress ? "zlib.decompress" : "zlib.compress", [cryptoOptionsText(request), data]);
  } catch (err) {
    const code = err !== null && typeof err === "object" ? err.code : undefined;
    if (typeof code === "string" && ZLIB_ERRNO[code] !== undefined) err.errno = ZLIB_ERRNO[code];
    throw err;
  }
  return cryptoBuffer(out);
}

function zlibPair(format, decompress) {
  const sync = (buffer, options) => zlibRun(format, decompress, buffer, options);
  const async = (buffer, options, callback) => {
    if (typeof options === "function") { callback = options; options = undefined; }
    cryptoWithCallback(callback, () => zlibRun(format, decompress, buffer, options));
  };
  return { sync, async };
}

// CRC-32 (zlib.crc32, Node 22): in JS, it is a table walk
let CRC_TABLE = null;
function crc32(data, value) {
  if (CRC_TABLE === null) {
    CRC_TABLE = new Int32ArrayCtor(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320 ^ (c >>> 1) : c >>> 1;
      CRC_TABLE[n] = c;
    }
  }
  const bytes = zlibInput(data);
  let crc = value === undefined ? 0 : value;
  if (typeof crc !== "number") throw cryptoInvalidArg("value", "of type number", value);
  crc = ~crc;
  const n = TypedArrayPrototypeGetLength(bytes);
  for (let i = 0; i < n; i++) crc = CRC_TABLE[(crc ^ bytes[i]) & 0xFF] ^ (crc >>> 8);
  return (~crc) >>> 0;
}

// Stream forms: a Transform that collects its input and (de)compresses it at the end.
function zlibStreamClass(Transform, format, decompress, name) {
  const Ctor = function (options) {
    if (!(this instanceof Ctor)) return new Ctor(options);
    ReflectApply(Transform, this, [options]);
    this._actionhostParts = [];
    this._actionhostSize = 0;
    this._actionhostOptions = options;
    this.bytesWritten = 0;
  };
  ObjectSetPrototypeOf(Ctor.prototype, Transform.prototype);
  ObjectSetPrototypeOf(Ctor, Transform);
  ObjectDefineProperty(Ctor, "name", { value: name });
  Ctor.prototype._transform = function (chunk, encoding, callback) {
    let bytes;
    try {
      bytes = typeof chunk === "string" ? cryptoBytes(chunk, encoding, "chunk", false) : cryptoBytes(chunk, undefined, "chunk", true);
    } catch (err) { callback(err); return; }
    ArrayPrototypePush(this._actionhostParts, bytes);
    this._actionhostSize += TypedArrayPrototypeGetLength(bytes);
    this.bytesWritten = this._actionhostSize;
    callback();
  };
  Ctor.prototype._flush = function (callback) {
    let out;
    try {
      out = zlibRun(format, decompress, cryptoConcat(this._actionhostParts, this._actionhostSize), this._actionhostOptions);
    } catch (err) { callback(err); return; }
    this._actionhostParts = [];
    callback(null, out);
  };
  Ctor.prototype.close = function (callback) {
    if (typeof callback === "function") cryptoCallbackLater(() => callback(), null, undefined);
    this.destroy();
  };
  Ctor.prototype.flush = function (kind, callback) {
    if (typeof kind === "function") callback = kind;
    if (typeof callback === "function") cryptoCallbackLater(() => callback(), null, undefined);
  };
  Ctor.prototype.params = function (level, strategy, callback) {
    if (typeof callback === "function") cryptoCallbackLater(() => callback(), null, undefined);
  };
  Ctor.prototype.reset = function () { this._actionhostParts = []; this._actionhostSize = 0; };
  return Ctor;
}

const ZLIB_KINDS = [
  // [Node's name, host format, decompress]
  ["Gzip", "gzip", false], ["Gunzip", "gzip", true], ["Deflate", "deflate", false], ["Inflate", "deflate", true],
  ["DeflateRaw", "raw", false], ["InflateRaw", "raw", true], ["Unzip", "unzip", true],
  ["BrotliCompress", "brotli", false], ["BrotliDecompress", "brotli", true],
];

function zlibUnavailable(name) {
  return function unavailable() {
    throw nodeError(ErrorCtor, "zlib." + name + " is not available to actions in this sandbox (no stream module)", "ERR_FEATURE_UNAVAILABLE_ON_PLATFORM");
  };
}

function zlibModule() {
  const exports = { constants: ObjectFreeze(ZLIB_CONSTANTS), crc32 };
  const names = ObjectKeys(ZLIB_CONSTANTS);
  for (let i = 0; i < names.length; i++) {
    if (StringPrototypeStartsWith(names[i], "Z_")) exports[names[i]] = ZLIB_CONSTANTS[names[i]];
  }
  let Transform = null;
  try {
    Transform = requireBuiltin("stream").Transform;
  } catch (_) { Transform = null; }
  for (let i = 0; i < ZLIB_KINDS.length; i++) {
    const kind = ZLIB_KINDS[i];
    const name = kind[0];
    const pair = zlibPair(kind[1], kind[2]);
    const lower = StringPrototypeToLowerCase(name[0]) + StringPrototypeSlice(name, 1);
    exports[lower + "Sync"] = pair.sync;
    exports[lower] = pair.async;
    if (typeof Transform === "function") {
      const Ctor = zlibStreamClass(Transform, kind[1], kind[2], name);
      exports[name] = Ctor;
      exports["create" + name] = (options) => new Ctor(options);
    } else {
      exports["create" + name] = zlibUnavailable("create" + name);
    }
  }
  // Node names the brotli pair brotliCompress / brotliDecompress (the loop made those already)
  return exports;
}

return { module: zlibModule };

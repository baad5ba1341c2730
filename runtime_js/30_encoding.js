// TextEncoder, TextDecoder, atob, btoa, DOMException globals; utf8 and base64url helpers.
//
// Byte arrays are made with the Uint8Array captured in 00_primordials.js: 60_limits.js later
// swaps the global constructors for counting wrappers, and the results still pass
// `instanceof Uint8Array` because the wrappers share the original prototype.

// ---- DOMException --------------------------------------------------------------------------

const DOM_EXCEPTION_CODES = {
  __proto__: null, IndexSizeError: 1, HierarchyRequestError: 3, WrongDocumentError: 4,
  InvalidCharacterError: 5, NoModificationAllowedError: 7, NotFoundError: 8, NotSupportedError: 9,
  InvalidStateError: 11, SyntaxError: 12, InvalidModificationError: 13, NamespaceError: 14,
  InvalidAccessError: 15, TypeMismatchError: 17, SecurityError: 18, NetworkError: 19,
  AbortError: 20, URLMismatchError: 21, QuotaExceededError: 22, TimeoutError: 23,
  InvalidNodeTypeError: 24, DataCloneError: 25,
};

// The web platform's error type (Node has it as a global); name and code are per instance.
class DOMException extends ErrorCtor {
  #name;
  constructor(message = "", options = "Error") {
    super(`${message}`);
    let name = "Error";
    if (options !== null && typeof options === "object") {
      if (options.name !== undefined) name = `${options.name}`;
    } else if (options !== undefined) {
      name = `${options}`;
    }
    this.#name = name;
    // the stack's first line was written by Error() before the name existed
    if (typeof ErrorCaptureStackTrace === "function") ErrorCaptureStackTrace(this, new.target);
  }
  get name() { return this.#name; }
  get code() { const c = DOM_EXCEPTION_CODES[this.#name]; return c === undefined ? 0 : c; }
}
ObjectDefineProperty(DOMException.prototype, SymbolToStringTag, { value: "DOMException", configurable: true });

// ---- UTF-8 ---------------------------------------------------------------------------------

// Lone surrogates are encoded as U+FFFD (EF BF BD), as the Encoding Standard does.
function utf8Encode(s) {
  const n = s.length;
  let size = 0;
  for (let i = 0; i < n; i++) {
    const c = StringPrototypeCharCodeAt(s, i);
    if (c < 0x80) size += 1;
    else if (c < 0x800) size += 2;
    else if (c >= 0xD800 && c <= 0xDBFF && i + 1 < n &&
      (StringPrototypeCharCodeAt(s, i + 1) & 0xFC00) === 0xDC00) { size += 4; i++; }
    else size += 3;
  }
  const out = new Uint8ArrayCtor(size);
  reserveBuffer(size, out); // counts against the isolate's buffer budget like user-made arrays
  if (size === n) {
    for (let i = 0; i < n; i++) out[i] = StringPrototypeCharCodeAt(s, i);
    return out;
  }
  utf8EncodeInto(s, out, 0, size);
  return out;
}

// Encodes whole characters of s into out[at..limit); returns [code units read, bytes written].
function utf8EncodeInto(s, out, at, limit) {
  const n = s.length;
  let i = 0;
  let w = at;
  for (; i < n; i++) {
    let c = StringPrototypeCharCodeAt(s, i);
    let units = 1;
    if (c >= 0xD800 && c <= 0xDFFF) {
      const d = i + 1 < n ? StringPrototypeCharCodeAt(s, i + 1) : 0;
      if (c <= 0xDBFF && (d & 0xFC00) === 0xDC00) { c = ((c - 0xD800) << 10) + (d - 0xDC00) + 0x10000; units = 2; }
      else c = 0xFFFD;
    }
    if (c < 0x80) {
      if (w + 1 > limit) break;
      out[w++] = c;
    } else if (c < 0x800) {
      if (w + 2 > limit) break;
      out[w++] = 0xC0 | (c >> 6);
      out[w++] = 0x80 | (c & 63);
    } else if (c < 0x10000) {
      if (w + 3 > limit) break;
      out[w++] = 0xE0 | (c >> 12);
      out[w++] = 0x80 | ((c >> 6) & 63);
      out[w++] = 0x80 | (c & 63);
    } else {
      if (w + 4 > limit) break;
      out[w++] = 0xF0 | (c >> 18);
      out[w++] = 0x80 | ((c >> 12) & 63);
      out[w++] = 0x80 | ((c >> 6) & 63);
      out[w++] = 0x80 | (c & 63);
    }
    i += units - 1;
  }
  return [i, w - at];
}

const UTF8_CHUNK = 8192;       // code units per String.fromCharCode call

function utf8NewState() {
  return { codePoint: 0, bytesSeen: 0, bytesNeeded: 0, lower: 0x80, upper: 0xBF, bomSeen: false };
}

// The Encoding Standard's UTF-8 decoder over bytes[start..end) (any indexable byte source),
// continuing from `state`. Malformed input yields U+FFFD per maximal subpart, or returns null
// when fatal. With flush, an unfinished sequence at the end is an error too. stripBOM drops a
// U+FEFF that is the first code point of the stream.
function utf8DecodeRun(bytes, start, end, state, fatal, flush, stripBOM) {
  let text = "";
  let units = [];
  let codePoint = state.codePoint, bytesSeen = state.bytesSeen, bytesNeeded = state.bytesNeeded;
  let lower = state.lower, upper = state.upper;
  let bomSeen = state.bomSeen;
  const emit = (cp) => {
    if (!bomSeen) {
      bomSeen = true;
      if (cp === 0xFEFF && stripBOM) return;
    }
    if (cp > 0xFFFF) {
      cp -= 0x10000;
      units[units.length] = 0xD800 + (cp >> 10);
      units[units.length] = 0xDC00 + (cp & 0x3FF);
    } else {
      units[units.length] = cp;
    }
    if (units.length >= UTF8_CHUNK) {
      text += ReflectApply(StringFromCharCode, undefined, units);
      units = [];
    }
  };
  let failed = false;
  for (let i = start; i < end; i++) {
    const b = bytes[i];
    if (bytesNeeded === 0) {
      if (b <= 0x7F) emit(b);
      else if (b >= 0xC2 && b <= 0xDF) { bytesNeeded = 1; codePoint = b & 0x1F; }
      else if (b >= 0xE0 && b <= 0xEF) {
        if (b === 0xE0) lower = 0xA0;
        if (b === 0xED) upper = 0x9F;
        bytesNeeded = 2;
        codePoint = b & 0xF;
      } else if (b >= 0xF0 && b <= 0xF4) {
        if (b === 0xF0) lower = 0x90;
        if (b === 0xF4) upper = 0x8F;
        bytesNeeded = 3;
        codePoint = b & 0x7;
      } else {
        if (fatal) { failed = true; break; }
        emit(0xFFFD);
      }
      continue;
    }
    if (b < lower || b > upper) {
      // the sequence so far is one error; the byte starts over on its own
      codePoint = bytesNeeded = bytesSeen = 0;
      lower = 0x80;
      upper = 0xBF;
      if (fatal) { failed = true; break; }
      emit(0xFFFD);
      i--;
      continue;
    }
    lower = 0x80;
    upper = 0xBF;
    codePoint = (codePoint << 6) | (b & 0x3F);
    bytesSeen++;
    if (bytesSeen === bytesNeeded) {
      emit(codePoint);
      codePoint = bytesNeeded = bytesSeen = 0;
    }
  }
  if (!failed && flush && bytesNeeded !== 0) {
    codePoint = bytesNeeded = bytesSeen = 0;
    lower = 0x80;
    upper = 0xBF;
    if (fatal) failed = true;
    else emit(0xFFFD);
  }
  if (failed) {
    const fresh = utf8NewState();
    state.codePoint = fresh.codePoint; state.bytesSeen = 0; state.bytesNeeded = 0;
    state.lower = fresh.lower; state.upper = fresh.upper; state.bomSeen = false;
    return null;
  }
  state.codePoint = codePoint; state.bytesSeen = bytesSeen; state.bytesNeeded = bytesNeeded;
  state.lower = lower; state.upper = upper; state.bomSeen = bomSeen;
  if (units.length > 0) text += ReflectApply(StringFromCharCode, undefined, units);
  return text;
}

// UTF-8 decode without BOM handling, malformed bytes as U+FFFD. Takes a Uint8Array or a plain
// array of byte values (the URL code's percent-decoding produces those).
function utf8Decode(bytes) {
  const n = ArrayIsArray(bytes) ? bytes.length : TypedArrayPrototypeGetLength(bytes);
  // fast path: ASCII only
  let ascii = true;
  for (let i = 0; i < n; i++) if (bytes[i] > 0x7F) { ascii = false; break; }
  if (ascii) {
    let text = "";
    for (let i = 0; i < n; i += UTF8_CHUNK) {
      const chunk = [];
      const stop = MathMin(n, i + UTF8_CHUNK);
      for (let k = i; k < stop; k++) chunk[chunk.length] = bytes[k];
      text += ReflectApply(StringFromCharCode, undefined, chunk);
    }
    return text;
  }
  return utf8DecodeRun(bytes, 0, n, utf8NewState(), false, true, false);
}

// ---- base64 --------------------------------------------------------------------------------

const BASE64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const BASE64URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
// char code -> 6-bit value, for both alphabets ("+/" and "-_"); -1 elsewhere
const BASE64_VALUES = [];
for (let i = 0; i < 128; i++) BASE64_VALUES[i] = -1;
for (let i = 0; i < 64; i++) {
  BASE64_VALUES[StringPrototypeCharCodeAt(BASE64_ALPHABET, i)] = i;
  BASE64_VALUES[StringPrototypeCharCodeAt(BASE64URL_ALPHABET, i)] = i;
}

// bytes: anything indexable with a length n; returns text, padded with "=" when asked
function base64EncodeWith(bytes, n, alphabet, pad) {
  let out = "";
  let i = 0;
  for (; i + 2 < n; i += 3) {
    const v = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += alphabet[v >> 18] + alphabet[(v >> 12) & 63] + alphabet[(v >> 6) & 63] + alphabet[v & 63];
  }
  if (n - i === 1) {
    const v = bytes[i] << 16;
    out += alphabet[v >> 18] + alphabet[(v >> 12) & 63] + (pad ? "==" : "");
  } else if (n - i === 2) {
    const v = (bytes[i] << 16) | (bytes[i + 1] << 8);
    out += alphabet[v >> 18] + alphabet[(v >> 12) & 63] + alphabet[(v >> 6) & 63] + (pad ? "=" : "");
  }
  return out;
}

function base64UrlEncode(bytes) {
  return base64EncodeWith(bytes, TypedArrayPrototypeGetLength(bytes), BASE64URL_ALPHABET, false);
}

// Unpadded base64url only (as in JWTs); null for any other character or an impossible length.
function base64UrlDecode(s) {
  if (typeof s !== "string") return null;
  const n = s.length;
  if (n % 4 === 1) return null;
  const out = new Uint8ArrayCtor(MathFloor((n * 3) / 4));
  reserveBuffer(out.length, out);
  let acc = 0, bits = 0, w = 0;
  for (let i = 0; i < n; i++) {
    const c = StringPrototypeCharCodeAt(s, i);
    // "+" and "/" share the value table but are not base64url
    if (c >= 128 || c === 0x2B || c === 0x2F) return null;
    const v = BASE64_VALUES[c];
    if (v === -1) return null;
    acc = ((acc << 6) | v) & 0xFFFFFF;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[w++] = (acc >> bits) & 0xFF;
    }
  }
  return out;
}

function atob(data) {
  if (arguments.length === 0) throw nodeError(TypeErrorCtor, 'The "input" argument must be specified', "ERR_MISSING_ARGS");
  const input = `${data}`;
  // the same checks, in the same order, as Node's atob: forgiving-base64 with ASCII whitespace
  let significant = 0;
  let equals = 0;
  for (let i = 0; i < input.length; i++) {
    const c = StringPrototypeCharCodeAt(input, i);
    if (c === 0x09 || c === 0x0A || c === 0x0C || c === 0x0D || c === 0x20) continue;
    if (c === 0x3D) {
      significant++;
      equals++;
    } else if (c < 128 && BASE64_VALUES[c] !== -1 && c !== 0x2D && c !== 0x5F) {
      significant++;
      if (equals) throw new DOMException("Invalid character", "InvalidCharacterError");
    } else {
      throw new DOMException("Invalid character", "InvalidCharacterError");
    }
    if (equals > 2) throw new DOMException("Invalid character", "InvalidCharacterError");
  }
  let remainder = significant % 4;
  if (remainder === 0 || equals) {
    // "=" only counts as padding when it completes a quantum
    const wasPadding = remainder === 0;
    remainder = (significant - equals) % 4;
    if (!wasPadding && remainder !== 1) throw new DOMException("Invalid character", "InvalidCharacterError");
  }
  if (remainder === 1) {
    throw new DOMException("The string to be decoded is not correctly encoded.", "InvalidCharacterError");
  }
  let out = "";
  let units = [];
  let acc = 0, bits = 0;
  for (let i = 0; i < input.length; i++) {
    const c = StringPrototypeCharCodeAt(input, i);
    const v = c < 128 ? BASE64_VALUES[c] : -1;
    if (v === -1) continue; // whitespace and "="
    acc = ((acc << 6) | v) & 0xFFFFFF;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      units[units.length] = (acc >> bits) & 0xFF;
      if (units.length >= UTF8_CHUNK) { out += ReflectApply(StringFromCharCode, undefined, units); units = []; }
    }
  }
  if (units.length > 0) out += ReflectApply(StringFromCharCode, undefined, units);
  return out;
}

function btoa(data) {
  if (arguments.length === 0) throw nodeError(TypeErrorCtor, 'The "input" argument must be specified', "ERR_MISSING_ARGS");
  const input = `${data}`;
  const n = input.length;
  const bytes = [];
  for (let i = 0; i < n; i++) {
    const c = StringPrototypeCharCodeAt(input, i);
    if (c > 0xFF) throw new DOMException("Invalid character", "InvalidCharacterError");
    bytes[i] = c;
  }
  return base64EncodeWith(bytes, n, BASE64_ALPHABET, true);
}

// ---- TextEncoder / TextDecoder -------------------------------------------------------------

// The bytes an ArrayBuffer, SharedArrayBuffer, typed array or DataView covers, as a Uint8Array
// view (no copy); undefined when `input` is none of those.
function viewBytes(input) {
  if (input === null || typeof input !== "object") return undefined;
  if (ArrayBufferIsView(input)) {
    if (TypedArrayPrototypeGetSymbolToStringTag(input) !== undefined) {
      return new Uint8ArrayCtor(TypedArrayPrototypeGetBuffer(input), TypedArrayPrototypeGetByteOffset(input),
        TypedArrayPrototypeGetByteLength(input));
    }
    return new Uint8ArrayCtor(DataViewPrototypeGetBuffer(input), DataViewPrototypeGetByteOffset(input),
      DataViewPrototypeGetByteLength(input));
  }
  try {
    ArrayBufferPrototypeGetByteLength(input);
    return new Uint8ArrayCtor(input);
  } catch (_) { /* not an ArrayBuffer */ }
  if (SharedArrayBufferPrototypeGetByteLength !== undefined) {
    try {
      SharedArrayBufferPrototypeGetByteLength(input);
      return new Uint8ArrayCtor(input);
    } catch (_) { /* not a SharedArrayBuffer */ }
  }
  return undefined;
}

class TextEncoder {
  get encoding() { return "utf-8"; }

  encode(input = "") {
    return utf8Encode(`${input}`);
  }

  encodeInto(source, destination) {
    const src = `${source}`;
    let isUint8 = false;
    try { isUint8 = TypedArrayPrototypeGetSymbolToStringTag(destination) === "Uint8Array"; } catch (_) { /* not a typed array */ }
    if (!isUint8) {
      throw nodeError(TypeErrorCtor, 'The "dest" argument must be an instance of Uint8Array. Received ' + describeReceived(destination), "ERR_INVALID_ARG_TYPE");
    }
    const done = utf8EncodeInto(src, destination, 0, TypedArrayPrototypeGetLength(destination));
    return { read: done[0], written: done[1] };
  }
}
ObjectDefineProperty(TextEncoder.prototype, SymbolToStringTag, { value: "TextEncoder", configurable: true });

const UTF8_LABELS = ["unicode-1-1-utf-8", "unicode11utf8", "unicode20utf8", "utf-8", "utf8", "x-unicode20utf8"];

class TextDecoder {
  #fatal;
  #ignoreBOM;
  #state = utf8NewState();
  #streaming = false;

  constructor(encoding = "utf-8", options = undefined) {
    const raw = `${encoding}`;
    // labels are matched after trimming ASCII whitespace, case-insensitively
    let a = 0, b = raw.length;
    const ws = (c) => c === 0x09 || c === 0x0A || c === 0x0C || c === 0x0D || c === 0x20;
    while (a < b && ws(StringPrototypeCharCodeAt(raw, a))) a++;
    while (b > a && ws(StringPrototypeCharCodeAt(raw, b - 1))) b--;
    const label = StringPrototypeToLowerCase(StringPrototypeSlice(raw, a, b));
    if (ArrayPrototypeIndexOf(UTF8_LABELS, label) === -1) {
      throw nodeError(RangeErrorCtor, 'The "' + raw + '" encoding is not supported', "ERR_ENCODING_NOT_SUPPORTED");
    }
    if (options !== undefined && options !== null && typeof options !== "object" && typeof options !== "function") {
      throw nodeError(TypeErrorCtor, 'The "options" argument must be of type object.', "ERR_INVALID_ARG_TYPE");
    }
    this.#fatal = options === undefined || options === null ? false : !!options.fatal;
    this.#ignoreBOM = options === undefined || options === null ? false : !!options.ignoreBOM;
  }

  get encoding() { return "utf-8"; }
  get fatal() { return this.#fatal; }
  get ignoreBOM() { return this.#ignoreBOM; }

  decode(input = undefined, options = undefined) {
    let bytes;
    if (input === undefined) {
      bytes = new Uint8ArrayCtor(0);
    } else {
      bytes = viewBytes(input);
      if (bytes === undefined) {
        throw nodeError(TypeErrorCtor, 'The "input" argument must be an instance of SharedArrayBuffer, ArrayBuffer or ArrayBufferView. Received ' + describeReceived(input), "ERR_INVALID_ARG_TYPE");
      }
    }
    const stream = options !== undefined && options !== null && !!options.stream;
    if (!this.#streaming) this.#state = utf8NewState();
    this.#streaming = stream;
    const text = utf8DecodeRun(bytes, 0, TypedArrayPrototypeGetLength(bytes), this.#state, this.#fatal, !stream, !this.#ignoreBOM);
    if (text === null) {
      this.#streaming = false;
      throw nodeError(TypeErrorCtor, "The encoded data was not valid for encoding utf-8", "ERR_ENCODING_INVALID_ENCODED_DATA");
    }
    return text;
  }
}
ObjectDefineProperty(TextDecoder.prototype, SymbolToStringTag, { value: "TextDecoder", configurable: true });

ObjectDefineProperty(globalThis, "TextEncoder", { value: TextEncoder, writable: true, configurable: true, enumerable: false });
ObjectDefineProperty(globalThis, "TextDecoder", { value: TextDecoder, writable: true, configurable: true, enumerable: false });
ObjectDefineProperty(globalThis, "atob", { value: atob, writable: true, configurable: true, enumerable: false });
ObjectDefineProperty(globalThis, "btoa", { value: btoa, writable: true, configurable: true, enumerable: false });
ObjectDefineProperty(globalThis, "DOMException", { value: DOMException, writable: true, configurable: true, enumerable: false });

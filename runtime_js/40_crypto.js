// SHA-256, HMAC-SHA256 and HS256 JWTs (redirect tokens) for the api code; the `crypto` global.

const SHA256_K = new Int32ArrayCtor([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

// FIPS 180-4 SHA-256 of a Uint8Array; returns the 32-byte digest.
function sha256(bytes) {
  const n = TypedArrayPrototypeGetLength(bytes);
  // message + 0x80 + zero padding + 64-bit big-endian bit length, in whole 64-byte blocks
  const total = MathFloor((n + 9 + 63) / 64) * 64;
  const m = new Uint8ArrayCtor(total);
  reserveBuffer(total, m);
  TypedArrayPrototypeSet(m, bytes);
  m[n] = 0x80;
  const bitsHigh = MathFloor(n / 0x20000000);
  const bitsLow = (n * 8) % 0x100000000;
  m[total - 8] = bitsHigh >>> 24; m[total - 7] = bitsHigh >>> 16; m[total - 6] = bitsHigh >>> 8; m[total - 5] = bitsHigh;
  m[total - 4] = bitsLow >>> 24; m[total - 3] = bitsLow >>> 16; m[total - 2] = bitsLow >>> 8; m[total - 1] = bitsLow;

  const w = new Int32ArrayCtor(64);
  let h0 = 0x6a09e667 | 0, h1 = 0xbb67ae85 | 0, h2 = 0x3c6ef372 | 0, h3 = 0xa54ff53a | 0;
  let h4 = 0x510e527f | 0, h5 = 0x9b05688c | 0, h6 = 0x1f83d9ab | 0, h7 = 0x5be0cd19 | 0;
  for (let off = 0; off < total; off += 64) {
    for (let t = 0; t < 16; t++) {
      const j = off + t * 4;
      w[t] = (m[j] << 24) | (m[j + 1] << 16) | (m[j + 2] << 8) | m[j + 3];
    }
    for (let t = 16; t < 64; t++) {
      const x = w[t - 15], y = w[t - 2];
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
      w[t] = (w[t - 16] + s0 + w[t - 7] + s1) | 0;
    }
    let a = h0, b = h1, c = h2, d = h3, e = h4, f = h5, g = h6, h = h7;
    for (let t = 0; t < 64; t++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const ch = (e & f) ^ (~e & g);
      const t1 = (h + S1 + ch + SHA256_K[t] + w[t]) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const maj = (a & b) ^ (a & c) ^ (b & c);
      const t2 = (S0 + maj) | 0;
      h = g; g = f; f = e; e = (d + t1) | 0;
      d = c; c = b; b = a; a = (t1 + t2) | 0;
    }
    h0 = (h0 + a) | 0; h1 = (h1 + b) | 0; h2 = (h2 + c) | 0; h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0; h5 = (h5 + f) | 0; h6 = (h6 + g) | 0; h7 = (h7 + h) | 0;
  }
  const out = new Uint8ArrayCtor(32);
  const hs = [h0, h1, h2, h3, h4, h5, h6, h7];
  for (let i = 0; i < 8; i++) {
    out[i * 4] = hs[i] >>> 24; out[i * 4 + 1] = hs[i] >>> 16; out[i * 4 + 2] = hs[i] >>> 8; out[i * 4 + 3] = hs[i];
  }
  return out;
}

// RFC 2104 HMAC with SHA-256 (64-byte blocks) over Uint8Arrays.
function hmacSha256(keyBytes, msgBytes) {
  let key = keyBytes;
  if (TypedArrayPrototypeGetLength(key) > 64) key = sha256(key);
  const keyLength = TypedArrayPrototypeGetLength(key);
  const msgLength = TypedArrayPrototypeGetLength(msgBytes);
  const inner = new Uint8ArrayCtor(64 + msgLength);
  const outer = new Uint8ArrayCtor(64 + 32);
  for (let i = 0; i < 64; i++) {
    const k = i < keyLength ? key[i] : 0;
    inner[i] = k ^ 0x36;
    outer[i] = k ^ 0x5c;
  }
  TypedArrayPrototypeSet(inner, msgBytes, 64);
  TypedArrayPrototypeSet(outer, sha256(inner), 64);
  return sha256(outer);
}

// Compares every character whatever the first difference, so the time taken does not tell an
// attacker how much of a forged signature was right.
function constantTimeEqual(a, b) {
  let diff = a.length ^ b.length;
  const n = MathMax(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = i < a.length ? StringPrototypeCharCodeAt(a, i) : 0;
    const y = i < b.length ? StringPrototypeCharCodeAt(b, i) : 0;
    diff |= x ^ y;
  }
  return diff === 0;
}

// ---- HS256 JWTs ----------------------------------------------------------------------------

const JWT_HS256_HEADER = base64UrlEncode(utf8Encode('{"alg":"HS256","typ":"JWT"}'));

function jwtSignHS256(claims, secret) {
  const signingInput = JWT_HS256_HEADER + "." + base64UrlEncode(utf8Encode(JSONStringify(claims)));
  return signingInput + "." + base64UrlEncode(hmacSha256(utf8Encode(`${secret}`), utf8Encode(signingInput)));
}

// A decoded JSON object segment, or null. Claims are read as own properties only, so nothing
// planted on Object.prototype can stand in for a missing one.
function jwtSegmentObject(segment) {
  const bytes = base64UrlDecode(segment);
  if (bytes === null) return null;
  let value;
  try { value = JSONParse(utf8Decode(bytes)); } catch (_) { return null; }
  if (value === null || typeof value !== "object" || ArrayIsArray(value)) return null;
  return value;
}

function jwtClaim(object, name) {
  return ObjectPrototypeHasOwnProperty(object, name) ? object[name] : undefined;
}

// expect: {issuer, state, sub}. Returns the payload, or the reason the token is refused (the
// reasons are the messages Auth0 puts after "The session token is invalid: ").
function jwtVerifyHS256(token, secret, expect) {
  if (typeof token !== "string") return "Malformed token";
  const dot1 = StringPrototypeIndexOf(token, ".");
  const dot2 = dot1 === -1 ? -1 : StringPrototypeIndexOf(token, ".", dot1 + 1);
  if (dot2 === -1 || StringPrototypeIndexOf(token, ".", dot2 + 1) !== -1) return "Malformed token";
  const headerPart = StringPrototypeSlice(token, 0, dot1);
  const payloadPart = StringPrototypeSlice(token, dot1 + 1, dot2);
  const signaturePart = StringPrototypeSlice(token, dot2 + 1);
  if (signaturePart === "") return "Malformed token";

  const header = jwtSegmentObject(headerPart);
  if (header === null || jwtClaim(header, "alg") !== "HS256") return "Malformed token";
  const payload = jwtSegmentObject(payloadPart);
  if (payload === null || base64UrlDecode(signaturePart) === null) return "Malformed token";

  const expected = base64UrlEncode(hmacSha256(utf8Encode(`${secret}`), utf8Encode(headerPart + "." + payloadPart)));
  if (!constantTimeEqual(expected, signaturePart)) return "Failed signature validation";

  // expiry first, as jsonwebtoken's verify() does before Auth0's own claim checks
  const exp = jwtClaim(payload, "exp");
  if (typeof exp === "number" && exp <= MathFloor(DateNow() / 1000)) return "Token has expired.";

  const iat = jwtClaim(payload, "iat");
  const sub = jwtClaim(payload, "sub");
  const iss = jwtClaim(payload, "iss");
  if (typeof iat !== "number" || typeof exp !== "number" || typeof sub !== "string" || typeof iss !== "string") {
    return "Missing or invalid standard claims";
  }
  if (typeof expect.issuer === "string" && iss !== expect.issuer) return "Missing or invalid standard claims";
  if (sub !== expect.sub) return "The sub claim does not match the user_id.";
  if (typeof expect.state === "string" && jwtClaim(payload, "state") !== expect.state) {
    return "State in the token does not match the /continue state.";
  }
  return payload;
}

// ---- crypto global -------------------------------------------------------------------------

// Random bytes come from the operating system's CSPRNG (os.urandom), through the synchronous
// host call (41_host_sync.js): a runtime-private pool of RANDOM_POOL_SIZE bytes, refilled by
// the host when it runs dry; larger requests go to the host directly. Bytes handed out are
// zeroed in the pool, so no later code of this isolate can find them there. Never Math.random.
const RANDOM_POOL_SIZE = 4096;
const TypedArrayPrototypeFill = uncurryThis(TypedArrayPrototype.fill);
let randomPool = null;
let randomPoolAt = RANDOM_POOL_SIZE;

function hostRandom(n) { return hostSync("random", "" + n); }

// Fills a Uint8Array with random bytes.
function randomFill(view) {
  const n = TypedArrayPrototypeGetLength(view);
  if (n > RANDOM_POOL_SIZE / 4) {
    const bytes = hostRandom(n);
    TypedArrayPrototypeSet(view, bytes);
    TypedArrayPrototypeFill(bytes, 0);
    return;
  }
  let done = 0;
  while (done < n) {
    if (randomPoolAt >= RANDOM_POOL_SIZE) {
      randomPool = hostRandom(RANDOM_POOL_SIZE);
      randomPoolAt = 0;
    }
    const k = MathMin(n - done, RANDOM_POOL_SIZE - randomPoolAt);
    const from = bytesSlice(randomPool, randomPoolAt, k);
    TypedArrayPrototypeSet(view, from, done);
    TypedArrayPrototypeFill(from, 0);
    randomPoolAt += k;
    done += k;
  }
}

const CRYPTO_INTERNAL = {};
const CRYPTO_RANDOM_MAX = 65536;

class Crypto {
  constructor(token) {
    if (token !== CRYPTO_INTERNAL) throw new TypeErrorCtor("Illegal constructor");
  }

  getRandomValues(array) {
    let tag;
    try { tag = TypedArrayPrototypeGetSymbolToStringTag(array); } catch (_) { tag = undefined; }
    if (tag === undefined || tag === "Float32Array" || tag === "Float64Array" || tag === "Float16Array") {
      throw new DOMException("The data argument must be an integer-type TypedArray", "TypeMismatchError");
    }
    const byteLength = TypedArrayPrototypeGetByteLength(array);
    if (byteLength > CRYPTO_RANDOM_MAX) {
      throw new DOMException("The requested length exceeds 65,536 bytes", "QuotaExceededError");
    }
    randomFill(new Uint8ArrayCtor(TypedArrayPrototypeGetBuffer(array), TypedArrayPrototypeGetByteOffset(array), byteLength));
    return array;
  }

  // RFC 4122 version 4, from the same source as getRandomValues
  randomUUID() {
    const b = new Uint8ArrayCtor(16);
    randomFill(b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const hex = "0123456789abcdef";
    let out = "";
    for (let i = 0; i < 16; i++) {
      if (i === 4 || i === 6 || i === 8 || i === 10) out += "-";
      out += hex[b[i] >> 4] + hex[b[i] & 15];
    }
    return out;
  }
}
ObjectDefineProperty(Crypto.prototype, SymbolToStringTag, { value: "Crypto", configurable: true });

ObjectDefineProperty(globalThis, "crypto", { value: new Crypto(CRYPTO_INTERNAL), writable: true, configurable: true, enumerable: false });

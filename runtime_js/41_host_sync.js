// Synchronous host calls: `hostSync(kind, payload)` hands bytes to a Python handler
// (sandbox/host_sync.py) and returns its answer as a Uint8Array, in the same JS call. The host
// runs the handler inside the call, on this isolate's own thread (sandbox/driver.py
// `install_sync`): no step, no event-loop hop. Used where the host does better than JS (the OS
// CSPRNG, hashes, RSA/EC, zlib), never for I/O (that is `hostCall`, 70_host.js, answered in a
// later step).
//
// Shared buffer layout: Int32 [0] op (JS) / status (host), [1] byte length of the chunk at byte
// 16, [2] 1 on the first chunk of a request (JS) / bytes of the answer still to come (host); the
// chunk from byte 16. No user code runs inside hostSync, so calls never nest; one cut short (the
// isolate terminated while the host worked) leaves nothing behind that the next call reads. A request is the kind
// (ASCII), a NUL, the payload; longer than the buffer it goes in several PUT chunks, and a long
// answer comes back in several MORE chunks. The host refuses requests over 16 MiB.

const SYNC_PUT = 1, SYNC_CALL = 2, SYNC_MORE = 3, SYNC_OK = 4, SYNC_ERROR = 5;
const SYNC_DATA_AT = 16;
const syncCall = globalThis.__actionhost_sync;
const syncBuffer = globalThis.__actionhost_syncbuf;
delete globalThis.__actionhost_sync;
delete globalThis.__actionhost_syncbuf;
const syncHeader = typeof syncCall === "function" ? new Int32ArrayCtor(syncBuffer, 0, 3) : null;
const syncData = syncHeader !== null ? new Uint8ArrayCtor(syncBuffer, SYNC_DATA_AT) : null;
const SYNC_ROOM = syncData !== null ? TypedArrayPrototypeGetLength(syncData) : 0;

// A Uint8Array over the bytes [at, at + length) of `bytes` (a Uint8Array), without the species
// lookup `subarray` does.
function bytesSlice(bytes, at, length) {
  return new Uint8ArrayCtor(TypedArrayPrototypeGetBuffer(bytes), TypedArrayPrototypeGetByteOffset(bytes) + at, length);
}

// payload: a string (sent as UTF-8), a Uint8Array, or an array of those: fields, each sent as
// its 4-byte little-endian length and its bytes (sandbox/host_sync.py `fields`). Returns a new
// Uint8Array (counted against the buffer budget); throws the host's error (Error / TypeError /
// RangeError, with `code`).
function hostSync(kind, payload) {
  if (syncHeader === null) throw new ErrorCtor("host call '" + kind + "' is not available here");
  const framed = ArrayIsArray(payload);
  const parts = [];
  if (framed) {
    for (let i = 0; i < payload.length; i++) {
      const v = typeof payload[i] === "string" ? utf8Encode(payload[i]) : payload[i];
      const n = TypedArrayPrototypeGetLength(v);
      const head = new Uint8ArrayCtor(4);
      head[0] = n & 0xFF; head[1] = (n >>> 8) & 0xFF; head[2] = (n >>> 16) & 0xFF; head[3] = n >>> 24;
      ArrayPrototypePush(parts, head, v);
    }
  } else {
    ArrayPrototypePush(parts, typeof payload === "string" ? utf8Encode(payload) : payload);
  }
  let at = 0;
  let first = 1;
  for (let i = 0; i < kind.length; i++) syncData[at++] = StringPrototypeCharCodeAt(kind, i) & 0x7F;
  syncData[at++] = 0;
  // the parts go out one after the other, in as many chunks as the buffer needs
  let part = 0, sent = 0;
  for (;;) {
    while (part < parts.length && at < SYNC_ROOM) {
      const data = parts[part];
      const n = MathMin(TypedArrayPrototypeGetLength(data) - sent, SYNC_ROOM - at);
      if (n > 0) TypedArrayPrototypeSet(syncData, sent === 0 && n === TypedArrayPrototypeGetLength(data) ? data : bytesSlice(data, sent, n), at);
      at += n;
      sent += n;
      if (sent >= TypedArrayPrototypeGetLength(data)) { part++; sent = 0; }
    }
    const last = part >= parts.length;
    syncHeader[1] = at;
    syncHeader[2] = first; // a new request: whatever an interrupted one left on the host is dropped
    syncHeader[0] = last ? SYNC_CALL : SYNC_PUT;
    first = 0;
    syncCall();
    if (syncHeader[0] !== SYNC_OK && syncHeader[0] !== SYNC_ERROR) {
      throw new ErrorCtor("host call '" + kind + "' got no answer");
    }
    if (last || syncHeader[0] === SYNC_ERROR) break;
    at = 0;
  }
  const status = syncHeader[0];
  const total = syncHeader[1] + syncHeader[2];
  const out = new Uint8ArrayCtor(total);
  reserveBuffer(total, out);
  let got = 0;
  for (;;) {
    const n = syncHeader[1];
    if (n > 0) TypedArrayPrototypeSet(out, bytesSlice(syncData, 0, n), got);
    got += n;
    if (syncHeader[2] === 0 || got >= total) break;
    syncHeader[0] = SYNC_MORE;
    syncHeader[1] = 0;
    syncCall();
  }
  if (status === SYNC_ERROR) throw hostSyncError(utf8Decode(out));
  return out;
}

function hostSyncError(text) {
  let info = null;
  try { info = JSONParse(text); } catch (_) { info = null; }
  if (info === null || typeof info !== "object") return new ErrorCtor("host call failed");
  const name = info.name;
  const Ctor = name === "TypeError" ? TypeErrorCtor : name === "RangeError" ? RangeErrorCtor : ErrorCtor;
  const err = new Ctor(StringCtor(info.message));
  if (typeof info.code === "string") err.code = info.code;
  return err;
}

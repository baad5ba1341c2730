// The buffer budget: ArrayBuffer memory lives outside the V8 heap, where the heap limit cannot
// see it, so every buffer made for user code (by the constructors 60_limits.js wraps, or by
// runtime helpers such as TextEncoder) is counted here and released when it is collected.
// Early in the load order because runtime files build small buffers while they load.

let BUFFER_BUDGET = 64 * 1024 * 1024;   // live bytes; the host may lower it at install
let bufferLive = 0;
const bufferRegistry = new FinalizationRegistry((bytes) => { bufferLive -= bytes; });
const FinalizationRegistryRegister = uncurryThis(FinalizationRegistry.prototype.register);

function reserveBuffer(bytes, holder) {
  if (!(bytes >= 0)) return;
  if (bytes > BUFFER_BUDGET - bufferLive) {
    throw new RangeErrorCtor("Array buffer allocation failed: " + bytes +
      " bytes would exceed this action's buffer memory limit of " + BUFFER_BUDGET + " bytes");
  }
  bufferLive += bytes;
  if (holder !== undefined) {
    try { FinalizationRegistryRegister(bufferRegistry, holder, bytes); } catch (_) { /* not an object */ }
  }
}


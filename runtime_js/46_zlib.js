// Node's `zlib` module: gzip / deflate / raw deflate / brotli, done by the host (Python's zlib
// and brotli) through the sync host call, with an output cap against decompression bombs. The
// implementation is runtime_js/lazy/node_zlib.js, compiled on first require (44_node_crypto.js
// lazyRuntime); it shares node:crypto's byte helpers.

let zlibLoaded = null;
function zlibImpl() {
  if (zlibLoaded === null) {
    zlibLoaded = lazyRuntime("node_zlib", {
      ArrayPrototypePush, ErrorCtor, Int32ArrayCtor, ObjectDefineProperty, ObjectFreeze, ObjectKeys, ObjectSetPrototypeOf, RangeErrorCtor,
      ReflectApply, StringCtor, StringPrototypeSlice, StringPrototypeStartsWith, StringPrototypeToLowerCase, TypedArrayPrototypeGetLength, hostSync, nodeError, requireBuiltin, utf8Encode, viewBytes,
      crypto: cryptoImpl().shared,
    });
  }
  return zlibLoaded;
}

if (typeof registerBuiltin === "function") registerBuiltin("zlib", () => zlibImpl().module());

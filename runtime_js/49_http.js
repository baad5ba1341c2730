// Node's `http` and `https` client modules on top of the host's fetch. The implementation is
// runtime_js/lazy/http.js, compiled on the first require (with lazy/fetch.js, whose internals it
// uses), as 48_fetch.js does for fetch.

let httpLoaded = null;
function httpImpl() {
  if (httpLoaded === null) {
    const { AbortController, EMPTY_BYTES, base64Decode, base64Encode, concatBytes, copyBytes, hostFetch, isAbortSignal, isHttpToken, isObjectLike, ownValue, reportListenerError, signalAborted, signalAddAlgorithm, signalReason } = fetchImpl();
    httpLoaded = lazyRuntime("http", {
    AbortController, ArrayIsArray, ArrayPrototypeIndexOf, ArrayPrototypePush, ArrayPrototypeSlice,
    EMPTY_BYTES, ErrorCtor, NumberCtor, NumberIsInteger, ObjectCreate, ObjectDefineProperty, ObjectFreeze,
    ObjectKeys, ObjectPrototypeHasOwnProperty, PromisePrototypeThen, PromiseResolve, RangeErrorCtor,
    ReflectApply, SafeMap, StringCtor, StringPrototypeCharCodeAt, StringPrototypeIndexOf,
    StringPrototypeSlice, StringPrototypeToLowerCase, StringPrototypeToUpperCase, TypeErrorCtor,
    TypedArrayPrototypeGetBuffer, TypedArrayPrototypeGetByteLength, TypedArrayPrototypeGetByteOffset,
    TypedArrayPrototypeGetLength, activeExecution, addTimer, base64Decode, base64Encode, clearTimer,
    concatBytes, copyBytes, describeReceived, hostFetch, isAbortSignal, isHttpToken, isObjectLike,
    isPlainObject, nodeError, ownValue, reportListenerError, requireBuiltin, runAs, setOwn, signalAborted,
    signalAddAlgorithm, signalReason, urlInvalidError, urlParseRecord, urlPercentDecodeBytes,
    urlSerializePath, utf8Decode, utf8Encode, viewBytes
    });
  }
  return httpLoaded;
}

registerBuiltin("http", () => httpImpl().makeHttpModule("http:"));
registerBuiltin("https", () => httpImpl().makeHttpModule("https:"));
registerBuiltin("_http_agent", () => ({ Agent: httpImpl().httpClasses().Agent, globalAgent: httpImpl().httpClasses().httpGlobalAgent }));
registerBuiltin("_http_client", () => ({ ClientRequest: httpImpl().httpClasses().ClientRequest }));
registerBuiltin("_http_incoming", () => ({ IncomingMessage: httpImpl().httpClasses().IncomingMessage }));

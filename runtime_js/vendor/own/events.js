// Node's `events`: npm's events package (internal/events_npm) with what Node 22 has that the
// package lacks: events.on (an async iterator of emits), once with an AbortSignal, errorMonitor,
// getEventListeners, setMaxListeners / getMaxListeners, addAbortListener.
// actionhost's own code, run as library code.
"use strict";

const EventEmitter = require("internal/events_npm");
const npmOnce = EventEmitter.once;
const AsyncIteratorPrototype = Object.getPrototypeOf(Object.getPrototypeOf(async function* () {}).prototype);

function abortError(signal) {
  const err = new Error("The operation was aborted", { cause: signal.reason });
  err.name = "AbortError";
  err.code = "ABORT_ERR";
  return err;
}

function once(emitter, name, options) {
  const signal = options !== null && typeof options === "object" ? options.signal : undefined;
  if (signal === undefined) return npmOnce(emitter, name);
  if (signal.aborted) return Promise.reject(abortError(signal));
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      emitter.removeListener(name, onEvent);
      emitter.removeListener("error", onError);
      reject(abortError(signal));
    };
    const onEvent = (...args) => {
      emitter.removeListener("error", onError);
      signal.removeEventListener("abort", onAbort);
      resolve(args);
    };
    const onError = (err) => {
      emitter.removeListener(name, onEvent);
      signal.removeEventListener("abort", onAbort);
      reject(err);
    };
    emitter.once(name, onEvent);
    if (name !== "error") emitter.once("error", onError);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

function on(emitter, event, options = {}) {
  const signal = options.signal;
  if (signal !== undefined && signal.aborted) throw abortError(signal);
  const unconsumedEvents = [];
  const unconsumedPromises = [];
  const closeEvents = Array.isArray(options.close) ? options.close : [];
  let error = null;
  let finished = false;

  const iterator = Object.setPrototypeOf({
    next() {
      if (unconsumedEvents.length > 0) return Promise.resolve({ value: unconsumedEvents.shift(), done: false });
      if (error !== null) {
        const p = Promise.reject(error);
        error = null;
        return p;
      }
      if (finished) return Promise.resolve({ value: undefined, done: true });
      return new Promise((resolve, reject) => unconsumedPromises.push({ resolve, reject }));
    },
    return() {
      cleanup();
      finished = true;
      for (const p of unconsumedPromises.splice(0)) p.resolve({ value: undefined, done: true });
      return Promise.resolve({ value: undefined, done: true });
    },
    throw(err) {
      if (!(err instanceof Error)) {
        const e = new TypeError('The "EventEmitter.AsyncIterator" property must be an instance of Error');
        e.code = "ERR_INVALID_ARG_TYPE";
        throw e;
      }
      error = err;
      cleanup();
    },
    [Symbol.asyncIterator]() { return this; },
  }, AsyncIteratorPrototype);

  function eventHandler(...args) {
    if (unconsumedPromises.length > 0) unconsumedPromises.shift().resolve({ value: args, done: false });
    else unconsumedEvents.push(args);
  }
  function errorHandler(err) {
    finished = true;
    if (unconsumedPromises.length > 0) unconsumedPromises.shift().reject(err);
    else error = err;
    iterator.return();
  }
  function closeHandler() {
    cleanup();
    finished = true;
    for (const p of unconsumedPromises.splice(0)) p.resolve({ value: undefined, done: true });
  }
  function abortListener() { errorHandler(abortError(signal)); }
  function cleanup() {
    emitter.removeListener(event, eventHandler);
    emitter.removeListener("error", errorHandler);
    for (const name of closeEvents) emitter.removeListener(name, closeHandler);
    if (signal !== undefined) signal.removeEventListener("abort", abortListener);
  }

  emitter.on(event, eventHandler);
  if (event !== "error") emitter.on("error", errorHandler);
  for (const name of closeEvents) emitter.on(name, closeHandler);
  if (signal !== undefined) signal.addEventListener("abort", abortListener, { once: true });
  return iterator;
}

function getEventListeners(emitterOrTarget, type) {
  if (typeof emitterOrTarget.listeners === "function") return emitterOrTarget.listeners(type);
  return [];
}

function setMaxListeners(n = EventEmitter.defaultMaxListeners, ...targets) {
  if (targets.length === 0) EventEmitter.defaultMaxListeners = n;
  for (const target of targets) if (typeof target.setMaxListeners === "function") target.setMaxListeners(n);
}

function getMaxListeners(emitter) {
  return typeof emitter.getMaxListeners === "function" ? emitter.getMaxListeners() : EventEmitter.defaultMaxListeners;
}

function addAbortListener(signal, listener) {
  if (signal.aborted) {
    queueMicrotask(() => listener());
  } else {
    signal.addEventListener("abort", listener, { once: true });
  }
  return { [Symbol.dispose || Symbol.for("nodejs.dispose")]() { signal.removeEventListener("abort", listener); } };
}

// 'error' reaches the errorMonitor listeners first, as in Node
const errorMonitor = Symbol("events.errorMonitor");
const emit = EventEmitter.prototype.emit;
Object.defineProperty(EventEmitter.prototype, "emit", {
  value: function emit_(type) {
    if (type === "error" && this._events !== undefined && this._events[errorMonitor] !== undefined) {
      const args = [...arguments];
      args[0] = errorMonitor;
      Reflect.apply(emit, this, args);
    }
    return Reflect.apply(emit, this, arguments);
  },
  writable: true, configurable: true, enumerable: false,
});
Object.defineProperty(EventEmitter.prototype.emit, "name", { value: "emit" });

EventEmitter.once = once;
EventEmitter.on = on;
EventEmitter.errorMonitor = errorMonitor;
EventEmitter.captureRejectionSymbol = Symbol.for("nodejs.rejection");
EventEmitter.getEventListeners = getEventListeners;
EventEmitter.setMaxListeners = setMaxListeners;
EventEmitter.getMaxListeners = getMaxListeners;
EventEmitter.addAbortListener = addAbortListener;

module.exports = EventEmitter;

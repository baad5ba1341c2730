// Node's `timers` and `timers/promises` for actions, over the runtime's timers (each belongs to
// the execution that set it and dies with it). actionhost's own code, run as library code.
"use strict";

const { setTimeout, clearTimeout, setInterval, clearInterval, setImmediate, clearImmediate } = require("internal/runtime");

function abortError(signal) {
  const err = new Error("The operation was aborted", { cause: signal.reason });
  err.name = "AbortError";
  err.code = "ABORT_ERR";
  return err;
}

function validateSignal(options) {
  if (options === undefined || options === null) return undefined;
  if (typeof options !== "object") {
    const err = new TypeError(`The "options" argument must be of type object. Received type ${typeof options}`);
    err.code = "ERR_INVALID_ARG_TYPE";
    throw err;
  }
  const signal = options.signal;
  if (signal !== undefined && (signal === null || typeof signal !== "object" || !("aborted" in signal))) {
    const err = new TypeError('The "options.signal" property must be an instance of AbortSignal');
    err.code = "ERR_INVALID_ARG_TYPE";
    throw err;
  }
  return signal;
}

// a promise settled by a timer, or rejected when `signal` aborts
function later(schedule, cancel, value, options) {
  let signal;
  try { signal = validateSignal(options); } catch (err) { return Promise.reject(err); }
  if (signal !== undefined && signal.aborted) return Promise.reject(abortError(signal));
  return new Promise((resolve, reject) => {
    let onAbort;
    const id = schedule(() => {
      if (onAbort !== undefined) signal.removeEventListener("abort", onAbort);
      resolve(value);
    });
    if (signal !== undefined) {
      onAbort = () => { cancel(id); reject(abortError(signal)); };
      signal.addEventListener("abort", onAbort, { once: true });
    }
  });
}

const promises = {
  setTimeout: (delay, value, options) => later((fn) => setTimeout(fn, delay), clearTimeout, value, options),
  setImmediate: (value, options) => later((fn) => setImmediate(fn), clearImmediate, value, options),
  // an async iterator that yields `value` every `delay` ms until the loop leaves it
  setInterval(delay, value, options) {
    const signal = validateSignal(options);
    let id = null;
    let ticks = 0;
    let waiting = null;
    let done = false;
    const stop = () => { done = true; if (id !== null) clearInterval(id); id = null; };
    const onAbort = () => {
      stop();
      if (waiting !== null) { const w = waiting; waiting = null; w.reject(abortError(signal)); }
    };
    if (signal !== undefined) signal.addEventListener("abort", onAbort, { once: true });
    return {
      next() {
        if (signal !== undefined && signal.aborted) { stop(); return Promise.reject(abortError(signal)); }
        if (done) return Promise.resolve({ value: undefined, done: true });
        if (id === null) {
          id = setInterval(() => {
            if (waiting !== null) { const w = waiting; waiting = null; w.resolve({ value, done: false }); } else ticks++;
          }, delay);
        }
        if (ticks > 0) { ticks--; return Promise.resolve({ value, done: false }); }
        return new Promise((resolve, reject) => { waiting = { resolve, reject }; });
      },
      return() {
        stop();
        if (signal !== undefined) signal.removeEventListener("abort", onAbort);
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]() { return this; },
    };
  },
  scheduler: {
    wait: (delay, options) => later((fn) => setTimeout(fn, delay), clearTimeout, undefined, options),
    yield: () => later((fn) => setImmediate(fn), clearImmediate, undefined, undefined),
  },
};

module.exports = { setTimeout, clearTimeout, setInterval, clearInterval, setImmediate, clearImmediate, promises };

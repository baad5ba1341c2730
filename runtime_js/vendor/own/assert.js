// Node's `assert` (and assert.strict) for actions: ok, equal, strictEqual, deepEqual,
// deepStrictEqual and their negations, throws / doesNotThrow, rejects / doesNotReject, match,
// doesNotMatch, fail, ifError, AssertionError with Node's fields and code ERR_ASSERTION.
// actionhost's own code (npm's assert 2.x pulls in a dozen polyfills), run as library code.
"use strict";

const { inspect, isDeepStrictEqual } = require("util");
const { isDeepEqual } = require("internal/deep_equal");

const kReadableOperator = {
  deepStrictEqual: "Expected values to be strictly deep-equal:",
  strictEqual: "Expected values to be strictly equal:",
  strictEqualObject: 'Expected "actual" to be reference-equal to "expected":',
  deepEqual: "Expected values to be loosely deep-equal:",
  notDeepStrictEqual: 'Expected "actual" not to be strictly deep-equal to:',
  notStrictEqual: 'Expected "actual" to be strictly unequal to:',
  notStrictEqualObject: 'Expected "actual" not to be reference-equal to "expected":',
  notDeepEqual: 'Expected "actual" not to be loosely deep-equal to:',
  notIdentical: "Values identical but not reference-equal:",
  notDeepEqualUnequal: "Expected values not to be loosely deep-equal:",
};

function show(value) {
  return inspect(value, { compact: false, customInspect: false, depth: 1000, maxArrayLength: Infinity, sorted: true, getters: true });
}

function diffMessage(operator, actual, expected) {
  const header = kReadableOperator[operator];
  const a = show(actual).split("\n");
  const e = show(expected).split("\n");
  if (operator === "strictEqual" && a.length === 1 && e.length === 1 && (typeof actual !== "object" || actual === null) &&
      (typeof expected !== "object" || expected === null)) {
    return `${header}\n\n${a[0]} !== ${e[0]}\n`;
  }
  // a line diff of the two inspections: common lines kept, others marked + actual / - expected
  const out = [];
  const n = a.length, m = e.length;
  const lcs = [];
  for (let i = 0; i <= n; i++) lcs.push(new Array(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) lcs[i][j] = a[i] === e[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  }
  let i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === e[j]) { out.push(`  ${a[i]}`); i++; j++; }
    else if (i < n && (j >= m || lcs[i + 1][j] >= lcs[i][j + 1])) { out.push(`+ ${a[i]}`); i++; }
    else { out.push(`- ${e[j]}`); j++; }
  }
  return `${header}\n+ actual - expected\n\n${out.join("\n")}\n`;
}

class AssertionError extends Error {
  constructor(options) {
    if (options === null || typeof options !== "object") {
      const err = new TypeError('The "options" argument must be of type object. Received ' + inspect(options));
      err.code = "ERR_INVALID_ARG_TYPE";
      throw err;
    }
    const { message, operator, stackStartFn, details } = options;
    let { actual, expected } = options;
    let text;
    if (message != null) {
      text = String(message);
    } else if (operator === "deepStrictEqual" || operator === "strictEqual") {
      text = diffMessage(operator, actual, expected);
    } else if (operator === "notDeepStrictEqual" || operator === "notStrictEqual" || operator === "notDeepEqual") {
      let base = kReadableOperator[operator];
      if (operator === "notStrictEqual" && typeof actual === "object" && actual !== null) base = kReadableOperator.notStrictEqualObject;
      const shown = show(actual).split("\n");
      text = `${base}${shown.length > 1 ? "\n\n" : " "}${shown.join("\n")}\n`;
      if (shown.length === 1) text = `${base}\n\n${shown[0]}\n`;
    } else {
      let a = inspect(actual), e = inspect(expected);
      if (a.length > 512) a = `${a.slice(0, 509)}...`;
      if (e.length > 512) e = `${e.slice(0, 509)}...`;
      if (operator === "deepEqual") text = `${kReadableOperator.deepEqual}\n\n${a}\n\nshould loosely deep-equal\n\n${e}`;
      else text = `${a} ${operator} ${e}`;
    }
    super(text);
    this.generatedMessage = message == null;
    Object.defineProperty(this, "name", { value: "AssertionError [ERR_ASSERTION]", enumerable: false, writable: true, configurable: true });
    this.code = "ERR_ASSERTION";
    if (details) {
      this.actual = undefined; this.expected = undefined; this.operator = undefined;
      for (let i = 0; i < details.length; i++) this["message " + i] = details[i].message;
    } else {
      this.actual = actual;
      this.expected = expected;
      this.operator = operator;
    }
    if (typeof Error.captureStackTrace === "function") Error.captureStackTrace(this, stackStartFn || this.constructor);
    // the stack's first line was written with the name Node keeps only there
    void this.stack;
    this.name = "AssertionError";
  }
  toString() { return `${this.name} [${this.code}]: ${this.message}`; }
  [inspect.custom](recurseTimes, ctx) { return inspect(this, { ...ctx, customInspect: false, depth: 0 }); }
}

function innerFail(obj) {
  if (obj.message instanceof Error) throw obj.message;
  throw new AssertionError(obj);
}

function innerOk(fn, argLen, value, message) {
  if (!value) {
    let generatedMessage = false;
    if (argLen === 0) {
      generatedMessage = true;
      message = "No value argument passed to `assert.ok()`";
    } else if (message == null) {
      generatedMessage = true;
      message = "The expression evaluated to a falsy value:\n\n  assert.ok(" + inspect(value) + ")\n";
    } else if (message instanceof Error) {
      throw message;
    }
    const err = new AssertionError({ actual: value, expected: true, message, operator: "==", stackStartFn: fn });
    err.generatedMessage = generatedMessage;
    throw err;
  }
}

function ok(...args) { innerOk(ok, args.length, ...args); }

function invalidArg(name, expected, actual) {
  const err = new TypeError(`The "${name}" argument must be ${expected}. Received ${inspect(actual)}`);
  err.code = "ERR_INVALID_ARG_TYPE";
  return err;
}

function missingArgs(...names) {
  const err = new TypeError(`The ${names.map((n) => `"${n}"`).join(" and ")} arguments must be specified`);
  err.code = "ERR_MISSING_ARGS";
  return err;
}

const assert = function assert(...args) { innerOk(assert, args.length, ...args); };
assert.ok = ok;
assert.AssertionError = AssertionError;

assert.fail = function fail(actual, expected, message, operator, stackStartFn) {
  const argsLen = arguments.length;
  let internalMessage = false;
  if (argsLen === 0) {
    internalMessage = "Failed";
  } else if (argsLen === 1) {
    message = actual;
    actual = undefined;
  } else if (argsLen === 2) {
    operator = "!=";
  }
  if (message instanceof Error) throw message;
  const errArgs = { actual, expected, operator: operator === undefined ? "fail" : operator, stackStartFn: stackStartFn || fail, message: internalMessage || message };
  const err = new AssertionError(errArgs);
  if (internalMessage) err.generatedMessage = true;
  throw err;
};

assert.equal = function equal(actual, expected, message) {
  if (arguments.length < 2) throw missingArgs("actual", "expected");
  // eslint-disable-next-line eqeqeq
  if (actual != expected && (!Number.isNaN(actual) || !Number.isNaN(expected))) {
    innerFail({ actual, expected, message, operator: "==", stackStartFn: equal });
  }
};
assert.notEqual = function notEqual(actual, expected, message) {
  if (arguments.length < 2) throw missingArgs("actual", "expected");
  // eslint-disable-next-line eqeqeq
  if (actual == expected || (Number.isNaN(actual) && Number.isNaN(expected))) {
    innerFail({ actual, expected, message, operator: "!=", stackStartFn: notEqual });
  }
};
assert.strictEqual = function strictEqual(actual, expected, message) {
  if (arguments.length < 2) throw missingArgs("actual", "expected");
  if (!Object.is(actual, expected)) innerFail({ actual, expected, message, operator: "strictEqual", stackStartFn: strictEqual });
};
assert.notStrictEqual = function notStrictEqual(actual, expected, message) {
  if (arguments.length < 2) throw missingArgs("actual", "expected");
  if (Object.is(actual, expected)) innerFail({ actual, expected, message, operator: "notStrictEqual", stackStartFn: notStrictEqual });
};
assert.deepEqual = function deepEqual(actual, expected, message) {
  if (arguments.length < 2) throw missingArgs("actual", "expected");
  if (!isDeepEqual(actual, expected, false)) innerFail({ actual, expected, message, operator: "deepEqual", stackStartFn: deepEqual });
};
assert.notDeepEqual = function notDeepEqual(actual, expected, message) {
  if (arguments.length < 2) throw missingArgs("actual", "expected");
  if (isDeepEqual(actual, expected, false)) innerFail({ actual, expected, message, operator: "notDeepEqual", stackStartFn: notDeepEqual });
};
assert.deepStrictEqual = function deepStrictEqual(actual, expected, message) {
  if (arguments.length < 2) throw missingArgs("actual", "expected");
  if (!isDeepStrictEqual(actual, expected)) innerFail({ actual, expected, message, operator: "deepStrictEqual", stackStartFn: deepStrictEqual });
};
assert.notDeepStrictEqual = function notDeepStrictEqual(actual, expected, message) {
  if (arguments.length < 2) throw missingArgs("actual", "expected");
  if (isDeepStrictEqual(actual, expected)) innerFail({ actual, expected, message, operator: "notDeepStrictEqual", stackStartFn: notDeepStrictEqual });
};

class Comparison {
  constructor(obj, keys, actual) {
    for (const key of keys) {
      if (key in obj) {
        if (actual !== undefined && typeof actual[key] === "string" && obj[key] instanceof RegExp && obj[key].exec(actual[key]) !== null) {
          this[key] = actual[key];
        } else {
          this[key] = obj[key];
        }
      }
    }
  }
}

function expectedException(actual, expected, message, fn) {
  let generatedMessage = false;
  let throwError = false;
  if (typeof expected !== "function") {
    if (expected instanceof RegExp) {
      const str = String(actual);
      if (expected.exec(str) !== null) return;
      if (!message) {
        generatedMessage = true;
        message = `The input did not match the regular expression ${inspect(expected)}. Input:\n\n${inspect(str)}\n`;
      }
      throwError = true;
    } else if (typeof actual !== "object" || actual === null) {
      const err = new AssertionError({ actual, expected, message, operator: "deepStrictEqual", stackStartFn: fn });
      err.operator = fn.name;
      throw err;
    } else {
      const keys = Object.keys(expected);
      if (expected instanceof Error) keys.push("name", "message");
      else if (keys.length === 0) throw invalidArg("error", "may not be an empty object", expected);
      for (const key of keys) {
        if (typeof actual[key] === "string" && expected[key] instanceof RegExp && expected[key].exec(actual[key]) !== null) continue;
        if (!(key in actual) || !isDeepStrictEqual(actual[key], expected[key])) {
          if (!message) {
            const a = new Comparison(actual, keys);
            const b = new Comparison(expected, keys, actual);
            const err = new AssertionError({ actual: a, expected: b, operator: "deepStrictEqual", stackStartFn: fn });
            err.actual = actual;
            err.expected = expected;
            err.operator = fn.name;
            throw err;
          }
          innerFail({ actual, expected, message, operator: fn.name, stackStartFn: fn });
        }
      }
      return;
    }
  } else if (expected.prototype !== undefined && actual instanceof expected) {
    return;
  } else if (Error.isPrototypeOf(expected)) {
    if (!message) {
      generatedMessage = true;
      message = "The error is expected to be an instance of " +
        `"${expected.name}". Received ` +
        (actual && actual.constructor && actual.constructor.name ? `"${actual.constructor.name}"` : `"${inspect(actual, { depth: -1 })}"`);
      if (actual && actual.message !== undefined) message += `\n\nError message:\n\n${actual.message}`;
    }
    throwError = true;
  } else {
    const res = Reflect.apply(expected, {}, [actual]);
    if (res !== true) {
      if (!message) {
        generatedMessage = true;
        const name = expected.name ? `"${expected.name}" ` : "";
        message = `The ${name}validation function is expected to return "true". Received ${inspect(res)}`;
        if (actual instanceof Error) message += `\n\nCaught error:\n\n${actual}`;
      }
      throwError = true;
    }
  }
  if (throwError) {
    const err = new AssertionError({ actual, expected, message, operator: fn.name, stackStartFn: fn });
    err.generatedMessage = generatedMessage;
    throw err;
  }
}

const NO_EXCEPTION = {};

function getActual(fn) {
  if (typeof fn !== "function") throw invalidArg("fn", "of type function", fn);
  try { fn(); } catch (e) { return e; }
  return NO_EXCEPTION;
}

async function waitForActual(promiseFn) {
  let resultPromise;
  if (typeof promiseFn === "function") {
    resultPromise = promiseFn();
    if (resultPromise === null || typeof resultPromise !== "object" || typeof resultPromise.then !== "function") {
      const err = new TypeError(`Expected instance of Promise to be returned from the "promiseFn" function but got ${inspect(resultPromise)}.`);
      err.code = "ERR_INVALID_RETURN_VALUE";
      throw err;
    }
  } else if (promiseFn !== null && typeof promiseFn === "object" && typeof promiseFn.then === "function") {
    resultPromise = promiseFn;
  } else {
    throw invalidArg("promiseFn", "of type function or an instance of Promise", promiseFn);
  }
  try { await resultPromise; } catch (e) { return e; }
  return NO_EXCEPTION;
}

function expectsError(stackStartFn, actual, error, message) {
  if (typeof error === "string") {
    if (arguments.length === 4) throw invalidArg("error", "of type function, RegExp or Object", error);
    message = error;
    error = undefined;
  } else if (error != null && typeof error !== "object" && typeof error !== "function") {
    throw invalidArg("error", "of type function, RegExp or Object", error);
  }
  if (actual === NO_EXCEPTION) {
    let details = "";
    if (error && error.name) details += ` (${error.name})`;
    details += message ? `: ${message}` : ".";
    const fnType = stackStartFn === assert.rejects ? "rejection" : "exception";
    innerFail({ actual: undefined, expected: error, operator: stackStartFn.name, message: `Missing expected ${fnType}${details}`, stackStartFn });
  }
  if (error && !expectedException(actual, error, message, stackStartFn)) { /* matched */ }
}

function expectsNoError(stackStartFn, actual, error, message) {
  if (actual === NO_EXCEPTION) return;
  if (typeof error === "string") { message = error; error = undefined; }
  if (!error || (typeof error === "function" && error.prototype !== undefined && actual instanceof error)) {
    const details = message ? `: ${message}` : ".";
    const fnType = stackStartFn === assert.doesNotReject ? "rejection" : "exception";
    innerFail({ actual, expected: error, operator: stackStartFn.name,
      message: `Got unwanted ${fnType}${details}\nActual message: "${actual && actual.message}"`, stackStartFn });
  }
  throw actual;
}

assert.throws = function throws(promiseFn, ...args) { expectsError(throws, getActual(promiseFn), ...args); };
assert.rejects = async function rejects(promiseFn, ...args) { expectsError(rejects, await waitForActual(promiseFn), ...args); };
assert.doesNotThrow = function doesNotThrow(fn, ...args) { expectsNoError(doesNotThrow, getActual(fn), ...args); };
assert.doesNotReject = async function doesNotReject(fn, ...args) { expectsNoError(doesNotReject, await waitForActual(fn), ...args); };

assert.ifError = function ifError(err) {
  if (err !== null && err !== undefined) {
    let message = "ifError got unwanted exception: ";
    message += typeof err === "object" && typeof err.message === "string"
      ? (err.message.length === 0 && err.constructor ? err.constructor.name : err.message) : inspect(err);
    const newErr = new AssertionError({ actual: err, expected: null, operator: "ifError", message, stackStartFn: ifError });
    throw newErr;
  }
};

function internalMatch(string, regexp, message, fn) {
  if (!(regexp instanceof RegExp)) throw invalidArg("regexp", "an instance of RegExp", regexp);
  const match = fn === assert.match;
  if (typeof string !== "string" || (regexp.exec(string) !== null) !== match) {
    if (message instanceof Error) throw message;
    const generatedMessage = !message;
    message = message || (typeof string !== "string"
      ? `The "string" argument must be of type string. Received type ${typeof string} (${inspect(string)})`
      : (match ? "The input did not match the regular expression " : "The input was expected to not match the regular expression ") +
        `${inspect(regexp)}. Input:\n\n${inspect(string)}\n`);
    const err = new AssertionError({ actual: string, expected: regexp, message, operator: fn.name, stackStartFn: fn });
    err.generatedMessage = generatedMessage;
    throw err;
  }
}
assert.match = function match(string, regexp, message) { internalMatch(string, regexp, message, match); };
assert.doesNotMatch = function doesNotMatch(string, regexp, message) { internalMatch(string, regexp, message, doesNotMatch); };

function strict(...args) { innerOk(strict, args.length, ...args); }
Object.assign(strict, assert, {
  equal: assert.strictEqual,
  deepEqual: assert.deepStrictEqual,
  notEqual: assert.notStrictEqual,
  notDeepEqual: assert.notDeepStrictEqual,
});
assert.strict = strict;
assert.strict.strict = assert.strict;

module.exports = assert;

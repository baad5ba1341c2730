// Node's `diagnostics_channel` for actions: named channels that libraries publish to (lru-cache,
// ioredis, undici announce their work this way at load time) and code may subscribe to, with
// Node 22's Channel, TracingChannel and the module functions. Channels live as long as the
// isolate, as in Node they live as long as the process. AsyncLocalStorage stores are not bound
// (there is no async_hooks here): bindStore records nothing and runStores just runs.
// actionhost's own code, run as library code.
"use strict";

const process = require("process");

const channels = new Map();

function validateName(name) {
  if (typeof name !== "string" && typeof name !== "symbol") {
    const err = new TypeError(`The "channel" argument must be one of type string or symbol. Received ${name === null ? "null" : typeof name}`);
    err.code = "ERR_INVALID_ARG_TYPE";
    throw err;
  }
}

function validateFunction(fn, what) {
  if (typeof fn !== "function") {
    const err = new TypeError(`The "${what}" argument must be of type function. Received ${fn === null ? "null" : typeof fn}`);
    err.code = "ERR_INVALID_ARG_TYPE";
    throw err;
  }
}

class Channel {
  constructor(name) {
    this.name = name;
    this._subscribers = [];
  }

  get hasSubscribers() {
    return this._subscribers.length > 0;
  }

  subscribe(subscription) {
    validateFunction(subscription, "subscription");
    this._subscribers = [...this._subscribers, subscription];
  }

  unsubscribe(subscription) {
    const index = this._subscribers.indexOf(subscription);
    if (index === -1) return false;
    this._subscribers = [...this._subscribers.slice(0, index), ...this._subscribers.slice(index + 1)];
    return true;
  }

  publish(data) {
    for (const subscriber of this._subscribers) {
      try {
        subscriber(data, this.name);
      } catch (err) {
        // as in Node: a throwing subscriber does not stop the publisher; the error surfaces later
        process.nextTick(() => { throw err; });
      }
    }
  }

  bindStore() {}

  unbindStore() {
    return false;
  }

  runStores(data, fn, thisArg, ...args) {
    this.publish(data);
    return Reflect.apply(fn, thisArg, args);
  }
}

function channel(name) {
  validateName(name);
  let found = channels.get(name);
  if (found === undefined) {
    found = new Channel(name);
    channels.set(name, found);
  }
  return found;
}

function hasSubscribers(name) {
  validateName(name);
  const found = channels.get(name);
  return found !== undefined && found.hasSubscribers;
}

function subscribe(name, subscription) {
  channel(name).subscribe(subscription);
}

function unsubscribe(name, subscription) {
  validateName(name);
  const found = channels.get(name);
  return found !== undefined && found.unsubscribe(subscription);
}

const TRACING_EVENTS = ["start", "end", "asyncStart", "asyncEnd", "error"];

class TracingChannel {
  constructor(nameOrChannels) {
    if (typeof nameOrChannels === "string") {
      for (const event of TRACING_EVENTS) this[event] = channel(`tracing:${nameOrChannels}:${event}`);
    } else if (nameOrChannels !== null && typeof nameOrChannels === "object") {
      for (const event of TRACING_EVENTS) {
        if (!(nameOrChannels[event] instanceof Channel)) {
          const err = new TypeError(`The "nameOrChannels.${event}" property must be an instance of Channel`);
          err.code = "ERR_INVALID_ARG_TYPE";
          throw err;
        }
        this[event] = nameOrChannels[event];
      }
    } else {
      const err = new TypeError('The "nameOrChannels" argument must be of type string or an instance of TracingChannel or Object');
      err.code = "ERR_INVALID_ARG_TYPE";
      throw err;
    }
  }

  get hasSubscribers() {
    return TRACING_EVENTS.some((event) => this[event].hasSubscribers);
  }

  subscribe(handlers) {
    for (const event of TRACING_EVENTS) if (handlers[event]) this[event].subscribe(handlers[event]);
  }

  unsubscribe(handlers) {
    let done = true;
    for (const event of TRACING_EVENTS) if (handlers[event] && !this[event].unsubscribe(handlers[event])) done = false;
    return done;
  }

  traceSync(fn, context = {}, thisArg, ...args) {
    if (!this.hasSubscribers) return Reflect.apply(fn, thisArg, args);
    this.start.publish(context);
    try {
      const result = Reflect.apply(fn, thisArg, args);
      context.result = result;
      return result;
    } catch (err) {
      context.error = err;
      this.error.publish(context);
      throw err;
    } finally {
      this.end.publish(context);
    }
  }

  tracePromise(fn, context = {}, thisArg, ...args) {
    if (!this.hasSubscribers) return Reflect.apply(fn, thisArg, args);
    const reject = (err) => {
      context.error = err;
      this.error.publish(context);
      this.asyncStart.publish(context);
      this.asyncEnd.publish(context);
      return Promise.reject(err);
    };
    const resolve = (result) => {
      context.result = result;
      this.asyncStart.publish(context);
      this.asyncEnd.publish(context);
      return result;
    };
    this.start.publish(context);
    try {
      let promise = Reflect.apply(fn, thisArg, args);
      if (!(promise instanceof Promise)) promise = Promise.resolve(promise);
      return promise.then(resolve, reject);
    } catch (err) {
      context.error = err;
      this.error.publish(context);
      throw err;
    } finally {
      this.end.publish(context);
    }
  }

  traceCallback(fn, position = -1, context = {}, thisArg, ...args) {
    if (!this.hasSubscribers) return Reflect.apply(fn, thisArg, args);
    const index = position < 0 ? args.length + position : position;
    const callback = args[index];
    validateFunction(callback, "callback");
    const channels = this;
    args[index] = function wrappedCallback(err, result) {
      if (err) {
        context.error = err;
        channels.error.publish(context);
      } else {
        context.result = result;
      }
      channels.asyncStart.publish(context);
      try {
        return Reflect.apply(callback, this, arguments);
      } finally {
        channels.asyncEnd.publish(context);
      }
    };
    this.start.publish(context);
    try {
      return Reflect.apply(fn, thisArg, args);
    } catch (err) {
      context.error = err;
      this.error.publish(context);
      throw err;
    } finally {
      this.end.publish(context);
    }
  }
}

function tracingChannel(nameOrChannels) {
  return new TracingChannel(nameOrChannels);
}

module.exports = { channel, hasSubscribers, subscribe, unsubscribe, tracingChannel, Channel };

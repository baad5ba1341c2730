// Node's `http` and `https` client modules on top of the host's fetch (48_fetch.js hostFetch):
// the same host call, the same egress policy, the same limits. A ClientRequest collects what
// is written and sends it whole at end(); its IncomingMessage is a stream.Readable holding
// the whole response. As in Node, redirects are not followed. The host decodes compressed
// bodies (gzip, deflate, br), so a response arrives decoded, without Content-Encoding (else a
// library would decompress it twice). Sockets are not real: `req.socket` is a stand-in with
// the methods libraries call on it (setKeepAlive, setNoDelay, setTimeout...).
//
// The classes are built on first require (the `events` and `stream` modules are vendored npm
// code, 42_node_builtins.js), once per isolate.

const {
  AbortController, ArrayIsArray, ArrayPrototypeIndexOf, ArrayPrototypePush, ArrayPrototypeSlice, EMPTY_BYTES, ErrorCtor, NumberCtor,
  NumberIsInteger, ObjectCreate, ObjectDefineProperty, ObjectFreeze, ObjectKeys, ObjectPrototypeHasOwnProperty, PromisePrototypeThen, PromiseResolve,
  RangeErrorCtor, ReflectApply, SafeMap, StringCtor, StringPrototypeCharCodeAt, StringPrototypeIndexOf, StringPrototypeSlice, StringPrototypeToLowerCase,
  StringPrototypeToUpperCase, TypeErrorCtor, TypedArrayPrototypeGetBuffer, TypedArrayPrototypeGetByteLength, TypedArrayPrototypeGetByteOffset, TypedArrayPrototypeGetLength, activeExecution, addTimer,
  base64Decode, base64Encode, clearTimer, concatBytes, copyBytes, describeReceived, hostFetch, isAbortSignal,
  isHttpToken, isObjectLike, isPlainObject, nodeError, ownValue, reportListenerError, requireBuiltin, runAs,
  setOwn, signalAborted, signalAddAlgorithm, signalReason, urlInvalidError, urlParseRecord, urlPercentDecodeBytes, urlSerializePath,
  utf8Decode, utf8Encode, viewBytes,
} = rt;

const HTTP_STATUS_CODES = {
  100: "Continue", 101: "Switching Protocols", 102: "Processing", 103: "Early Hints", 200: "OK", 201: "Created",
  202: "Accepted", 203: "Non-Authoritative Information", 204: "No Content", 205: "Reset Content",
  206: "Partial Content", 207: "Multi-Status", 208: "Already Reported", 226: "IM Used", 300: "Multiple Choices",
  301: "Moved Permanently", 302: "Found", 303: "See Other", 304: "Not Modified", 305: "Use Proxy",
  307: "Temporary Redirect", 308: "Permanent Redirect", 400: "Bad Request", 401: "Unauthorized",
  402: "Payment Required", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable",
  407: "Proxy Authentication Required", 408: "Request Timeout", 409: "Conflict", 410: "Gone",
  411: "Length Required", 412: "Precondition Failed", 413: "Payload Too Large", 414: "URI Too Long",
  415: "Unsupported Media Type", 416: "Range Not Satisfiable", 417: "Expectation Failed", 418: "I'm a Teapot",
  421: "Misdirected Request", 422: "Unprocessable Entity", 423: "Locked", 424: "Failed Dependency",
  425: "Too Early", 426: "Upgrade Required", 428: "Precondition Required", 429: "Too Many Requests",
  431: "Request Header Fields Too Large", 451: "Unavailable For Legal Reasons", 500: "Internal Server Error",
  501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout",
  505: "HTTP Version Not Supported", 506: "Variant Also Negotiates", 507: "Insufficient Storage",
  508: "Loop Detected", 509: "Bandwidth Limit Exceeded", 510: "Not Extended", 511: "Network Authentication Required",
};

const HTTP_METHODS = ["ACL", "BIND", "CHECKOUT", "CONNECT", "COPY", "DELETE", "GET", "HEAD", "LINK", "LOCK",
  "M-SEARCH", "MERGE", "MKACTIVITY", "MKCALENDAR", "MKCOL", "MOVE", "NOTIFY", "OPTIONS", "PATCH", "POST",
  "PROPFIND", "PROPPATCH", "PURGE", "PUT", "QUERY", "REBIND", "REPORT", "SEARCH", "SOURCE", "SUBSCRIBE", "TRACE",
  "UNBIND", "UNLINK", "UNLOCK", "UNSUBSCRIBE"];

// Response headers whose repeats Node drops (the first one wins); set-cookie is kept as an
// array, cookie joined with "; ", any other repeat joined with ", ".
const HTTP_SINGLE_HEADERS = ["age", "authorization", "content-length", "content-type", "etag", "expires", "from",
  "host", "if-modified-since", "if-unmodified-since", "last-modified", "location", "max-forwards",
  "proxy-authorization", "referer", "retry-after", "server", "user-agent"];

// Node's messages for the network failures the host reports (the rest keep the host's message)
function httpNetworkError(code, message, hostname, port) {
  let text = message;
  let syscall;
  if (code === "ENOTFOUND") { text = "getaddrinfo ENOTFOUND " + hostname; syscall = "getaddrinfo"; }
  else if (code === "ECONNREFUSED") { text = "connect ECONNREFUSED " + hostname + ":" + port; syscall = "connect"; }
  else if (code === "ECONNRESET") { text = "socket hang up"; }
  else if (code === "ETIMEDOUT") { text = "connect ETIMEDOUT " + hostname + ":" + port; syscall = "connect"; }
  const err = nodeError(ErrorCtor, text, code);
  if (syscall !== undefined) ObjectDefineProperty(err, "syscall", { value: syscall, writable: true, enumerable: true, configurable: true });
  if (code === "ENOTFOUND") ObjectDefineProperty(err, "hostname", { value: hostname, writable: true, enumerable: true, configurable: true });
  if (text !== message) ObjectDefineProperty(err, "reason", { value: message, writable: true, enumerable: false, configurable: true });
  return err;
}

function httpOwnString(options, key) {
  const v = options[key];
  return v === undefined || v === null ? undefined : StringCtor(v);
}

function httpValidateHeaderName(name) {
  if (typeof name !== "string" || !isHttpToken(name)) {
    throw nodeError(TypeErrorCtor, 'Header name must be a valid HTTP token ["' + StringCtor(name) + '"]', "ERR_INVALID_HTTP_TOKEN");
  }
}

function httpValidateHeaderValue(name, value) {
  if (value === undefined) {
    throw nodeError(TypeErrorCtor, 'Invalid value "undefined" for header "' + name + '"', "ERR_HTTP_INVALID_HEADER_VALUE");
  }
  const values = ArrayIsArray(value) ? value : [value];
  for (let i = 0; i < values.length; i++) {
    const s = StringCtor(values[i]);
    for (let k = 0; k < s.length; k++) {
      const c = StringPrototypeCharCodeAt(s, k);
      if ((c < 0x20 && c !== 0x09) || c === 0x7F || c > 0xFF) {
        throw nodeError(TypeErrorCtor, 'Invalid character in header content ["' + name + '"]', "ERR_INVALID_CHAR");
      }
    }
  }
}

// url (string or URL) and options as http.request takes them, merged into one options object
function httpRequestOptions(args) {
  let i = 0;
  let options = ObjectCreate(null);
  const first = args[0];
  if (typeof first === "string" || (isObjectLike(first) && !isPlainObject(first) && typeof first.href === "string" && typeof first.protocol === "string" && typeof first.hostname === "string")) {
    const record = urlParseRecord(typeof first === "string" ? first : StringCtor(first.href), undefined);
    if (record === null) throw urlInvalidError(StringCtor(first), undefined);
    const host = record.host === null ? "" : record.host;
    options = {
      __proto__: null,
      protocol: record.scheme + ":",
      hostname: host[0] === "[" ? StringPrototypeSlice(host, 1, -1) : host,
      port: record.port === null ? undefined : record.port,
      path: urlSerializePath(record) + (record.query === null || record.query === "" ? "" : "?" + record.query),
    };
    if (record.username !== "" || record.password !== "") {
      options.auth = utf8Decode(urlPercentDecodeBytes(record.username, false)) + ":" + utf8Decode(urlPercentDecodeBytes(record.password, false));
    }
    i = 1;
  }
  let callback;
  const next = args[i];
  if (typeof next === "function") callback = next;
  else {
    if (next !== undefined && next !== null) {
      if (typeof next !== "object") {
        throw nodeError(TypeErrorCtor, 'The "options" argument must be of type object. Received ' + describeReceived(next), "ERR_INVALID_ARG_TYPE");
      }
      // the caller's own options: copied key by key (their own enumerable keys, as Object.assign)
      const keys = ObjectKeys(next);
      for (let k = 0; k < keys.length; k++) options[keys[k]] = next[keys[k]];
    }
    if (typeof args[i + 1] === "function") callback = args[i + 1];
  }
  return { options, callback };
}

let httpShared = null;

function httpClasses() {
  if (httpShared !== null) return httpShared;
  const EventEmitter = requireBuiltin("events");
  const stream = requireBuiltin("stream");
  const Readable = stream.Readable;
  const ReadablePush = Readable.prototype.push;
  const EmitterEmit = EventEmitter.prototype.emit;
  const EmitterListenerCount = EventEmitter.prototype.listenerCount;
  const BufferCtor = requireBuiltin("buffer").Buffer;
  const BufferFrom = BufferCtor.from;
  const BufferConcat = BufferCtor.concat;

  // an emit whose listeners' errors fail the execution (as an uncaught exception in Node)
  // instead of vanishing into the promise chain that delivered the event
  const emit = (target, name, args) => {
    try {
      return ReflectApply(EmitterEmit, target, httpConcatArgs([name], args));
    } catch (err) {
      reportListenerError(err);
      return true;
    }
  };
  const listenerCount = (target, name) => ReflectApply(EmitterListenerCount, target, [name]);
  const toBuffer = (bytes) => ReflectApply(BufferFrom, BufferCtor,
    [TypedArrayPrototypeGetBuffer(bytes), TypedArrayPrototypeGetByteOffset(bytes), TypedArrayPrototypeGetByteLength(bytes)]);

  class FakeSocket extends EventEmitter {
    constructor(encrypted, host, port) {
      super();
      this.encrypted = encrypted;
      this.authorized = encrypted;
      this.remoteAddress = undefined;
      this.remotePort = port;
      this.servername = encrypted ? host : undefined;
      this.readable = true;
      this.writable = true;
      this.destroyed = false;
      this.connecting = false;
      this.timeout = 0;
    }
    setKeepAlive() { return this; }
    setNoDelay() { return this; }
    setTimeout(ms, callback) { this.timeout = NumberCtor(ms) || 0; if (typeof callback === "function") this.once("timeout", callback); return this; }
    ref() { return this; }
    unref() { return this; }
    address() { return {}; }
    getPeerCertificate() { return {}; }
    destroy() { this.destroyed = true; return this; }
    end() { return this; }
  }

  class IncomingMessage extends Readable {
    constructor(socket) {
      super();
      this.socket = socket;
      this.httpVersionMajor = 1;
      this.httpVersionMinor = 1;
      this.httpVersion = "1.1";
      this.complete = false;
      this.rawHeaders = [];
      this.rawTrailers = [];
      this.headers = {};
      this.headersDistinct = ObjectCreate(null);
      this.trailers = {};
      this.trailersDistinct = ObjectCreate(null);
      this.aborted = false;
      this.upgrade = false;
      this.url = "";
      this.method = null;
      this.statusCode = null;
      this.statusMessage = null;
    }
    get connection() { return this.socket; }
    _read() {}
    setTimeout(ms, callback) { if (typeof callback === "function") this.once("timeout", callback); return this; }
  }

  class Agent extends EventEmitter {
    constructor(options = undefined) {
      super();
      const o = isObjectLike(options) ? options : {};
      this.options = { __proto__: null, path: null };
      const keys = ObjectKeys(o);
      for (let i = 0; i < keys.length; i++) this.options[keys[i]] = o[keys[i]];
      this.defaultPort = o.defaultPort !== undefined ? o.defaultPort : 80;
      this.protocol = o.protocol !== undefined ? o.protocol : "http:";
      this.keepAlive = !!o.keepAlive;
      this.keepAliveMsecs = o.keepAliveMsecs !== undefined ? o.keepAliveMsecs : 1000;
      this.maxSockets = o.maxSockets !== undefined ? o.maxSockets : Infinity;
      this.maxFreeSockets = o.maxFreeSockets !== undefined ? o.maxFreeSockets : 256;
      this.maxTotalSockets = o.maxTotalSockets !== undefined ? o.maxTotalSockets : Infinity;
      this.scheduling = o.scheduling !== undefined ? o.scheduling : "lifo";
      this.totalSocketCount = 0;
      this.requests = ObjectCreate(null);
      this.sockets = ObjectCreate(null);
      this.freeSockets = ObjectCreate(null);
    }
    destroy() {}
    getName(options = {}) {
      let name = (options.host || "localhost") + ":";
      if (options.port) name += options.port;
      name += ":";
      if (options.localAddress) name += options.localAddress;
      if (options.family === 4 || options.family === 6) name += ":" + options.family;
      return name;
    }
  }

  class HttpsAgent extends Agent {
    constructor(options = undefined) {
      const o = {};
      if (isObjectLike(options)) {
        const keys = ObjectKeys(options);
        for (let i = 0; i < keys.length; i++) o[keys[i]] = options[keys[i]];
      }
      if (o.defaultPort === undefined) o.defaultPort = 443;
      if (o.protocol === undefined) o.protocol = "https:";
      super(o);
    }
  }

  const httpGlobalAgent = new Agent({ keepAlive: true, scheduling: "lifo", timeout: 5000 });
  const httpsGlobalAgent = new HttpsAgent({ keepAlive: true, scheduling: "lifo", timeout: 5000 });

  class ClientRequest extends EventEmitter {
    #headers = new SafeMap();   // lower-case name -> {name, value}
    #chunks = [];
    #size = 0;
    #ended = false;
    #sent = false;
    #controller = new AbortController();
    #timer = 0;
    #timeoutMs = 0;
    #url = "";
    #hostname = "";
    #port = 0;
    #finishedResponse = false;
    #closed = false;

    constructor(defaults, options, callback) {
      super();
      let protocol = options.protocol === undefined || options.protocol === null ? defaults.protocol : StringCtor(options.protocol);
      const agent = options.agent;
      if (options.protocol === undefined && isObjectLike(agent) && typeof agent.protocol === "string") protocol = agent.protocol;
      if (protocol !== defaults.protocol) {
        throw nodeError(TypeErrorCtor, 'Protocol "' + protocol + '" not supported. Expected "' + defaults.protocol + '"', "ERR_INVALID_PROTOCOL");
      }
      const method = options.method === undefined || options.method === null ? "GET" : StringCtor(options.method);
      if (!isHttpToken(method)) {
        throw nodeError(TypeErrorCtor, 'Method must be a valid HTTP token ["' + method + '"]', "ERR_INVALID_HTTP_TOKEN");
      }
      let hostname = httpOwnString(options, "hostname");
      if (hostname === undefined) hostname = httpOwnString(options, "host");
      if (hostname === undefined) hostname = "localhost";
      // "host" may carry a port only by mistake; Node takes it as a name
      const defaultPort = options.defaultPort !== undefined ? NumberCtor(options.defaultPort)
        : isObjectLike(agent) && agent.defaultPort !== undefined ? NumberCtor(agent.defaultPort) : defaults.port;
      const port = options.port === undefined || options.port === null || options.port === "" ? defaultPort : NumberCtor(options.port);
      if (!NumberIsInteger(port) || port < 0 || port > 65535) {
        throw nodeError(RangeErrorCtor, 'options.port should be >= 0 and < 65536. Received type number (' + StringCtor(options.port) + ").", "ERR_SOCKET_BAD_PORT");
      }
      const path = options.path === undefined || options.path === null ? "/" : StringCtor(options.path);
      for (let i = 0; i < path.length; i++) {
        if (StringPrototypeCharCodeAt(path, i) <= 0x20) {
          throw nodeError(TypeErrorCtor, "Request path contains unescaped characters", "ERR_UNESCAPED_CHARACTERS");
        }
      }
      const hostPart = StringPrototypeIndexOf(hostname, ":") !== -1 && hostname[0] !== "[" ? "[" + hostname + "]" : hostname;
      const portPart = port === defaults.port ? "" : ":" + port;
      const relative = path[0] === "/" ? path : "/" + path;
      this.#url = protocol + "//" + hostPart + portPart + relative;
      this.#hostname = hostname;
      this.#port = port;
      this.method = StringPrototypeToUpperCase(method);
      this.path = path;
      this.host = hostname;
      this.protocol = protocol;
      this.agent = isObjectLike(agent) ? agent : defaults.agent;
      this.reusedSocket = false;
      this.maxHeadersCount = null;
      this.aborted = false;
      this.destroyed = false;
      this.finished = false;
      this.writable = true;
      this.socket = new FakeSocket(protocol === "https:", hostname, port);
      this.res = null;

      const headers = options.headers;
      if (ArrayIsArray(headers)) {
        // a flat [name, value, name, value, ...] list, as rawHeaders
        for (let i = 0; i + 1 < headers.length; i += 2) this.#appendHeader(StringCtor(headers[i]), headers[i + 1]);
      } else if (isObjectLike(headers)) {
        const keys = ObjectKeys(headers);
        for (let i = 0; i < keys.length; i++) {
          if (headers[keys[i]] !== undefined) this.setHeader(keys[i], headers[keys[i]]);
        }
      }
      if (options.setHost !== false && !this.#headers.has("host")) {
        this.#headers.set("host", { name: "Host", value: hostPart + portPart });
      }
      const auth = options.auth;
      if (auth !== undefined && auth !== null && !this.#headers.has("authorization")) {
        this.#headers.set("authorization", { name: "Authorization", value: "Basic " + base64Encode(utf8Encode(StringCtor(auth))) });
      }
      if (typeof callback === "function") this.once("response", callback);
      if (options.timeout !== undefined) this.setTimeout(options.timeout);
      const signal = options.signal;
      if (signal !== undefined && signal !== null) {
        if (!isAbortSignal(signal)) {
          throw nodeError(TypeErrorCtor, 'The "options.signal" property must be an instance of AbortSignal. Received ' + describeReceived(signal), "ERR_INVALID_ARG_TYPE");
        }
        const onAbort = () => {
          const err = nodeError(ErrorCtor, "The operation was aborted", "ABORT_ERR");
          ObjectDefineProperty(err, "name", { value: "AbortError", writable: true, configurable: true, enumerable: false });
          ObjectDefineProperty(err, "cause", { value: signalReason(signal), writable: true, configurable: true, enumerable: false });
          this.destroy(err);
        };
        if (signalAborted(signal)) PromisePrototypeThen(PromiseResolve(undefined), onAbort);
        else signalAddAlgorithm(signal, onAbort);
      }
      PromisePrototypeThen(PromiseResolve(undefined), () => {
        if (!this.destroyed) emit(this, "socket", [this.socket]);
      });
    }

    get connection() { return this.socket; }
    get headersSent() { return this.#sent; }
    get writableEnded() { return this.#ended; }
    get writableFinished() { return this.#sent; }

    #appendHeader(name, value) {
      httpValidateHeaderName(name);
      httpValidateHeaderValue(name, value);
      const key = StringPrototypeToLowerCase(name);
      const existing = this.#headers.get(key);
      if (existing === undefined) { this.#headers.set(key, { name, value }); return; }
      const list = ArrayIsArray(existing.value) ? ArrayPrototypeSlice(existing.value) : [existing.value];
      ArrayPrototypePush(list, value);
      this.#headers.set(key, { name: existing.name, value: list });
    }

    #checkNotSent() {
      if (this.#sent) {
        throw nodeError(ErrorCtor, "Cannot set headers after they are sent to the client", "ERR_HTTP_HEADERS_SENT");
      }
    }

    setHeader(name, value) {
      this.#checkNotSent();
      httpValidateHeaderName(name);
      httpValidateHeaderValue(name, value);
      this.#headers.set(StringPrototypeToLowerCase(name), { name, value });
      return this;
    }

    appendHeader(name, value) {
      this.#checkNotSent();
      this.#appendHeader(name, value);
      return this;
    }

    getHeader(name) {
      if (typeof name !== "string") {
        throw nodeError(TypeErrorCtor, 'The "name" argument must be of type string. Received ' + describeReceived(name), "ERR_INVALID_ARG_TYPE");
      }
      const entry = this.#headers.get(StringPrototypeToLowerCase(name));
      return entry === undefined ? undefined : entry.value;
    }

    getHeaders() {
      const out = ObjectCreate(null);
      const keys = this.#headers.keys();
      for (let i = 0; i < keys.length; i++) out[keys[i]] = this.#headers.get(keys[i]).value;
      return out;
    }

    getHeaderNames() { return this.#headers.keys(); }

    getRawHeaderNames() {
      const keys = this.#headers.keys();
      const out = [];
      for (let i = 0; i < keys.length; i++) ArrayPrototypePush(out, this.#headers.get(keys[i]).name);
      return out;
    }

    hasHeader(name) { return this.#headers.has(StringPrototypeToLowerCase(StringCtor(name))); }

    removeHeader(name) {
      this.#checkNotSent();
      this.#headers.delete(StringPrototypeToLowerCase(StringCtor(name)));
    }

    flushHeaders() {}
    setNoDelay() {}
    setSocketKeepAlive() {}

    setTimeout(ms, callback = undefined) {
      const n = NumberCtor(ms);
      if (typeof n !== "number" || !(n >= 0)) {
        throw nodeError(TypeErrorCtor, 'The "msecs" argument must be of type number. Received ' + describeReceived(ms), "ERR_INVALID_ARG_TYPE");
      }
      if (typeof callback === "function") this.once("timeout", callback);
      this.#timeoutMs = n;
      if (this.#ended) this.#armTimer();
      return this;
    }

    #armTimer() {
      if (this.#timer !== 0) { clearTimer(this.#timer); this.#timer = 0; }
      if (this.#timeoutMs <= 0 || this.#finishedResponse || this.destroyed) return;
      this.#timer = addTimer(() => {
        this.#timer = 0;
        if (this.#finishedResponse || this.destroyed) return;
        emit(this, "timeout", []);
        emit(this.socket, "timeout", []);
      }, this.#timeoutMs, [], false);
    }

    #chunk(chunk, encoding) {
      if (typeof chunk === "string") {
        if (encoding === undefined || encoding === null || encoding === "utf8" || encoding === "utf-8") return utf8Encode(chunk);
        return ReflectApply(BufferFrom, BufferCtor, [chunk, encoding]);
      }
      const view = viewBytes(chunk);
      if (view === undefined) {
        throw nodeError(TypeErrorCtor, 'The "chunk" argument must be of type string or an instance of Buffer, TypedArray, or DataView. Received ' + describeReceived(chunk), "ERR_INVALID_ARG_TYPE");
      }
      return copyBytes(view);
    }

    write(chunk, encoding = undefined, callback = undefined) {
      if (typeof encoding === "function") { callback = encoding; encoding = undefined; }
      if (this.#ended) {
        const err = nodeError(ErrorCtor, "write after end", "ERR_STREAM_WRITE_AFTER_END");
        PromisePrototypeThen(PromiseResolve(undefined), () => {
          if (typeof callback === "function") runAs(activeExecution(), callback, [err]);
          emit(this, "error", [err]);
        });
        return false;
      }
      if (chunk === null) throw nodeError(TypeErrorCtor, "May not write null values to stream", "ERR_STREAM_NULL_VALUES");
      const bytes = this.#chunk(chunk, encoding);
      this.#size += TypedArrayPrototypeGetLength(bytes);
      ArrayPrototypePush(this.#chunks, bytes);
      if (typeof callback === "function") {
        const owner = activeExecution();
        PromisePrototypeThen(PromiseResolve(undefined), () => runAs(owner, callback, []));
      }
      return true;
    }

    end(chunk = undefined, encoding = undefined, callback = undefined) {
      if (typeof chunk === "function") { callback = chunk; chunk = undefined; }
      else if (typeof encoding === "function") { callback = encoding; encoding = undefined; }
      if (this.#ended) return this;
      if (chunk !== undefined && chunk !== null) this.write(chunk, encoding);
      this.#ended = true;
      this.writable = false;
      this.finished = true;
      if (typeof callback === "function") this.once("finish", callback);
      if (!this.destroyed) this.#send();
      return this;
    }

    #send() {
      this.#sent = true;
      const pairs = [];
      const keys = this.#headers.keys();
      for (let i = 0; i < keys.length; i++) {
        const entry = this.#headers.get(keys[i]);
        if (ArrayIsArray(entry.value)) {
          for (let k = 0; k < entry.value.length; k++) ArrayPrototypePush(pairs, [keys[i], StringCtor(entry.value[k])]);
        } else {
          ArrayPrototypePush(pairs, [keys[i], StringCtor(entry.value)]);
        }
      }
      const method = StringPrototypeToUpperCase(this.method);
      let body = null;
      if (this.#size > 0 || (method !== "GET" && method !== "HEAD" && this.#chunks.length > 0)) body = concatBytes(this.#chunks, this.#size);
      this.#chunks = [];
      this.#armTimer();
      const request = hostFetch({ method: this.method, url: this.#url, headers: pairs, body, redirect: "manual" },
        this.#controller.signal);
      PromisePrototypeThen(PromiseResolve(undefined), () => { if (!this.destroyed) emit(this, "finish", []); });
      PromisePrototypeThen(request, (reply) => this.#respond(reply, method), (err) => this.#fail(err));
    }

    #respond(reply, method) {
      if (this.destroyed) return;
      if (this.#timer !== 0) { clearTimer(this.#timer); this.#timer = 0; }
      this.#finishedResponse = true;
      const res = new IncomingMessage(this.socket);
      res.req = this;
      const status = ownValue(reply, "status");
      res.statusCode = typeof status === "number" ? status : 0;
      const text = ownValue(reply, "status_text");
      res.statusMessage = typeof text === "string" && text !== "" ? text : (HTTP_STATUS_CODES[res.statusCode] || "");
      const raw = ownValue(reply, "headers");
      const decoded = ArrayIsArray(raw) && httpHasHeader(raw, "content-encoding");
      let bytes = null;
      const body = ownValue(reply, "body");
      if (typeof body === "string" && method !== "HEAD") bytes = base64Decode(body);
      if (bytes === null) bytes = EMPTY_BYTES;
      httpFillHeaders(res, raw, decoded ? TypedArrayPrototypeGetLength(bytes) : -1);
      this.res = res;
      res.on("end", () => {
        res.complete = true;
        PromisePrototypeThen(PromiseResolve(undefined), () => this.#close());
      });
      if (TypedArrayPrototypeGetLength(bytes) > 0) ReflectApply(ReadablePush, res, [toBuffer(bytes)]);
      ReflectApply(ReadablePush, res, [null]);
      const handled = listenerCount(this, "response") > 0;
      emit(this, "response", [res]);
      if (!handled) res.resume(); // Node drops a response nobody listens for
    }

    #fail(err) {
      if (this.destroyed) return;
      if (this.#timer !== 0) { clearTimer(this.#timer); this.#timer = 0; }
      this.destroyed = true;
      const cause = ownValue(err, "cause");
      let error = err;
      const code = ownValue(cause, "code");
      if (typeof code === "string") {
        const message = ownValue(cause, "message");
        error = httpNetworkError(code, typeof message === "string" ? message : "request failed", this.#hostname, this.#port);
      }
      emit(this, "error", [error]);
      this.#close();
    }

    #close() {
      if (this.#closed) return;
      this.#closed = true;
      emit(this, "close", []);
    }

    abort() {
      if (this.aborted) return;
      this.aborted = true;
      PromisePrototypeThen(PromiseResolve(undefined), () => emit(this, "abort", []));
      this.destroy();
    }

    destroy(err = undefined) {
      if (this.destroyed) return this;
      this.destroyed = true;
      if (this.#timer !== 0) { clearTimer(this.#timer); this.#timer = 0; }
      this.#controller.abort();
      this.socket.destroyed = true;
      const res = this.res;
      let error = err;
      if (error === undefined && !this.#finishedResponse && !this.aborted) error = httpNetworkError("ECONNRESET", "socket hang up", this.#hostname, this.#port);
      PromisePrototypeThen(PromiseResolve(undefined), () => {
        if (error !== undefined && error !== null) emit(this, "error", [error]);
        if (res !== null && !res.complete) {
          res.aborted = true;
          emit(res, "aborted", []);
        }
        this.#close();
      });
      return this;
    }
  }

  httpShared = { ClientRequest, IncomingMessage, Agent, HttpsAgent, httpGlobalAgent, httpsGlobalAgent };
  return httpShared;
}

function httpConcatArgs(head, rest) {
  const out = ArrayPrototypeSlice(head);
  for (let i = 0; i < rest.length; i++) out[out.length] = rest[i];
  return out;
}

function httpHasHeader(raw, name) {
  for (let i = 0; i < raw.length; i++) {
    const pair = raw[i];
    if (ArrayIsArray(pair) && pair.length === 2 && pair[0] === name) return true;
  }
  return false;
}

// The reply's header pairs as Node's IncomingMessage has them; a body the host decoded loses
// its Content-Encoding and has its decoded Content-Length (decodedLength >= 0).
function httpFillHeaders(res, raw, decodedLength) {
  const headers = res.headers;
  const distinct = res.headersDistinct;
  const rawHeaders = res.rawHeaders;
  if (!ArrayIsArray(raw)) return;
  for (let i = 0; i < raw.length; i++) {
    const pair = raw[i];
    if (!ArrayIsArray(pair) || pair.length !== 2 || typeof pair[0] !== "string" || typeof pair[1] !== "string") continue;
    const name = StringPrototypeToLowerCase(pair[0]);
    let value = pair[1];
    if (decodedLength >= 0) {
      if (name === "content-encoding") continue;
      if (name === "content-length") value = StringCtor(decodedLength);
    }
    ArrayPrototypePush(rawHeaders, pair[0], value);
    if (ObjectPrototypeHasOwnProperty(distinct, name)) ArrayPrototypePush(distinct[name], value);
    else distinct[name] = [value];
    const seen = ObjectPrototypeHasOwnProperty(headers, name);
    if (name === "set-cookie") {
      if (seen) ArrayPrototypePush(headers[name], value);
      else setOwn(headers, name, [value]);
    } else if (!seen) {
      setOwn(headers, name, value);
    } else if (ArrayPrototypeIndexOf(HTTP_SINGLE_HEADERS, name) === -1) {
      headers[name] = headers[name] + (name === "cookie" ? "; " : ", ") + value;
    }
  }
}

function makeHttpModule(protocol) {
  const shared = httpClasses();
  const https = protocol === "https:";
  const agent = https ? shared.httpsGlobalAgent : shared.httpGlobalAgent;
  const defaults = { protocol, port: https ? 443 : 80, agent };
  const ClientRequest = shared.ClientRequest;
  function request(...args) {
    const parsed = httpRequestOptions(args);
    return new ClientRequest(defaults, parsed.options, parsed.callback);
  }
  function get(...args) {
    const req = ReflectApply(request, undefined, args);
    req.end();
    return req;
  }
  const refuse = (what) => () => {
    throw nodeError(ErrorCtor, what + " is not available to actions: they cannot listen for connections", "ERR_NOT_AVAILABLE");
  };
  const exports = {
    request, get,
    Agent: https ? shared.HttpsAgent : shared.Agent,
    globalAgent: agent,
    ClientRequest, IncomingMessage: shared.IncomingMessage,
    STATUS_CODES: HTTP_STATUS_CODES,
    METHODS: ArrayPrototypeSlice(HTTP_METHODS),
    maxHeaderSize: 16384,
    validateHeaderName(name) { httpValidateHeaderName(name); },
    validateHeaderValue(name, value) { httpValidateHeaderValue(name, value); },
    setMaxIdleHTTPParsers() {},
    createServer: refuse(https ? "https.createServer" : "http.createServer"),
    Server: refuse(https ? "https.Server" : "http.Server"),
  };
  return exports;
}

ObjectFreeze(HTTP_STATUS_CODES);
return { makeHttpModule, httpClasses };

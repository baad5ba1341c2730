"use strict";
// Benchmark reference peer for actionhost's trigger endpoint, on Node's standard library only.
//
// It does the same work per request as POST /triggers/post-login/execute in actionhost: bearer
// check, body read with a size cap and a nesting check, JSON parse, profile read (or create) from
// the store, the bound actions run in order in ONE shared node:vm context (module scope evaluated
// once at start), each with a fresh deep copy of the event and its own recording `api`, console
// captured per action, the commands merged, ONE profile write per execution when there is
// metadata, and the same response shape. What it leaves out is listed in README.md.
//
//   node bench/node_ref/server.js --port 8080 --actions bench/workload [--write-heavy]

const http = require("node:http");
const fs = require("node:fs");
const path = require("node:path");
const vm = require("node:vm");
const util = require("node:util");
const crypto = require("node:crypto");
const { AsyncLocalStorage } = require("node:async_hooks");

const MAX_BODY = 1024 * 1024; // actionhost's --max-body default
const MAX_DEPTH = 64; // actionhost's JSON nesting limit
const USER_ID_MAX = 256;
const METADATA_MAX_BYTES = 32 * 1024;
const LOG_LINE_MAX = 16 * 1024;
const LOGS_MAX_BYTES = 256 * 1024;
const LOGS_TRUNCATED = "[logs truncated: this execution's output exceeded 256 KiB]";
const WRITE_HEAVY_DIR = path.resolve(__dirname, "..", "workload_write_heavy");

// ---------------------------------------------------------------------------------------------
// Command line

function usage(message) {
  if (message) process.stderr.write(message + "\n");
  process.stderr.write("usage: node server.js --port P --actions DIR [--actions DIR2 ...] [--write-heavy]"
    + " [--host H] [--budget SECONDS] [--no-sync-timeout] [--secret NAME=VALUE ...]\n");
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { port: 8080, host: "127.0.0.1", dirs: [], writeHeavy: false, budgetMs: 20000, syncTimeout: true, secrets: {} };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => (i + 1 < argv.length ? argv[++i] : usage(arg + " needs a value"));
    if (arg === "--port") opts.port = Number(value());
    else if (arg === "--host") opts.host = value();
    else if (arg === "--actions") opts.dirs.push(value());
    else if (arg === "--write-heavy") opts.writeHeavy = true;
    else if (arg === "--budget") opts.budgetMs = Number(value()) * 1000;
    else if (arg === "--no-sync-timeout") opts.syncTimeout = false;
    else if (arg === "--secret") {
      const pair = value();
      const at = pair.indexOf("=");
      if (at < 1) usage("--secret takes NAME=VALUE");
      opts.secrets[pair.slice(0, at)] = pair.slice(at + 1);
    }
    else if (arg === "-h" || arg === "--help") usage();
    else usage("unknown argument: " + arg);
  }
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) usage("--port must be 0..65535");
  if (!(opts.budgetMs > 0)) usage("--budget must be a positive number of seconds");
  if (opts.writeHeavy) opts.dirs.push(WRITE_HEAVY_DIR);
  if (opts.dirs.length === 0) usage("--actions DIR is required");
  return opts;
}

const OPTS = parseArgs(process.argv.slice(2));

// ---------------------------------------------------------------------------------------------
// The flow's context: one per flow (like one actionhost isolate per flow), module scope once.

const logContext = new AsyncLocalStorage(); // the running action's record, across its awaits

function logSink(record, text) {
  if (record === undefined || record.closed) return;
  if (text.length > LOG_LINE_MAX) text = text.slice(0, LOG_LINE_MAX) + "... [line truncated]";
  const exec = record.exec;
  if (exec.logBytes >= LOGS_MAX_BYTES) return;
  exec.logBytes += text.length + 1;
  if (exec.logBytes >= LOGS_MAX_BYTES) text = LOGS_TRUNCATED;
  record.logs.push(text);
}

function consoleLevel() {
  return function (...args) { logSink(logContext.getStore(), util.format(...args)); };
}

const sandboxConsole = {
  log: consoleLevel(), info: consoleLevel(), warn: consoleLevel(), error: consoleLevel(),
  debug: consoleLevel(), trace: consoleLevel(),
};

const context = vm.createContext({
  console: sandboxConsole,
  setTimeout, clearTimeout, setInterval, clearInterval, setImmediate, clearImmediate, queueMicrotask,
  URL, URLSearchParams, TextEncoder, TextDecoder, atob, btoa,
  // an action that calls an API (bench/workload_egress): Node's own fetch, as Auth0 gives it
  fetch, Request, Response, Headers, FormData, AbortController, AbortSignal,
});

// Synchronous code runs under vm's `timeout`: a tiny script in the context calls the pending
// function, so the watchdog covers module scope and each handler up to its first await.
let pendingCall = null;
Object.defineProperty(context, "__refInvoke", {
  value() { const fn = pendingCall; pendingCall = null; return fn(); },
  enumerable: false, writable: false, configurable: false,
});
const invokeScript = new vm.Script("__refInvoke()", { filename: "node_ref:invoke" });

// Each call with a `timeout` starts (and joins) a watchdog thread in Node: ~50 us per call.
// --no-sync-timeout skips it to show that cost; a synchronous endless loop then hangs the server.
function callWithTimeout(fn, timeoutMs) {
  if (!OPTS.syncTimeout) return fn();
  pendingCall = fn;
  return invokeScript.runInContext(context, { timeout: Math.max(1, Math.ceil(timeoutMs)) });
}

const ctxJSON = vm.runInContext("JSON", context); // events are built in the actions' own realm
const ctxClone = (value) => ctxJSON.parse(JSON.stringify(value));

function loadActions(dirs) {
  const actions = [];
  const names = new Set();
  for (const dir of dirs) {
    const files = fs.readdirSync(dir).filter((f) => f.endsWith(".js")).sort();
    for (const file of files) {
      const name = file.slice(0, -3);
      if (names.has(name)) throw new Error(`two actions are named '${name}' (${dir})`);
      names.add(name);
      actions.push(loadModule(name, fs.readFileSync(path.join(dir, file), "utf8")));
    }
  }
  return actions;
}

// CommonJS, as actionhost loads an action: (exports, require, module, __filename, __dirname),
// `this` = exports; require() of anything fails as in Node; a top-level error is kept and
// rethrown on every execution.
function loadModule(name, code) {
  const action = { name, exports: undefined, error: undefined };
  const require = (id) => {
    const err = new Error(`Cannot find module '${String(id)}'\nRequire stack:\n- ${name}`);
    err.code = "MODULE_NOT_FOUND";
    throw err;
  };
  try {
    const fn = vm.compileFunction(code, ["exports", "require", "module", "__filename", "__dirname"],
      { parsingContext: context, filename: name });
    const box = { exports: {} };
    callWithTimeout(() => fn.call(box.exports, box.exports, require, box, "/" + name, "/"), OPTS.budgetMs);
    action.exports = box.exports;
  } catch (err) {
    action.error = err;
  }
  return action;
}

const ACTIONS = loadActions(OPTS.dirs);

function handlerOf(action, which) {
  if (action.error !== undefined) throw action.error;
  const exported = action.exports;
  if (exported === null || (typeof exported !== "object" && typeof exported !== "function")) {
    throw new TypeError(`Action code must export an object (module.exports) with a function '${which}'`);
  }
  const handler = exported[which];
  if (typeof handler !== "function") {
    throw new TypeError(`Handler '${which}' is not a function. Make sure the action code contains \`exports.${which} = async (event, api) => { ... }\``);
  }
  return handler;
}

// ---------------------------------------------------------------------------------------------
// The post-login api: every call validated and recorded as a command [name, ...args].

const RESTRICTED_CLAIMS = new Set(("acr act active amr at_hash ath attest aud auth_time authorization_details azp c_hash "
  + "client_id cnf cty dest entitlements events exp groups gty htm htu iat internalService iss jcard jku jti jwe jwk kid "
  + "may_act mky nbf nonce object_id org_id org_name orig origid permissions roles rph s_hash sid sip_callid sip_cseq_num "
  + "sip_date sip_from_tag sip_via_branch sub sub_jwk toe txn typ uuid vot vtm x5t#S256").split(" "));
const AUTH0_NAMESPACE = /^https?:\/\/([^/]*\.)?(auth0\.com|webtask\.io|webtask\.run)(\/|$)/i;
const MFA_PROVIDERS = ["any", "duo", "google-authenticator", "guardian", "none"];

const isPlainObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

function recordValue(value, call) {
  if (value === undefined) return null;
  try {
    const copy = JSON.parse(JSON.stringify(value) ?? "null");
    return copy === undefined ? null : copy;
  } catch (err) {
    throw new TypeError(`${call}: the value cannot be stored as JSON (${err && err.message})`);
  }
}

function requireString(value, what) {
  if (typeof value !== "string") throw new TypeError(what + " must be a string");
  return value;
}

function scopeArg(scope, call) {
  requireString(scope, call + ": scope");
  if (scope === "" || /\s/.test(scope)) throw new TypeError(call + ": scope must be a single non-empty scope name");
  return scope;
}

function makeApi(record, state, event) {
  const add = (command) => {
    if (record.closed) throw new Error("This api object belongs to an action that has already finished");
    record.commands.push(command);
  };
  const setClaim = (token, key, value) => {
    const call = `api.${token}.setCustomClaim`;
    requireString(key, call + ": claim name");
    if (key === "") throw new TypeError(call + ": claim name must not be empty");
    if (token === "accessToken" && key === "scope") {
      throw new Error("Cannot set the 'scope' claim with setCustomClaim: use api.accessToken.addScope() or removeScope()");
    }
    if (RESTRICTED_CLAIMS.has(key) || AUTH0_NAMESPACE.test(key)) {
      logSink(record, `${call}: the claim '${key}' is restricted and will not be added to the token`);
      return;
    }
    add([token + ".setCustomClaim", key, recordValue(value, call)]);
  };
  const setMetadata = (kind, key, value) => {
    const meta = kind === "app" ? event.user.app_metadata : event.user.user_metadata;
    if (!isPlainObject(meta)) {
      throw new Error(kind === "app" ? "Unexpected app_metadata format. Must be a valid JSON object"
        : "Unexpected user_metadata format. Must be a valid JSON object.");
    }
    const call = kind === "app" ? "api.user.setAppMetadata" : "api.user.setUserMetadata";
    requireString(key, call + ": key");
    add([kind === "app" ? "user.setAppMetadata" : "user.setUserMetadata", key, recordValue(value, call)]);
  };
  const api = {
    access: {
      deny(reason) {
        add(["access.deny", reason === undefined ? "" : String(reason)]);
        state.denied = true;
        return api;
      },
    },
    idToken: {
      setCustomClaim(key, value) { setClaim("idToken", key, value); return api; },
    },
    accessToken: {
      setCustomClaim(key, value) { setClaim("accessToken", key, value); return api; },
      addScope(scope) { add(["accessToken.addScope", scopeArg(scope, "api.accessToken.addScope")]); },
      removeScope(scope) { add(["accessToken.removeScope", scopeArg(scope, "api.accessToken.removeScope")]); },
    },
    user: {
      setAppMetadata(key, value) { setMetadata("app", key, value); return api; },
      setUserMetadata(key, value) { setMetadata("user", key, value); return api; },
    },
    multifactor: {
      enable(provider, options) {
        requireString(provider, "api.multifactor.enable: provider");
        if (!MFA_PROVIDERS.includes(provider)) {
          throw new TypeError(`api.multifactor.enable: unknown provider '${provider}'; expected one of ${MFA_PROVIDERS.join(", ")}`);
        }
        const opts = options === undefined || options === null ? {} : recordValue(options, "api.multifactor.enable");
        const out = { provider };
        if (opts.allowRememberBrowser !== undefined) out.allowRememberBrowser = opts.allowRememberBrowser === true;
        if (opts.providerOptions !== undefined) out.providerOptions = opts.providerOptions;
        add(["multifactor.enable", out]);
        return api;
      },
    },
    transaction: {
      setMetadata(key, value) {
        requireString(key, "api.transaction.setMetadata: key");
        const t = typeof value;
        if (value !== null && value !== undefined && t !== "string" && t !== "number" && t !== "boolean") {
          throw new TypeError("api.transaction.setMetadata: value must be a string, number or boolean");
        }
        const next = { ...state.transactionMetadata };
        if (value === null || value === undefined) delete next[key]; else next[key] = value;
        add(["transaction.setMetadata", key, value === undefined ? null : value]);
        state.transactionMetadata = next;
        if (!isPlainObject(event.transaction)) event.transaction = ctxJSON.parse("{}");
        event.transaction.metadata = ctxClone(next);
      },
    },
    rules: { wasExecuted() { return false; } },
  };
  return api;
}

// ---------------------------------------------------------------------------------------------
// The flow runner (runtime_js/90_flow.js, in Node).

function setOwn(target, key, value) {
  Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
}

function applyMetadataPatch(target, patch) {
  for (const key of Object.keys(patch)) {
    const v = patch[key];
    if (v === null) delete target[key];
    else setOwn(target, key, ctxClone(v));
  }
}

// A fresh deep copy of the event for one action, with the metadata queued by earlier actions.
function actionEvent(eventText, state) {
  const event = ctxJSON.parse(eventText);
  if (!isPlainObject(event.user)) event.user = ctxJSON.parse("{}");
  if (!isPlainObject(event.user.app_metadata)) event.user.app_metadata = ctxJSON.parse("{}");
  if (!isPlainObject(event.user.user_metadata)) event.user.user_metadata = ctxJSON.parse("{}");
  applyMetadataPatch(event.user.app_metadata, state.appMetadata);
  applyMetadataPatch(event.user.user_metadata, state.userMetadata);
  if (!isPlainObject(event.transaction)) event.transaction = ctxJSON.parse("{}");
  event.transaction.metadata = ctxClone(state.transactionMetadata);
  event.secrets = ctxClone(OPTS.secrets);
  return event;
}

class ActionTimeout extends Error {}

const HANDLER = "onExecutePostLogin";

async function runFlow(event) {
  const eventText = JSON.stringify(event);
  const state = {
    appMetadata: Object.create(null), userMetadata: Object.create(null),
    transactionMetadata: isPlainObject(event.transaction) && isPlainObject(event.transaction.metadata)
      ? event.transaction.metadata : {},
    denied: false,
  };
  const exec = { logBytes: 0 };
  const deadline = Date.now() + OPTS.budgetMs;
  let timer = null;
  let expired = null; // rejects when the execution's budget runs out; made on the first await
  const results = [];
  let status = "completed";
  let error = null;
  try {
    for (const action of ACTIONS) {
      const record = { name: action.name, status: "ok", duration_ms: 0, commands: [], logs: [], exec, closed: false };
      const began = Date.now();
      try {
        const handler = handlerOf(action, HANDLER);
        const actionEv = actionEvent(eventText, state);
        const api = makeApi(record, state, actionEv);
        if (Object.prototype.toString.call(handler) !== "[object AsyncFunction]") {
          logSink(record, `Warning: ${HANDLER} of action '${action.name}' is not an async function; it was run as a plain function.`);
        }
        const remaining = deadline - Date.now();
        if (remaining <= 0) throw new ActionTimeout(`Action '${action.name}' exceeded the execution time budget`);
        let ret;
        try {
          ret = logContext.run(record, callWithTimeout, () => handler(actionEv, api), remaining);
        } catch (err) {
          if (err && err.code === "ERR_SCRIPT_EXECUTION_TIMEOUT") {
            throw new ActionTimeout(`Action '${action.name}' exceeded the execution time budget`);
          }
          throw err;
        }
        if (ret !== null && (typeof ret === "object" || typeof ret === "function") && typeof ret.then === "function") {
          if (expired === null) {
            expired = new Promise((_, reject) => {
              timer = setTimeout(() => reject(new ActionTimeout("the execution time budget ran out")), Math.max(1, deadline - Date.now()));
            });
            expired.catch(() => {});
          }
          try {
            await Promise.race([ret, expired]);
          } catch (err) {
            if (err instanceof ActionTimeout) throw new ActionTimeout(`Action '${action.name}' exceeded the execution time budget`);
            throw err;
          }
        }
      } catch (err) {
        const timedOut = err instanceof ActionTimeout;
        record.status = timedOut ? "timeout" : "error";
        record.commands = [];
        error = { class: timedOut ? "action_timeout" : "action_error", action: action.name, message: errorMessage(err) };
        status = "failed";
      }
      record.closed = true;
      record.duration_ms = Date.now() - began;
      results.push(record);
      if (status === "failed") break;
      for (const c of record.commands) {
        if (c[0] === "user.setAppMetadata") setOwn(state.appMetadata, c[1], c[2]);
        else if (c[0] === "user.setUserMetadata") setOwn(state.userMetadata, c[1], c[2]);
      }
      if (state.denied) { status = "denied"; break; }
    }
  } finally {
    if (timer !== null) clearTimeout(timer);
  }
  return { status, actions: results, error, transactionMetadata: state.transactionMetadata };
}

function errorMessage(err) {
  if (err !== null && typeof err === "object" && typeof err.message === "string") return err.message;
  try { return String(err); } catch (_) { return "Unknown error"; }
}

// ---------------------------------------------------------------------------------------------
// Merge (server/flows/merge.py) and the profile store.

function setScope(out, scope, add) {
  for (const bucket of [out.scopesAdd, out.scopesRemove]) {
    const i = bucket.indexOf(scope);
    if (i !== -1) bucket.splice(i, 1);
  }
  (add ? out.scopesAdd : out.scopesRemove).push(scope);
}

function merge(actions) {
  const out = {
    appMetadata: {}, userMetadata: {}, idTokenClaims: {}, accessTokenClaims: {},
    scopesAdd: [], scopesRemove: [], denyReason: null, multifactor: null,
  };
  for (const action of actions) {
    for (const command of action.commands) {
      const name = command[0];
      if (name === "user.setAppMetadata") out.appMetadata[command[1]] = command[2];
      else if (name === "user.setUserMetadata") out.userMetadata[command[1]] = command[2];
      else if (name === "idToken.setCustomClaim") out.idTokenClaims[command[1]] = command[2];
      else if (name === "accessToken.setCustomClaim") out.accessTokenClaims[command[1]] = command[2];
      else if (name === "accessToken.addScope") setScope(out, command[1], true);
      else if (name === "accessToken.removeScope") setScope(out, command[1], false);
      else if (name === "access.deny") out.denyReason = command[1];
      else if (name === "multifactor.enable") out.multifactor = command[1];
      // transaction.setMetadata is carried whole in transactionMetadata
    }
  }
  return out;
}

const profiles = new Map(); // user_id -> {…profile, user_id, app_metadata, user_metadata, created_at, updated_at}
const stats = { executions: 0, creates: 0, writes: 0 }; // GET /stats, to check the one-write rule
const RESERVED = new Set(["user_id", "app_metadata", "user_metadata", "created_at", "updated_at"]);

function mergeMetadata(stored, patch) {
  const out = { ...stored };
  for (const key of Object.keys(patch)) {
    if (patch[key] === null) delete out[key];
    else out[key] = patch[key];
  }
  return out;
}

// The stored profile, created from the event's user when the store does not know it.
function readOrCreate(event) {
  const user = event.user;
  const found = profiles.get(user.user_id);
  if (found !== undefined) return found;
  const now = new Date().toISOString();
  const profile = {};
  for (const key of Object.keys(user)) if (!RESERVED.has(key)) profile[key] = user[key];
  profile.connection = (isPlainObject(event.connection) && event.connection.name) || "Username-Password-Authentication";
  const created = {
    ...profile, user_id: user.user_id,
    app_metadata: isPlainObject(user.app_metadata) ? user.app_metadata : {},
    user_metadata: isPlainObject(user.user_metadata) ? user.user_metadata : {},
    created_at: now, updated_at: now,
  };
  profiles.set(user.user_id, created);
  stats.creates++;
  return created;
}

// The one write of an execution: a merge-patch, stored as a new object (never mutated in place).
function writeProfile(userId, appPatch, userPatch) {
  const stored = profiles.get(userId);
  const updated = {
    ...stored,
    app_metadata: mergeMetadata(stored.app_metadata, appPatch),
    user_metadata: mergeMetadata(stored.user_metadata, userPatch),
    updated_at: new Date().toISOString(),
  };
  profiles.set(userId, updated);
  stats.writes++;
  return updated;
}

const STATUS = { completed: "allowed", denied: "denied", failed: "failed" };

class BadRequest extends Error {
  constructor(status, message, code) { super(message); this.status = status; this.code = code; }
}

async function execute(body) {
  const event = body.event;
  if (!isPlainObject(event)) throw new BadRequest(400, "Payload validation error: 'event' must be an object", "invalid_body");
  const user = event.user;
  if (!isPlainObject(user) || typeof user.user_id !== "string" || !user.user_id) {
    throw new BadRequest(400, "Payload validation error: 'event.user.user_id' is required", "invalid_body");
  }
  if (user.user_id.length > USER_ID_MAX) {
    throw new BadRequest(400, `Payload validation error: 'event.user.user_id' must be at most ${USER_ID_MAX} characters`, "invalid_body");
  }
  stats.executions++;
  const executionId = "exec_" + crypto.randomBytes(12).toString("hex");
  const stored = readOrCreate(event);
  event.user = { ...user, ...stored, app_metadata: stored.app_metadata || {}, user_metadata: stored.user_metadata || {} };

  const data = await runFlow(event);
  const outcome = merge(data.actions);
  let status = STATUS[data.status] || "failed";
  let error = data.error;
  let profile = event.user;
  const hasApp = Object.keys(outcome.appMetadata).length > 0;
  const hasUser = Object.keys(outcome.userMetadata).length > 0;
  if (hasApp || hasUser) {
    const tooBig = (hasApp && Buffer.byteLength(JSON.stringify(outcome.appMetadata)) > METADATA_MAX_BYTES && "app_metadata")
      || (hasUser && Buffer.byteLength(JSON.stringify(outcome.userMetadata)) > METADATA_MAX_BYTES && "user_metadata");
    if (tooBig) {
      status = "failed";
      error = { class: "action_error", action: null, message: `the ${tooBig} written by this execution exceeds ${METADATA_MAX_BYTES / 1024} kB` };
    } else {
      profile = writeProfile(profile.user_id, outcome.appMetadata, outcome.userMetadata);
    }
  }
  return {
    execution_id: executionId,
    status,
    deny: status === "denied" ? { reason: outcome.denyReason } : null,
    redirect: null,
    id_token_claims: outcome.idTokenClaims,
    access_token_claims: outcome.accessTokenClaims,
    access_token_scopes: { add: outcome.scopesAdd, remove: outcome.scopesRemove },
    multifactor: outcome.multifactor,
    authentication: {},
    session: null,
    refresh_token: null,
    saml: null,
    prompt: null,
    transaction_metadata: data.transactionMetadata,
    user: { user_id: profile.user_id, app_metadata: profile.app_metadata || {}, user_metadata: profile.user_metadata || {} },
    actions: data.actions.map((a) => ({
      action_name: a.name, status: a.status, duration_ms: a.duration_ms,
      logs: a.logs.length ? a.logs.join("\n") + "\n" : "",
    })),
    error,
  };
}

// ---------------------------------------------------------------------------------------------
// HTTP

function send(res, status, payload, headers) {
  const body = JSON.stringify(payload);
  res.writeHead(status, { "Content-Type": "application/json; charset=utf-8", "Content-Length": Buffer.byteLength(body), ...headers });
  res.end(body);
}

function sendError(res, status, message, code, headers) {
  const payload = { statusCode: status, error: http.STATUS_CODES[status] || "Error", message };
  if (code) payload.errorCode = code;
  send(res, status, payload, headers);
}

// True when brackets nest deeper than `limit` (strings skipped); cheap when there are few brackets.
function nestingDepthExceeds(buf, limit) {
  let brackets = 0;
  for (const b of [0x5b, 0x7b]) {
    for (let i = buf.indexOf(b); i !== -1 && brackets <= limit; i = buf.indexOf(b, i + 1)) brackets++;
  }
  if (brackets <= limit) return false;
  let depth = 0, inString = false, escaped = false;
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i];
    if (inString) {
      if (escaped) escaped = false;
      else if (c === 0x5c) escaped = true;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) { if (++depth > limit) return true; }
    else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

const EXECUTE_PATH = /^\/triggers\/([^/?]+)\/execute(?:\?.*)?$/;
const BEARER = /^Bearer\s+\S+/i;
const TOO_LARGE = `Request body exceeds ${MAX_BODY} bytes`;

function handleExecute(req, res, triggerId) {
  if (!BEARER.test(req.headers.authorization || "")) {
    req.resume();
    return sendError(res, 401, "Missing authentication", "missing_token", { "WWW-Authenticate": "Bearer" });
  }
  const declared = Number(req.headers["content-length"]);
  if (declared > MAX_BODY) {
    res.setHeader("Connection", "close");
    req.resume();
    return sendError(res, 413, TOO_LARGE, "payload_too_large");
  }
  const chunks = [];
  let size = 0;
  let rejected = false;
  req.on("data", (chunk) => {
    if (rejected) return;
    size += chunk.length;
    if (size > MAX_BODY) {
      rejected = true;
      chunks.length = 0;
      res.setHeader("Connection", "close");
      sendError(res, 413, TOO_LARGE, "payload_too_large");
      return;
    }
    chunks.push(chunk);
  });
  req.on("end", () => {
    if (rejected) return;
    if (triggerId !== "post-login") {
      return sendError(res, 404, `The trigger '${triggerId.slice(0, 64)}' does not exist.`, "invalid_trigger");
    }
    const raw = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size);
    if (raw.length === 0) return sendError(res, 400, "Request body is required", "invalid_body");
    if (nestingDepthExceeds(raw, MAX_DEPTH)) return sendError(res, 400, `JSON nesting exceeds ${MAX_DEPTH} levels`, "invalid_body");
    let body;
    try {
      body = JSON.parse(raw.toString("utf8"));
    } catch (err) {
      return sendError(res, 400, "Invalid JSON: " + err.message, "invalid_body");
    }
    if (!isPlainObject(body)) return sendError(res, 400, "Payload validation error: the body must be a JSON object", "invalid_body");
    execute(body).then(
      (response) => send(res, 200, response),
      (err) => {
        if (err instanceof BadRequest) return sendError(res, err.status, err.message, err.code);
        process.stderr.write(`internal error: ${err && err.stack}\n`);
        return sendError(res, 500, "Internal error", "internal_error");
      });
  });
}

const server = http.createServer((req, res) => {
  const url = req.url;
  if (url === "/healthz") {
    req.resume();
    if (req.method !== "GET" && req.method !== "HEAD") return sendError(res, 405, "Method not allowed");
    return send(res, 200, { status: "ok" });
  }
  if (url === "/stats" && req.method === "GET") {
    req.resume();
    return send(res, 200, { ...stats, profiles: profiles.size });
  }
  const m = EXECUTE_PATH.exec(url);
  if (m !== null) {
    if (req.method !== "POST") { req.resume(); return sendError(res, 405, "Method not allowed"); }
    let triggerId;
    try { triggerId = decodeURIComponent(m[1]); } catch (_) { triggerId = m[1]; }
    return handleExecute(req, res, triggerId);
  }
  req.resume();
  return sendError(res, 404, "Not found");
});
server.keepAliveTimeout = 65000;

server.listen(OPTS.port, OPTS.host, () => {
  process.stderr.write(`actions: ${ACTIONS.map((a) => a.name + (a.error ? " (failed to load: " + errorMessage(a.error) + ")" : "")).join(", ")}\n`);
  process.stdout.write(`listening on ${server.address().port}\n`);
});

for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(0));

// The post-login v3 `api` object: every call is validated as Auth0 validates it and recorded as
// a command [name, ...args] on the running action; values are copied through the captured JSON
// functions at call time, so later mutation, getters or exotic values cannot change what the
// host receives. Merging the commands across actions is the host's job.

// Claims Auth0 will not let an action set (docs: "Create Custom Claims", restricted claims);
// a collision is dropped, not an error.
const RESTRICTED_CLAIMS = new SafeMap();
for (const name of StringPrototypeSplit("acr act active amr at_hash ath attest aud auth_time authorization_details azp c_hash client_id cnf cty dest entitlements events exp groups gty htm htu iat internalService iss jcard jku jti jwe jwk kid may_act mky nbf nonce object_id org_id org_name orig origid permissions roles rph s_hash sid sip_callid sip_cseq_num sip_date sip_from_tag sip_via_branch sub sub_jwk toe txn typ uuid vot vtm x5t#S256", " ")) {
  RESTRICTED_CLAIMS.set(name, true);
}
const AUTH0_NAMESPACE = /^https?:\/\/([^/]*\.)?(auth0\.com|webtask\.io|webtask\.run)(\/|$)/i;

const MFA_PROVIDERS = ["any", "duo", "google-authenticator", "guardian", "none"];
const CHALLENGE_FACTORS = ["otp", "email", "webauthn-platform", "webauthn-roaming", "recovery-code", "phone", "push", "push-notification"];
const ENROLL_FACTORS = ["otp", "webauthn-platform", "webauthn-roaming", "recovery-code", "phone", "push", "push-notification"];

const CACHE_DEFAULT_TTL_MS = 15 * 60 * 1000;
const CACHE_MAX_TTL_MS = 24 * 60 * 60 * 1000;
const CACHE_MAX_ENTRIES = 20;
const CACHE_MAX_KEY_BYTES = 64;
const CACHE_MAX_VALUE_BYTES = 4096;
const CACHE_MAX_TOTAL_BYTES = 8192;
const USER_ID_MAX = 128;
const TXN_KEY_MAX = 64;
const TXN_VALUE_MAX = 8192;
const TXN_TOTAL_MAX = 16384;
const SESSION_META_KEY = /^[a-zA-Z0-9_-]{1,255}$/;

function utf8Length(s) {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = StringPrototypeCharCodeAt(s, i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) { n += 4; i++; }
    else n += 3;
  }
  return n;
}

function requireString(value, what) {
  if (typeof value !== "string") throw new TypeErrorCtor(what + " must be a string");
  return value;
}

// What one execution may record through api calls: values as JSON text, string arguments, and
// RECORD_CALL_CHARS per call. It bounds what the host takes in (the front end parses every
// result) and turns a flood of api calls into a clear failure of the action that made it.
const RECORDED_MAX_CHARS = 1024 * 1024;
const RECORD_CALL_CHARS = 16;
// Deeper values cannot be taken in by the host's JSON parser (and no token or profile needs them).
const RECORDED_DEPTH_MAX = 100;

function charge(exec, chars, call) {
  if (exec.recordedChars + chars > RECORDED_MAX_CHARS) {
    throw new RangeErrorCtor(call + ": this execution's recorded values would exceed " + RECORDED_MAX_CHARS +
      " characters of JSON (1 MiB); the call was refused");
  }
  exec.recordedChars += chars;
}

function jsonDepth(text) {
  let depth = 0, deepest = 0, inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = StringPrototypeCharCodeAt(text, i);
    if (inString) {
      if (ch === 92) i++; // backslash: skip the escaped character
      else if (ch === 34) inString = false;
    } else if (ch === 34) inString = true;
    else if (ch === 91 || ch === 123) { if (++depth > deepest) deepest = depth; }
    else if (ch === 93 || ch === 125) depth--;
  }
  return deepest;
}

// Copy a user value for the record. BigInt, cycles and throwing getters surface here, in the
// action that passed them, as a TypeError naming the call; an oversized or too deeply nested
// value as a RangeError.
function recordValue(exec, value, call) {
  if (value === undefined) return null;
  let text;
  try {
    text = JSONStringify(value);
  } catch (err) {
    throw new TypeErrorCtor(call + ": the value cannot be stored as JSON (" + errorMessage(err) + ")");
  }
  if (text === undefined) return null;
  // strings are charged by add(), with the call's other string arguments; values that are not
  // recorded (exec null: validated, then dropped or turned into a token) are not charged
  if (exec !== null && typeof value !== "string") charge(exec, text.length, call);
  if (text.length > 2 * RECORDED_DEPTH_MAX && jsonDepth(text) > RECORDED_DEPTH_MAX) {
    throw new RangeErrorCtor(call + ": the value is nested deeper than " + RECORDED_DEPTH_MAX + " levels");
  }
  return JSONParse(text);
}

function validateSessionMetadata(key, value, wrap) {
  if (typeof key !== "string") throw new ErrorCtor(wrap + "Invalid metadata: Metadata key must be a string");
  if (value !== null && typeof value !== "string") throw new ErrorCtor(wrap + "Invalid metadata: Metadata value must be a string");
  if (StringPrototypeIndexOf(key, "\u0000") !== -1) throw new ErrorCtor(wrap + "Invalid metadata: Metadata keys must not contain null bytes (\\x00)");
  if (key.length > 255) throw new ErrorCtor(wrap + "Invalid metadata: All metadata keys must be at most 255 characters long");
  if (!RegExpPrototypeTest(SESSION_META_KEY, key)) throw new ErrorCtor(wrap + "Invalid metadata: Metadata keys may only include letters, numbers, underscores, or hyphens");
  if (value !== null && value.length > 255) throw new ErrorCtor(wrap + "Invalid metadata: All metadata values must be at most 255 characters long");
  if (value !== null && StringPrototypeIndexOf(value, "\u0000") !== -1) throw new ErrorCtor(wrap + "Invalid metadata: Metadata values must not contain null bytes (\\x00)");
}

// The namespaces are classes whose methods live on shared prototypes and reach the call's state
// through a private field: building an `api` per action costs a handful of small objects, and
// user code cannot reach the state behind it.
class ApiCall {
  constructor(ctx) {
    this.exec = ctx.exec;
    this.state = ctx.state;
    this.record = ctx.record;
    this.event = ctx.event;
    this.continuing = ctx.continuing;
    this.redirected = false;
    this.rendered = false;
    this.primaryUserSet = false;
    this.samlAttributes = null;
    this.api = null;
  }

  add(command) {
    if (this.exec.finished || this.record.status !== "ok" || this.record.closed) {
      throw new ErrorCtor("This api object belongs to an action that has already finished");
    }
    let chars = RECORD_CALL_CHARS;
    for (let i = 1; i < command.length; i++) if (typeof command[i] === "string") chars += command[i].length;
    charge(this.exec, chars, "api." + command[0]);
    ArrayPrototypePush(this.record.commands, command);
  }

  setClaim(token, key, value) {
    const call = "api." + token + ".setCustomClaim";
    requireString(key, call + ": claim name");
    if (key === "") throw new TypeErrorCtor(call + ": claim name must not be empty");
    if (token === "accessToken" && key === "scope") {
      throw new ErrorCtor("Cannot set the 'scope' claim with setCustomClaim: use api.accessToken.addScope() or removeScope()");
    }
    if (RESTRICTED_CLAIMS.has(key) || RegExpPrototypeTest(AUTH0_NAMESPACE, key)) {
      logSink("warn", call + ": the claim '" + key + "' is restricted and will not be added to the token");
      return;
    }
    this.add([token + ".setCustomClaim", key, recordValue(this.exec, value, call)]);
  }

  setMetadata(kind, key, value) {
    const user = this.event.user;
    const meta = kind === "app" ? user.app_metadata : user.user_metadata;
    if (meta === null || typeof meta !== "object" || ArrayIsArray(meta)) {
      throw new ErrorCtor(kind === "app" ? "Unexpected app_metadata format. Must be a valid JSON object"
        : "Unexpected user_metadata format. Must be a valid JSON object.");
    }
    const call = kind === "app" ? "api.user.setAppMetadata" : "api.user.setUserMetadata";
    requireString(key, call + ": key");
    this.add([kind === "app" ? "user.setAppMetadata" : "user.setUserMetadata", key, recordValue(this.exec, value, call)]);
  }

  cacheRecords() {
    const state = this.state;
    if (state.cache === undefined) {
      const given = this.exec.payload.cache;
      state.cache = ObjectCreate(null);
      if (isPlainObject(given)) {
        const keys = ObjectKeys(given);
        for (let i = 0; i < keys.length; i++) {
          const r = given[keys[i]];
          if (r && typeof r.value === "string" && typeof r.expires_at === "number") setOwn(state.cache, keys[i], { value: r.value, expires_at: r.expires_at });
        }
      }
    }
    return state.cache;
  }

  onlineCheck(method) {
    const rt = this.event.refresh_token;
    if (rt !== null && typeof rt === "object" && rt.access === "online") throw new ErrorCtor("Cannot call " + method + " on an online refresh token.");
  }
}

function scopeArg(scope, call) {
  requireString(scope, call + ": scope");
  if (scope === "" || RegExpPrototypeTest(/\s/, scope)) throw new TypeErrorCtor(call + ": scope must be a single non-empty scope name");
  return scope;
}

function factor(value, allowed, call) {
  const selector = recordValue(null, value, call); // validate the copy: a getter cannot change it afterwards
  if (selector === null || typeof selector !== "object" || typeof selector.type !== "string") {
    throw new TypeErrorCtor(call + ": a factor must be an object like { type: 'otp' }");
  }
  if (ArrayPrototypeIndexOf(allowed, selector.type) === -1) {
    throw new TypeErrorCtor(call + ": unknown factor type '" + selector.type + "'; expected one of " + ArrayPrototypeJoin(allowed, ", "));
  }
  return selector;
}

function factorList(list, allowed, call) {
  if (!ArrayIsArray(list) || list.length === 0) throw new TypeErrorCtor(call + ": expected a non-empty array of factors");
  const out = [];
  for (let i = 0; i < list.length; i++) ArrayPrototypePush(out, factor(list[i], allowed, call));
  return out;
}

function additionalFactors(options, allowed, call) {
  return options !== null && typeof options === "object" && options.additionalFactors !== undefined
    ? factorList(options.additionalFactors, allowed, call) : [];
}

function cacheUsage(records, skipKey) {
  let total = 0, count = 0;
  const keys = ObjectKeys(records);
  const now = DateNow();
  for (let i = 0; i < keys.length; i++) {
    if (keys[i] === skipKey || records[keys[i]].expires_at <= now) continue;
    total += utf8Length(keys[i]) + utf8Length(records[keys[i]].value);
    count++;
  }
  return { total, count };
}

class AccessApi {
  #c; constructor(c) { this.#c = c; }
  deny(reason) {
    const c = this.#c;
    c.add(["access.deny", reason === undefined ? "" : StringCtor(reason)]);
    c.state.denied = true;
    return c.api;
  }
}

class AccessTokenApi {
  #c; constructor(c) { this.#c = c; }
  setCustomClaim(key, value) { this.#c.setClaim("accessToken", key, value); return this.#c.api; }
  addScope(scope) { this.#c.add(["accessToken.addScope", scopeArg(scope, "api.accessToken.addScope")]); }
  removeScope(scope) { this.#c.add(["accessToken.removeScope", scopeArg(scope, "api.accessToken.removeScope")]); }
}

class IdTokenApi {
  #c; constructor(c) { this.#c = c; }
  setCustomClaim(key, value) { this.#c.setClaim("idToken", key, value); return this.#c.api; }
}

class UserApi {
  #c; constructor(c) { this.#c = c; }
  setAppMetadata(key, value) { this.#c.setMetadata("app", key, value); return this.#c.api; }
  setUserMetadata(key, value) { this.#c.setMetadata("user", key, value); return this.#c.api; }
}

class MultifactorApi {
  #c; constructor(c) { this.#c = c; }
  enable(provider, options) {
    requireString(provider, "api.multifactor.enable: provider");
    if (ArrayPrototypeIndexOf(MFA_PROVIDERS, provider) === -1) {
      throw new TypeErrorCtor("api.multifactor.enable: unknown provider '" + provider + "'; expected one of " + ArrayPrototypeJoin(MFA_PROVIDERS, ", "));
    }
    const opts = options === undefined || options === null ? {} : recordValue(this.#c.exec, options, "api.multifactor.enable");
    const out = { provider };
    if (opts.allowRememberBrowser !== undefined) out.allowRememberBrowser = opts.allowRememberBrowser === true;
    if (opts.providerOptions !== undefined) out.providerOptions = opts.providerOptions;
    this.#c.add(["multifactor.enable", out]);
    return this.#c.api;
  }
}

class AuthenticationApi {
  #c; constructor(c) { this.#c = c; }
  challengeWith(selector, options) {
    const call = "api.authentication.challengeWith";
    this.#c.add(["authentication.challengeWith", factor(selector, CHALLENGE_FACTORS, call), additionalFactors(options, CHALLENGE_FACTORS, call)]);
  }
  challengeWithAny(list) { this.#c.add(["authentication.challengeWithAny", factorList(list, CHALLENGE_FACTORS, "api.authentication.challengeWithAny")]); }
  enrollWith(selector, options) {
    const call = "api.authentication.enrollWith";
    this.#c.add(["authentication.enrollWith", factor(selector, ENROLL_FACTORS, call), additionalFactors(options, ENROLL_FACTORS, call)]);
  }
  enrollWithAny(list) { this.#c.add(["authentication.enrollWithAny", factorList(list, ENROLL_FACTORS, "api.authentication.enrollWithAny")]); }
  recordMethod(providerUrl) {
    requireString(providerUrl, "api.authentication.recordMethod: provider_url");
    if (!RegExpPrototypeTest(/^https?:\/\/[^\s/]+/i, providerUrl)) throw new TypeErrorCtor("api.authentication.recordMethod: provider_url must be an http(s) URL");
    if (!this.#c.continuing) throw new ErrorCtor("api.authentication.recordMethod can only be called in onContinuePostLogin");
    this.#c.add(["authentication.recordMethod", providerUrl]);
    return this.#c.api;
  }
  setPrimaryUser(id) {
    const c = this.#c;
    if (c.primaryUserSet || c.state.primaryUser) throw new ErrorCtor("The primary user can only be altered once per transaction");
    if (typeof id !== "string" || id === "") throw new ErrorCtor("The provided primary_user_id must be a non-empty string");
    if (id.length > USER_ID_MAX) throw new ErrorCtor("The provided primary_user_id exceeds the maximum length.");
    c.add(["authentication.setPrimaryUser", id]);
    c.primaryUserSet = true;
    c.state.primaryUser = true;
  }
}

// Logins that cannot take the user anywhere (Auth0's canRedirect() is false for them): the
// non-interactive grants (refresh token, password / resource owner, token exchange, ...) and
// silent authentication (prompt=none). Read from the event the host sent, not the action's copy.
const NON_INTERACTIVE_PROTOCOLS = ["oauth2-refresh-token", "oauth2-password", "oauth2-resource-owner",
  "oauth2-resource-owner-jwt-bearer", "oauth2-access-token", "oauth2-token-exchange", "wstrust-usernamemixed",
  "delegation"];

function loginCanRedirect(exec) {
  const event = ownField(exec.payload, "event");
  if (!isPlainObject(event)) return true;
  const transaction = ownField(event, "transaction");
  const protocol = isPlainObject(transaction) ? ownField(transaction, "protocol") : undefined;
  if (typeof protocol === "string" && ArrayPrototypeIndexOf(NON_INTERACTIVE_PROTOCOLS, protocol) !== -1) return false;
  const request = ownField(event, "request");
  const query = isPlainObject(request) ? ownField(request, "query") : undefined;
  return !(isPlainObject(query) && ownField(query, "prompt") === "none");
}

class RedirectApi {
  #c; constructor(c) { this.#c = c; }
  canRedirect() { return loginCanRedirect(this.#c.exec); }
  sendUserTo(url, options) {
    const c = this.#c;
    if (c.rendered) throw new ErrorCtor("Redirect and render commands cannot be used in the same action.");
    requireString(url, "api.redirect.sendUserTo: url");
    if (parseUrl(url) === null) { const e = new TypeErrorCtor("Invalid URL"); e.code = "ERR_INVALID_URL"; e.input = url; throw e; }
    const query = options !== null && typeof options === "object" && options.query !== undefined && options.query !== null
      ? recordValue(c.exec, options.query, "api.redirect.sendUserTo") : {};
    const flat = {};
    const keys = ObjectKeys(query);
    for (let i = 0; i < keys.length; i++) setOwn(flat, keys[i], StringCtor(query[keys[i]]));
    c.add(["redirect.sendUserTo", url, flat]);
    c.redirected = true;
    c.state.redirected = true;
    return c.api;
  }
  encodeToken(options) {
    const event = this.#c.event;
    if (options === null || typeof options !== "object") throw new TypeErrorCtor("api.redirect.encodeToken: options must be an object");
    requireString(options.secret, "api.redirect.encodeToken: secret");
    if (options.secret === "") throw new TypeErrorCtor("api.redirect.encodeToken: secret must not be empty");
    const payload = options.payload === undefined ? {} : recordValue(null, options.payload, "api.redirect.encodeToken");
    if (!isPlainObject(payload)) throw new TypeErrorCtor("api.redirect.encodeToken: payload must be an object");
    const ttl = options.expiresInSeconds === undefined ? 900 : NumberCtor(options.expiresInSeconds);
    if (!NumberIsFinite(ttl) || ttl <= 0) throw new TypeErrorCtor("api.redirect.encodeToken: expiresInSeconds must be a positive number");
    const iat = MathFloor(DateNow() / 1000);
    const request = event.request || {};
    const claims = { iat, iss: request.hostname, sub: event.user.user_id, exp: iat + MathFloor(ttl), ip: request.ip };
    const keys = ObjectKeys(payload);
    for (let i = 0; i < keys.length; i++) setOwn(claims, keys[i], payload[keys[i]]);
    return jwtSignHS256(claims, options.secret);
  }
  validateToken(options) {
    const event = this.#c.event;
    const opts = options === null || typeof options !== "object" ? {} : options;
    requireString(opts.secret, "api.redirect.validateToken: secret");
    const name = opts.tokenParameterName || "session_token";
    const request = event.request || {};
    const params = ObjectCreate(null);
    const sources = [request.query, request.body];
    for (let s = 0; s < 2; s++) {
      const source = sources[s];
      if (source === null || typeof source !== "object") continue;
      const keys = ObjectKeys(source);
      for (let i = 0; i < keys.length; i++) params[keys[i]] = source[keys[i]];
    }
    const token = params[name];
    if (typeof token !== "string" || token === "") {
      throw new ErrorCtor("There is no parameter called '" + name + "' available in either the POST body or query string.");
    }
    const verdict = jwtVerifyHS256(token, opts.secret, { issuer: request.hostname, state: params.state, sub: event.user.user_id });
    if (typeof verdict === "string") throw new ErrorCtor("The session token is invalid: " + verdict);
    return verdict;
  }
}

class TransactionApi {
  #c; constructor(c) { this.#c = c; }
  setMetadata(key, value) {
    const c = this.#c;
    requireString(key, "api.transaction.setMetadata: key");
    if (key.length > TXN_KEY_MAX) throw new RangeErrorCtor("api.transaction.setMetadata: key must be at most " + TXN_KEY_MAX + " characters");
    if (value !== null && value !== undefined) {
      const t = typeof value;
      if (t !== "string" && t !== "number" && t !== "boolean") throw new TypeErrorCtor("api.transaction.setMetadata: value must be a string, number or boolean");
      if (t === "number" && (!NumberIsFinite(value) || (NumberIsInteger(value) && (value > 9007199254740991 || value < -9007199254740991)))) {
        throw new RangeErrorCtor("api.transaction.setMetadata: value must be a finite number within the safe integer range");
      }
      if (t === "string" && utf8Length(value) > TXN_VALUE_MAX) throw new RangeErrorCtor("api.transaction.setMetadata: value must be at most 8 KB");
    }
    const next = jsonClone(c.state.transactionMetadata);
    if (value === null || value === undefined) delete next[key]; else setOwn(next, key, value);
    if (utf8Length(JSONStringify(next)) > TXN_TOTAL_MAX) throw new RangeErrorCtor("api.transaction.setMetadata: transaction metadata must be at most 16 KB in total");
    c.add(["transaction.setMetadata", key, value === undefined ? null : value]);
    c.state.transactionMetadata = next;
    if (c.event.transaction === null || typeof c.event.transaction !== "object") c.event.transaction = {};
    c.event.transaction.metadata = jsonClone(next);
  }
}

class CacheApi {
  #c; constructor(c) { this.#c = c; }
  get(key) {
    if (typeof key !== "string") return undefined;
    const r = this.#c.cacheRecords()[key];
    if (r === undefined || r.expires_at <= DateNow()) return undefined;
    return { value: r.value, expires_at: r.expires_at };
  }
  set(key, value, options) {
    if (typeof key !== "string" || typeof value !== "string") return { type: "error", code: "FailedToSetCacheRecord" };
    if (utf8Length(key) > CACHE_MAX_KEY_BYTES) return { type: "error", code: "CacheKeySizeExceeded" };
    if (utf8Length(value) > CACHE_MAX_VALUE_BYTES) return { type: "error", code: "CacheValueSizeExceeded" };
    const now = DateNow();
    let expires = now + CACHE_DEFAULT_TTL_MS;
    if (options !== null && typeof options === "object") {
      let explicit = Infinity;
      if (options.ttl !== undefined) {
        const ttl = NumberCtor(options.ttl);
        if (!NumberIsFinite(ttl) || ttl <= 0) return { type: "error", code: "InvalidExpiry" };
        explicit = now + ttl;
      }
      if (options.expires_at !== undefined) {
        const at = NumberCtor(options.expires_at);
        if (!NumberIsFinite(at)) return { type: "error", code: "InvalidExpiry" };
        if (at <= now) return { type: "error", code: "ItemAlreadyExpired" };
        explicit = MathMin(explicit, at);
      }
      if (explicit !== Infinity) expires = explicit;
    }
    expires = MathMin(expires, now + CACHE_MAX_TTL_MS);
    const records = this.#c.cacheRecords();
    const used = cacheUsage(records, key);
    if (used.count + 1 > CACHE_MAX_ENTRIES || used.total + utf8Length(key) + utf8Length(value) > CACHE_MAX_TOTAL_BYTES) {
      return { type: "error", code: "CacheSizeExceeded" };
    }
    const entry = { value, expires_at: expires };
    this.#c.add(["cache.set", key, entry]);
    setOwn(records, key, entry);
    return { type: "success", record: { value, expires_at: expires } };
  }
  delete(key) {
    const records = this.#c.cacheRecords();
    if (typeof key !== "string" || records[key] === undefined) return { type: "error", code: "CacheKeyDoesNotExist" };
    this.#c.add(["cache.delete", key]);
    delete records[key];
    return { type: "success" };
  }
}

function expiryArg(at, call) {
  if (!at) throw new ErrorCtor("Either inactivity or absolute expiration time must be provided");
  const ms = NumberCtor(at);
  if (!NumberIsFinite(ms)) throw new TypeErrorCtor(call + ": expected milliseconds since the epoch");
  return ms;
}

class SessionApi {
  #c; constructor(c) { this.#c = c; }
  setExpiresAt(at) { this.#c.add(["session.setExpiresAt", expiryArg(at, "api.session.setExpiresAt")]); return this.#c.api; }
  setIdleExpiresAt(at) { this.#c.add(["session.setIdleExpiresAt", expiryArg(at, "api.session.setIdleExpiresAt")]); return this.#c.api; }
  revoke(reason, options) {
    requireString(reason, "api.session.revoke: reason");
    this.#c.add(["session.revoke", reason, { preserveRefreshTokens: !!(options && options.preserveRefreshTokens) }]);
    this.#c.state.denied = true;
    return this.#c.api;
  }
  setCookieMode(mode) {
    if (!mode) throw new ErrorCtor("Cookie mode must be provided");
    if (mode !== "persistent" && mode !== "non-persistent") throw new ErrorCtor("Invalid cookie mode: " + StringCtor(mode) + ". Valid values are 'persistent' and 'non-persistent'.");
    this.#c.add(["session.setCookieMode", mode]);
    return this.#c.api;
  }
  setMetadata(key, value) {
    const session = this.#c.event.session;
    if (session === null || typeof session !== "object") throw new ErrorCtor("Failed to set session metadata: Cannot set metadata on a session that does not exist.");
    const v = value === undefined ? null : value;
    validateSessionMetadata(key, v, "Failed to set session metadata: ");
    this.#c.add(["session.setMetadata", key, v]);
    return this.#c.api;
  }
  deleteMetadata(key) { if (typeof key === "string") this.#c.add(["session.setMetadata", key, null]); return this.#c.api; }
  evictMetadata() { this.#c.add(["session.evictMetadata"]); return this.#c.api; }
}

class RefreshTokenApi {
  #c; constructor(c) { this.#c = c; }
  setExpiresAt(at) { this.#c.onlineCheck("setExpiresAt"); this.#c.add(["refreshToken.setExpiresAt", expiryArg(at, "api.refreshToken.setExpiresAt")]); return this.#c.api; }
  setIdleExpiresAt(at) { this.#c.onlineCheck("setIdleExpiresAt"); this.#c.add(["refreshToken.setIdleExpiresAt", expiryArg(at, "api.refreshToken.setIdleExpiresAt")]); return this.#c.api; }
  revoke(reason) {
    requireString(reason, "api.refreshToken.revoke: reason");
    this.#c.add(["refreshToken.revoke", reason]);
    this.#c.state.denied = true;
    return this.#c.api;
  }
  setMetadata(key, value) {
    this.#c.onlineCheck("setMetadata");
    const v = value === undefined ? null : value;
    validateSessionMetadata(key, v, "Failed to set refresh token metadata: ");
    this.#c.add(["refreshToken.setMetadata", key, v]);
    return this.#c.api;
  }
  deleteMetadata(key) { this.#c.onlineCheck("deleteMetadata"); if (typeof key === "string") this.#c.add(["refreshToken.setMetadata", key, null]); return this.#c.api; }
  evictMetadata() { this.#c.onlineCheck("evictMetadata"); this.#c.add(["refreshToken.evictMetadata"]); return this.#c.api; }
}

class PromptApi {
  #c; constructor(c) { this.#c = c; }
  render(promptId, options) {
    const c = this.#c;
    if (c.redirected) throw new ErrorCtor("Redirect and render commands cannot be used in the same action.");
    if (c.rendered) throw new ErrorCtor("Only 1 render command per action is allowed.");
    requireString(promptId, "api.prompt.render: promptId");
    const opts = options === undefined || options === null ? {} : recordValue(c.exec, options, "api.prompt.render");
    if (!isPlainObject(opts)) throw new TypeErrorCtor("api.prompt.render: options must be an object like { fields, vars }");
    c.add(["prompt.render", promptId, opts]);
    c.rendered = true;
    c.state.redirected = true;
  }
}

class RulesApi {
  wasExecuted() { return false; }
}

function makePostLoginApi(ctx) {
  const c = new ApiCall(ctx);
  const api = {
    access: new AccessApi(c),
    accessToken: new AccessTokenApi(c),
    idToken: new IdTokenApi(c),
    user: new UserApi(c),
    multifactor: new MultifactorApi(c),
    authentication: new AuthenticationApi(c),
    redirect: new RedirectApi(c),
    transaction: new TransactionApi(c),
    cache: new CacheApi(c),
    session: new SessionApi(c),
    refreshToken: new RefreshTokenApi(c),
    samlResponse: new SamlResponseApi(c),
    prompt: new PromptApi(c),
    rules: new RulesApi(),
  };
  c.api = api;
  return api;
}

const SAML_SETTERS = {
  setAudience: "audience", setRecipient: "recipient", setDestination: "destination",
  setCreateUpnClaim: "createUpnClaim", setPassthroughClaimsWithNoMapping: "passthroughClaimsWithNoMapping",
  setMapUnknownClaimsAsIs: "mapUnknownClaimsAsIs", setMapIdentities: "mapIdentities",
  setSignatureAlgorithm: "signatureAlgorithm", setDigestAlgorithm: "digestAlgorithm",
  setLifetimeInSeconds: "lifetimeInSeconds", setSignResponse: "signResponse",
  setNameIdentifierFormat: "nameIdentifierFormat", setNameIdentifierProbes: "nameIdentifierProbes",
  setAuthnContextClassRef: "authnContextClassRef", setSigningCert: "signingCert",
  setIncludeAttributeNameFormat: "includeAttributeNameFormat", setTypedAttributes: "typedAttributes",
  setEncryptionCert: "encryptionCert", setEncryptionPublicKey: "encryptionPublicKey", setCert: "cert",
  setKey: "key", setRelayState: "RelayState", setIssuer: "issuer", setEncryptionAlgorithm: "encryptionAlgorithm",
};
const SAML_BOOLEAN = ["createUpnClaim", "passthroughClaimsWithNoMapping", "mapUnknownClaimsAsIs", "mapIdentities", "signResponse", "includeAttributeNameFormat", "typedAttributes"];
const SAML_MAX_BYTES = 10 * 1024;

function samlConfigValue(method, key, live) {
  const call = "api.samlResponse." + method;
  let value = live === undefined ? undefined : recordValue(null, live, call); // validate the copy (small: SAML values are bounded)
  if (method === "setNameIdentifierFormat" && value === undefined) value = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified";
  if (ArrayPrototypeIndexOf(SAML_BOOLEAN, key) !== -1) {
    if (typeof value !== "boolean") throw new TypeErrorCtor(call + ": expected a boolean");
  } else if (key === "lifetimeInSeconds") {
    if (typeof value !== "number" || !NumberIsInteger(value) || value <= 0) throw new TypeErrorCtor(call + ": expected a positive integer");
  } else if (key === "signatureAlgorithm") {
    if (value !== "rsa-sha256") throw new TypeErrorCtor(call + ": only 'rsa-sha256' is supported");
  } else if (key === "digestAlgorithm") {
    if (value !== "sha256") throw new TypeErrorCtor(call + ": only 'sha256' is supported");
  } else if (key === "nameIdentifierProbes") {
    if (!ArrayIsArray(value) || value.length > 10) throw new TypeErrorCtor(call + ": expected an array of at most 10 strings");
    for (let k = 0; k < value.length; k++) requireString(value[k], call + ": probe");
  } else {
    requireString(value, call + ": value");
  }
  return value;
}

function samlScalar(x) {
  return typeof x === "string" || typeof x === "boolean" || (typeof x === "number" && NumberIsFinite(x));
}

let samlSet = null;

class SamlResponseApi {
  #c; constructor(c) { this.#c = c; }
  static {
    samlSet = (self, method, key, value) => {
      const c = self.#c;
      c.add(["samlResponse.setConfig", key, samlConfigValue(method, key, value)]);
      return c.api;
    };
  }
  setAttribute(name, value) {
    const c = this.#c;
    requireString(name, "api.samlResponse.setAttribute: attribute");
    const v = value === undefined ? null : recordValue(null, value, "api.samlResponse.setAttribute");
    let valid = v === null || samlScalar(v);
    if (!valid && ArrayIsArray(v)) {
      valid = true;
      for (let i = 0; i < v.length; i++) if (!samlScalar(v[i])) valid = false;
    }
    if (!valid) throw new TypeErrorCtor("api.samlResponse.setAttribute: value must be a string, number, boolean, an array of those, or null");
    const copy = recordValue(null, v, "api.samlResponse.setAttribute");
    if (c.samlAttributes === null) c.samlAttributes = ObjectCreate(null);
    const before = c.samlAttributes[name];
    setOwn(c.samlAttributes, name, copy);
    if (utf8Length(JSONStringify(c.samlAttributes)) > SAML_MAX_BYTES) {
      if (before === undefined) delete c.samlAttributes[name]; else setOwn(c.samlAttributes, name, before);
      throw new RangeErrorCtor("The total size of the SAML attributes exceeds the limit of " + SAML_MAX_BYTES + " bytes.");
    }
    c.add(["samlResponse.setAttribute", name, copy]);
    return c.api;
  }
}
{
  const names = ObjectKeys(SAML_SETTERS);
  for (let i = 0; i < names.length; i++) {
    const method = names[i];
    const key = SAML_SETTERS[method];
    ObjectDefineProperty(SamlResponseApi.prototype, method, {
      value: { [method](value) {
        return samlSet(this, method, key, value);
      } }[method],
      writable: true, configurable: true, enumerable: false,
    });
  }
}

// The namespace classes' prototypes are shared by every action and execution of the isolate:
// frozen, so an action cannot rewrite what later actions record (e.g. wrap setCustomClaim).
// Each method is an accessor whose setter throws, so an assignment fails loudly even in
// sloppy-mode action code (a frozen data property would ignore it silently).
function lockMethods(proto) {
  const keys = ReflectOwnKeys(proto);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    const d = ReflectGetOwnPropertyDescriptor(proto, key);
    if (key === "constructor" || typeof d.value !== "function") continue;
    const method = d.value;
    ObjectDefineProperty(proto, key, {
      get() { return method; },
      set(_) { throw new TypeErrorCtor("api." + StringCtor(key) + " cannot be replaced: the api's methods are shared with the runtime"); },
      enumerable: d.enumerable, configurable: false,
    });
  }
  ObjectFreeze(proto);
}
for (const Api of [AccessApi, AccessTokenApi, IdTokenApi, UserApi, MultifactorApi, AuthenticationApi, RedirectApi,
  TransactionApi, CacheApi, SessionApi, RefreshTokenApi, SamlResponseApi, PromptApi, RulesApi, ApiCall]) {
  lockMethods(Api.prototype);
  ObjectFreeze(Api);
}

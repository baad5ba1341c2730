// The post-login flow runner: bound actions in order, each with a fresh deep copy of the event
// and its own api; every api call recorded as a command; deny stops after the current action,
// a redirect suspends; an uncaught error or a timeout fails that action and drops its commands.
// One JSON-ready result per execution; merging the commands is the host's job.

const flow = { actions: [], trigger: "" };

function installFlow(config) {
  flow.trigger = StringCtor(config.trigger || "post-login");
  flow.actions = [];
  const list = config.actions || [];
  for (let i = 0; i < list.length; i++) {
    const a = list[i];
    ArrayPrototypePush(flow.actions, {
      name: StringCtor(a.name),
      module: {
        name: StringCtor(a.name), code: StringCtor(a.code), state: "new", exports: undefined, error: undefined,
        // the action's npm packages: {"node_modules/<name>": {key, files}} (lazy/cjs.js)
        packages: isPlainObject(a.packages) ? a.packages : undefined, tree: undefined,
      },
      secrets: isPlainObject(a.secrets) ? a.secrets : {},
    });
  }
}

const HANDLERS = { execute: "onExecutePostLogin", continue: "onContinuePostLogin" };

function handlerOf(action, which) {
  const exported = loadModule(action.module);
  if (exported === null || (typeof exported !== "object" && typeof exported !== "function")) {
    throw new TypeErrorCtor("Action code must export an object (module.exports) with a function '" + which + "'");
  }
  const handler = exported[which];
  if (typeof handler !== "function") {
    throw new TypeErrorCtor("Handler '" + which + "' is not a function. Make sure the action code contains `exports." + which + " = async (event, api) => { ... }`");
  }
  return handler;
}

function lacksHandler(action, which) {
  let exported;
  try { exported = loadModule(action.module); } catch (_) { return false; }
  return exported === null || (typeof exported !== "object" && typeof exported !== "function")
    ? false : typeof exported[which] !== "function";
}

// Keys come from user code ("__proto__" included): define, never assign.
function setOwn(target, key, value) {
  ObjectDefineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
}

function applyMetadataPatch(target, patch) {
  const keys = ObjectKeys(patch);
  for (let i = 0; i < keys.length; i++) {
    const v = patch[keys[i]];
    if (v === null) delete target[keys[i]];
    else setOwn(target, keys[i], jsonClone(v));
  }
}

function actionEvent(eventText, state, action) {
  const event = JSONParse(eventText);
  if (!isPlainObject(event.user)) event.user = {};
  if (!isPlainObject(event.user.app_metadata)) event.user.app_metadata = {};
  if (!isPlainObject(event.user.user_metadata)) event.user.user_metadata = {};
  applyMetadataPatch(event.user.app_metadata, state.appMetadata);
  applyMetadataPatch(event.user.user_metadata, state.userMetadata);
  if (!isPlainObject(event.transaction)) event.transaction = {};
  event.transaction.metadata = jsonClone(state.transactionMetadata);
  event.secrets = jsonClone(action.secrets);
  return event;
}

// An error's text is the action's to choose: kept to a size the host and the logs can carry.
const ERROR_MESSAGE_MAX = 8 * 1024;
const ERROR_STACK_MAX = 16 * 1024;

function clip(text, max) {
  if (text.length <= max) return text;
  return StringPrototypeSlice(text, 0, max) + "... [" + (text.length - max) + " more characters]";
}

function describeError(err, action) {
  const message = clip(errorMessage(err), ERROR_MESSAGE_MAX);
  const raw = errorStack(err);
  const stack = raw === undefined ? undefined : fileStack(clip(raw, ERROR_STACK_MAX), action.name);
  const out = { message };
  if (stack !== undefined) out.stack = stack;
  return out;
}

function logsSince(exec, from) {
  const entries = ArrayPrototypeSlice(exec.logs, from);
  const lines = [];
  for (let i = 0; i < entries.length; i++) ArrayPrototypePush(lines, entries[i][1]);
  return lines.length ? ArrayPrototypeJoin(lines, "\n") + "\n" : "";
}

// The ISO text of the last millisecond asked for: an action's start and end, and the next
// action's start, mostly fall in the same millisecond, and formatting one costs ~1.5 us.
let isoMs = NaN;
let isoText = "";
function isoTime(ms) {
  if (ms !== isoMs) {
    isoText = DatePrototypeToISOString(new DateCtor(ms));
    isoMs = ms;
  }
  return isoText;
}

function raceAbort(exec, promise) {
  return new PromiseCtor((resolve, reject) => {
    exec.abortWith = reject;
    PromisePrototypeThen(promise, resolve, reject);
  });
}

async function runPostLogin(exec) {
  // the payload is read through own properties only (see handleInput in 70_host.js)
  const payload = exec.payload;
  const eventIn = ownField(payload, "event");
  const eventText = JSONStringify(eventIn);
  const resume = ownField(payload, "resume") || null;
  const start = resume ? NumberCtor(ownField(resume, "index")) : 0;
  const transactionIn = isPlainObject(eventIn) ? ownField(eventIn, "transaction") : undefined;
  const state = {
    appMetadata: ObjectCreate(null), userMetadata: ObjectCreate(null),
    transactionMetadata: isPlainObject(transactionIn) && isPlainObject(ownField(transactionIn, "metadata"))
      ? ownField(transactionIn, "metadata") : {},
    denied: false, redirected: false,
  };
  const results = [];
  let status = "completed";
  let error = null;
  let resumeAt = -1;
  for (let i = start; i < flow.actions.length; i++) {
    const action = flow.actions[i];
    const which = resume && i === start ? HANDLERS.continue : HANDLERS.execute;
    // an action that redirected without an onContinuePostLogin: the flow goes on with the next
    // action, as Auth0 does (a module that fails to load still fails below)
    if (which === HANDLERS.continue && lacksHandler(action, which)) continue;
    const record = { name: action.name, status: "ok", started_at: isoTime(DateNow()), duration_ms: 0, commands: [] };
    const logFrom = exec.logs.length;
    const egressFrom = exec.egress.length;
    markProgress(exec.id, i);
    const began = DateNow();
    const ctx = { exec, state, record, event: null, action, index: i, continuing: which === HANDLERS.continue };
    try {
      const handler = handlerOf(action, which);
      const event = actionEvent(eventText, state, action);
      ctx.event = event;
      const api = makePostLoginApi(ctx);
      if (ObjectPrototypeToString(handler) !== "[object AsyncFunction]") {
        logSink("warn", "Warning: " + which + " of action '" + action.name + "' is not an async function; it was run as a plain function.");
      }
      await raceAbort(exec, PromiseResolve(ReflectApply(handler, undefined, [event, api])));
      assertIntrinsicsIntact();
    } catch (thrown) {
      // the stack is read first, through the action's Error.prepareStackTrace if it set one
      let err = thrown;
      let described = describeError(err, action);
      // a failing (or timed-out) action may have changed built-ins before failing: checked all
      // the same, and the change is what gets reported (it is why the isolate is retired)
      try { assertIntrinsicsIntact(); } catch (tamper) { err = tamper; described = describeError(tamper, action); }
      const timedOut = err !== null && typeof err === "object" && err.actionhostTimeout === true;
      record.status = timedOut ? "timeout" : "error";
      record.commands = [];
      record.error = described;
      error = { action: action.name, class: timedOut ? "action_timeout" : "action_error", message: record.error.message };
      if (record.error.stack !== undefined) error.stack = record.error.stack;
      status = "failed";
    }
    exec.abortWith = null;
    record.closed = true; // its api refuses further calls (a timer left behind, a stashed api)
    const ended = DateNow();
    record.duration_ms = ended - began;
    record.ended_at = isoTime(ended);
    record.logs = logsSince(exec, logFrom);
    // outbound requests this action made (48_fetch.js), for the execution record and /metrics
    if (exec.egress.length > egressFrom) record.egress = ArrayPrototypeSlice(exec.egress, egressFrom);
    ArrayPrototypePush(results, record);
    if (status === "failed") break;
    foldMetadata(state, record.commands);
    if (state.denied) { status = "denied"; break; }
    if (state.redirected) { status = "redirect"; resumeAt = i; break; }
  }
  // the per-execution tier of the built-in check (95_seal.js), before the next execution starts
  const late = lateTampering();
  if (late !== null) {
    status = "failed";
    error = { action: results.length > 0 ? results[results.length - 1].name : null, class: "action_error",
      message: "Action modified the built-in " + late + ", which actions share with the runtime; the change was discarded" };
  }
  const out = { status, actions: results, transaction_metadata: state.transactionMetadata };
  if (error !== null) out.error = error;
  if (status === "redirect") out.resume_index = resumeAt;
  return out;
}

function assertIntrinsicsIntact() {
  let tampered;
  try {
    resetErrorKnobs();
    tampered = checkIntrinsics();
  } catch (err) {
    tampered = "a built-in (the check itself was made to throw)";
  }
  if (tampered !== null) {
    retireIsolate(tampered);
    throw new ErrorCtor("Action modified the built-in " + tampered + ", which actions share with the runtime; the change was discarded");
  }
}

function lateTampering() {
  let tampered;
  try {
    tampered = checkIntrinsicsAtEnd();
  } catch (err) {
    tampered = "a built-in (the check itself was made to throw)";
  }
  if (tampered !== null) retireIsolate(tampered);
  return tampered;
}

// Later actions see the metadata queued by earlier ones (the setting action does not).
function foldMetadata(state, commands) {
  for (let i = 0; i < commands.length; i++) {
    const c = commands[i];
    if (c[0] === "user.setAppMetadata") setOwn(state.appMetadata, c[1], c[2]);
    else if (c[0] === "user.setUserMetadata") setOwn(state.userMetadata, c[1], c[2]);
  }
}

registerJobKind("post-login", { install: installFlow, run: runPostLogin });

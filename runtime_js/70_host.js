// The step protocol between the host (sandbox/isolate.py) and this isolate. One call of the
// step function takes everything the host queued (jobs, I/O replies, cancellations) from the
// shared input buffer and returns, as one JSON string, every finished job, every I/O request
// and the delay until the next timer. Jobs run one at a time, in arrival order, so logs and
// timers always belong to the execution that is running. Work that finishes after the step
// returned (in its microtasks) reaches the host with the wake: the same JSON, left in the
// shared outbox, so an async flow costs one step instead of two.

const host = {
  wake: globalThis.__actionhost_wake,
  inbuf: globalThis.__actionhost_inbuf,
  outbuf: globalThis.__actionhost_outbuf,
  token: null,
  inStep: false,
  notified: false,
  pendingInput: "",
  done: [],
  io: [],
  requeue: [],
  retire: "",
  queue: [],
  jobKinds: new SafeMap(),
  ioWaiters: new SafeMap(),
  ioSeq: 0,
  outSeq: 0,
};
delete globalThis.__actionhost_wake;
delete globalThis.__actionhost_inbuf;
delete globalThis.__actionhost_outbuf;
// Shared buffer layout: [0] Int32 input length (UTF-16 units), [1] Int32 "more chunks follow";
// bytes 8..16 Float64 id of the running job, bytes 16..20 Int32 index of its running action
// (-1: none) -- written here, read by the host when it has to destroy a stuck isolate, so the
// failure names the job and the action; the input text starts at byte 24.
const inHeader = new Int32ArrayCtor(host.inbuf, 0, 2);
const progressJob = new Float64ArrayCtor(host.inbuf, 8, 1);
const progressAction = new Int32ArrayCtor(host.inbuf, 16, 1);
const inText = new Uint16ArrayCtor(host.inbuf, 24);
function markProgress(jobId, actionIndex) { progressJob[0] = jobId; progressAction[0] = actionIndex; }
// Outbox layout (sandbox/driver.py): [0] Int32 length of the text (UTF-16 units; the host
// zeroes it when it has taken the text), [1] Int32 1 once the host takes texts with the wake,
// the text from byte 8.
const outHeader = new Int32ArrayCtor(host.outbuf, 0, 2);
const outText = new Uint16ArrayCtor(host.outbuf, 8);

let active = null; // the execution running now
function activeExecution() { return active; }

const LOGS_MAX_BYTES = 256 * 1024;
const LOGS_TRUNCATED = "[logs truncated: this execution's output exceeded 256 KiB]";

function logSink(level, text) {
  const exec = active;
  if (exec === null || exec.finished) return;
  if (exec.logBytes >= LOGS_MAX_BYTES) return;
  exec.logBytes += text.length + 1;
  if (exec.logBytes >= LOGS_MAX_BYTES) text = LOGS_TRUNCATED;
  ArrayPrototypePush(exec.logs, [level, text]);
}

function runAs(owner, fn, args) {
  if (owner === null || owner.finished) return;
  try {
    ReflectApply(fn, undefined, args);
  } catch (err) {
    owner.abort(err);
  }
}

function notifyHost() {
  if (host.inStep || host.notified) return;
  if (outHeader[1] === 1 && outHeader[0] === 0) {
    const text = takeOutput(null, outText.length);
    if (text !== null) {
      for (let i = 0; i < text.length; i++) outText[i] = StringPrototypeCharCodeAt(text, i);
      outHeader[0] = text.length;
      host.wake(); // the host copies the text out before this returns
      return;
    }
  }
  // too much to carry (or a host that does not take texts): the host collects it with a step
  host.notified = true;
  host.wake();
}

// A host call from inside an execution (fetch, cache on a shared store, ...): resolved by a
// later step's `io` reply.
// The request carries the id of the execution that made it (-1: none), so the host can bound
// it by that execution's budget and count it against that execution's caps.
function hostCall(kind, args) {
  const exec = active;
  const id = ++host.ioSeq;
  return new PromiseCtor((resolve, reject) => {
    host.ioWaiters.set(id, { resolve, reject, exec });
    ArrayPrototypePush(host.io, [id, kind, args, exec === null ? -1 : exec.id]);
    notifyHost();
  });
}

function registerJobKind(kind, handler) { host.jobKinds.set(kind, handler); }

function readInput() {
  const length = inHeader[0];
  const more = inHeader[1];
  inHeader[0] = 0;
  if (length === 0) return "";
  let text = "";
  for (let i = 0; i < length; i += 8192) {
    text += ReflectApply(StringFromCharCode, null, TypedArrayPrototypeSubarray(inText, i, MathMin(length, i + 8192)));
  }
  if (more) { host.pendingInput += text; return ""; }
  text = host.pendingInput + text;
  host.pendingInput = "";
  return text;
}

function finishJob(exec, result) {
  if (exec.finished) return;
  exec.finished = true;
  clearTimersOf(exec);
  ArrayPrototypePush(host.done, doneText(exec.id, result));
  if (active === exec) { active = null; markProgress(-1, -1); }
  // the host hears once the queue has run dry (or a job waits on a timer or I/O, which tell it
  // themselves): a batch of jobs costs one more step, not one per job
  if (host.queue.length > 0) afterMicrotasks(startQueuedJob);
  else notifyHost();
}

function startQueuedJob() {
  startNextJob();
  if (active === null) { notifyHost(); return; } // nothing started (a retiring isolate requeues)
  // A job still running once the microtasks have run dry waits on a timer or on I/O (which
  // tell the host themselves) or on a promise that never settles (which does not): then what
  // finished before it goes to the host now, not when the stuck job reaches its deadline.
  const started = active;
  afterMicrotasks(() => { if (active === started && host.done.length > 0) notifyHost(); });
}

// The next job starts in a new task of the isolate's loop, i.e. after the microtask queue has
// run dry: async work a finished execution left behind (an un-awaited loop of awaits) runs
// out with no execution active (its logs dropped, its timers refused) instead of inside the
// next one. Atomics.notify on a waitAsync waiter queues that task (~2 us, no host round trip).
// An endless microtask loop never lets it run: the step deadline destroys the isolate.
// Functions queued while a fence is on its way run together, in order, when it comes.
const fenceCell = new Int32ArrayCtor(new SharedArrayBufferCtor(4));
let fenceDue = [];
function afterMicrotasks(fn) {
  ArrayPrototypePush(fenceDue, fn);
  if (fenceDue.length > 1) return;
  PromisePrototypeThen(ReflectApply(AtomicsWaitAsync, undefined, [fenceCell, 0, 0]).value, () => {
    const due = fenceDue;
    fenceDue = [];
    for (let i = 0; i < due.length; i++) due[i]();
  });
  ReflectApply(AtomicsNotify, undefined, [fenceCell, 0]);
}

function startNextJob() {
  while (active === null && host.queue.length > 0) {
    const exec = ArrayPrototypeShift(host.queue);
    if (host.retire !== "") { ArrayPrototypePush(host.requeue, exec.id); continue; }
    const handler = host.jobKinds.get(exec.kind);
    if (handler === undefined) {
      finishJob(exec, { status: "failed", error: { class: "platform_error", message: "unknown job kind " + exec.kind } });
      continue;
    }
    active = exec;
    markProgress(exec.id, -1);
    let running;
    try {
      running = PromiseResolve(handler.run(exec));
    } catch (err) {
      running = PromiseResolve({ status: "failed", error: { class: "platform_error", message: errorMessage(err) } });
    }
    PromisePrototypeThen(running, (result) => finishJob(exec, result),
      (err) => finishJob(exec, { status: "failed", error: { class: "platform_error", message: errorMessage(err) } }));
  }
}

function newExecution(id, kind, payload) {
  const exec = {
    id, kind, payload, finished: false, logs: [], logBytes: 0, timerCount: 0, recordedChars: 0,
    egress: [], // one trace per outbound request (48_fetch.js), for the execution record
    abortWith: null,
    abort(err) { if (!this.finished && this.abortWith !== null) this.abortWith(err); },
  };
  return exec;
}

// The host's message is read through own properties only, with index loops: a step may run
// while an action is suspended, after it planted a getter on Object.prototype or replaced the
// array iterator, and this message carries other executions' payloads.
function ownField(object, key) {
  return ObjectPrototypeHasOwnProperty(object, key) ? object[key] : undefined;
}

function handleInput(msg) {
  // a spare for flows with npm packages loads Node's built-ins they use before it has a flow
  // (sandbox/isolate.py SparePool): ~45 ms less for the first execution after such a deploy
  const preload = ownField(msg, "preload");
  if (preload !== undefined && activeExecution() === null) {
    for (let i = 0; i < preload.length; i++) {
      try { requireBuiltin(StringCtor(preload[i])); } catch (_) { /* loaded on demand instead */ }
    }
  }
  const install = ownField(msg, "install");
  if (install !== undefined) {
    const kind = ownField(install, "kind");
    const handler = host.jobKinds.get(kind);
    if (handler === undefined) throw new ErrorCtor("unknown job kind " + kind);
    const budget = ownField(install, "buffer_budget");
    if (typeof budget === "number") BUFFER_BUDGET = budget;
    handler.install(install);
  }
  const io = ownField(msg, "io");
  if (io !== undefined) {
    for (let i = 0; i < io.length; i++) {
      const reply = io[i];
      const waiter = host.ioWaiters.get(reply[0]);
      if (waiter === undefined) continue;
      host.ioWaiters.delete(reply[0]);
      if (waiter.exec === null || waiter.exec.finished) continue;
      if (reply[1]) waiter.resolve(reply[2]); else waiter.reject(new ErrorCtor(StringCtor(reply[2])));
    }
  }
  const cancel = ownField(msg, "cancel");
  if (cancel !== undefined) {
    for (let i = 0; i < cancel.length; i++) cancelJob(cancel[i][0], cancel[i][1]);
  }
  const jobs = ownField(msg, "jobs");
  if (jobs !== undefined) {
    for (let i = 0; i < jobs.length; i++) {
      const job = jobs[i];
      ArrayPrototypePush(host.queue, newExecution(job[0], job[1], job[2]));
    }
  }
}

function cancelJob(id, reason) {
  if (active !== null && active.id === id) {
    const err = new ErrorCtor(reason);
    err.actionhostTimeout = true;
    active.abort(err);
    return;
  }
  for (let i = 0; i < host.queue.length; i++) {
    if (host.queue[i].id === id) {
      ArrayPrototypeSplice(host.queue, i, 1);
      ArrayPrototypePush(host.done, doneText(id, { status: "failed", error: { class: "action_timeout", message: reason } }));
      return;
    }
  }
}

function retireIsolate(reason) { if (host.retire === "") host.retire = reason; }

function step(token) {
  if (host.token === null) host.token = token;
  else if (token !== host.token) throw new ErrorCtor("step refused");
  if (host.inStep) throw new ErrorCtor("step refused");
  host.inStep = true;
  host.notified = false;
  let failure = null;
  try {
    const text = readInput();
    if (text !== "") handleInput(JSONParse(text));
    fireDueTimers();
    startNextJob();
  } catch (err) {
    failure = errorMessage(err);
  } finally {
    host.inStep = false;
  }
  return takeOutput(failure, Infinity);
}

// Everything the host has not heard yet, as one JSON text, if it is at most `room` characters
// (else null, and nothing is taken): finished jobs (each already serialised, see doneText),
// I/O requests, requeued jobs, the retire reason, the delay until the next timer. `seq` orders
// the outputs: a step's reply and a wake's text can reach the host's loop in either order, and
// only the latest one's timer stands.
function takeOutput(failure, room) {
  const rest = { io: host.io, timer: nextTimerDelay(), seq: host.outSeq + 1 };
  if (failure !== null) rest.failure = failure;
  if (host.requeue.length > 0) rest.requeue = host.requeue;
  if (host.retire !== "") rest.retire = host.retire;
  let restText;
  try {
    restText = runtimeStringify(rest);
  } catch (err) {
    restText = runtimeStringify({ io: [], timer: -1, failure: "step output not serialisable: " + errorMessage(err) });
  }
  let size = restText.length + 10;
  for (let i = 0; i < host.done.length && size <= room; i++) size += host.done[i].length + 1;
  if (size > room) return null;
  const text = "{\"done\":[" + ArrayPrototypeJoin(host.done, ",") + "]," + StringPrototypeSlice(restText, 1);
  host.outSeq++;
  host.done = [];
  host.io = [];
  host.requeue = [];
  return text;
}

// Each finished job is serialised on its own, so one result the host cannot take (not JSON,
// or too big to carry) fails that job alone, with a reason, and never the step.
const RESULT_MAX_CHARS = 4 * 1024 * 1024;
function doneText(id, result) {
  let text;
  try {
    text = runtimeStringify([id, result]);
  } catch (err) {
    return runtimeStringify([id, { status: "failed", error: { class: "platform_error", message: "the execution's result is not serialisable: " + errorMessage(err) } }]);
  }
  if (text.length > RESULT_MAX_CHARS) {
    return runtimeStringify([id, { status: "failed", error: { class: "action_error",
      message: "the execution's result is " + text.length + " characters of JSON, over the limit of " + RESULT_MAX_CHARS + "; nothing it recorded was applied" } }]);
  }
  return text;
}

ObjectDefineProperty(globalThis, "__actionhost_step", {
  value: step, writable: false, configurable: false, enumerable: false,
});

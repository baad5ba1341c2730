// Timers driven by the host: each step fires the timers that are due and tells the host when
// the next one is, so the host schedules the next step (mini-racer's own setTimeout, built on
// Atomics.waitAsync, throws for a delay of 0 and never fires without one).
// Timers belong to the execution that set them and die with it.

const TIMERS_MAX_PER_EXECUTION = 1000;
let timerSeq = 0;
const timers = new SafeMap(); // id -> {at, fn, args, repeat, owner}

function addTimer(fn, delay, args, repeat) {
  const owner = activeExecution();
  if (owner === null) throw new ErrorCtor("timers can only be set while an execution runs");
  if (typeof fn !== "function") throw new TypeErrorCtor('The "callback" argument must be of type function');
  if (owner.timerCount >= TIMERS_MAX_PER_EXECUTION) throw new RangeErrorCtor("too many timers in one execution");
  let ms = NumberCtor(delay);
  if (!(ms >= 1) || !NumberIsFinite(ms)) ms = repeat ? 1 : 0;
  const id = ++timerSeq;
  owner.timerCount++;
  timers.set(id, { at: DateNow() + ms, fn, args, repeat: repeat ? ms : 0, delay: ms, owner });
  // set outside a step (in a microtask): the host must learn when to take the next step
  notifyHost();
  return id;
}

function clearTimer(id) {
  const t = timers.get(NumberCtor(id));
  if (t !== undefined) { t.owner.timerCount--; timers.delete(NumberCtor(id)); }
}

function clearTimersOf(owner) {
  const ids = timers.keys();
  for (let i = 0; i < ids.length; i++) {
    if (timers.get(ids[i]).owner === owner) timers.delete(ids[i]);
  }
  owner.timerCount = 0;
}

// Runs every due timer (each with its owner active); returns ms until the next one, or -1.
function fireDueTimers() {
  const now = DateNow();
  const ids = timers.keys();
  let next = -1;
  for (let i = 0; i < ids.length; i++) {
    const t = timers.get(ids[i]);
    if (t === undefined) continue;
    if (t.at > now) {
      if (next === -1 || t.at - now < next) next = t.at - now;
      continue;
    }
    if (t.repeat) t.at = now + t.repeat; else { timers.delete(ids[i]); t.owner.timerCount--; }
    runAs(t.owner, t.fn, t.args);
  }
  return next;
}

function nextTimerDelay() {
  const ids = timers.keys();
  if (ids.length === 0) return -1;
  const now = DateNow();
  let next = -1;
  for (let i = 0; i < ids.length; i++) {
    const d = MathMax(0, timers.get(ids[i]).at - now);
    if (next === -1 || d < next) next = d;
  }
  return next;
}

function defineGlobalFunction(name, fn) {
  try {
    ObjectDefineProperty(globalThis, name, { value: fn, writable: true, configurable: true, enumerable: false });
  } catch (_) {
    globalThis[name] = fn; // a host that declared it with `var` (mini-racer's Python layer)
  }
}

// What the globals return, as Node's do: a Timeout (an Immediate for setImmediate) with ref/
// unref/hasRef/refresh/close, whose primitive value is the timer's id, so `clearTimeout(+t)`,
// `clearTimeout(t)` and libraries' `setTimeout(...).unref()` all work. A timer never keeps an
// execution alive here (it dies with it), so ref/unref only change what hasRef() says.
class Timeout {
  #id;
  #refed = true;
  constructor(id) { this.#id = id; }
  static idOf(value) { return value !== null && typeof value === "object" && #id in value ? value.#id : NumberCtor(value); }
  ref() { this.#refed = true; return this; }
  unref() { this.#refed = false; return this; }
  hasRef() { return this.#refed; }
  refresh() {
    const t = timers.get(this.#id);
    if (t !== undefined) t.at = DateNow() + (t.repeat || t.delay);
    return this;
  }
  close() { clearTimer(this.#id); return this; }
  [SymbolToPrimitive]() { return this.#id; }
}

class Immediate {
  #id;
  #refed = true;
  constructor(id) { this.#id = id; }
  static idOf(value) { return value !== null && typeof value === "object" && #id in value ? value.#id : NaN; }
  ref() { this.#refed = true; return this; }
  unref() { this.#refed = false; return this; }
  hasRef() { return this.#refed; }
}

function timerId(value) {
  const immediate = Immediate.idOf(value);
  return immediate === immediate ? immediate : Timeout.idOf(value); // NaN: not an Immediate
}

defineGlobalFunction("setTimeout", function setTimeout(fn, delay, ...args) { return new Timeout(addTimer(fn, delay, args, false)); });
defineGlobalFunction("setInterval", function setInterval(fn, delay, ...args) { return new Timeout(addTimer(fn, delay, args, true)); });
defineGlobalFunction("setImmediate", function setImmediate(fn, ...args) { return new Immediate(addTimer(fn, 0, args, false)); });
defineGlobalFunction("clearTimeout", function clearTimeout(id) { clearTimer(timerId(id)); });
defineGlobalFunction("clearInterval", function clearInterval(id) { clearTimer(timerId(id)); });
defineGlobalFunction("clearImmediate", function clearImmediate(id) { clearTimer(timerId(id)); });
defineGlobalFunction("queueMicrotask", function queueMicrotask(fn) {
  if (typeof fn !== "function") throw new TypeErrorCtor('The "callback" argument must be of type function');
  const owner = activeExecution();
  PromisePrototypeThen(PromiseResolve(undefined), () => runAs(owner, fn, []));
});
try { delete globalThis.__timer_manager; } catch (_) { /* not present without the package's Python layer */ }

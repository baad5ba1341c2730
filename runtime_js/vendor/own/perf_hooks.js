// Node's `perf_hooks` for actions: performance.now() at millisecond resolution (no finer clock is
// offered to actions), marks and measures as no-ops. actionhost's own code, run as library code.
"use strict";

const process = require("process");
const origin = Date.now() - process.uptime() * 1000;

const performance = {
  timeOrigin: origin,
  now: () => process.uptime() * 1000,
  mark: () => undefined,
  measure: () => undefined,
  clearMarks: () => undefined,
  clearMeasures: () => undefined,
  getEntries: () => [],
  getEntriesByName: () => [],
  getEntriesByType: () => [],
  toJSON: () => ({ timeOrigin: origin }),
};

module.exports = { performance, constants: {}, PerformanceObserver: class PerformanceObserver { observe() {} disconnect() {} } };

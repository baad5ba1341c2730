// Node's `os` for actions: harmless constants of a small Linux machine, nothing of the host's.
// actionhost's own code, run as library code.
"use strict";

const process = require("process");

module.exports = {
  EOL: "\n",
  devNull: "/dev/null",
  constants: { signals: {}, errno: {}, priority: {}, dlopen: {}, UV_UDP_REUSEADDR: 4 },
  platform: () => "linux",
  type: () => "Linux",
  arch: () => "x64",
  machine: () => "x86_64",
  release: () => "6.1.0",
  version: () => "#1 SMP",
  hostname: () => "localhost",
  homedir: () => "/home/node",
  tmpdir: () => "/tmp",
  endianness: () => "LE",
  uptime: () => process.uptime(),
  loadavg: () => [0, 0, 0],
  totalmem: () => 128 * 1024 * 1024,
  freemem: () => 64 * 1024 * 1024,
  availableParallelism: () => 1,
  cpus: () => [{ model: "Virtual CPU", speed: 0, times: { user: 0, nice: 0, sys: 0, idle: 0, irq: 0 } }],
  networkInterfaces: () => ({}),
  userInfo: () => ({ uid: 1000, gid: 1000, username: "node", homedir: "/home/node", shell: null }),
  getPriority: () => 0,
  setPriority: () => {
    const err = new Error("os.setPriority() is not available to actions");
    err.code = "ERR_ACCESS_DENIED";
    throw err;
  },
};

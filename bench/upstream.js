"use strict";
// The remote API of the bench's egress flow (bench/workload_egress): answers GET /score with a
// small JSON body over keep-alive HTTP, on Node's standard library only. Both actionhost and the
// node:vm reference call it, so its cost is the same on both sides.
//
//   node bench/upstream.js --port P      (prints "listening on P" when ready)
const http = require("node:http");

const at = process.argv.indexOf("--port");
const port = at >= 0 ? Number(process.argv[at + 1]) : 0;
const server = http.createServer((req, res) => {
  if (req.method === "GET" && req.url.startsWith("/score")) {
    const body = JSON.stringify({ score: 0.12, model: "bench" });
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
    res.end(body);
    return;
  }
  res.writeHead(404, { "content-type": "application/json" });
  res.end('{"error":"not found"}');
});
server.keepAliveTimeout = 60000;
server.listen(port, "127.0.0.1", () => console.log(`listening on ${server.address().port}`));

"""Node's `http` and `https` client modules (runtime_js/49_http.js): ClientRequest and
IncomingMessage over the host's fetch, end to end against the local HTTPS upstream
(tests/upstream.py), and the shapes libraries rely on (events in order, headers as Node
builds them, errors with Node's codes)."""

from __future__ import annotations

import time

import orjson
import pytest

from conftest import make_flow, payload
from upstream import egress_box, upstream  # noqa: F401 - the fixtures




async def run(box, body: str, budget: float = 5.0, prelude: str = ""):
    code = prelude + "\nexports.onExecutePostLogin = async (event, api) => {\n  const out = {};\n" + body + \
        "\n  api.idToken.setCustomClaim('out', out);\n};"
    return await box.run("t-http", make_flow(code), payload(), budget=budget)


async def claims(box, body: str, budget: float = 5.0, prelude: str = ""):
    result = await run(box, body, budget, prelude)
    assert result.status == "completed", result.error
    return result.actions[0]["commands"][0][2]


# A helper real actions write around https.request: resolve with status and parsed body.
REQUEST_JSON = """
const https = require('https');
function requestJson(url, method, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = https.request(url, {
      method,
      headers: { 'Content-Type': 'application/json', ...(data ? { 'Content-Length': Buffer.byteLength(data) } : {}), ...headers },
    }, (res) => {
      let raw = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => { raw += chunk; });
      res.on('end', () => {
        try { resolve({ status: res.statusCode, headers: res.headers, body: JSON.parse(raw) }); } catch (e) { reject(e); }
      });
    });
    req.on('error', reject);
    if (data) req.write(data);
    req.end();
  });
}
"""


async def test_https_request_with_a_json_body(egress_box, upstream):  # noqa: F811
    out = await claims(egress_box, f"""
      const res = await requestJson('{upstream.url("/echo?src=https")}', 'POST', {{ user: event.user.user_id, n: 1 }},
                                    {{ Authorization: 'Bearer abc' }});
      out.status = res.status;
      out.type = res.headers['content-type'];
      out.body = res.body;
    """, prelude=REQUEST_JSON)
    assert out["status"] == 200
    assert out["type"].startswith("application/json")
    echo = out["body"]
    assert echo["method"] == "POST" and echo["path"] == "/echo" and echo["query"] == "src=https"
    headers = dict(echo["headers"])
    assert headers["content-type"] == "application/json"
    assert headers["authorization"] == "Bearer abc"
    assert headers["host"] == "api.test.example"
    assert orjson.loads(echo["body"])["n"] == 1


async def test_events_come_in_node_s_order_and_the_response_is_a_readable(egress_box, upstream):  # noqa: F811
    out = await claims(egress_box, f"""
      const http = require('node:http');
      const events = [];
      const res = await new Promise((resolve, reject) => {{
        const req = http.request({{ hostname: 'plain.test.example', path: '/cookies', method: 'GET' }}, (res) => {{
          events.push('response');
          resolve(res);
        }});
        req.on('socket', (s) => {{ events.push('socket'); s.setKeepAlive(true, 60000); s.setNoDelay(true); }});
        req.on('finish', () => events.push('finish'));
        req.on('close', () => events.push('close'));
        req.on('error', reject);
        out.beforeEnd = [req.headersSent, req.getHeader('host'), req.method, req.path, req.protocol];
        req.end();
      }});
      out.res = [res.statusCode, res.statusMessage, res.headers['set-cookie'], res.httpVersion, typeof res.pipe,
                 res.readable, res instanceof require('stream').Readable, res instanceof http.IncomingMessage];
      const chunks = [];
      for await (const chunk of res) chunks.push([Buffer.isBuffer(chunk), chunk.toString('utf8')]);
      out.chunks = chunks;
      await new Promise((resolve) => setTimeout(resolve, 5));
      out.events = events;
      out.raw = res.rawHeaders.filter((v, i) => i % 2 === 0 && v.toLowerCase() === 'set-cookie').length;
      out.distinct = res.headersDistinct['set-cookie'];
    """)
    assert out["beforeEnd"] == [False, "plain.test.example", "GET", "/cookies", "http:"]
    assert out["res"] == [200, "OK", ["a=1; Path=/", "b=2; Path=/"], "1.1", "function", True, True, True]
    assert out["chunks"] == [[True, "ok"]]
    assert out["events"] == ["socket", "finish", "response", "close"]
    assert out["raw"] == 2
    assert out["distinct"] == ["a=1; Path=/", "b=2; Path=/"]


async def test_a_refused_request_emits_error_with_the_host_s_code(egress_box, upstream):  # noqa: F811
    out = await claims(egress_box, f"""
      const https = require('https');
      out.err = await new Promise((resolve) => {{
        const req = https.get('{upstream.literal("/echo")}', () => resolve('reached'));
        req.on('error', (e) => resolve([e.name, e.code, typeof e.message]));
      }});
      out.closeAfterError = await new Promise((resolve) => {{
        const seen = [];
        const req = https.get('https://169.254.169.254/latest/meta-data/');
        req.on('error', (e) => seen.push('error:' + e.code));
        req.on('close', () => {{ seen.push('close'); resolve(seen); }});
      }});
    """)
    assert out == {"err": ["Error", "EGRESS_DENIED", "string"], "closeAfterError": ["error:EGRESS_DENIED", "close"]}


async def test_an_uncaught_request_error_fails_the_action(egress_box, upstream):  # noqa: F811
    result = await run(egress_box, f"""
      require('https').get('{upstream.literal("/echo")}');
      await new Promise((resolve) => setTimeout(resolve, 500));
    """)
    assert result.status == "failed"
    assert "EGRESS" in result.error["message"] or "refused" in result.error["message"], result.error


async def test_set_timeout_and_destroy_give_up_on_a_slow_api(egress_box, upstream):  # noqa: F811
    start = time.monotonic()
    out = await claims(egress_box, f"""
      const https = require('https');
      out.r = await new Promise((resolve) => {{
        const seen = [];
        const req = https.get('{upstream.url("/slow?seconds=5")}', {{ timeout: 300 }}, () => seen.push('response'));
        req.on('timeout', () => {{ seen.push('timeout'); req.destroy(); }});
        req.on('error', (e) => seen.push(['error', e.code, e.message]));
        req.on('close', () => {{ seen.push('close'); resolve(seen); }});
      }});
      const ac = new AbortController();
      out.signal = await new Promise((resolve) => {{
        const req = https.get('{upstream.url("/slow?seconds=5")}', {{ signal: ac.signal }});
        req.on('error', (e) => resolve([e.name, e.code, e.message]));
        setTimeout(() => ac.abort(), 50);
      }});
    """, budget=8.0)
    assert time.monotonic() - start < 3.0
    assert out["r"] == ["timeout", ["error", "ECONNRESET", "socket hang up"], "close"]
    assert out["signal"] == ["AbortError", "ABORT_ERR", "The operation was aborted"]


async def test_redirects_are_not_followed_and_bodies_arrive_decoded(egress_box, upstream):  # noqa: F811
    out = await claims(egress_box, f"""
      const https = require('https');
      const get = (url) => new Promise((resolve, reject) => {{
        https.get(url, (res) => {{
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => resolve({{ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() }}));
        }}).on('error', reject);
      }});
      const moved = await get('{upstream.url("/redirect")}?to=' + encodeURIComponent('{upstream.url("/echo")}'));
      out.moved = [moved.status, moved.headers.location];
      const gz = await get('{upstream.url("/gzip")}');
      out.gzip = [gz.headers['content-encoding'], gz.headers['content-length'], JSON.parse(gz.body)];
      const missing = await get('{upstream.url("/status?code=404")}');
      out.missing = [missing.status, missing.body];
    """)
    assert out["moved"] == [302, upstream.url("/echo")]
    assert out["gzip"] == [None, str(len(b'{"compressed":"gzip"}')), {"compressed": "gzip"}]
    assert out["missing"] == [404, ""]


async def test_the_request_object_s_header_api_and_argument_checks(egress_box, upstream):  # noqa: F811
    out = await claims(egress_box, f"""
      const http = require('http'), https = require('https');
      const req = https.request({{ hostname: 'api.test.example', port: 443, path: '/echo', method: 'put', auth: 'user:pa ss',
                                  headers: {{ 'X-One': 1 }} }});
      req.setHeader('X-Many', ['a', 'b']);
      req.appendHeader('x-one', '2');
      out.headers = [req.getHeader('x-one'), req.getHeader('X-MANY'), req.hasHeader('x-many'), req.getHeaderNames(), req.getRawHeaderNames()];
      req.removeHeader('x-many');
      const errors = [];
      for (const f of [() => req.setHeader('a b', 1), () => req.setHeader('a', undefined), () => req.setHeader('a', 'x\\ny'),
                       () => http.request('https://api.test.example/'), () => https.request({{ port: 70000 }})]) {{
        try {{ f(); errors.push(null); }} catch (e) {{ errors.push(e.code); }}
      }}
      out.errors = errors;
      const echo = await new Promise((resolve, reject) => {{
        req.on('response', (res) => {{ let d = ''; res.on('data', (c) => d += c); res.on('end', () => resolve(JSON.parse(d))); }});
        req.on('error', reject);
        req.end('body', 'utf8');
      }});
      out.echo = [echo.method, echo.body, echo.headers.filter(([k]) => k.startsWith('x-') || k === 'authorization')];
      try {{ req.setHeader('late', '1'); }} catch (e) {{ out.late = e.code; }}
      out.module = [http.STATUS_CODES[418], http.METHODS.includes('PATCH'), https.globalAgent.defaultPort, http.globalAgent.defaultPort,
                    new https.Agent({{ keepAlive: true }}).protocol, typeof http.createServer];
      try {{ http.createServer(); }} catch (e) {{ out.server = e.message; }}
    """)
    assert out["headers"] == [[1, "2"], ["a", "b"], True, ["x-one", "host", "authorization", "x-many"],
                              ["X-One", "Host", "Authorization", "X-Many"]]
    assert out["errors"] == ["ERR_INVALID_HTTP_TOKEN", "ERR_HTTP_INVALID_HEADER_VALUE", "ERR_INVALID_CHAR",
                             "ERR_INVALID_PROTOCOL", "ERR_SOCKET_BAD_PORT"]
    assert out["echo"] == ["PUT", "body", [["x-one", "1"], ["x-one", "2"], ["authorization", "Basic dXNlcjpwYSBzcw=="]]]
    assert out["late"] == "ERR_HTTP_HEADERS_SENT"
    assert out["module"] == ["I'm a Teapot", True, 443, 80, "https:", "function"]
    assert "not available to actions" in out["server"]


async def test_streams_pipe_into_a_request_and_out_of_a_response(egress_box, upstream):  # noqa: F811
    out = await claims(egress_box, f"""
      const https = require('https');
      const {{ Readable, Writable, pipeline }} = require('stream');
      out.piped = await new Promise((resolve, reject) => {{
        const req = https.request('{upstream.url("/echo")}', {{ method: 'POST' }}, (res) => {{
          const parts = [];
          const sink = new Writable({{ write(chunk, enc, cb) {{ parts.push(chunk.toString()); cb(); }} }});
          sink.on('finish', () => resolve(JSON.parse(parts.join('')).body));
          res.pipe(sink);
        }});
        req.on('error', reject);
        Readable.from(['a', 'b', Buffer.from('c')]).pipe(req);
      }});
      out.pipeline = await new Promise((resolve) => {{
        const req = https.request('{upstream.url("/echo")}', {{ method: 'PUT' }});
        req.on('response', (res) => {{ let d = ''; res.on('data', (c) => d += c); res.on('end', () => resolve(JSON.parse(d).body)); }});
        pipeline(Readable.from(['x', 'y']), req, (err) => {{ if (err) resolve('pipeline error ' + err.message); }});
      }});
    """)
    assert out == {"piped": "abc", "pipeline": "xy"}

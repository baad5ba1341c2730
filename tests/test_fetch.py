"""The WHATWG fetch surface inside the isolate (runtime_js/48_fetch.js), as Node 22 has it.

Three layers: what is pure JS (Headers, Request/Response, bodies, FormData, Blob, AbortSignal,
EventTarget) through the real sandbox; the wire contract with the host ("fetch" host call,
sandbox/host_fetch.py) through an isolate whose host side is a stand-in the test controls; and
the shapes real Auth0 actions use end to end, against a local HTTPS upstream (tests/upstream.py)
reached through --egress-resolve with its own CA.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import time
from typing import Any

import orjson
import pytest

from conftest import make_flow, payload, workload_event
from sandbox import Limits
from sandbox.isolate import FlowIsolate, runtime_source
from upstream import egress_box, upstream  # noqa: F401 - the fixtures

_ids = itertools.count(1)


async def claims(sandbox, body: str, budget: float = 5.0) -> Any:
    """Run `body` inside an async post-login handler; it sets `out`, returned here."""
    code = "exports.onExecutePostLogin = async (event, api) => {\n  const out = {};\n" + body + \
           "\n  api.idToken.setCustomClaim('out', out);\n};"
    result = await sandbox.run("t-fetch", make_flow(code), payload(), budget=budget)
    assert result.status == "completed", result.error
    return result.actions[0]["commands"][0][2]


# -- pure JS: the globals and their classes -------------------------------------------------

async def test_the_fetch_globals_are_there_as_in_node(sandbox):
    out = await claims(sandbox, """
      const names = ['fetch', 'Request', 'Response', 'Headers', 'FormData', 'Blob', 'File', 'AbortController',
                     'AbortSignal', 'EventTarget', 'Event', 'CustomEvent'];
      for (const n of names) {
        const d = Object.getOwnPropertyDescriptor(globalThis, n);
        out[n] = [typeof globalThis[n], typeof d.set, d.enumerable, d.configurable];
      }
      out.tags = [new Headers(), new Request('https://a.example'), new Response(), new FormData(), new Blob([]),
                  new File([], 'f'), new AbortController(), AbortSignal.abort(), new EventTarget(), new Event('x')]
        .map((o) => Object.prototype.toString.call(o));
      try { new AbortSignal(); } catch (e) { out.illegal = [e.name, e.code]; }
      out.signalIsTarget = AbortSignal.abort() instanceof EventTarget;
      out.fileIsBlob = new File(['x'], 'n') instanceof Blob;
    """)
    # assignable and (fetch) enumerable as in Node, but accessors that build the surface on first
    # use (48_fetch.js) and cannot be redefined: the runtime shares them with every execution, and
    # replacing one fails the execution that did it (95_seal.js)
    assert out["fetch"] == ["function", "function", True, False]
    for name in ("Request", "Response", "Headers", "FormData", "Blob", "File", "AbortController", "AbortSignal",
                 "EventTarget", "Event", "CustomEvent"):
        assert out[name] == ["function", "function", False, False], name
    assert out["tags"] == ["[object Headers]", "[object Request]", "[object Response]", "[object FormData]",
                           "[object Blob]", "[object File]", "[object AbortController]", "[object AbortSignal]",
                           "[object EventTarget]", "[object Event]"]
    assert out["illegal"] == ["TypeError", "ERR_ILLEGAL_CONSTRUCTOR"]
    assert out["signalIsTarget"] and out["fileIsBlob"]


async def test_headers_are_case_insensitive_sorted_combined_and_iterable(sandbox):
    out = await claims(sandbox, """
      const h = new Headers([['b', '2'], ['A', '1'], ['set-cookie', 'x'], ['Set-Cookie', 'y'], ['a', ' 3\\t']]);
      out.spread = [...h];
      out.entries = [...h.entries()];
      out.keys = [...h.keys()];
      out.values = [...h.values()];
      out.object = Object.fromEntries(h);
      out.get = [h.get('A'), h.get('set-cookie'), h.get('missing')];
      out.cookies = h.getSetCookie();
      out.has = [h.has('B'), h.has('c')];
      h.set('B', 'two'); h.delete('a'); h.append('c', '3');
      const seen = [];
      h.forEach((v, k, self) => seen.push([k, v, self === h]));
      out.forEach = seen;
      out.fromRecord = [...new Headers({ 'Content-Type': 'application/json', 'X-N': 5 })];
      out.copy = [...new Headers(h)].length;
      const it = h.entries();
      out.iterTag = Object.prototype.toString.call(it);
      out.iterProto = Object.getPrototypeOf(Object.getPrototypeOf(Object.getPrototypeOf(it))) ===
        Object.getPrototypeOf(Object.getPrototypeOf([].values()));
      out.iterSelf = it[Symbol.iterator]() === it;
      out.iteratorIsEntries = Headers.prototype[Symbol.iterator] === Headers.prototype.entries;
      const errors = [];
      for (const f of [() => h.append('a b', '1'), () => h.append('a', '1\\n2'), () => h.get('x y'),
                       () => new Headers([['a']]), () => new Headers('x'), () => h.append('a', 'é€')]) {
        try { f(); errors.push(null); } catch (e) { errors.push(e.name + ': ' + e.message); }
      }
      out.errors = errors;
    """)
    assert out["spread"] == [["a", "1, 3"], ["b", "2"], ["set-cookie", "x"], ["set-cookie", "y"]]
    assert out["entries"] == out["spread"]
    assert out["keys"] == ["a", "b", "set-cookie", "set-cookie"]
    assert out["values"] == ["1, 3", "2", "x", "y"]
    assert out["object"] == {"a": "1, 3", "b": "2", "set-cookie": "y"}
    assert out["get"] == ["1, 3", "x, y", None]
    assert out["cookies"] == ["x", "y"]
    assert out["has"] == [True, False]
    assert out["forEach"] == [["b", "two", True], ["c", "3", True], ["set-cookie", "x", True], ["set-cookie", "y", True]]
    assert out["fromRecord"] == [["content-type", "application/json"], ["x-n", "5"]]
    assert out["copy"] == 4
    assert out["iterTag"] == "[object Headers Iterator]"
    assert out["iterProto"] and out["iterSelf"] and out["iteratorIsEntries"]
    assert out["errors"] == [
        'TypeError: Headers.append: "a b" is an invalid header name.',
        'TypeError: Headers.append: "1\n2" is an invalid header value.',
        'TypeError: Headers.get: "x y" is an invalid header name.',
        "TypeError: Headers constructor: expected name/value pair to be length 2, found 1.",
        "TypeError: Headers constructor: Expected init to be an instance of Headers, a sequence of [name, value] pairs, or a record.",
        "TypeError: Headers.append: Cannot convert argument to a ByteString because the character at index 1 has a value of 8364 which is greater than 255.",
    ]


async def test_the_runtime_iterates_headers_and_form_data_with_its_own_next(sandbox):
    # an action that replaced the array iterator's next and Array.prototype.push (and puts them
    # back before it returns, so the seal does not fail it) still gets correct headers
    out = await claims(sandbox, """
      const ArrayIterator = Object.getPrototypeOf([][Symbol.iterator]());
      const next = ArrayIterator.next, push = Array.prototype.push;
      ArrayIterator.next = function () { return { done: true, value: undefined }; };
      Array.prototype.push = function () { throw new Error('push used'); };
      Object.defineProperty(Object.prototype, 'then', { get() { throw new Error('then read'); }, configurable: true });
      let h, fd, res, got;
      try {
        h = new Headers([['x-b', '2'], ['x-a', '1']]);
        fd = new FormData(); fd.append('k', 'v'); fd.append('k', 'w');
        res = new Response('{"a":1}', { headers: h });
        const it = h.entries();
        got = [it.next().value, it.next().value, it.next().done];
      } finally {
        ArrayIterator.next = next; Array.prototype.push = push; delete Object.prototype.then;
      }
      out.got = got;
      out.fd = [...fd];
      out.json = await res.json();
    """)
    assert out == {"got": [["x-a", "1"], ["x-b", "2"], True], "fd": [["k", "v"], ["k", "w"]], "json": {"a": 1}}


async def test_requests_are_built_and_checked_as_undici_does(sandbox):
    out = await claims(sandbox, """
      const r = new Request('https://api.example.com/a b?q=1#frag', { method: 'post', headers: { 'X-A': '1' }, body: 'hi' });
      out.basic = [r.method, r.url, r.headers.get('x-a'), r.headers.get('content-type'), r.redirect, r.signal.aborted,
                   r.bodyUsed, r.mode, r.credentials, r.cache, r.destination, r.duplex];
      out.methods = ['get', 'delete', 'patch', 'Options'].map((m) => new Request('https://a.example', { method: m }).method);
      const c = r.clone();
      out.clone = [await c.text(), c.bodyUsed, r.bodyUsed, await r.text(), r.bodyUsed];
      const moved = new Request('https://a.example', { method: 'PUT', body: 'x' });
      const copy = new Request(moved);
      out.moved = [moved.bodyUsed, await copy.text(), copy.method];
      const ac = new AbortController();
      const followed = new Request('https://a.example', { signal: ac.signal });
      ac.abort('why');
      out.followed = [followed.signal.aborted, followed.signal.reason];
      const errors = [];
      for (const f of [() => new Request('/relative'), () => new Request('https://a.example', { method: 'CONNECT' }),
                       () => new Request('https://a.example', { body: 'x' }), () => new Request('https://a.example', { method: 'b d' }),
                       () => new Request('https://u:p@a.example/'), () => new Request('https://a.example', { redirect: 'sometimes' }),
                       () => new Request('https://a.example', { signal: {} })]) {
        try { f(); errors.push(null); } catch (e) { errors.push(e.name + ': ' + e.message); }
      }
      out.errors = errors;
      try { new Request('nope'); } catch (e) { out.cause = e.cause && e.cause.code; }
    """)
    assert out["basic"] == ["POST", "https://api.example.com/a%20b?q=1#frag", "1", "text/plain;charset=UTF-8", "follow",
                            False, False, "cors", "same-origin", "default", "", "half"]
    assert out["methods"] == ["GET", "DELETE", "patch", "OPTIONS"]
    assert out["clone"] == ["hi", True, False, "hi", True]
    assert out["moved"] == [True, "x", "PUT"]
    assert out["followed"] == [True, "why"]
    assert out["errors"][0] == "TypeError: Failed to parse URL from /relative"
    assert out["errors"][1] == "TypeError: 'CONNECT' HTTP method is unsupported."
    assert out["errors"][2] == "TypeError: Request with GET/HEAD method cannot have body."
    assert out["errors"][3] == "TypeError: 'b d' is not a valid HTTP method."
    assert out["errors"][4].startswith("TypeError: Request cannot be constructed from a URL that includes credentials")
    assert out["errors"][5].startswith("TypeError: Request constructor: redirect 'sometimes'")
    assert out["errors"][6].startswith("TypeError: Request constructor: Expected signal")
    assert out["cause"] == "ERR_INVALID_URL"


async def test_responses_and_their_body_readers(sandbox):
    out = await claims(sandbox, """
      const r = new Response('{"a":[1,2]}', { status: 201, statusText: 'Made', headers: { 'X-A': '1' } });
      out.basic = [r.status, r.ok, r.statusText, r.type, r.url, r.redirected, r.bodyUsed, r.headers.get('content-type')];
      out.json = await r.json();
      out.used = r.bodyUsed;
      try { await r.text(); } catch (e) { out.again = e.name + ': ' + e.message; }
      try { r.clone(); } catch (e) { out.cloneUsed = e.message; }
      const bytes = new Response(new Uint8Array([104, 105]));
      const b2 = bytes.clone();
      const ab = await bytes.arrayBuffer();
      out.arrayBuffer = [Object.prototype.toString.call(ab), ab.byteLength, [...new Uint8Array(ab)]];
      const u8 = await b2.bytes();
      out.bytes = [Object.prototype.toString.call(u8), [...u8]];
      const blob = await new Response('hey', { headers: { 'content-type': 'Text/Plain' } }).blob();
      out.blob = [blob.size, blob.type, await blob.text()];
      out.bom = await new Response(new Uint8Array([0xEF, 0xBB, 0xBF, 0x61, 0xFF])).text();
      out.empty = [await new Response().text(), new Response().body, new Response(null).bodyUsed];
      const j = Response.json({ ok: true }, { status: 202, headers: { 'x-b': '2' } });
      out.responseJson = [j.status, j.headers.get('content-type'), j.headers.get('x-b'), await j.json()];
      const e = Response.error();
      out.error = [e.type, e.status, e.ok];
      try { e.headers.set('a', 'b'); } catch (err) { out.immutable = err.message; }
      const rd = Response.redirect('https://x.example/y', 301);
      out.redirect = [rd.status, rd.headers.get('location'), rd.type];
      const errors = [];
      for (const f of [() => new Response('x', { status: 99 }), () => new Response('x', { status: 204 }),
                       () => Response.redirect('https://x.example/', 200), () => Response.json(undefined),
                       () => new Response('x', { statusText: 'a\\nb' })]) {
        try { f(); errors.push(null); } catch (err) { errors.push(err.name + ': ' + err.message); }
      }
      out.errors = errors;
      try { await new Response('{bad').json(); } catch (err) { out.badJson = err.name; }
      const stream = new Response('streamed').body;
      const reader = stream.getReader();
      const first = await reader.read();
      out.stream = [Object.prototype.toString.call(first.value), new TextDecoder().decode(first.value), (await reader.read()).done];
      const chunks = [];
      for await (const chunk of new Response('abc').body) chunks.push(chunk.length);
      out.asyncIter = chunks;
    """)
    assert out["basic"] == [201, True, "Made", "default", "", False, False, "text/plain;charset=UTF-8"]
    assert out["json"] == {"a": [1, 2]}
    assert out["used"] is True
    assert out["again"] == "TypeError: Body is unusable: Body has already been read"
    assert out["cloneUsed"] == "Response.clone: Body has already been consumed."
    assert out["arrayBuffer"] == ["[object ArrayBuffer]", 2, [104, 105]]
    assert out["bytes"] == ["[object Uint8Array]", [104, 105]]
    assert out["blob"] == [3, "text/plain", "hey"]
    assert out["bom"] == "a\ufffd"
    assert out["empty"] == ["", None, False]
    assert out["responseJson"] == [202, "application/json", "2", {"ok": True}]
    assert out["error"] == ["error", 0, False]
    assert out["immutable"] == "immutable"
    assert out["redirect"] == [301, "https://x.example/y", "default"]
    assert out["errors"] == [
        'RangeError: init["status"] must be in the range of 200 to 599, inclusive.',
        "TypeError: Response constructor: Invalid response status code 204",
        "RangeError: Invalid status code 200",
        "TypeError: Value is not JSON serializable",
        "TypeError: Invalid statusText",
    ]
    assert out["badJson"] == "SyntaxError"
    assert out["stream"] == ["[object Uint8Array]", "streamed", True]
    assert out["asyncIter"] == [3]


async def test_each_kind_of_body_gets_its_content_type(sandbox):
    out = await claims(sandbox, """
      const kinds = {
        string: 'text', json: JSON.stringify({ a: 1 }), params: new URLSearchParams({ a: '1 2', b: 'é' }),
        blob: new Blob(['x'], { type: 'image/png' }), untypedBlob: new Blob(['x']),
        arrayBuffer: new Uint8Array([1, 2]).buffer, view: new Uint16Array([1]), dataView: new DataView(new ArrayBuffer(3)),
        number: 42,
      };
      for (const k of Object.keys(kinds)) {
        const r = new Request('https://a.example', { method: 'POST', body: kinds[k] });
        out[k] = [r.headers.get('content-type'), (await r.arrayBuffer()).byteLength];
      }
      out.paramsText = await new Response(new URLSearchParams({ a: '1 2', b: 'é' })).text();
    """)
    assert out["string"] == ["text/plain;charset=UTF-8", 4]
    assert out["json"] == ["text/plain;charset=UTF-8", 7]
    assert out["params"] == ["application/x-www-form-urlencoded;charset=UTF-8", 14]
    assert out["blob"] == ["image/png", 1]
    assert out["untypedBlob"] == [None, 1]
    assert out["arrayBuffer"] == [None, 2]
    assert out["view"] == [None, 2]
    assert out["dataView"] == [None, 3]
    assert out["number"] == ["text/plain;charset=UTF-8", 2]
    assert out["paramsText"] == "a=1+2&b=%C3%A9"


async def test_form_data_encodes_as_undici_multipart_and_reads_back(sandbox):
    out = await claims(sandbox, """
      const fd = new FormData();
      fd.append('a', 'x\\ny');
      fd.append('f', new Blob(['hi'], { type: 'text/plain' }), 'h"i.txt');
      fd.append('g', new Blob(['zz']));
      fd.set('solo', 'one'); fd.set('solo', 'two');
      out.api = [fd.get('a'), fd.getAll('solo'), fd.has('g'), fd.get('g').name, fd.get('g') instanceof File, fd.get('nope')];
      const r = new Response(fd);
      const type = r.headers.get('content-type');
      out.type = type;
      const clone = r.clone();
      out.text = await r.text();
      const back = await clone.formData();
      out.back = [...back].map(([k, v]) => typeof v === 'string' ? [k, v] : [k, v.name, v.type, v.size]);
      out.boundary = type.split('boundary=')[1];
      const urlencoded = await new Response('a=1&b=%C3%A9', { headers: { 'content-type': 'application/x-www-form-urlencoded' } }).formData();
      out.urlencoded = [...urlencoded];
      try { await new Response('x').formData(); } catch (e) { out.notForm = e.name; }
      fd.delete('a');
      out.keys = [...fd.keys()];
      try { fd.append('x', 'y', 'name.txt'); } catch (e) { out.filenameOnString = e.name; }
    """)
    b = out["boundary"]
    assert out["type"] == "multipart/form-data; boundary=" + b
    assert b.startswith("----formdata-undici-0") and len(b) == len("----formdata-undici-0") + 11
    assert out["text"] == (
        f'--{b}\r\nContent-Disposition: form-data; name="a"\r\n\r\nx\r\ny\r\n'
        f'--{b}\r\nContent-Disposition: form-data; name="f"; filename="h%22i.txt"\r\nContent-Type: text/plain\r\n\r\nhi\r\n'
        f'--{b}\r\nContent-Disposition: form-data; name="g"; filename="blob"\r\nContent-Type: application/octet-stream\r\n\r\nzz\r\n'
        f'--{b}\r\nContent-Disposition: form-data; name="solo"\r\n\r\ntwo\r\n'
        f'--{b}--\r\n')
    assert out["api"] == ["x\ny", ["two"], True, "blob", True, None]
    assert out["back"] == [["a", "x\r\ny"], ["f", 'h"i.txt', "text/plain", 2], ["g", "blob", "application/octet-stream", 2],
                           ["solo", "two"]]
    assert out["urlencoded"] == [["a", "1"], ["b", "é"]]
    assert out["notForm"] == "TypeError"
    assert out["keys"] == ["f", "g", "solo"]
    assert out["filenameOnString"] == "TypeError"


async def test_blobs_and_files(sandbox):
    out = await claims(sandbox, """
      const b = new Blob(['ab', new Uint8Array([99]), new Blob(['d'])], { type: 'Text/Plain' });
      out.blob = [b.size, b.type, await b.text(), await b.slice(1, 3).text(), b.slice(-2).size, b.slice(1, 2, 'X/Y').type];
      out.bytes = [...await b.bytes()];
      out.native = await new Blob(['a\\r\\nb'], { endings: 'native' }).text();
      const f = new File(['x'], 'n.txt', { type: 'text/plain', lastModified: 5 });
      out.file = [f.name, f.lastModified, f.size, f.type, typeof new File([], 'now').lastModified];
      const chunks = [];
      for await (const c of b.stream()) chunks.push(c.length);
      out.stream = chunks;
      try { new Blob('not a sequence'); } catch (e) { out.notSequence = e.code; }
    """)
    assert out["blob"] == [4, "text/plain", "abcd", "bc", 2, "x/y"]
    assert out["bytes"] == [97, 98, 99, 100]
    assert out["native"] == "a\nb"
    assert out["file"] == ["n.txt", 5, 1, "text/plain", "number"]
    assert out["stream"] == [4]
    assert out["notSequence"] == "ERR_INVALID_ARG_TYPE"


async def test_abort_signals_abort_timeout_and_any(sandbox):
    out = await claims(sandbox, """
      const a = AbortSignal.abort();
      out.abort = [a.aborted, a.reason.name, a.reason.message, a.reason.code, a.reason instanceof DOMException];
      out.custom = AbortSignal.abort('mine').reason;
      const ac = new AbortController();
      const order = [];
      ac.signal.addEventListener('abort', (e) => order.push(['listener', e.type, e.isTrusted, e.target === ac.signal]));
      ac.signal.onabort = () => order.push(['onabort']);
      ac.signal.addEventListener('abort', () => order.push(['once']), { once: true });
      const any = AbortSignal.any([new AbortController().signal, ac.signal]);
      any.addEventListener('abort', () => order.push(['any', any.reason.message]));
      ac.abort();
      ac.abort();  // a second abort does nothing
      out.order = order;
      try { ac.signal.throwIfAborted(); } catch (e) { out.thrown = e.name; }
      const t = AbortSignal.timeout(20);
      out.timeoutBefore = t.aborted;
      await new Promise((resolve) => t.addEventListener('abort', resolve));
      out.timeout = [t.aborted, t.reason.name, t.reason.message, t.reason.code];
      out.anyAborted = AbortSignal.any([AbortSignal.abort('early')]).reason;
      const removed = new AbortController();
      let calls = 0;
      const remover = new AbortController();
      removed.signal.addEventListener('abort', () => calls++, { signal: remover.signal });
      remover.abort();
      removed.abort();
      out.removedBySignal = calls;
      const errors = [];
      for (const f of [() => AbortSignal.timeout('1'), () => AbortSignal.timeout(-1), () => AbortSignal.any([{}])]) {
        try { f(); errors.push(null); } catch (e) { errors.push(e.code); }
      }
      out.errors = errors;
    """)
    assert out["abort"] == [True, "AbortError", "This operation was aborted", 20, True]
    assert out["custom"] == "mine"
    assert out["order"] == [["listener", "abort", True, True], ["onabort"], ["once"], ["any", "This operation was aborted"]]
    assert out["thrown"] == "AbortError"
    assert out["timeoutBefore"] is False
    assert out["timeout"] == [True, "TimeoutError", "The operation was aborted due to timeout", 23]
    assert out["anyAborted"] == "early"
    assert out["removedBySignal"] == 0
    assert out["errors"] == ["ERR_INVALID_ARG_TYPE", "ERR_OUT_OF_RANGE", "ERR_INVALID_ARG_TYPE"]


async def test_event_targets_dispatch_like_node(sandbox):
    out = await claims(sandbox, """
      const t = new EventTarget();
      const log = [];
      const obj = { handleEvent(e) { log.push(['object', this === obj, e.detail]); } };
      t.addEventListener('ping', (e) => { log.push(['first', e.currentTarget === t, e.eventPhase]); e.stopImmediatePropagation(); });
      t.addEventListener('ping', () => log.push(['never']));
      t.addEventListener('pong', obj);
      t.addEventListener('pong', obj);  // the same listener once
      out.ping = t.dispatchEvent(new Event('ping'));
      t.dispatchEvent(new CustomEvent('pong', { detail: 7 }));
      t.removeEventListener('pong', obj);
      t.dispatchEvent(new CustomEvent('pong', { detail: 8 }));
      const c = new Event('c', { cancelable: true });
      t.addEventListener('c', (e) => e.preventDefault());
      out.cancelled = [t.dispatchEvent(c), c.defaultPrevented];
      out.log = log;
      try { t.dispatchEvent({ type: 'x' }); } catch (e) { out.notEvent = e.code; }
    """)
    assert out["ping"] is True
    assert out["log"] == [["first", True, 2], ["object", True, 7]]
    assert out["cancelled"] == [False, True]
    assert out["notEvent"] == "ERR_INVALID_ARG_TYPE"


async def test_a_listener_that_throws_fails_the_action_as_an_uncaught_error(sandbox):
    code = """exports.onExecutePostLogin = async () => {
      const ac = new AbortController();
      ac.signal.addEventListener('abort', () => { throw new Error('listener broke'); });
      ac.abort();
      await new Promise((resolve) => setTimeout(resolve, 10));
    };"""
    result = await sandbox.run("t-fetch", make_flow(code), payload(), budget=5.0)
    assert result.status == "failed"
    assert "listener broke" in result.error["message"]


# -- the wire contract, against a host side the test controls ------------------------------

class FakeHost:
    """The executor's host calls "fetch" and "fetch.abort", answering as sandbox/host_fetch.py does."""

    def __init__(self, reply=None, delay: float = 0.0) -> None:
        self.requests: list[dict[str, Any]] = []
        self.aborts: list[dict[str, Any]] = []
        self.reply = reply
        self.delay = delay

    async def fetch(self, args: dict[str, Any], ctx: Any = None) -> dict[str, Any]:
        self.requests.append(args)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.reply is not None:
            return self.reply(args) if callable(self.reply) else self.reply
        body = base64.b64decode(args["body"]).decode("latin-1") if args["body"] is not None else None
        return {"ok": True, "status": 200, "status_text": "OK", "url": args["url"], "redirected": False,
                "headers": [["content-type", "application/json"], ["set-cookie", "a=1"], ["set-cookie", "b=2"]],
                "body": base64.b64encode(orjson.dumps({"echo": body})).decode(),
                "trace": {"method": args["method"], "host": "h", "path": "/", "status": 200, "duration_ms": 1,
                          "bytes": 10, "outcome": "ok"}}

    async def abort(self, args: dict[str, Any], ctx: Any = None) -> None:
        self.aborts.append(args)


@pytest.fixture
async def run_with_host():
    made: list[FlowIsolate] = []

    async def run(host: FakeHost, body: str, budget: float = 5.0, jobs: int = 1) -> list[dict[str, Any]]:
        code = "exports.onExecutePostLogin = async (event, api) => {\n  const out = {};\n" + body + \
               "\n  api.idToken.setCustomClaim('out', out);\n};"
        isolate = FlowIsolate(asyncio.get_running_loop(), runtime_source(),
                              {"kind": "post-login", "actions": [{"name": "a", "code": code, "secrets": {}}]}, Limits(),
                              host_calls={"fetch": host.fetch, "fetch.abort": host.abort})
        made.append(isolate)
        await isolate.start()
        results = []
        for _ in range(jobs):
            results.append(await isolate.submit(next(_ids), "post-login", orjson.dumps({"event": workload_event()}), budget))
        return results

    yield run
    for isolate in made:
        await isolate.close()


def out_of(result: dict[str, Any]) -> Any:
    assert result["status"] == "completed", result
    return result["actions"][0]["commands"][0][2]


async def test_fetch_describes_the_request_on_the_wire(run_with_host):
    host = FakeHost()
    (result,) = await run_with_host(host, """
      const r = await fetch('https://api.example.com/a?b=1#frag', { method: 'post', body: JSON.stringify({ x: 1 }),
        headers: { 'Content-Type': 'application/json', Authorization: 'Bearer t', 'Content-Length': '99', Connection: 'close' } });
      out.first = [r.ok, r.status, r.statusText, r.url, r.type, r.redirected, r.headers.getSetCookie(), await r.json()];
      await fetch(new URL('https://api.example.com/get'), { redirect: 'manual', headers: { 'user-agent': 'mine', accept: 'application/json' } });
      await fetch(new Request('https://api.example.com/put', { method: 'PUT', body: new Uint8Array([0, 255]) }));
    """)
    out = out_of(result)
    assert out["first"] == [True, 200, "OK", "https://api.example.com/a?b=1", "basic", False, ["a=1", "b=2"], {"echo": '{"x":1}'}]
    first, second, third = host.requests
    assert first["method"] == "POST" and first["url"] == "https://api.example.com/a?b=1"
    assert first["headers"] == [["authorization", "Bearer t"], ["content-type", "application/json"],
                                ["accept", "*/*"], ["accept-language", "*"], ["sec-fetch-mode", "cors"], ["user-agent", "node"]]
    assert base64.b64decode(first["body"]) == b'{"x":1}'
    assert first["redirect"] == "follow"
    assert second["method"] == "GET" and second["body"] is None and second["redirect"] == "manual"
    assert ["user-agent", "mine"] in second["headers"] and ["accept", "application/json"] in second["headers"]
    assert ["accept", "*/*"] not in second["headers"]
    assert base64.b64decode(third["body"]) == b"\x00\xff"
    tags = [r["tag"] for r in host.requests]
    assert all(isinstance(t, int) for t in tags) and len(set(tags)) == 3


async def test_a_refused_request_rejects_with_fetch_failed_and_the_host_s_cause(run_with_host):
    host = FakeHost(reply={"ok": False, "error": {"code": "EGRESS_DENIED", "message": "127.0.0.1 is a loopback address"},
                           "trace": {"outcome": "denied"}})
    (result,) = await run_with_host(host, """
      try { await fetch('https://internal.example/'); } catch (e) {
        out.err = [e.name, e.message, e instanceof TypeError, e.cause instanceof Error, e.cause.code, e.cause.message];
      }
    """)
    assert out_of(result)["err"] == ["TypeError", "fetch failed", True, True, "EGRESS_DENIED", "127.0.0.1 is a loopback address"]


async def test_a_host_call_that_fails_rejects_with_fetch_failed(run_with_host):
    async def broken(args, ctx=None):
        raise RuntimeError("host side broke")
    host = FakeHost()
    host.fetch = broken
    (result,) = await run_with_host(host, """
      try { await fetch('https://api.example.com/'); } catch (e) { out.err = [e.message, e.cause.message]; }
    """)
    assert out_of(result)["err"] == ["fetch failed", "host side broke"]


async def test_undici_s_forbidden_request_headers_reject_and_other_schemes_fail(run_with_host):
    host = FakeHost()
    (result,) = await run_with_host(host, """
      const errs = [];
      for (const h of [{ connection: 'upgrade' }, { 'transfer-encoding': 'chunked' }, { 'keep-alive': '1' }, { upgrade: 'x' },
                       { expect: '100-continue' }]) {
        try { await fetch('https://api.example.com/', { method: 'POST', headers: h, body: 'x' }); errs.push(null); }
        catch (e) { errs.push([e.message, e.cause.code, e.cause.message]); }
      }
      out.errs = errs;
      try { await fetch('ftp://files.example/'); } catch (e) { out.ftp = [e.message, e.cause.message]; }
      try { await fetch('not a url'); } catch (e) { out.bad = e.message; }
      try { await fetch(); } catch (e) { out.none = e.name; }
    """)
    out = out_of(result)
    assert out["errs"] == [
        ["fetch failed", "UND_ERR_INVALID_ARG", "invalid connection header"],
        ["fetch failed", "UND_ERR_INVALID_ARG", "invalid transfer-encoding header"],
        ["fetch failed", "UND_ERR_INVALID_ARG", "invalid keep-alive header"],
        ["fetch failed", "UND_ERR_INVALID_ARG", "invalid upgrade header"],
        ["fetch failed", "UND_ERR_NOT_SUPPORTED", "expect header not supported"],
    ]
    assert out["ftp"] == ["fetch failed", "unknown scheme"]
    assert out["bad"] == "Failed to parse URL from not a url"
    assert out["none"] == "TypeError"
    assert host.requests == []


async def test_aborting_in_flight_rejects_at_once_and_cancels_on_the_host(run_with_host):
    host = FakeHost(delay=3.0)
    start = time.monotonic()
    (result,) = await run_with_host(host, """
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 30);
      try { await fetch('https://api.example.com/slow', { signal: ac.signal }); } catch (e) { out.abort = [e.name, e.message]; }
      try { await fetch('https://api.example.com/slow', { signal: AbortSignal.timeout(30) }); } catch (e) { out.timeout = [e.name, e.message]; }
      const pre = AbortSignal.abort(new Error('before'));
      try { await fetch('https://api.example.com/never', { signal: pre }); } catch (e) { out.pre = e.message; }
      // the fail-open shape of real actions: a slow API is skipped, the login goes on
      let profile = null;
      try {
        const r = await fetch('https://api.example.com/slow', { signal: AbortSignal.timeout(30) });
        profile = await r.json();
      } catch (e) { out.failOpen = e.name; }
      out.profile = profile;
    """)
    assert time.monotonic() - start < 2.0
    out = out_of(result)
    assert out["abort"] == ["AbortError", "This operation was aborted"]
    assert out["timeout"] == ["TimeoutError", "The operation was aborted due to timeout"]
    assert out["pre"] == "before"
    assert out["failOpen"] == "TimeoutError" and out["profile"] is None
    assert len(host.requests) == 3  # the pre-aborted one never left
    # each abort told the host which request to cancel (the last one may arrive after the
    # execution ended: the host cancels an ended execution's requests itself)
    await asyncio.sleep(0.05)
    tags = [r["tag"] for r in host.requests]
    assert {a["tag"] for a in host.aborts} >= set(tags[:2])


async def test_an_oversized_request_body_is_refused_before_the_host(run_with_host):
    host = FakeHost()
    (result,) = await run_with_host(host, """
      const big = new Uint8Array(11 * 1024 * 1024);
      try { await fetch('https://api.example.com/', { method: 'POST', body: big }); } catch (e) { out.err = [e.message, e.cause.code]; }
    """)
    assert out_of(result)["err"] == ["fetch failed", "REQUEST_TOO_LARGE"]
    assert host.requests == []


async def test_a_fetch_outside_a_running_execution_rejects_instead_of_hanging(run_with_host):
    host = FakeHost()
    # the first execution leaves work behind that runs after it ended; the second awaits it
    results = await run_with_host(host, """
      if (globalThis.late === undefined) {
        globalThis.late = (async () => { for (let i = 0; i < 20; i++) await null; return fetch('https://api.example.com/late'); })();
        globalThis.late.catch(() => {});
      } else {
        try { await globalThis.late; out.late = 'resolved'; } catch (e) { out.late = [e.message, e.cause.code]; }
      }
    """, budget=2.0, jobs=2)
    assert out_of(results[1])["late"] == ["fetch failed", "ERR_NO_EXECUTION"]
    assert host.requests == []


async def test_replies_become_responses_as_undici_makes_them(run_with_host):
    def reply(args):
        status = {"HEAD": 200}.get(args["method"], 204 if "/empty" in args["url"] else 404)
        return {"ok": True, "status": status, "status_text": "Whatever", "url": args["url"] + "/final", "redirected": True,
                "headers": [["x-multi", "1"], ["x-multi", "2"], ["content-type", "text/plain"]],
                "body": base64.b64encode(b"body text").decode(), "trace": {"outcome": "ok"}}
    host = FakeHost(reply=reply)
    (result,) = await run_with_host(host, """
      const r = await fetch('https://api.example.com/x');
      out.r = [r.ok, r.status, r.statusText, r.url, r.redirected, r.headers.get('x-multi'), await r.text()];
      try { r.headers.append('a', 'b'); } catch (e) { out.immutable = e.message; }
      const head = await fetch('https://api.example.com/x', { method: 'HEAD' });
      out.head = [head.status, head.body, await head.text()];
      const empty = await fetch('https://api.example.com/empty');
      out.empty = [empty.status, empty.body, await empty.text()];
      const c = (await fetch('https://api.example.com/x')).clone();
      out.clone = [c.type, c.url, await c.text()];
    """)
    out = out_of(result)
    assert out["r"] == [False, 404, "Whatever", "https://api.example.com/x/final", True, "1, 2", "body text"]
    assert out["immutable"] == "immutable"
    assert out["head"] == [200, None, ""]
    assert out["empty"] == [204, None, ""]
    assert out["clone"] == ["basic", "https://api.example.com/x/final", "body text"]


# -- end to end: the shapes real actions use, against a local HTTPS upstream ---------------



async def test_a_json_post_then_ok_and_json_as_actions_write_it(egress_box, upstream):  # noqa: F811
    out = await claims(egress_box, f"""
      const res = await fetch('{upstream.url("/echo?x=1")}', {{
        method: 'POST',
        headers: {{ 'Content-Type': 'application/json', Authorization: 'Bearer ' + 'secret-token' }},
        body: JSON.stringify({{ user_id: event.user.user_id, email: event.user.email }}),
      }});
      if (!res.ok) throw new Error('API said ' + res.status);
      const data = await res.json();
      out.status = res.status;
      out.type = res.headers.get('content-type');
      out.data = data;
    """)
    assert out["status"] == 200
    assert out["type"].startswith("application/json")
    data = out["data"]
    assert data["method"] == "POST" and data["path"] == "/echo" and data["query"] == "x=1"
    headers = dict(data["headers"])
    assert headers["content-type"] == "application/json"
    assert headers["authorization"] == "Bearer secret-token"
    assert headers["user-agent"] == "node"
    assert headers["host"] == "api.test.example"
    assert orjson.loads(data["body"]) == {"user_id": workload_event()["user"]["user_id"], "email": workload_event()["user"]["email"]}


async def test_a_timeout_on_a_slow_api_fails_open(egress_box, upstream):  # noqa: F811
    start = time.monotonic()
    out = await claims(egress_box, f"""
      let enriched = false;
      try {{
        const res = await fetch('{upstream.url("/slow?seconds=5")}', {{ signal: AbortSignal.timeout(1500) }});
        enriched = (await res.json()).slept;
      }} catch (err) {{
        out.caught = [err.name, err.message];
      }}
      out.enriched = enriched;
    """, budget=8.0)
    elapsed = time.monotonic() - start
    assert out == {"caught": ["TimeoutError", "The operation was aborted due to timeout"], "enriched": False}
    assert 1.4 < elapsed < 4.0


async def test_form_posts_and_multipart_reach_the_api(egress_box, upstream):  # noqa: F811
    out = await claims(egress_box, f"""
      const form = await fetch('{upstream.url("/echo")}', {{
        method: 'POST',
        body: new URLSearchParams({{ grant_type: 'client_credentials', client_id: 'id', client_secret: 's p&c' }}),
      }});
      out.form = await form.json();
      const fd = new FormData();
      fd.append('note', 'hello');
      fd.append('file', new Blob(['{{"a":1}}'], {{ type: 'application/json' }}), 'a.json');
      const multi = await fetch('{upstream.url("/echo")}', {{ method: 'PUT', body: fd }});
      out.multi = await multi.json();
    """)
    form = out["form"]
    assert dict(form["headers"])["content-type"] == "application/x-www-form-urlencoded;charset=UTF-8"
    assert form["body"] == "grant_type=client_credentials&client_id=id&client_secret=s+p%26c"
    multi = out["multi"]
    assert multi["method"] == "PUT"
    content_type = dict(multi["headers"])["content-type"]
    assert content_type.startswith("multipart/form-data; boundary=----formdata-undici-0")
    boundary = content_type.split("boundary=")[1]
    assert multi["body"] == (
        f'--{boundary}\r\nContent-Disposition: form-data; name="note"\r\n\r\nhello\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.json"\r\nContent-Type: application/json\r\n\r\n{{"a":1}}\r\n'
        f'--{boundary}--\r\n')


async def test_a_refused_request_can_be_caught_by_its_cause_code(egress_box, upstream):  # noqa: F811
    out = await claims(egress_box, f"""
      try {{
        await fetch('{upstream.literal("/echo")}');
        out.reached = true;
      }} catch (err) {{
        out.err = [err.name, err.message, err.cause && err.cause.code, typeof (err.cause && err.cause.message)];
      }}
      try {{ await fetch('http://169.254.169.254/latest/meta-data/'); }} catch (err) {{ out.metadata = err.cause.code; }}
    """)
    assert out == {"err": ["TypeError", "fetch failed", "EGRESS_DENIED", "string"], "metadata": "EGRESS_DENIED"}
    assert upstream.hits["/echo"] >= 0


async def test_cookies_redirects_and_compressed_bodies(egress_box, upstream):  # noqa: F811
    out = await claims(egress_box, f"""
      const cookies = await fetch('{upstream.url("/cookies")}');
      out.cookies = [cookies.headers.getSetCookie(), cookies.headers.get('set-cookie')];
      const target = encodeURIComponent('{upstream.url("/echo?after=1")}');
      const moved = await fetch('{upstream.url("/redirect")}?to=' + target);
      out.moved = [moved.status, moved.redirected, moved.url, (await moved.json()).query];
      const manual = await fetch('{upstream.url("/redirect")}?to=' + target, {{ redirect: 'manual' }});
      out.manual = [manual.status, manual.headers.get('location'), manual.redirected];
      out.gzip = await (await fetch('{upstream.url("/gzip")}')).json();
      const missing = await fetch('{upstream.url("/status?code=404")}');
      out.missing = [missing.ok, missing.status, missing.statusText];
    """)
    assert out["cookies"] == [["a=1; Path=/", "b=2; Path=/"], "a=1; Path=/, b=2; Path=/"]
    assert out["moved"] == [200, True, upstream.url("/echo?after=1"), "after=1"]
    assert out["manual"] == [302, upstream.url("/echo?after=1"), False]
    assert out["gzip"] == {"compressed": "gzip"}
    assert out["missing"] == [False, 404, "Not Found"]


async def test_each_request_is_in_the_execution_record_without_its_query(egress_box, upstream):  # noqa: F811
    code = f"""exports.onExecutePostLogin = async (event, api) => {{
      await (await fetch('{upstream.url("/echo?token=secret")}', {{ method: 'POST', body: 'x' }})).text();
      await fetch('{upstream.literal("/echo")}').catch(() => null);
      await fetch('{upstream.url("/slow?seconds=5")}', {{ signal: AbortSignal.timeout(100) }}).catch(() => null);
      await new Promise((resolve) => setTimeout(resolve, 300));  // the aborted request's answer comes back
    }};"""
    result = await egress_box.run("t-fetch", make_flow(code), payload(), budget=5.0)
    assert result.status == "completed", result.error
    egress = result.actions[0]["egress"]
    assert [(e["method"], e["host"], e["path"], e["outcome"]) for e in egress] == [
        ("POST", "api.test.example", "/echo", "ok"), ("GET", "127.0.0.1", "/echo", "denied"),
        ("GET", "api.test.example", "/slow", "aborted")]
    assert egress[0]["status"] == 200 and egress[0]["bytes"] > 0 and egress[0]["duration_ms"] >= 0
    assert "secret" not in orjson.dumps(egress).decode()


async def test_a_fetch_at_module_scope_runs_in_the_first_execution(egress_box, upstream):  # noqa: F811
    code = f"""
      const config = fetch('{upstream.url("/echo?at=load")}').then((r) => r.json());
      exports.onExecutePostLogin = async (event, api) => {{
        api.idToken.setCustomClaim('q', (await config).query);
      }};"""
    flow = make_flow(code)
    for _ in range(2):
        result = await egress_box.run("t-fetch", flow, payload(), budget=5.0)
        assert result.status == "completed", result.error
        assert result.actions[0]["commands"] == [["idToken.setCustomClaim", "q", "at=load"]]
    assert upstream.hits["/echo"] >= 1


async def test_bodies_survive_the_wire_byte_for_byte_and_decode_across_chunks(run_with_host):
    def reply(args):
        # echo the request body back as the response body
        return {"ok": True, "status": 200, "status_text": "OK", "url": args["url"], "redirected": False, "headers": [],
                "body": args["body"] or "", "trace": {"outcome": "ok"}}
    host = FakeHost(reply=reply)
    (result,) = await run_with_host(host, """
      const all = new Uint8Array(256 * 70 + 1);
      for (let i = 0; i < all.length; i++) all[i] = i & 0xFF;
      const back = new Uint8Array(await (await fetch('https://a.example/', { method: 'POST', body: all })).arrayBuffer());
      out.bytes = back.length === all.length && back.every((b, i) => b === all[i]);
      // a two-byte and a four-byte character across the 16384-byte decoding chunks, a broken
      // sequence in the middle and an unfinished one at the end
      const text = 'a'.repeat(16383) + 'é' + 'b'.repeat(16381) + '😀' + 'c';
      const enc = new TextEncoder().encode(text);
      const mixed = new Uint8Array(enc.length + 3);
      mixed.set(enc); mixed[enc.length] = 0xFF; mixed[enc.length + 1] = 0x41; mixed[enc.length + 2] = 0xE2;
      const got = await (await fetch('https://a.example/', { method: 'POST', body: mixed })).text();
      out.text = got === text + '\\uFFFDA\\uFFFD';
      out.length = got.length;
      const bom = await (await fetch('https://a.example/', { method: 'POST', body: new Uint8Array([0xEF, 0xBB, 0xBF, 0xEF, 0xBB, 0xBF, 0x78]) })).text();
      out.bom = [bom.length, bom.charCodeAt(0)];
    """)
    out = out_of(result)
    assert out["bytes"] is True
    assert out["text"] is True, out
    assert out["bom"] == [2, 0xFEFF]  # only the first BOM is dropped


async def test_a_long_lived_signal_shared_by_many_requests_still_aborts_the_one_in_flight(run_with_host):
    def reply(args):
        return {"ok": True, "status": 200, "status_text": "OK", "url": args["url"], "redirected": False, "headers": [],
                "body": "", "trace": {"outcome": "ok"}}
    host = FakeHost(reply=reply)
    slow = FakeHost(delay=3.0)

    async def fetch(args, ctx=None):
        return await (slow.fetch(args, ctx) if "slow" in args["url"] else host.fetch(args, ctx))
    host_calls = FakeHost()
    host_calls.fetch = fetch
    # a controller at module scope, as actions keep one: its requests' signals are held weakly
    # (undici's rule), so hundreds of requests leave nothing behind on it, and it still aborts
    (result,) = await run_with_host(host_calls, """
      globalThis.shared = globalThis.shared || new AbortController();
      for (let i = 0; i < 200; i++) await (await fetch('https://a.example/' + i, { signal: shared.signal })).text();
      setTimeout(() => shared.abort(), 20);
      try { await fetch('https://a.example/slow', { signal: shared.signal }); } catch (e) { out.err = e.name; }
    """)
    assert out_of(result)["err"] == "AbortError"
    assert len(host.requests) == 200 and len(slow.requests) == 1


async def test_fetch_works_while_an_action_has_replaced_the_built_ins_it_would_use(run_with_host):
    host = FakeHost()
    (result,) = await run_with_host(host, """
      const saved = { JSON: globalThis.JSON, Uint8Array: globalThis.Uint8Array, push: Array.prototype.push,
        join: Array.prototype.join, lower: String.prototype.toLowerCase, slice: String.prototype.slice,
        then: Promise.prototype.then, keys: Object.keys, next: Object.getPrototypeOf([][Symbol.iterator]()).next };
      const boom = () => { throw new Error('the runtime used a replaced built-in'); };
      globalThis.JSON = { parse: boom, stringify: boom };
      globalThis.Uint8Array = boom;
      Array.prototype.push = boom; Array.prototype.join = boom;
      String.prototype.toLowerCase = boom; String.prototype.slice = boom;
      Promise.prototype.then = function (f, r) { return saved.then.call(this, f, r); };
      Object.keys = boom;
      Object.getPrototypeOf([][Symbol.iterator]()).next = boom;
      let r, data, err;
      try {
        r = await fetch('https://api.example.com/x', { method: 'POST', headers: [['X-A', '1']], body: 'hello' });
        data = await r.json();
      } catch (e) { err = String(e && e.message); }
      finally {
        globalThis.JSON = saved.JSON; globalThis.Uint8Array = saved.Uint8Array;
        Array.prototype.push = saved.push; Array.prototype.join = saved.join;
        String.prototype.toLowerCase = saved.lower; String.prototype.slice = saved.slice;
        Promise.prototype.then = saved.then; Object.keys = saved.keys;
        Object.getPrototypeOf([][Symbol.iterator]()).next = saved.next;
      }
      out.err = err || null;
      out.data = data;
      out.status = r && r.status;
    """)
    out = out_of(result)
    assert out == {"err": None, "data": {"echo": "hello"}, "status": 200}
    assert ["x-a", "1"] in host.requests[0]["headers"]

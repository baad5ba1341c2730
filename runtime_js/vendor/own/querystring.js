// Node's `querystring`: npm's querystring-es3 (internal/querystring_es3) with what Node has that the
// package lacks (escape, unescape, unescapeBuffer, encode/decode aliases). actionhost's own code,
// run as library code.
"use strict";

const es3 = require("internal/querystring_es3");

function unescapeBuffer(s, decodeSpaces) {
  const out = require("buffer").Buffer.allocUnsafe(s.length); // loaded only when needed
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 43 && decodeSpaces) { out[n++] = 32; continue; }
    if (c === 37 && i + 2 < s.length + 0 && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 1, i + 3))) {
      out[n++] = parseInt(s.slice(i + 1, i + 3), 16);
      i += 2;
      continue;
    }
    out[n++] = c & 0xff;
  }
  return out.subarray(0, n);
}

function unescape(s, decodeSpaces) {
  try { return decodeURIComponent(s); } catch (_) { return unescapeBuffer(s, decodeSpaces).toString(); }
}

function escape(str) {
  if (typeof str !== "string") {
    if (typeof str === "object") str = String(str); else str += "";
  }
  return encodeURIComponent(str);
}

module.exports = {
  stringify: es3.stringify, encode: es3.stringify, parse: es3.parse, decode: es3.parse,
  escape, unescape, unescapeBuffer,
};

// Node's `buffer`: npm's buffer package (internal/buffer_npm), with what Node has that the package
// lacks: the base64url encoding (JWTs are base64url), constants, atob/btoa, isUtf8/isAscii, and
// Blob/File when the runtime has them. actionhost's own code, run as library code.
"use strict";

const npm = require("internal/buffer_npm");
const { Buffer } = npm;

const isBase64url = (encoding) => typeof encoding === "string" && encoding.length === 9 && encoding.toLowerCase() === "base64url";

function wrap(holder, name, positions) {
  const original = holder[name];
  Object.defineProperty(holder, name, {
    value: { [name](...args) {
      for (const at of positions) if (isBase64url(args[at])) args[at] = "base64";
      return Reflect.apply(original, this, args);
    } }[name],
    writable: true, configurable: true, enumerable: false,
  });
}

wrap(Buffer, "from", [1]);
wrap(Buffer, "alloc", [2]);
wrap(Buffer, "byteLength", [1]);
wrap(Buffer.prototype, "write", [1, 2, 3]);
wrap(Buffer.prototype, "fill", [1, 2, 3]);
wrap(Buffer.prototype, "indexOf", [1, 2]);
wrap(Buffer.prototype, "lastIndexOf", [1, 2]);
wrap(Buffer.prototype, "includes", [1, 2]);

const isEncoding = Buffer.isEncoding;
Buffer.isEncoding = function isEncoding_(encoding) { return isBase64url(encoding) || isEncoding(encoding); };

const toString = Buffer.prototype.toString;
Object.defineProperty(Buffer.prototype, "toString", {
  value: function toString_(encoding, start, end) {
    if (!isBase64url(encoding)) return Reflect.apply(toString, this, arguments);
    return Reflect.apply(toString, this, ["base64", start, end]).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
  },
  writable: true, configurable: true, enumerable: false,
});
Object.defineProperty(Buffer.prototype.toString, "name", { value: "toString" });
Object.defineProperty(Buffer.isEncoding, "name", { value: "isEncoding" });

// <Buffer 68 69 ... 6 more bytes>, as Node shows a Buffer
Object.defineProperty(Buffer.prototype, Symbol.for("nodejs.util.inspect.custom"), {
  value: function inspect(recurseTimes, ctx) {
    const max = npm.INSPECT_MAX_BYTES;
    const remaining = this.length - max;
    let str = this.toString("hex", 0, Math.min(max, this.length)).replace(/(.{2})/g, "$1 ").trim();
    if (remaining > 0) str += ` ... ${remaining} more byte${remaining > 1 ? "s" : ""}`;
    if (ctx) {
      const extras = Object.keys(this).filter((k) => !/^(0|[1-9][0-9]*)$/.test(k));
      if (extras.length > 0) {
        const util = require("util");
        str += (str ? ", " : "") + extras.map((k) => `${k}: ${util.inspect(this[k], { ...ctx, breakLength: Infinity, compact: true })}`).join(", ");
      }
    }
    return `<${this.constructor.name} ${str}>`;
  },
  writable: true, configurable: true, enumerable: false,
});

function isUtf8(input) {
  try { new TextDecoder("utf-8", { fatal: true }).decode(input); return true; } catch (_) { return false; }
}
function isAscii(input) {
  const bytes = ArrayBuffer.isView(input) ? new Uint8Array(input.buffer, input.byteOffset, input.byteLength) : new Uint8Array(input);
  for (let i = 0; i < bytes.length; i++) if (bytes[i] > 127) return false;
  return true;
}

module.exports = {
  Buffer,
  SlowBuffer: npm.SlowBuffer,
  INSPECT_MAX_BYTES: npm.INSPECT_MAX_BYTES,
  kMaxLength: npm.kMaxLength,
  kStringMaxLength: 536870888,
  constants: { MAX_LENGTH: npm.kMaxLength, MAX_STRING_LENGTH: 536870888 },
  atob: globalThis.atob,
  btoa: globalThis.btoa,
  isUtf8,
  isAscii,
  Blob: globalThis.Blob,
  File: globalThis.File,
};

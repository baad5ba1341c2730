// Node's `url` for actions: the runtime's WHATWG URL and URLSearchParams (20_url.js) with Node's
// legacy parse / format / resolve (npm's url package) and the file-URL helpers.
// actionhost's own code, run as library code.
"use strict";

const { URL, URLSearchParams } = require("internal/runtime");
const legacy = require("internal/url_legacy");
const punycode = require("punycode");

function invalidArgType(name, expected, actual) {
  const err = new TypeError(`The "${name}" argument must be ${expected}. Received ${actual === null ? "null" : typeof actual}`);
  err.code = "ERR_INVALID_ARG_TYPE";
  return err;
}

function fileURLToPath(input) {
  const url = typeof input === "string" ? new URL(input) : input;
  if (!(url instanceof URL)) throw invalidArgType("path", "of type string or an instance of URL", input);
  if (url.protocol !== "file:") {
    const err = new TypeError("The URL must be of scheme file");
    err.code = "ERR_INVALID_URL_SCHEME";
    throw err;
  }
  if (url.hostname !== "") {
    const err = new TypeError('File URL host must be "localhost" or empty on linux');
    err.code = "ERR_INVALID_FILE_URL_HOST";
    throw err;
  }
  if (/%2f/i.test(url.pathname)) {
    const err = new TypeError("File URL path must not include encoded / characters");
    err.code = "ERR_INVALID_FILE_URL_PATH";
    throw err;
  }
  return decodeURIComponent(url.pathname);
}

function pathToFileURL(filepath) {
  let resolved = require("path").resolve(String(filepath));
  if (String(filepath).endsWith("/") && !resolved.endsWith("/")) resolved += "/";
  resolved = resolved.replace(/%/g, "%25").replace(/\\/g, "%5C").replace(/\n/g, "%0A").replace(/\r/g, "%0D").replace(/\t/g, "%09");
  const url = new URL("file://");
  url.pathname = resolved; // the setter percent-encodes the rest; '?' and '#' are not special there
  return url;
}

function urlToHttpOptions(url) {
  const options = {
    protocol: url.protocol,
    hostname: url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname,
    hash: url.hash,
    search: url.search,
    pathname: url.pathname,
    path: `${url.pathname || ""}${url.search || ""}`,
    href: url.href,
  };
  if (url.port !== "") options.port = Number(url.port);
  if (url.username || url.password) options.auth = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
  return options;
}

module.exports = {
  URL,
  URLSearchParams,
  Url: legacy.Url,
  parse: legacy.parse,
  resolve: legacy.resolve,
  resolveObject: legacy.resolveObject,
  format(urlObject, options) {
    if (urlObject instanceof URL) {
      if (options === undefined) return urlObject.href;
      const copy = new URL(urlObject.href);
      if (options.auth === false) { copy.username = ""; copy.password = ""; }
      if (options.search === false) copy.search = "";
      if (options.fragment === false) copy.hash = "";
      return options.unicode ? copy.href.replace(copy.hostname, punycode.toUnicode(copy.hostname)) : copy.href;
    }
    return legacy.format(urlObject);
  },
  domainToASCII(domain) { try { return new URL(`http://${domain}`).hostname; } catch (_) { return ""; } },
  domainToUnicode(domain) { try { return punycode.toUnicode(new URL(`http://${domain}`).hostname); } catch (_) { return ""; } },
  fileURLToPath,
  pathToFileURL,
  urlToHttpOptions,
};

// URL and URLSearchParams globals, and parseUrl() for the api code.
//
// The URL Standard's parser and serializer, checked against Node's URL. Where Node 20 (Ada) leaves
// the standard in corner cases (".." at the root of a non-special URL, "file:" segments like
// "c:x", relative references against an opaque base), the standard wins.
//
// A URL's state lives in a private record {scheme, username, password, host, port, path, query,
// fragment} that user code cannot reach: path is an array of segments, or a string for an opaque
// path ("mailto:x"); host is null, "" (empty host) or the serialized host. Percent-decoded bytes
// become text through utf8Decode from 30_encoding.js: a hoisted function, and nothing here runs
// before every runtime file has been evaluated.

const URL_EOF = -1;
const URL_HEX_UPPER = "0123456789ABCDEF";
const URL_HEX_LOWER = "0123456789abcdef";
// special schemes and their default ports (file has none)
const URL_SPECIAL = { __proto__: null, ftp: 21, file: null, http: 80, https: 443, ws: 80, wss: 443 };

function urlIsSpecial(scheme) { return scheme in URL_SPECIAL; }
function urlDefaultPort(scheme) { return scheme in URL_SPECIAL ? URL_SPECIAL[scheme] : null; }

// ---- code point helpers --------------------------------------------------------------------

// The string as code points; lone surrogates become U+FFFD (WebIDL USVString conversion).
function urlCodePoints(s) {
  const out = [];
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = StringPrototypeCharCodeAt(s, i);
    if (c >= 0xD800 && c <= 0xDBFF && i + 1 < n) {
      const d = StringPrototypeCharCodeAt(s, i + 1);
      if (d >= 0xDC00 && d <= 0xDFFF) {
        out[out.length] = ((c - 0xD800) << 10) + (d - 0xDC00) + 0x10000;
        i++;
        continue;
      }
    }
    out[out.length] = c >= 0xD800 && c <= 0xDFFF ? 0xFFFD : c;
  }
  return out;
}

// USVString conversion: the same string unless it holds a lone surrogate.
function urlToUSV(value) {
  const s = `${value}`;
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = StringPrototypeCharCodeAt(s, i);
    if (c >= 0xD800 && c <= 0xDFFF) {
      const d = i + 1 < n ? StringPrototypeCharCodeAt(s, i + 1) : 0;
      if (c <= 0xDBFF && d >= 0xDC00 && d <= 0xDFFF) { i++; continue; }
      const cps = urlCodePoints(s);
      let out = "";
      for (let k = 0; k < cps.length; k++) out += StringFromCodePoint(cps[k]);
      return out;
    }
  }
  return s;
}

// The authority state steps back over its buffer by code points, not UTF-16 units.
function urlCpLength(s) {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = StringPrototypeCharCodeAt(s, i);
    if (!(c >= 0xDC00 && c <= 0xDFFF && i > 0 && (StringPrototypeCharCodeAt(s, i - 1) & 0xFC00) === 0xD800)) n++;
  }
  return n;
}

function urlIsAlpha(c) { return (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A); }
function urlIsDigit(c) { return c >= 0x30 && c <= 0x39; }
function urlIsHex(c) { return urlIsDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66); }
function urlHexValue(c) { return c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x61 + 10; }

// ---- percent-encoding ----------------------------------------------------------------------

// An encode set is a 128-entry table of ASCII code points to escape; everything above U+007E
// is always escaped.
function urlEncodeSet(base, extra) {
  const set = [];
  for (let i = 0; i < 128; i++) set[i] = base === null ? (i < 0x20 || i === 0x7F) : base[i];
  for (let i = 0; i < extra.length; i++) set[StringPrototypeCharCodeAt(extra, i)] = true;
  return set;
}
const URL_C0_SET = urlEncodeSet(null, "");
const URL_FRAGMENT_SET = urlEncodeSet(URL_C0_SET, " \"<>`");
const URL_QUERY_SET = urlEncodeSet(URL_C0_SET, " \"#<>");
const URL_SPECIAL_QUERY_SET = urlEncodeSet(URL_QUERY_SET, "'");
// "^" is left alone in paths as Node (Ada) does; newer revisions of the standard escape it
const URL_PATH_SET = urlEncodeSet(URL_QUERY_SET, "?`{}");
const URL_USERINFO_SET = urlEncodeSet(URL_PATH_SET, "/:;=@[\\]^|");
const URL_COMPONENT_SET = urlEncodeSet(URL_USERINFO_SET, "$%&+,");
const URL_FORM_SET = urlEncodeSet(URL_COMPONENT_SET, "!'()~");

function urlPercentByte(b) { return "%" + URL_HEX_UPPER[b >> 4] + URL_HEX_UPPER[b & 15]; }

function urlPercentEncode(c, set) {
  if (c < 0x80) return set[c] ? urlPercentByte(c) : StringFromCharCode(c);
  if (c < 0x800) return urlPercentByte(0xC0 | (c >> 6)) + urlPercentByte(0x80 | (c & 63));
  if (c < 0x10000) {
    return urlPercentByte(0xE0 | (c >> 12)) + urlPercentByte(0x80 | ((c >> 6) & 63)) + urlPercentByte(0x80 | (c & 63));
  }
  return urlPercentByte(0xF0 | (c >> 18)) + urlPercentByte(0x80 | ((c >> 12) & 63)) +
    urlPercentByte(0x80 | ((c >> 6) & 63)) + urlPercentByte(0x80 | (c & 63));
}

function urlPercentEncodeString(s, set, spaceAsPlus) {
  const cps = urlCodePoints(s);
  let out = "";
  for (let i = 0; i < cps.length; i++) {
    const c = cps[i];
    out += spaceAsPlus && c === 0x20 ? "+" : urlPercentEncode(c, set);
  }
  return out;
}

// Percent-decode to UTF-8 bytes (a plain array); "%zz" and a lone "%" stay literal.
function urlPercentDecodeBytes(s, plusAsSpace) {
  const cps = urlCodePoints(s);
  const bytes = [];
  for (let i = 0; i < cps.length; i++) {
    let c = cps[i];
    if (c === 0x25 && i + 2 < cps.length && urlIsHex(cps[i + 1]) && urlIsHex(cps[i + 2])) {
      bytes[bytes.length] = urlHexValue(cps[i + 1]) * 16 + urlHexValue(cps[i + 2]);
      i += 2;
      continue;
    }
    if (plusAsSpace && c === 0x2B) c = 0x20;
    if (c < 0x80) bytes[bytes.length] = c;
    else if (c < 0x800) { bytes[bytes.length] = 0xC0 | (c >> 6); bytes[bytes.length] = 0x80 | (c & 63); }
    else if (c < 0x10000) {
      bytes[bytes.length] = 0xE0 | (c >> 12); bytes[bytes.length] = 0x80 | ((c >> 6) & 63); bytes[bytes.length] = 0x80 | (c & 63);
    } else {
      bytes[bytes.length] = 0xF0 | (c >> 18); bytes[bytes.length] = 0x80 | ((c >> 12) & 63);
      bytes[bytes.length] = 0x80 | ((c >> 6) & 63); bytes[bytes.length] = 0x80 | (c & 63);
    }
  }
  return bytes;
}

// The string split on one ASCII character (String.prototype.split would consult a user-settable
// Symbol.split on some engines).
function urlSplit(s, ch) {
  const parts = [];
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    if (s[i] === ch) { parts[parts.length] = StringPrototypeSlice(s, start, i); start = i + 1; }
  }
  parts[parts.length] = StringPrototypeSlice(s, start);
  return parts;
}

// ---- hosts ---------------------------------------------------------------------------------

function urlIsForbiddenHostCp(c) {
  return c === 0x00 || c === 0x09 || c === 0x0A || c === 0x0D || c === 0x20 || c === 0x23 ||
    c === 0x2F || c === 0x3A || c === 0x3C || c === 0x3E || c === 0x3F || c === 0x40 ||
    c === 0x5B || c === 0x5C || c === 0x5D || c === 0x5E || c === 0x7C;
}
function urlIsForbiddenDomainCp(c) {
  return urlIsForbiddenHostCp(c) || c <= 0x1F || c === 0x25 || c === 0x7F;
}

// Returns the number, or -1 for failure ("0x" alone is 0, a leading 0 means octal).
function urlParseIPv4Number(s) {
  if (s === "") return -1;
  let radix = 10;
  let i = 0;
  if (s.length >= 2 && s[0] === "0" && (s[1] === "x" || s[1] === "X")) { radix = 16; i = 2; }
  else if (s.length >= 2 && s[0] === "0") { radix = 8; i = 1; }
  let n = 0;
  for (; i < s.length; i++) {
    const c = StringPrototypeCharCodeAt(s, i);
    let d;
    if (radix === 16) { if (!urlIsHex(c)) return -1; d = urlHexValue(c); }
    else { if (!urlIsDigit(c)) return -1; d = c - 0x30; if (d >= radix) return -1; }
    n = n * radix + d;
  }
  return n;
}

function urlEndsInNumber(s) {
  const parts = urlSplit(s, ".");
  if (parts[parts.length - 1] === "") {
    if (parts.length === 1) return false;
    ArrayPrototypePop(parts);
  }
  const last = parts[parts.length - 1];
  if (last !== "") {
    let digits = true;
    for (let i = 0; i < last.length; i++) if (!urlIsDigit(StringPrototypeCharCodeAt(last, i))) { digits = false; break; }
    if (digits) return true;
  }
  return urlParseIPv4Number(last) !== -1;
}

// Returns the dotted-quad serialization, or null.
function urlParseIPv4(s) {
  const parts = urlSplit(s, ".");
  if (parts[parts.length - 1] === "" && parts.length > 1) ArrayPrototypePop(parts);
  if (parts.length > 4) return null;
  const numbers = [];
  for (let i = 0; i < parts.length; i++) {
    const n = urlParseIPv4Number(parts[i]);
    if (n === -1) return null;
    numbers[i] = n;
  }
  for (let i = 0; i < numbers.length - 1; i++) if (numbers[i] > 255) return null;
  const last = numbers[numbers.length - 1];
  if (last >= 256 ** (5 - numbers.length)) return null;
  let ipv4 = last;
  for (let i = 0; i < numbers.length - 1; i++) ipv4 += numbers[i] * 256 ** (3 - i);
  let out = "";
  for (let i = 0; i < 4; i++) {
    out = StringCtor(ipv4 % 256) + (i === 0 ? "" : ".") + out;
    ipv4 = MathFloor(ipv4 / 256);
  }
  return out;
}

// The spec's IPv6 parser; returns 8 pieces or null.
function urlParseIPv6(s) {
  const address = [0, 0, 0, 0, 0, 0, 0, 0];
  const n = s.length;
  const at = (i) => (i < n ? StringPrototypeCharCodeAt(s, i) : URL_EOF);
  let pieceIndex = 0;
  let compress = -1;
  let p = 0;
  if (at(p) === 0x3A) {
    if (at(p + 1) !== 0x3A) return null;
    p += 2;
    pieceIndex++;
    compress = pieceIndex;
  }
  while (at(p) !== URL_EOF) {
    if (pieceIndex === 8) return null;
    if (at(p) === 0x3A) {
      if (compress !== -1) return null;
      p++;
      pieceIndex++;
      compress = pieceIndex;
      continue;
    }
    let value = 0;
    let length = 0;
    while (length < 4 && urlIsHex(at(p))) { value = value * 16 + urlHexValue(at(p)); p++; length++; }
    if (at(p) === 0x2E) {
      // an embedded IPv4 address fills the last two pieces
      if (length === 0) return null;
      p -= length;
      if (pieceIndex > 6) return null;
      let numbersSeen = 0;
      while (at(p) !== URL_EOF) {
        let piece = -1;
        if (numbersSeen > 0) {
          if (at(p) === 0x2E && numbersSeen < 4) p++;
          else return null;
        }
        if (!urlIsDigit(at(p))) return null;
        while (urlIsDigit(at(p))) {
          const d = at(p) - 0x30;
          if (piece === -1) piece = d;
          else if (piece === 0) return null;
          else piece = piece * 10 + d;
          if (piece > 255) return null;
          p++;
        }
        address[pieceIndex] = address[pieceIndex] * 0x100 + piece;
        numbersSeen++;
        if (numbersSeen === 2 || numbersSeen === 4) pieceIndex++;
      }
      if (numbersSeen !== 4) return null;
      break;
    } else if (at(p) === 0x3A) {
      p++;
      if (at(p) === URL_EOF) return null;
    } else if (at(p) !== URL_EOF) {
      return null;
    }
    address[pieceIndex] = value;
    pieceIndex++;
  }
  if (compress !== -1) {
    let swaps = pieceIndex - compress;
    pieceIndex = 7;
    while (pieceIndex !== 0 && swaps > 0) {
      const t = address[pieceIndex];
      address[pieceIndex] = address[compress + swaps - 1];
      address[compress + swaps - 1] = t;
      pieceIndex--;
      swaps--;
    }
  } else if (pieceIndex !== 8) {
    return null;
  }
  return address;
}

function urlSerializeIPv6(address) {
  // compress the first longest run of two or more zero pieces
  let compress = -1;
  let best = 1;
  for (let i = 0; i < 8;) {
    if (address[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && address[j] === 0) j++;
    if (j - i > best) { best = j - i; compress = i; }
    i = j;
  }
  let out = "";
  let ignore0 = false;
  for (let i = 0; i < 8; i++) {
    if (ignore0 && address[i] === 0) continue;
    ignore0 = false;
    if (compress === i) { out += i === 0 ? "::" : ":"; ignore0 = true; continue; }
    let v = address[i];
    let hex = "";
    do { hex = URL_HEX_LOWER[v & 15] + hex; v >>= 4; } while (v !== 0);
    out += hex;
    if (i !== 7) out += ":";
  }
  return out;
}

// RFC 3492 punycode encoding of one label's code points.
function urlPunycode(cps) {
  const base = 36, tMin = 1, tMax = 26;
  const digit = (d) => StringFromCharCode(d < 26 ? 0x61 + d : 0x30 + d - 26);
  const adapt = (delta, numPoints, first) => {
    delta = first ? MathFloor(delta / 700) : delta >> 1;
    delta += MathFloor(delta / numPoints);
    let k = 0;
    while (delta > ((base - tMin) * tMax) >> 1) { delta = MathFloor(delta / (base - tMin)); k += base; }
    return k + MathFloor(((base - tMin + 1) * delta) / (delta + 38));
  };
  let out = "";
  for (let i = 0; i < cps.length; i++) if (cps[i] < 0x80) out += StringFromCharCode(cps[i]);
  const basic = out.length;
  let h = basic;
  if (basic > 0) out += "-";
  let n = 0x80, delta = 0, bias = 72;
  while (h < cps.length) {
    let m = 0x10FFFF + 1;
    for (let i = 0; i < cps.length; i++) if (cps[i] >= n && cps[i] < m) m = cps[i];
    delta += (m - n) * (h + 1);
    n = m;
    for (let i = 0; i < cps.length; i++) {
      if (cps[i] < n) delta++;
      if (cps[i] === n) {
        let q = delta;
        for (let k = base; ; k += base) {
          const t = k <= bias ? tMin : k >= bias + tMax ? tMax : k - bias;
          if (q < t) break;
          out += digit(t + ((q - t) % (base - t)));
          q = MathFloor((q - t) / (base - t));
        }
        out += digit(q);
        bias = adapt(delta, h + 1, h === basic);
        delta = 0;
        h++;
      }
    }
    delta++;
    n++;
  }
  return out;
}

// RFC 3492 decoding, used only to refuse "xn--" labels that are not valid punycode; returns
// the code points or null.
function urlPunycodeDecode(input) {
  const base = 36, tMin = 1, tMax = 26, maxInt = 0x7FFFFFFF;
  const output = [];
  let b = 0;
  for (let j = 0; j < input.length; j++) if (input[j] === "-") b = j;
  for (let j = 0; j < b; j++) {
    const c = StringPrototypeCharCodeAt(input, j);
    if (c >= 0x80) return null;
    output[output.length] = c;
  }
  let n = 0x80, i = 0, bias = 72;
  for (let at = b > 0 ? b + 1 : 0; at < input.length;) {
    const oldi = i;
    let w = 1;
    for (let k = base; ; k += base) {
      if (at >= input.length) return null;
      const c = StringPrototypeCharCodeAt(input, at++);
      const digit = c >= 0x30 && c <= 0x39 ? c - 22 : c >= 0x61 && c <= 0x7A ? c - 0x61 : c >= 0x41 && c <= 0x5A ? c - 0x41 : base;
      if (digit >= base || digit > MathFloor((maxInt - i) / w)) return null;
      i += digit * w;
      const t = k <= bias ? tMin : k >= bias + tMax ? tMax : k - bias;
      if (digit < t) break;
      if (w > MathFloor(maxInt / (base - t))) return null;
      w *= base - t;
    }
    const count = output.length + 1;
    let delta = oldi === 0 ? MathFloor((i - oldi) / 700) : (i - oldi) >> 1;
    delta += MathFloor(delta / count);
    let k = 0;
    while (delta > ((base - tMin) * tMax) >> 1) { delta = MathFloor(delta / (base - tMin)); k += base; }
    bias = k + MathFloor(((base - tMin + 1) * delta) / (delta + 38));
    if (MathFloor(i / count) > maxInt - n) return null;
    n += MathFloor(i / count);
    i %= count;
    if (n > 0x10FFFF || (n >= 0xD800 && n <= 0xDFFF)) return null;
    ArrayPrototypeSplice(output, i, 0, n);
    i++;
  }
  return output;
}

// An "xn--" label must decode to a label the mapping would leave unchanged (approximated as:
// no C1 controls or U+FFFD, already lowercase and NFKC-normalized).
function urlIsValidAceLabel(label) {
  if (label.length === 4) return false;
  const cps = urlPunycodeDecode(StringPrototypeSlice(label, 4));
  if (cps === null) return false;
  let text = "";
  for (let i = 0; i < cps.length; i++) {
    const c = cps[i];
    if ((c >= 0x80 && c <= 0x9F) || c === 0xFFFD || urlIsForbiddenDomainCp(c)) return false;
    text += StringFromCodePoint(c);
  }
  let mapped = StringPrototypeToLowerCase(text);
  if (StringPrototypeNormalize !== undefined) mapped = StringPrototypeNormalize(mapped, "NFKC");
  return mapped === text;
}

// Domain to ASCII, simplified: ASCII is lowercased; other text is lowercased, NFKC-normalized
// (an approximation of the UTS #46 mapping table) and punycode-encoded label by label.
function urlDomainToAscii(domain) {
  let ascii = true;
  for (let i = 0; i < domain.length; i++) if (StringPrototypeCharCodeAt(domain, i) >= 0x80) { ascii = false; break; }
  let result = StringPrototypeToLowerCase(domain);
  if (!ascii) {
    if (StringPrototypeNormalize !== undefined) result = StringPrototypeToLowerCase(StringPrototypeNormalize(result, "NFKC"));
    const labels = [];
    let label = [];
    const cps = urlCodePoints(result);
    for (let i = 0; i <= cps.length; i++) {
      const c = i < cps.length ? cps[i] : URL_EOF;
      if (c === 0x2E || c === 0x3002 || c === 0xFF0E || c === 0xFF61 || c === URL_EOF) {
        let plain = true;
        let text = "";
        for (let k = 0; k < label.length; k++) {
          if (label[k] >= 0x80) plain = false;
          text += StringFromCodePoint(label[k]);
        }
        labels[labels.length] = plain ? text : "xn--" + urlPunycode(label);
        label = [];
      } else if (c === 0xFFFD) {
        return null; // invalid UTF-8 in the host
      } else if (c !== 0xAD) { // soft hyphen maps to nothing
        label[label.length] = c;
      }
    }
    result = ArrayPrototypeJoin(labels, ".");
  }
  if (result === "") return null;
  for (let i = 0; i < result.length; i++) {
    if (urlIsForbiddenDomainCp(StringPrototypeCharCodeAt(result, i))) return null;
  }
  if (StringPrototypeIndexOf(result, "xn--") !== -1) {
    const labels = urlSplit(result, ".");
    for (let i = 0; i < labels.length; i++) {
      if (StringPrototypeStartsWith(labels[i], "xn--") && !urlIsValidAceLabel(labels[i])) return null;
    }
  }
  return result;
}

// The host parser; returns the serialized host or null.
function urlParseHost(input, isOpaque) {
  if (input[0] === "[") {
    if (input[input.length - 1] !== "]") return null;
    const address = urlParseIPv6(StringPrototypeSlice(input, 1, input.length - 1));
    return address === null ? null : "[" + urlSerializeIPv6(address) + "]";
  }
  if (isOpaque) {
    const cps = urlCodePoints(input);
    let out = "";
    for (let i = 0; i < cps.length; i++) {
      if (urlIsForbiddenHostCp(cps[i])) return null;
      out += urlPercentEncode(cps[i], URL_C0_SET);
    }
    return out;
  }
  const domain = utf8Decode(urlPercentDecodeBytes(input, false));
  const ascii = urlDomainToAscii(domain);
  if (ascii === null) return null;
  if (urlEndsInNumber(ascii)) return urlParseIPv4(ascii);
  return ascii;
}

// ---- the basic URL parser ------------------------------------------------------------------

const S_SCHEME_START = 1, S_SCHEME = 2, S_NO_SCHEME = 3, S_SPECIAL_RELATIVE_OR_AUTHORITY = 4,
  S_PATH_OR_AUTHORITY = 5, S_RELATIVE = 6, S_RELATIVE_SLASH = 7, S_SPECIAL_AUTHORITY_SLASHES = 8,
  S_SPECIAL_AUTHORITY_IGNORE_SLASHES = 9, S_AUTHORITY = 10, S_HOST = 11, S_HOSTNAME = 12, S_PORT = 13,
  S_FILE = 14, S_FILE_SLASH = 15, S_FILE_HOST = 16, S_PATH_START = 17, S_PATH = 18,
  S_OPAQUE_PATH = 19, S_QUERY = 20, S_FRAGMENT = 21;

function urlNewRecord() {
  return { scheme: "", username: "", password: "", host: null, port: null, path: [], query: null, fragment: null };
}

function urlCopyPath(path) { return typeof path === "string" ? path : ArrayPrototypeSlice(path); }

function urlIsWindowsDriveLetter(s, normalizedOnly) {
  return s.length === 2 && urlIsAlpha(StringPrototypeCharCodeAt(s, 0)) &&
    (s[1] === ":" || (!normalizedOnly && s[1] === "|"));
}

function urlStartsWithWindowsDriveLetter(cps, p) {
  if (cps.length - p < 2) return false;
  if (!urlIsAlpha(cps[p]) || (cps[p + 1] !== 0x3A && cps[p + 1] !== 0x7C)) return false;
  if (cps.length - p === 2) return true;
  const c = cps[p + 2];
  return c === 0x2F || c === 0x5C || c === 0x3F || c === 0x23;
}

function urlShortenPath(url) {
  const path = url.path;
  if (url.scheme === "file" && path.length === 1 && urlIsWindowsDriveLetter(path[0], true)) return;
  if (path.length > 0) ArrayPrototypePop(path);
}

function urlIsSingleDot(s) { return s === "." || s === "%2e" || s === "%2E"; }
function urlIsDoubleDot(s) {
  switch (s) {
    case "..": case ".%2e": case ".%2E": case "%2e.": case "%2E.":
    case "%2e%2e": case "%2E%2E": case "%2e%2E": case "%2E%2e": return true;
  }
  return false;
}

// Returns url (or a new record) on success, null on failure. With a state override it edits
// url in place for a setter, as the spec does.
function urlBasicParse(input, base, url, stateOverride) {
  let cps = urlCodePoints(input);
  if (url === null) {
    url = urlNewRecord();
    // strip leading and trailing C0 controls and spaces
    let a = 0, b = cps.length;
    while (a < b && cps[a] <= 0x20) a++;
    while (b > a && cps[b - 1] <= 0x20) b--;
    if (a !== 0 || b !== cps.length) cps = ArrayPrototypeSlice(cps, a, b);
  }
  // drop ASCII tab and newline anywhere
  let hasTabOrNewline = false;
  for (let i = 0; i < cps.length; i++) if (cps[i] === 0x09 || cps[i] === 0x0A || cps[i] === 0x0D) { hasTabOrNewline = true; break; }
  if (hasTabOrNewline) {
    const kept = [];
    for (let i = 0; i < cps.length; i++) if (cps[i] !== 0x09 && cps[i] !== 0x0A && cps[i] !== 0x0D) kept[kept.length] = cps[i];
    cps = kept;
  }

  const len = cps.length;
  let state = stateOverride || S_SCHEME_START;
  let buffer = "";
  let atSignSeen = false, insideBrackets = false, passwordTokenSeen = false;
  let p = 0;

  for (;; p++) {
    const c = p < len ? cps[p] : URL_EOF;
    switch (state) {
      case S_SCHEME_START:
        if (urlIsAlpha(c)) {
          buffer += StringFromCharCode(c | 0x20);
          state = S_SCHEME;
        } else if (!stateOverride) {
          state = S_NO_SCHEME;
          p--;
        } else {
          return null;
        }
        break;

      case S_SCHEME:
        if (urlIsAlpha(c) || urlIsDigit(c) || c === 0x2B || c === 0x2D || c === 0x2E) {
          buffer += StringFromCharCode(c >= 0x41 && c <= 0x5A ? c | 0x20 : c);
        } else if (c === 0x3A) {
          if (stateOverride) {
            if (urlIsSpecial(url.scheme) !== urlIsSpecial(buffer)) return url;
            if ((url.username !== "" || url.password !== "" || url.port !== null) && buffer === "file") return url;
            if (url.scheme === "file" && url.host === "") return url;
          }
          url.scheme = buffer;
          if (stateOverride) {
            if (url.port === urlDefaultPort(url.scheme)) url.port = null;
            return url;
          }
          buffer = "";
          if (url.scheme === "file") {
            state = S_FILE;
          } else if (urlIsSpecial(url.scheme) && base !== null && base.scheme === url.scheme) {
            state = S_SPECIAL_RELATIVE_OR_AUTHORITY;
          } else if (urlIsSpecial(url.scheme)) {
            state = S_SPECIAL_AUTHORITY_SLASHES;
          } else if (p + 1 < len && cps[p + 1] === 0x2F) {
            state = S_PATH_OR_AUTHORITY;
            p++;
          } else {
            url.path = "";
            state = S_OPAQUE_PATH;
          }
        } else if (!stateOverride) {
          buffer = "";
          state = S_NO_SCHEME;
          p = -1; // start over from the first code point
        } else {
          return null;
        }
        break;

      case S_NO_SCHEME:
        if (base === null || (typeof base.path === "string" && c !== 0x23)) return null;
        if (typeof base.path === "string" && c === 0x23) {
          url.scheme = base.scheme;
          url.path = base.path;
          url.query = base.query;
          url.fragment = "";
          state = S_FRAGMENT;
        } else if (base.scheme !== "file") {
          state = S_RELATIVE;
          p--;
        } else {
          state = S_FILE;
          p--;
        }
        break;

      case S_SPECIAL_RELATIVE_OR_AUTHORITY:
        if (c === 0x2F && p + 1 < len && cps[p + 1] === 0x2F) {
          state = S_SPECIAL_AUTHORITY_IGNORE_SLASHES;
          p++;
        } else {
          state = S_RELATIVE;
          p--;
        }
        break;

      case S_PATH_OR_AUTHORITY:
        if (c === 0x2F) state = S_AUTHORITY;
        else { state = S_PATH; p--; }
        break;

      case S_RELATIVE:
        url.scheme = base.scheme;
        if (c === 0x2F || (c === 0x5C && urlIsSpecial(url.scheme))) {
          state = S_RELATIVE_SLASH;
        } else {
          url.username = base.username;
          url.password = base.password;
          url.host = base.host;
          url.port = base.port;
          url.path = urlCopyPath(base.path);
          url.query = base.query;
          if (c === 0x3F) {
            url.query = "";
            state = S_QUERY;
          } else if (c === 0x23) {
            url.fragment = "";
            state = S_FRAGMENT;
          } else if (c !== URL_EOF) {
            url.query = null;
            urlShortenPath(url);
            state = S_PATH;
            p--;
          }
        }
        break;

      case S_RELATIVE_SLASH:
        if (urlIsSpecial(url.scheme) && (c === 0x2F || c === 0x5C)) {
          state = S_SPECIAL_AUTHORITY_IGNORE_SLASHES;
        } else if (c === 0x2F) {
          state = S_AUTHORITY;
        } else {
          url.username = base.username;
          url.password = base.password;
          url.host = base.host;
          url.port = base.port;
          state = S_PATH;
          p--;
        }
        break;

      case S_SPECIAL_AUTHORITY_SLASHES:
        if (c === 0x2F && p + 1 < len && cps[p + 1] === 0x2F) {
          state = S_SPECIAL_AUTHORITY_IGNORE_SLASHES;
          p++;
        } else {
          state = S_SPECIAL_AUTHORITY_IGNORE_SLASHES;
          p--;
        }
        break;

      case S_SPECIAL_AUTHORITY_IGNORE_SLASHES:
        if (c !== 0x2F && c !== 0x5C) {
          state = S_AUTHORITY;
          p--;
        }
        break;

      case S_AUTHORITY:
        if (c === 0x40) {
          // credentials: everything before the last "@" of the authority
          if (atSignSeen) buffer = "%40" + buffer;
          atSignSeen = true;
          const bcps = urlCodePoints(buffer);
          for (let i = 0; i < bcps.length; i++) {
            if (bcps[i] === 0x3A && !passwordTokenSeen) { passwordTokenSeen = true; continue; }
            const encoded = urlPercentEncode(bcps[i], URL_USERINFO_SET);
            if (passwordTokenSeen) url.password += encoded;
            else url.username += encoded;
          }
          buffer = "";
        } else if (c === URL_EOF || c === 0x2F || c === 0x3F || c === 0x23 || (c === 0x5C && urlIsSpecial(url.scheme))) {
          if (atSignSeen && buffer === "") return null;
          p -= urlCpLength(buffer) + 1;
          buffer = "";
          state = S_HOST;
        } else {
          buffer += StringFromCodePoint(c);
        }
        break;

      case S_HOST:
      case S_HOSTNAME:
        if (stateOverride && url.scheme === "file") {
          p--;
          state = S_FILE_HOST;
        } else if (c === 0x3A && !insideBrackets) {
          if (buffer === "") return null;
          if (stateOverride === S_HOSTNAME) return null;
          const host = urlParseHost(buffer, !urlIsSpecial(url.scheme));
          if (host === null) return null;
          url.host = host;
          buffer = "";
          state = S_PORT;
        } else if (c === URL_EOF || c === 0x2F || c === 0x3F || c === 0x23 || (c === 0x5C && urlIsSpecial(url.scheme))) {
          p--;
          if (urlIsSpecial(url.scheme) && buffer === "") return null;
          if (stateOverride && buffer === "" && (url.username !== "" || url.password !== "" || url.port !== null)) return null;
          const host = urlParseHost(buffer, !urlIsSpecial(url.scheme));
          if (host === null) return null;
          url.host = host;
          buffer = "";
          state = S_PATH_START;
          if (stateOverride) return url;
        } else {
          if (c === 0x5B) insideBrackets = true;
          if (c === 0x5D) insideBrackets = false;
          buffer += StringFromCodePoint(c);
        }
        break;

      case S_PORT:
        if (urlIsDigit(c)) {
          buffer += StringFromCharCode(c);
        } else if (c === URL_EOF || c === 0x2F || c === 0x3F || c === 0x23 || (c === 0x5C && urlIsSpecial(url.scheme)) || stateOverride) {
          if (buffer !== "") {
            let port = 0;
            for (let i = 0; i < buffer.length; i++) {
              port = port * 10 + (StringPrototypeCharCodeAt(buffer, i) - 0x30);
              if (port > 65535) return null;
            }
            url.port = port === urlDefaultPort(url.scheme) ? null : port;
            buffer = "";
          }
          if (stateOverride) return url;
          state = S_PATH_START;
          p--;
        } else {
          return null;
        }
        break;

      case S_FILE:
        url.scheme = "file";
        url.host = "";
        if (c === 0x2F || c === 0x5C) {
          state = S_FILE_SLASH;
        } else if (base !== null && base.scheme === "file") {
          url.host = base.host;
          url.path = urlCopyPath(base.path);
          url.query = base.query;
          if (c === 0x3F) {
            url.query = "";
            state = S_QUERY;
          } else if (c === 0x23) {
            url.fragment = "";
            state = S_FRAGMENT;
          } else if (c !== URL_EOF) {
            url.query = null;
            if (!urlStartsWithWindowsDriveLetter(cps, p)) urlShortenPath(url);
            else url.path = [];
            state = S_PATH;
            p--;
          }
        } else {
          state = S_PATH;
          p--;
        }
        break;

      case S_FILE_SLASH:
        if (c === 0x2F || c === 0x5C) {
          state = S_FILE_HOST;
        } else {
          if (base !== null && base.scheme === "file") {
            url.host = base.host;
            if (!urlStartsWithWindowsDriveLetter(cps, p) && typeof base.path !== "string" &&
                base.path.length > 0 && urlIsWindowsDriveLetter(base.path[0], true)) {
              ArrayPrototypePush(url.path, base.path[0]);
            }
          }
          state = S_PATH;
          p--;
        }
        break;

      case S_FILE_HOST:
        if (c === URL_EOF || c === 0x2F || c === 0x5C || c === 0x3F || c === 0x23) {
          p--;
          if (!stateOverride && urlIsWindowsDriveLetter(buffer, false)) {
            // "file://C:/x": the drive letter is a path segment, the buffer carries it there
            state = S_PATH;
          } else if (buffer === "") {
            url.host = "";
            if (stateOverride) return url;
            state = S_PATH_START;
          } else {
            let host = urlParseHost(buffer, false);
            if (host === null) return null;
            if (host === "localhost") host = "";
            url.host = host;
            if (stateOverride) return url;
            buffer = "";
            state = S_PATH_START;
          }
        } else {
          buffer += StringFromCodePoint(c);
        }
        break;

      case S_PATH_START:
        if (urlIsSpecial(url.scheme)) {
          state = S_PATH;
          if (c !== 0x2F && c !== 0x5C) p--;
        } else if (!stateOverride && c === 0x3F) {
          url.query = "";
          state = S_QUERY;
        } else if (!stateOverride && c === 0x23) {
          url.fragment = "";
          state = S_FRAGMENT;
        } else if (c !== URL_EOF) {
          state = S_PATH;
          if (c !== 0x2F) p--;
        } else if (stateOverride && url.host === null) {
          ArrayPrototypePush(url.path, "");
        }
        break;

      case S_PATH: {
        const slash = c === 0x2F || (c === 0x5C && urlIsSpecial(url.scheme));
        if (c === URL_EOF || slash || (!stateOverride && (c === 0x3F || c === 0x23))) {
          if (urlIsDoubleDot(buffer)) {
            urlShortenPath(url);
            if (!slash) ArrayPrototypePush(url.path, "");
          } else if (urlIsSingleDot(buffer) && !slash) {
            ArrayPrototypePush(url.path, "");
          } else if (!urlIsSingleDot(buffer)) {
            if (url.scheme === "file" && url.path.length === 0 && urlIsWindowsDriveLetter(buffer, false)) {
              buffer = buffer[0] + ":";
            }
            ArrayPrototypePush(url.path, buffer);
          }
          buffer = "";
          if (c === 0x3F) {
            url.query = "";
            state = S_QUERY;
          }
          if (c === 0x23) {
            url.fragment = "";
            state = S_FRAGMENT;
          }
        } else {
          buffer += urlPercentEncode(c, URL_PATH_SET);
        }
        break;
      }

      case S_OPAQUE_PATH:
        if (c === 0x3F) {
          url.query = "";
          state = S_QUERY;
        } else if (c === 0x23) {
          url.fragment = "";
          state = S_FRAGMENT;
        } else if (c !== URL_EOF) {
          url.path += urlPercentEncode(c, URL_C0_SET);
        }
        break;

      case S_QUERY:
        if ((!stateOverride && c === 0x23) || c === URL_EOF) {
          const set = urlIsSpecial(url.scheme) ? URL_SPECIAL_QUERY_SET : URL_QUERY_SET;
          url.query += urlPercentEncodeString(buffer, set, false);
          buffer = "";
          if (c === 0x23) {
            url.fragment = "";
            state = S_FRAGMENT;
          }
        } else if (c !== URL_EOF) {
          buffer += StringFromCodePoint(c);
        }
        break;

      case S_FRAGMENT:
        if (c !== URL_EOF) url.fragment += urlPercentEncode(c, URL_FRAGMENT_SET);
        break;
    }
    if (p >= len) break;
  }
  return url;
}

// ---- serializing ---------------------------------------------------------------------------

function urlSerializePath(url) {
  if (typeof url.path === "string") return url.path;
  let out = "";
  for (let i = 0; i < url.path.length; i++) out += "/" + url.path[i];
  return out;
}

function urlSerialize(url, excludeFragment) {
  let out = url.scheme + ":";
  if (url.host !== null) {
    out += "//";
    if (url.username !== "" || url.password !== "") {
      out += url.username;
      if (url.password !== "") out += ":" + url.password;
      out += "@";
    }
    out += url.host;
    if (url.port !== null) out += ":" + url.port;
  }
  // "web+demo:/.//not-a-host/": keep a leading empty segment from reading as an authority
  if (url.host === null && typeof url.path !== "string" && url.path.length > 1 && url.path[0] === "") out += "/.";
  out += urlSerializePath(url);
  if (url.query !== null) out += "?" + url.query;
  if (!excludeFragment && url.fragment !== null) out += "#" + url.fragment;
  return out;
}

function urlOrigin(url) {
  switch (url.scheme) {
    case "blob": {
      if (typeof url.path !== "string") return "null";
      const inner = urlBasicParse(url.path, null, null, 0);
      if (inner !== null && (inner.scheme === "http" || inner.scheme === "https")) return urlOrigin(inner);
      return "null";
    }
    case "ftp": case "http": case "https": case "ws": case "wss":
      return url.scheme + "://" + url.host + (url.port !== null ? ":" + url.port : "");
  }
  return "null";
}

// Returns the parsed record or null.
function urlParseRecord(input, baseInput) {
  let base = null;
  if (baseInput !== undefined) {
    base = urlBasicParse(baseInput, null, null, 0);
    if (base === null) return null;
  }
  return urlBasicParse(input, base, null, 0);
}

// Errors shaped like Node's, so actions that test err.code keep working. (Also used by
// 30_encoding.js.)
function nodeError(Ctor, message, code) {
  const err = new Ctor(message);
  ObjectDefineProperty(err, "code", { value: code, writable: true, enumerable: true, configurable: true });
  return err;
}

// The tail of Node's ERR_INVALID_ARG_TYPE message: "type number (1)", "an instance of Object"...
function describeReceived(value) {
  if (value === null || value === undefined) return StringCtor(value);
  if (typeof value === "function") return "function " + value.name;
  if (typeof value === "object") {
    const ctor = value.constructor;
    return ctor && typeof ctor.name === "string" && ctor.name !== "" ? "an instance of " + ctor.name : "an instance of Object";
  }
  let shown = typeof value === "symbol" ? "Symbol()" : StringCtor(value);
  if (shown.length > 28) shown = StringPrototypeSlice(shown, 0, 25) + "...";
  if (typeof value === "string") shown = "'" + shown + "'";
  return "type " + typeof value + " (" + shown + ")";
}

function urlInvalidError(input, base) {
  const err = nodeError(TypeErrorCtor, "Invalid URL", "ERR_INVALID_URL");
  ObjectDefineProperty(err, "input", { value: input, writable: true, enumerable: true, configurable: true });
  if (base !== undefined) ObjectDefineProperty(err, "base", { value: base, writable: true, enumerable: true, configurable: true });
  return err;
}

function urlMissingArgs(names) {
  return nodeError(TypeErrorCtor, "The " + names + " must be specified", "ERR_MISSING_ARGS");
}

// Copy a freshly parsed record into the one a URL (and its URLSearchParams) already share.
function urlAssignRecord(target, source) {
  target.scheme = source.scheme;
  target.username = source.username;
  target.password = source.password;
  target.host = source.host;
  target.port = source.port;
  target.path = source.path;
  target.query = source.query;
  target.fragment = source.fragment;
}

// Setters that clear the query or fragment of an opaque path drop its trailing spaces, so the
// serialization still parses back to the same URL.
function urlStripTrailingSpaces(url) {
  if (typeof url.path !== "string" || url.fragment !== null || url.query !== null) return;
  let end = url.path.length;
  while (end > 0 && url.path[end - 1] === " ") end--;
  url.path = StringPrototypeSlice(url.path, 0, end);
}

// ---- URL -----------------------------------------------------------------------------------

const URL_INTERNAL = {};       // constructor token for parseUrl(): skips a second parse
let urlPendingRecord = null;
let uspForUrl;                 // (record) -> URLSearchParams attached to that record
let uspReplaceList;            // (params, query string or null) -> void

class URL {
  #record;
  #searchParams = null;

  constructor(url, base = undefined) {
    if (url === URL_INTERNAL && urlPendingRecord !== null) {
      this.#record = urlPendingRecord;
      urlPendingRecord = null;
      return;
    }
    if (arguments.length === 0) throw urlMissingArgs('"url" argument');
    const input = urlToUSV(url);
    const baseInput = base === undefined ? undefined : urlToUSV(base);
    const record = urlParseRecord(input, baseInput);
    if (record === null) throw urlInvalidError(input, baseInput);
    this.#record = record;
  }

  static canParse(url, base) {
    if (arguments.length === 0) throw urlMissingArgs('"url" argument');
    return urlParseRecord(urlToUSV(url), base === undefined ? undefined : urlToUSV(base)) !== null;
  }

  static parse(url, base) {
    if (arguments.length === 0) throw urlMissingArgs('"url" argument');
    const record = urlParseRecord(urlToUSV(url), base === undefined ? undefined : urlToUSV(base));
    if (record === null) return null;
    urlPendingRecord = record;
    return new URL(URL_INTERNAL);
  }

  get href() { return urlSerialize(this.#record, false); }
  set href(value) {
    const input = urlToUSV(value);
    const record = urlParseRecord(input, undefined);
    if (record === null) throw urlInvalidError(input, undefined);
    urlAssignRecord(this.#record, record);
    if (this.#searchParams !== null) uspReplaceList(this.#searchParams, record.query);
  }

  get origin() { return urlOrigin(this.#record); }

  get protocol() { return this.#record.scheme + ":"; }
  set protocol(value) { urlBasicParse(urlToUSV(value) + ":", null, this.#record, S_SCHEME_START); }

  get username() { return this.#record.username; }
  set username(value) {
    const url = this.#record;
    const input = urlToUSV(value);
    if (url.host === null || url.host === "" || url.scheme === "file") return;
    url.username = urlPercentEncodeString(input, URL_USERINFO_SET, false);
  }

  get password() { return this.#record.password; }
  set password(value) {
    const url = this.#record;
    const input = urlToUSV(value);
    if (url.host === null || url.host === "" || url.scheme === "file") return;
    url.password = urlPercentEncodeString(input, URL_USERINFO_SET, false);
  }

  get host() {
    const url = this.#record;
    if (url.host === null) return "";
    return url.port === null ? url.host : url.host + ":" + url.port;
  }
  set host(value) {
    const url = this.#record;
    const input = urlToUSV(value);
    if (typeof url.path === "string") return;
    urlBasicParse(input, null, url, S_HOST);
  }

  get hostname() { return this.#record.host === null ? "" : this.#record.host; }
  set hostname(value) {
    const url = this.#record;
    const input = urlToUSV(value);
    if (typeof url.path === "string") return;
    urlBasicParse(input, null, url, S_HOSTNAME);
  }

  get port() { return this.#record.port === null ? "" : StringCtor(this.#record.port); }
  set port(value) {
    const url = this.#record;
    const input = urlToUSV(value);
    if (url.host === null || url.host === "" || url.scheme === "file") return;
    if (input === "") url.port = null;
    else urlBasicParse(input, null, url, S_PORT);
  }

  get pathname() { return urlSerializePath(this.#record); }
  set pathname(value) {
    const url = this.#record;
    const input = urlToUSV(value);
    if (typeof url.path === "string") return;
    url.path = [];
    urlBasicParse(input, null, url, S_PATH_START);
  }

  get search() {
    const q = this.#record.query;
    return q === null || q === "" ? "" : "?" + q;
  }
  set search(value) {
    const url = this.#record;
    let input = urlToUSV(value);
    if (input === "") {
      url.query = null;
      urlStripTrailingSpaces(url);
    } else {
      if (input[0] === "?") input = StringPrototypeSlice(input, 1);
      url.query = "";
      urlBasicParse(input, null, url, S_QUERY);
    }
    if (this.#searchParams !== null) uspReplaceList(this.#searchParams, url.query);
  }

  get searchParams() {
    if (this.#searchParams === null) this.#searchParams = uspForUrl(this.#record);
    return this.#searchParams;
  }

  get hash() {
    const f = this.#record.fragment;
    return f === null || f === "" ? "" : "#" + f;
  }
  set hash(value) {
    const url = this.#record;
    let input = urlToUSV(value);
    if (input === "") {
      url.fragment = null;
      urlStripTrailingSpaces(url);
      return;
    }
    if (input[0] === "#") input = StringPrototypeSlice(input, 1);
    url.fragment = "";
    urlBasicParse(input, null, url, S_FRAGMENT);
  }

  toString() { return urlSerialize(this.#record, false); }
  toJSON() { return urlSerialize(this.#record, false); }
}
ObjectDefineProperty(URL.prototype, SymbolToStringTag, { value: "URL", configurable: true });

// For the api code: the parsed URL, or null where `new URL(string)` would throw.
function parseUrl(string) {
  const record = urlParseRecord(urlToUSV(string), undefined);
  if (record === null) return null;
  urlPendingRecord = record;
  return new URL(URL_INTERNAL);
}

// ---- URLSearchParams -----------------------------------------------------------------------

// application/x-www-form-urlencoded parsing into [{name, value}].
function uspParse(input) {
  const list = [];
  const sequences = urlSplit(input, "&");
  for (let i = 0; i < sequences.length; i++) {
    const bytes = sequences[i];
    if (bytes === "") continue;
    const eq = StringPrototypeIndexOf(bytes, "=");
    const name = eq === -1 ? bytes : StringPrototypeSlice(bytes, 0, eq);
    const value = eq === -1 ? "" : StringPrototypeSlice(bytes, eq + 1);
    list[list.length] = { name: uspDecode(name), value: uspDecode(value) };
  }
  return list;
}

function uspDecode(s) {
  let plain = true;
  for (let i = 0; i < s.length; i++) {
    const c = StringPrototypeCharCodeAt(s, i);
    if (c === 0x25 || c === 0x2B || c >= 0xD800) { plain = false; break; }
  }
  return plain ? s : utf8Decode(urlPercentDecodeBytes(s, true));
}

function uspSerialize(list) {
  let out = "";
  for (let i = 0; i < list.length; i++) {
    if (i > 0) out += "&";
    out += urlPercentEncodeString(list[i].name, URL_FORM_SET, true) + "=" +
      urlPercentEncodeString(list[i].value, URL_FORM_SET, true);
  }
  return out;
}

// Stable merge sort by name, comparing UTF-16 code units as the spec asks.
function uspSort(list) {
  if (list.length < 2) return list;
  const mid = list.length >> 1;
  const left = uspSort(ArrayPrototypeSlice(list, 0, mid));
  const right = uspSort(ArrayPrototypeSlice(list, mid));
  const out = [];
  let i = 0, j = 0;
  while (i < left.length && j < right.length) out[out.length] = right[j].name < left[i].name ? right[j++] : left[i++];
  while (i < left.length) out[out.length] = left[i++];
  while (j < right.length) out[out.length] = right[j++];
  return out;
}

function uspTupleError() {
  return nodeError(TypeErrorCtor, "Each query pair must be an iterable [name, value] tuple", "ERR_INVALID_TUPLE");
}

let uspList;                   // (params) -> its live list, for the iterator

class URLSearchParams {
  #list = [];
  #url = null;                 // the record of the URL this object belongs to, if any

  static {
    uspForUrl = (record) => {
      const params = new URLSearchParams();
      params.#url = record;
      params.#list = record.query === null ? [] : uspParse(record.query);
      return params;
    };
    uspReplaceList = (params, query) => { params.#list = query === null ? [] : uspParse(query); };
    uspList = (params) => params.#list;
  }

  constructor(init = undefined) {
    if (init === undefined || init === null) return;
    if (typeof init === "object" || typeof init === "function") {
      const method = init[SymbolIterator];
      if (method !== undefined && method !== null) {
        if (typeof method !== "function") {
          throw nodeError(TypeErrorCtor, "Query pairs must be iterable", "ERR_ARG_NOT_ITERABLE");
        }
        // lint-allow: the caller's own iterables, iterated with the caller's own iterator protocol
        for (const pair of init) {
          if (pair === null || (typeof pair !== "object" && typeof pair !== "function")) throw uspTupleError();
          if (ArrayIsArray(pair)) {
            if (pair.length !== 2) throw uspTupleError();
            ArrayPrototypePush(this.#list, { name: urlToUSV(pair[0]), value: urlToUSV(pair[1]) });
          } else {
            if (typeof pair[SymbolIterator] !== "function") throw uspTupleError();
            const items = [];
            for (const item of pair) items[items.length] = urlToUSV(item); // lint-allow: the caller's iterable
            if (items.length !== 2) throw uspTupleError();
            ArrayPrototypePush(this.#list, { name: items[0], value: items[1] });
          }
        }
      } else {
        const keys = ObjectKeys(init);
        for (let i = 0; i < keys.length; i++) {
          const name = urlToUSV(keys[i]);
          const value = urlToUSV(init[keys[i]]);
          // two keys may become one name after USV conversion: the last value wins
          let found = false;
          for (let k = 0; k < this.#list.length; k++) {
            if (this.#list[k].name === name) { this.#list[k].value = value; found = true; break; }
          }
          if (!found) ArrayPrototypePush(this.#list, { name, value });
        }
      }
      return;
    }
    let text = urlToUSV(init);
    if (text[0] === "?") text = StringPrototypeSlice(text, 1);
    this.#list = uspParse(text);
  }

  #update() {
    const url = this.#url;
    if (url === null) return;
    const serialized = uspSerialize(this.#list);
    url.query = serialized === "" ? null : serialized;
    if (url.query === null) urlStripTrailingSpaces(url);
  }

  get size() { return this.#list.length; }

  append(name, value) {
    if (arguments.length < 2) throw urlMissingArgs('"name" and "value" arguments');
    ArrayPrototypePush(this.#list, { name: urlToUSV(name), value: urlToUSV(value) });
    this.#update();
  }

  delete(name, value = undefined) {
    if (arguments.length < 1) throw urlMissingArgs('"name" argument');
    const n = urlToUSV(name);
    const v = value === undefined ? undefined : urlToUSV(value);
    const list = this.#list;
    const kept = [];
    for (let i = 0; i < list.length; i++) {
      if (list[i].name === n && (v === undefined || list[i].value === v)) continue;
      kept[kept.length] = list[i];
    }
    this.#list = kept;
    this.#update();
  }

  get(name) {
    if (arguments.length < 1) throw urlMissingArgs('"name" argument');
    const n = urlToUSV(name);
    const list = this.#list;
    for (let i = 0; i < list.length; i++) if (list[i].name === n) return list[i].value;
    return null;
  }

  getAll(name) {
    if (arguments.length < 1) throw urlMissingArgs('"name" argument');
    const n = urlToUSV(name);
    const list = this.#list;
    const out = [];
    for (let i = 0; i < list.length; i++) if (list[i].name === n) out[out.length] = list[i].value;
    return out;
  }

  has(name, value = undefined) {
    if (arguments.length < 1) throw urlMissingArgs('"name" argument');
    const n = urlToUSV(name);
    const v = value === undefined ? undefined : urlToUSV(value);
    const list = this.#list;
    for (let i = 0; i < list.length; i++) {
      if (list[i].name === n && (v === undefined || list[i].value === v)) return true;
    }
    return false;
  }

  set(name, value) {
    if (arguments.length < 2) throw urlMissingArgs('"name" and "value" arguments');
    const n = urlToUSV(name);
    const v = urlToUSV(value);
    const list = this.#list;
    const kept = [];
    let found = false;
    for (let i = 0; i < list.length; i++) {
      if (list[i].name !== n) { kept[kept.length] = list[i]; continue; }
      if (!found) { found = true; kept[kept.length] = { name: n, value: v }; }
    }
    if (!found) kept[kept.length] = { name: n, value: v };
    this.#list = kept;
    this.#update();
  }

  sort() {
    this.#list = uspSort(this.#list);
    this.#update();
  }

  forEach(callback, thisArg = undefined) {
    if (typeof callback !== "function") {
      throw nodeError(TypeErrorCtor, 'The "callback" argument must be of type function. Received ' + describeReceived(callback), "ERR_INVALID_ARG_TYPE");
    }
    // live: the callback may change the list while it is walked
    for (let i = 0; i < this.#list.length; i++) {
      const entry = this.#list[i];
      ReflectApply(callback, thisArg, [entry.value, entry.name, this]);
    }
  }

  keys() { return new URLSearchParamsIterator(this, "keys"); }
  values() { return new URLSearchParamsIterator(this, "values"); }
  entries() { return new URLSearchParamsIterator(this, "entries"); }
  [SymbolIterator]() { return new URLSearchParamsIterator(this, "entries"); }

  toString() { return uspSerialize(this.#list); }
}
ObjectDefineProperty(URLSearchParams.prototype, SymbolToStringTag, { value: "URLSearchParams", configurable: true });

class URLSearchParamsIterator {
  #params;
  #kind;
  #index = 0;
  constructor(params, kind) { this.#params = params; this.#kind = kind; }
  next() {
    const list = uspList(this.#params);
    if (this.#index >= list.length) return { value: undefined, done: true };
    const entry = list[this.#index++];
    const value = this.#kind === "keys" ? entry.name : this.#kind === "values" ? entry.value : [entry.name, entry.value];
    return { value, done: false };
  }
  [SymbolIterator]() { return this; }
}
ObjectSetPrototypeOf(URLSearchParamsIterator.prototype, IteratorPrototype);
ObjectDefineProperty(URLSearchParamsIterator.prototype, SymbolToStringTag, { value: "URLSearchParams Iterator", configurable: true });

ObjectDefineProperty(globalThis, "URL", { value: URL, writable: true, configurable: true, enumerable: false });
ObjectDefineProperty(globalThis, "URLSearchParams", { value: URLSearchParams, writable: true, configurable: true, enumerable: false });

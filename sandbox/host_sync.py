"""Handlers of the synchronous host call (runtime_js/41_host_sync.js, `Isolate.install_sync`).

Each handler is a function of the request's bytes to the answer's bytes, run on the isolate's
own thread while its JS waits, with the GIL held except where hashlib/zlib/OpenSSL release it.
So each one bounds its work by its input (sizes, iteration counts, key sizes below): a call must
not hold the isolate (which a step deadline cannot interrupt while Python runs) or the executor's
loop for long. Errors are raised as `SyncCallError` (name, message, Node's code) and thrown in
the calling JS; any other exception reaches JS as a plain Error, never the process.

Several requests carry more than one value: `fields(data)` splits the framing the JS side
builds when `hostSync` is given an array (41_host_sync.js): each field is a 4-byte little-endian length, then
its bytes; options travel as one JSON field.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import os
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .driver import SyncCallError

# the entropy source of every random value an action gets (tests replace it to check that)
urandom: Callable[[int], bytes] = os.urandom

RANDOM_MAX = 1 << 16  # bytes per call (the runtime asks for a 4 KiB pool, or one large request)
HASH_INPUT_MAX = 16 * 2**20  # what one digest may cover (~25 ms of SHA-256 here)
PBKDF2_WORK_MAX = 600_000  # iterations x output blocks (OWASP's PBKDF2-SHA256 count; ~0.25 s here)
SCRYPT_MEMORY_MAX = 32 * 2**20  # 128 * N * r bytes, as Node's default maxmem
SCRYPT_WORK_MAX = 64 * 2**20  # 128 * N * r * p (N=16384, r=8, p=4: ~0.3 s here)
ZLIB_INPUT_MAX = 8 * 2**20
ZLIB_OUTPUT_MAX = 16 * 2**20  # a decompression that would produce more fails (RangeError)
BROTLI_SLOW_INPUT_MAX = 256 * 1024  # quality 10-11 compresses < 1 MB/s: larger inputs get quality 9
RSA_BITS_MAX = 8192
KEY_CACHE_SIZE = 64

HASHES = {"md5": "md5", "sha1": "sha1", "sha224": "sha224", "sha256": "sha256", "sha384": "sha384",
          "sha512": "sha512", "sha512-224": "sha512_224", "sha512-256": "sha512_256", "sha3-224": "sha3_224",
          "sha3-256": "sha3_256", "sha3-384": "sha3_384", "sha3-512": "sha3_512", "shake128": "shake_128",
          "shake256": "shake_256", "ripemd160": "ripemd160"}


def fields(data: bytes) -> list[bytes]:
    out: list[bytes] = []
    at = 0
    while at < len(data):
        if at + 4 > len(data):
            raise SyncCallError("malformed host call")
        (n,) = struct.unpack_from("<I", data, at)
        at += 4
        if at + n > len(data):
            raise SyncCallError("malformed host call")
        out.append(data[at : at + n])
        at += n
    return out


def pack(*values: bytes) -> bytes:
    return b"".join(struct.pack("<I", len(v)) + v for v in values)


def options(field: bytes) -> dict[str, Any]:
    try:
        value = json.loads(field)
    except ValueError:
        raise SyncCallError("malformed host call") from None
    if not isinstance(value, dict):
        raise SyncCallError("malformed host call")
    return value


def hash_name(name: bytes | str) -> str:
    text = (name.decode("ascii", "replace") if isinstance(name, bytes) else name).lower()
    if text not in HASHES:
        raise SyncCallError("Digest method not supported", "Error", "ERR_CRYPTO_INVALID_DIGEST")
    return HASHES[text]


def _count(data: bytes, limit: int) -> int:
    try:
        n = int(data)
    except ValueError:
        raise SyncCallError("malformed host call") from None
    if not 0 <= n <= limit:
        raise SyncCallError(f"the count is out of range (0 to {limit})", "RangeError", "ERR_OUT_OF_RANGE")
    return n


def _input_cap(data: bytes, limit: int, what: str) -> None:
    if len(data) > limit:
        raise SyncCallError(f"{what} of {len(data)} bytes is over the sandbox's limit of {limit} bytes",
                            "RangeError", "ERR_OUT_OF_RANGE")


# -- randomness and digests ------------------------------------------------------------------

def random_bytes(data: bytes) -> bytes:
    """payload: the count, as decimal ASCII."""
    return urandom(_count(data, RANDOM_MAX))


def digest(data: bytes) -> bytes:
    """fields: algorithm, data[, output length (XOF)]."""
    parts = fields(data)
    name, message = hash_name(parts[0]), parts[1]
    _input_cap(message, HASH_INPUT_MAX, "the data to hash")
    h = hashlib.new(name, message)
    if name.startswith("shake_"):
        return h.digest(_count(parts[2], 1 << 16) if len(parts) > 2 else (16 if name == "shake_128" else 32))
    return h.digest()


def mac(data: bytes) -> bytes:
    """fields: algorithm, key, data."""
    name, key, message = fields(data)
    name = hash_name(name)
    if name.startswith("shake_"):
        raise SyncCallError("Invalid digest: " + name, "TypeError", "ERR_CRYPTO_INVALID_DIGEST")
    _input_cap(message, HASH_INPUT_MAX, "the data to hash")
    _input_cap(key, HASH_INPUT_MAX, "the key")
    return hmac.new(key, message, name).digest()


def pbkdf2(data: bytes) -> bytes:
    """fields: algorithm, password, salt, JSON {iterations, keylen}."""
    name, password, salt, opts = fields(data)
    name = hash_name(name)
    o = options(opts)
    iterations, keylen = int(o["iterations"]), int(o["keylen"])
    size = hashlib.new(name).digest_size
    blocks = max(1, -(-keylen // size))
    if iterations * blocks > PBKDF2_WORK_MAX:
        raise SyncCallError(f"pbkdf2 work of {iterations} iterations x {blocks} blocks is over the sandbox's limit "
                            f"of {PBKDF2_WORK_MAX}", "RangeError", "ERR_OUT_OF_RANGE")
    if keylen == 0:
        return b""
    return hashlib.pbkdf2_hmac(name, password, salt, iterations, keylen)


def hkdf(data: bytes) -> bytes:
    """fields: algorithm, key, salt, info, length (decimal)."""
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    name, key, salt, info, length = fields(data)
    algorithm = _hash_algorithm(name)
    size = _count(length, 255 * algorithm.digest_size)
    if len(info) > 1024:
        raise SyncCallError('The value of "info" is out of range. It must be <= 1024 bytes', "RangeError",
                            "ERR_OUT_OF_RANGE")
    _input_cap(key, HASH_INPUT_MAX, "the key")
    return HKDF(algorithm, size, salt, info).derive(key)


def scrypt(data: bytes) -> bytes:
    """fields: password, salt, JSON {N, r, p, keylen, maxmem}."""
    password, salt, opts = fields(data)
    o = options(opts)
    n, r, p, keylen = int(o["N"]), int(o["r"]), int(o["p"]), int(o["keylen"])
    maxmem = min(int(o.get("maxmem") or SCRYPT_MEMORY_MAX), SCRYPT_MEMORY_MAX)
    if n < 2 or n & (n - 1) or r < 1 or p < 1 or 128 * n * r * p > SCRYPT_WORK_MAX or 128 * n * r > maxmem:
        raise SyncCallError("Invalid scrypt params: memory limit exceeded", "RangeError", "ERR_CRYPTO_INVALID_SCRYPT_PARAMS")
    if keylen == 0:
        return b""
    return hashlib.scrypt(password, salt=salt, n=n, r=r, p=p, maxmem=maxmem + 2**20, dklen=keylen)


# -- zlib and brotli -------------------------------------------------------------------------

def _zlib_wbits(fmt: str, window_bits: int) -> int:
    window_bits = window_bits or 15
    if fmt == "gzip":
        return 16 + window_bits
    if fmt == "raw":
        return -window_bits
    if fmt == "unzip":
        return 32 + window_bits
    return window_bits


def _too_large(limit: int) -> SyncCallError:
    return SyncCallError(f"Cannot create a Buffer larger than {limit} bytes (the decompressed output is over the "
                         f"sandbox's limit)", "RangeError", "ERR_BUFFER_TOO_LARGE")


def compress(data: bytes) -> bytes:
    """fields: JSON {format: gzip|deflate|raw|brotli, level, windowBits, memLevel, strategy,
    quality, lgwin, mode}, data."""
    opts, payload = fields(data)
    o = options(opts)
    fmt = o.get("format")
    _input_cap(payload, ZLIB_INPUT_MAX, "the data to compress")
    if fmt == "brotli":
        import brotli

        quality = int(o.get("quality", 11))
        if quality >= 10 and len(payload) > BROTLI_SLOW_INPUT_MAX:
            quality = 9  # (seconds at 10-11; the output stays valid brotli, a little larger)
        return brotli.compress(payload, mode=int(o.get("mode", 0)), quality=quality, lgwin=int(o.get("lgwin", 22)))
    if fmt not in ("gzip", "deflate", "raw"):
        raise SyncCallError("malformed host call")
    c = zlib.compressobj(int(o.get("level", -1)), zlib.DEFLATED, _zlib_wbits(fmt, int(o.get("windowBits", 15))),
                         int(o.get("memLevel", 8)), int(o.get("strategy", 0)))
    return c.compress(payload) + c.flush()


def decompress(data: bytes) -> bytes:
    """fields: JSON {format: gzip|deflate|raw|unzip|brotli, windowBits, maxOutputLength}, data.
    The output stops at the cap: a bomb fails without ever being inflated past it."""
    opts, payload = fields(data)
    o = options(opts)
    fmt = o.get("format")
    limit = min(int(o.get("maxOutputLength") or ZLIB_OUTPUT_MAX), ZLIB_OUTPUT_MAX)
    _input_cap(payload, ZLIB_INPUT_MAX, "the data to decompress")
    if fmt == "brotli":
        import brotli

        d = brotli.Decompressor()
        try:
            out = d.process(payload, output_buffer_limit=limit + 1)
        except brotli.error:
            raise SyncCallError("Decompression failed", "Error", "ERR_BROTLI_DECOMPRESSION_FAILED") from None
        if len(out) > limit or not d.is_finished() and not d.can_accept_more_data():
            raise _too_large(limit)
        if not d.is_finished():
            raise SyncCallError("unexpected end of file", "Error", "Z_BUF_ERROR")
        return out
    if fmt not in ("gzip", "deflate", "raw", "unzip"):
        raise SyncCallError("malformed host call")
    window = int(o.get("windowBits", 15))
    d = zlib.decompressobj(_zlib_wbits(fmt, window))
    try:
        out = d.decompress(payload, limit + 1)
        if len(out) > limit:
            raise _too_large(limit)
        out += d.flush()
    except zlib.error as exc:
        text = str(exc)
        if "incorrect header check" in text:
            raise SyncCallError("incorrect header check", "Error", "Z_DATA_ERROR") from None
        if "invalid" in text or "incorrect" in text:
            raise SyncCallError(text.split(": ", 1)[-1].replace("while decompressing data", "").strip() or "invalid data",
                                "Error", "Z_DATA_ERROR") from None
        raise SyncCallError("unexpected end of file", "Error", "Z_BUF_ERROR") from None
    if len(out) > limit:
        raise _too_large(limit)
    if not d.eof:
        raise SyncCallError("unexpected end of file", "Error", "Z_BUF_ERROR")
    # gzip members after the first (gunzip of concatenated members, as Node does)
    rest = d.unused_data
    while fmt in ("gzip", "unzip") and rest[:2] == b"\x1f\x8b":
        d = zlib.decompressobj(_zlib_wbits("gzip", window))
        try:
            more = d.decompress(rest, limit + 1 - len(out))
            if len(out) + len(more) > limit:
                raise _too_large(limit)
            more += d.flush()
        except zlib.error:
            break
        out += more
        if len(out) > limit:
            raise _too_large(limit)
        rest = d.unused_data
    return out


# -- lazily compiled runtime code ----------------------------------------------------------------

LAZY_DIR = Path(__file__).resolve().parent.parent / "runtime_js" / "lazy"


@functools.cache
def _lazy_sources() -> dict[str, bytes]:
    return {path.stem: path.read_bytes() for path in sorted(LAZY_DIR.glob("*.js"))}


def runtime_source(data: bytes) -> bytes:
    """payload: the name of a runtime_js/lazy/ file (without .js). Answer: its text, which the
    runtime compiles the first time an action needs it (44_node_crypto.js lazyRuntime)."""
    source = _lazy_sources().get(data.decode("ascii", "replace"))
    if source is None:
        raise SyncCallError("no lazy runtime file of that name")
    return source


# -- dispatch --------------------------------------------------------------------------------

HANDLERS: dict[str, Callable[[bytes], bytes]] = {
    "random": random_bytes,
    "hash": digest,
    "hmac": mac,
    "pbkdf2": pbkdf2,
    "scrypt": scrypt,
    "hkdf": hkdf,
    "zlib.compress": compress,
    "zlib.decompress": decompress,
    "runtime.source": runtime_source,
    "echo": lambda data: data,  # the channel's own tests and measurements
}


def dispatch(kind: str, payload: bytes) -> bytes:
    handler = HANDLERS.get(kind)
    if handler is None:
        raise SyncCallError(f"host call '{kind}' is not available")
    try:
        return handler(payload)
    except SyncCallError:
        raise
    except (KeyError, ValueError, TypeError, OverflowError) as exc:
        raise SyncCallError(f"invalid arguments for {kind}: {exc}") from None



# -- asymmetric keys (cryptography) ------------------------------------------------------------
#
# A key crosses as DER: PKCS#8 for a private key, SPKI for a public one (the KeyObject in JS
# keeps those bytes). Parsed keys are kept in a small LRU cache keyed by their bytes (a flow
# signs with the same key at every login). RSA private keys are loaded without cryptography's
# consistency check of the primes, as Node (OpenSSL) loads them: the check took 0.4 s for a
# 4096-bit key and 7 s for an 8192-bit one here, on the isolate's thread.

CURVES = {"secp256r1": ("prime256v1", "P-256"), "secp384r1": ("secp384r1", "P-384"),
          "secp521r1": ("secp521r1", "P-521"), "secp256k1": ("secp256k1", "secp256k1")}
NODE_CURVES = {"prime256v1": "secp256r1", "p-256": "secp256r1", "secp256r1": "secp256r1", "p-384": "secp384r1",
               "secp384r1": "secp384r1", "p-521": "secp521r1", "secp521r1": "secp521r1", "secp256k1": "secp256k1"}
_key_cache: dict[tuple[Any, ...], Any] = {}


def _invalid_key(message: str = "Failed to read the key") -> SyncCallError:
    return SyncCallError(message, "Error", "ERR_OSSL_UNSUPPORTED")


def _b64url(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: Any) -> bytes:
    import base64

    if not isinstance(text, str):
        raise SyncCallError('The "key.jwk" property is not valid', "TypeError", "ERR_CRYPTO_INVALID_JWK")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _int_b64(text: Any) -> int:
    return int.from_bytes(_b64url_decode(text), "big")


def _jwk_key(jwk: dict[str, Any], want_private: bool) -> Any:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    kty = jwk.get("kty")
    if kty == "RSA":
        public = rsa.RSAPublicNumbers(_int_b64(jwk.get("e")), _int_b64(jwk.get("n")))
        if "d" in jwk and want_private:
            p, q, d = _int_b64(jwk["p"]), _int_b64(jwk["q"]), _int_b64(jwk["d"])
            return rsa.RSAPrivateNumbers(p, q, d, _int_b64(jwk["dp"]), _int_b64(jwk["dq"]), _int_b64(jwk["qi"]),
                                         public).private_key(unsafe_skip_rsa_key_validation=True)
        return public.public_key()
    if kty == "EC":
        curve = NODE_CURVES.get(str(jwk.get("crv")).lower())
        if curve is None:
            raise SyncCallError("Unsupported JWK EC curve: " + str(jwk.get("crv")), "Error", "ERR_CRYPTO_INVALID_JWK")
        cls = getattr(ec, curve.upper())
        public = ec.EllipticCurvePublicNumbers(_int_b64(jwk.get("x")), _int_b64(jwk.get("y")), cls())
        if "d" in jwk and want_private:
            return ec.EllipticCurvePrivateNumbers(_int_b64(jwk["d"]), public).private_key()
        return public.public_key()
    if kty == "OKP" and jwk.get("crv") == "Ed25519":
        if "d" in jwk and want_private:
            return ed25519.Ed25519PrivateKey.from_private_bytes(_b64url_decode(jwk["d"]))
        return ed25519.Ed25519PublicKey.from_public_bytes(_b64url_decode(jwk.get("x")))
    raise SyncCallError("Invalid JWK data", "TypeError", "ERR_CRYPTO_INVALID_JWK")


def _load(kind: str, fmt: str, typ: str, data: bytes, passphrase: bytes | None) -> Any:
    """A private or public key object from PEM, DER or JWK (a private key, or a certificate,
    gives its public key when kind is 'public')."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    key = (kind, fmt, typ, data, passphrase)
    cached = _key_cache.pop(key, None)
    if cached is not None:
        _key_cache[key] = cached
        return cached
    try:
        if fmt == "jwk":
            obj = _jwk_key(options(data), kind == "private")
            if kind == "private" and not hasattr(obj, "private_bytes"):
                raise _invalid_key("Invalid JWK private key")
        elif fmt == "pem":
            if kind == "private":
                obj = serialization.load_pem_private_key(data, passphrase, unsafe_skip_rsa_key_validation=True)
            elif b"-----BEGIN CERTIFICATE-----" in data:
                obj = x509.load_pem_x509_certificate(data).public_key()
            elif b"PRIVATE KEY-----" in data:
                obj = serialization.load_pem_private_key(data, passphrase, unsafe_skip_rsa_key_validation=True).public_key()
            else:
                obj = serialization.load_pem_public_key(data)
        elif fmt == "der":
            if kind == "private":
                obj = serialization.load_der_private_key(data, passphrase, unsafe_skip_rsa_key_validation=True)
            elif typ == "pkcs8" or typ == "sec1":
                obj = serialization.load_der_private_key(data, passphrase, unsafe_skip_rsa_key_validation=True).public_key()
            else:
                try:
                    obj = serialization.load_der_public_key(data)
                except ValueError:
                    obj = serialization.load_der_private_key(data, passphrase,
                                                             unsafe_skip_rsa_key_validation=True).public_key()
        else:
            raise SyncCallError("malformed host call")
    except SyncCallError:
        raise
    except TypeError as exc:
        if "password" in str(exc).lower():
            raise SyncCallError("Passphrase required for encrypted key", "TypeError", "ERR_MISSING_PASSPHRASE") from None
        raise _invalid_key(f"Failed to read the {kind} key: {exc}") from None
    except (ValueError, KeyError) as exc:
        # (cryptography's message names no secret; a PEM that is not a key lands here)
        raise _invalid_key(f"Failed to read the {kind} key: {str(exc).split('.')[0] or 'unsupported'}") from None
    if hasattr(obj, "key_size") and obj.key_size > RSA_BITS_MAX:
        raise SyncCallError(f"RSA keys over {RSA_BITS_MAX} bits are not supported", "RangeError", "ERR_OUT_OF_RANGE")
    if len(_key_cache) >= KEY_CACHE_SIZE:
        _key_cache.pop(next(iter(_key_cache)))
    _key_cache[key] = obj
    return obj


def _describe(obj: Any) -> dict[str, Any]:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    public = obj.public_key() if hasattr(obj, "private_bytes") else obj
    if isinstance(public, rsa.RSAPublicKey):
        return {"asymmetricKeyType": "rsa", "details": {"modulusLength": public.key_size,
                                                         "publicExponent": str(public.public_numbers().e)}}
    if isinstance(public, ec.EllipticCurvePublicKey):
        node, _web = CURVES.get(public.curve.name, (public.curve.name, public.curve.name))
        return {"asymmetricKeyType": "ec", "details": {"namedCurve": node}}
    if isinstance(public, ed25519.Ed25519PublicKey):
        return {"asymmetricKeyType": "ed25519", "details": {}}
    raise _invalid_key("Unsupported key type")


def _der(obj: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    if hasattr(obj, "private_bytes"):
        return obj.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())
    return obj.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def key_parse(data: bytes) -> bytes:
    """fields: JSON {kind: private|public, format: pem|der|jwk, type, passphrase?}, key data.
    Answer: fields JSON {type, asymmetricKeyType, details}, DER (PKCS#8 or SPKI)."""
    opts, key = fields(data)
    o = options(opts)
    kind = o.get("kind")
    if kind not in ("private", "public"):
        raise SyncCallError("malformed host call")
    passphrase = o.get("passphrase")
    obj = _load(kind, str(o.get("format", "pem")), str(o.get("type") or ""), key,
                passphrase.encode("utf-8") if isinstance(passphrase, str) else None)
    info = _describe(obj)
    info["type"] = kind
    return pack(json.dumps(info).encode(), _der(obj))


def _from_der(kind: str, der: bytes) -> Any:
    return _load(kind, "der", "pkcs8" if kind == "private" else "spki", der, None)


def key_export(data: bytes) -> bytes:
    """fields: JSON {kind, format: pem|der|jwk|raw, type: pkcs1|pkcs8|spki|sec1, cipher,
    passphrase}, DER of the key. Answer: the PEM text, DER, raw point, or JWK JSON."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    opts, der = fields(data)
    o = options(opts)
    kind, fmt, typ = o.get("kind"), o.get("format"), o.get("type")
    obj = _from_der(kind, der)
    if fmt == "jwk":
        public = obj.public_key() if kind == "private" else obj
        if isinstance(public, rsa.RSAPublicKey):
            n = public.public_numbers()
            jwk: dict[str, Any] = {"kty": "RSA", "n": _b64url(n.n.to_bytes((n.n.bit_length() + 7) // 8, "big")),
                                   "e": _b64url(n.e.to_bytes((n.e.bit_length() + 7) // 8, "big"))}
            if kind == "private":
                p = obj.private_numbers()

                def b(v: int) -> str:
                    return _b64url(v.to_bytes((v.bit_length() + 7) // 8, "big"))

                jwk.update(d=b(p.d), p=b(p.p), q=b(p.q), dp=b(p.dmp1), dq=b(p.dmq1), qi=b(p.iqmp))
        elif isinstance(public, ec.EllipticCurvePublicKey):
            size = (public.curve.key_size + 7) // 8
            n = public.public_numbers()
            jwk = {"kty": "EC", "crv": CURVES.get(public.curve.name, ("", public.curve.name))[1],
                   "x": _b64url(n.x.to_bytes(size, "big")), "y": _b64url(n.y.to_bytes(size, "big"))}
            if kind == "private":
                jwk["d"] = _b64url(obj.private_numbers().private_value.to_bytes(size, "big"))
        elif isinstance(public, ed25519.Ed25519PublicKey):
            jwk = {"crv": "Ed25519", "x": _b64url(public.public_bytes(serialization.Encoding.Raw,
                                                                      serialization.PublicFormat.Raw)), "kty": "OKP"}
            if kind == "private":
                jwk["d"] = _b64url(obj.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                                     serialization.NoEncryption()))
        else:
            raise _invalid_key("Unsupported key type")
        return json.dumps(jwk).encode()
    if fmt == "raw":
        if kind != "public":
            raise SyncCallError("Unsupported export format", "Error", "ERR_INVALID_ARG_VALUE")
        if isinstance(obj, ed25519.Ed25519PublicKey):
            return obj.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return obj.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    encoding = {"pem": serialization.Encoding.PEM, "der": serialization.Encoding.DER}.get(fmt)
    if encoding is None:
        raise SyncCallError(f'The property \'options.format\' is invalid. Received {fmt!r}', "TypeError",
                            "ERR_INVALID_ARG_VALUE")
    if kind == "public":
        if typ == "pkcs1":
            if not isinstance(obj, rsa.RSAPublicKey):
                raise SyncCallError("The selected key encoding pkcs1 can only be used for RSA keys.", "Error",
                                    "ERR_CRYPTO_INCOMPATIBLE_KEY_OPTIONS")
            return obj.public_bytes(encoding, serialization.PublicFormat.PKCS1)
        if typ not in ("spki", None):
            raise SyncCallError(f"The property 'options.type' is invalid. Received {typ!r}", "TypeError",
                                "ERR_INVALID_ARG_VALUE")
        return obj.public_bytes(encoding, serialization.PublicFormat.SubjectPublicKeyInfo)
    passphrase = o.get("passphrase")
    crypt: Any = serialization.NoEncryption()
    if o.get("cipher"):
        if not isinstance(passphrase, str):
            raise SyncCallError("Passphrase required for encrypted key", "TypeError", "ERR_MISSING_PASSPHRASE")
        crypt = serialization.BestAvailableEncryption(passphrase.encode("utf-8"))
    if typ == "pkcs8":
        return obj.private_bytes(encoding, serialization.PrivateFormat.PKCS8, crypt)
    if typ == "pkcs1":
        if not isinstance(obj, rsa.RSAPrivateKey):
            raise SyncCallError("The selected key encoding pkcs1 can only be used for RSA keys.", "Error",
                                "ERR_CRYPTO_INCOMPATIBLE_KEY_OPTIONS")
        return obj.private_bytes(encoding, serialization.PrivateFormat.TraditionalOpenSSL, crypt)
    if typ == "sec1":
        if not isinstance(obj, ec.EllipticCurvePrivateKey):
            raise SyncCallError("The selected key encoding sec1 can only be used for EC keys.", "Error",
                                "ERR_CRYPTO_INCOMPATIBLE_KEY_OPTIONS")
        return obj.private_bytes(encoding, serialization.PrivateFormat.TraditionalOpenSSL, crypt)
    raise SyncCallError(f"The property 'options.type' is invalid. Received {typ!r}", "TypeError",
                        "ERR_INVALID_ARG_VALUE")


def _hash_algorithm(name: Any) -> Any:
    from cryptography.hazmat.primitives import hashes

    table = {"md5": hashes.MD5, "sha1": hashes.SHA1, "sha224": hashes.SHA224, "sha256": hashes.SHA256,
             "sha384": hashes.SHA384, "sha512": hashes.SHA512, "sha512_224": hashes.SHA512_224,
             "sha512_256": hashes.SHA512_256, "sha3_256": hashes.SHA3_256, "sha3_384": hashes.SHA3_384,
             "sha3_512": hashes.SHA3_512}
    cls = table.get(hash_name(name))
    if cls is None:
        raise SyncCallError("Invalid digest: " + str(name), "TypeError", "ERR_CRYPTO_INVALID_DIGEST")
    return cls()


RSA_PKCS1_PADDING, RSA_PKCS1_PSS_PADDING = 1, 6
RSA_PSS_SALTLEN_DIGEST, RSA_PSS_SALTLEN_MAX_SIGN, RSA_PSS_SALTLEN_AUTO = -1, -2, -2


def _signature_args(obj: Any, o: dict[str, Any], signing: bool) -> tuple[Any, ...]:
    """What cryptography's sign/verify take besides the data, for this key and Node's options."""
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

    public = obj.public_key() if hasattr(obj, "private_bytes") else obj
    if isinstance(public, ed25519.Ed25519PublicKey):
        return ()
    algorithm = o.get("hash")
    if algorithm is None:
        raise SyncCallError('The "algorithm" argument must be of type string', "TypeError", "ERR_INVALID_ARG_TYPE")
    h = _hash_algorithm(algorithm)
    if isinstance(public, rsa.RSAPublicKey):
        pad = o.get("padding") or RSA_PKCS1_PADDING
        if pad == RSA_PKCS1_PSS_PADDING:
            salt = o.get("saltLength")
            if salt is None or salt == RSA_PSS_SALTLEN_MAX_SIGN:
                length: Any = padding.PSS.MAX_LENGTH if signing else padding.PSS.AUTO
            elif salt == RSA_PSS_SALTLEN_DIGEST:
                length = padding.PSS.DIGEST_LENGTH
            else:
                length = int(salt)
            return (padding.PSS(mgf=padding.MGF1(h), salt_length=length), h)
        if pad != RSA_PKCS1_PADDING:
            raise SyncCallError("illegal or unsupported padding mode", "Error", "ERR_OSSL_RSA_UNKNOWN_PADDING_TYPE")
        return (padding.PKCS1v15(), h)
    if isinstance(public, ec.EllipticCurvePublicKey):
        return (ec.ECDSA(h),)
    raise _invalid_key("Unsupported key type")


def _curve_bytes(obj: Any) -> int:
    public = obj.public_key() if hasattr(obj, "private_bytes") else obj
    return (public.curve.key_size + 7) // 8


def key_sign(data: bytes) -> bytes:
    """fields: JSON {hash, padding, saltLength, dsaEncoding}, PKCS#8 DER, data."""
    from cryptography.hazmat.primitives.asymmetric import ec, utils

    opts, der, message = fields(data)
    o = options(opts)
    _input_cap(message, HASH_INPUT_MAX, "the data to sign")
    obj = _from_der("private", der)
    signature = obj.sign(message, *_signature_args(obj, o, True))
    if isinstance(obj, ec.EllipticCurvePrivateKey) and o.get("dsaEncoding") == "ieee-p1363":
        r, s = utils.decode_dss_signature(signature)
        size = _curve_bytes(obj)
        signature = r.to_bytes(size, "big") + s.to_bytes(size, "big")
    return signature


def key_verify(data: bytes) -> bytes:
    """fields: JSON {kind, hash, padding, saltLength, dsaEncoding}, DER, data, signature.
    Answer: 1 or 0 (one byte)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric import ec, utils

    opts, der, message, signature = fields(data)
    o = options(opts)
    _input_cap(message, HASH_INPUT_MAX, "the data to verify")
    obj = _from_der(o.get("kind", "public"), der)
    public = obj.public_key() if hasattr(obj, "private_bytes") else obj
    args = _signature_args(public, o, False)
    if isinstance(public, ec.EllipticCurvePublicKey) and o.get("dsaEncoding") == "ieee-p1363":
        size = _curve_bytes(public)
        if len(signature) != 2 * size:
            return b"\x00"
        signature = utils.encode_dss_signature(int.from_bytes(signature[:size], "big"),
                                               int.from_bytes(signature[size:], "big"))
    try:
        public.verify(signature, message, *args)
    except (InvalidSignature, ValueError):
        return b"\x00"
    return b"\x01"


def key_generate(data: bytes) -> bytes:
    """payload: JSON {type: rsa|ec|ed25519, modulusLength, publicExponent, namedCurve}.
    Answer: as key.parse, for the private key."""
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    o = options(data)
    typ = o.get("type")
    if typ == "rsa":
        bits = int(o.get("modulusLength", 0))
        if not 512 <= bits <= 4096:
            raise SyncCallError("modulusLength must be between 512 and 4096 in the sandbox (RSA key generation "
                                "over 4096 bits takes seconds)", "RangeError", "ERR_OUT_OF_RANGE")
        obj: Any = rsa.generate_private_key(int(o.get("publicExponent", 65537)), bits)
    elif typ == "ec":
        curve = NODE_CURVES.get(str(o.get("namedCurve")).lower())
        if curve is None:
            raise SyncCallError("Invalid EC curve name", "TypeError", "ERR_CRYPTO_INVALID_CURVE")
        obj = ec.generate_private_key(getattr(ec, curve.upper())())
    elif typ == "ed25519":
        obj = ed25519.Ed25519PrivateKey.generate()
    else:
        raise SyncCallError(f"The argument 'type' must be a supported key type. Received {typ!r}", "TypeError",
                            "ERR_INVALID_ARG_VALUE")
    info = _describe(obj)
    info["type"] = "private"
    return pack(json.dumps(info).encode(), _der(obj))


def key_raw_public(data: bytes) -> bytes:
    """fields: JSON {namedCurve}, a raw public point (EC) or 32 bytes (Ed25519). Answer: as
    key.parse, for the public key (WebCrypto's importKey('raw'))."""
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    opts, point = fields(data)
    o = options(opts)
    try:
        if o.get("namedCurve") == "Ed25519":
            obj: Any = ed25519.Ed25519PublicKey.from_public_bytes(point)
        else:
            curve = NODE_CURVES.get(str(o.get("namedCurve")).lower())
            if curve is None:
                raise SyncCallError("Unrecognized namedCurve", "Error", "NotSupportedError")
            obj = ec.EllipticCurvePublicKey.from_encoded_point(getattr(ec, curve.upper())(), point)
    except ValueError:
        raise SyncCallError("Invalid keyData", "Error", "DataError") from None
    info = _describe(obj)
    info["type"] = "public"
    return pack(json.dumps(info).encode(), _der(obj))


HANDLERS.update({
    "key.parse": key_parse,
    "key.export": key_export,
    "key.sign": key_sign,
    "key.verify": key_verify,
    "key.generate": key_generate,
    "key.raw": key_raw_public,
})


# -- ciphers (createCipheriv / createDecipheriv, subtle AES-GCM) ----------------------------------
#
# Stateless: each call gets everything given to update() so far and answers with the output for
# all of it; the JS side hands back only what it has not returned yet. CBC / CTR / GCM output for
# a prefix of the input is a prefix of the output, so this is what an OpenSSL context would have
# produced chunk by chunk (CBC keeps its last block back until final, as EVP does).

CIPHERS = {"aes-128-cbc": (16, "cbc"), "aes-192-cbc": (24, "cbc"), "aes-256-cbc": (32, "cbc"),
           "aes-128-ctr": (16, "ctr"), "aes-192-ctr": (24, "ctr"), "aes-256-ctr": (32, "ctr"),
           "aes-128-gcm": (16, "gcm"), "aes-192-gcm": (24, "gcm"), "aes-256-gcm": (32, "gcm"),
           "aes-128-ecb": (16, "ecb"), "aes-192-ecb": (24, "ecb"), "aes-256-ecb": (32, "ecb"),
           "id-aes128-gcm": (16, "gcm"), "id-aes192-gcm": (24, "gcm"), "id-aes256-gcm": (32, "gcm"),
           "aes128": (16, "cbc"), "aes192": (24, "cbc"), "aes256": (32, "cbc")}
CIPHER_INPUT_MAX = 16 * 2**20


def cipher(data: bytes) -> bytes:
    """fields: JSON {algorithm, decrypt, final, autoPadding, authTagLength}, key, iv, data so
    far, AAD, auth tag (decrypting GCM). Answer: fields output, auth tag (encrypting GCM, final)."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives import padding as sym_padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    opts, key, iv, message, aad, tag = fields(data)
    o = options(opts)
    name = str(o.get("algorithm", "")).lower()
    if name not in CIPHERS:
        raise SyncCallError("Invalid cipher type", "TypeError", "ERR_CRYPTO_UNKNOWN_CIPHER")
    key_size, mode_name = CIPHERS[name]
    if len(key) != key_size:
        raise SyncCallError("Invalid key length", "RangeError", "ERR_CRYPTO_INVALID_KEYLEN")
    _input_cap(message, CIPHER_INPUT_MAX, "the data to encrypt")
    decrypt, final, auto_padding = bool(o.get("decrypt")), bool(o.get("final")), o.get("autoPadding", True)
    tag_length = int(o.get("authTagLength") or 16)
    if mode_name == "cbc":
        if len(iv) != 16:
            raise SyncCallError("Invalid initialization vector", "TypeError", "ERR_CRYPTO_INVALID_IV")
        mode: Any = modes.CBC(iv)
    elif mode_name == "ctr":
        if len(iv) != 16:
            raise SyncCallError("Invalid initialization vector", "TypeError", "ERR_CRYPTO_INVALID_IV")
        mode = modes.CTR(iv)
    elif mode_name == "ecb":
        mode = modes.ECB()
    else:
        if not 1 <= len(iv) <= 1024:
            raise SyncCallError("Invalid initialization vector", "TypeError", "ERR_CRYPTO_INVALID_IV")
        if not 4 <= tag_length <= 16:
            raise SyncCallError(f"Invalid authentication tag length: {tag_length}", "TypeError",
                                "ERR_CRYPTO_INVALID_AUTH_TAG")
        if decrypt and final and not 4 <= len(tag) <= 16:
            raise SyncCallError("Unsupported state or unable to authenticate data")
        mode = modes.GCM(iv, min_tag_length=4) if not (decrypt and final) else modes.GCM(iv, tag, min_tag_length=4)
    engine = Cipher(algorithms.AES(key), mode)
    blocked = mode_name in ("cbc", "ecb")
    if not decrypt:
        ctx = engine.encryptor()
        if mode_name == "gcm" and aad:
            ctx.authenticate_additional_data(aad)
        if blocked:
            if final:
                if auto_padding:
                    p = sym_padding.PKCS7(128).padder()
                    message = p.update(message) + p.finalize()
                elif len(message) % 16:
                    raise SyncCallError("wrong final block length", "Error", "ERR_OSSL_WRONG_FINAL_BLOCK_LENGTH")
            else:
                message = message[: len(message) - len(message) % 16]
        out = ctx.update(message)
        if final:
            out += ctx.finalize()
            if mode_name == "gcm":
                return pack(out, ctx.tag[:tag_length])
        return pack(out, b"")
    ctx = engine.decryptor()
    if mode_name == "gcm" and aad:
        ctx.authenticate_additional_data(aad)
    if blocked:
        if final:
            if len(message) % 16:
                raise SyncCallError("wrong final block length", "Error", "ERR_OSSL_WRONG_FINAL_BLOCK_LENGTH")
        else:
            whole = len(message) - len(message) % 16
            if auto_padding and whole == len(message):
                whole -= 16  # the last block waits for final(): it holds the padding
            message = message[: max(0, whole)]
    out = ctx.update(message)
    if not final:
        return pack(out, b"")
    try:
        out += ctx.finalize()
    except InvalidTag:
        raise SyncCallError("Unsupported state or unable to authenticate data") from None
    except ValueError:
        raise SyncCallError("Unsupported state or unable to authenticate data") from None
    if blocked and auto_padding:
        u = sym_padding.PKCS7(128).unpadder()
        try:
            out = u.update(out) + u.finalize()
        except ValueError:
            raise SyncCallError("error:1C800064:Provider routines::bad decrypt", "Error", "ERR_OSSL_BAD_DECRYPT") from None
    return pack(out, b"")


HANDLERS["cipher"] = cipher

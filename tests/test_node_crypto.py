"""require('crypto'), WebCrypto's crypto.subtle and require('zlib') on real V8 through the real
sandbox, checked against known answers computed here with hashlib, hmac, zlib, brotli and
`cryptography` (signatures made in the action are verified in Python, and the reverse)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import hmac
import json
import zlib
from pathlib import Path

import brotli
import pytest
from conftest import make_flow, payload
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils


async def claims(sandbox, code: str) -> dict:
    """Run `code` as the body of an async post-login handler (with `crypto`, `zlib` and `out`
    in scope) and return `out`, which it fills."""
    source = ("const crypto = require('crypto');\nconst zlib = require('node:zlib');\n"
              "exports.onExecutePostLogin = async (event, api) => {\n  const out = {};\n"
              + code + "\n  api.idToken.setCustomClaim('out', out);\n};\n")
    result = await sandbox.run("t-crypto", make_flow(source), payload(), budget=10.0)
    assert result.status == "completed", result.data
    return result.actions[0]["commands"][0][2]


def js(value) -> str:
    return json.dumps(value)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(65537, 2048)


@pytest.fixture(scope="module")
def ec_key():
    return ec.generate_private_key(ec.SECP256R1())


def pem_private(key, fmt) -> str:
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption()).decode()


def pem_public(key) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


# -- digests and HMACs -------------------------------------------------------------------------

async def test_hashes_and_hmacs_match_hashlib(sandbox):
    email = "  Jane.Doe@Example.COM "
    out = await claims(sandbox, f"""
      out.gravatar = crypto.createHash('md5').update({js(email)}.trim().toLowerCase()).digest('hex');
      out.hmac = crypto.createHmac('sha256', 'shh').update('{{"a":1}}').digest('hex');
      out.b64url = crypto.createHash('sha256').update('abc').digest('base64url');
      out.b64 = crypto.createHash('sha512').update('abc').digest('base64');
      out.sha1 = crypto.createHash('sha1').update('a').update('b', 'utf8').update(Buffer.from('c')).digest('hex');
      out.sha384 = crypto.createHash('SHA384').update(new Uint8Array([1, 2, 3])).digest('hex');
      out.hexIn = crypto.createHash('sha256').update('00ff10', 'hex').digest('hex');
      out.latin1 = crypto.createHash('md5').update('\\u00e9', 'latin1').digest('latin1');
      const buf = crypto.createHash('sha256').update('x').digest();
      out.isBuffer = Buffer.isBuffer(buf) && buf.length === 32;
      const h = crypto.createHash('sha256').update('part1');
      const copy = h.copy();
      out.copy = [h.update('A').digest('hex'), copy.update('B').digest('hex')];
      try {{ h.digest(); }} catch (e) {{ out.twice = e.code; }}
      try {{ crypto.createHash('nope'); }} catch (e) {{ out.unknown = e.message; }}
      out.hmacRsa = crypto.createHmac('RSA-SHA1', Buffer.from('k')).update('d').digest('hex');
      out.hmacKeyObject = crypto.createHmac('sha512', crypto.createSecretKey(Buffer.from('key'))).update('d').digest('hex');
      out.oneShot = crypto.hash('sha1', 'abc');
      out.hashes = crypto.getHashes().includes('sha256');
    """)
    assert out["gravatar"] == hashlib.md5(email.strip().lower().encode()).hexdigest()
    assert out["hmac"] == hmac.new(b"shh", b'{"a":1}', "sha256").hexdigest()
    assert out["b64url"] == b64url(hashlib.sha256(b"abc").digest())
    assert out["b64"] == base64.b64encode(hashlib.sha512(b"abc").digest()).decode()
    assert out["sha1"] == hashlib.sha1(b"abc").hexdigest()
    assert out["sha384"] == hashlib.sha384(bytes([1, 2, 3])).hexdigest()
    assert out["hexIn"] == hashlib.sha256(bytes([0, 255, 16])).hexdigest()
    assert out["latin1"] == hashlib.md5(b"\xe9").digest().decode("latin1")
    assert out["isBuffer"] is True
    assert out["copy"] == [hashlib.sha256(b"part1A").hexdigest(), hashlib.sha256(b"part1B").hexdigest()]
    assert out["twice"] == "ERR_CRYPTO_HASH_FINALIZED"
    assert out["unknown"] == "Digest method not supported"
    assert out["hmacRsa"] == hmac.new(b"k", b"d", "sha1").hexdigest()
    assert out["hmacKeyObject"] == hmac.new(b"key", b"d", "sha512").hexdigest()
    assert out["oneShot"] == hashlib.sha1(b"abc").hexdigest()
    assert out["hashes"] is True


async def test_key_derivation_matches_hashlib(sandbox):
    out = await claims(sandbox, """
      out.pbkdf2 = crypto.pbkdf2Sync('pw', 'salt', 1000, 32, 'sha256').toString('hex');
      out.scrypt = crypto.scryptSync('pw', 'salt', 16).toString('hex');
      out.async = await new Promise((resolve, reject) =>
        crypto.pbkdf2('pw', 'salt', 10, 20, 'sha1', (err, key) => err ? reject(err) : resolve(key.toString('hex'))));
      try { crypto.pbkdf2Sync('pw', 'salt', 1e9, 32, 'sha256'); } catch (e) { out.tooMuch = [e.name, e.code]; }
    """)
    assert out["pbkdf2"] == hashlib.pbkdf2_hmac("sha256", b"pw", b"salt", 1000, 32).hex()
    assert out["scrypt"] == hashlib.scrypt(b"pw", salt=b"salt", n=16384, r=8, p=1, dklen=16).hex()
    assert out["async"] == hashlib.pbkdf2_hmac("sha1", b"pw", b"salt", 10, 20).hex()
    assert out["tooMuch"] == ["RangeError", "ERR_OUT_OF_RANGE"]


# -- random, timingSafeEqual ---------------------------------------------------------------

async def test_random_values_have_node_shapes_and_bounds(sandbox):
    out = await claims(sandbox, """
      out.bytes = crypto.randomBytes(32).toString('hex');
      out.cb = await new Promise((resolve) => crypto.randomBytes(5, (err, b) => resolve([err, b.length])));
      out.uuid = crypto.randomUUID();
      out.globalUuid = globalThis.crypto.randomUUID();
      const ints = [];
      for (let i = 0; i < 2000; i++) ints.push(crypto.randomInt(3, 7));
      out.ints = [Math.min(...ints), Math.max(...ints), new Set(ints).size];
      out.one = crypto.randomInt(1);
      out.neg = crypto.randomInt(-10, -9);
      try { crypto.randomInt(5, 5); } catch (e) { out.empty = [e.name, e.code]; }
      try { crypto.randomInt(0, 2 ** 49); } catch (e) { out.wide = [e.name, e.code]; }
      const filled = crypto.randomFillSync(new Uint32Array(4));
      out.filled = filled.length === 4 && filled.some((x) => x !== 0);
      const big = crypto.randomBytes(100000);
      out.big = [big.length, new Set(big).size];
      out.getRandomValues = crypto.getRandomValues(new Uint8Array(16)).length;
    """)
    assert len(bytes.fromhex(out["bytes"])) == 32
    assert out["cb"] == [None, 5]
    for uuid in (out["uuid"], out["globalUuid"]):
        assert len(uuid) == 36 and uuid[14] == "4" and uuid[19] in "89ab"
    assert out["ints"] == [3, 6, 4]
    assert out["one"] == 0 and out["neg"] == -10
    assert out["empty"] == ["RangeError", "ERR_OUT_OF_RANGE"]
    assert out["wide"] == ["RangeError", "ERR_OUT_OF_RANGE"]
    assert out["filled"] is True
    assert out["big"] == [100000, 256]
    assert out["getRandomValues"] == 16


async def test_timing_safe_equal_compares_and_refuses_different_lengths_as_node(sandbox):
    out = await claims(sandbox, """
      out.same = crypto.timingSafeEqual(Buffer.from('abc'), Buffer.from('abc'));
      out.diff = crypto.timingSafeEqual(Buffer.from('abc'), Buffer.from('abd'));
      out.views = crypto.timingSafeEqual(new Uint16Array([1]), new Uint8Array([1, 0]));
      try { crypto.timingSafeEqual(Buffer.from('a'), Buffer.from('ab')); } catch (e) { out.length = [e.name, e.code, e.message]; }
      try { crypto.timingSafeEqual('a', 'a'); } catch (e) { out.type = [e.name, e.code]; }
    """)
    assert out["same"] is True and out["diff"] is False and out["views"] is True
    assert out["length"] == ["RangeError", "ERR_CRYPTO_TIMING_SAFE_EQUAL_LENGTH", "Input buffers must have the same byte length"]
    assert out["type"] == ["TypeError", "ERR_INVALID_ARG_TYPE"]


# -- signatures, keys ------------------------------------------------------------------------

async def test_rs256_as_node_jwa_signs_verified_in_python_and_back(sandbox, rsa_key):
    pkcs1 = pem_private(rsa_key, serialization.PrivateFormat.TraditionalOpenSSL)
    pkcs8 = pem_private(rsa_key, serialization.PrivateFormat.PKCS8)
    public = pem_public(rsa_key)
    data = b"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0"
    py_sig = rsa_key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    py_pss = rsa_key.sign(data, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())
    out = await claims(sandbox, f"""
      const data = {js(data.decode())};
      // node-jwa's RS256: createSign('RSA-SHA' + bits), update, sign(key, 'base64')
      out.pkcs1 = crypto.createSign('RSA-SHA256').update(data).sign({js(pkcs1)}, 'base64');
      const key = crypto.createPrivateKey({js(pkcs8)});
      out.keyObject = crypto.createSign('RSA-SHA256').update(data).sign(key, 'base64');
      out.type = [key.type, key.asymmetricKeyType, key.asymmetricKeyDetails.modulusLength,
                  String(key.asymmetricKeyDetails.publicExponent), key instanceof crypto.KeyObject];
      out.verify = crypto.createVerify('RSA-SHA256').update(data).verify({js(public)}, {js(base64.b64encode(py_sig).decode())}, 'base64');
      out.tampered = crypto.createVerify('RSA-SHA256').update(data + 'x').verify({js(public)}, {js(base64.b64encode(py_sig).decode())}, 'base64');
      // PS256 as node-jwa: padding and saltLength in the key object
      out.pss = crypto.createSign('RSA-SHA256').update(data).sign({{ key: {js(pkcs8)},
        padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: crypto.constants.RSA_PSS_SALTLEN_DIGEST }}, 'base64');
      out.pssVerify = crypto.verify('sha256', Buffer.from(data), {{ key: crypto.createPublicKey({js(public)}),
        padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }}, Buffer.from({js(base64.b64encode(py_pss).decode())}, 'base64'));
      const pub = crypto.createPublicKey({js(pkcs1)});
      out.derivedPublic = pub.export({{ type: 'spki', format: 'pem' }});
      out.pkcs1Public = pub.export({{ type: 'pkcs1', format: 'der' }}).toString('base64');
      out.jwk = pub.export({{ format: 'jwk' }});
      try {{ crypto.createPublicKey('not a key'); }} catch (e) {{ out.bad = e.name; }}
    """)
    public_key = rsa_key.public_key()
    for field in ("pkcs1", "keyObject"):
        public_key.verify(base64.b64decode(out[field]), data, padding.PKCS1v15(), hashes.SHA256())
    assert out["type"] == ["private", "rsa", 2048, "65537", True]
    assert out["verify"] is True and out["tampered"] is False
    public_key.verify(base64.b64decode(out["pss"]), data, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())
    assert out["pssVerify"] is True
    assert out["derivedPublic"] == public
    assert base64.b64decode(out["pkcs1Public"]) == public_key.public_bytes(serialization.Encoding.DER,
                                                                            serialization.PublicFormat.PKCS1)
    numbers = public_key.public_numbers()
    assert out["jwk"] == {"kty": "RSA", "n": b64url(numbers.n.to_bytes(256, "big")), "e": "AQAB"}
    assert out["bad"] == "Error"


async def test_es256_der_and_ieee_p1363_signatures_verified_in_python_and_back(sandbox, ec_key):
    sec1 = pem_private(ec_key, serialization.PrivateFormat.TraditionalOpenSSL)
    assert "BEGIN EC PRIVATE KEY" in sec1
    public = pem_public(ec_key)
    data = b"header.payload"
    r, s = utils.decode_dss_signature(ec_key.sign(data, ec.ECDSA(hashes.SHA256())))
    p1363 = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    out = await claims(sandbox, f"""
      const data = {js(data.decode())};
      out.der = crypto.createSign('RSA-SHA256').update(data).sign({js(sec1)}, 'base64');
      out.p1363 = crypto.sign('sha256', Buffer.from(data), {{ key: {js(sec1)}, dsaEncoding: 'ieee-p1363' }}).toString('hex');
      out.verify = crypto.verify('sha256', Buffer.from(data), {{ key: {js(public)}, dsaEncoding: 'ieee-p1363' }},
                                 Buffer.from({js(p1363.hex())}, 'hex'));
      const key = crypto.createPrivateKey({js(sec1)});
      out.details = [key.asymmetricKeyType, key.asymmetricKeyDetails.namedCurve];
      out.sec1 = key.export({{ type: 'sec1', format: 'pem' }});
      out.jwk = crypto.createPublicKey(key).export({{ format: 'jwk' }});
      out.viaJwk = crypto.createVerify('sha256').update(data).verify({{ key: out.jwk, format: 'jwk' }},
                                 Buffer.from({js(p1363.hex())}, 'hex'), undefined);
    """)
    public_key = ec_key.public_key()
    public_key.verify(base64.b64decode(out["der"]), data, ec.ECDSA(hashes.SHA256()))
    raw = bytes.fromhex(out["p1363"])
    assert len(raw) == 64
    public_key.verify(utils.encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")),
                      data, ec.ECDSA(hashes.SHA256()))
    assert out["verify"] is True
    assert out["details"] == ["ec", "prime256v1"]
    assert out["sec1"] == sec1
    numbers = public_key.public_numbers()
    assert out["jwk"] == {"kty": "EC", "crv": "P-256", "x": b64url(numbers.x.to_bytes(32, "big")),
                          "y": b64url(numbers.y.to_bytes(32, "big"))}
    assert out["viaJwk"] is False  # a P1363 signature is not DER (the default dsaEncoding)


async def test_generated_key_pairs_sign_and_verify(sandbox):
    out = await claims(sandbox, """
      const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-384',
        publicKeyEncoding: { type: 'spki', format: 'pem' } });
      out.ecPem = ec.publicKey;
      out.ecSig = crypto.sign('sha384', Buffer.from('m'), ec.privateKey).toString('base64');
      const ed = crypto.generateKeyPairSync('ed25519');
      out.ed = crypto.verify(null, Buffer.from('m'), ed.publicKey, crypto.sign(null, Buffer.from('m'), ed.privateKey));
      const hmacKey = crypto.generateKeySync('hmac', { length: 256 });
      out.hmacKey = [hmacKey.type, hmacKey.symmetricKeySize];
    """)
    key = serialization.load_pem_public_key(out["ecPem"].encode())
    key.verify(base64.b64decode(out["ecSig"]), b"m", ec.ECDSA(hashes.SHA384()))
    assert out["ed"] is True
    assert out["hmacKey"] == ["secret", 32]


# -- WebCrypto -------------------------------------------------------------------------------

async def test_subtle_digest_hmac_and_jwk_signatures(sandbox, rsa_key, ec_key):
    data = b"signed data"
    rsa_sig = rsa_key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    rsa_jwk = {"kty": "RSA", "n": b64url(rsa_key.public_key().public_numbers().n.to_bytes(256, "big")), "e": "AQAB",
               "alg": "RS256"}
    n = ec_key.private_numbers()
    ec_jwk = {"kty": "EC", "crv": "P-256", "x": b64url(n.public_numbers.x.to_bytes(32, "big")),
              "y": b64url(n.public_numbers.y.to_bytes(32, "big")), "d": b64url(n.private_value.to_bytes(32, "big"))}
    out = await claims(sandbox, f"""
      const subtle = globalThis.crypto.subtle;
      out.same = subtle === crypto.webcrypto.subtle && subtle === crypto.subtle;
      const enc = new TextEncoder();
      out.digest = Buffer.from(await subtle.digest('SHA-256', enc.encode('abc'))).toString('hex');
      out.digest512 = Buffer.from(await subtle.digest({{ name: 'SHA-512' }}, enc.encode('abc'))).toString('hex');
      const hk = await subtle.importKey('raw', enc.encode('secret'), {{ name: 'HMAC', hash: 'SHA-256' }}, false, ['sign', 'verify']);
      out.hmacKey = [hk.type, hk.algorithm.name, hk.algorithm.hash.name, hk.algorithm.length, hk.extractable, hk.usages];
      const mac = await subtle.sign('HMAC', hk, enc.encode('msg'));
      out.hmac = Buffer.from(mac).toString('hex');
      out.hmacOk = await subtle.verify('HMAC', hk, mac, enc.encode('msg'));
      out.hmacBad = await subtle.verify('HMAC', hk, mac, enc.encode('msh'));
      const rk = await subtle.importKey('jwk', {js(rsa_jwk)}, {{ name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }}, true, ['verify']);
      out.rsa = [rk.type, rk.algorithm.modulusLength, Array.from(rk.algorithm.publicExponent)];
      out.rsaOk = await subtle.verify('RSASSA-PKCS1-v1_5', rk, Buffer.from({js(rsa_sig.hex())}, 'hex'), enc.encode({js(data.decode())}));
      out.spki = Buffer.from(await subtle.exportKey('spki', rk)).toString('base64');
      const ek = await subtle.importKey('jwk', {js(ec_jwk)}, {{ name: 'ECDSA', namedCurve: 'P-256' }}, false, ['sign']);
      out.ecSig = Buffer.from(await subtle.sign({{ name: 'ECDSA', hash: 'SHA-256' }}, ek, enc.encode('e'))).toString('hex');
      try {{ await subtle.exportKey('jwk', ek); }} catch (e) {{ out.notExtractable = e.name; }}
      try {{ await subtle.sign('HMAC', rk, enc.encode('x')); }} catch (e) {{ out.wrongKey = e.name; }}
      const gen = await subtle.generateKey({{ name: 'ECDSA', namedCurve: 'P-256' }}, true, ['sign', 'verify']);
      const sig = await subtle.sign({{ name: 'ECDSA', hash: 'SHA-256' }}, gen.privateKey, enc.encode('g'));
      out.generated = await subtle.verify({{ name: 'ECDSA', hash: 'SHA-256' }}, gen.publicKey, sig, enc.encode('g'));
      out.raw = new Uint8Array(await subtle.exportKey('raw', gen.publicKey)).length;
    """)
    assert out["same"] is True
    assert out["digest"] == hashlib.sha256(b"abc").hexdigest()
    assert out["digest512"] == hashlib.sha512(b"abc").hexdigest()
    assert out["hmacKey"] == ["secret", "HMAC", "SHA-256", 48, False, ["sign", "verify"]]
    assert out["hmac"] == hmac.new(b"secret", b"msg", "sha256").hexdigest()
    assert out["hmacOk"] is True and out["hmacBad"] is False
    assert out["rsa"] == ["public", 2048, [1, 0, 1]]
    assert out["rsaOk"] is True
    assert base64.b64decode(out["spki"]) == rsa_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    raw = bytes.fromhex(out["ecSig"])
    ec_key.public_key().verify(utils.encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")),
                               b"e", ec.ECDSA(hashes.SHA256()))
    assert out["notExtractable"] == "InvalidAccessError"
    assert out["wrongKey"] == "InvalidAccessError"
    assert out["generated"] is True
    assert out["raw"] == 65


# -- zlib ------------------------------------------------------------------------------------

async def test_zlib_round_trips_and_interoperates_with_python(sandbox):
    text = "hello zlib " * 50
    out = await claims(sandbox, f"""
      const text = {js(text)};
      out.gzip = zlib.gzipSync(text).toString('base64');
      out.deflate = zlib.deflateSync(Buffer.from(text), {{ level: 9 }}).toString('base64');
      out.raw = zlib.deflateRawSync(text).toString('base64');
      out.brotli = zlib.brotliCompressSync(text, {{ params: {{ [zlib.constants.BROTLI_PARAM_QUALITY]: 4 }} }}).toString('base64');
      out.fromPython = [
        zlib.gunzipSync(Buffer.from({js(base64.b64encode(gzip.compress(text.encode())).decode())}, 'base64')).toString(),
        zlib.inflateSync(Buffer.from({js(base64.b64encode(zlib.compress(text.encode())).decode())}, 'base64')).toString(),
        zlib.unzipSync(Buffer.from({js(base64.b64encode(gzip.compress(b"u")).decode())}, 'base64')).toString(),
        zlib.brotliDecompressSync(Buffer.from({js(base64.b64encode(brotli.compress(b"br")).decode())}, 'base64')).toString(),
      ];
      out.roundTrips = [zlib.inflateRawSync(zlib.deflateRawSync(text)).toString() === text,
                        zlib.brotliDecompressSync(zlib.brotliCompressSync(text)).toString() === text];
      out.callback = await new Promise((resolve) => zlib.gzip('cb', (err, z) => zlib.gunzip(z, (e2, t) => resolve(t.toString()))));
      try {{ zlib.gunzipSync(Buffer.from('not gzip')); }} catch (e) {{ out.bad = [e.code, e.errno, e.message]; }}
      try {{ zlib.gunzipSync(zlib.gzipSync(text).subarray(0, 20)); }} catch (e) {{ out.truncated = e.code; }}
      out.crc32 = zlib.crc32('hello');
      out.constants = [zlib.constants.Z_BEST_COMPRESSION, zlib.Z_DEFAULT_COMPRESSION];
    """)
    assert gzip.decompress(base64.b64decode(out["gzip"])).decode() == text
    assert zlib.decompress(base64.b64decode(out["deflate"])).decode() == text
    assert zlib.decompress(base64.b64decode(out["raw"]), -15).decode() == text
    assert brotli.decompress(base64.b64decode(out["brotli"])).decode() == text
    assert out["fromPython"] == [text, text, "u", "br"]
    assert out["roundTrips"] == [True, True]
    assert out["callback"] == "cb"
    assert out["bad"] == ["Z_DATA_ERROR", -3, "incorrect header check"]
    assert out["truncated"] == "Z_BUF_ERROR"
    assert out["crc32"] == zlib.crc32(b"hello")
    assert out["constants"] == [9, -1]


async def test_a_decompression_bomb_fails_with_a_range_error_not_memory(sandbox):
    # past the host's 16 MiB output cap (the isolate's buffer budget here is 32 MiB)
    bomb_gzip = base64.b64encode(gzip.compress(b"\0" * (40 * 2**20), compresslevel=6)).decode()
    bomb_brotli = base64.b64encode(brotli.compress(b"\0" * (40 * 2**20), quality=5)).decode()
    out = await claims(sandbox, f"""
      for (const [name, data] of [['gunzipSync', {js(bomb_gzip)}], ['brotliDecompressSync', {js(bomb_brotli)}]]) {{
        try {{ zlib[name](Buffer.from(data, 'base64')); out[name] = 'inflated'; }}
        catch (e) {{ out[name] = [e.name, e.code]; }}
      }}
      try {{ zlib.inflateSync(zlib.deflateSync(Buffer.alloc(1000)), {{ maxOutputLength: 100 }}); }}
      catch (e) {{ out.small = [e.name, e.code]; }}
      out.after = zlib.gunzipSync(zlib.gzipSync('still fine')).toString();
    """)
    assert out["gunzipSync"] == ["RangeError", "ERR_BUFFER_TOO_LARGE"]
    assert out["brotliDecompressSync"] == ["RangeError", "ERR_BUFFER_TOO_LARGE"]
    assert out["small"] == ["RangeError", "ERR_BUFFER_TOO_LARGE"]
    assert out["after"] == "still fine"


async def test_host_errors_are_catchable_and_the_isolate_keeps_working(sandbox):
    out = await claims(sandbox, """
      try { crypto.createPrivateKey('-----BEGIN PRIVATE KEY-----\\nAAAA\\n-----END PRIVATE KEY-----'); }
      catch (e) { out.badKey = [e.name, typeof e.message]; }
      try { crypto.createHash('sha256').update({}); } catch (e) { out.badData = [e.name, e.code]; }
      try { crypto.createSign('RSA-SHA256').update('x').sign(''); } catch (e) { out.noKey = e.code; }
      out.after = crypto.createHash('md5').update('ok').digest('hex');
    """)
    assert out["badKey"] == ["Error", "string"]
    assert out["badData"] == ["TypeError", "ERR_INVALID_ARG_TYPE"]
    assert out["noKey"] == "ERR_CRYPTO_SIGN_KEY_REQUIRED"
    assert out["after"] == hashlib.md5(b"ok").hexdigest()


# -- jsonwebtoken (the npm package, bundled by tests/node_crypto_fixtures/build.sh) -----------------

JWT_BUNDLE = (Path(__file__).resolve().parent / "node_crypto_fixtures" / "jsonwebtoken.cjs").read_text(encoding="utf-8")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


async def test_jsonwebtoken_signs_and_verifies_rs256_es256_ps256_hs256(sandbox, rsa_key, ec_key):
    keys = {"rsa": pem_private(rsa_key, serialization.PrivateFormat.TraditionalOpenSSL), "rsapub": pem_public(rsa_key),
            "ec": pem_private(ec_key, serialization.PrivateFormat.TraditionalOpenSSL), "ecpub": pem_public(ec_key)}
    header = b64url(b'{"alg":"RS256","typ":"JWT"}')
    body = b64url(b'{"sub":"from-python","iss":"py"}')
    py_token = f"{header}.{body}." + b64url(rsa_key.sign(f"{header}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256()))
    source = ("const jwtModule = { exports: {} };\n(function (module, exports) {\n" + JWT_BUNDLE
              + "\n})(jwtModule, jwtModule.exports);\nconst jwt = jwtModule.exports;\nconst K = " + js(keys) + ";\n" + """
exports.onExecutePostLogin = async (event, api) => {
  const out = { tokens: {}, checks: {} };
  for (const [alg, key, pub] of [['RS256', K.rsa, K.rsapub], ['PS256', K.rsa, K.rsapub], ['ES256', K.ec, K.ecpub], ['HS256', 'shh', 'shh']]) {
    const token = jwt.sign({ sub: 'u1' }, key, { algorithm: alg, expiresIn: '1h', issuer: 'me' });
    out.tokens[alg] = token;
    let tampered;
    try { jwt.verify(token.slice(0, -4) + 'AAAA', pub, { algorithms: [alg] }); tampered = 'accepted'; } catch (e) { tampered = e.message; }
    out.checks[alg] = [jwt.verify(token, pub, { algorithms: [alg], issuer: 'me' }).sub, tampered];
  }
  out.python = jwt.verify(""" + js(py_token) + """, K.rsapub, { algorithms: ['RS256'] }).sub;
  try { jwt.verify(out.tokens.RS256, K.ecpub, { algorithms: ['RS256'] }); } catch (e) { out.wrongKey = e.message; }
  api.idToken.setCustomClaim('out', out);
};
""")
    result = await sandbox.run("t-crypto", make_flow(source), payload(), budget=10.0)
    assert result.status == "completed", result.data
    out = result.actions[0]["commands"][0][2]
    for alg in ("RS256", "PS256", "ES256", "HS256"):
        assert out["checks"][alg] == ["u1", "invalid signature"], alg
    signing_input, _, signature = out["tokens"]["RS256"].rpartition(".")
    rsa_key.public_key().verify(b64url_decode(signature), signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    signing_input, _, signature = out["tokens"]["ES256"].rpartition(".")
    raw = b64url_decode(signature)
    ec_key.public_key().verify(utils.encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")),
                               signing_input.encode(), ec.ECDSA(hashes.SHA256()))
    signing_input, _, signature = out["tokens"]["HS256"].rpartition(".")
    assert b64url_decode(signature) == hmac.new(b"shh", signing_input.encode(), "sha256").digest()
    assert out["python"] == "from-python"
    assert out["wrongKey"] == "invalid signature" or "key" in out["wrongKey"]


# -- the lazily compiled implementation (runtime_js/lazy/) -------------------------------------------

LAZY = sorted((Path(__file__).resolve().parent.parent / "runtime_js" / "lazy").glob("*.js"))
DECLARING_PARENTS = {"variable_declarator", "function_declaration", "class_declaration", "function_expression",
                     "class", "formal_parameters", "assignment_pattern", "rest_pattern", "catch_clause",
                     "arrow_function", "pair_pattern", "generator_function_declaration"}


def _free_identifiers(source: bytes) -> set[str]:
    """Names a lazy file uses but never declares (ignoring scopes: a name declared anywhere in
    the file counts as declared)."""
    import tree_sitter
    import tree_sitter_javascript

    tree = tree_sitter.Parser(tree_sitter.Language(tree_sitter_javascript.language())).parse(source)
    used: set[str] = set()
    declared: set[str] = set()
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        stack.extend(node.children)
        name = node.text.decode() if node.text is not None else ""
        if node.type == "shorthand_property_identifier_pattern":
            declared.add(name)
        elif node.type in ("identifier", "shorthand_property_identifier"):
            used.add(name)
            if node.type == "identifier" and node.parent is not None and node.parent.type in DECLARING_PARENTS:
                # (in a pair_pattern only the value is declared; in an assignment_pattern the left)
                parent = node.parent
                if parent.type == "pair_pattern" and parent.child_by_field_name("value") != node:
                    continue
                if parent.type == "assignment_pattern" and parent.child_by_field_name("left") != node:
                    continue
                if parent.type == "variable_declarator" and parent.child_by_field_name("name") != node:
                    continue
                declared.add(name)
    return used - declared - {"rt", "undefined", "Infinity", "NaN", "arguments"}


@pytest.mark.parametrize("path", LAZY, ids=lambda p: p.name)
def test_lazy_runtime_code_uses_only_what_the_runtime_hands_it(path):
    # a global here would be whatever an action left there by the time the code is compiled, and a
    # runtime name not passed in `rt` a ReferenceError on a path the other tests may not take
    assert _free_identifiers(path.read_bytes()) == set()


@pytest.mark.parametrize("path", LAZY, ids=lambda p: p.name)
def test_lazy_runtime_code_passes_the_runtime_lint(path):
    from test_runtime_lint import lint

    assert lint({path.name: path.read_bytes()}) == []


@pytest.mark.parametrize("path", LAZY, ids=lambda p: p.name)
def test_lazy_runtime_files_are_ascii(path):
    # 44_node_crypto.js decodes them (asciiText) as one byte per character
    assert path.read_bytes().isascii()


async def test_large_payloads_cross_the_sync_channel_in_chunks_and_the_channel_stays_private(sandbox):
    out = await claims(sandbox, """
      const big = Buffer.alloc(3 * 1024 * 1024 + 7, 'abc');
      out.hash = crypto.createHash('sha256').update(big).digest('hex');
      const z = zlib.deflateSync(crypto.randomBytes(200000));
      out.zlib = [z.length > 200000, zlib.inflateSync(z).length];
      try { crypto.createHash('sha256').update(Buffer.alloc(17 * 1024 * 1024)).digest('hex'); }
      catch (e) { out.tooBig = [e.name, e.code]; }
      out.hidden = [typeof globalThis.__actionhost_sync, typeof globalThis.__actionhost_syncbuf, typeof hostSync];
      out.after = crypto.createHash('md5').update('still').digest('hex');
    """)
    assert out["hash"] == hashlib.sha256(b"abc" * ((3 * 2**20 + 7) // 3) + b"abc"[: (3 * 2**20 + 7) % 3]).hexdigest()
    assert out["zlib"] == [True, 200000]
    assert out["tooBig"] == ["RangeError", "ERR_OUT_OF_RANGE"]
    assert out["hidden"] == ["undefined", "undefined", "undefined"]
    assert out["after"] == hashlib.md5(b"still").hexdigest()


async def test_zlib_stream_forms_pipe_through_node_streams(sandbox):
    out = await claims(sandbox, """
      const { pipeline, Readable, Writable } = require('stream');
      const chunks = [];
      await new Promise((resolve, reject) => pipeline(Readable.from([Buffer.from('hello '), Buffer.from('streams')]),
        zlib.createGzip(), zlib.createGunzip(), new Writable({ write(c, e, cb) { chunks.push(c); cb(); } }),
        (err) => (err ? reject(err) : resolve())));
      out.text = Buffer.concat(chunks).toString();
      out.error = await new Promise((resolve) => {
        const g = zlib.createGunzip();
        g.on('error', (e) => resolve([e.name, e.code]));
        g.on('data', () => {});
        g.end(Buffer.from('not gzip'));
      });
    """)
    assert out == {"text": "hello streams", "error": ["Error", "Z_DATA_ERROR"]}


async def test_aes_ciphers_interoperate_with_python(sandbox):
    from cryptography.hazmat.primitives import padding as sym_padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    key, iv, nonce = bytes(range(32)), bytes(range(16)), bytes(range(12))
    text = "a secret worth keeping " * 3
    out = await claims(sandbox, f"""
      const key = Buffer.from({js(key.hex())}, 'hex'), iv = Buffer.from({js(iv.hex())}, 'hex');
      const nonce = Buffer.from({js(nonce.hex())}, 'hex');
      const c = crypto.createCipheriv('aes-256-cbc', key, iv);
      out.cbc = c.update({js(text[:10])}, 'utf8', 'hex') + c.update({js(text[10:])}, 'utf8', 'hex') + c.final('hex');
      const d = crypto.createDecipheriv('aes-256-cbc', key, iv);
      out.cbcBack = d.update(out.cbc, 'hex', 'utf8') + d.final('utf8');
      const g = crypto.createCipheriv('aes-256-gcm', key, nonce);
      g.setAAD(Buffer.from('header'));
      out.gcm = Buffer.concat([g.update({js(text)}), g.final()]).toString('base64');
      out.tag = g.getAuthTag().toString('base64');
      const gd = crypto.createDecipheriv('aes-256-gcm', key, nonce);
      gd.setAAD(Buffer.from('header'));
      gd.setAuthTag(g.getAuthTag());
      out.gcmBack = gd.update(Buffer.from(out.gcm, 'base64'), undefined, 'utf8') + gd.final('utf8');
      const bad = crypto.createDecipheriv('aes-256-gcm', key, nonce);
      bad.setAuthTag(Buffer.alloc(16));
      bad.update(Buffer.from(out.gcm, 'base64'));
      try {{ bad.final(); }} catch (e) {{ out.badTag = e.message; }}
      const ctr = crypto.createCipheriv('aes-128-ctr', key.subarray(0, 16), iv);
      out.ctr = ctr.update('stream').toString('hex') + ctr.final('hex');
      try {{ crypto.createCipheriv('aes-256-cbc', Buffer.alloc(5), iv); }} catch (e) {{ out.badKey = [e.name, e.code]; }}
      const wrong = crypto.createDecipheriv('aes-256-cbc', Buffer.alloc(32), iv);
      wrong.update(out.cbc, 'hex');
      try {{ wrong.final(); }} catch (e) {{ out.badDecrypt = e.code; }}
    """)
    p = sym_padding.PKCS7(128).padder()
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    assert out["cbc"] == (enc.update(p.update(text.encode()) + p.finalize()) + enc.finalize()).hex()
    assert out["cbcBack"] == text
    sealed = AESGCM(key).encrypt(nonce, text.encode(), b"header")
    assert base64.b64decode(out["gcm"]) + base64.b64decode(out["tag"]) == sealed
    assert out["gcmBack"] == text
    assert out["badTag"] == "Unsupported state or unable to authenticate data"
    ctr = Cipher(algorithms.AES(key[:16]), modes.CTR(iv)).encryptor()
    assert out["ctr"] == ctr.update(b"stream").hex()
    assert out["badKey"] == ["RangeError", "ERR_CRYPTO_INVALID_KEYLEN"]
    assert out["badDecrypt"] == "ERR_OSSL_BAD_DECRYPT"


async def test_subtle_aes_gcm_and_hkdf_match_python(sandbox):
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    key, iv = bytes(range(16)), bytes(range(12))
    out = await claims(sandbox, f"""
      const subtle = globalThis.crypto.subtle;
      const key = await subtle.importKey('raw', Buffer.from({js(key.hex())}, 'hex'), 'AES-GCM', true, ['encrypt', 'decrypt']);
      const iv = Buffer.from({js(iv.hex())}, 'hex');
      const sealed = await subtle.encrypt({{ name: 'AES-GCM', iv, additionalData: Buffer.from('aad') }}, key,
                                          new TextEncoder().encode('webcrypto'));
      out.sealed = Buffer.from(sealed).toString('hex');
      out.opened = new TextDecoder().decode(await subtle.decrypt({{ name: 'AES-GCM', iv, additionalData: Buffer.from('aad') }}, key, sealed));
      try {{ await subtle.decrypt({{ name: 'AES-GCM', iv }}, key, sealed); }} catch (e) {{ out.noAad = e.name; }}
      out.jwk = (await subtle.exportKey('jwk', key)).alg;
      const gen = await subtle.generateKey({{ name: 'AES-GCM', length: 256 }}, false, ['encrypt', 'decrypt']);
      out.generated = [gen.algorithm.length, gen.usages];
      out.hkdf = Buffer.from(crypto.hkdfSync('sha256', 'ikm', 'salt', 'info', 42)).toString('hex');
    """)
    assert bytes.fromhex(out["sealed"]) == AESGCM(key).encrypt(iv, b"webcrypto", b"aad")
    assert out["opened"] == "webcrypto"
    assert out["noAad"] == "OperationError"
    assert out["jwk"] == "A128GCM"
    assert out["generated"] == [256, ["encrypt", "decrypt"]]
    assert out["hkdf"] == HKDF(hashes.SHA256(), 42, b"salt", b"info").derive(b"ikm").hex()

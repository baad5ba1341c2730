"""Access tokens of the client-credentials grant, without a server: what a token holds, which
claims make the Management API refuse it, and forged tokens (alg none, HS256 keyed with the
public key, another key's signature, a tampered payload, a key the token brings along)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from server.access_tokens import (AccessTokenVerifier, InvalidToken, Keyring, SigningKey, accepted_audiences, check_claims,
                                  issue, issuer_of)
from server.store.machine_clients import MachineClient
from server.store.secret_box import SecretBox
from server.store.signing_keys import StoredKey

AUD = "https://actions.example.com/api/v2/"
CLIENT = "client0000000000000000000000000a"


class MemoryKeys:
    """The signing-key store's contract, in memory (the real ones: tests/test_identity_store_contract.py)."""

    def __init__(self) -> None:
        self.rows: list[StoredKey] = []

    async def current(self) -> StoredKey | None:
        return next((k for k in self.rows if k.status == "current"), None)

    async def add_current(self, key: StoredKey) -> None:
        await asyncio.sleep(0)  # let a concurrent caller race this one
        if await self.current() is None:
            self.rows.append(key)

    async def published(self) -> list[StoredKey]:
        return list(self.rows)


def client(scopes: tuple[str, ...] = ("read:users", "update:users"), tenant: str = "acme") -> MachineClient:
    return MachineClient(tenant, CLIENT, "m2m", "", "hash", scopes, "cgr_1", "t", "t")


@pytest.fixture
def keyring() -> Keyring:
    return Keyring(MemoryKeys(), SecretBox(os.urandom(32)))


def verifier(keyring: Keyring, found: MachineClient | None = None, audiences: tuple[str, ...] = (AUD,)) -> AccessTokenVerifier:
    async def lookup(client_id: str) -> MachineClient | None:
        return found if found is not None and found.client_id == client_id else None
    return AccessTokenVerifier(keyring, lookup, audiences)


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    out = {"iss": "https://actions.example.com/", "sub": f"{CLIENT}@clients", "aud": AUD, "iat": now,
           "exp": now + 60, "scope": "read:users", "gty": "client-credentials", "azp": CLIENT}
    for key, value in changes.items():
        if value is ...:
            out.pop(key)
        else:
            out[key] = value
    return out


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unsigned(header: dict[str, Any], payload: dict[str, Any]) -> str:
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"


# -- issuing -------------------------------------------------------------------------------


async def test_a_token_carries_auth0s_claims_and_the_keys_kid(keyring):
    key = await keyring.signing_key()
    token = issue(key, CLIENT, ("read:users", "update:users"), AUD, 1_700_000_000, 86400)
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "RS256", "typ": "JWT", "kid": key.kid}
    body = jwt.decode(token, options={"verify_signature": False})
    assert body == {"iss": "https://actions.example.com/", "sub": f"{CLIENT}@clients", "aud": AUD,
                    "iat": 1_700_000_000, "exp": 1_700_086_400, "scope": "read:users update:users",
                    "gty": "client-credentials", "azp": CLIENT}


async def test_the_jwks_verifies_the_token_and_holds_no_private_part(keyring):
    key = await keyring.signing_key()
    token = issue(key, CLIENT, ("read:users",), AUD, int(time.time()), 60)
    jwks = await keyring.jwks()
    assert [k["kid"] for k in jwks["keys"]] == [key.kid]
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(jwks["keys"][0])
    public = jwt.PyJWKSet.from_dict(jwks)[key.kid]
    assert jwt.decode(token, public.key, algorithms=["RS256"], audience=AUD, issuer="https://actions.example.com/")["azp"] == CLIENT


async def test_nodes_starting_together_sign_with_one_key():
    store, box = MemoryKeys(), SecretBox(os.urandom(32))
    keys = await asyncio.gather(*(Keyring(store, box).signing_key() for _ in range(4)))
    assert len({k.kid for k in keys}) == 1 and len(store.rows) == 1
    # the private half is stored sealed, not as PEM
    assert "PRIVATE KEY" not in store.rows[0].private_key


def test_the_kid_is_the_keys_rfc7638_thumbprint():
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    from server.access_tokens import public_jwk
    jwk = public_jwk(private.public_key())
    members = json.dumps({"e": jwk["e"], "kty": "RSA", "n": jwk["n"]}, separators=(",", ":")).encode()
    assert jwk["kid"] == b64(hashlib.sha256(members).digest())


# -- audiences and issuers -----------------------------------------------------------------


@pytest.mark.parametrize("configured, host, scheme, expected", [
    ((), "Actions.Example.com:8443", "https", ("https://actions.example.com:8443/api/v2/",)),
    ((), "127.0.0.1:8080", "http", ("https://127.0.0.1:8080/api/v2/", "http://127.0.0.1:8080/api/v2/")),
    (("https://a.example/api/v2/",), "127.0.0.1:8080", "http", ("https://a.example/api/v2/",)),
])
def test_accepted_audiences(configured, host, scheme, expected):
    assert accepted_audiences(configured, host, scheme) == expected


def test_the_issuer_is_the_audiences_origin():
    assert issuer_of("https://a.example:8443/api/v2/") == "https://a.example:8443/"
    assert issuer_of("http://127.0.0.1:80/api/v2/") == "http://127.0.0.1:80/"


# -- claims --------------------------------------------------------------------------------


@pytest.mark.parametrize("changes, refused_with", [
    ({}, None),
    ({"aud": [AUD, "https://other.example/"]}, None),
    ({"exp": int(time.time()) - 1}, "Expired token"),
    ({"exp": ...}, "Invalid token"),
    ({"exp": "9999999999"}, "Invalid token"),
    ({"exp": True}, "Invalid token"),
    ({"iat": int(time.time()) + 3600}, "Invalid token"),
    ({"aud": "https://other.example/api/v2/"}, "Bad audience: https://other.example/api/v2/"),
    ({"aud": ...}, "Bad audience"),
    ({"iss": "https://other.example/"}, "Invalid token"),
    ({"sub": "someone-else@clients"}, "Invalid token"),
    ({"azp": ...}, "Invalid token"),
    ({"gty": "password"}, "Invalid token"),
    ({"scope": ["read:users"]}, "Invalid token"),
])
def test_claims_the_management_api_refuses(changes, refused_with):
    if refused_with is None:
        assert check_claims(claims(**changes), time.time(), (AUD,)) == (CLIENT, frozenset({"read:users"}))
        return
    with pytest.raises(InvalidToken, match=refused_with):
        check_claims(claims(**changes), time.time(), (AUD,))


# -- the verifier: tenant and scopes from the client, forged tokens refused ----------------


async def test_the_tenant_comes_from_the_client_and_scopes_are_the_tokens_the_client_still_has(keyring):
    key = await keyring.signing_key()
    token = issue(key, CLIENT, ("read:users", "update:users"), AUD, int(time.time()), 60)
    assert await verifier(keyring, client()).resolve(token, "x", "https") == ("acme", frozenset({"read:users", "update:users"}))
    # the client's scopes were narrowed since: the token keeps only what it still has
    assert await verifier(keyring, client(("read:users",))).resolve(token, "x", "https") == ("acme", frozenset({"read:users"}))


async def test_a_token_of_a_deleted_client_is_refused(keyring):
    key = await keyring.signing_key()
    token = issue(key, CLIENT, ("read:users",), AUD, int(time.time()), 60)
    with pytest.raises(InvalidToken):
        await verifier(keyring, None).resolve(token, "x", "https")


async def test_without_configured_audiences_the_requests_host_decides(keyring):
    key = await keyring.signing_key()
    token = issue(key, CLIENT, ("read:users",), "https://127.0.0.1:8080/api/v2/", int(time.time()), 60)
    v = verifier(keyring, client(), audiences=())
    assert (await v.resolve(token, "127.0.0.1:8080", "http"))[0] == "acme"
    with pytest.raises(InvalidToken, match="Bad audience"):
        await v.resolve(token, "localhost:8080", "http")


async def forged_tokens(keyring: Keyring) -> dict[str, str]:
    key = await keyring.signing_key()
    good = issue(key, CLIENT, ("read:users",), AUD, int(time.time()), 60)
    header, payload, signature = good.split(".")
    public_pem = key.private_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    hs256 = unsigned({"alg": "HS256", "typ": "JWT", "kid": key.kid}, claims(scope="read:users update:users"))
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    more = claims(scope="read:users update:users delete:clients")
    return {
        "alg none": unsigned({"alg": "none", "typ": "JWT", "kid": key.kid}, more) + ".",
        "alg none, no signature part": unsigned({"alg": "none"}, more),
        "HS256 keyed with the public key": hs256 + "." + b64(hmac.new(public_pem, hs256.encode(), hashlib.sha256).digest()),
        "another key's signature under our kid": jwt.encode(more, other, algorithm="RS256", headers={"kid": key.kid}),
        "a key the token brings along (jwk header)": jwt.encode(
            more, other, algorithm="RS256", headers={"kid": "attacker", "jwk": RSAAlgorithm.to_jwk(other.public_key(), as_dict=True)}),
        "an unknown kid": jwt.encode(more, other, algorithm="RS256", headers={"kid": "nope"}),
        "no kid": jwt.encode(more, key.private_key, algorithm="RS256"),
        "RS512 with our key": jwt.encode(more, key.private_key, algorithm="RS512", headers={"kid": key.kid}),
        "a tampered payload": f"{header}.{b64(json.dumps(more).encode())}.{signature}",
        "a truncated signature": f"{header}.{payload}.{signature[:-4]}",
        "garbage": "a.b.c",
        "empty parts": "..",
    }


async def test_forged_tokens_are_refused(keyring):
    forged = await forged_tokens(keyring)
    v = verifier(keyring, client(("read:users", "update:users", "delete:clients")))
    for name, token in forged.items():
        with pytest.raises(InvalidToken):
            await v.resolve(token, "x", "https")
            pytest.fail(f"accepted: {name}")


def test_a_request_without_host_accepts_only_configured_audiences():
    assert accepted_audiences((), "", "http") == ()
    assert accepted_audiences((AUD,), "", "http") == (AUD,)

"""Encryption of action secret values at rest (AES-256-GCM, key from ACTIONHOST_SECRET_KEY)."""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_FILE = "secret.key"


class SecretBox:
    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("the secret key must be 32 bytes (base64url-encoded in ACTIONHOST_SECRET_KEY)")
        self._aead = AESGCM(key)

    def seal(self, plaintext: str, context: str) -> str:
        nonce = secrets.token_bytes(12)
        sealed = self._aead.encrypt(nonce, plaintext.encode("utf-8"), context.encode("utf-8"))
        return base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def open(self, token: str, context: str) -> str:
        raw = base64.urlsafe_b64decode(token.encode("ascii"))
        return self._aead.decrypt(raw[:12], raw[12:], context.encode("utf-8")).decode("utf-8")


def load_key(configured: str | None, data_dir: Path) -> bytes:
    """The configured key, else the one generated into the data dir on first start."""
    if configured:
        return base64.urlsafe_b64decode(configured.encode("ascii") + b"=" * (-len(configured) % 4))
    path = data_dir / KEY_FILE
    if path.exists():
        return base64.urlsafe_b64decode(path.read_bytes().strip())
    key = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(base64.urlsafe_b64encode(key) + b"\n")
    return key

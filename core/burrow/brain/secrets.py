"""Secrets at rest: values encrypted with a key that only the robot's environment holds.

The key is 32 random bytes in base64, in `BURROW_ENCRYPTION_KEY`. Several comma-separated keys
rotate it: the first encrypts, any of them decrypts. The cipher is `cryptography`'s Fernet
(AES-128-CBC with HMAC-SHA256, a random IV and a timestamp per value), whose tokens are
URL-safe base64 text, so a ciphertext can be pasted into YAML or chat as it is.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping, Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

__all__ = [
    "ENCRYPTION_KEY_ENV",
    "GENERATE_HINT",
    "SecretBox",
    "SecretError",
    "encrypt_secret",
    "generate_key",
]

ENCRYPTION_KEY_ENV = "BURROW_ENCRYPTION_KEY"
GENERATE_HINT = "python -m burrow.brain.keygen (or: openssl rand -base64 32)"


class SecretError(Exception):
    """No usable encryption key, or a value that the key cannot decrypt."""


def generate_key() -> str:
    """A new random key, in the form `BURROW_ENCRYPTION_KEY` takes."""
    return Fernet.generate_key().decode()


def _fernet(text: str, index: int) -> Fernet:
    """A Fernet for one key, which may be URL-safe or standard base64, padded or not."""
    cleaned = text.strip()
    padded = cleaned + "=" * (-len(cleaned) % 4)
    try:
        raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise SecretError(
            f"{ENCRYPTION_KEY_ENV}: key {index + 1} is not 32 bytes in base64; "
            f"generate one with {GENERATE_HINT}"
        )
    return Fernet(base64.urlsafe_b64encode(raw))


class SecretBox:
    """Encrypts with the first key and decrypts with any, for rotation without downtime."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise SecretError(f"{ENCRYPTION_KEY_ENV}: no key given")
        self._cipher = MultiFernet([_fernet(key, i) for i, key in enumerate(keys)])

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> SecretBox:
        """The box for `BURROW_ENCRYPTION_KEY`, or a `SecretError` saying how to set one."""
        value = (os.environ if environ is None else environ).get(ENCRYPTION_KEY_ENV, "")
        keys = [part for part in value.split(",") if part.strip()]
        if not keys:
            raise SecretError(
                f"{ENCRYPTION_KEY_ENV} is not set: generate a key with {GENERATE_HINT}, "
                "put it in the robot's environment (never in its repository) and restart"
            )
        return cls(keys)

    def encrypt(self, data: bytes) -> bytes:
        """The ciphertext of `data`, as URL-safe base64 bytes."""
        return self._cipher.encrypt(data)

    def decrypt(self, token: bytes) -> bytes:
        """The plaintext of a ciphertext from `encrypt`, under any of the keys."""
        try:
            return self._cipher.decrypt(token)
        except InvalidToken:
            raise SecretError(
                f"cannot decrypt: not encrypted with any key in {ENCRYPTION_KEY_ENV} "
                "(a different key, or a damaged or unencrypted value)"
            ) from None

    def encrypt_secret(self, plaintext: str) -> str:
        """`EncryptSecret`: the base64 ciphertext of a string."""
        return self.encrypt(plaintext.encode()).decode()

    def decrypt_secret(self, ciphertext: str) -> str:
        """The string that `encrypt_secret` encrypted."""
        return self.decrypt(ciphertext.strip().encode()).decode()


def encrypt_secret(plaintext: str, environ: Mapping[str, str] | None = None) -> str:
    """Encrypt `plaintext` with the key in the environment, as `EncryptSecret` does."""
    return SecretBox.from_environ(environ).encrypt_secret(plaintext)

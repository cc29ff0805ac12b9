"""Secrets at rest: the environment's key, EncryptSecret, rotation, and an encrypted brain."""

from __future__ import annotations

import base64
import os
import subprocess
import sys

import pytest

from burrow.brain import (
    ENCRYPTION_KEY_ENV,
    BrainError,
    EncryptedBrain,
    MemoryBrain,
    SecretBox,
    SecretError,
    encrypt_secret,
    generate_key,
)
from support import run


def test_encrypt_secret_round_trips_as_base64_text_that_hides_the_plaintext() -> None:
    env = {ENCRYPTION_KEY_ENV: generate_key()}
    first = encrypt_secret("hunter2-api-token", env)
    second = encrypt_secret("hunter2-api-token", env)
    assert first != second  # a fresh IV every time
    assert "hunter2" not in first
    base64.urlsafe_b64decode(first)  # plain base64 text, safe in YAML and chat
    assert SecretBox.from_environ(env).decrypt_secret(first) == "hunter2-api-token"


def test_a_missing_key_says_which_variable_and_how_to_make_one() -> None:
    with pytest.raises(SecretError) as raised:
        encrypt_secret("x", {})
    message = str(raised.value)
    assert ENCRYPTION_KEY_ENV in message
    assert "python -m burrow.brain.keygen" in message


@pytest.mark.parametrize(
    "key", ["too-short", "!!!not base64!!!", base64.b64encode(b"x" * 16).decode()]
)
def test_a_malformed_key_is_refused(key: str) -> None:
    with pytest.raises(SecretError, match=f"{ENCRYPTION_KEY_ENV}: key 1 is not 32 bytes"):
        SecretBox.from_environ({ENCRYPTION_KEY_ENV: key})


def test_a_standard_base64_key_as_openssl_makes_it_is_accepted() -> None:
    raw = bytes([0xFB, 0xFF] * 16)  # encodes with '+' and '/' in standard base64
    key = base64.b64encode(raw).decode()
    assert "+" in key or "/" in key
    box = SecretBox([key])
    assert box.decrypt_secret(box.encrypt_secret("s")) == "s"


def test_the_wrong_key_cannot_decrypt() -> None:
    ciphertext = SecretBox([generate_key()]).encrypt_secret("secret")
    with pytest.raises(SecretError, match="not encrypted with any key"):
        SecretBox([generate_key()]).decrypt_secret(ciphertext)


def test_rotation_encrypts_with_the_first_key_and_decrypts_with_any() -> None:
    old, new = generate_key(), generate_key()
    written_before = SecretBox([old]).encrypt_secret("before")
    rotated = SecretBox.from_environ({ENCRYPTION_KEY_ENV: f"{new}, {old}"})
    assert rotated.decrypt_secret(written_before) == "before"
    written_after = rotated.encrypt_secret("after")
    assert SecretBox([new]).decrypt_secret(written_after) == "after"
    with pytest.raises(SecretError):
        SecretBox([old]).decrypt_secret(written_after)


def test_keygen_prints_a_usable_key() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "burrow.brain.keygen"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )
    assert result.stderr == ""
    box = SecretBox.from_environ({ENCRYPTION_KEY_ENV: result.stdout.strip()})
    assert box.decrypt_secret(box.encrypt_secret("ok")) == "ok"


def test_an_encrypted_brain_stores_only_ciphertext() -> None:
    async def scenario() -> None:
        inner = MemoryBrain()
        brain = EncryptedBrain(inner, SecretBox([generate_key()]))
        await brain.open()
        await brain.put("ns:k", b'{"password":"hunter2"}')
        await brain.put_many({"ns:m": b"many-plaintext"})
        stored = [await inner.get("ns:k"), await inner.get("ns:m")]
        assert all(value is not None and b"hunter2" not in value for value in stored)
        assert b"many-plaintext" not in (stored[1] or b"")
        assert await brain.get("ns:k") == b'{"password":"hunter2"}'
        assert await brain.get("ns:m") == b"many-plaintext"
        assert await brain.keys("ns:") == ["ns:k", "ns:m"]

    run(scenario())


def test_an_encrypted_brain_opened_with_another_key_fails_loudly() -> None:
    async def scenario() -> None:
        inner = MemoryBrain()
        writer = EncryptedBrain(inner, SecretBox([generate_key()]))
        await writer.open()
        await writer.put("ns:k", b"v")
        reader = EncryptedBrain(inner, SecretBox([generate_key()]))
        with pytest.raises(BrainError, match="brain value 'ns:k': cannot decrypt"):
            await reader.get("ns:k")

    run(scenario())

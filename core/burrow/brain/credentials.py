"""Users' linked identity credentials, kept in the brain encrypted with the robot's key.

One record per (provider, user), a JSON object, under
`bot:identity:v1:<provider>:user:<sha1 of the lower-cased user name>` (Gopherbot's key, so a
brain's layout matches upstream's). No extension can name such a key: datum keys live under a
task's namespace, and `bot` is reserved. The value is Fernet ciphertext from the robot's
`SecretBox` (`BURROW_ENCRYPTION_KEY`), whatever the provider, so a copied brain file does not
leak tokens.

Reading and refreshing one record must not race (a refresh token may be rotated by the
provider), so `locked(key)` serializes everything done to a key in this robot.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from burrow.brain.provider import BrainError, BrainProvider
from burrow.brain.secrets import SecretBox, SecretError

__all__ = ["IDENTITY_PREFIX", "CredentialStore", "credential_key", "credential_store"]

IDENTITY_PREFIX = "bot:identity:v1:"
_SEGMENT = re.compile(r"[^A-Za-z0-9_]")


def credential_key(provider: str, user: str) -> str:
    """The brain key of `user`'s link with `provider` (both compared without case)."""
    segment = _SEGMENT.sub("_", provider.strip().lower()) or "provider"
    # SHA-1 as upstream: it names the record, it protects nothing.
    digest = hashlib.sha1(user.strip().lower().encode()).hexdigest()
    return f"{IDENTITY_PREFIX}{segment}:user:{digest}"


class CredentialStore:
    """Encrypted JSON records in a brain, with one lock per key."""

    def __init__(self, brain: BrainProvider, box: SecretBox) -> None:
        self._brain = brain
        self._box = box
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def locked(self, key: str) -> AsyncIterator[None]:
        """Hold the lock of `key` (first come, first served) for the body of the block."""
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    async def get(self, key: str) -> dict[str, Any] | None:
        """The record under `key`, or None; BrainError when it cannot be read or decrypted."""
        raw = await self._brain.get(key)
        if raw is None:
            return None
        try:
            record = json.loads(self._box.decrypt(raw))
        except SecretError as error:
            raise BrainError(f"identity record {key!r}: {error}") from None
        except ValueError as error:
            raise BrainError(f"identity record {key!r} is not JSON: {error}") from None
        if not isinstance(record, dict):
            raise BrainError(f"identity record {key!r} is not a JSON object")
        return record

    async def put(self, key: str, record: dict[str, Any]) -> None:
        """Encrypt and store `record` under `key`."""
        data = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode()
        await self._brain.put(key, self._box.encrypt(data))

    async def delete(self, key: str) -> None:
        """Remove the record under `key` (missing is fine)."""
        await self._brain.delete(key)


# One store per open brain, so that its locks are shared by every pipeline of the robot.
_STORES: weakref.WeakKeyDictionary[Any, CredentialStore] = weakref.WeakKeyDictionary()


def credential_store(brain: BrainProvider, box: SecretBox) -> CredentialStore:
    """The store of `brain` (made on first use), encrypting with `box`."""
    store = _STORES.get(brain)
    if store is None or store._box is not box:
        store = _STORES[brain] = CredentialStore(brain, box)
    return store

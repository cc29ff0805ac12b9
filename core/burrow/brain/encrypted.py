"""A provider wrapper that encrypts every value before it reaches the store."""

from __future__ import annotations

from collections.abc import Mapping

from burrow.brain.provider import BrainError, BrainProvider
from burrow.brain.secrets import SecretBox, SecretError

__all__ = ["EncryptedBrain"]


class EncryptedBrain:
    """Any provider, with values encrypted at rest by a `SecretBox`; keys stay readable."""

    def __init__(self, inner: BrainProvider, box: SecretBox) -> None:
        self.name = inner.name
        self._inner = inner
        self._box = box

    async def open(self) -> None:
        """Open the wrapped provider."""
        await self._inner.open()

    async def get(self, key: str) -> bytes | None:
        """The decrypted value under `key`, or None."""
        raw = await self._inner.get(key)
        if raw is None:
            return None
        try:
            return self._box.decrypt(raw)
        except SecretError as error:
            raise BrainError(f"brain value {key!r}: {error}") from None

    async def put(self, key: str, value: bytes) -> None:
        """Encrypt and store `value`."""
        await self._inner.put(key, self._box.encrypt(value))

    async def put_many(self, items: Mapping[str, bytes]) -> None:
        """Encrypt and store every item atomically."""
        await self._inner.put_many({k: self._box.encrypt(v) for k, v in items.items()})

    async def delete(self, key: str) -> None:
        """Remove `key`."""
        await self._inner.delete(key)

    async def keys(self, prefix: str = "") -> list[str]:
        """Stored keys starting with `prefix`."""
        return await self._inner.keys(prefix)

    async def close(self) -> None:
        """Close the wrapped provider."""
        await self._inner.close()

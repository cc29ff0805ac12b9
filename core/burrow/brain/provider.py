"""The narrow interface every brain provider implements: bytes in, bytes out, by key."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

__all__ = ["BrainError", "BrainFactory", "BrainProvider", "check_config_keys"]


class BrainError(Exception):
    """The brain cannot be opened or cannot serve an operation; the message says what to do."""


@runtime_checkable
class BrainProvider(Protocol):
    """A durable key-value store of bytes, opened once by the parent and shared by everyone.

    Keys are non-empty strings; values are opaque bytes (the datum layer stores JSON, possibly
    encrypted). Every method may raise `BrainError`. A write method returns only once the
    write is durable, and each call is atomic: after a crash a key holds its old value or its
    new one, never a mix, and `put_many` lands whole or not at all.
    """

    name: str

    async def open(self) -> None:
        """Make the store ready, or raise `BrainError` saying why it cannot be used."""

    async def get(self, key: str) -> bytes | None:
        """The value stored under `key`, or None when there is none."""

    async def put(self, key: str, value: bytes) -> None:
        """Store `value` under `key`, replacing any old value."""

    async def put_many(self, items: Mapping[str, bytes]) -> None:
        """Store every item in one atomic write."""

    async def delete(self, key: str) -> None:
        """Remove `key`; removing a missing key is not an error."""

    async def keys(self, prefix: str = "") -> list[str]:
        """Every stored key starting with `prefix`, sorted."""

    async def close(self) -> None:
        """Release the store; safe to call twice."""


class BrainFactory(Protocol):
    """Makes an unopened provider from `BrainConfig` (robot.yaml) and the robot's state folder."""

    def __call__(self, config: Mapping[str, Any], state_dir: Path) -> BrainProvider:
        """Build the provider, raising `BrainError` for a bad `BrainConfig`."""


def check_config_keys(provider: str, config: Mapping[str, Any], allowed: set[str]) -> None:
    """Raise `BrainError` naming the first `BrainConfig` key that `provider` does not know."""
    for key in config:
        if key not in allowed:
            known = ", ".join(sorted(allowed)) or "none"
            raise BrainError(
                f"BrainConfig.{key}: unknown key for the {provider} brain (known: {known}); "
                "remove it from robot.yaml"
            )

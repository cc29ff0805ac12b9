"""A brain that lives in the parent's memory and forgets everything at exit: for tests."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from burrow.brain.provider import BrainError, check_config_keys

__all__ = ["MemoryBrain"]


class MemoryBrain:
    """The `memory` provider: a dict, with the same contract as a durable brain."""

    name = "memory"

    def __init__(self) -> None:
        self._data: dict[str, bytes] = {}
        self._open = False

    @classmethod
    def from_config(cls, config: Mapping[str, Any], state_dir: Path) -> MemoryBrain:
        """The factory registered as `memory`; it takes no settings."""
        check_config_keys(cls.name, config, set())
        return cls()

    def _check_open(self) -> None:
        if not self._open:
            raise BrainError("the memory brain is not open")

    async def open(self) -> None:
        """Ready the (empty, or previously filled) store."""
        self._open = True

    async def get(self, key: str) -> bytes | None:
        """The value under `key`, or None."""
        self._check_open()
        return self._data.get(key)

    async def put(self, key: str, value: bytes) -> None:
        """Store `value` under `key`."""
        self._check_open()
        self._data[key] = bytes(value)

    async def put_many(self, items: Mapping[str, bytes]) -> None:
        """Store every item."""
        self._check_open()
        self._data.update({key: bytes(value) for key, value in items.items()})

    async def delete(self, key: str) -> None:
        """Remove `key` if present."""
        self._check_open()
        self._data.pop(key, None)

    async def keys(self, prefix: str = "") -> list[str]:
        """Stored keys starting with `prefix`, sorted."""
        self._check_open()
        return sorted(key for key in self._data if key.startswith(prefix))

    async def close(self) -> None:
        """Stop serving; the data stays, so a test can reopen the same instance."""
        self._open = False

"""Short-term memory: small strings remembered per user, channel and thread, which expire.

The rules are Gopherbot's (`Remember`, `Recall`, `DeleteMemory`, `bot/ephemeral.go`). A memory
is found by its context key (key, user, channel, thread, protocol), computed by the pure
function `memory_key`. Channel memories last 14 minutes; thread and DM memories last 7 days
and, since a restart should not forget a week-long memory, are also written to the brain,
one row each under `bot:_ephemeral-memories/` (a prefix no datum key can reach, since datum
keys cannot contain `/`).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from burrow.brain.provider import BrainError, BrainProvider

__all__ = [
    "DEFAULT_CHANNEL_LIFETIME",
    "DEFAULT_THREAD_LIFETIME",
    "STORAGE_PREFIX",
    "MemoryKey",
    "MessageContext",
    "ShortTermMemory",
    "memory_key",
    "parse_storage_key",
    "storage_key",
]

log = logging.getLogger(__name__)

DEFAULT_CHANNEL_LIFETIME = 14 * 60.0
DEFAULT_THREAD_LIFETIME = 7 * 24 * 3600.0
STORAGE_PREFIX = "bot:_ephemeral-memories/"
_CONTEXT_PREFIX = "context:"


@dataclass(frozen=True)
class MessageContext:
    """The message a memory call is made for: who, where, and in which thread."""

    user: str
    channel: str = ""  # empty: a direct message
    thread: str = ""  # the incoming message's thread id (Incoming.ThreadID)
    threaded: bool = False  # the incoming message was in a thread (Incoming.ThreadedMessage)
    protocol: str = ""


class MemoryKey(NamedTuple):
    """The context key a short-term memory is stored and found under."""

    key: str
    user: str
    channel: str
    thread: str
    protocol: str

    @property
    def long_lived(self) -> bool:
        """Thread and DM memories last days and are persisted; channel ones last minutes."""
        return bool(self.thread) or not self.channel


def memory_key(
    key: str, message: MessageContext, *, shared: bool = False, force_thread: bool = False
) -> MemoryKey:
    """The context key of `key` for `message`.

    The user is lower-cased, and blanked for a `shared` memory in a channel (a DM is never
    shared: the user is what tells two people's DM memories apart). The thread is recorded
    when the message is threaded, or always with `force_thread` (the `*Thread` methods); the
    protocol only with a thread, where thread ids are protocol-specific.
    """
    user = "" if shared and message.channel else message.user.lower()
    thread = message.thread if (message.threaded or force_thread) else ""
    return MemoryKey(key, user, message.channel, thread, message.protocol if thread else "")


def storage_key(memory: MemoryKey) -> str:
    """The brain key a long-lived memory is persisted under."""
    return STORAGE_PREFIX + json.dumps(list(memory), ensure_ascii=False, separators=(",", ":"))


def parse_storage_key(stored: str) -> MemoryKey | None:
    """The `MemoryKey` behind a brain key from `storage_key`, or None if it is not one."""
    if not stored.startswith(STORAGE_PREFIX):
        return None
    try:
        parts = json.loads(stored[len(STORAGE_PREFIX) :])
    except ValueError:
        return None
    if not isinstance(parts, list) or len(parts) != 5:
        return None
    if not all(isinstance(part, str) for part in parts):
        return None
    return MemoryKey(*parts)


class _Memory(NamedTuple):
    value: str
    at: float  # clock() when remembered


class ShortTermMemory:
    """The robot's short-term memories, kept in memory and, when long-lived, in the brain."""

    def __init__(
        self,
        brain: BrainProvider | None = None,
        *,
        channel_lifetime: float = DEFAULT_CHANNEL_LIFETIME,
        thread_lifetime: float = DEFAULT_THREAD_LIFETIME,
        clock: Callable[[], float] = time.time,
        sweep_interval: float = 60.0,
    ) -> None:
        self._brain = brain
        self._channel_lifetime = channel_lifetime
        self._thread_lifetime = thread_lifetime
        # Wall-clock time, not the loop's monotonic clock: persisted timestamps must still
        # mean something after a restart.
        self._clock = clock
        self._sweep_interval = sweep_interval
        self._memories: dict[MemoryKey, _Memory] = {}
        self._last_sweep = clock()

    def __len__(self) -> int:
        return len(self._memories)

    def _lifetime(self, memory: MemoryKey) -> float:
        return self._thread_lifetime if memory.long_lived else self._channel_lifetime

    def _expired(self, memory: MemoryKey, stored: _Memory, now: float) -> bool:
        return now - stored.at >= self._lifetime(memory)

    async def load(self) -> int:
        """Restore the persisted memories that have not expired; returns how many."""
        if self._brain is None:
            return 0
        now = self._clock()
        restored = 0
        for stored_key in await self._brain.keys(STORAGE_PREFIX):
            memory = parse_storage_key(stored_key)
            raw = await self._brain.get(stored_key)
            entry = _decode(raw)
            if memory is None or entry is None or self._expired(memory, entry, now):
                await self._brain.delete(stored_key)
                continue
            self._memories[memory] = entry
            restored += 1
        return restored

    async def _store(self, memory: MemoryKey, value: str) -> bool:
        """Remember (or with an empty value, forget) one memory; False if the brain failed."""
        if not memory.key:
            return False
        now = self._clock()
        if value:
            self._memories[memory] = _Memory(value, now)
        else:
            self._memories.pop(memory, None)
        ok = True
        if memory.long_lived and self._brain is not None:
            try:
                if value:
                    payload = json.dumps({"value": value, "at": now}).encode()
                    await self._brain.put(storage_key(memory), payload)
                else:
                    await self._brain.delete(storage_key(memory))
            except BrainError as error:
                log.error("persisting short-term memory %r: %s", memory.key, error)
                ok = False
        if now - self._last_sweep >= self._sweep_interval:
            await self.sweep()
        return ok

    async def remember(
        self, message: MessageContext, key: str, value: str, *, shared: bool = False
    ) -> bool:
        """`Remember`: store `value` (empty deletes), in the thread only if threaded."""
        return await self._store(memory_key(key, message, shared=shared), value)

    async def remember_thread(
        self, message: MessageContext, key: str, value: str, *, shared: bool = False
    ) -> bool:
        """`RememberThread`: store `value` in the message's thread even if it was not threaded."""
        memory = memory_key(key, message, shared=shared, force_thread=True)
        return await self._store(memory, value)

    async def remember_context(self, message: MessageContext, context: str, value: str) -> bool:
        """`RememberContext`: what "it" means for `context`, for this user only."""
        return await self.remember(message, _CONTEXT_PREFIX + context, value)

    async def remember_context_thread(
        self, message: MessageContext, context: str, value: str
    ) -> bool:
        """`RememberContextThread`: `RememberContext` in the message's thread."""
        return await self.remember_thread(message, _CONTEXT_PREFIX + context, value)

    def recall(self, message: MessageContext, key: str, *, shared: bool = False) -> str:
        """`Recall`: the remembered value, or "" when there is none or it has expired."""
        memory = memory_key(key, message, shared=shared)
        entry = self._memories.get(memory)
        if entry is None or self._expired(memory, entry, self._clock()):
            return ""
        return entry.value

    async def delete_memory(
        self, message: MessageContext, key: str, *, shared: bool = False
    ) -> bool:
        """`DeleteMemory`: forget a memory as `Recall` would find it."""
        return await self._store(memory_key(key, message, shared=shared), "")

    async def sweep(self) -> int:
        """Drop every expired memory (from the brain too); returns how many."""
        now = self._last_sweep = self._clock()
        expired = [m for m, entry in self._memories.items() if self._expired(m, entry, now)]
        for memory in expired:
            del self._memories[memory]
        for memory in expired:
            # Skip one remembered again while an earlier delete was awaited.
            if memory.long_lived and self._brain is not None and memory not in self._memories:
                try:
                    await self._brain.delete(storage_key(memory))
                except BrainError as error:  # retried by the next load
                    log.warning("removing expired memory %r: %s", memory.key, error)
        return len(expired)


def _decode(raw: bytes | None) -> _Memory | None:
    """A persisted memory, or None when the row is missing or damaged."""
    if raw is None:
        return None
    try:
        payload = json.loads(raw)
        value, at = payload["value"], payload["at"]
    except (ValueError, TypeError, KeyError):
        return None
    if not isinstance(value, str) or not value or not isinstance(at, int | float):
        return None
    return _Memory(value, float(at))

"""Child slots: how many extension children may run at once, and the queue of steps waiting.

Every file-backed step of a pipeline takes a slot before its child starts and gives it back
when the child has ended, so a burst of commands cannot start more children than the robot's
`MaxConcurrentChildren` (docs/configuration.md). The rest wait in one first-in, first-out
queue. Built-in commands, prompts answered in the robot, waits for an `Exclusive` tag and the
time between steps hold no slot: only a live child does.

A slot belongs to an *owner* (a pipeline id) and is re-entrant: an engine callback
(`_elevate`, `_authorize`) run while the owner's child waits in a Robot API call runs in the
slot the owner already holds. Queueing it instead could deadlock: with every slot taken by
children waiting in `Elevate`, no callback could ever run and no slot would ever come free.
The waiting child is blocked in that call, so the pair does the work of one execution; the
robot may then briefly have one child more than the bound for each such pipeline.

This module knows nothing of pipelines or children: the engine asks for a slot, runs its child
and releases the slot.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "CHILDREN_PER_CPU",
    "CHILD_BUDGET",
    "MEMORY_SHARE",
    "MIN_CHILDREN",
    "ChildSlots",
    "default_max_children",
]

# The default bound (docs/configuration.md, "Concurrent children"): four children per CPU,
# since children mostly wait (for robot calls, the network, a user) rather than compute; but
# no more than fit in a quarter of the machine's memory at 64 MiB each (a JavaScript child
# that has done nothing yet is ≈ 57 MiB resident, a Lua child ≈ 12 MiB); and never fewer than
# four, so that a few slow commands cannot hold up everyone on a small machine.
CHILDREN_PER_CPU = 4
CHILD_BUDGET = 64 * 1024 * 1024  # bytes of memory counted per child
MEMORY_SHARE = 4  # children may use 1/MEMORY_SHARE of the memory
MIN_CHILDREN = 4

_CGROUP_MEMORY = Path("/sys/fs/cgroup/memory.max")


def _cpus() -> int:
    """The CPUs this process may run on (its affinity, which containers narrow)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _memory() -> int | None:
    """Bytes of memory the robot may use: the machine's, or its cgroup's limit if lower."""
    found: list[int] = []
    try:
        found.append(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        pass
    try:
        text = _CGROUP_MEMORY.read_text(encoding="ascii").strip()
    except OSError:
        text = ""
    if text.isdigit():
        found.append(int(text))
    positive = [size for size in found if size > 0]
    return min(positive) if positive else None


def default_max_children(cpus: int | None = None, memory: int | None = None) -> int:
    """`MaxConcurrentChildren` when robot.yaml does not set it.

    max(MIN_CHILDREN, min(CHILDREN_PER_CPU * CPUs, memory / MEMORY_SHARE / CHILD_BUDGET)):
    2 CPUs and 1 GiB give 4, 2 CPUs and 4 GiB give 8, 8 CPUs and 16 GiB give 32.
    """
    cpus = _cpus() if cpus is None else cpus
    memory = _memory() if memory is None else memory
    bound = CHILDREN_PER_CPU * max(1, cpus)
    if memory is not None:
        bound = min(bound, memory // (MEMORY_SHARE * CHILD_BUDGET))
    return max(MIN_CHILDREN, bound)


@dataclass
class _Waiter:
    owner: int
    since: float
    granted: asyncio.Future[bool] = field(repr=False)


class ChildSlots:
    """A first-in, first-out bound on children running at once; `limit` 0 means no bound."""

    def __init__(self, limit: int = 0) -> None:
        if limit < 0:
            raise ValueError(f"a slot limit cannot be negative: {limit}")
        self.limit = limit
        self._held: dict[int, int] = {}  # owner -> nesting depth (a slot each, however deep)
        self._queue: dict[int, _Waiter] = {}  # insertion order is the queue's order
        self._closed = False

    # -- what `ps` shows ----------------------------------------------------------------------

    @property
    def running(self) -> int:
        """Slots in use."""
        return len(self._held)

    @property
    def queued(self) -> int:
        """Owners waiting for a slot."""
        return len(self._queue)

    @property
    def closed(self) -> bool:
        """True once `close` was called: nobody gets a slot any more."""
        return self._closed

    def holds(self, owner: int) -> bool:
        """Whether `owner` has a slot (its child is running)."""
        return owner in self._held

    def waiting(self, owner: int) -> tuple[int, float] | None:
        """(place in the queue from 1, seconds waited) of a queued `owner`; None if not queued."""
        for place, waiter in enumerate(self._queue.values(), start=1):
            if waiter.owner == owner:
                return place, time.monotonic() - waiter.since
        return None

    # -- taking and giving back ---------------------------------------------------------------

    def _free(self) -> bool:
        return self.limit == 0 or len(self._held) < self.limit

    async def acquire(self, owner: int, give_up: asyncio.Event | None = None) -> float | None:
        """Take a slot for `owner`, waiting in line if none is free.

        Returns the seconds spent waiting (0.0 at once, or for a nested acquisition by an
        owner that already holds a slot), or None without a slot: `give_up` was set while
        waiting, or the slots are closed. Each successful acquisition needs one `release`.
        """
        if self._closed:
            return None
        if owner in self._held:  # nested: a callback while the owner's child waits
            self._held[owner] += 1
            return 0.0
        if not self._queue and self._free():
            self._held[owner] = 1
            return 0.0
        if owner in self._queue:
            raise RuntimeError(f"owner {owner} is already waiting for a slot")
        waiter = _Waiter(owner, time.monotonic(), asyncio.get_running_loop().create_future())
        self._queue[owner] = waiter
        waits: set[asyncio.Future[Any]] = {waiter.granted}
        if give_up is not None:
            waits.add(asyncio.ensure_future(give_up.wait()))
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            self._abandon(waiter)
            raise
        finally:
            for future in waits - {waiter.granted}:
                future.cancel()
        if give_up is not None and give_up.is_set():
            self._abandon(waiter)  # a kill wins over a slot handed on in the same turn
            return None
        if not waiter.granted.done() or not waiter.granted.result():
            self._abandon(waiter)
            return None
        return time.monotonic() - waiter.since

    def _abandon(self, waiter: _Waiter) -> None:
        """Take `waiter` out of the queue; give back the slot if it had just been handed one."""
        if self._queue.get(waiter.owner) is waiter:
            del self._queue[waiter.owner]
        if not waiter.granted.done():
            waiter.granted.cancel()
        elif not waiter.granted.cancelled() and waiter.granted.result():
            self.release(waiter.owner)

    def release(self, owner: int) -> None:
        """Give back one acquisition of `owner`; the last one frees the slot for the next."""
        depth = self._held.get(owner)
        if depth is None:
            raise RuntimeError(f"owner {owner} holds no slot")
        if depth > 1:
            self._held[owner] = depth - 1
            return
        del self._held[owner]
        self._hand_on()

    def _hand_on(self) -> None:
        while self._queue and self._free() and not self._closed:
            owner = next(iter(self._queue))
            waiter = self._queue.pop(owner)
            if waiter.granted.done():
                continue  # it stopped waiting in the same turn of the loop
            self._held[owner] = 1
            waiter.granted.set_result(True)

    def close(self) -> None:
        """Stop handing out slots and send every queued owner away without one (shutdown)."""
        self._closed = True
        waiters, self._queue = list(self._queue.values()), {}
        for waiter in waiters:
            if not waiter.granted.done():
                waiter.granted.set_result(False)

"""`Exclusive` locks: one pipeline at a time per `<namespace>:<tag>`, as upstream."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from burrow.engine.pipeline import Pipeline


class ExclusiveLocks:
    """Which pipeline holds each tag; released when that pipeline ends."""

    def __init__(self) -> None:
        self._holders: dict[str, Pipeline] = {}
        self._freed: dict[str, asyncio.Event] = {}

    def acquire(self, tag: str, pipeline: Pipeline) -> bool:
        """Take `tag` for `pipeline` if it is free (or already its own)."""
        holder = self._holders.get(tag)
        if holder is not None and holder is not pipeline:
            return False
        self._holders[tag] = pipeline
        pipeline.exclusive_tags.add(tag)
        return True

    def holder(self, tag: str) -> Pipeline | None:
        """The pipeline holding `tag`, if any."""
        return self._holders.get(tag)

    async def wait_free(self, tag: str, give_up: asyncio.Event) -> None:
        """Wait until `tag` is released, or `give_up` is set (the waiter was killed)."""
        while tag in self._holders and not give_up.is_set():
            freed = self._freed.setdefault(tag, asyncio.Event())
            waiters = [asyncio.ensure_future(freed.wait()), asyncio.ensure_future(give_up.wait())]
            try:
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    waiter.cancel()

    def release_all(self, pipeline: Pipeline) -> None:
        """Release every tag `pipeline` holds and wake whoever waits for them."""
        for tag in list(pipeline.exclusive_tags):
            if self._holders.get(tag) is pipeline:
                del self._holders[tag]
                freed = self._freed.pop(tag, None)
                if freed is not None:
                    freed.set()
        pipeline.exclusive_tags.clear()

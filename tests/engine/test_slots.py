"""Child slots: the first-in, first-out bound on children, on a real event loop."""

from __future__ import annotations

import asyncio

import pytest

from burrow.engine.slots import ChildSlots, default_max_children
from support import run

GiB = 1024**3


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_queued_owners_get_slots_in_the_order_they_asked() -> None:
    async def main() -> tuple[list[int], list[tuple[int, float] | None]]:
        slots = ChildSlots(2)
        assert await slots.acquire(1) == 0.0 and await slots.acquire(2) == 0.0
        granted: list[int] = []

        async def wait(owner: int) -> None:
            assert await slots.acquire(owner) is not None
            granted.append(owner)

        tasks = [asyncio.ensure_future(wait(owner)) for owner in (5, 3, 4)]
        await _settle()
        places = [slots.waiting(owner) for owner in (5, 3, 4, 1)]
        slots.release(2)
        await _settle()
        slots.release(1)
        slots.release(5)
        await asyncio.gather(*tasks)
        return granted, places

    granted, places = run(main())
    assert granted == [5, 3, 4]
    assert [p[0] if p else None for p in places] == [1, 2, 3, None]


def test_a_newcomer_does_not_overtake_the_queue_when_a_slot_comes_free() -> None:
    async def main() -> tuple[bool, bool]:
        slots = ChildSlots(1)
        await slots.acquire(1)
        waiter = asyncio.ensure_future(slots.acquire(2))
        await _settle()
        slots.release(1)  # handed to 2 at once, so 3 finds no free slot
        late = asyncio.ensure_future(slots.acquire(3))
        await _settle()
        found = slots.holds(2), late.done()
        await waiter
        late.cancel()
        return found

    assert run(main()) == (True, False)


def test_an_owner_holding_a_slot_acquires_again_without_queueing_until_its_last_release() -> None:
    async def main() -> list[object]:
        slots = ChildSlots(1)
        await slots.acquire(1)
        other = asyncio.ensure_future(slots.acquire(2))
        await _settle()
        nested = await asyncio.wait_for(slots.acquire(1), 1)  # a callback under a full robot
        slots.release(1)
        await _settle()
        still = (slots.holds(1), other.done())
        slots.release(1)
        return [nested, still, await asyncio.wait_for(other, 1), slots.running]

    assert run(main()) == [0.0, (True, False), pytest.approx(0.0, abs=1), 1]


def test_giving_up_leaves_the_queue_at_once_and_the_next_moves_up() -> None:
    async def main() -> tuple[object, object, tuple[int, float] | None]:
        slots = ChildSlots(1)
        await slots.acquire(1)
        killed = asyncio.Event()
        gone = asyncio.ensure_future(slots.acquire(2, killed))
        stays = asyncio.ensure_future(slots.acquire(3))
        await _settle()
        killed.set()
        result = await asyncio.wait_for(gone, 1)
        place = slots.waiting(3)
        slots.release(1)
        return result, await asyncio.wait_for(stays, 1), place

    result, other, place = run(main())
    assert result is None and other is not None
    assert place is not None and place[0] == 1


def test_a_slot_handed_over_as_its_owner_gives_up_goes_to_the_next() -> None:
    async def main() -> tuple[object, object, bool]:
        slots = ChildSlots(1)
        await slots.acquire(1)
        killed = asyncio.Event()
        first = asyncio.ensure_future(slots.acquire(2, killed))
        second = asyncio.ensure_future(slots.acquire(3))
        await _settle()
        slots.release(1)  # hands the slot to 2 ...
        killed.set()  # ... which is killed in the same turn of the loop
        return await first, await asyncio.wait_for(second, 1), slots.holds(2)

    assert run(main()) == (None, pytest.approx(0.0, abs=1), False)


def test_a_cancelled_wait_leaves_the_queue() -> None:
    async def main() -> tuple[int, bool]:
        slots = ChildSlots(1)
        await slots.acquire(1)
        waiting = asyncio.ensure_future(slots.acquire(2))
        await _settle()
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)
        queued = slots.queued
        slots.release(1)
        return queued, slots.holds(2)

    assert run(main()) == (0, False)


def test_closing_sends_the_queue_away_and_refuses_later_requests() -> None:
    async def main() -> list[object]:
        slots = ChildSlots(1)
        await slots.acquire(1)
        queued = [asyncio.ensure_future(slots.acquire(owner)) for owner in (2, 3)]
        await _settle()
        slots.close()
        results = [await asyncio.wait_for(q, 1) for q in queued]
        slots.release(1)  # a child running at close still gives its slot back
        return [*results, await slots.acquire(4), slots.running, slots.queued]

    assert run(main()) == [None, None, None, 0, 0]


def test_no_limit_never_queues() -> None:
    async def main() -> int:
        slots = ChildSlots(0)
        for owner in range(100):
            assert await slots.acquire(owner) == 0.0
        return slots.running

    assert run(main()) == 100
    with pytest.raises(ValueError, match="negative"):
        ChildSlots(-1)


@pytest.mark.parametrize(
    ("cpus", "memory", "expected"),
    [
        (2, 4 * GiB, 8),  # four per CPU
        (8, 16 * GiB, 32),
        (8, 2 * GiB, 8),  # a quarter of 2 GiB is 8 children at 64 MiB
        (2, 1 * GiB, 4),
        (1, GiB // 2, 4),  # never fewer than four
        (64, 512 * GiB, 256),
    ],
)
def test_the_default_bound_follows_cpus_and_memory(cpus: int, memory: int, expected: int) -> None:
    assert default_max_children(cpus, memory) == expected


def test_the_default_bound_of_this_machine_is_at_least_four() -> None:
    assert default_max_children() >= 4

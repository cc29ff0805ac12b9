"""Long-term memory: Gopherbot's datum checkout, update, checkin and delete, and their locks."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, TypeVar

import pytest

from burrow.brain import BrainError, Datums, MemoryBrain, datum_key
from burrow.brain.provider import BrainProvider
from burrow.constants import RetVal
from support import run

T = TypeVar("T")

# Long enough that no lock expires during a test that is not about expiry.
NO_EXPIRY = 30.0
SHORT = 0.15


async def _datums(lifetime: float = NO_EXPIRY, brain: BrainProvider | None = None) -> Datums:
    brain = brain if brain is not None else MemoryBrain()
    await brain.open()
    return Datums(brain, lock_lifetime=lifetime)


async def _started(coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
    """Start `coro` as a task and let it run up to its first real wait."""
    task = asyncio.ensure_future(coro)
    for _ in range(3):
        await asyncio.sleep(0)
    return task


# --- keys -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("namespace", "key", "full"),
    [
        ("weather", "cities", "weather:cities"),
        ("weather", "per-user_list9", "weather:per-user_list9"),
        ("links:ext", "k", "links:ext:k"),
        ("weather", "has space", None),
        ("weather", "other:ns", None),
        ("weather", "a/b", None),
        ("weather", "caf\u00e9", None),
        ("", "k", None),
        ("weather", "", None),
    ],
    ids=[
        "plain",
        "dash-underscore",
        "nested-ns",
        "space",
        "colon-in-key",
        "slash",
        "non-ascii",
        "no-namespace",
        "no-key",
    ],
)
def test_datum_keys_follow_gopherbot_rules(namespace: str, key: str, full: str | None) -> None:
    assert datum_key(namespace, key) == full


@pytest.mark.parametrize("key", ["has space", "other:ns", "", "caf\u00e9"])
def test_every_operation_refuses_an_invalid_key(key: str) -> None:
    async def scenario() -> list[object]:
        datums = await _datums()
        return [
            (await datums.checkout("ns", key, False)).ret_val,
            (await datums.checkout("ns", key, True)).ret_val,
            await datums.update("ns", key, "0123456789abcdef", {"x": 1}),
            await datums.delete("ns", key),
        ]

    assert run(scenario()) == [RetVal.InvalidDatumKey] * 4


# --- checkout -------------------------------------------------------------------------------


def test_checkout_of_a_missing_datum_is_ok_and_not_existing_with_a_token_for_rw() -> None:
    async def scenario() -> None:
        datums = await _datums()
        ret_val, exists, token, datum = await datums.checkout("ns", "new", True)
        assert (ret_val, exists, datum) == (RetVal.Ok, False, None)
        assert re.fullmatch(r"[0-9a-f]{16}", token)

    run(scenario())


def test_read_only_checkout_takes_no_lock_and_does_not_wait_for_one() -> None:
    async def scenario() -> None:
        datums = await _datums()
        held = await datums.checkout("ns", "k", True)
        assert await datums.update("ns", "k", held.token, [1]) == RetVal.Ok
        holder = await datums.checkout("ns", "k", True)
        reader = await asyncio.wait_for(datums.checkout("ns", "k", False), 1.0)
        assert reader == (RetVal.Ok, True, "", [1])
        assert datums.locked_keys() == {"ns:k": ""}
        assert holder.token  # still the holder's: the read changed nothing

    run(scenario())


def test_a_stored_value_that_is_not_json_is_a_data_format_error() -> None:
    async def scenario() -> None:
        brain = MemoryBrain()
        datums = await _datums(brain=brain)
        await brain.put("ns:bad", b"{not json")
        ret_val, exists, token, datum = await datums.checkout("ns", "bad", True)
        assert (ret_val, exists, datum) == (RetVal.DataFormatError, False, None)
        # The lock is kept so the caller can overwrite the damaged datum.
        assert await datums.update("ns", "bad", token, {"fixed": True}) == RetVal.Ok
        assert (await datums.checkout("ns", "bad", False)).datum == {"fixed": True}

    run(scenario())


# --- update ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "datum",
    [{"a": [1, 2.5, None, True]}, ["x"], "text", 42, None, {"unicode": "h\u00e9llo \u2603"}],
    ids=["object", "array", "string", "number", "null", "unicode"],
)
def test_update_stores_any_json_value_for_the_next_checkout(datum: object) -> None:
    async def scenario() -> None:
        datums = await _datums()
        token = (await datums.checkout("ns", "k", True)).token
        assert await datums.update("ns", "k", token, datum) == RetVal.Ok
        assert await datums.checkout("ns", "k", False) == (RetVal.Ok, True, "", datum)

    run(scenario())


def test_the_datum_is_stored_as_json_bytes() -> None:
    async def scenario() -> None:
        brain = MemoryBrain()
        datums = await _datums(brain=brain)
        token = (await datums.checkout("ns", "k", True)).token
        await datums.update("ns", "k", token, {"n": 1, "s": "\u00e9"})
        assert await brain.get("ns:k") == '{"n":1,"s":"\u00e9"}'.encode()

    run(scenario())


def test_update_without_a_lock_entry_is_datum_not_found() -> None:
    async def scenario() -> None:
        datums = await _datums()
        assert await datums.update("ns", "k", "0123456789abcdef", 1) == RetVal.DatumNotFound

    run(scenario())


def test_a_second_update_with_the_same_token_is_datum_not_found() -> None:
    async def scenario() -> None:
        datums = await _datums()
        token = (await datums.checkout("ns", "k", True)).token
        assert await datums.update("ns", "k", token, 1) == RetVal.Ok
        assert await datums.update("ns", "k", token, 2) == RetVal.DatumNotFound
        assert (await datums.checkout("ns", "k", False)).datum == 1

    run(scenario())


def test_update_with_another_token_is_datum_lock_expired_and_stores_nothing() -> None:
    async def scenario() -> None:
        datums = await _datums()
        token = (await datums.checkout("ns", "k", True)).token
        wrong = "f" * 16 if token != "f" * 16 else "e" * 16
        assert await datums.update("ns", "k", wrong, "intruder") == RetVal.DatumLockExpired
        assert (await datums.checkout("ns", "k", False)).exists is False
        assert await datums.update("ns", "k", token, "owner") == RetVal.Ok

    run(scenario())


def test_update_with_an_empty_token_is_a_no_op() -> None:
    async def scenario() -> None:
        datums = await _datums()
        assert await datums.update("ns", "k", "", "ignored") == RetVal.Ok
        assert (await datums.checkout("ns", "k", False)).exists is False

    run(scenario())


@pytest.mark.parametrize("datum", [{1, 2}, float("nan"), object()], ids=["set", "nan", "object"])
def test_a_value_that_is_not_json_is_refused_and_the_lock_kept(datum: object) -> None:
    async def scenario() -> None:
        datums = await _datums()
        token = (await datums.checkout("ns", "k", True)).token
        assert await datums.update("ns", "k", token, datum) == RetVal.DataFormatError
        assert await datums.update("ns", "k", token, "good") == RetVal.Ok

    run(scenario())


# --- waiting and handing over ---------------------------------------------------------------


def test_read_write_checkouts_wait_in_fifo_order_and_see_the_previous_update() -> None:
    async def scenario() -> None:
        datums = await _datums()
        first = await datums.checkout("ns", "list", True)
        order: list[str] = []

        async def append(name: str) -> None:
            ret_val, _, token, datum = await datums.checkout("ns", "list", True)
            assert ret_val == RetVal.Ok
            order.append(name)
            await asyncio.sleep(0.01)  # hold the lock a moment, as an extension would
            assert await datums.update("ns", "list", token, [*datum, name]) == RetVal.Ok

        tasks = [await _started(append(name)) for name in ("b", "c", "d", "e")]
        assert order == []  # all waiting behind the first holder
        assert await datums.update("ns", "list", first.token, ["a"]) == RetVal.Ok
        await asyncio.wait_for(asyncio.gather(*tasks), 5.0)
        assert order == ["b", "c", "d", "e"]
        assert (await datums.checkout("ns", "list", False)).datum == ["a", "b", "c", "d", "e"]

    run(scenario())


def test_checkin_hands_the_lock_to_the_next_waiter() -> None:
    async def scenario() -> None:
        datums = await _datums()
        first = await datums.checkout("ns", "k", True)
        waiter = await _started(datums.checkout("ns", "k", True))
        assert not waiter.done()
        await datums.checkin("ns", "k", first.token)
        second = await asyncio.wait_for(waiter, 1.0)
        assert second.ret_val == RetVal.Ok and second.token not in ("", first.token)

    run(scenario())


def test_a_stale_checkin_does_not_release_the_new_holders_lock() -> None:
    async def scenario() -> None:
        datums = await _datums()
        first = await datums.checkout("ns", "k", True)
        await datums.checkin("ns", "k", first.token)
        second = await datums.checkout("ns", "k", True)
        await datums.checkin("ns", "k", first.token)  # silently ignored
        await datums.checkin("ns", "k", "")
        third = await _started(datums.checkout("ns", "k", True))
        assert not third.done()
        assert await datums.update("ns", "k", second.token, 2) == RetVal.Ok
        assert (await asyncio.wait_for(third, 1.0)).datum == 2

    run(scenario())


def test_a_cancelled_waiter_does_not_hold_up_the_ones_behind_it() -> None:
    async def scenario() -> None:
        datums = await _datums()
        first = await datums.checkout("ns", "k", True)
        gone = await _started(datums.checkout("ns", "k", True))
        behind = await _started(datums.checkout("ns", "k", True))
        gone.cancel()
        await asyncio.sleep(0)
        await datums.update("ns", "k", first.token, "done")
        assert (await asyncio.wait_for(behind, 1.0)).datum == "done"

    run(scenario())


# --- expiry ---------------------------------------------------------------------------------


def test_an_expired_lock_passes_to_the_next_waiter_and_the_old_token_is_refused() -> None:
    async def scenario() -> None:
        datums = await _datums(SHORT)
        stale = await datums.checkout("ns", "k", True)  # its holder never comes back
        started = time.monotonic()
        fresh = await asyncio.wait_for(datums.checkout("ns", "k", True), 5.0)
        waited = time.monotonic() - started
        assert SHORT * 0.8 <= waited < 2.0
        assert fresh.token != stale.token
        assert await datums.update("ns", "k", stale.token, "late") == RetVal.DatumLockExpired
        assert await datums.update("ns", "k", fresh.token, "fresh") == RetVal.Ok
        assert (await datums.checkout("ns", "k", False)).datum == "fresh"

    run(scenario())


def test_each_waiter_gets_a_full_lifetime_from_when_it_is_granted() -> None:
    async def scenario() -> None:
        datums = await _datums(SHORT)
        await datums.checkout("ns", "k", True)
        second = await _started(datums.checkout("ns", "k", True))
        third = await _started(datums.checkout("ns", "k", True))
        started = time.monotonic()
        await asyncio.wait_for(second, 5.0)
        await asyncio.wait_for(third, 5.0)
        # Two dead holders in a row: the third waits two lifetimes, not one.
        assert time.monotonic() - started >= 2 * SHORT * 0.8

    run(scenario())


def test_a_late_update_succeeds_when_nobody_claimed_the_expired_lock() -> None:
    async def scenario() -> None:
        datums = await _datums(SHORT)
        slow = await datums.checkout("ns", "k", True)
        await asyncio.sleep(SHORT * 2)
        assert datums.locked_keys() == {}  # free for anyone...
        # ...but nobody took it, so no update can be lost: upstream accepts this one.
        assert await datums.update("ns", "k", slow.token, "slow") == RetVal.Ok
        assert (await datums.checkout("ns", "k", False)).datum == "slow"

    run(scenario())


def test_a_late_update_is_refused_once_someone_else_claimed_the_datum() -> None:
    async def scenario() -> None:
        datums = await _datums(SHORT)
        slow = await datums.checkout("ns", "k", True)
        await asyncio.sleep(SHORT * 2)
        other = await asyncio.wait_for(datums.checkout("ns", "k", True), 0.5)
        assert await datums.update("ns", "k", slow.token, "slow") == RetVal.DatumLockExpired
        assert await datums.update("ns", "k", other.token, "other") == RetVal.Ok

    run(scenario())


# --- delete ---------------------------------------------------------------------------------


def test_delete_is_idempotent() -> None:
    async def scenario() -> None:
        datums = await _datums()
        token = (await datums.checkout("ns", "k", True)).token
        await datums.update("ns", "k", token, 1)
        assert await datums.delete("ns", "k") == RetVal.Ok
        assert await datums.delete("ns", "k") == RetVal.Ok
        assert await datums.delete("ns", "never") == RetVal.Ok
        assert await datums.checkout("ns", "k", False) == (RetVal.Ok, False, "", None)
        assert datums.locked_keys() == {}

    run(scenario())


def test_delete_waits_for_the_lock_and_leaves_the_datum_gone() -> None:
    async def scenario() -> None:
        datums = await _datums()
        holder = await datums.checkout("ns", "k", True)
        deleting = await _started(datums.delete("ns", "k"))
        assert not deleting.done()
        assert await datums.update("ns", "k", holder.token, "written") == RetVal.Ok
        assert await asyncio.wait_for(deleting, 1.0) == RetVal.Ok
        assert (await datums.checkout("ns", "k", False)).exists is False

    run(scenario())


# --- owners (pipelines) ---------------------------------------------------------------------


def test_release_owner_frees_a_finished_pipelines_locks_at_once() -> None:
    async def scenario() -> None:
        datums = await _datums()  # no expiry: only the release can free them
        await datums.checkout("ns", "a", True, owner="pipe-1")
        await datums.checkout("ns", "b", True, owner="pipe-1")
        await datums.checkout("ns", "c", True, owner="pipe-2")
        waiter = await _started(datums.checkout("ns", "a", True, owner="pipe-3"))
        assert await datums.release_owner("pipe-1") == 2
        granted = await asyncio.wait_for(waiter, 1.0)
        assert granted.ret_val == RetVal.Ok
        assert datums.locked_keys() == {"ns:a": "pipe-3", "ns:c": "pipe-2"}

    run(scenario())


def test_release_owner_ends_the_pipelines_own_waits_as_interrupted() -> None:
    async def scenario() -> None:
        datums = await _datums()
        await datums.checkout("ns", "k", True, owner="pipe-1")
        waiting = await _started(datums.checkout("ns", "k", True, owner="pipe-2"))
        deleting = await _started(datums.delete("ns", "k", owner="pipe-2"))
        await datums.release_owner("pipe-2")
        assert (await asyncio.wait_for(waiting, 1.0)).ret_val == RetVal.Interrupted
        assert await asyncio.wait_for(deleting, 1.0) == RetVal.Interrupted
        assert datums.locked_keys() == {"ns:k": "pipe-1"}

    run(scenario())


def test_release_owner_needs_an_owner() -> None:
    async def scenario() -> None:
        datums = await _datums()
        with pytest.raises(ValueError, match="pipeline id"):
            await datums.release_owner("")

    run(scenario())


# --- the brain failing ----------------------------------------------------------------------


class _FailingBrain(MemoryBrain):
    """A memory brain whose writes fail, like a full disk."""

    async def put(self, key: str, value: bytes) -> None:
        raise BrainError("disk full")

    async def put_many(self, items: Mapping[str, bytes]) -> None:
        raise BrainError("disk full")

    async def delete(self, key: str) -> None:
        raise BrainError("disk full")


def test_a_failing_brain_is_brain_failed_and_the_lock_still_passes_on() -> None:
    async def scenario() -> None:
        datums = await _datums(brain=_FailingBrain())
        first = await datums.checkout("ns", "k", True)
        waiter = await _started(datums.checkout("ns", "k", True))
        assert await datums.update("ns", "k", first.token, 1) == RetVal.BrainFailed
        second = await asyncio.wait_for(waiter, 1.0)
        assert await datums.delete("ns", "other") == RetVal.BrainFailed
        await datums.checkin("ns", "k", second.token)
        assert datums.locked_keys() == {}

    run(scenario())


def test_a_closed_datum_store_interrupts_waiters_and_refuses_new_calls() -> None:
    async def scenario() -> None:
        datums = await _datums()
        await datums.checkout("ns", "k", True)
        waiter = await _started(datums.checkout("ns", "k", True))
        await datums.close()
        assert (await asyncio.wait_for(waiter, 1.0)).ret_val == RetVal.Interrupted
        assert (await datums.checkout("ns", "k", False)).ret_val == RetVal.BrainFailed

    run(scenario())


# --- many at once ---------------------------------------------------------------------------


@pytest.mark.parametrize("tasks", [50])
def test_concurrent_read_modify_write_loses_no_increment(
    make_brain: Callable[[], BrainProvider], tasks: int
) -> None:
    async def scenario() -> object:
        brain = make_brain()
        await brain.open()
        datums = Datums(brain)  # the default lifetime: nothing should expire here

        async def increment(n: int) -> RetVal:
            ret_val, _, token, count = await datums.checkout("ns", "counter", True, owner=f"p{n}")
            assert ret_val == RetVal.Ok
            await asyncio.sleep(0)  # let the others pile up behind the lock
            return await datums.update("ns", "counter", token, (count or 0) + 1)

        results = await asyncio.gather(*(increment(n) for n in range(tasks)))
        assert results == [RetVal.Ok] * tasks
        final = (await datums.checkout("ns", "counter", False)).datum
        await brain.close()
        return final

    assert run(scenario()) == tasks

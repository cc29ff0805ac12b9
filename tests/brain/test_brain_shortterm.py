"""Short-term memory: context keys (pure), visibility, expiry, and thread memories that persist."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from burrow.brain import MemoryBrain, MemoryKey, MessageContext, ShortTermMemory, memory_key
from burrow.brain.provider import BrainProvider
from burrow.brain.shortterm import STORAGE_PREFIX, parse_storage_key, storage_key
from support import run


class FakeClock:
    """A wall clock that moves only when a test says so."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


MINUTE = 60.0
DAY = 24 * 3600.0

IN_CHANNEL = MessageContext(user="Alice", channel="C-general", thread="1700.1", protocol="slack")
IN_THREAD = MessageContext(
    user="Alice", channel="C-general", thread="1700.1", threaded=True, protocol="slack"
)
IN_DM = MessageContext(user="Alice", protocol="slack")
BOB_IN_CHANNEL = MessageContext(user="bob", channel="C-general", thread="1800.2", protocol="slack")
BOB_IN_THREAD = MessageContext(
    user="bob", channel="C-general", thread="1700.1", threaded=True, protocol="slack"
)
BOB_IN_DM = MessageContext(user="bob", protocol="slack")


# --- context keys: pure ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "shared", "force_thread", "expected"),
    [
        (IN_CHANNEL, False, False, MemoryKey("k", "alice", "C-general", "", "")),
        (IN_CHANNEL, True, False, MemoryKey("k", "", "C-general", "", "")),
        (IN_DM, True, False, MemoryKey("k", "alice", "", "", "")),
        (IN_THREAD, False, False, MemoryKey("k", "alice", "C-general", "1700.1", "slack")),
        (IN_THREAD, True, False, MemoryKey("k", "", "C-general", "1700.1", "slack")),
        (IN_CHANNEL, False, True, MemoryKey("k", "alice", "C-general", "1700.1", "slack")),
        (IN_DM, False, True, MemoryKey("k", "alice", "", "", "")),
    ],
    ids=[
        "channel-per-user-lowercased",
        "channel-shared-blanks-user",
        "dm-is-never-shared",
        "threaded-message-records-thread-and-protocol",
        "thread-shared",
        "force-thread-on-unthreaded-message",
        "force-thread-without-a-thread-id",
    ],
)
def test_memory_key_rules(
    message: MessageContext, shared: bool, force_thread: bool, expected: MemoryKey
) -> None:
    assert memory_key("k", message, shared=shared, force_thread=force_thread) == expected


@pytest.mark.parametrize(
    ("memory", "long_lived"),
    [
        (MemoryKey("k", "alice", "C1", "", ""), False),
        (MemoryKey("k", "alice", "C1", "t1", "slack"), True),
        (MemoryKey("k", "alice", "", "", ""), True),
    ],
    ids=["channel", "thread", "dm"],
)
def test_thread_and_dm_memories_are_long_lived(memory: MemoryKey, long_lived: bool) -> None:
    assert memory.long_lived is long_lived


@pytest.mark.parametrize(
    "memory",
    [
        MemoryKey("context:server", "alice", "C1", "t1", "slack"),
        MemoryKey("k{|}odd", "", "C:1/2", "\u2603", ""),
    ],
    ids=["plain", "separators-and-unicode"],
)
def test_storage_keys_round_trip(memory: MemoryKey) -> None:
    stored = storage_key(memory)
    assert stored.startswith(STORAGE_PREFIX)
    assert parse_storage_key(stored) == memory


@pytest.mark.parametrize(
    "stored",
    [
        "ns:key",
        STORAGE_PREFIX + "not json",
        STORAGE_PREFIX + '["too","few"]',
        STORAGE_PREFIX + "[1,2,3,4,5]",
    ],
    ids=["other-prefix", "not-json", "wrong-length", "not-strings"],
)
def test_foreign_storage_keys_are_not_memories(stored: str) -> None:
    assert parse_storage_key(stored) is None


# --- visibility -----------------------------------------------------------------------------


def _memory(clock: FakeClock, brain: BrainProvider | None = None) -> ShortTermMemory:
    return ShortTermMemory(brain, clock=clock)


def test_a_per_user_memory_is_private_to_its_user(clock: FakeClock) -> None:
    async def scenario() -> None:
        memory = _memory(clock)
        assert await memory.remember(IN_CHANNEL, "k", "alice's")
        assert memory.recall(IN_CHANNEL, "k") == "alice's"
        assert memory.recall(BOB_IN_CHANNEL, "k") == ""
        assert memory.recall(IN_CHANNEL, "k", shared=True) == ""

    run(scenario())


def test_a_shared_channel_memory_is_seen_by_everyone_in_the_channel(clock: FakeClock) -> None:
    async def scenario() -> None:
        memory = _memory(clock)
        await memory.remember(IN_CHANNEL, "k", "everyone's", shared=True)
        assert memory.recall(BOB_IN_CHANNEL, "k", shared=True) == "everyone's"
        assert memory.recall(BOB_IN_CHANNEL, "k") == ""  # per-user lookups do not see it
        other_channel = MessageContext(user="bob", channel="C-random")
        assert memory.recall(other_channel, "k", shared=True) == ""

    run(scenario())


def test_dm_memories_are_never_shared(clock: FakeClock) -> None:
    async def scenario() -> None:
        memory = _memory(clock)
        await memory.remember(IN_DM, "k", "alice's dm", shared=True)
        assert memory.recall(BOB_IN_DM, "k", shared=True) == ""
        assert memory.recall(IN_DM, "k", shared=True) == "alice's dm"
        assert memory.recall(IN_DM, "k") == "alice's dm"  # shared or not is the same in a DM

    run(scenario())


def test_user_names_match_regardless_of_case(clock: FakeClock) -> None:
    async def scenario() -> None:
        memory = _memory(clock)
        await memory.remember(IN_CHANNEL, "k", "v")
        shouting = MessageContext(user="ALICE", channel="C-general")
        assert memory.recall(shouting, "k") == "v"

    run(scenario())


def test_thread_and_channel_memories_are_invisible_to_each_other(clock: FakeClock) -> None:
    async def scenario() -> None:
        memory = _memory(clock)
        await memory.remember(IN_CHANNEL, "channel-only", "c")
        await memory.remember(IN_THREAD, "thread-only", "t")
        assert memory.recall(IN_THREAD, "channel-only") == ""
        assert memory.recall(IN_CHANNEL, "thread-only") == ""
        assert memory.recall(IN_CHANNEL, "channel-only") == "c"
        assert memory.recall(IN_THREAD, "thread-only") == "t"

    run(scenario())


def test_remember_thread_from_an_unthreaded_message_is_recalled_in_the_thread(
    clock: FakeClock,
) -> None:
    async def scenario() -> None:
        memory = _memory(clock)
        await memory.remember_thread(IN_CHANNEL, "k", "for the thread", shared=True)
        assert memory.recall(IN_CHANNEL, "k", shared=True) == ""  # not in the channel
        assert memory.recall(BOB_IN_THREAD, "k", shared=True) == "for the thread"

    run(scenario())


def test_remember_context_is_remember_of_context_key_per_user(clock: FakeClock) -> None:
    async def scenario() -> None:
        memory = _memory(clock)
        await memory.remember_context(IN_CHANNEL, "server", "web1")
        await memory.remember_context_thread(IN_CHANNEL, "server", "web2")
        assert memory.recall(IN_CHANNEL, "context:server") == "web1"
        assert memory.recall(IN_THREAD, "context:server") == "web2"
        assert memory.recall(BOB_IN_CHANNEL, "context:server") == ""

    run(scenario())


def test_an_empty_value_deletes_and_so_does_delete_memory(clock: FakeClock) -> None:
    async def scenario() -> None:
        memory = _memory(clock)
        await memory.remember(IN_CHANNEL, "a", "1")
        await memory.remember(IN_CHANNEL, "b", "2", shared=True)
        await memory.remember(IN_CHANNEL, "a", "")
        assert await memory.delete_memory(IN_CHANNEL, "b", shared=True)
        assert memory.recall(IN_CHANNEL, "a") == ""
        assert memory.recall(IN_CHANNEL, "b", shared=True) == ""
        assert len(memory) == 0

    run(scenario())


def test_an_empty_key_is_not_remembered(clock: FakeClock) -> None:
    async def scenario() -> None:
        memory = _memory(clock)
        assert await memory.remember(IN_CHANNEL, "", "v") is False
        assert len(memory) == 0

    run(scenario())


# --- expiry ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "kept_after", "gone_after"),
    [
        (IN_CHANNEL, 13 * MINUTE, 14 * MINUTE),
        (IN_THREAD, 6 * DAY, 7 * DAY),
        (IN_DM, 6 * DAY, 7 * DAY),
    ],
    ids=["channel-14-minutes", "thread-7-days", "dm-7-days"],
)
def test_memories_expire(
    clock: FakeClock, message: MessageContext, kept_after: float, gone_after: float
) -> None:
    async def scenario() -> None:
        memory = _memory(clock)
        start = clock.now
        await memory.remember(message, "k", "v")
        clock.now = start + kept_after
        assert memory.recall(message, "k") == "v"
        clock.now = start + gone_after
        assert memory.recall(message, "k") == ""

    run(scenario())


def test_remembering_again_restarts_the_lifetime(clock: FakeClock) -> None:
    async def scenario() -> None:
        memory = _memory(clock)
        await memory.remember(IN_CHANNEL, "k", "v")
        clock.advance(10 * MINUTE)
        await memory.remember(IN_CHANNEL, "k", "v")
        clock.advance(10 * MINUTE)
        assert memory.recall(IN_CHANNEL, "k") == "v"

    run(scenario())


def test_sweep_drops_expired_memories_from_the_brain_too(clock: FakeClock) -> None:
    async def scenario() -> None:
        brain = MemoryBrain()
        await brain.open()
        memory = _memory(clock, brain)
        await memory.remember(IN_CHANNEL, "short", "v")
        await memory.remember(IN_THREAD, "long", "v")
        clock.advance(20 * MINUTE)
        assert await memory.sweep() == 1
        assert len(memory) == 1
        clock.advance(7 * DAY)
        assert await memory.sweep() == 1
        assert await brain.keys(STORAGE_PREFIX) == []

    run(scenario())


def test_remembering_sweeps_now_and_then(clock: FakeClock) -> None:
    async def scenario() -> None:
        memory = ShortTermMemory(clock=clock, sweep_interval=MINUTE)
        await memory.remember(IN_CHANNEL, "old", "v")
        clock.advance(15 * MINUTE)
        await memory.remember(IN_CHANNEL, "new", "v")
        assert len(memory) == 1

    run(scenario())


# --- persistence ----------------------------------------------------------------------------


def test_thread_and_dm_memories_survive_a_restart_and_channel_ones_do_not(
    make_brain: Callable[[], BrainProvider], clock: FakeClock
) -> None:
    async def scenario() -> None:
        brain = make_brain()
        await brain.open()
        before = _memory(clock, brain)
        await before.remember(IN_THREAD, "k", "thread value")
        await before.remember_thread(IN_CHANNEL, "forced", "forced value", shared=True)
        await before.remember(IN_DM, "k", "dm value")
        await before.remember(IN_CHANNEL, "k", "channel value")
        await brain.close()

        clock.advance(DAY)
        brain = make_brain()
        await brain.open()
        after = _memory(clock, brain)
        assert await after.load() == 3
        assert after.recall(IN_THREAD, "k") == "thread value"
        assert after.recall(BOB_IN_THREAD, "forced", shared=True) == "forced value"
        assert after.recall(IN_DM, "k") == "dm value"
        assert after.recall(IN_CHANNEL, "k") == ""
        await brain.close()

    run(scenario())


def test_a_restart_keeps_the_original_expiry_and_drops_expired_rows(clock: FakeClock) -> None:
    async def scenario() -> None:
        brain = MemoryBrain()
        await brain.open()
        before = _memory(clock, brain)
        await before.remember(IN_THREAD, "old", "v")
        clock.advance(5 * DAY)
        await before.remember(IN_THREAD, "young", "v")
        clock.advance(3 * DAY)
        after = _memory(clock, brain)
        assert await after.load() == 1
        assert after.recall(IN_THREAD, "young") == "v"
        assert after.recall(IN_THREAD, "old") == ""
        assert len(await brain.keys(STORAGE_PREFIX)) == 1

    run(scenario())


def test_forgetting_a_thread_memory_removes_it_from_the_brain(clock: FakeClock) -> None:
    async def scenario() -> None:
        brain = MemoryBrain()
        await brain.open()
        memory = _memory(clock, brain)
        await memory.remember(IN_THREAD, "k", "v")
        await memory.delete_memory(IN_THREAD, "k")
        assert await brain.keys(STORAGE_PREFIX) == []
        assert await _memory(clock, brain).load() == 0

    run(scenario())


def test_damaged_persisted_rows_are_dropped_on_load(clock: FakeClock) -> None:
    async def scenario() -> None:
        brain = MemoryBrain()
        await brain.open()
        await brain.put(STORAGE_PREFIX + "garbage", b'{"value":"v","at":1}')
        await brain.put(storage_key(MemoryKey("k", "a", "", "", "")), b"not json")
        await brain.put("ns:datum", b"1")  # a datum, not a memory: left alone
        assert await _memory(clock, brain).load() == 0
        assert await brain.keys() == ["ns:datum"]

    run(scenario())

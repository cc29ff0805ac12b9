"""The provider contract, checked against every provider Burrow ships."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from burrow.brain import BrainError, BrainProvider, BrainRegistry, builtin_registry
from burrow.brain.memory import MemoryBrain
from burrow.brain.sqlite import SqliteBrain
from support import run

Maker = Callable[[], BrainProvider]


def test_a_missing_key_reads_as_none(make_brain: Maker) -> None:
    async def scenario() -> None:
        brain = make_brain()
        await brain.open()
        assert await brain.get("nobody:here") is None
        await brain.close()

    run(scenario())


def test_put_replaces_and_get_returns_the_exact_bytes(make_brain: Maker) -> None:
    async def scenario() -> None:
        brain = make_brain()
        await brain.open()
        await brain.put("ns:k", b"\x00first")
        await brain.put("ns:k", b"\xffsecond\x00")
        assert await brain.get("ns:k") == b"\xffsecond\x00"
        await brain.close()

    run(scenario())


def test_put_many_stores_every_item(make_brain: Maker) -> None:
    async def scenario() -> None:
        brain = make_brain()
        await brain.open()
        await brain.put_many({"a:1": b"one", "a:2": b"two", "b:1": b"three"})
        assert [await brain.get(k) for k in ("a:1", "a:2", "b:1")] == [b"one", b"two", b"three"]
        await brain.close()

    run(scenario())


def test_delete_is_idempotent(make_brain: Maker) -> None:
    async def scenario() -> None:
        brain = make_brain()
        await brain.open()
        await brain.put("ns:k", b"v")
        await brain.delete("ns:k")
        await brain.delete("ns:k")
        assert await brain.get("ns:k") is None
        await brain.close()

    run(scenario())


def test_keys_lists_a_prefix_sorted_without_wildcards(make_brain: Maker) -> None:
    async def scenario() -> None:
        brain = make_brain()
        await brain.open()
        for key in ("a_b:2", "a_b:1", "axb:1", "a%:1", "b:1", "a_b"):
            await brain.put(key, b"x")
        assert await brain.keys("a_b") == ["a_b", "a_b:1", "a_b:2"]
        assert await brain.keys("a%") == ["a%:1"]
        assert await brain.keys() == ["a%:1", "a_b", "a_b:1", "a_b:2", "axb:1", "b:1"]
        await brain.close()

    run(scenario())


@pytest.mark.parametrize(
    "prefix",
    ["a", "ns:\u00e9", "ns:\ud7ff", "ns:\U0010ffff"],
    ids=["ascii", "latin", "before-surrogates", "last-code-point"],
)
def test_keys_match_exactly_the_prefix_at_character_boundaries(
    make_brain: Maker, prefix: str
) -> None:
    async def scenario() -> None:
        brain = make_brain()
        await brain.open()
        below = prefix[:-1] + chr(ord(prefix[-1]) - 1)
        inside = [prefix, prefix + "x", prefix + "\U0010ffff"]
        for key in [*inside, below, below + "\U0010ffff", "zz-after"]:
            await brain.put(key, b"x")
        assert await brain.keys(prefix) == sorted(inside)
        await brain.close()

    run(scenario())


def test_data_survives_close_and_reopen(make_brain: Maker) -> None:
    async def scenario() -> None:
        first = make_brain()
        await first.open()
        await first.put("ns:kept", b"yes")
        await first.close()
        await first.close()  # closing twice is harmless
        second = make_brain()
        await second.open()
        assert await second.get("ns:kept") == b"yes"
        await second.close()

    run(scenario())


def test_a_closed_brain_refuses_calls(make_brain: Maker) -> None:
    async def scenario() -> None:
        brain = make_brain()
        await brain.open()
        await brain.close()
        with pytest.raises(BrainError, match="not open"):
            await brain.get("ns:k")

    run(scenario())


def test_every_shipped_provider_satisfies_the_protocol(make_brain: Maker) -> None:
    assert isinstance(make_brain(), BrainProvider)


# --- the registry ---------------------------------------------------------------------------


def test_builtin_registry_offers_sqlite_and_memory() -> None:
    assert builtin_registry().names() == {"memory": "burrowbot", "sqlite": "burrowbot"}


def test_sqlite_defaults_to_a_file_in_the_state_folder(tmp_path: Path) -> None:
    brain = builtin_registry().create("sqlite", {}, tmp_path)
    assert isinstance(brain, SqliteBrain)
    assert brain.path == tmp_path / "brain.sqlite3"


def test_sqlite_path_is_relative_to_the_state_folder(tmp_path: Path) -> None:
    relative = builtin_registry().create("sqlite", {"Path": "db/robot.db"}, tmp_path)
    absolute = builtin_registry().create("sqlite", {"Path": "/srv/robot.db"}, tmp_path)
    assert isinstance(relative, SqliteBrain) and isinstance(absolute, SqliteBrain)
    assert relative.path == tmp_path / "db" / "robot.db"
    assert absolute.path == Path("/srv/robot.db")


@pytest.mark.parametrize(
    ("name", "config", "message"),
    [
        (
            "sqlite",
            {"Pth": "x"},
            r"BrainConfig\.Pth: unknown key for the sqlite brain \(known: Path\)",
        ),
        ("sqlite", {"Path": ""}, r"BrainConfig\.Path: must be a non-empty file path"),
        ("memory", {"Path": "x"}, r"BrainConfig\.Path: unknown key for the memory brain"),
        ("redis", {}, r"unknown brain provider 'redis' \(known: memory, sqlite\)"),
    ],
    ids=["misspelt-key", "empty-path", "memory-takes-no-settings", "unknown-provider"],
)
def test_bad_brain_settings_are_refused_with_the_key(
    name: str, config: dict[str, str], message: str, tmp_path: Path
) -> None:
    with pytest.raises(BrainError, match=message):
        builtin_registry().create(name, config, tmp_path)


def test_a_duplicate_brain_name_names_who_registered_it_first() -> None:
    registry = BrainRegistry()
    registry.registrar("burrowbot-one")("shared", MemoryBrain.from_config)
    with pytest.raises(
        BrainError, match="burrowbot-two: brain 'shared' is already registered by burrowbot-one"
    ):
        registry.registrar("burrowbot-two")("shared", MemoryBrain.from_config)


@pytest.mark.parametrize("name", ["", "Redis", "1db", "my-brain"])
def test_a_badly_named_brain_is_refused(name: str) -> None:
    with pytest.raises(BrainError, match="must match"):
        BrainRegistry().register(name, MemoryBrain.from_config)


def test_a_plugin_provider_is_made_through_the_registry(tmp_path: Path) -> None:
    seen: list[tuple[dict[str, str], Path]] = []

    def factory(config: object, state_dir: Path) -> BrainProvider:
        seen.append((dict(config), state_dir))  # type: ignore[call-overload]
        return MemoryBrain()

    registry = BrainRegistry()
    registry.registrar("burrowbot-redis")("redis", factory)
    assert isinstance(registry.create("redis", {"Url": "redis://localhost"}, tmp_path), MemoryBrain)
    assert seen == [({"Url": "redis://localhost"}, tmp_path)]
    assert registry.names() == {"redis": "burrowbot-redis"}
